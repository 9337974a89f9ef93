/*
 * Write generations of the flash model (see mt_flash.h): a stamp per sector
 * from a device-wide counter, moved on by every call that can change a cell,
 * so that a reader can tell a range it checked has not been written since.
 * RAM only, caller memory, optional.
 */
#include "mt_flash.h"

#include <stddef.h>

#include "mt_flash_impl.h"

void mt_flash_touch(mt_flash *f, uint32_t addr, uint32_t len)
{
    uint32_t last;

    if (f->gen == NULL) return;
    /* Saturates: from MT_FLASH_GEN_UNKNOWN on, every stamp says "cannot say",
     * so a wrapped counter can never repeat a value a reader recorded. */
    if (f->gen_now != MT_FLASH_GEN_UNKNOWN) f->gen_now++;
    last = mt_flash_sector_of(f, addr + (len - 1u)); /* len > 0, inside the device */
    for (uint32_t s = mt_flash_sector_of(f, addr); s <= last; s++) f->gen[s] = f->gen_now;
}

void mt_flash_track(mt_flash *f, uint32_t *gen)
{
    f->gen = gen;
    /* Every sector gets a stamp newer than any handed out before (the counter
     * carries on), so a value a reader recorded under an earlier binding
     * never matches again. */
    if (gen != NULL) mt_flash_touch(f, 0, f->size);
}

uint32_t mt_flash_generation(const mt_flash *f, uint32_t addr, uint32_t len)
{
    uint32_t last, newest = 0;

    if (f == NULL || f->gen == NULL || !mt_flash_in_range(f, addr, len) || addr == f->size)
        return MT_FLASH_GEN_UNKNOWN;
    /* addr < size; len 0 names the sector holding addr. addr + len - 1 < size. */
    last = len == 0 ? addr / f->sector_size : (addr + (len - 1u)) / f->sector_size;
    for (uint32_t s = addr / f->sector_size; s <= last; s++)
        if (f->gen[s] > newest) newest = f->gen[s];
    return newest;
}
