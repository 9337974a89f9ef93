/*
 * Field arithmetic modulo the P-256 prime, Montgomery form with R = 2^256.
 *
 * p = 2^256 - 2^224 + 2^192 + 2^96 - 1. Because p = -1 mod 2^64, the
 * Montgomery factor -p^-1 mod 2^64 is 1: the reduction multiplier of each
 * round is the low limb itself, and m * p[0] + m = m * 2^64 needs no multiply.
 * Limb 2 of p is zero, so each round costs two multiplies.
 *
 * Invariant: every input and output is < p. Variable-time code paths depend
 * only on carries (the final conditional subtraction); the verifier handles
 * public data only.
 */
#include "mt_p256_field.h"
#include "mt_p256_limb.h"

#define P1 MT_P256_P1
#define P3 MT_P256_P3

const uint64_t mt_p256_p[4] = {0xffffffffffffffffu, P1, 0, P3};
const uint64_t mt_p256_fe_one[4] = {0x0000000000000001u, 0xffffffff00000000u,
                                    0xffffffffffffffffu, 0x00000000fffffffeu};
const uint64_t mt_p256_fe_b[4] = {0xd89cdf6229c4bddfu, 0xacf005cd78843090u,
                                  0xe5a220abf7212ed6u, 0xdc30061d04874834u};
/* 2^512 mod p: multiplying by it converts into Montgomery form. */
static const uint64_t fe_r2[4] = {0x0000000000000003u, 0xfffffffbffffffffu,
                                  0xfffffffffffffffeu, 0x00000004fffffffdu};

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
#define RED_ROUND(t0, t1, t2, t3, t4)                          \
    do {                                                       \
        uint64_t m_ = (t0), c_;                                \
        (t1) = mt_p256_adc((t1), m_ << 32, 0, &c_);            \
        c_ += m_ >> 32;                                        \
        (t2) = mt_p256_adc((t2), c_, 0, &c_);                  \
        (t3) = mt_p256_mac(m_, P3, (t3), c_, &c_);             \
        (t4) = mt_p256_adc((t4), c_, hc, &hc);                 \
    } while (0)

/*
 * r = t / 2^256 mod p for t = t0..t7 < p * 2^256 (any product of two
 * elements < p). The value before the final subtraction is
 * (t + M p) / 2^256 < (p 2^256 + 2^256 p) / 2^256 = 2p.
 */
#define MONT_REDUCE(r, t0, t1, t2, t3, t4, t5, t6, t7) \
    do {                                               \
        uint64_t hc = 0;                               \
        RED_ROUND(t0, t1, t2, t3, t4);                 \
        RED_ROUND(t1, t2, t3, t4, t5);                 \
        RED_ROUND(t2, t3, t4, t5, t6);                 \
        RED_ROUND(t3, t4, t5, t6, t7);                 \
        mt_p256_fe_final_sub(r, t4, t5, t6, t7, hc);           \
    } while (0)

void mt_p256_fe_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t[8];

    mt_p256_mul_wide(t, a, b);
    MONT_REDUCE(r, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
}

void mt_p256_fe_sqr(uint64_t r[4], const uint64_t a[4])
{
    uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    uint64_t t0, t1, t2, t3, t4, t5, t6, t7, c, hi;

    /* Off-diagonal products a_i * a_j, i < j, into t1..t6. */
    t1 = mt_p256_mac(a0, a1, 0, 0, &c);
    t2 = mt_p256_mac(a0, a2, 0, c, &c);
    t3 = mt_p256_mac(a0, a3, 0, c, &c);
    t4 = c;
    t3 = mt_p256_mac(a1, a2, t3, 0, &c);
    t4 = mt_p256_mac(a1, a3, t4, c, &c);
    t5 = c;
    t5 = mt_p256_mac(a2, a3, t5, 0, &c);
    t6 = c;

    /* Double them (the off-diagonal sum is < 2^511, so t7 gets one bit). */
    t7 = t6 >> 63;
    t6 = (t6 << 1) | (t5 >> 63);
    t5 = (t5 << 1) | (t4 >> 63);
    t4 = (t4 << 1) | (t3 >> 63);
    t3 = (t3 << 1) | (t2 >> 63);
    t2 = (t2 << 1) | (t1 >> 63);
    t1 = t1 << 1;

    /* Add the squares a_i^2 at limb 2i; the total is a^2 < 2^512, no carry out. */
    t0 = mt_p256_mac(a0, a0, 0, 0, &hi);
    t1 = mt_p256_adc(t1, hi, 0, &c);
    t2 = mt_p256_mac(a1, a1, t2, c, &hi);
    t3 = mt_p256_adc(t3, hi, 0, &c);
    t4 = mt_p256_mac(a2, a2, t4, c, &hi);
    t5 = mt_p256_adc(t5, hi, 0, &c);
    t6 = mt_p256_mac(a3, a3, t6, c, &hi);
    t7 = t7 + hi;
    MONT_REDUCE(r, t0, t1, t2, t3, t4, t5, t6, t7);
}

