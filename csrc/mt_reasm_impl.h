/*
 * Internal to the reassembler: what the session code (mt_reasm.c) and the
 * fragment path (mt_reasm_frag.c) share. Not public API.
 */
#ifndef MT_REASM_IMPL_H
#define MT_REASM_IMPL_H

#include <stdint.h>

#include "mt_err.h"
#include "mt_flash.h"
#include "mt_reasm.h"

/* The error for a NULL peek of a range already validated: the power is off
 * (MT_E_FLASH_POWER), else MT_E_FLASH_RANGE. */
int mt_reasm_peek_error(const mt_flash_area *a);

/* A flash error: phase FAULT, counted in stats.flash_errors; returns rc. */
int mt_reasm_fault(mt_reasm *st, int rc);

/* *got = 1 when fragment i (< fragment_count) is marked in the bitmap. 0 or
 * a flash error (the caller decides whether it is a fault). A peek, not a
 * read: the same checks (power, range), no copy. Inline: every fragment
 * delivered asks it, duplicates most of all. */
static inline int mt_reasm_is_received(const mt_reasm *st, uint32_t i, int *got)
{
    const uint8_t *b = mt_flash_area_peek(&st->progress, MT_REASM_RECORD_SIZE + i / 8u, 1);
    if (b == NULL) return mt_reasm_peek_error(&st->progress);
    *got = (((uint32_t)*b >> (i % 8u)) & 1u) == 0;
    return MT_OK;
}

/* ARMED -> ACTIVE at the first accepted fragment: progress partition
 * erased, bank erased (blank sectors skipped), then the record programmed.
 * No-op when ACTIVE. A flash error puts the reassembler in FAULT. */
int mt_reasm_prepare(mt_reasm *st);

#endif
