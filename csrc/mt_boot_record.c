/*
 * Boot-control records (layout and placement rule in mt_boot.h): the 32-byte
 * codec, reading the newest valid record of both areas (mt_boot_load) and
 * writing the next one into the area that does not hold the current one,
 * read back, with F.03 latched when that fails. The boot flow that decides
 * what to write is mt_boot.c; the floor area's slots are mt_boot_floor.c.
 *
 * The boot-control areas are written only by this file, but are read back
 * defensively: a torn or flipped record fails its CRC or its field checks
 * and is ignored.
 */
#include "mt_boot.h"

#include <string.h>

#include "mt_boot_impl.h"
#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"

void mt_boot_record_encode(const mt_boot_record *rec, uint8_t out[MT_BOOT_RECORD_SIZE])
{
    memset(out, 0, MT_BOOT_RECORD_SIZE);
    memcpy(out, MT_BOOT_MAGIC, 4);
    mt_st32le(out + 4, rec->sequence);
    out[8] = rec->active;
    out[9] = rec->state;
    out[10] = rec->attempts;
    out[11] = rec->previous;
    mt_st32le(out + 12, rec->counter);
    out[16] = rec->outcome;
    mt_st32le(out + 28, mt_crc32(0, out, 28));
}

int mt_boot_record_decode(mt_boot_record *out, const uint8_t in[MT_BOOT_RECORD_SIZE])
{
    size_t i;

    if (memcmp(in, MT_BOOT_MAGIC, 4) != 0) return MT_E_ARG;
    if (mt_crc32(0, in, 28) != mt_ld32le(in + 28)) return MT_E_ARG;
    if (in[8] > MT_BOOT_BANK_GOLDEN || in[9] > MT_BOOT_REVERTED || in[11] > MT_BOOT_BANK_GOLDEN ||
        in[16] > MT_BOOT_OUTCOME_REVERTED)
        return MT_E_ARG;
    for (i = 17; i < 28; i++)
        if (in[i] != 0) return MT_E_ARG;
    out->sequence = mt_ld32le(in + 4);
    out->active = in[8];
    out->state = in[9];
    out->attempts = in[10];
    out->previous = in[11];
    out->counter = mt_ld32le(in + 12);
    out->outcome = in[16];
    return MT_OK;
}

/* A record slot is four 64-bit words (memcpy: any alignment; all ones reads
 * the same in either byte order): the scans look at every slot of an area at
 * each load and write, a word at a time rather than a byte. */
typedef char mt_record_slot_is_four_words[MT_BOOT_RECORD_SIZE == 32u ? 1 : -1];

static int slot_erased(const uint8_t *p)
{
    uint64_t w[4];
    memcpy(w, p, sizeof w);
    return (w[0] & w[1] & w[2] & w[3]) == UINT64_MAX;
}

/* The newest valid record of both areas into b->rec / b->rec_area (the
 * blank-meter default when there is none), and the floor readings. */
int mt_boot_load(mt_boot *b)
{
    uint32_t otp;
    int a, rc, found = 0;

    if (b == NULL) return MT_E_ARG;
    rc = mt_boot_floor_read(&b->cfg.floor, &otp);
    if (rc != MT_OK) return rc;
    b->rec_area = -1;
    memset(&b->rec, 0, sizeof b->rec);
    b->rec.active = MT_BOOT_BANK_A;
    b->rec.previous = MT_BOOT_BANK_B; /* no record: either bank may hold the image */
    for (a = 0; a < 2; a++) {
        const mt_flash_area *fa = &b->cfg.control[a];
        const uint8_t *p = mt_flash_area_peek(fa, 0, fa->size);
        uint32_t off;
        if (p == NULL) return MT_E_FLASH_POWER;
        for (off = 0; off < fa->size; off += MT_BOOT_RECORD_SIZE) {
            mt_boot_record r;
            if (mt_boot_record_decode(&r, p + off) != MT_OK) continue;
            if (!found || r.sequence > b->rec.sequence) {
                b->rec = r;
                b->rec_area = (int8_t)a;
                found = 1;
            }
        }
    }
    b->floor_record = b->rec.counter; /* 0 in the blank-meter default */
    b->floor_otp = otp;
    b->floor = otp > b->rec.counter ? otp : b->rec.counter;
    return MT_OK;
}

/* Programs enc into the first erased slot after the last used one of area
 * a; erases the area first when it is full, if allowed. Reads it back. */
static int put(mt_boot *b, int a, const uint8_t enc[MT_BOOT_RECORD_SIZE], int allow_erase)
{
    const mt_flash_area *fa = &b->cfg.control[a];
    const uint8_t *p = mt_flash_area_peek(fa, 0, fa->size);
    uint32_t off, next = 0;
    int rc;

    if (p == NULL) return MT_E_FLASH_POWER;
    for (off = 0; off < fa->size; off += MT_BOOT_RECORD_SIZE)
        if (!slot_erased(p + off)) next = off + MT_BOOT_RECORD_SIZE;
    if (next >= fa->size) { /* full (size is a multiple of the slot size) */
        if (!allow_erase) return MT_E_FLASH_WORN;
        rc = mt_flash_area_erase(fa, 0, fa->size);
        if (rc != MT_OK) return rc;
        next = 0;
    }
    rc = mt_flash_area_program(fa, next, enc, MT_BOOT_RECORD_SIZE);
    if (rc != MT_OK) return rc;
    p = mt_flash_area_peek(fa, next, MT_BOOT_RECORD_SIZE);
    if (p == NULL) return MT_E_FLASH_POWER;
    if (memcmp(p, enc, MT_BOOT_RECORD_SIZE) != 0) return MT_E_SWAP; /* stuck bits */
    return MT_OK;
}

/* Writes r as the next record (sequence + 1). On failure latches F.03 and
 * leaves b->rec as it was. */
int mt_boot_write_record(mt_boot *b, const mt_boot_record *r)
{
    uint8_t enc[MT_BOOT_RECORD_SIZE];
    mt_boot_record n = *r;
    int target, rc;

    if (b->fault) return MT_E_SWAP;
    if (b->rec.sequence == 0xFFFFFFFFu) { /* 2^32 records: beyond any endurance */
        b->fault = 1;
        return MT_E_SWAP;
    }
    n.sequence = b->rec.sequence + 1u;
    /* Every record carries the effective floor: after the area won over a
     * lost or rolled-back record, the records agree with it again. */
    if (n.counter < b->floor) n.counter = b->floor;
    mt_boot_record_encode(&n, enc);
    /* Alternate: never the area holding the current record... */
    target = b->rec_area < 0 ? 0 : 1 - b->rec_area;
    rc = put(b, target, enc, 1);
    if (rc != MT_OK && rc != MT_E_FLASH_POWER) {
        /* ...unless that area cannot take it (worn, stuck bits): then append
         * to the current area, which never erases the current record. With
         * no record on flash either area is free to use. */
        target = 1 - target;
        rc = put(b, target, enc, b->rec_area < 0);
    }
    if (rc != MT_OK) {
        b->fault = 1;
        return MT_E_SWAP;
    }
    b->rec = n;
    b->rec_area = (int8_t)target;
    b->writes++;
    if (n.counter > b->floor) b->floor = n.counter; /* confirm, provision */
    return MT_OK;
}
