/* NOR flash device model with fault injection (see mt_flash.h). */
#include "mt_flash.h"

#include <string.h>

#include "mt_err.h"

/* xorshift32: a tiny deterministic generator; state is never 0. */
static uint32_t rng_next(mt_flash *f)
{
    uint32_t x = f->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f->rng = x;
    return x;
}

static int is_pow2(uint32_t x)
{
    return x != 0 && (x & (x - 1u)) == 0;
}

/* [addr, addr + len) inside the device; subtract-first so nothing wraps. */
static int in_range(const mt_flash *f, uint32_t addr, uint32_t len)
{
    return addr <= f->size && len <= f->size - addr;
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
    uint32_t last = (addr + (len - 1u)) / f->sector_size;
    for (uint32_t s = addr / f->sector_size; s <= last; s++)
        if (sector_worn(f, s)) return 1;
    return 0;
}

static uint8_t stuck_zero_at(const mt_flash *f, uint32_t addr)
{
    for (uint32_t i = 0; i < f->n_stuck; i++)
        if (f->stuck[i].addr == addr) return f->stuck[i].zero;
    return 0;
}

/* Re-impose stuck bits on the bytes of [addr, addr + len). */
static void apply_stuck(mt_flash *f, uint32_t addr, uint32_t len)
{
    for (uint32_t i = 0; i < f->n_stuck; i++) {
        uint32_t a = f->stuck[i].addr;
        if (a >= addr && a - addr < len)
            f->mem[a] = (uint8_t)((f->mem[a] & (uint8_t)~f->stuck[i].zero) | f->stuck[i].one);
    }
}

/* Called once the operation is known to be valid: 1 when the armed cut hits it. */
static int cut_hits(mt_flash *f)
{
    if (!f->cut_armed) return 0;
    if (f->cut_left > 0) {
        f->cut_left--;
        return 0;
    }
    f->cut_armed = 0;
    f->powered = 0;
    return 1;
}

static void count_op(mt_flash *f)
{
    f->ops++;
    f->ops_total++;
}

/* Bytes of a torn operation of length len that completed. */
static uint32_t tear_len(mt_flash *f, uint32_t len)
{
    if (f->tear_param == MT_FLASH_TEAR_RANDOM) {
        /* len <= MT_FLASH_SECTOR_MAX or the device size, so len + 1 cannot wrap
         * unless len == UINT32_MAX, which no valid operation has. */
        return rng_next(f) % (len + 1u);
    }
    return f->tear_param < len ? f->tear_param : len;
}

static void tear_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len)
{
    uint32_t k;
    if (f->tear_mode == MT_FLASH_TEAR_NONE) return;
    k = tear_len(f, len);
    if (f->tear_mode == MT_FLASH_TEAR_BITS) k -= k % f->align;
    for (uint32_t i = 0; i < k; i++) f->mem[addr + i] &= data[i];
    if (f->tear_mode == MT_FLASH_TEAR_BITS && k < len) {
        /* the next write unit: only a random subset of its bits to clear are
         * cleared. k and len are multiples of align and k < len, so the unit
         * [k, k + align) lies inside the request. */
        for (uint32_t i = k; i < k + f->align; i++) {
            uint8_t clear = (uint8_t)(~data[i] & f->mem[addr + i]);
            uint8_t part = (uint8_t)(clear & (uint8_t)rng_next(f));
            f->mem[addr + i] = (uint8_t)(f->mem[addr + i] & (uint8_t)~part);
        }
    }
    apply_stuck(f, addr, len);
}

static void wear_sector(mt_flash *f, uint32_t sector)
{
    if (f->wear[sector] != 0xFFFFFFFFu) f->wear[sector]++;
}

static void tear_erase(mt_flash *f, uint32_t base)
{
    uint32_t k;
    if (f->tear_mode == MT_FLASH_TEAR_NONE) return;
    k = tear_len(f, f->sector_size);
    memset(f->mem + base, 0xFF, k);
    if (f->tear_mode == MT_FLASH_TEAR_BITS)
        for (uint32_t i = k; i < f->sector_size; i++)
            f->mem[base + i] = (uint8_t)(f->mem[base + i] | (uint8_t)rng_next(f));
    wear_sector(f, base / f->sector_size);
    apply_stuck(f, base, f->sector_size);
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
    apply_stuck(f, 0, f->size);
}

