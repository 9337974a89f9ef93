/*
 * SHA-256, the fast profile's block function (mt_sha256_impl.h): the portable
 * compression with fully unrolled rounds, and the dispatch to the SHA-NI path
 * (mt_sha256_x86.c) for a context that chose it.
 */
#include "mt_endian.h"
#include "mt_sha256.h"
#include "mt_sha256_impl.h"

/* Schedule word i in a 16-word ring: rounds 0..15 read the block, later ones extend it. */
#define W_IN(i) w[i]
#define W_EXT(i) (w[(i) & 15] += SSIG1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] + SSIG0(w[((i) - 15) & 15]))

/* One round; the caller renames the eight variables instead of moving them. */
#define ROUND(a, b, c, d, e, f, g, h, i, W)                          \
    do {                                                             \
        uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + mt_sha256_k[i] + W(i);      \
        d += t1;                                                     \
        h = t1 + BSIG0(a) + MAJ(a, b, c);                            \
    } while (0)

#define ROUND8(i, W)                                                 \
    do {                                                             \
        ROUND(a, b, c, d, e, f, g, h, (i) + 0, W);                   \
        ROUND(h, a, b, c, d, e, f, g, (i) + 1, W);                   \
        ROUND(g, h, a, b, c, d, e, f, (i) + 2, W);                   \
        ROUND(f, g, h, a, b, c, d, e, (i) + 3, W);                   \
        ROUND(e, f, g, h, a, b, c, d, (i) + 4, W);                   \
        ROUND(d, e, f, g, h, a, b, c, (i) + 5, W);                   \
        ROUND(c, d, e, f, g, h, a, b, (i) + 6, W);                   \
        ROUND(b, c, d, e, f, g, h, a, (i) + 7, W);                   \
    } while (0)

void mt_sha256_compress_portable(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    while (nblocks--) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++) w[i] = mt_ld32be(p + 4 * i);
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        ROUND8(0, W_IN);
        ROUND8(8, W_IN);
        ROUND8(16, W_EXT);
        ROUND8(24, W_EXT);
        ROUND8(32, W_EXT);
        ROUND8(40, W_EXT);
        ROUND8(48, W_EXT);
        ROUND8(56, W_EXT);
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        p += 64;
    }
}

void mt_sha256_blocks(uint32_t impl, uint32_t state[8], const uint8_t *p, size_t nblocks)
{
#ifdef MT_SHA256_HAVE_X86
    if (impl == MT_SHA256_IMPL_X86) {
        mt_sha256_compress_x86(state, p, nblocks);
        return;
    }
#else
    (void)impl;
#endif
    mt_sha256_compress_portable(state, p, nblocks);
}

void mt_sha256_blocks2(uint32_t impl, uint32_t a[8], uint32_t b[8], const uint8_t *p,
                       size_t nblocks)
{
#ifdef MT_SHA256_HAVE_X86
    if (impl == MT_SHA256_IMPL_X86) {
        mt_sha256_compress2_x86(a, b, p, nblocks);
        return;
    }
#endif
    mt_sha256_blocks(impl, a, p, nblocks);
    mt_sha256_blocks(impl, b, p, nblocks);
}

uint32_t mt_sha256_select(int impl)
{
#ifdef MT_SHA256_HAVE_X86
    if (impl == 1) return MT_SHA256_IMPL_X86;
#else
    (void)impl;
#endif
    return MT_SHA256_IMPL_PORTABLE;
}

int mt_sha256_accelerated(void)
{
#ifdef MT_SHA256_HAVE_X86
    return mt_sha256_x86_available();
#else
    return 0;
#endif
}
