/* The NOR flash model against a plain reference written out here, byte by
 * byte from the contract in mt_flash.h: random programs and erases -- many
 * that raise a bit, unaligned, out of range, from the device's own cells --
 * with faults armed at random (bits stuck at 0 and 1, sectors worn out
 * early, a power cut n operations on with a prefix tear). Every call's code,
 * every cell, the wear, the write generations and the operation count must
 * be the reference's. The program path checks a whole request in one pass
 * and looks byte by byte only when bits are stuck: this holds both ways to
 * the one rule. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mt_err.h"
#include "mt_flash.h"
#include "mt_test.h"

#define SEC 64u
#define NSEC 8u
#define SIZE (SEC * NSEC)
#define STEPS 200000u

static uint8_t mem[SIZE];
static uint32_t wear[NSEC], gen[NSEC];

typedef struct ref {
    uint8_t mem[SIZE], s0[SIZE], s1[SIZE]; /* cells; bits stuck at 0, at 1 */
    uint32_t wear[NSEC], endur[NSEC], gen[NSEC], gen_now, ops;
    uint32_t cut_left, tear_k;
    int powered, cut_armed, tear;
} ref;

static ref R;
static uint32_t seed = 0x2545F491u;

static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

static void ref_stuck(uint32_t a, uint32_t n)
{
    for (uint32_t i = a; i < a + n; i++)
        R.mem[i] = (uint8_t)((R.mem[i] & (uint8_t)~R.s0[i]) | R.s1[i]);
}

static void ref_touch(uint32_t a, uint32_t n)
{
    R.gen_now++;
    for (uint32_t s = a / SEC; s <= (a + n - 1u) / SEC; s++) R.gen[s] = R.gen_now;
}

/* 1 when the armed cut strikes this operation. */
static int ref_cut(void)
{
    if (!R.cut_armed) return 0;
    if (R.cut_left > 0) {
        R.cut_left--;
        return 0;
    }
    R.cut_armed = 0;
    R.powered = 0;
    return 1;
}

/* data may be the reference's own cells: read live, byte by byte in order,
 * as the contract has a program from the device's own memory behave. */
static int ref_program(uint32_t a, const uint8_t *data, uint32_t n, uint32_t align)
{
    if (!R.powered) return MT_E_FLASH_POWER;
    if (a > SIZE || n > SIZE - a) return MT_E_FLASH_RANGE;
    if (a % align != 0 || n % align != 0) return MT_E_FLASH_ALIGN;
    if (n == 0) return MT_OK;
    for (uint32_t s = a / SEC; s <= (a + n - 1u) / SEC; s++)
        if (R.wear[s] >= R.endur[s]) return MT_E_FLASH_WORN;
    for (uint32_t i = 0; i < n; i++) /* the whole request, before any cell changes */
        if ((data[i] & (uint8_t)~R.mem[a + i] & (uint8_t)~R.s0[a + i]) != 0) return MT_E_FLASH_ONE;
    ref_touch(a, n);
    R.ops++;
    if (ref_cut()) {
        uint32_t k = R.tear ? (R.tear_k < n ? R.tear_k : n) : 0;
        for (uint32_t i = 0; i < k; i++) R.mem[a + i] &= data[i];
        if (R.tear) ref_stuck(a, n);
        return MT_E_FLASH_POWER;
    }
    for (uint32_t i = 0; i < n; i++) R.mem[a + i] &= data[i];
    ref_stuck(a, n);
    return MT_OK;
}

static int ref_erase(uint32_t a, uint32_t n)
{
    if (!R.powered) return MT_E_FLASH_POWER;
    if (a > SIZE || n > SIZE - a) return MT_E_FLASH_RANGE;
    if (a % SEC != 0 || n % SEC != 0) return MT_E_FLASH_ALIGN;
    if (n == 0) return MT_OK;
    for (uint32_t s = a / SEC; s < (a + n) / SEC; s++)
        if (R.wear[s] >= R.endur[s]) return MT_E_FLASH_WORN;
    for (uint32_t b = a; b < a + n; b += SEC) {
        ref_touch(b, SEC);
        R.ops++;
        if (ref_cut()) {
            if (R.tear) { /* prefix tear: k bytes erased, then worn like any erase */
                memset(R.mem + b, 0xFF, R.tear_k < SEC ? R.tear_k : SEC);
                R.wear[b / SEC]++;
                ref_stuck(b, SEC);
            }
            return MT_E_FLASH_POWER;
        }
        memset(R.mem + b, 0xFF, SEC);
        R.wear[b / SEC]++;
        ref_stuck(b, SEC);
    }
    return MT_OK;
}

static void same(const mt_flash *f)
{
    CHECK_MEM(mem, R.mem, SIZE);
    CHECK_MEM(wear, R.wear, sizeof wear);
    CHECK_MEM(gen, R.gen, sizeof gen);
    CHECK_EQ(mt_flash_ops(f), R.ops);
    CHECK_EQ(mt_flash_powered(f), R.powered);
}

/* Data for a program at a of n bytes: mostly only clearing bits (it
 * passes), sometimes raising one bit somewhere, sometimes random. */
