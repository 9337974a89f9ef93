/*
 * Partitions of the flash model (see mt_flash.h): the device's read, peek,
 * program and erase with addresses relative to [off, off + size), and
 * nothing outside it. Everything else is the device's (mt_flash.c).
 */
#include "mt_flash.h"

#include <stddef.h>

#include "mt_err.h"
#include "mt_flash_impl.h"

int mt_flash_area_init(mt_flash_area *fa, mt_flash *dev, uint32_t off, uint32_t size)
{
    if (fa == NULL || dev == NULL) return MT_E_ARG;
    if (size == 0 || !mt_flash_in_range(dev, off, size)) return MT_E_ARG;
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

uint32_t mt_flash_area_generation(const mt_flash_area *fa)
{
    return mt_flash_generation(fa->dev, fa->off, fa->size);
}
