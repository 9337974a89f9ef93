/*
 * 64-bit limb primitives for the P-256 field and scalar code (internal).
 *
 * Numbers are 4 x 64-bit limbs, least significant limb first. The three
 * primitives mt_p256_mac/adc/sbb are the only places that need a 64x64->128
 * multiply or a carry. Each has a portable version (the *_portable functions:
 * 32-bit halves and comparisons, plain C99) that is always compiled, and a
 * fast version:
 *   - with `unsigned __int128` (GCC, Clang) the multiply is one instruction;
 *   - on x86-64 with GCC or Clang, add/subtract with carry use the
 *     _addcarry_u64/_subborrow_u64 intrinsics, which compile to adc/sbb
 *     chains (the __int128 forms of these compile to poor code under GCC).
 * -DMT_P256_NO_INT128 selects the portable versions throughout (and
 * -DMT_P256_NO_X86 only drops the intrinsics). Everything above these
 * primitives is one code path. tests/test_p256.c compares the two versions
 * directly; the whole suite on the portable path:
 *   make -C csrc -B test T=test_p256 CC="cc -DMT_P256_NO_INT128"
 */
#ifndef MT_P256_LIMB_H
#define MT_P256_LIMB_H

#include <stdint.h>

#include "mt_endian.h"

#if defined(__SIZEOF_INT128__) && !defined(MT_P256_NO_INT128)
#define MT_P256_HAVE_INT128 1
__extension__ typedef unsigned __int128 mt_p256_u128;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(MT_P256_NO_X86)
#include <x86intrin.h>
#define MT_P256_X86_CARRY 1
#endif
#endif

/*
 * Returns the low half of a*b + c + d and stores the high half in *hi.
 * Cannot overflow: (2^64-1)^2 + 2*(2^64-1) = 2^128 - 1.
 */
static inline uint64_t mt_p256_mac_portable(uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                                            uint64_t *hi)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32;
    uint64_t b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    /* Three terms each < 2^32: the sum is < 3 * 2^32, no overflow. */
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    uint64_t lo = (mid << 32) | (p00 & 0xffffffffu);
    /* The full product is < 2^128, so its high half cannot wrap; adding c
     * and d keeps the total below 2^128 (bound above). */
    uint64_t h = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    lo += c;
    h += (uint64_t)(lo < c);
    lo += d;
    h += (uint64_t)(lo < d);
    *hi = h;
    return lo;
}

/* a + b + cin (cin in {0, 1}); the carry out (0 or 1) goes to *cout. */
static inline uint64_t mt_p256_adc_portable(uint64_t a, uint64_t b, uint64_t cin,
                                            uint64_t *cout)
{
    uint64_t s = a + b;
    uint64_t c = (uint64_t)(s < a);
    uint64_t r = s + cin;
    c |= (uint64_t)(r < s);
    *cout = c;
    return r;
}

/* a - b - bin (bin in {0, 1}); the borrow out (0 or 1) goes to *bout. */
static inline uint64_t mt_p256_sbb_portable(uint64_t a, uint64_t b, uint64_t bin,
                                            uint64_t *bout)
{
    uint64_t d = a - b;
    uint64_t w = (uint64_t)(a < b);
    uint64_t r = d - bin;
    w |= (uint64_t)(d < bin);
    *bout = w;
    return r;
}

static inline uint64_t mt_p256_mac(uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                                   uint64_t *hi)
{
#ifdef MT_P256_HAVE_INT128
    /* The product in one instruction; the additions written as
     * add-and-compare, which compilers turn into add/adc. */
    mt_p256_u128 t = (mt_p256_u128)a * b;
    uint64_t lo = (uint64_t)t, h = (uint64_t)(t >> 64);
    lo += c;
    h += (uint64_t)(lo < c);
    lo += d;
    h += (uint64_t)(lo < d);
    *hi = h;
    return lo;
#else
    return mt_p256_mac_portable(a, b, c, d, hi);
#endif
}

static inline uint64_t mt_p256_adc(uint64_t a, uint64_t b, uint64_t cin, uint64_t *cout)
{
#if defined(MT_P256_X86_CARRY)
    unsigned long long r;
    *cout = _addcarry_u64((unsigned char)cin, a, b, &r);
    return r;
#elif defined(MT_P256_HAVE_INT128)
    mt_p256_u128 t = (mt_p256_u128)a + b + cin;
    *cout = (uint64_t)(t >> 64);
    return (uint64_t)t;
#else
    return mt_p256_adc_portable(a, b, cin, cout);
#endif
}

