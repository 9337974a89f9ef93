/*
 * Internal to the bootloader: what the boot flow (mt_boot.c) takes from the
 * record code (mt_boot_record.c). Not public API.
 */
#ifndef MT_BOOT_IMPL_H
#define MT_BOOT_IMPL_H

#include "mt_boot.h"

/* Writes r as the next record (sequence + 1, counter at least the effective
 * floor) by the placement rule of mt_boot.h. On success b->rec, rec_area,
 * writes and floor follow; on failure F.03 is latched (MT_E_SWAP) and b->rec
 * is left as it was. */
int mt_boot_write_record(mt_boot *b, const mt_boot_record *r);

#endif
