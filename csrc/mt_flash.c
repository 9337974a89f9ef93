/*
 * The NOR flash model's semantics (see mt_flash.h): binding to caller memory,
 * read, program (only clears bits, whole write units) and erase (whole
 * sectors, one wear cycle each), the operation counters, and wear. What a
 * power cut leaves behind and the injected cell faults are mt_flash_fault.c,
 * the write generations mt_flash_gen.c, the partition view mt_flash_area.c.
 */
#include "mt_flash.h"

#include <string.h>

#include "mt_err.h"
#include "mt_flash_impl.h"

static int is_pow2(uint32_t x)
{
    return x != 0 && (x & (x - 1u)) == 0;
}

static uint32_t endurance_of(const mt_flash *f, uint32_t sector)
{
    for (uint32_t i = 0; i < f->n_endur; i++)
        if (f->endur[i].sector == sector) return f->endur[i].endurance;
    return f->endurance;
}

static int sector_worn(const mt_flash *f, uint32_t sector)
{
    return f->wear[sector] >= endurance_of(f, sector);
}

/* Any sector touched by [addr, addr + len) worn out? len > 0, range checked. */
static int range_worn(const mt_flash *f, uint32_t addr, uint32_t len)
{
    uint32_t last = mt_flash_sector_of(f, addr + (len - 1u));
    for (uint32_t s = mt_flash_sector_of(f, addr); s <= last; s++)
        if (sector_worn(f, s)) return 1;
    return 0;
}

/* The bits data asks to raise (1 over a cell's 0) anywhere in
 * [addr, addr + len), ORed together: 0 when the program raises none. No early
 * exit, sixteen cells a turn, so the common case (nothing to raise) is a
 * short straight loop. */
static uint64_t ones_wanted(const uint8_t *cells, const uint8_t *data, uint32_t len)
{
    uint64_t up = 0, up2 = 0;
    uint32_t i = 0;

    for (; len - i >= 16u; i += 16u) {
        up |= mt_flash_ld64(data + i) & ~mt_flash_ld64(cells + i);
        up2 |= mt_flash_ld64(data + i + 8u) & ~mt_flash_ld64(cells + i + 8u);
    }
    for (; len - i >= 8u; i += 8u) up |= mt_flash_ld64(data + i) & ~mt_flash_ld64(cells + i);
    for (; i < len; i++) up |= (uint64_t)(data[i] & (uint8_t)~cells[i]);
    return up | up2;
}

/* 0 when programming data at addr asks for a 1 where a cell holds 0 (a bit
 * stuck at 0 excepted: the hardware does not report it). The whole request
 * is looked at in one pass first; only when it raises some bit and bits are
 * stuck somewhere is it looked at byte by byte. len is a multiple of the
 * write unit, range checked. */
static int ones_allowed(const mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len)
{
    const uint8_t *cells = f->mem + addr;

    if (ones_wanted(cells, data, len) == 0) return 1;
    if (f->n_stuck == 0) return 0;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t want_one = (uint8_t)(data[i] & (uint8_t)~cells[i]);
        if (want_one != 0 && (want_one & (uint8_t)~mt_flash_stuck_zero_at(f, addr + i)) != 0)
            return 0;
    }
    return 1;
}

/* 1 when [a, a + n) and [b, b + m) share a byte. The addresses compared as
 * integers (uintptr_t): two pointers into different objects may not be
 * compared with < in C. */
static int overlap(const uint8_t *a, uint32_t n, const uint8_t *b, uint32_t m)
{
    uintptr_t x = (uintptr_t)(const void *)a, y = (uintptr_t)(const void *)b;
    return x < y ? y - x < n : x - y < m;
}

/* cells &= data over [addr, addr + len), sixteen cells a turn. A source
 * overlapping the cells it programs (a caller programming from the device's
 * own memory) goes byte by byte, in order, as it always has. */
static void and_into(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len)
{
    uint8_t *cells = f->mem + addr;
    uint32_t i = 0;

    if (!overlap(cells, len, data, len)) {
        for (; len - i >= 16u; i += 16u) {
            uint64_t a = mt_flash_ld64(cells + i) & mt_flash_ld64(data + i);
            uint64_t b = mt_flash_ld64(cells + i + 8u) & mt_flash_ld64(data + i + 8u);
            mt_flash_st64(cells + i, a);
            mt_flash_st64(cells + i + 8u, b);
        }
        for (; len - i >= 8u; i += 8u)
            mt_flash_st64(cells + i, mt_flash_ld64(cells + i) & mt_flash_ld64(data + i));
    }
    for (; i < len; i++) cells[i] &= data[i];
}

static void count_op(mt_flash *f)
{
    f->ops++;
    f->ops_total++;
}

void mt_flash_wear_sector(mt_flash *f, uint32_t sector)
{
    if (f->wear[sector] != 0xFFFFFFFFu) f->wear[sector]++;
}