static void make_data(uint8_t *d, uint32_t a, uint32_t n)
{
    uint32_t kind = rnd() % 4u;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t cur = a + i < SIZE ? mem[a + i] : 0xFF;
        d[i] = kind == 3 ? (uint8_t)rnd() : (uint8_t)(cur & (uint8_t)(rnd() | rnd()));
    }
    if (kind == 2 && n != 0) d[rnd() % n] |= (uint8_t)(1u << (rnd() % 8u));
}

static void run(uint32_t align)
{
    mt_flash f;
    uint32_t hits = 0, ones = 0, worn = 0, stuck_pass = 0;
    CHECK_EQ(mt_flash_init(&f, mem, SIZE, wear, SEC, align), MT_OK);
    mt_flash_factory_erase(&f);
    mt_flash_track(&f, gen);
    memset(&R, 0, sizeof R);
    memcpy(R.mem, mem, SIZE);
    memcpy(R.gen, gen, sizeof gen);
    R.gen_now = mt_flash_generation(&f, 0, SIZE);
    for (uint32_t s = 0; s < NSEC; s++) R.endur[s] = MT_FLASH_ENDURANCE_DEFAULT;
    R.powered = 1;
    for (uint32_t step = 0; step < STEPS; step++) {
        uint32_t op = rnd() % 32u, a = rnd() % (SIZE + 8u), n;
        uint8_t d[SIZE];
        int got, want, was = R.powered;
        if (op < 20) { /* program: aligned mostly, any length up to a few sectors */
            n = rnd() % 4u == 0 ? rnd() % 40u : (rnd() % (3u * SEC / align)) * align;
            if (rnd() % 8u != 0) a -= a % align;
            if (n > SIZE) n = SIZE;
            if (rnd() % 16u == 0 && a < SIZE && n <= SIZE - a) { /* from its own cells */
                uint32_t src = rnd() % (SIZE - n + 1u);
                src -= src % align;
                got = mt_flash_program(&f, a, mem + src, n);
                want = ref_program(a, R.mem + src, n, align);
            } else {
                make_data(d, a, n);
                got = mt_flash_program(&f, a, d, n);
                want = ref_program(a, d, n, align);
            }
            ones += got == MT_E_FLASH_ONE;
            worn += got == MT_E_FLASH_WORN;
            stuck_pass += got == MT_OK && f.n_stuck != 0;
        } else if (op < 23) { /* erase one or two sectors */
            n = (1u + rnd() % 2u) * SEC;
            if (rnd() % 8u != 0) a -= a % SEC;
            got = mt_flash_erase(&f, a, n);
            want = ref_erase(a, n);
        } else if (op < 26) { /* a bit stuck */
            uint8_t s0 = (uint8_t)rnd(), s1 = (uint8_t)(rnd() & (uint32_t)(uint8_t)~s0);
            a %= SIZE;
            got = mt_flash_stick_bits(&f, a, s0, s1);
            want = got; /* full after MT_FLASH_STUCK_MAX addresses: then nothing changes */
            if (got == MT_OK) {
                R.s0[a] = (uint8_t)((R.s0[a] & (uint8_t)~s1) | s0);
                R.s1[a] = (uint8_t)((R.s1[a] & (uint8_t)~s0) | s1);
                ref_touch(a, 1);
                ref_stuck(a, 1);
            }
        } else if (op < 27) { /* a sector that wears out early */
            a %= SIZE;
            uint32_t e = mt_flash_wear(&f, a) + rnd() % 3u;
            got = mt_flash_set_sector_endurance(&f, a, e);
            want = got;
            if (got == MT_OK) R.endur[a / SEC] = e;
        } else if (op < 29) { /* a cut n operations on, torn as a prefix or not at all */
            uint32_t k = rnd() % (2u * SEC), tear = rnd() % 2u;
            mt_flash_cut_after(&f, rnd() % 6u);
            CHECK_EQ(mt_flash_set_tear(&f, tear ? MT_FLASH_TEAR_PREFIX : MT_FLASH_TEAR_NONE, k),
                     MT_OK);
            R.cut_armed = 1;
            R.cut_left = f.cut_left;
            R.tear = (int)tear;
            R.tear_k = k;
            got = want = MT_OK;
        } else if (op < 31) { /* power back */
            mt_flash_power_up(&f);
            R.powered = 1;
            R.cut_armed = 0;
            R.ops = 0;
            got = want = MT_OK;
        } else { /* every fault gone */
            mt_flash_clear_faults(&f);
            memset(R.s0, 0, SIZE);
            memset(R.s1, 0, SIZE);
            for (uint32_t s = 0; s < NSEC; s++) R.endur[s] = MT_FLASH_ENDURANCE_DEFAULT;
            R.cut_armed = 0;
            R.tear = 0;
            got = want = MT_OK;
        }
        hits += was && !R.powered; /* the cut struck this call */
        CHECK_EQ(got, want);
        same(&f);
        if (mt_test_failures > 20) break;
    }
    printf("flash model, unit %u: %u cut, %u raised a bit, %u worn, %u passed with stuck bits\n",
           (unsigned)align, (unsigned)hits, (unsigned)ones, (unsigned)worn, (unsigned)stuck_pass);
    CHECK(hits > 1000 && ones > 1000 && worn > 100 && stuck_pass > 1000);
}

int main(void)
{
    run(1);
    run(8);
    run(16);
    return mt_test_done("test_flash_model");
}
