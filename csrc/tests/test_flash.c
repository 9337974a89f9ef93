/* NOR flash model: semantics, alignment, wear, counters and every fault type. */
#include <stdint.h>
#include <string.h>

#include "mt_err.h"
#include "mt_flash.h"
#include "mt_test.h"

#define SEC 256u
#define NSEC 8u
#define SIZE (SEC * NSEC)

static uint8_t mem[SIZE];
static uint32_t wear[NSEC];

static void fresh(mt_flash *f, uint32_t align)
{
    CHECK_EQ(mt_flash_init(f, mem, SIZE, wear, SEC, align), MT_OK);
    mt_flash_factory_erase(f);
}

static int all_ff(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != 0xFF) return 0;
    return 1;
}

static void test_init(void)
{
    mt_flash f;
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, SEC, 8), MT_OK);
    CHECK_EQ(mt_flash_init(&f, NULL, SIZE, wear, SEC, 8), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, NULL, SEC, 8), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, 300, 8), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, 8, 8), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, SEC, 3), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, SEC, 32), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, SEC, 0), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, SIZE + 1, wear, SEC, 8), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, 0, wear, SEC, 8), MT_E_ARG);
    fresh(&f, 8);
    CHECK(all_ff(mem, SIZE));
    CHECK_EQ(mt_flash_size(&f), SIZE);
    CHECK_EQ(mt_flash_sector_size(&f), SEC);
    CHECK_EQ(mt_flash_align(&f), 8u);
    CHECK(mt_flash_powered(&f));
    CHECK_EQ(mt_flash_wear(&f, 0), 0u);
}

static void test_nor(void)
{
    mt_flash f;
    uint8_t a[8] = {0xF0, 0x0F, 0xAA, 0x55, 0x00, 0xFF, 0x12, 0x34};
    uint8_t b[8] = {0xC0, 0x0F, 0x2A, 0x55, 0x00, 0xFE, 0x02, 0x30};
    uint8_t out[8];
    fresh(&f, 8);
    CHECK_EQ(mt_flash_program(&f, 16, a, 8), MT_OK);
    CHECK_MEM(mem + 16, a, 8);
    /* clearing more bits is fine: new = old AND data */
    CHECK_EQ(mt_flash_program(&f, 16, b, 8), MT_OK);
    CHECK_MEM(mem + 16, b, 8);
    CHECK_EQ(mt_flash_read(&f, 16, out, 8), MT_OK);
    CHECK_MEM(out, b, 8);
    /* asking for a 1 over a 0 is refused, nothing written (checked before writing) */
    uint8_t c[16];
    memset(c, 0x00, sizeof c);
    c[15] = 0xFF; /* byte 31 is erased: fine; the bad byte is byte 16 */
    c[0] = 0x01;
    memcpy(out, mem + 16, 8);
    CHECK_EQ(mt_flash_program(&f, 16, c, 16), MT_E_FLASH_ONE);
    CHECK_MEM(mem + 16, out, 8);
    CHECK(all_ff(mem + 24, 8));
    CHECK_EQ(mt_flash_ops(&f), 2u);
    /* peek */
    const uint8_t *p = mt_flash_peek(&f, 16, 8);
    CHECK(p == mem + 16);
    CHECK(mt_flash_peek(&f, SIZE - 4, 8) == NULL);
    CHECK(mt_flash_peek(&f, SIZE, 0) != NULL);
    /* erase works on whole sectors and counts wear */
    CHECK_EQ(mt_flash_erase(&f, 0, SEC), MT_OK);
    CHECK(all_ff(mem, SEC));
    CHECK_EQ(mt_flash_wear(&f, 0), 1u);
    CHECK_EQ(mt_flash_wear(&f, SEC - 1), 1u);
    CHECK_EQ(mt_flash_wear(&f, SEC), 0u);
    CHECK_EQ(mt_flash_erase(&f, 8, SEC), MT_E_FLASH_ALIGN);
    CHECK_EQ(mt_flash_erase(&f, 0, SEC / 2), MT_E_FLASH_ALIGN);
    CHECK_EQ(mt_flash_erase(&f, SEC * (NSEC - 1), 2 * SEC), MT_E_FLASH_RANGE);
    /* a multi-sector erase is one operation per sector */
    uint32_t before = mt_flash_ops(&f);
    memset(mem + SEC, 0, 3 * SEC);
    CHECK_EQ(mt_flash_erase(&f, SEC, 3 * SEC), MT_OK);
    CHECK_EQ(mt_flash_ops(&f) - before, 3u);
    CHECK(all_ff(mem + SEC, 3 * SEC));
    CHECK_EQ(mt_flash_erase(&f, 0, 0), MT_OK);
    CHECK_EQ(mt_flash_ops(&f) - before, 3u);
}

