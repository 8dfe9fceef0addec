/* fpmix: the floating-point workload, in double precision. Three kernels:
 * a blocked matrix multiply (fmadd chains, loads and stores of doubles), the
 * five-body planetary simulation of the Benchmarks Game (fdiv, fsqrt,
 * dependent adds) and a Mandelbrot set (compares and a data-dependent exit).
 * gcc -O2 contracts a*b+c into fmadd, so results depend on fused rounding:
 * an emulator must get it right to print the same numbers as qemu. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

#define MAT_N 96

static double mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];

/* The bit pattern, so a last-bit difference shows in the output. */
static uint64_t double_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double phase_matmul(long reps) {
  workload_rng_t rng = {0x5eed0101};
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      mat_a[i][j] = (double)(workload_rng_next(&rng) >> 11) * 0x1p-53 - 0.5;
      mat_b[i][j] = (double)(workload_rng_next(&rng) >> 11) * 0x1p-53 - 0.5;
    }
  double trace = 0;
  for (long r = 0; r < reps; r++) {
    memset(mat_c, 0, sizeof mat_c);
    for (int i = 0; i < MAT_N; i++)
      for (int k = 0; k < MAT_N; k++) {
        double aik = mat_a[i][k];
        for (int j = 0; j < MAT_N; j++)
          mat_c[i][j] += aik * mat_b[k][j];
      }
    for (int i = 0; i < MAT_N; i++)
      trace += mat_c[i][i] / (double)(r + 1);
    /* Feed the result back so each round multiplies different numbers. */
    mat_a[r % MAT_N][(r * 7) % MAT_N] = mat_c[(r * 3) % MAT_N][(r * 5) % MAT_N] * 0.25;
  }
  return trace;
}

typedef struct {
  double x, y, z, vx, vy, vz, mass;
} body_t;

#define SOLAR_MASS (4 * M_PI * M_PI)
#define DAYS_PER_YEAR 365.24

static body_t bodies[5] = {
  {0, 0, 0, 0, 0, 0, SOLAR_MASS}, /* sun */
  {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
   1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
   -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
  {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
   -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
   2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
  {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
   2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
   -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
  {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
   2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
   -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
};

static void nbody_offset_momentum(void) {
  double px = 0, py = 0, pz = 0;
  for (int i = 0; i < 5; i++) {
    px += bodies[i].vx * bodies[i].mass;
    py += bodies[i].vy * bodies[i].mass;
    pz += bodies[i].vz * bodies[i].mass;
  }
  bodies[0].vx = -px / SOLAR_MASS;
  bodies[0].vy = -py / SOLAR_MASS;
  bodies[0].vz = -pz / SOLAR_MASS;
}

static double nbody_energy(void) {
  double e = 0;
  for (int i = 0; i < 5; i++) {
    body_t *b = &bodies[i];
    e += 0.5 * b->mass * (b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
    for (int j = i + 1; j < 5; j++) {
      double dx = b->x - bodies[j].x, dy = b->y - bodies[j].y, dz = b->z - bodies[j].z;
      e -= b->mass * bodies[j].mass / sqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

static void nbody_advance(double dt) {
  for (int i = 0; i < 5; i++) {
    body_t *b = &bodies[i];
    for (int j = i + 1; j < 5; j++) {
      body_t *c = &bodies[j];
      double dx = b->x - c->x, dy = b->y - c->y, dz = b->z - c->z;
      double d2 = dx * dx + dy * dy + dz * dz;
      double mag = dt / (d2 * sqrt(d2));
      b->vx -= dx * c->mass * mag;
      b->vy -= dy * c->mass * mag;
      b->vz -= dz * c->mass * mag;
      c->vx += dx * b->mass * mag;
      c->vy += dy * b->mass * mag;
      c->vz += dz * b->mass * mag;
    }
  }
  for (int i = 0; i < 5; i++) {
    bodies[i].x += dt * bodies[i].vx;
    bodies[i].y += dt * bodies[i].vy;
    bodies[i].z += dt * bodies[i].vz;
  }
}

static uint64_t phase_mandelbrot(long reps) {
  const int width = 80, height = 60, max_iter = 200;
  uint64_t total = 0;
  for (long r = 0; r < reps; r++) {
    /* Zoom a little each round so rounds differ. */
    double scale = 3.0 / (double)width / (1.0 + (double)r * 0.01);
    for (int py = 0; py < height; py++) {
      double ci = ((double)py - height / 2) * scale;
      for (int px = 0; px < width; px++) {
        double cr = ((double)px - width * 2 / 3) * scale - 0.2;
        double zr = 0, zi = 0;
        int n = 0;
        while (n < max_iter && zr * zr + zi * zi <= 4.0) {
          double t = zr * zr - zi * zi + cr;
          zi = 2.0 * zr * zi + ci;
          zr = t;
          n++;
        }
        total += (uint64_t)n;
      }
    }
  }
  return total;
}

int main(int argc, char **argv) {
  long scale = workload_scale(argc, argv);
  printf("fpmix scale %ld\n", scale);

  double trace = phase_matmul(scale);
  printf("matmul:     trace %.12e (%016llx)\n", trace, (unsigned long long)double_bits(trace));

  nbody_offset_momentum();
  double e0 = nbody_energy();
  for (long i = 0; i < scale * 4000; i++)
    nbody_advance(0.01);
  double e1 = nbody_energy();
  printf("nbody:      energy %.9f -> %.9f (%016llx)\n", e0, e1,
         (unsigned long long)double_bits(e1));

  printf("mandelbrot: %llu iterations\n", (unsigned long long)phase_mandelbrot(scale));
  return 0;
}
