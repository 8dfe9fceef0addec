/* Screendumps: a framebuffer to a PNG file (libpng).
 *
 * Thread-safety: reentrant (no shared state).
 */
#ifndef VMX_DEVICES_SCREENDUMP_H
#define VMX_DEVICES_SCREENDUMP_H

#include <stddef.h>
#include <stdint.h>

/* Writes the width x height image at pixels_xrgb8888 (rows `stride` bytes
 * apart; each pixel 4 bytes B, G, R, X in memory order, i.e. DRM's
 * XRGB8888 on a little-endian host) to path as an 8-bit RGB PNG.
 * The file is written as "path.tmp" and renamed over path when complete,
 * so a failure leaves path untouched and no temporary behind.
 * Returns 0, VMX_EINVAL (zero or oversized image, stride < width * 4),
 * VMX_ENOMEM, VMX_EIO (err names the file and the cause). */
int vmx_screendump_png(const char *path, const uint8_t *pixels_xrgb8888, unsigned width,
                       unsigned height, size_t stride, char *err, size_t errlen);

#endif
