/*
 * CRC-32/ISO-HDLC and CRC-16/X-25, through the public API on every profile:
 * catalogue check values and residues (CRC RevEng), the vectors of
 * tests/vectors/crc.json, every path against a bit-by-bit reference at every
 * length and alignment, incremental == one-shot. The profiles' own tables
 * (and the x86 folding path) are checked in tests/<profile>/test_crc_tables.c.
 */
#include "mt_crc.h"
#include "mt_crc_impl.h"
#include "mt_test.h"
#include "crc_ref.h"


/* tests/vectors/crc.json inputs and expected values. */
static void check_vectors(void)
{
    static uint8_t ff[1024], ramp[4096], lcg[4096];
    memset(ff, 0xFF, sizeof ff);
    uint32_t x = 1;
    for (size_t i = 0; i < 4096; i++) {
        ramp[i] = (uint8_t)i;
        x = (1103515245u * x + 12345u) & 0x7FFFFFFFu;
        lcg[i] = (uint8_t)(x >> 16);
    }
    const uint8_t zero = 0, check[] = "123456789";
    struct { const uint8_t *p; size_t n; uint32_t crc32; unsigned x25; } v[] = {
        {check, 9, 0xCBF43926u, 0x906Eu},   {check, 0, 0x00000000u, 0x0000u},
        {&zero, 1, 0xD202EF8Du, 0xF078u},   {ff, 1024, 0xB83AFFF4u, 0x2811u},
        {ramp, 4096, 0xA2912082u, 0x6ACFu}, {lcg, 4096, 0x4641A512u, 0xF68Bu},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        CHECK_EQ(mt_crc32(0, v[i].p, v[i].n), v[i].crc32);
        CHECK_EQ(mt_crc32_portable(0, v[i].p, v[i].n), v[i].crc32);
        CHECK_EQ(ref_crc32(v[i].p, v[i].n), v[i].crc32);
        CHECK_EQ(mt_crc16_x25(v[i].p, v[i].n), v[i].x25);
        unsigned reg = mt_crc16_x25_update_portable(MT_CRC16_X25_INIT, v[i].p, v[i].n);
        CHECK_EQ(reg ^ 0xFFFFu, v[i].x25);
    }
    /* residues: CRC over data followed by its own CRC, little-endian */
    uint8_t cw[13];
    memcpy(cw, check, 9);
    uint32_t c32 = mt_crc32(0, check, 9);
    for (int i = 0; i < 4; i++) cw[9 + i] = (uint8_t)(c32 >> (8 * i));
    CHECK_EQ(mt_crc32(0, cw, 13), 0x2144DF1Cu);
    CHECK_EQ(~mt_crc32(0, cw, 13), 0xDEBB20E3u);
    uint16_t fcs = mt_crc16_x25(check, 9);
    cw[9] = (uint8_t)(fcs & 0xFFu);
    cw[10] = (uint8_t)(fcs >> 8);
    CHECK_EQ(mt_crc16_x25_update(MT_CRC16_X25_INIT, cw, 11), 0xF0B8u);
}

static uint8_t big[3 * MT_CRC_ACCEL_MIN + 77];

static void check_paths(void)
{
    uint32_t s = 0x12345678u;
    for (size_t i = 0; i < sizeof big; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        big[i] = (uint8_t)s;
    }
    /* dispatching entry points == tables == bitwise, on buffers past the threshold */
    size_t lens[] = {MT_CRC_ACCEL_MIN - 1, MT_CRC_ACCEL_MIN, MT_CRC_ACCEL_MIN + 15, sizeof big};
    for (size_t i = 0; i < 4; i++) {
        for (size_t a = 0; a < 3; a++) {
            const uint8_t *p = big + a;
            size_t n = lens[i] - (i == 3 ? a : 0);
            uint32_t want32 = ref_crc32(p, n);
            CHECK_EQ(mt_crc32(0, p, n), want32);
            CHECK_EQ(mt_crc32_portable(0, p, n), want32);
            CHECK_EQ(mt_crc32(0x89ABCDEFu, p, n), mt_crc32_portable(0x89ABCDEFu, p, n));
            unsigned want16 = ref_x25(p, n);
            CHECK_EQ(mt_crc16_x25(p, n), want16);
            CHECK_EQ(mt_crc16_x25_update(0x1234u, p, n),
                     mt_crc16_x25_update_portable(0x1234u, p, n));
        }
    }
    /* the table path at every length through a few braid rounds, every alignment mod 8 */
    int bad_tab = 0;
    for (size_t n = 0; n <= 6 * 8 * MT_CRC_BRAIDS + 9; n++) {
        for (size_t a = 0; a < 8; a++) {
            const uint8_t *p = big + a;
            if (mt_crc32_portable(0x5A5A5A5Au, p, n) != ~ref_update(0xA5A5A5A5u, 0xEDB88320u, p, n))
                bad_tab++;
            if (mt_crc16_x25_update_portable(0x1D0Fu, p, n) != ref_update(0x1D0Fu, 0x8408u, p, n))
                bad_tab++;
        }
    }
    CHECK_EQ(bad_tab, 0);
    CHECK(mt_crc_accelerated() == 0 || mt_crc_accelerated() == 1);
}