void mt_p256_fe_to_mont(uint64_t r[4], const uint64_t a[4])
{
    mt_p256_fe_mul(r, a, fe_r2);
}

void mt_p256_fe_from_mont(uint64_t r[4], const uint64_t a[4])
{
    uint64_t t0 = a[0], t1 = a[1], t2 = a[2], t3 = a[3], t4 = 0, t5 = 0, t6 = 0, t7 = 0;
    MONT_REDUCE(r, t0, t1, t2, t3, t4, t5, t6, t7);
}

/* r = a^(2^k) */
static void fe_sqr_n(uint64_t r[4], const uint64_t a[4], int k)
{
    mt_p256_fe_sqr(r, a);
    while (--k > 0)
        mt_p256_fe_sqr(r, r);
}

/*
 * (p+1)/4 = 2^254 - 2^222 + 2^190 + 2^94, i.e. in binary from the top:
 * 32 ones, 31 zeros, 1 one, 96 zeros, 1 one, 94 zeros.
 */
void mt_p256_fe_sqrt_candidate(uint64_t r[4], const uint64_t a[4])
{
    uint64_t x2[4], x4[4], x8[4], x16[4], x32[4], t[4];
    fe_sqr_n(t, a, 1);
    mt_p256_fe_mul(x2, t, a);        /* a^(2^2 - 1) */
    fe_sqr_n(t, x2, 2);
    mt_p256_fe_mul(x4, t, x2);       /* a^(2^4 - 1) */
    fe_sqr_n(t, x4, 4);
    mt_p256_fe_mul(x8, t, x4);       /* a^(2^8 - 1) */
    fe_sqr_n(t, x8, 8);
    mt_p256_fe_mul(x16, t, x8);      /* a^(2^16 - 1) */
    fe_sqr_n(t, x16, 16);
    mt_p256_fe_mul(x32, t, x16);     /* a^(2^32 - 1) */
    fe_sqr_n(t, x32, 32);
    mt_p256_fe_mul(t, t, a);         /* 32 ones, 31 zeros, 1 */
    fe_sqr_n(t, t, 96);
    mt_p256_fe_mul(t, t, a);         /* ... 96 zeros before the next one */
    fe_sqr_n(r, t, 94);
}

/*
 * p - 2 = 2^256 - 2^224 + 2^192 + 2^96 - 3: from the top, 32 ones, 31 zeros,
 * 1 one, 96 zeros, 94 ones, 0, 1.
 */
void mt_p256_fe_inv(uint64_t r[4], const uint64_t a[4])
{
    uint64_t x2[4], x4[4], x8[4], x16[4], x32[4], t[4];
    fe_sqr_n(t, a, 1);
    mt_p256_fe_mul(x2, t, a);
    fe_sqr_n(t, x2, 2);
    mt_p256_fe_mul(x4, t, x2);
    fe_sqr_n(t, x4, 4);
    mt_p256_fe_mul(x8, t, x4);
    fe_sqr_n(t, x8, 8);
    mt_p256_fe_mul(x16, t, x8);
    fe_sqr_n(t, x16, 16);
    mt_p256_fe_mul(x32, t, x16);     /* 32 ones */
    fe_sqr_n(t, x32, 32);
    mt_p256_fe_mul(t, t, a);         /* 32 ones, 31 zeros, 1 */
    fe_sqr_n(t, t, 128);
    mt_p256_fe_mul(t, t, x32);       /* 96 zeros, 32 ones */
    fe_sqr_n(t, t, 32);
    mt_p256_fe_mul(t, t, x32);       /* 64 ones */
    fe_sqr_n(t, t, 16);
    mt_p256_fe_mul(t, t, x16);       /* 80 ones */
    fe_sqr_n(t, t, 8);
    mt_p256_fe_mul(t, t, x8);        /* 88 ones */
    fe_sqr_n(t, t, 4);
    mt_p256_fe_mul(t, t, x4);        /* 92 ones */
    fe_sqr_n(t, t, 2);
    mt_p256_fe_mul(t, t, x2);        /* 94 ones */
    fe_sqr_n(t, t, 2);
    mt_p256_fe_mul(r, t, a);         /* 0, 1 */
}

int mt_p256_fe_on_curve(const uint64_t x[4], const uint64_t y[4])
{
    uint64_t lhs[4], rhs[4], t[4];
    mt_p256_fe_sqr(lhs, y);
    mt_p256_fe_sqr(rhs, x);
    mt_p256_fe_mul(rhs, rhs, x);      /* x^3 */
    mt_p256_fe_add(t, x, x);
    mt_p256_fe_add(t, t, x);          /* 3x */
    mt_p256_fe_sub(rhs, rhs, t);
    mt_p256_fe_add(rhs, rhs, mt_p256_fe_b);
    return mt_p256_fe_eq(lhs, rhs);
}
