/*
 * The meter's flash partition map.
 *
 * Partitions follow each other from address 0 in this order; every size is a
 * whole number of sectors. The default (SPEC §2, 4 KiB sectors):
 *
 *   part            offset    size      what
 *   bank A          0x00000   128 KiB   firmware bank 0 (package: header|image|trailer)
 *   bank B          0x20000   128 KiB   firmware bank 1
 *   golden          0x40000   128 KiB   factory image, never written in the field
 *   boot control 0  0x60000     4 KiB   boot-control record, written alternately
 *   boot control 1  0x61000     4 KiB     with boot control 1 (mt_boot)
 *   progress        0x62000     4 KiB   download progress: record + received bitmap (mt_reasm)
 *   metrology       0x63000     8 KiB   metrology registers (energy), 2 sectors
 *   audit           0x65000    16 KiB   audit log, 4 sectors
 *   floor           0x69000     4 KiB   anti-rollback floor: append-only, never erased,
 *                                       as OTP or eFuses are on a real meter (mt_boot)
 *   sessions        0x6A000     8 KiB   recently closed download sessions, 2 sectors
 *                   0x6C000             end: 432 KiB used (MT_LAYOUT_DEFAULT_DEVICE_SIZE)
 *
 * The progress partition must hold the reassembly record and a bitmap with a
 * bit for every fragment of the smallest fragment size that fills a bank
 * (MT_REASM_RECORD_SIZE + bank_size / MT_PKG_FRAGMENT_MIN / 8 bytes, rounded
 * up to the 16-byte write unit); mt_layout_compute checks it.
 */
#ifndef MT_LAYOUT_H
#define MT_LAYOUT_H

#include <stdint.h>

#include "mt_flash.h"

enum mt_part_id {
    MT_PART_BANK_A = 0,
    MT_PART_BANK_B = 1,
    MT_PART_GOLDEN = 2,
    MT_PART_BOOT0 = 3,
    MT_PART_BOOT1 = 4,
    MT_PART_PROGRESS = 5,
    MT_PART_METROLOGY = 6,
    MT_PART_AUDIT = 7,
    MT_PART_FLOOR = 8,
    MT_PART_SESSIONS = 9,
    MT_PART_COUNT = 10
};

#define MT_LAYOUT_BANK_DEFAULT (128u * 1024u)
#define MT_LAYOUT_DEFAULT_DEVICE_SIZE (432u * 1024u)

/* Sizes, in bytes for the images and in sectors for the small partitions. */
typedef struct mt_layout_params {
    uint32_t sector_size;        /* default MT_FLASH_SECTOR_DEFAULT */
    uint32_t bank_size;          /* each of bank A and bank B */
    uint32_t golden_size;
    uint32_t boot_sectors;       /* per boot-control partition (two of them) */
    uint32_t progress_sectors;
    uint32_t metrology_sectors;
    uint32_t audit_sectors;
    uint32_t floor_sectors;
    uint32_t session_sectors;
} mt_layout_params;

typedef struct mt_part {
    uint32_t off;
    uint32_t size;
} mt_part;

typedef struct mt_layout {
    uint32_t sector_size;
    uint32_t used;               /* end of the last partition */
    mt_part part[MT_PART_COUNT];
} mt_layout;

/* The SPEC map above. */
void mt_layout_default_params(mt_layout_params *p);

/*
 * Computes the offsets for a device of device_size bytes. MT_E_ARG when a
 * size is 0 or not a whole number of sectors, the sector size is not a power
 * of two in the flash model's range, or the progress partition is too small;
 * MT_E_TOO_BIG when the partitions do not fit the device. l is written only
 * on success.
 */
int mt_layout_compute(mt_layout *l, const mt_layout_params *p, uint32_t device_size);

/* An mt_flash_area over partition `id` of dev. MT_E_ARG for a bad id or a
 * device whose sector size or size does not match the layout. */
int mt_layout_area(const mt_layout *l, mt_flash *dev, unsigned id, mt_flash_area *out);

#endif