/* The _impl entry points: the caller's answer, every path, every length from
 * 0 to past a few folding rounds, large buffers, every alignment mod 16;
 * equal to the bitwise reference and to the asking entry points. */
static void check_impl(void)
{
    int impls[] = {0, 7, mt_crc_accelerated()};
    int bad = 0;
    for (size_t k = 0; k < 3; k++) {
        int impl = impls[k];
        for (size_t n = 0; n <= 700; n++) {
            for (size_t a = 0; a < 16; a += (n < 200 ? 1 : 5)) {
                const uint8_t *p = big + a;
                uint32_t init = (uint32_t)(n * 2654435761u);
                if (mt_crc32_impl(init, p, n, impl) != ~ref_update(~init, 0xEDB88320u, p, n))
                    bad++;
                uint16_t reg = (uint16_t)init;
                if (mt_crc16_x25_update_impl(reg, p, n, impl) != ref_update(reg, 0x8408u, p, n))
                    bad++;
                if (mt_crc16_x25_impl(p, n, impl) != ref_x25(p, n)) bad++;
            }
        }
        size_t lens[] = {4096, MT_CRC_ACCEL_MIN - 1, MT_CRC_ACCEL_MIN, sizeof big - 3};
        for (size_t i = 0; i < 4; i++) {
            if (mt_crc32_impl(0, big + 3, lens[i], impl) != mt_crc32(0, big + 3, lens[i])) bad++;
            if (mt_crc32_impl(0, big + 3, lens[i], impl) != ref_crc32(big + 3, lens[i])) bad++;
            if (mt_crc16_x25_impl(big + 3, lens[i], impl) != mt_crc16_x25(big + 3, lens[i])) bad++;
        }
        /* incremental across the folding threshold */
        uint32_t whole = mt_crc32_portable(0, big, 5000);
        for (size_t cut = 0; cut <= 5000; cut += 37)
            if (mt_crc32_impl(mt_crc32_impl(0, big, cut, impl), big + cut, 5000 - cut, impl) != whole)
                bad++;
    }
    CHECK_EQ(bad, 0);
}

static void check_incremental(void)
{
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7u + 3u);
    uint32_t whole = mt_crc32(0, buf, sizeof buf);
    unsigned whole16 = mt_crc16_x25(buf, sizeof buf);
    CHECK_EQ(whole, ref_crc32(buf, sizeof buf));
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof buf; cut++) {
        if (mt_crc32(mt_crc32(0, buf, cut), buf + cut, sizeof buf - cut) != whole) bad++;
        uint16_t r = mt_crc16_x25_update(MT_CRC16_X25_INIT, buf, cut);
        r = mt_crc16_x25_update(r, buf + cut, sizeof buf - cut);
        if (((unsigned)r ^ 0xFFFFu) != whole16) bad++;
    }
    CHECK_EQ(bad, 0);
    /* split a large buffer so one part takes the folding path and one the tables */
    uint32_t big_whole = mt_crc32_portable(0, big, sizeof big);
    size_t cuts[] = {1, 15, MT_CRC_ACCEL_MIN, sizeof big - MT_CRC_ACCEL_MIN, sizeof big - 3};
    for (size_t i = 0; i < 5; i++) {
        size_t c = cuts[i];
        CHECK_EQ(mt_crc32(mt_crc32(0, big, c), big + c, sizeof big - c), big_whole);
    }
}

int main(void)
{
    check_vectors();
    check_paths();
    check_incremental();
    check_impl();
    return mt_test_done("test_crc");
}
