/*
 * Reflected CRCs by carry-less multiplication (PCLMULQDQ), x86-64 only.
 *
 * Layout: a 16-byte block loaded little-endian into a 128-bit lane puts bit 0
 * of byte 0 at lane bit 0. In a reflected CRC that bit is the highest-degree
 * coefficient, so lane bit m holds the coefficient of x^(127-m). The low
 * 64-bit half therefore holds the high half H of the block polynomial and the
 * high 64-bit half the low half L: block = H*x^64 + L, each half stored with
 * x^j at bit 63-j.
 *
 * Product: with both operands in that bit-reversed form, PCLMULQDQ returns
 * the 127-bit product with x^i at bit 126-i, which read in the lane layout is
 * the product times x. The constants absorb that x.
 *
 * Folding: with the initial register XORed into the first bytes, the CRC
 * register after a prefix is (prefix polynomial)*x^w mod P, so any block
 * congruent to the prefix modulo P yields the same register. Moving a lane
 * forward by d bits: lane*x^d = H*x^(d+64) + L*x^d
 *                            == H*(x^(d+63) mod P)*x + L*(x^(d-1) mod P)*x,
 * which is two PCLMULQDQs by the generated constants (mt_crc_tables.c), each
 * product below x^(64+32) and so inside one lane. Four lanes run in parallel
 * 512 bits apart, are folded into one, and leftover 16-byte blocks are folded
 * in one at a time. The caller finishes with the tables: they reduce the
 * final lane (as 16 message bytes, from register 0) and the tail below 16.
 */
#include "mt_crc_impl.h"

#ifdef MT_CRC_HAVE_X86
#include <cpuid.h>
#include <immintrin.h>

int mt_crc_x86_available(void)
{
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d); /* leaf 1 exists on every x86-64 CPU */
    (void)a;
    (void)b;
    (void)d;
    return (c & bit_PCLMUL) && (c & bit_SSE4_1);
}

#define MT_CRC_TARGET __attribute__((target("pclmul,sse4.1")))

MT_CRC_TARGET static inline __m128i load16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* x moved forward by the distance of constant pair k, plus the next block. */
MT_CRC_TARGET static inline __m128i fold(__m128i x, __m128i k, __m128i next)
{
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

MT_CRC_TARGET size_t mt_crc_fold_x86(uint32_t reg, const uint8_t *data, size_t len,
                                     const uint64_t k[8][2], uint8_t out[16])
{
    const __m128i k128 = load16((const uint8_t *)k[0]);
    const __m128i k256 = load16((const uint8_t *)k[1]);
    const __m128i k384 = load16((const uint8_t *)k[2]);
    const __m128i k512 = load16((const uint8_t *)k[3]);
    __m128i x0 = _mm_xor_si128(load16(data), _mm_cvtsi32_si128((int)reg));
    __m128i x1 = load16(data + 16), x2 = load16(data + 32), x3 = load16(data + 48);
    size_t off = 64; /* len >= 64 by contract, so off <= len throughout */

    while (len - off >= 64) {
        const uint8_t *p = data + off;
        x0 = fold(x0, k512, load16(p));
        x1 = fold(x1, k512, load16(p + 16));
        x2 = fold(x2, k512, load16(p + 32));
        x3 = fold(x3, k512, load16(p + 48));
        off += 64;
    }
    x0 = fold(x0, k384, fold(x1, k256, fold(x2, k128, x3)));
    while (len - off >= 16) {
        x0 = fold(x0, k128, load16(data + off));
        off += 16;
    }
    _mm_storeu_si128((__m128i *)(void *)out, x0);
    return off;
}

#else
/* Not x86-64 with GCC/Clang: the portable tables serve every call. */
typedef int mt_crc_x86_unused;
#endif