int mt_flash_init(mt_flash *f, uint8_t *mem, uint32_t size, uint32_t *wear,
                  uint32_t sector_size, uint32_t align)
{
    if (f == NULL || mem == NULL || wear == NULL) return MT_E_ARG;
    if (!is_pow2(sector_size) || sector_size < MT_FLASH_SECTOR_MIN ||
        sector_size > MT_FLASH_SECTOR_MAX)
        return MT_E_ARG;
    /* align <= 16 <= MT_FLASH_SECTOR_MIN, so it divides every sector */
    if (!is_pow2(align) || align > 16u) return MT_E_ARG;
    if (size == 0 || size % sector_size != 0) return MT_E_ARG;
    memset(f, 0, sizeof *f);
    f->mem = mem;
    f->wear = wear;
    f->size = size;
    f->sector_size = sector_size;
    f->sector_count = size / sector_size;
    while ((1u << f->sector_shift) < sector_size) f->sector_shift++;
    f->align = align;
    f->endurance = MT_FLASH_ENDURANCE_DEFAULT;
    f->tear_mode = MT_FLASH_TEAR_NONE;
    f->rng = 0x6D657465u;
    f->powered = 1;
    return MT_OK;
}

void mt_flash_factory_erase(mt_flash *f)
{
    memset(f->mem, 0xFF, f->size);
    for (uint32_t s = 0; s < f->sector_count; s++) f->wear[s] = 0;
    mt_flash_apply_stuck(f, 0, f->size);
    mt_flash_touch(f, 0, f->size);
}

uint32_t mt_flash_size(const mt_flash *f) { return f->size; }
uint32_t mt_flash_sector_size(const mt_flash *f) { return f->sector_size; }
uint32_t mt_flash_align(const mt_flash *f) { return f->align; }

int mt_flash_read(const mt_flash *f, uint32_t addr, uint8_t *out, uint32_t len)
{
    if (f == NULL || (out == NULL && len != 0)) return MT_E_ARG;
    if (!f->powered) return MT_E_FLASH_POWER;
    if (!mt_flash_in_range(f, addr, len)) return MT_E_FLASH_RANGE;
    if (len != 0) memcpy(out, f->mem + addr, len);
    return MT_OK;
}

const uint8_t *mt_flash_peek(const mt_flash *f, uint32_t addr, uint32_t len)
{
    if (f == NULL || !f->powered || !mt_flash_in_range(f, addr, len)) return NULL;
    return f->mem + addr;
}

int mt_flash_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len)
{
    if (f == NULL || (data == NULL && len != 0)) return MT_E_ARG;
    if (!f->powered) return MT_E_FLASH_POWER;
    if (!mt_flash_in_range(f, addr, len)) return MT_E_FLASH_RANGE;
    /* align is a power of two (mt_flash_init): a mask, not a division */
    if (((addr | len) & (f->align - 1u)) != 0) return MT_E_FLASH_ALIGN;
    if (len == 0) return MT_OK;
    if (range_worn(f, addr, len)) return MT_E_FLASH_WORN;
    /* Check the whole request before the first byte changes. */
    if (!ones_allowed(f, addr, data, len)) return MT_E_FLASH_ONE;
    mt_flash_touch(f, addr, len); /* from here the cells may change, cut or not */
    if (mt_flash_cut_hits(f)) {
        count_op(f);
        mt_flash_tear_program(f, addr, data, len);
        return MT_E_FLASH_POWER;
    }
    count_op(f);
    and_into(f, addr, data, len);
    mt_flash_apply_stuck(f, addr, len);
    return MT_OK;
}

int mt_flash_erase(mt_flash *f, uint32_t addr, uint32_t len)
{
    if (f == NULL) return MT_E_ARG;
    if (!f->powered) return MT_E_FLASH_POWER;
    if (!mt_flash_in_range(f, addr, len)) return MT_E_FLASH_RANGE;
    if (addr % f->sector_size != 0 || len % f->sector_size != 0) return MT_E_FLASH_ALIGN;
    if (len == 0) return MT_OK;
    if (range_worn(f, addr, len)) return MT_E_FLASH_WORN;
    for (uint32_t base = addr; base - addr < len; base += f->sector_size) {
        mt_flash_touch(f, base, f->sector_size);
        if (mt_flash_cut_hits(f)) {
            count_op(f);
            mt_flash_tear_erase(f, base);
            return MT_E_FLASH_POWER;
        }
        count_op(f);
        memset(f->mem + base, 0xFF, f->sector_size);
        mt_flash_wear_sector(f, base / f->sector_size);
        mt_flash_apply_stuck(f, base, f->sector_size);
    }
    return MT_OK;
}

uint32_t mt_flash_ops(const mt_flash *f) { return f->ops; }
uint32_t mt_flash_ops_total(const mt_flash *f) { return f->ops_total; }

uint32_t mt_flash_wear(const mt_flash *f, uint32_t addr)
{
    if (addr >= f->size) return 0;
    return f->wear[addr / f->sector_size];
}

void mt_flash_set_endurance(mt_flash *f, uint32_t endurance)
{
    f->endurance = endurance;
}
