/*
 * The anti-rollback floor area: append-only slots, never erased (layout and
 * rules in mt_boot.h).
 *
 * Only the bootloader writes the area, but it is read back defensively: a
 * torn or flipped slot fails its complement, CRC or magic and is ignored.
 * Offsets stay below the area size, a multiple of the slot size (checked by
 * mt_boot_init; mt_boot_floor_read and _raise check it again), so
 * `off < size` means a whole slot fits.
 */
#include "mt_boot.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"

/* Slots one raise may use: the first free one, and the next one if the
 * first reads back wrong (stuck bits). */
#define MT_BOOT_FLOOR_TRIES 2u

void mt_boot_floor_encode(uint32_t floor, uint8_t out[MT_BOOT_FLOOR_SLOT_SIZE])
{
    memcpy(out, MT_BOOT_FLOOR_MAGIC, 4);
    mt_st32le(out + 4, floor);
    mt_st32le(out + 8, ~floor);
    mt_st32le(out + 12, mt_crc32(0, out, 12));
}

int mt_boot_floor_decode(uint32_t *out, const uint8_t in[MT_BOOT_FLOOR_SLOT_SIZE])
{
    uint32_t floor;

    if (out == NULL || in == NULL) return MT_E_ARG;
    if (memcmp(in, MT_BOOT_FLOOR_MAGIC, 4) != 0) return MT_E_ARG;
    floor = mt_ld32le(in + 4);
    if (mt_ld32le(in + 8) != (uint32_t)~floor) return MT_E_ARG;
    if (mt_crc32(0, in, 12) != mt_ld32le(in + 12)) return MT_E_ARG;
    *out = floor;
    return MT_OK;
}

int mt_boot_floor_area_ok(const mt_flash_area *fa)
{
    return fa != NULL && fa->dev != NULL && fa->size >= MT_BOOT_FLOOR_SLOT_SIZE &&
           fa->size % MT_BOOT_FLOOR_SLOT_SIZE == 0 &&
           MT_BOOT_FLOOR_SLOT_SIZE % mt_flash_align(fa->dev) == 0;
}

/* A slot is two 64-bit words (memcpy: any alignment; all ones reads the same
 * in either byte order). The scan looks at every slot of the area at every
 * load, so a word at a time rather than a byte. */
typedef char mt_floor_slot_is_two_words[MT_BOOT_FLOOR_SLOT_SIZE == 16u ? 1 : -1];

static int slot_erased(const uint8_t *p)
{
    uint64_t w[2];
    memcpy(w, p, sizeof w);
    return (w[0] & w[1]) == UINT64_MAX;
}

/* The highest valid floor (0 with none) and the offset after the last slot
 * that is not erased (where the next slot goes; fa->size when full). */
static int scan(const mt_flash_area *fa, uint32_t *floor, uint32_t *next)
{
    const uint8_t *p;
    uint32_t off, best = 0, end = 0;

    if (!mt_boot_floor_area_ok(fa)) return MT_E_ARG;
    p = mt_flash_area_peek(fa, 0, fa->size);
    if (p == NULL) return MT_E_FLASH_POWER;
    for (off = 0; off < fa->size; off += MT_BOOT_FLOOR_SLOT_SIZE) {
        uint32_t v;
        if (slot_erased(p + off)) continue;
        end = off + MT_BOOT_FLOOR_SLOT_SIZE; /* <= size: size is a multiple of the slot */
        if (mt_boot_floor_decode(&v, p + off) == MT_OK && v > best) best = v;
    }
    *floor = best;
    if (next != NULL) *next = end;
    return MT_OK;
}

int mt_boot_floor_read(const mt_flash_area *fa, uint32_t *floor)
{
    if (floor == NULL) return MT_E_ARG;
    return scan(fa, floor, NULL);
}

int mt_boot_floor_raise(const mt_flash_area *fa, uint32_t floor)
{
    uint8_t enc[MT_BOOT_FLOOR_SLOT_SIZE];
    const uint8_t *p;
    uint32_t cur, next, tries;
    int rc;

    rc = scan(fa, &cur, &next);
    if (rc != MT_OK) return rc;
    if (cur >= floor) return MT_OK; /* never lowered, nothing to write */
    mt_boot_floor_encode(floor, enc);
    for (tries = 0; tries < MT_BOOT_FLOOR_TRIES; tries++) {
        if (next >= fa->size) return MT_E_TOO_BIG; /* full: never erased */
        rc = mt_flash_area_program(fa, next, enc, MT_BOOT_FLOOR_SLOT_SIZE);
        if (rc != MT_OK) return rc;
        p = mt_flash_area_peek(fa, next, MT_BOOT_FLOOR_SLOT_SIZE);
        if (p == NULL) return MT_E_FLASH_POWER;
        if (memcmp(p, enc, MT_BOOT_FLOOR_SLOT_SIZE) == 0) return MT_OK;
        next += MT_BOOT_FLOOR_SLOT_SIZE; /* stuck bits: that slot is lost, try the next */
    }
    return MT_E_FLASH_WORN;
}
