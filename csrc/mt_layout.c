/* The meter's flash partition map (see mt_layout.h). */
#include "mt_layout.h"

#include "mt_err.h"
#include "mt_pkg.h"
#include "mt_reasm.h"

void mt_layout_default_params(mt_layout_params *p)
{
    p->sector_size = MT_FLASH_SECTOR_DEFAULT;
    p->bank_size = MT_LAYOUT_BANK_DEFAULT;
    p->golden_size = MT_LAYOUT_BANK_DEFAULT;
    p->boot_sectors = 1;
    p->progress_sectors = 1;
    p->metrology_sectors = 2;
    p->audit_sectors = 4;
    p->floor_sectors = 1;
    p->session_sectors = 2;
}

/* n sectors in bytes, or 0 when n is 0 or the product would not fit 32 bits. */
static uint32_t sectors_bytes(uint32_t n, uint32_t sector_size)
{
    if (n == 0 || n > 0xFFFFFFFFu / sector_size) return 0;
    return n * sector_size;
}

int mt_layout_compute(mt_layout *l, const mt_layout_params *p, uint32_t device_size)
{
    mt_layout out;
    uint32_t size[MT_PART_COUNT];
    uint32_t ss, off = 0;

    if (l == NULL || p == NULL) return MT_E_ARG;
    ss = p->sector_size;
    if (ss < MT_FLASH_SECTOR_MIN || ss > MT_FLASH_SECTOR_MAX || (ss & (ss - 1u)) != 0)
        return MT_E_ARG;
    size[MT_PART_BANK_A] = p->bank_size;
    size[MT_PART_BANK_B] = p->bank_size;
    size[MT_PART_GOLDEN] = p->golden_size;
    size[MT_PART_BOOT0] = sectors_bytes(p->boot_sectors, ss);
    size[MT_PART_BOOT1] = size[MT_PART_BOOT0];
    size[MT_PART_PROGRESS] = sectors_bytes(p->progress_sectors, ss);
    size[MT_PART_METROLOGY] = sectors_bytes(p->metrology_sectors, ss);
    size[MT_PART_AUDIT] = sectors_bytes(p->audit_sectors, ss);
    size[MT_PART_FLOOR] = sectors_bytes(p->floor_sectors, ss);
    size[MT_PART_SESSIONS] = sectors_bytes(p->session_sectors, ss);

    out.sector_size = ss;
    for (unsigned i = 0; i < MT_PART_COUNT; i++) {
        if (size[i] == 0 || size[i] % ss != 0) return MT_E_ARG;
        /* off <= device_size holds on entry to every round, so the
         * subtraction cannot wrap. */
        if (size[i] > device_size - off) return MT_E_TOO_BIG;
        out.part[i].off = off;
        out.part[i].size = size[i];
        off += size[i];
    }
    out.used = off;
    /* bank_size / MT_PKG_FRAGMENT_MIN fragments of the smallest size fill a bank */
    if (mt_reasm_progress_bytes(p->bank_size / MT_PKG_FRAGMENT_MIN) >
        size[MT_PART_PROGRESS])
        return MT_E_ARG;
    *l = out;
    return MT_OK;
}

int mt_layout_area(const mt_layout *l, mt_flash *dev, unsigned id, mt_flash_area *out)
{
    if (l == NULL || dev == NULL || out == NULL || id >= MT_PART_COUNT) return MT_E_ARG;
    if (mt_flash_sector_size(dev) != l->sector_size || mt_flash_size(dev) < l->used)
        return MT_E_ARG;
    return mt_flash_area_init(out, dev, l->part[id].off, l->part[id].size);
}