static void test_alignment_and_range(void)
{
    static const uint32_t aligns[] = {1, 2, 4, 8, 16};
    uint8_t z[32];
    memset(z, 0, sizeof z);
    for (unsigned k = 0; k < 5; k++) {
        mt_flash f;
        uint32_t al = aligns[k];
        fresh(&f, al);
        CHECK_EQ(mt_flash_program(&f, al, z, al), MT_OK);
        CHECK_EQ(mt_flash_program(&f, 2 * al, z, 2 * al), MT_OK);
        if (al > 1) {
            CHECK_EQ(mt_flash_program(&f, al + 1, z, al), MT_E_FLASH_ALIGN);
            CHECK_EQ(mt_flash_program(&f, 4 * al, z, al - 1), MT_E_FLASH_ALIGN);
            CHECK_EQ(mt_flash_program(&f, 4 * al, z, al + 1), MT_E_FLASH_ALIGN);
            CHECK(all_ff(mem + 4 * al, al + 1));
        }
        CHECK_EQ(mt_flash_program(&f, SIZE - al, z, al), MT_OK);
        CHECK_EQ(mt_flash_program(&f, SIZE, z, al), MT_E_FLASH_RANGE);
        CHECK_EQ(mt_flash_program(&f, 0xFFFFFFF0u, z, 16), MT_E_FLASH_RANGE);
        CHECK_EQ(mt_flash_program(&f, 16, z, 0xFFFFFFF0u), MT_E_FLASH_RANGE);
        CHECK_EQ(mt_flash_read(&f, SIZE - 1, z, 2), MT_E_FLASH_RANGE);
        CHECK_EQ(mt_flash_erase(&f, 0xFFFFFF00u, SEC), MT_E_FLASH_RANGE);
        CHECK_EQ(mt_flash_ops(&f), 3u);
    }
}

static void test_wear(void)
{
    mt_flash f;
    uint8_t z[8] = {0};
    fresh(&f, 8);
    mt_flash_set_endurance(&f, 3);
    for (int i = 0; i < 3; i++) CHECK_EQ(mt_flash_erase(&f, 0, SEC), MT_OK);
    CHECK_EQ(mt_flash_wear(&f, 0), 3u);
    /* worn: both program and erase refused, nothing changes */
    CHECK_EQ(mt_flash_program(&f, 0, z, 8), MT_E_FLASH_WORN);
    CHECK(all_ff(mem, 8));
    CHECK_EQ(mt_flash_erase(&f, 0, SEC), MT_E_FLASH_WORN);
    CHECK_EQ(mt_flash_wear(&f, 0), 3u);
    /* a range erase touching a worn sector is refused before erasing anything */
    memset(mem + SEC, 0, SEC);
    CHECK_EQ(mt_flash_erase(&f, 0, 2 * SEC), MT_E_FLASH_WORN);
    CHECK_EQ(mem[SEC], 0);
    /* other sectors unaffected */
    CHECK_EQ(mt_flash_program(&f, SEC, z, 8), MT_OK);

    /* a sector that wears out early */
    fresh(&f, 8);
    CHECK_EQ(mt_flash_set_sector_endurance(&f, 2 * SEC + 5, 1), MT_OK);
    CHECK_EQ(mt_flash_erase(&f, 2 * SEC, SEC), MT_OK);
    CHECK_EQ(mt_flash_erase(&f, 2 * SEC, SEC), MT_E_FLASH_WORN);
    CHECK_EQ(mt_flash_program(&f, 2 * SEC + 8, z, 8), MT_E_FLASH_WORN);
    CHECK_EQ(mt_flash_erase(&f, 3 * SEC, SEC), MT_OK);
    CHECK_EQ(mt_flash_erase(&f, 3 * SEC, SEC), MT_OK);
    CHECK_EQ(mt_flash_set_sector_endurance(&f, 0, 0), MT_OK);
    CHECK_EQ(mt_flash_program(&f, 0, z, 8), MT_E_FLASH_WORN);
    CHECK_EQ(mt_flash_set_sector_endurance(&f, SEC, 9), MT_OK);
    CHECK_EQ(mt_flash_set_sector_endurance(&f, 4 * SEC, 9), MT_OK);
    CHECK_EQ(mt_flash_set_sector_endurance(&f, 5 * SEC, 9), MT_E_LENGTH);
    CHECK_EQ(mt_flash_set_sector_endurance(&f, SEC, 10), MT_OK); /* update in place */
    CHECK_EQ(mt_flash_set_sector_endurance(&f, SIZE, 9), MT_E_FLASH_RANGE);
    mt_flash_clear_faults(&f);
    CHECK_EQ(mt_flash_program(&f, 0, z, 8), MT_OK);
    /* wear lives in caller memory: a new struct over the same arrays sees it */
    mt_flash g;
    CHECK_EQ(mt_flash_init(&g, mem, SIZE, wear, SEC, 8), MT_OK);
    CHECK_EQ(mt_flash_wear(&g, 3 * SEC), 2u);
}