uint32_t mt_flash_size(const mt_flash *f) { return f->size; }
uint32_t mt_flash_sector_size(const mt_flash *f) { return f->sector_size; }
uint32_t mt_flash_align(const mt_flash *f) { return f->align; }

int mt_flash_read(const mt_flash *f, uint32_t addr, uint8_t *out, uint32_t len)
{
    if (f == NULL || (out == NULL && len != 0)) return MT_E_ARG;
    if (!f->powered) return MT_E_FLASH_POWER;
    if (!in_range(f, addr, len)) return MT_E_FLASH_RANGE;
    if (len != 0) memcpy(out, f->mem + addr, len);
    return MT_OK;
}

const uint8_t *mt_flash_peek(const mt_flash *f, uint32_t addr, uint32_t len)
{
    if (f == NULL || !f->powered || !in_range(f, addr, len)) return NULL;
    return f->mem + addr;
}

int mt_flash_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len)
{
    if (f == NULL || (data == NULL && len != 0)) return MT_E_ARG;
    if (!f->powered) return MT_E_FLASH_POWER;
    if (!in_range(f, addr, len)) return MT_E_FLASH_RANGE;
    if (addr % f->align != 0 || len % f->align != 0) return MT_E_FLASH_ALIGN;
    if (len == 0) return MT_OK;
    if (range_worn(f, addr, len)) return MT_E_FLASH_WORN;
    /* Check the whole request before the first byte changes. */
    for (uint32_t i = 0; i < len; i++) {
        uint8_t want_one = (uint8_t)(data[i] & (uint8_t)~f->mem[addr + i]);
        if (want_one != 0 && (want_one & (uint8_t)~stuck_zero_at(f, addr + i)) != 0)
            return MT_E_FLASH_ONE;
    }
    if (cut_hits(f)) {
        count_op(f);
        tear_program(f, addr, data, len);
        return MT_E_FLASH_POWER;
    }
    count_op(f);
    for (uint32_t i = 0; i < len; i++) f->mem[addr + i] &= data[i];
    apply_stuck(f, addr, len);
    return MT_OK;
}

