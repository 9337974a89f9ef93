/*
 * Fragment reassembly into the inactive bank with a bitmap in flash (see
 * mt_reasm.h): the session -- its progress record, resume, begin, close --
 * and the queries. The fragment path is mt_reasm_frag.c.
 *
 * Attacker-controlled: the session geometry given to mt_reasm_begin (it
 * comes from a frame or a DLMS image-transfer initiate). check_geometry
 * validates it once (fragment_size 16..1024, package_size <= bank size,
 * count == ceil(package_size / fragment_size)), so from then on every
 * fragment index i < fragment_count gives i * fragment_size < package_size
 * <= bank size < 2^32, and every bitmap offset RECORD_SIZE + i / 8 lies
 * inside the progress partition. The progress record is the meter's own,
 * but it is read back through its CRC and the same geometry check before
 * use.
 */
#include "mt_reasm.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"
#include "mt_reasm_impl.h"

uint32_t mt_reasm_progress_bytes(uint32_t fragment_count)
{
    /* count / 8 + 1 + 32 + 15 < 2^30: no wrap for any 32-bit count */
    uint32_t b = MT_REASM_RECORD_SIZE + fragment_count / 8u + (fragment_count % 8u != 0);
    return (b + 15u) & ~15u;
}

/* The error for a NULL peek: the range was validated, so it is the power. */
int mt_reasm_peek_error(const mt_flash_area *a)
{
    return mt_flash_powered(a->dev) ? MT_E_FLASH_RANGE : MT_E_FLASH_POWER;
}

int mt_reasm_fault(mt_reasm *st, int rc)
{
    st->phase = MT_REASM_FAULT;
    st->stats.flash_errors++;
    return rc;
}


int mt_reasm_init(mt_reasm *st, const mt_flash_area *bank, const mt_flash_area *progress,
                  uint32_t vendor_id, uint16_t hw_revision)
{
    if (st == NULL || bank == NULL || progress == NULL) return MT_E_ARG;
    if (bank->dev == NULL || bank->dev != progress->dev) return MT_E_ARG;
    memset(st, 0, sizeof *st);
    st->bank = *bank;
    st->progress = *progress;
    st->vendor_id = vendor_id;
    st->hw_revision = hw_revision;
    st->phase = MT_REASM_IDLE;
    st->crc_impl = -1;
    return MT_OK;
}

int mt_reasm_init_impl(mt_reasm *st, const mt_flash_area *bank, const mt_flash_area *progress,
                       uint32_t vendor_id, uint16_t hw_revision, int crc_impl)
{
    int rc = mt_reasm_init(st, bank, progress, vendor_id, hw_revision);
    if (rc == MT_OK) st->crc_impl = (int8_t)(crc_impl == 1 ? 1 : 0);
    return rc;
}

/* Session geometry, in the order of SPEC §4: sanity first, then size. */
static int check_geometry(const mt_reasm *st, uint32_t package_size, uint32_t fragment_size,
                          uint32_t fragment_count)
{
    uint32_t expect;
    if (fragment_size < MT_PKG_FRAGMENT_MIN || fragment_size > MT_PKG_FRAGMENT_MAX ||
        fragment_size % mt_flash_align(st->bank.dev) != 0)
        return MT_E_HDR_FIELD;
    if (package_size <= MT_PKG_HEADER_SIZE) return MT_E_HDR_FIELD;
    expect = package_size / fragment_size + (package_size % fragment_size != 0);
    if (fragment_count != expect) return MT_E_HDR_FIELD;
    if (package_size > st->bank.size) return MT_E_TOO_BIG;
    if (mt_reasm_progress_bytes(fragment_count) > st->progress.size) return MT_E_TOO_BIG;
    return MT_OK;
}

static void set_session(mt_reasm *st, uint32_t session_id, uint32_t package_size,
                        uint32_t fragment_size, uint32_t fragment_count)
{
    st->session_id = session_id;
    st->package_size = package_size;
    st->fragment_size = fragment_size;
    st->fragment_count = fragment_count;
    st->received = 0;
    st->hdr_ok = 0;
    st->hdr_held = 0;
    st->error = 0;
    /* fragment_size >= 16, so at most 8 header fragments */
    st->hdr_frags = (uint8_t)((MT_PKG_HEADER_SIZE + fragment_size - 1u) / fragment_size);
}

/* 0 for a valid open record, 1 for a closed one (magic cleared to 0, CRC
 * still that of the open record), -1 for anything else. */
static int record_state(const uint8_t rec[MT_REASM_RECORD_SIZE])
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t crc;
    int closed;

    if (memcmp(rec, MT_REASM_MAGIC, 4) == 0)
        closed = 0;
    else if (memcmp(rec, zero, 4) == 0)
        closed = 1;
    else
        return -1;
    crc = mt_crc32(0, (const uint8_t *)MT_REASM_MAGIC, 4);
    crc = mt_crc32(crc, rec + 4, 24);
    return crc == mt_ld32le(rec + 28) ? closed : -1;
}

