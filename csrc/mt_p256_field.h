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

#include "mt_p256_limb.h"

/* The limbs 1 and 3 of p (limb 0 is 2^64 - 1, limb 2 is 0). */
#define MT_P256_P1 0x00000000ffffffffu
#define MT_P256_P3 0xffffffff00000001u

extern const uint64_t mt_p256_p[4];   /* p, plain */
extern const uint64_t mt_p256_fe_one[4]; /* 1 in Montgomery form (2^256 mod p) */
extern const uint64_t mt_p256_fe_b[4];   /* curve constant b in Montgomery form */

/* Plain integer a < p (caller checked) -> Montgomery form, and back. */
void mt_p256_fe_to_mont(uint64_t r[4], const uint64_t a[4]);
void mt_p256_fe_from_mont(uint64_t r[4], const uint64_t a[4]);

void mt_p256_fe_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);
/* r = a^2: the profile's (mt_p256_sqr.c in the fast profile, a dedicated
 * squaring with 10 limb products instead of 16; mt_p256_sqr_small.c in the
 * small one, mt_p256_fe_mul(r, a, a), a kilobyte less on a Cortex-M4). */
void mt_p256_fe_sqr(uint64_t r[4], const uint64_t a[4]);

/* r = a^((p+1)/4); r is a square root of a exactly when r^2 == a. */
void mt_p256_fe_sqrt_candidate(uint64_t r[4], const uint64_t a[4]);

/* r = a^(p-2) = a^-1 (0 for a = 0). Not used on the verify path. */
void mt_p256_fe_inv(uint64_t r[4], const uint64_t a[4]);

/*
 * Addition, subtraction and negation are inline: the point formulas use a
 * dozen of them per doubling, and a call costs as much as the work.
 */
/* r = t - p if t + hi * 2^256 >= p, else t; needs t + hi * 2^256 < 2p
 * (mt_p256_cond_sub). */
static inline void mt_p256_fe_final_sub(uint64_t r[4], uint64_t t0, uint64_t t1,
                                        uint64_t t2, uint64_t t3, uint64_t hi)
{
    mt_p256_cond_sub(r, t0, t1, t2, t3, hi, 0xffffffffffffffffu, MT_P256_P1, 0, MT_P256_P3);
}

static inline void mt_p256_fe_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t0, t1, t2, t3, c;
    t0 = mt_p256_adc(a[0], b[0], 0, &c);
    t1 = mt_p256_adc(a[1], b[1], c, &c);
    t2 = mt_p256_adc(a[2], b[2], c, &c);
    t3 = mt_p256_adc(a[3], b[3], c, &c);
    mt_p256_fe_final_sub(r, t0, t1, t2, t3, c); /* a + b < 2p */
}

static inline void mt_p256_fe_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t0, t1, t2, t3, bw, c;
    t0 = mt_p256_sbb(a[0], b[0], 0, &bw);
    t1 = mt_p256_sbb(a[1], b[1], bw, &bw);
    t2 = mt_p256_sbb(a[2], b[2], bw, &bw);
    t3 = mt_p256_sbb(a[3], b[3], bw, &bw);
    /* a < b: add p back (masked, see mt_p256_cond_sub); the result is in [0, p). */
    uint64_t mask = 0u - bw;
    r[0] = mt_p256_adc(t0, mask, 0, &c);
    r[1] = mt_p256_adc(t1, MT_P256_P1 & mask, c, &c);
    r[2] = mt_p256_adc(t2, 0, c, &c);
    r[3] = mt_p256_adc(t3, MT_P256_P3 & mask, c, &c);
}

/* r = a / 2: add p when a is odd (a + p < 2^257), then shift right. */
static inline void mt_p256_fe_half(uint64_t r[4], const uint64_t a[4])
{
    uint64_t mask = 0u - (a[0] & 1u), c;
    uint64_t t0 = mt_p256_adc(a[0], mask, 0, &c);
    uint64_t t1 = mt_p256_adc(a[1], MT_P256_P1 & mask, c, &c);
    uint64_t t2 = mt_p256_adc(a[2], 0, c, &c);
    uint64_t t3 = mt_p256_adc(a[3], MT_P256_P3 & mask, c, &c);
    r[0] = (t0 >> 1) | (t1 << 63);
    r[1] = (t1 >> 1) | (t2 << 63);
    r[2] = (t2 >> 1) | (t3 << 63);
    r[3] = (t3 >> 1) | (c << 63);
}

static inline void mt_p256_fe_neg(uint64_t r[4], const uint64_t a[4])
{
    static const uint64_t zero[4] = {0, 0, 0, 0};
    mt_p256_fe_sub(r, zero, a);
}

static inline int mt_p256_fe_eq(const uint64_t a[4], const uint64_t b[4])
{
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/*
 * Montgomery reduction, one round. With m = t0 (the low limb), adding
 * m * p * 2^(64i) clears limb i; limbs i+1..i+4 (t1..t4) receive:
 *   limb i+1: m * P1 + m (the carry of t0 + m * (2^64 - 1) = m * 2^64),
 *             which is exactly m * 2^32: add m << 32, carry m >> 32;
 *   limb i+2: only the carry (p's limb 2 is zero);
 *   limb i+3: m * P3;
 *   limb i+4: the carry, plus `hc`, the carry out of the previous round's
 *             top limb (0 or 1); this round's carry out goes to `hc`.
 * Every carry word is below 2^64: (m >> 32) + 1 < 2^33, and the mac bound.
 */
#define MT_P256_RED_ROUND(t0, t1, t2, t3, t4)                          \
    do {                                                       \
        uint64_t m_ = (t0), c_;                                \
        (t1) = mt_p256_adc((t1), m_ << 32, 0, &c_);            \
        c_ += m_ >> 32;                                        \
        (t2) = mt_p256_adc((t2), c_, 0, &c_);                  \
        (t3) = mt_p256_mac(m_, MT_P256_P3, (t3), c_, &c_);             \
        (t4) = mt_p256_adc((t4), c_, hc, &hc);                 \
    } while (0)

/*
 * r = t / 2^256 mod p for t = t0..t7 < p * 2^256 (any product of two
 * elements < p). The value before the final subtraction is
 * (t + M p) / 2^256 < (p 2^256 + 2^256 p) / 2^256 = 2p.
 */
#define MT_P256_MONT_REDUCE(r, t0, t1, t2, t3, t4, t5, t6, t7) \
    do {                                               \
        uint64_t hc = 0;                               \
        MT_P256_RED_ROUND(t0, t1, t2, t3, t4);                 \
        MT_P256_RED_ROUND(t1, t2, t3, t4, t5);                 \
        MT_P256_RED_ROUND(t2, t3, t4, t5, t6);                 \
        MT_P256_RED_ROUND(t3, t4, t5, t6, t7);                 \
        mt_p256_fe_final_sub(r, t4, t5, t6, t7, hc);   \
    } while (0)

/* y^2 == x^3 - 3x + b for Montgomery-form x, y. */
int mt_p256_fe_on_curve(const uint64_t x[4], const uint64_t y[4]);

#endif