static void test_power_cut(void)
{
    mt_flash f;
    uint8_t z[8] = {0}, out[8];
    fresh(&f, 8);
    mt_flash_cut_after(&f, 2);
    CHECK_EQ(mt_flash_program(&f, 0, z, 8), MT_OK);
    /* refused calls are not operations and do not use up the countdown */
    CHECK_EQ(mt_flash_program(&f, 3, z, 8), MT_E_FLASH_ALIGN);
    CHECK_EQ(mt_flash_erase(&f, 0, SEC), MT_OK);
    CHECK_EQ(mt_flash_program(&f, 8, z, 8), MT_E_FLASH_POWER);
    CHECK(all_ff(mem, 16)); /* tear NONE: the cut operation never started */
    CHECK(!mt_flash_powered(&f));
    CHECK_EQ(mt_flash_ops(&f), 3u);
    /* sticky, and the MCU is off: reads fail too */
    CHECK_EQ(mt_flash_program(&f, 16, z, 8), MT_E_FLASH_POWER);
    CHECK_EQ(mt_flash_erase(&f, SEC, SEC), MT_E_FLASH_POWER);
    CHECK_EQ(mt_flash_read(&f, 0, out, 8), MT_E_FLASH_POWER);
    CHECK(mt_flash_peek(&f, 0, 8) == NULL);
    CHECK_EQ(mt_flash_ops(&f), 3u);
    CHECK(all_ff(mem, SIZE));
    mt_flash_power_up(&f);
    CHECK(mt_flash_powered(&f));
    CHECK_EQ(mt_flash_ops(&f), 0u);
    CHECK_EQ(mt_flash_ops_total(&f), 3u);
    CHECK_EQ(mt_flash_program(&f, 16, z, 8), MT_OK);
    CHECK_EQ(mt_flash_ops_total(&f), 4u);
    /* cut at once; power-up disarms a pending cut */
    mt_flash_power_cut(&f);
    CHECK_EQ(mt_flash_program(&f, 24, z, 8), MT_E_FLASH_POWER);
    mt_flash_power_up(&f);
    mt_flash_cut_after(&f, 0);
    mt_flash_power_up(&f);
    CHECK_EQ(mt_flash_program(&f, 24, z, 8), MT_OK);
    mt_flash_cut_after(&f, 0);
    mt_flash_cut_disarm(&f);
    CHECK_EQ(mt_flash_program(&f, 32, z, 8), MT_OK);
    /* a cut in the middle of a multi-sector erase leaves the earlier sectors erased */
    memset(mem, 0, 4 * SEC);
    mt_flash_cut_after(&f, 2);
    CHECK_EQ(mt_flash_erase(&f, 0, 4 * SEC), MT_E_FLASH_POWER);
    CHECK(all_ff(mem, 2 * SEC));
    CHECK_EQ(mem[2 * SEC], 0);
    CHECK_EQ(mem[4 * SEC - 1], 0);
    CHECK_EQ(mt_flash_wear(&f, 2 * SEC), 0u);
}