int mt_reasm_resume(mt_reasm *st)
{
    uint8_t rec[MT_REASM_RECORD_SIZE];
    uint32_t count, received = 0;
    int rc, closed;

    if (st == NULL) return MT_E_ARG;
    st->phase = MT_REASM_IDLE;
    rc = mt_flash_area_read(&st->progress, 0, rec, sizeof rec);
    if (rc != MT_OK) return mt_reasm_fault(st, rc);
    closed = record_state(rec);
    if (closed < 0) return MT_E_STATE;
    if (mt_ld32le(rec + 20) != st->bank.off) return MT_E_STATE;
    if (check_geometry(st, mt_ld32le(rec + 8), mt_ld32le(rec + 12), mt_ld32le(rec + 16)) != MT_OK)
        return MT_E_STATE;
    set_session(st, mt_ld32le(rec + 4), mt_ld32le(rec + 8), mt_ld32le(rec + 12), mt_ld32le(rec + 16));
    st->tag = mt_ld32le(rec + 24);
    memset(&st->stats, 0, sizeof st->stats);

    /* count <= bank size / 16 < 2^28 (check_geometry): byte * 8 cannot wrap */
    count = st->fragment_count;
    for (uint32_t byte = 0; byte * 8u < count; byte++) {
        const uint8_t *p = mt_flash_area_peek(&st->progress, MT_REASM_RECORD_SIZE + byte, 1);
        uint32_t got;
        if (p == NULL) return mt_reasm_fault(st, mt_reasm_peek_error(&st->progress));
        got = (uint8_t)~p[0];
        if (count - byte * 8u < 8u) got &= (1u << (count - byte * 8u)) - 1u;
        for (; got != 0; got &= got - 1u) received++;
    }
    st->received = received;
    if (closed) {
        st->phase = MT_REASM_CLOSED;
        return MT_E_STATE;
    }
    st->phase = MT_REASM_ACTIVE;
    /* Header fragments are written only after the header check passed, so
     * all of them on flash means it passed; a partial set is re-checked when
     * the rest arrives. */
    st->hdr_ok = 1;
    for (uint32_t j = 0; j < st->hdr_frags; j++) {
        int got = 0; /* set when rc is MT_OK, the only case it is read */
        rc = mt_reasm_is_received(st, j, &got);
        if (rc != MT_OK) return mt_reasm_fault(st, rc);
        if (!got) st->hdr_ok = 0;
    }
    return MT_OK;
}

int mt_reasm_begin(mt_reasm *st, uint32_t session_id, uint32_t package_size,
                   uint32_t fragment_size, uint32_t fragment_count)
{
    int rc;
    if (st == NULL) return MT_E_ARG;
    rc = check_geometry(st, package_size, fragment_size, fragment_count);
    if (rc != MT_OK) return rc;
    if ((st->phase == MT_REASM_ARMED || st->phase == MT_REASM_ACTIVE) &&
        st->session_id == session_id && st->package_size == package_size &&
        st->fragment_size == fragment_size && st->fragment_count == fragment_count)
        return MT_OK;
    set_session(st, session_id, package_size, fragment_size, fragment_count);
    memset(&st->stats, 0, sizeof st->stats);
    st->phase = MT_REASM_ARMED;
    return MT_OK;
}

/* 1 when the n bytes at p (n a multiple of 8, at least 8) all read 0xFF:
 * the first eight bytes are, and every byte equals the one eight bytes
 * before it -- one library compare of the area with itself, shifted, which
 * runs as wide as the machine allows (a whole bank is checked before every
 * download). */
