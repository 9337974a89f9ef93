/*
 * P-256 group operations for verification (internal).
 *
 * Curve y^2 = x^3 - 3x + b over GF(p). Coordinates are field elements in
 * Montgomery form (mt_p256_field.h). Jacobian (X, Y, Z) stands for the affine
 * point (X/Z^2, Y/Z^3); Z = 0 is the point at infinity.
 */
#ifndef MT_P256_POINT_H
#define MT_P256_POINT_H

#include <stdint.h>

typedef struct mt_p256_aff {
    uint64_t x[4];
    uint64_t y[4];
} mt_p256_aff;

typedef struct mt_p256_jac {
    uint64_t x[4];
    uint64_t y[4];
    uint64_t z[4];
} mt_p256_jac;

/*
 * The base point's table, from the profile's generated file (tools/
 * gen_p256_table.py): mt_p256_table.c, width 7, 32 points (2 KiB) for the
 * fast profile; mt_p256_table_small.c, narrower, for the small one. The
 * window width and the table come from the same file, so they always agree:
 * (2i+1) * G for i = 0 .. 2^(mt_p256_g_window - 2) - 1, affine, Montgomery
 * form.
 */
extern const int mt_p256_g_window;
extern const mt_p256_aff mt_p256_g_table[];

void mt_p256_jac_dbl(mt_p256_jac *r, const mt_p256_jac *a);
/* r = a + (neg ? -b : b); any inputs, including equal points and infinity. */
void mt_p256_jac_add(mt_p256_jac *r, const mt_p256_jac *a, const mt_p256_jac *b, int neg);
/* r = a + (neg ? -b : b) with affine b (never infinity). */
void mt_p256_jac_add_aff(mt_p256_jac *r, const mt_p256_jac *a, const mt_p256_aff *b, int neg);

/*
 * r = u1 * G + u2 * Q for plain scalars u1, u2 < 2^256 and an affine point Q
 * on the curve. Variable time (public inputs only).
 */
void mt_p256_mul2(mt_p256_jac *r, const uint64_t u1[4], const uint64_t u2[4],
                  const mt_p256_aff *q);

#endif