static void test_torn_program(void)
{
    mt_flash f;
    uint8_t d[64];
    for (unsigned i = 0; i < sizeof d; i++) d[i] = (uint8_t)(i * 37u);
    /* prefix of a chosen length */
    fresh(&f, 8);
    CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_PREFIX, 13), MT_OK);
    mt_flash_cut_after(&f, 0);
    CHECK_EQ(mt_flash_program(&f, 64, d, 64), MT_E_FLASH_POWER);
    CHECK_MEM(mem + 64, d, 13);
    CHECK(all_ff(mem + 64 + 13, 64 - 13));
    /* prefix longer than the write: all of it */
    mt_flash_power_up(&f);
    CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_PREFIX, 1000), MT_OK);
    mt_flash_cut_after(&f, 0);
    CHECK_EQ(mt_flash_program(&f, 256, d, 16), MT_E_FLASH_POWER);
    CHECK_MEM(mem + 256, d, 16);
    /* random prefix: deterministic from the seed, and some cuts land mid-way */
    uint8_t first[64];
    int partial = 0;
    for (uint32_t seed = 1; seed <= 20; seed++) {
        uint32_t k = 0;
        fresh(&f, 8);
        mt_flash_seed(&f, seed);
        CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_PREFIX, MT_FLASH_TEAR_RANDOM), MT_OK);
        mt_flash_cut_after(&f, 0);
        CHECK_EQ(mt_flash_program(&f, 0, d, 64), MT_E_FLASH_POWER);
        while (k < 64 && mem[k] == d[k]) k++;
        CHECK(all_ff(mem + k, 64 - k) || d[k] == 0xFF);
        if (k > 0 && k < 64) partial++;
        if (seed == 7) memcpy(first, mem, 64);
    }
    CHECK(partial > 10);
    fresh(&f, 8);
    mt_flash_seed(&f, 7);
    CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_PREFIX, MT_FLASH_TEAR_RANDOM), MT_OK);
    mt_flash_cut_after(&f, 0);
    CHECK_EQ(mt_flash_program(&f, 0, d, 64), MT_E_FLASH_POWER);
    CHECK_MEM(mem, first, 64);
    /* bits: whole words before the tear, then one word with only some of its
     * bits cleared (never more than asked), then nothing */
    for (uint32_t seed = 1; seed <= 20; seed++) {
        fresh(&f, 8);
        mt_flash_seed(&f, seed);
        CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_BITS, 21), MT_OK);
        uint8_t zero[64];
        memset(zero, 0, sizeof zero);
        mt_flash_cut_after(&f, 0);
        CHECK_EQ(mt_flash_program(&f, 0, zero, 64), MT_E_FLASH_POWER);
        CHECK_MEM(mem, zero, 16);
        CHECK(all_ff(mem + 24, 40));
        int cleared = 0;
        for (int i = 16; i < 24; i++) cleared += mem[i] != 0xFF;
        CHECK(cleared > 0); /* 64 random bits all zero is not a seed we use */
    }
    /* bits tear over partly programmed cells never sets a bit */
    fresh(&f, 8);
    memset(mem, 0x0F, 16);
    uint8_t sub[16];
    for (int i = 0; i < 16; i++) sub[i] = (uint8_t)(d[i] & 0x0F);
    CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_BITS, 0), MT_OK);
    mt_flash_cut_after(&f, 0);
    CHECK_EQ(mt_flash_program(&f, 0, sub, 16), MT_E_FLASH_POWER);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(mem[i] & (uint8_t)~0x0F, 0);
        CHECK_EQ(mem[i] & sub[i], sub[i]);
    }
    CHECK_EQ(mem[8], 0x0F);
    CHECK_EQ(mt_flash_set_tear(&f, 3, 0), MT_E_ARG);
}

static void test_torn_erase(void)
{
    mt_flash f;
    fresh(&f, 8);
    memset(mem + SEC, 0x00, SEC);
    CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_PREFIX, 100), MT_OK);
    mt_flash_cut_after(&f, 0);
    CHECK_EQ(mt_flash_erase(&f, SEC, SEC), MT_E_FLASH_POWER);
    CHECK(all_ff(mem + SEC, 100));
    CHECK_EQ(mem[SEC + 100], 0);
    CHECK_EQ(mem[2 * SEC - 1], 0);
    CHECK_EQ(mt_flash_wear(&f, SEC), 1u);
    /* random bits set after the prefix; never clears anything */
    mt_flash_power_up(&f);
    mt_flash_seed(&f, 99);
    memset(mem + SEC, 0x00, SEC);
    CHECK_EQ(mt_flash_set_tear(&f, MT_FLASH_TEAR_BITS, 8), MT_OK);
    mt_flash_cut_after(&f, 0);
    CHECK_EQ(mt_flash_erase(&f, SEC, SEC), MT_E_FLASH_POWER);
    CHECK(all_ff(mem + SEC, 8));
    int set = 0, ff = 0;
    for (uint32_t i = 8; i < SEC; i++) {
        set += mem[SEC + i] != 0;
        ff += mem[SEC + i] == 0xFF;
    }
    CHECK(set > 200);
    CHECK(ff < 20);
    CHECK_EQ(mt_flash_wear(&f, SEC), 2u);
    /* power back, a full erase cleans it */
    mt_flash_power_up(&f);
    CHECK_EQ(mt_flash_erase(&f, SEC, SEC), MT_OK);
    CHECK(all_ff(mem + SEC, SEC));
}

