/* Screendumps to PNG (see screendump.h). */
#include "devices/screendump.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

/* Where libpng's error callback leaves its message before it longjmps. */
typedef struct png_failure {
  char message[160];
} png_failure_t;

static void on_png_error(png_structp png, png_const_charp message) {
  png_failure_t *failure = png_get_error_ptr(png);
  snprintf(failure->message, sizeof failure->message, "%s", message);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message) {
}

/* One XRGB8888 row (B, G, R, X bytes) to packed RGB. */
static void row_to_rgb(png_bytep rgb, const uint8_t *xrgb, unsigned width) {
  for (unsigned x = 0; x < width; x++) {
    rgb[3 * x + 0] = xrgb[4 * x + 2];
    rgb[3 * x + 1] = xrgb[4 * x + 1];
    rgb[3 * x + 2] = xrgb[4 * x + 0];
  }
}

/* Encodes the image into the open file f; libpng's failures come back as
 * VMX_EIO with the message in failure. */
static int write_png(FILE *f, const uint8_t *pixels, unsigned width, unsigned height,
                     size_t stride, png_bytep row, png_failure_t *failure) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, failure, on_png_error, on_png_warning);
  if (!png)
    return VMX_ENOMEM;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return VMX_ENOMEM;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return VMX_EIO;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 3);   /* screendumps are taken often; favour speed */
  png_write_info(png, info);
  for (unsigned y = 0; y < height; y++) {
    row_to_rgb(row, pixels + (size_t)y * stride, width);
    png_write_row(png, row);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return 0;
}

int vmx_screendump_png(const char *path, const uint8_t *pixels_xrgb8888, unsigned width,
                       unsigned height, size_t stride, char *err, size_t errlen) {
  if (width == 0 || height == 0 || width > PNG_USER_WIDTH_MAX ||
      height > PNG_USER_HEIGHT_MAX || stride / 4 < width) {
    snprintf(err, errlen, "%s: bad image geometry %ux%u, stride %zu", path, width, height,
             stride);
    return VMX_EINVAL;
  }
  size_t tmp_len = strlen(path) + sizeof ".tmp";
  char *tmp = malloc(tmp_len);
  png_bytep row = malloc((size_t)width * 3);
  if (!tmp || !row) {
    free(tmp);
    free(row);
    snprintf(err, errlen, "%s: out of memory", path);
    return VMX_ENOMEM;
  }
  snprintf(tmp, tmp_len, "%s.tmp", path);

  int rc = VMX_EIO;
  png_failure_t failure = {{0}};
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    goto out;
  }
  rc = write_png(f, pixels_xrgb8888, width, height, stride, row, &failure);
  int close_errno = fclose(f) != 0 ? errno : 0;
  if (rc == 0 && close_errno) {
    rc = VMX_EIO;
    snprintf(failure.message, sizeof failure.message, "%s", strerror(close_errno));
  }
  if (rc == 0 && rename(tmp, path) != 0) {
    rc = VMX_EIO;
    snprintf(failure.message, sizeof failure.message, "rename from %s: %s", tmp,
             strerror(errno));
  }
  if (rc != 0) {
    remove(tmp);
    snprintf(err, errlen, "%s: %s", path,
             failure.message[0] ? failure.message : vmx_strerror(rc));
  }
out:
  free(tmp);
  free(row);
  return rc;
}