static int blank(const uint8_t *p, uint32_t n)
{
    static const uint8_t ones[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    return memcmp(p, ones, sizeof ones) == 0 && memcmp(p, p + 8, n - 8u) == 0;
}

/* Erases the sectors of [0, size) of a that are not already blank. */
static int erase_unless_blank(const mt_flash_area *a, uint32_t size)
{
    uint32_t ss = mt_flash_sector_size(a->dev); /* a power of two >= 16 */
    for (uint32_t off = 0; off < size; off += ss) {
        const uint8_t *p = mt_flash_area_peek(a, off, ss);
        if (p == NULL) return mt_reasm_peek_error(a);
        if (!blank(p, ss)) {
            int rc = mt_flash_area_erase(a, off, ss);
            if (rc != MT_OK) return rc;
        }
    }
    return MT_OK;
}

/* ARMED -> ACTIVE: progress erased, bank erased, then the record. */
int mt_reasm_prepare(mt_reasm *st)
{
    uint8_t rec[MT_REASM_RECORD_SIZE];
    int rc;
    if (st->phase == MT_REASM_ACTIVE) return MT_OK;
    rc = erase_unless_blank(&st->progress, st->progress.size);
    if (rc == MT_OK) rc = erase_unless_blank(&st->bank, st->bank.size);
    if (rc != MT_OK) return mt_reasm_fault(st, rc);
    memcpy(rec, MT_REASM_MAGIC, 4);
    mt_st32le(rec + 4, st->session_id);
    mt_st32le(rec + 8, st->package_size);
    mt_st32le(rec + 12, st->fragment_size);
    mt_st32le(rec + 16, st->fragment_count);
    mt_st32le(rec + 20, st->bank.off);
    mt_st32le(rec + 24, st->tag);
    mt_st32le(rec + 28, mt_crc32(0, rec, 28));
    rc = mt_flash_area_program(&st->progress, 0, rec, sizeof rec);
    if (rc != MT_OK) return mt_reasm_fault(st, rc);
    st->received = 0;
    st->phase = MT_REASM_ACTIVE;
    return MT_OK;
}

int mt_reasm_close(mt_reasm *st)
{
    uint8_t rec[MT_REASM_RECORD_SIZE], unit[16];
    uint32_t align;
    int rc;

    if (st == NULL) return MT_E_ARG;
    rc = mt_flash_area_read(&st->progress, 0, rec, sizeof rec);
    if (rc != MT_OK) return mt_reasm_fault(st, rc);
    if (record_state(rec) == 0) {
        /* Clear the magic: the write unit(s) covering bytes 0..3, each
         * programmed with its own bytes except the magic's, which become 0.
         * align <= 16 <= the record size, so every unit lies in the record.
         * With align < 4 the first program already invalidates the record. */
        align = mt_flash_align(st->progress.dev);
        for (uint32_t off = 0; off < 4u; off += align) {
            memcpy(unit, rec + off, align);
            for (uint32_t k = 0; k < align && off + k < 4u; k++) unit[k] = 0;
            rc = mt_flash_area_program(&st->progress, off, unit, align);
            if (rc != MT_OK) return mt_reasm_fault(st, rc);
        }
    }
    st->hdr_held = 0;
    st->phase = MT_REASM_CLOSED;
    return MT_OK;
}

uint32_t mt_reasm_received(const mt_reasm *st)
{
    return st->received;
}

int mt_reasm_complete(const mt_reasm *st)
{
    return st->phase == MT_REASM_ACTIVE && st->received == st->fragment_count;
}

/* Header fragment i is held in RAM, waiting for the rest of the header: it
 * is received, though not yet on flash. hdr_frags <= 8. */
static int held(const mt_reasm *st, uint32_t i)
{
    return i < st->hdr_frags && ((st->hdr_held >> i) & 1u) != 0;
}

uint32_t mt_reasm_next_missing(const mt_reasm *st, uint32_t from)
{
    uint32_t count = st->fragment_count;
    if (st->phase != MT_REASM_ARMED && st->phase != MT_REASM_ACTIVE) return count;
    for (uint32_t i = from; i < count; i++) {
        const uint8_t *p;
        if (held(st, i)) continue;
        if (st->phase == MT_REASM_ARMED) return i;
        p = mt_flash_area_peek(&st->progress, MT_REASM_RECORD_SIZE + i / 8u, 1);
        if (p == NULL) return count;
        if (i % 8u == 0 && p[0] == 0x00) {
            i += 7u; /* eight received at once */
            continue;
        }
        if (((uint32_t)p[0] >> (i % 8u)) & 1u) return i;
    }
    return count;
}

int mt_reasm_missing(const mt_reasm *st, uint8_t *out, size_t cap, size_t *written)
{
    uint32_t count, n;
    if (st == NULL || out == NULL || written == NULL) return MT_E_ARG;
    if (st->phase != MT_REASM_ARMED && st->phase != MT_REASM_ACTIVE) return MT_E_STATE;
    count = st->fragment_count;
    n = count / 8u + (count % 8u != 0);
    if (cap < n) return MT_E_LENGTH;
    if (st->phase == MT_REASM_ARMED) {
        memset(out, 0xFF, n);
    } else {
        int rc = mt_flash_area_read(&st->progress, MT_REASM_RECORD_SIZE, out, n);
        if (rc != MT_OK) return rc;
    }
    if (count % 8u != 0)
        out[n - 1] = (uint8_t)((uint32_t)out[n - 1] & ((1u << (count % 8u)) - 1u));
    for (uint32_t i = 0; i < st->hdr_frags && i < count; i++)
        if (held(st, i)) out[i / 8u] = (uint8_t)((uint32_t)out[i / 8u] & ~(1u << (i % 8u)));
    *written = n;
    return MT_OK;
}