static void test_cell_faults(void)
{
    mt_flash f;
    uint8_t z[8] = {0}, ff[8];
    memset(ff, 0xFF, sizeof ff);
    fresh(&f, 8);
    /* bit flip: immediate, not an operation, works with the power off */
    mt_flash_power_cut(&f);
    CHECK_EQ(mt_flash_flip_bits(&f, 5, 0x81), MT_OK);
    CHECK_EQ(mem[5], 0x7E);
    CHECK_EQ(mt_flash_flip_bits(&f, SIZE, 1), MT_E_FLASH_RANGE);
    mt_flash_power_up(&f);
    CHECK_EQ(mt_flash_ops(&f), 0u);
    /* the flipped-to-0 bit now makes an erased-looking program ask for a 1 */
    CHECK_EQ(mt_flash_program(&f, 0, ff, 8), MT_E_FLASH_ONE);

    /* stuck at 0: reads 0 even right after an erase, and a 1 there is not ONE */
    fresh(&f, 8);
    CHECK_EQ(mt_flash_stick_bits(&f, 40, 0x10, 0), MT_OK);
    CHECK_EQ(mem[40], 0xEF);
    CHECK_EQ(mt_flash_erase(&f, 0, SEC), MT_OK);
    CHECK_EQ(mem[40], 0xEF);
    CHECK_EQ(mt_flash_program(&f, 40, ff, 8), MT_OK);
    CHECK_EQ(mem[40], 0xEF);
    /* stuck at 1: program cannot clear it, and says nothing */
    CHECK_EQ(mt_flash_stick_bits(&f, 48, 0, 0x03), MT_OK);
    CHECK_EQ(mt_flash_program(&f, 48, z, 8), MT_OK);
    CHECK_EQ(mem[48], 0x03);
    CHECK_EQ(mem[49], 0x00);
    /* same byte again: masks merge; a bit can't be stuck both ways */
    CHECK_EQ(mt_flash_stick_bits(&f, 48, 0x01, 0), MT_OK);
    CHECK_EQ(mem[48], 0x02);
    CHECK_EQ(mt_flash_stick_bits(&f, 48, 0x04, 0x04), MT_E_ARG);
    for (uint32_t i = 0; i < MT_FLASH_STUCK_MAX - 2; i++)
        CHECK_EQ(mt_flash_stick_bits(&f, 100 + i, 0, 0x80), MT_OK);
    CHECK_EQ(mt_flash_stick_bits(&f, 200, 0, 0x80), MT_E_LENGTH);
    CHECK_EQ(mt_flash_stick_bits(&f, SIZE, 0, 0x80), MT_E_FLASH_RANGE);
    mt_flash_clear_faults(&f);
    CHECK_EQ(mt_flash_erase(&f, 0, SEC), MT_OK);
    CHECK(all_ff(mem, SEC));
}

