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

/* The state of state[8] as the two registers ABEF (s0) and CDGH (s1), and back. */
#define STATE_IN(st, s0, s1)                                          \
    do {                                                              \
        __m128i t_ = _mm_shuffle_epi32(LOADU(st), 0xB1);              \
        s1 = _mm_shuffle_epi32(LOADU((st) + 4), 0x1B);                \
        s0 = _mm_alignr_epi8(t_, s1, 8);                              \
        s1 = _mm_blend_epi16(s1, t_, 0xF0);                           \
    } while (0)
#define STATE_OUT(st, s0, s1)                                         \
    do {                                                              \
        __m128i t_ = _mm_shuffle_epi32(s0, 0x1B);                     \
        __m128i u_ = _mm_shuffle_epi32(s1, 0xB1);                     \
        STOREU(st, _mm_blend_epi16(t_, u_, 0xF0));                    \
        STOREU((st) + 4, _mm_alignr_epi8(u_, t_, 8));                 \
    } while (0)

/* Four rounds of both chains with one set of schedule words m. */
#define QROUND2(m, i)                                                 \
    do {                                                              \
        __m128i kw = _mm_add_epi32((m), LOADU(mt_sha256_k + 4 * (i))); \
        __m128i kh = _mm_shuffle_epi32(kw, 0x0E);                     \
        a1 = _mm_sha256rnds2_epu32(a1, a0, kw);                       \
        b1 = _mm_sha256rnds2_epu32(b1, b0, kw);                       \
        a0 = _mm_sha256rnds2_epu32(a0, a1, kh);                       \
        b0 = _mm_sha256rnds2_epu32(b0, b1, kh);                       \
    } while (0)

#define GROUP4_2(i)                                                   \
    do {                                                              \
        SCHED(m0, m1, m2, m3); QROUND2(m0, (i) + 0);                  \
        SCHED(m1, m2, m3, m0); QROUND2(m1, (i) + 1);                  \
        SCHED(m2, m3, m0, m1); QROUND2(m2, (i) + 2);                  \
        SCHED(m3, m0, m1, m2); QROUND2(m3, (i) + 3);                  \
    } while (0)

/* Two states over the same blocks (mt_sha256_blocks2): the message schedule
 * once, the two chains of SHA256RNDS2 interleaved, so each fills the other's
 * latency. Same results as mt_sha256_compress_x86 on each state. */
__attribute__((target("sha,sse4.1,ssse3")))
void mt_sha256_compress2_x86(uint32_t a[8], uint32_t b[8], const uint8_t *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i a0, a1, b0, b1;
    STATE_IN(a, a0, a1);
    STATE_IN(b, b0, b1);
    while (nblocks--) {
        const __m128i a_abef = a0, a_cdgh = a1, b_abef = b0, b_cdgh = b1;
        __m128i m0 = _mm_shuffle_epi8(LOADU(p), bswap);
        __m128i m1 = _mm_shuffle_epi8(LOADU(p + 16), bswap);
        __m128i m2 = _mm_shuffle_epi8(LOADU(p + 32), bswap);
        __m128i m3 = _mm_shuffle_epi8(LOADU(p + 48), bswap);
        QROUND2(m0, 0);
        QROUND2(m1, 1);
        QROUND2(m2, 2);
        QROUND2(m3, 3);
        GROUP4_2(4);
        GROUP4_2(8);
        GROUP4_2(12);
        a0 = _mm_add_epi32(a0, a_abef);
        a1 = _mm_add_epi32(a1, a_cdgh);
        b0 = _mm_add_epi32(b0, b_abef);
        b1 = _mm_add_epi32(b1, b_cdgh);
        p += 64;
    }
    STATE_OUT(a, a0, a1);
    STATE_OUT(b, b0, b1);
}

#else
/* Not x86-64 with GCC/Clang: the portable compression serves every context. */
typedef int mt_sha256_x86_unused;
#endif
