/*
 * Fault injection of the flash model (see mt_flash.h): the power cut (armed
 * after N operations, sticky until power-up) and what the operation it hits
 * leaves behind (torn program, torn erase), bit flips, stuck bits, and
 * sectors that wear out early. The operations the faults strike are in
 * mt_flash.c; everything here is deterministic given the seed.
 */
#include "mt_flash.h"

#include <string.h>

#include "mt_err.h"
#include "mt_flash_impl.h"

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

uint8_t mt_flash_stuck_zero_at(const mt_flash *f, uint32_t addr)
{
    for (uint32_t i = 0; i < f->n_stuck; i++)
        if (f->stuck[i].addr == addr) return f->stuck[i].zero;
    return 0;
}

void mt_flash_apply_stuck(mt_flash *f, uint32_t addr, uint32_t len)
{
    for (uint32_t i = 0; i < f->n_stuck; i++) {
        uint32_t a = f->stuck[i].addr;
        if (a >= addr && a - addr < len)
            f->mem[a] = (uint8_t)((f->mem[a] & (uint8_t)~f->stuck[i].zero) | f->stuck[i].one);
    }
}

int mt_flash_cut_hits(mt_flash *f)
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

void mt_flash_tear_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len)
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
    mt_flash_apply_stuck(f, addr, len);
}

void mt_flash_tear_erase(mt_flash *f, uint32_t base)
{
    uint32_t k;
    if (f->tear_mode == MT_FLASH_TEAR_NONE) return;
    k = tear_len(f, f->sector_size);
    memset(f->mem + base, 0xFF, k);
    if (f->tear_mode == MT_FLASH_TEAR_BITS)
        for (uint32_t i = k; i < f->sector_size; i++)
            f->mem[base + i] = (uint8_t)(f->mem[base + i] | (uint8_t)rng_next(f));
    mt_flash_wear_sector(f, base / f->sector_size);
    mt_flash_apply_stuck(f, base, f->sector_size);
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
    mt_flash_touch(f, addr, 1);
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
    mt_flash_touch(f, addr, 1);
    mt_flash_apply_stuck(f, addr, 1);
    return MT_OK;
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
