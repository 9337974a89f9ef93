/*
 * The fast profile's CRC internals: the generated slicing and braid tables and
 * the folding constants recomputed bit by bit, and the x86 folding path on
 * its own against the reference at every length and alignment (the public
 * entry points over it are in tests/test_crc.c).
 */
#include "mt_crc.h"
#include "mt_crc_impl.h"
#include "mt_test.h"
#include "crc_ref.h"

/* x^n mod (x^w + poly), plain bit order: bit j = coefficient of x^j. */
static uint64_t xpow_mod(unsigned n, unsigned w, uint64_t poly)
{
    uint64_t r = 1, top = (uint64_t)1 << w;
    for (unsigned i = 0; i < n; i++) {
        r <<= 1;
        if (r & top) r ^= top | poly;
    }
    return r;
}

static uint64_t rev64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) r |= ((v >> i) & 1u) << (63 - i);
    return r;
}

static void check_tables(void)
{
    int bad = 0;
    const unsigned braid0 = 8 * (MT_CRC_BRAIDS - 1);
    for (unsigned k = 0; k < 8; k++) {
        for (unsigned i = 0; i < 256; i++) {
            uint8_t msg[8 * MT_CRC_BRAIDS] = {0};
            msg[0] = (uint8_t)i;
            if (mt_crc32_slice[k][i] != ref_update(0, 0xEDB88320u, msg, k + 1)) bad++;
            if (mt_crc16_x25_slice[k][i] != ref_update(0, 0x8408u, msg, k + 1)) bad++;
            if (mt_crc32_braid[k][i] != ref_update(0, 0xEDB88320u, msg, braid0 + k + 1)) bad++;
            if (mt_crc16_x25_braid[k][i] != ref_update(0, 0x8408u, msg, braid0 + k + 1)) bad++;
        }
    }
    CHECK_EQ(bad, 0);
    for (unsigned k = 1; k <= 8; k++) {
        unsigned d = 128 * k;
        CHECK_EQ(mt_crc32_fold[k - 1][0], rev64(xpow_mod(d + 63, 32, 0x04C11DB7u)));
        CHECK_EQ(mt_crc32_fold[k - 1][1], rev64(xpow_mod(d - 1, 32, 0x04C11DB7u)));
        CHECK_EQ(mt_crc16_x25_fold[k - 1][0], rev64(xpow_mod(d + 63, 16, 0x1021u)));
        CHECK_EQ(mt_crc16_x25_fold[k - 1][1], rev64(xpow_mod(d - 1, 16, 0x1021u)));
    }
}

#ifdef MT_CRC_HAVE_X86
static uint8_t big[1024];

static void check_fold(void)
{
    uint32_t s = 0x12345678u;
    for (size_t i = 0; i < sizeof big; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        big[i] = (uint8_t)s;
    }
    if (!mt_crc_x86_available()) {
        printf("test_crc_tables: no PCLMULQDQ on this CPU, folding path not run\n");
        return;
    }
    /* the folding path directly, every length 64..700 and every alignment mod 16 */
    int bad = 0;
    for (size_t n = 64; n <= 700; n++) {
        for (size_t a = 0; a < 16; a += (n < 200 ? 1 : 5)) {
            const uint8_t *p = big + a;
            uint8_t rem[16];
            uint32_t reg = (uint32_t)(n * 2654435761u);
            size_t done = mt_crc_fold_x86(reg, p, n, mt_crc32_fold, rem);
            if (done != n - n % 16) bad++;
            uint32_t got = ref_update(ref_update(0, 0xEDB88320u, rem, 16), 0xEDB88320u,
                                      p + done, n - done);
            if (got != ref_update(reg, 0xEDB88320u, p, n)) bad++;
            uint32_t reg16 = reg & 0xFFFFu;
            done = mt_crc_fold_x86(reg16, p, n, mt_crc16_x25_fold, rem);
            got = ref_update(ref_update(0, 0x8408u, rem, 16), 0x8408u, p + done, n - done);
            if (got != ref_update(reg16, 0x8408u, p, n)) bad++;
        }
    }
    CHECK_EQ(bad, 0);
}
#endif

int main(void)
{
    check_tables();
#ifdef MT_CRC_HAVE_X86
    check_fold();
#endif
    return mt_test_done("test_crc_tables");
}
