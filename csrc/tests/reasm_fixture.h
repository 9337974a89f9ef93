/* Shared by the reassembly tests: a test package with a header the reassembler
 * accepts, fragment arithmetic, a deterministic generator, and the small flash
 * layout the tests run on (256-byte sectors, 4 KiB banks, 16 KiB device). */
#ifndef REASM_FIXTURE_H
#define REASM_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"
#include "mt_flash.h"
#include "mt_layout.h"
#include "mt_test.h"

#define SEC 256u
#define BANK 4096u
#define VENDOR 0x4D455445u
#define HW 7u
#define SESSION 0xC0FFEE01u
#define DEV (16u * 1024u)

static uint8_t pkg[BANK + 64];
static uint32_t pkg_size;

static uint32_t rng = 12345;
static inline uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* A package with a valid header (the reassembler does not look past it) and
 * pseudo-random image and trailer bytes; image_size + trailer <= BANK - 64. */
static inline void make_pkg(uint32_t image_size, uint32_t fs, uint32_t trailer, uint32_t vendor,
                            uint32_t hw)
{
    uint32_t total = 128u + image_size + trailer;
    memset(pkg, 0, 128);
    memcpy(pkg, "MTRP", 4);
    mt_st16le(pkg + 4, 1);
    mt_st16le(pkg + 6, 128);
    mt_st32le(pkg + 8, vendor);
    mt_st16le(pkg + 12, (uint16_t)hw);
    pkg[16] = 1;
    mt_st32le(pkg + 24, 3);
    mt_st32le(pkg + 28, image_size);
    mt_st16le(pkg + 32, (uint16_t)fs);
    mt_st16le(pkg + 34, (uint16_t)trailer);
    mt_st32le(pkg + 36, (total + fs - 1u) / fs);
    for (uint32_t i = 128; i < total; i++) pkg[i] = (uint8_t)(next_rand() >> 24);
    mt_st32le(pkg + 124, mt_crc32(0, pkg, 124));
    pkg_size = total;
}

static inline uint32_t count_of(uint32_t fs)
{
    return (pkg_size + fs - 1u) / fs;
}

static inline uint32_t frag_len(uint32_t i, uint32_t fs)
{
    uint32_t left = pkg_size - i * fs;
    return left < fs ? left : fs;
}

/* The test layout over mem/wear (DEV bytes): banks of BANK bytes, one sector
 * each of metrology and audit. factory: erase the whole device first. */
static inline void layout_init(mt_layout *layout, mt_flash *flash, uint8_t *mem, uint32_t *wear,
                               uint32_t align, int factory)
{
    mt_layout_params p;
    mt_layout_default_params(&p);
    p.sector_size = SEC;
    p.bank_size = BANK;
    p.golden_size = BANK;
    p.metrology_sectors = 1;
    p.audit_sectors = 1;
    CHECK_EQ(mt_layout_compute(layout, &p, DEV), MT_OK);
    CHECK_EQ(mt_flash_init(flash, mem, DEV, wear, SEC, align), MT_OK);
    if (factory) mt_flash_factory_erase(flash);
}

#endif
