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

#define LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STOREU(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

/* Four rounds with schedule words m (W[4i..4i+3]). */
#define QROUND(m, i)                                                  \
    do {                                                              \
        __m128i kw = _mm_add_epi32((m), LOADU(mt_sha256_k + 4 * (i)));          \
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
