/*
 * SHA-256 block compression with the x86 SHA extensions (SHA-NI).
 *
 * SHA256RNDS2 runs two rounds on the state split as ABEF and CDGH (A in the
 * top dword), with W[t] + K[t] for the two rounds in the low half of its third
 * operand; after two rounds the old ABEF is the new CDGH, so the two state
 * registers simply trade roles. SHA256MSG1/MSG2 extend the message schedule
 * four words at a time: W[t..t+3] = MSG2(MSG1(W[t-16..], W[t-12..])
 * + W[t-7..t-4], W[t-4..t-1]).
 */
#include "mt_sha256_impl.h"

#ifdef MT_SHA256_HAVE_X86
#include <cpuid.h>
#include <immintrin.h>

int mt_sha256_x86_available(void)
{
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    if (a < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(b & bit_SHA)) return 0;
    __cpuid(1, a, b, c, d);
    (void)a;
    (void)b;
    (void)d;
    return (c & bit_SSSE3) && (c & bit_SSE4_1);
}

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

#define LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STOREU(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

/* Four rounds with schedule words m (W[4i..4i+3]). */
#define QROUND(m, i)                                                  \
    do {                                                              \
        __m128i kw = _mm_add_epi32((m), LOADU(K + 4 * (i)));          \
        s1 = _mm_sha256rnds2_epu32(s1, s0, kw);                       \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(kw, 0x0E)); \
    } while (0)

/* m0 <- the next four schedule words, from the previous sixteen (m0 oldest). */
#define SCHED(m0, m1, m2, m3) \
    ((m0) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), \
                                               _mm_alignr_epi8((m3), (m2), 4)), (m3)))

/* Rounds 16..63 as twelve groups of four, each extending the schedule first. */
#define GROUP4(i)                                                     \
    do {                                                              \
        SCHED(m0, m1, m2, m3); QROUND(m0, (i) + 0);                   \
        SCHED(m1, m2, m3, m0); QROUND(m1, (i) + 1);                   \
        SCHED(m2, m3, m0, m1); QROUND(m2, (i) + 2);                   \
        SCHED(m3, m0, m1, m2); QROUND(m3, (i) + 3);                   \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3")))
void mt_sha256_compress_x86(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    /* byte swap within each dword: the message words are big-endian */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i t = _mm_shuffle_epi32(LOADU(state), 0xB1);      /* B A D C */
    __m128i s1 = _mm_shuffle_epi32(LOADU(state + 4), 0x1B); /* H G F E */
    __m128i s0 = _mm_alignr_epi8(t, s1, 8);                  /* F E B A = ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0);                       /* H G D C = CDGH */

    while (nblocks--) {
        const __m128i abef = s0, cdgh = s1;
        __m128i m0 = _mm_shuffle_epi8(LOADU(p), bswap);
        __m128i m1 = _mm_shuffle_epi8(LOADU(p + 16), bswap);
        __m128i m2 = _mm_shuffle_epi8(LOADU(p + 32), bswap);
        __m128i m3 = _mm_shuffle_epi8(LOADU(p + 48), bswap);
        QROUND(m0, 0);
        QROUND(m1, 1);
        QROUND(m2, 2);
        QROUND(m3, 3);
        GROUP4(4);
        GROUP4(8);
        GROUP4(12);
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
        p += 64;
    }

    t = _mm_shuffle_epi32(s0, 0x1B);      /* A B E F (dword 0 first) */
    s1 = _mm_shuffle_epi32(s1, 0xB1);     /* G H C D */
    s0 = _mm_blend_epi16(t, s1, 0xF0);    /* A B C D */
    s1 = _mm_alignr_epi8(s1, t, 8);       /* E F G H */
    STOREU(state, s0);
    STOREU(state + 4, s1);
}

#else
/* Not x86-64 with GCC/Clang: the portable compression serves every context. */
typedef int mt_sha256_x86_unused;
#endif
