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
 *
 * Squaring is the profile's (mt_p256_field.h): mt_p256_sqr.c or
 * mt_p256_sqr_small.c.
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

void mt_p256_fe_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t[8];

    mt_p256_mul_wide(t, a, b);
    MT_P256_MONT_REDUCE(r, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
}

void mt_p256_fe_to_mont(uint64_t r[4], const uint64_t a[4])
{
    mt_p256_fe_mul(r, a, fe_r2);
}

void mt_p256_fe_from_mont(uint64_t r[4], const uint64_t a[4])
{
    uint64_t t0 = a[0], t1 = a[1], t2 = a[2], t3 = a[3], t4 = 0, t5 = 0, t6 = 0, t7 = 0;
    MT_P256_MONT_REDUCE(r, t0, t1, t2, t3, t4, t5, t6, t7);
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
