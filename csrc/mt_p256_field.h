/*
 * Arithmetic modulo p = 2^256 - 2^224 + 2^192 + 2^96 - 1 (internal).
 *
 * Field elements are 4 x 64-bit limbs, least significant first, held in
 * Montgomery form (a * 2^256 mod p) and always fully reduced (< p). Every
 * function accepts outputs that alias inputs.
 */
#ifndef MT_P256_FIELD_H
#define MT_P256_FIELD_H

#include <stdint.h>

extern const uint64_t mt_p256_p[4];   /* p, plain */
extern const uint64_t mt_p256_fe_one[4]; /* 1 in Montgomery form (2^256 mod p) */
extern const uint64_t mt_p256_fe_b[4];   /* curve constant b in Montgomery form */

/* Plain integer a < p (caller checked) -> Montgomery form, and back. */
void mt_p256_fe_to_mont(uint64_t r[4], const uint64_t a[4]);
void mt_p256_fe_from_mont(uint64_t r[4], const uint64_t a[4]);

void mt_p256_fe_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void mt_p256_fe_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void mt_p256_fe_neg(uint64_t r[4], const uint64_t a[4]);
void mt_p256_fe_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
void mt_p256_fe_sqr(uint64_t r[4], const uint64_t a[4]);

/* r = a^((p+1)/4); r is a square root of a exactly when r^2 == a. */
void mt_p256_fe_sqrt_candidate(uint64_t r[4], const uint64_t a[4]);

/* r = a^(p-2) = a^-1 (0 for a = 0). Not used on the verify path. */
void mt_p256_fe_inv(uint64_t r[4], const uint64_t a[4]);

static inline int mt_p256_fe_eq(const uint64_t a[4], const uint64_t b[4])
{
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* y^2 == x^3 - 3x + b for Montgomery-form x, y. */
int mt_p256_fe_on_curve(const uint64_t x[4], const uint64_t y[4]);

#endif
