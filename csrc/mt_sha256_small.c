/*
 * SHA-256, the small profile's block function (mt_sha256_impl.h): one round
 * in a loop over the 64 rounds, with the 16-word rolling schedule of the fast
 * profile's unrolled code. No accelerated path: every context runs this.
 */
#include "mt_endian.h"
#include "mt_sha256.h"
#include "mt_sha256_impl.h"

void mt_sha256_compress_portable(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    while (nblocks--) {
        uint32_t w[16];
        for (unsigned i = 0; i < 16; i++) w[i] = mt_ld32be(p + 4 * i);
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (unsigned i = 0; i < 64; i++) {
            /* rounds 0..15 read the block; later ones extend the schedule in place */
            if (i >= 16)
                w[i & 15] += SSIG1(w[(i - 2) & 15]) + w[(i - 7) & 15] + SSIG0(w[(i - 15) & 15]);
            uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + mt_sha256_k[i] + w[i & 15];
            uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        p += 64;
    }
}

void mt_sha256_blocks(uint32_t impl, uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    (void)impl; /* only the portable code exists here */
    mt_sha256_compress_portable(state, p, nblocks);
}

void mt_sha256_blocks2(uint32_t impl, uint32_t a[8], uint32_t b[8], const uint8_t *p,
                       size_t nblocks)
{
    mt_sha256_blocks(impl, a, p, nblocks);
    mt_sha256_blocks(impl, b, p, nblocks);
}

uint32_t mt_sha256_select(int impl)
{
    (void)impl;
    return MT_SHA256_IMPL_PORTABLE;
}

int mt_sha256_accelerated(void)
{
    return 0;
}
