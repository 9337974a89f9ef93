/*
 * Internal to the flash model: what the NOR semantics (mt_flash.c), the fault
 * injection (mt_flash_fault.c) and the partitions (mt_flash_area.c) share.
 * Not public API.
 */
#ifndef MT_FLASH_IMPL_H
#define MT_FLASH_IMPL_H

#include <stdint.h>
#include <string.h>

#include "mt_flash.h"

/*
 * Eight cells at once, for the loops whose operation works on each bit alone
 * (AND, OR, NOT, compare with 0 or all-ones): whatever the host's byte order,
 * byte k of the word is cell k's byte on the way in and on the way out, so
 * native-order memcpy is exact; it has no alignment requirement and
 * compilers emit one load or store for it.
 */
static inline uint64_t mt_flash_ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void mt_flash_st64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

/* [addr, addr + len) inside the device; subtract-first so nothing wraps. */
static inline int mt_flash_in_range(const mt_flash *f, uint32_t addr, uint32_t len)
{
    return addr <= f->size && len <= f->size - addr;
}

/* The sector holding addr (sector_size is a power of two: a shift, not a
 * division, on the paths every program takes). */
static inline uint32_t mt_flash_sector_of(const mt_flash *f, uint32_t addr)
{
    return addr >> f->sector_shift;
}

/* Bits of the byte at addr stuck at 0 (0 when none). */
uint8_t mt_flash_stuck_zero_at(const mt_flash *f, uint32_t addr);

/* Re-impose stuck bits on the bytes of [addr, addr + len). */
void mt_flash_apply_stuck(mt_flash *f, uint32_t addr, uint32_t len);

/* Called once the operation is known to be valid: 1 when the armed cut hits it. */
int mt_flash_cut_hits(mt_flash *f);

/* Stamps the sectors of [addr, addr + len) (len > 0, range checked) with a
 * new write generation, when a generation array is bound. */
void mt_flash_touch(mt_flash *f, uint32_t addr, uint32_t len);

/* One more erase cycle on the sector (saturating). */
void mt_flash_wear_sector(mt_flash *f, uint32_t sector);

/* What the program / the erase of one sector hit by the cut leaves behind,
 * by the tear mode (mt_flash.h). Range, alignment and wear checked. */
void mt_flash_tear_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len);
void mt_flash_tear_erase(mt_flash *f, uint32_t base);

#endif