int mt_flash_erase(mt_flash *f, uint32_t addr, uint32_t len)
{
    if (f == NULL) return MT_E_ARG;
    if (!f->powered) return MT_E_FLASH_POWER;
    if (!in_range(f, addr, len)) return MT_E_FLASH_RANGE;
    if (addr % f->sector_size != 0 || len % f->sector_size != 0) return MT_E_FLASH_ALIGN;
    if (len == 0) return MT_OK;
    if (range_worn(f, addr, len)) return MT_E_FLASH_WORN;
    for (uint32_t base = addr; base - addr < len; base += f->sector_size) {
        if (cut_hits(f)) {
            count_op(f);
            tear_erase(f, base);
            return MT_E_FLASH_POWER;
        }
        count_op(f);
        memset(f->mem + base, 0xFF, f->sector_size);
        wear_sector(f, base / f->sector_size);
        apply_stuck(f, base, f->sector_size);
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

void mt_flash_seed(mt_flash *f, uint32_t seed)
{
    f->rng = seed != 0 ? seed : 0x6D657465u;
}

void mt_flash_cut_after(mt_flash *f, uint32_t n)
{
    f->cut_armed = 1;
    f->cut_left = n;
}

void mt_flash_cut_disarm(mt_flash *f)
{
    f->cut_armed = 0;
}

void mt_flash_power_cut(mt_flash *f)
{
    f->powered = 0;
    f->cut_armed = 0;
}

void mt_flash_power_up(mt_flash *f)
{
    f->powered = 1;
    f->cut_armed = 0;
    f->ops = 0;
}

int mt_flash_powered(const mt_flash *f)
{
    return f->powered;
}

int mt_flash_set_tear(mt_flash *f, unsigned mode, uint32_t param)
{
    if (mode > MT_FLASH_TEAR_BITS) return MT_E_ARG;
    f->tear_mode = (uint8_t)mode;
    f->tear_param = param;
    return MT_OK;
}

int mt_flash_flip_bits(mt_flash *f, uint32_t addr, uint8_t mask)
{
    if (addr >= f->size) return MT_E_FLASH_RANGE;
    f->mem[addr] ^= mask;
    return MT_OK;
}

int mt_flash_stick_bits(mt_flash *f, uint32_t addr, uint8_t stuck0, uint8_t stuck1)
{
    uint32_t i;
    if (addr >= f->size) return MT_E_FLASH_RANGE;
    if ((stuck0 & stuck1) != 0) return MT_E_ARG;
    for (i = 0; i < f->n_stuck; i++)
        if (f->stuck[i].addr == addr) break;
    if (i == f->n_stuck) {
        if (f->n_stuck == MT_FLASH_STUCK_MAX) return MT_E_LENGTH;
        f->stuck[i].addr = addr;
        f->stuck[i].zero = 0;
        f->stuck[i].one = 0;
        f->n_stuck++;
    }
    /* a bit newly stuck one way is no longer stuck the other way */
    f->stuck[i].zero = (uint8_t)((f->stuck[i].zero & (uint8_t)~stuck1) | stuck0);
    f->stuck[i].one = (uint8_t)((f->stuck[i].one & (uint8_t)~stuck0) | stuck1);
    apply_stuck(f, addr, 1);
    return MT_OK;
}

void mt_flash_set_endurance(mt_flash *f, uint32_t endurance)
{
    f->endurance = endurance;
}

int mt_flash_set_sector_endurance(mt_flash *f, uint32_t addr, uint32_t endurance)
{
    uint32_t i, sector;
    if (addr >= f->size) return MT_E_FLASH_RANGE;
    sector = addr / f->sector_size;
    for (i = 0; i < f->n_endur; i++)
        if (f->endur[i].sector == sector) break;
    if (i == f->n_endur) {
        if (f->n_endur == MT_FLASH_ENDUR_MAX) return MT_E_LENGTH;
        f->n_endur++;
    }
    f->endur[i].sector = sector;
    f->endur[i].endurance = endurance;
    return MT_OK;
}

void mt_flash_clear_faults(mt_flash *f)
{
    f->n_stuck = 0;
    f->n_endur = 0;
    f->cut_armed = 0;
    f->tear_mode = MT_FLASH_TEAR_NONE;
}

int mt_flash_area_init(mt_flash_area *fa, mt_flash *dev, uint32_t off, uint32_t size)
{
    if (fa == NULL || dev == NULL) return MT_E_ARG;
    if (size == 0 || !in_range(dev, off, size)) return MT_E_ARG;
    if (off % dev->sector_size != 0 || size % dev->sector_size != 0) return MT_E_ARG;
    fa->dev = dev;
    fa->off = off;
    fa->size = size;
    return MT_OK;
}

/* Partition-relative range check; off + fa->off cannot wrap since the whole
 * partition lies inside the device (checked by mt_flash_area_init). */
static int area_in_range(const mt_flash_area *fa, uint32_t off, uint32_t len)
{
    return off <= fa->size && len <= fa->size - off;
}

int mt_flash_area_read(const mt_flash_area *fa, uint32_t off, uint8_t *out, uint32_t len)
{
    if (!area_in_range(fa, off, len)) return MT_E_FLASH_RANGE;
    return mt_flash_read(fa->dev, fa->off + off, out, len);
}

const uint8_t *mt_flash_area_peek(const mt_flash_area *fa, uint32_t off, uint32_t len)
{
    if (!area_in_range(fa, off, len)) return NULL;
    return mt_flash_peek(fa->dev, fa->off + off, len);
}

int mt_flash_area_program(const mt_flash_area *fa, uint32_t off, const uint8_t *data,
                          uint32_t len)
{
    if (!area_in_range(fa, off, len)) return MT_E_FLASH_RANGE;
    return mt_flash_program(fa->dev, fa->off + off, data, len);
}

int mt_flash_area_erase(const mt_flash_area *fa, uint32_t off, uint32_t len)
{
    if (!area_in_range(fa, off, len)) return MT_E_FLASH_RANGE;
    return mt_flash_erase(fa->dev, fa->off + off, len);
}