static inline uint64_t mt_p256_sbb(uint64_t a, uint64_t b, uint64_t bin, uint64_t *bout)
{
#if defined(MT_P256_X86_CARRY)
    unsigned long long r;
    *bout = _subborrow_u64((unsigned char)bin, a, b, &r);
    return r;
#elif defined(MT_P256_HAVE_INT128)
    mt_p256_u128 t = (mt_p256_u128)a - b - bin;
    *bout = (uint64_t)(t >> 64) & 1u;
    return (uint64_t)t;
#else
    return mt_p256_sbb_portable(a, b, bin, bout);
#endif
}

/*
 * r = t - m if t + hi * 2^256 >= m, else t, for a modulus m = m0..m3 and
 * t + hi * 2^256 < 2m. t >= m exactly when the subtraction did not borrow or
 * the 2^256 bit was set. The choice is a mask, not a branch: the outcome is
 * close to random, and a mispredicted branch costs more than the select.
 * The modulus comes as four words so that constant limbs (p's 0 and
 * all-ones limbs) fold into the instructions once inlined.
 */
static inline void mt_p256_cond_sub(uint64_t r[4], uint64_t t0, uint64_t t1, uint64_t t2,
                                    uint64_t t3, uint64_t hi, uint64_t m0, uint64_t m1,
                                    uint64_t m2, uint64_t m3)
{
    uint64_t d0, d1, d2, d3, bw;
    d0 = mt_p256_sbb(t0, m0, 0, &bw);
    d1 = mt_p256_sbb(t1, m1, bw, &bw);
    d2 = mt_p256_sbb(t2, m2, bw, &bw);
    d3 = mt_p256_sbb(t3, m3, bw, &bw);
    uint64_t keep = 0u - (bw & (hi ^ 1u)); /* all ones: t < m, keep it */
    r[0] = d0 ^ ((d0 ^ t0) & keep);
    r[1] = d1 ^ ((d1 ^ t1) & keep);
    r[2] = d2 ^ ((d2 ^ t2) & keep);
    r[3] = d3 ^ ((d3 ^ t3) & keep);
}

/*
 * t = a * b, the full 512-bit product (t[0] least significant), schoolbook
 * with one row per limb of b: row j adds a * b[j] * 2^(64j). Every mac keeps
 * its sum below 2^128 (see mt_p256_mac), so each row's carry word fits the
 * next limb. Shared by the field (mod p) and scalar (mod n) Montgomery
 * multiplications, which differ only in the reduction after it.
 */
static inline void mt_p256_mul_wide(uint64_t t[8], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], bj, c;

    bj = b[0];
    t[0] = mt_p256_mac(a0, bj, 0, 0, &c);
    t[1] = mt_p256_mac(a1, bj, 0, c, &c);
    t[2] = mt_p256_mac(a2, bj, 0, c, &c);
    t[3] = mt_p256_mac(a3, bj, 0, c, &c);
    t[4] = c;
    bj = b[1];
    t[1] = mt_p256_mac(a0, bj, t[1], 0, &c);
    t[2] = mt_p256_mac(a1, bj, t[2], c, &c);
    t[3] = mt_p256_mac(a2, bj, t[3], c, &c);
    t[4] = mt_p256_mac(a3, bj, t[4], c, &c);
    t[5] = c;
    bj = b[2];
    t[2] = mt_p256_mac(a0, bj, t[2], 0, &c);
    t[3] = mt_p256_mac(a1, bj, t[3], c, &c);
    t[4] = mt_p256_mac(a2, bj, t[4], c, &c);
    t[5] = mt_p256_mac(a3, bj, t[5], c, &c);
    t[6] = c;
    bj = b[3];
    t[3] = mt_p256_mac(a0, bj, t[3], 0, &c);
    t[4] = mt_p256_mac(a1, bj, t[4], c, &c);
    t[5] = mt_p256_mac(a2, bj, t[5], c, &c);
    t[6] = mt_p256_mac(a3, bj, t[6], c, &c);
    t[7] = c;
}

/* Big-endian 32 bytes <-> 4 limbs: limb i is bytes 24 - 8i .. 31 - 8i. */
static inline void mt_p256_limbs_from_be(uint64_t r[4], const uint8_t in[32])
{
    for (int i = 0; i < 4; i++)
        r[i] = mt_ld64be(in + 8 * (3 - i));
}

static inline void mt_p256_limbs_to_be(uint8_t out[32], const uint64_t a[4])
{
    for (int i = 0; i < 4; i++)
        mt_st64be(out + 8 * (3 - i), a[i]);
}

/* Returns 1 if a < m (as 256-bit integers), else 0. */
static inline int mt_p256_limbs_lt(const uint64_t a[4], const uint64_t m[4])
{
    uint64_t bw = 0;
    for (int i = 0; i < 4; i++)
        (void)mt_p256_sbb(a[i], m[i], bw, &bw);
    return (int)bw;
}

static inline int mt_p256_limbs_is_zero(const uint64_t a[4])
{
    return (a[0] | a[1] | a[2] | a[3]) == 0;
}

#endif
