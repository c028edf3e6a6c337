/* N-body gravity: a heavy central body and 4 lighter ones on near-circular
 * orbits (made up here, seeded by a PRNG), advanced n steps with a
 * symplectic Euler integrator over all pairs. f64 mul/add/div/sqrt.
 * Checksum: the bits of the final total energy mixed with the bits of
 * every position, so one rounding difference anywhere shows. */
#include "bench.h"

#define NBODIES 5
#define PI 3.141592653589793
#define GM_SUN (4.0 * PI * PI) /* AU^3 / year^2 */

struct body {
  double x, y, z, vx, vy, vz, m;
};

static double sqrt_f64(double v) { return __builtin_sqrt(v); }

static double energy(const struct body *b) {
  double e = 0.0;
  for (int i = 0; i < NBODIES; i++) {
    e += 0.5 * b[i].m * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
    for (int j = i + 1; j < NBODIES; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      e -= b[i].m * b[j].m / sqrt_f64(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

static void advance(struct body *b, double dt) {
  for (int i = 0; i < NBODIES; i++) {
    for (int j = i + 1; j < NBODIES; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      double d2 = dx * dx + dy * dy + dz * dz;
      double mag = dt / (d2 * sqrt_f64(d2));
      b[i].vx -= dx * b[j].m * mag;
      b[i].vy -= dy * b[j].m * mag;
      b[i].vz -= dz * b[j].m * mag;
      b[j].vx += dx * b[i].m * mag;
      b[j].vy += dy * b[i].m * mag;
      b[j].vz += dz * b[i].m * mag;
    }
  }
  for (int i = 0; i < NBODIES; i++) {
    b[i].x += dt * b[i].vx;
    b[i].y += dt * b[i].vy;
    b[i].z += dt * b[i].vz;
  }
}

int64_t run(int32_t n) {
  struct body b[NBODIES];
  uint32_t s = 314159u;
  b[0] = (struct body){0, 0, 0, 0, 0, 0, GM_SUN};
  for (int i = 1; i < NBODIES; i++) {
    double r = 5.0 * i + (double)(xs32(&s) % 1000) / 1000.0;
    double tilt = (double)(xs32(&s) % 100) / 1000.0; /* small inclination */
    double v = sqrt_f64(GM_SUN / r);
    b[i] = (struct body){r, 0, r * tilt, 0, v, 0,
                         GM_SUN * (double)(1 + xs32(&s) % 1000) / 1.0e6};
  }
  /* Zero total momentum by giving the central body the opposite. */
  double px = 0, py = 0, pz = 0;
  for (int i = 0; i < NBODIES; i++) {
    px += b[i].vx * b[i].m, py += b[i].vy * b[i].m, pz += b[i].vz * b[i].m;
  }
  b[0].vx = -px / GM_SUN, b[0].vy = -py / GM_SUN, b[0].vz = -pz / GM_SUN;
  for (int32_t step = 0; step < n; step++) advance(b, 0.001);
  uint64_t h = f64_bits(energy(b));
  for (int i = 0; i < NBODIES; i++)
    h = (h * 31 + f64_bits(b[i].x)) ^ f64_bits(b[i].y) ^ (f64_bits(b[i].z) << 1);
  return (int64_t)h;
}