static void test_area(void)
{
    mt_flash f;
    mt_flash_area a;
    uint8_t d[16], out[16];
    memset(d, 0x5A, sizeof d);
    fresh(&f, 8);
    CHECK_EQ(mt_flash_area_init(&a, &f, SEC, 2 * SEC), MT_OK);
    CHECK_EQ(mt_flash_area_init(&a, &f, SEC + 8, SEC), MT_E_ARG);
    CHECK_EQ(mt_flash_area_init(&a, &f, SEC, SEC + 8), MT_E_ARG);
    CHECK_EQ(mt_flash_area_init(&a, &f, 7 * SEC, 2 * SEC), MT_E_ARG);
    CHECK_EQ(mt_flash_area_init(&a, &f, 0, 0), MT_E_ARG);
    CHECK_EQ(mt_flash_area_init(&a, &f, SEC, 2 * SEC), MT_OK);
    CHECK_EQ(mt_flash_area_program(&a, 16, d, 16), MT_OK);
    CHECK_MEM(mem + SEC + 16, d, 16);
    CHECK_EQ(mt_flash_area_read(&a, 16, out, 16), MT_OK);
    CHECK_MEM(out, d, 16);
    CHECK(mt_flash_area_peek(&a, 16, 16) == mem + SEC + 16);
    CHECK(mt_flash_area_peek(&a, 2 * SEC - 8, 16) == NULL);
    CHECK_EQ(mt_flash_area_program(&a, 2 * SEC - 8, d, 16), MT_E_FLASH_RANGE);
    CHECK_EQ(mt_flash_area_program(&a, 0xFFFFFFF8u, d, 16), MT_E_FLASH_RANGE);
    CHECK_EQ(mt_flash_area_read(&a, 2 * SEC, out, 1), MT_E_FLASH_RANGE);
    CHECK_EQ(mt_flash_area_erase(&a, SEC, 2 * SEC), MT_E_FLASH_RANGE);
    CHECK(all_ff(mem + 3 * SEC, SEC));
    CHECK_EQ(mt_flash_area_erase(&a, 0, SEC), MT_OK);
    CHECK(all_ff(mem + SEC, SEC));
    CHECK_EQ(mt_flash_wear(&f, SEC), 1u);
}

/* Write generations: every call that can change a cell moves the generation
 * of the sectors it touches on, and of nothing else; refused calls none. */
static void test_generations(void)
{
    static uint32_t gen[NSEC];
    mt_flash f;
    mt_flash_area a;
    uint8_t d[16];
    uint32_t g0, g1, g2;

    memset(d, 0x00, sizeof d);
    fresh(&f, 8);
    /* untracked: nothing to say */
    CHECK_EQ(mt_flash_generation(&f, 0, SIZE), MT_FLASH_GEN_UNKNOWN);
    CHECK_EQ(mt_flash_area_init(&a, &f, SEC, 2 * SEC), MT_OK);
    CHECK_EQ(mt_flash_area_generation(&a), MT_FLASH_GEN_UNKNOWN);
    mt_flash_track(&f, gen);
    g0 = mt_flash_generation(&f, 0, SIZE);
    CHECK(g0 != MT_FLASH_GEN_UNKNOWN);
    for (uint32_t s = 0; s < NSEC; s++) CHECK_EQ(mt_flash_generation(&f, s * SEC, 0), g0);
    CHECK_EQ(mt_flash_generation(&f, SIZE, 0), MT_FLASH_GEN_UNKNOWN);
    CHECK_EQ(mt_flash_generation(&f, 8, SIZE), MT_FLASH_GEN_UNKNOWN);

    /* a program stamps the sectors of its range only */
    CHECK_EQ(mt_flash_program(&f, 2 * SEC - 8, d, 16), MT_OK); /* sectors 1 and 2 */
    g1 = mt_flash_generation(&f, SEC, 0);
    CHECK(g1 > g0 && g1 != MT_FLASH_GEN_UNKNOWN);
    CHECK_EQ(mt_flash_generation(&f, 2 * SEC, 0), g1);
    CHECK_EQ(mt_flash_generation(&f, 0, SEC), g0);
    CHECK_EQ(mt_flash_generation(&f, 3 * SEC, 5 * SEC), g0);
    CHECK_EQ(mt_flash_area_generation(&a), g1);
    CHECK_EQ(mt_flash_generation(&f, 0, SIZE), g1);

    /* refused calls reach no cell and stamp nothing */
    CHECK_EQ(mt_flash_program(&f, 2 * SEC - 8, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff", 8),
             MT_E_FLASH_ONE);
    CHECK_EQ(mt_flash_program(&f, SEC + 1, d, 8), MT_E_FLASH_ALIGN);
    CHECK_EQ(mt_flash_program(&f, SIZE - 8, d, 16), MT_E_FLASH_RANGE);
    CHECK_EQ(mt_flash_erase(&f, SEC + 8, SEC), MT_E_FLASH_ALIGN);
    CHECK_EQ(mt_flash_program(&f, SEC, d, 0), MT_OK); /* nothing to write */
    CHECK_EQ(mt_flash_set_sector_endurance(&f, SEC, 0), MT_OK);
    CHECK_EQ(mt_flash_erase(&f, SEC, SEC), MT_E_FLASH_WORN);
    mt_flash_clear_faults(&f);
    mt_flash_power_cut(&f);
    CHECK_EQ(mt_flash_program(&f, SEC, d, 8), MT_E_FLASH_POWER);
    mt_flash_power_up(&f);
    CHECK_EQ(mt_flash_area_generation(&a), g1);
    CHECK_EQ(mt_flash_generation(&f, 0, SIZE), g1);

    /* an erase stamps each sector it erases, one after the other */
    CHECK_EQ(mt_flash_area_erase(&a, 0, 2 * SEC), MT_OK);
    g2 = mt_flash_generation(&f, 2 * SEC, 0);
    CHECK(mt_flash_generation(&f, SEC, 0) > g1 && g2 > mt_flash_generation(&f, SEC, 0));
    CHECK_EQ(mt_flash_area_generation(&a), g2);

    /* cell faults: a flip and a stuck bit stamp the byte's sector */
    g0 = mt_flash_generation(&f, 5 * SEC, SEC);
    CHECK_EQ(mt_flash_flip_bits(&f, 5 * SEC + 3, 0x10), MT_OK);
    g1 = mt_flash_generation(&f, 5 * SEC, SEC);
    CHECK(g1 > g0 && g1 > g2);
    CHECK_EQ(mt_flash_area_generation(&a), g2); /* not the area's sectors */
    CHECK_EQ(mt_flash_stick_bits(&f, 6 * SEC, 0x01, 0), MT_OK);
    CHECK(mt_flash_generation(&f, 6 * SEC, 0) > g1);
    mt_flash_clear_faults(&f);

    /* the operation a cut hits stamps its range, whatever its tear mode */
    for (unsigned mode = MT_FLASH_TEAR_NONE; mode <= MT_FLASH_TEAR_BITS; mode++) {
        g0 = mt_flash_area_generation(&a);
        CHECK_EQ(mt_flash_set_tear(&f, mode, MT_FLASH_TEAR_RANDOM), MT_OK);
        mt_flash_cut_after(&f, 0);
        CHECK_EQ(mt_flash_area_program(&a, 16u * mode, d, 16), MT_E_FLASH_POWER);
        mt_flash_power_up(&f);
        g1 = mt_flash_area_generation(&a);
        CHECK(g1 > g0);
        mt_flash_cut_after(&f, 0);
        CHECK_EQ(mt_flash_area_erase(&a, SEC, SEC), MT_E_FLASH_POWER);
        mt_flash_power_up(&f);
        CHECK(mt_flash_area_generation(&a) > g1);
        CHECK_EQ(mt_flash_generation(&f, SEC, 0), g1); /* the erase's first sector only */
    }
    mt_flash_clear_faults(&f);

    /* factory erase: every sector */
    g0 = mt_flash_generation(&f, 0, SIZE);
    mt_flash_factory_erase(&f);
    for (uint32_t s = 0; s < NSEC; s++) CHECK(mt_flash_generation(&f, s * SEC, 0) > g0);

    /* rebinding stamps every sector anew: nothing recorded before matches */
    g0 = mt_flash_generation(&f, 0, SIZE);
    mt_flash_track(&f, gen);
    g1 = mt_flash_generation(&f, 0, SIZE);
    CHECK(g1 > g0);
    for (uint32_t s = 0; s < NSEC; s++) CHECK_EQ(mt_flash_generation(&f, s * SEC, 0), g1);
    /* the counter saturates and then says nothing */
    f.gen_now = MT_FLASH_GEN_UNKNOWN - 2u;
    CHECK_EQ(mt_flash_program(&f, 0, d, 8), MT_OK);
    CHECK_EQ(mt_flash_generation(&f, 0, 8), MT_FLASH_GEN_UNKNOWN - 1u);
    CHECK_EQ(mt_flash_program(&f, 8, d, 8), MT_OK);
    CHECK_EQ(mt_flash_generation(&f, 0, 8), MT_FLASH_GEN_UNKNOWN);
    CHECK_EQ(mt_flash_program(&f, 16, d, 8), MT_OK);
    CHECK_EQ(mt_flash_generation(&f, 0, SIZE), MT_FLASH_GEN_UNKNOWN);
    CHECK_EQ(mt_flash_generation(&f, SEC, SEC), g1); /* untouched since the rebind */
    mt_flash_track(&f, gen); /* a saturated counter stays so */
    CHECK_EQ(mt_flash_generation(&f, SEC, SEC), MT_FLASH_GEN_UNKNOWN);

    /* unbinding; a later binding carries the counter on */
    mt_flash_track(&f, NULL);
    CHECK_EQ(mt_flash_generation(&f, 0, SIZE), MT_FLASH_GEN_UNKNOWN);
    CHECK_EQ(mt_flash_program(&f, SEC, d, 8), MT_OK);
    f.gen_now = 7u;
    mt_flash_track(&f, gen);
    CHECK_EQ(mt_flash_generation(&f, 0, SIZE), 8u);
}

/* Programs of every length and offset (the eight-cells-at-a-time path and
 * its byte tail), with and without stuck bits, against the byte-wise rule
 * computed here; and a source that overlaps the cells it programs (the
 * device's own memory), which takes the byte order of old. */
static void test_wide_program(void)
{
    static uint8_t ref[SIZE], src[64];
    mt_flash f;
    uint32_t s = 0x2545F491u;
    for (int round = 0; round < 400; round++) {
        uint32_t addr, len, rc;
        int want_ok = 1;
        if (round % 100 == 0) {
            fresh(&f, 1);
            if (round >= 200) {
                CHECK_EQ(mt_flash_stick_bits(&f, 77, 0x81, 0x00), MT_OK);
                CHECK_EQ(mt_flash_stick_bits(&f, 300, 0x00, 0x18), MT_OK);
            }
            memcpy(ref, mem, SIZE);
        }
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        addr = s % (SIZE - 64u);
        len = (s >> 16) % 64u;
        for (uint32_t i = 0; i < len; i++) {
            s ^= s << 13; s ^= s >> 17; s ^= s << 5;
            /* mostly bits that may be cleared; now and then a 1 over a 0 */
            src[i] = (uint8_t)(ref[addr + i] & (uint8_t)s);
            if ((s >> 24) == 0x5A) src[i] = (uint8_t)(src[i] | 0x81u);
        }
        for (uint32_t i = 0; i < len; i++) {
            uint8_t z = (addr + i == 77u) && round >= 200 ? 0x81u : 0u;
            if ((src[i] & (uint8_t)~ref[addr + i] & (uint8_t)~z) != 0) want_ok = 0;
        }
        rc = (uint32_t)mt_flash_program(&f, addr, src, len);
        CHECK_EQ(rc, want_ok ? (uint32_t)MT_OK : (uint32_t)MT_E_FLASH_ONE);
        if (want_ok) {
            for (uint32_t i = 0; i < len; i++) ref[addr + i] &= src[i];
            if (round >= 200) {
                ref[77] = (uint8_t)(ref[77] & 0x7Eu);
                ref[300] = (uint8_t)(ref[300] | 0x18u);
            }
        }
        CHECK_MEM(mem, ref, SIZE);
    }
    /* a source three bytes ahead of the cells it programs, byte-wise in order */
    fresh(&f, 1);
    for (uint32_t i = 0; i < 48; i++) mem[100 + i] = (uint8_t)(0xFFu << (i / 6u)); /* fewer bits on */
    memcpy(ref, mem, SIZE);
    for (uint32_t i = 0; i < 40; i++) ref[100 + i] &= ref[103 + i];
    CHECK_EQ(mt_flash_program(&f, 100, mem + 103, 40), MT_OK);
    CHECK_MEM(mem, ref, SIZE);
    /* and behind them */
    fresh(&f, 1);
    for (uint32_t i = 0; i < 48; i++) mem[100 + i] = (uint8_t)(0xFFu >> (7u - i / 6u)); /* more bits on */
    memcpy(ref, mem, SIZE);
    for (uint32_t i = 0; i < 40; i++) ref[103 + i] &= ref[100 + i];
    CHECK_EQ(mt_flash_program(&f, 103, mem + 100, 40), MT_OK);
    CHECK_MEM(mem, ref, SIZE);
}

int main(void)
{
    test_init();
    test_nor();
    test_alignment_and_range();
    test_wear();
    test_power_cut();
    test_torn_program();
    test_torn_erase();
    test_cell_faults();
    test_area();
    test_generations();
    test_wide_program();
    printf("sizeof(mt_flash) = %u bytes\n", (unsigned)sizeof(mt_flash));
    return mt_test_done("test_flash");
}
