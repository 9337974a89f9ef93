/*
 * The reassembler's fragment path (see mt_reasm.h): one mesh frame or DLMS
 * block is checked against the session, the package header is checked as
 * soon as its fragments are there, and each payload is written into the
 * bank and marked in the progress bitmap. Session handling: mt_reasm.c.
 *
 * Attacker-controlled: every field of a frame, the index and length of a
 * block, and the package header in the first fragments. The session
 * geometry they are checked against was validated when the session began or
 * resumed (mt_reasm.c), so for an index i < fragment_count, i *
 * fragment_size < package_size <= bank size < 2^32.
 */
#include "mt_reasm.h"

#include <string.h>

#include "mt_err.h"
#include "mt_frame.h"
#include "mt_image.h"
#include "mt_reasm_impl.h"

static int refuse(mt_reasm *st, int rc)
{
    st->phase = MT_REASM_REFUSED;
    st->error = (int16_t)rc;
    st->stats.refused++;
    return rc;
}

/* Payload length fragment i must have. i < fragment_count, so
 * i * fragment_size < package_size and nothing wraps. */
static uint32_t frag_len(const mt_reasm *st, uint32_t i)
{
    uint32_t off = i * st->fragment_size;
    uint32_t left = st->package_size - off;
    return left < st->fragment_size ? left : st->fragment_size;
}

/* Marks fragment i: one aligned program of the write unit holding its bit. */
static int mark(mt_reasm *st, uint32_t i)
{
    uint8_t w[16];
    uint32_t align = mt_flash_align(st->progress.dev);
    uint32_t byte = MT_REASM_RECORD_SIZE + i / 8u;
    uint32_t unit = byte & ~(align - 1u); /* align: a power of two (mt_flash_init) */
    /* a peek and a short copy: the checks of a read (power, range) */
    const uint8_t *cur = mt_flash_area_peek(&st->progress, unit, align);
    if (cur == NULL) return mt_reasm_peek_error(&st->progress);
    for (uint32_t k = 0; k < align; k++) w[k] = cur[k]; /* align <= 16 */
    w[byte - unit] = (uint8_t)((uint32_t)w[byte - unit] & ~(1u << (i % 8u)));
    return mt_flash_area_program(&st->progress, unit, w, align);
}

/* Programs the payload at off; a short tail is padded with 0xFF to the write
 * unit. off + len <= package_size <= bank size, and the bank is a whole
 * number of sectors (a multiple of the unit), so the padded tail fits. */
static int write_payload(mt_reasm *st, uint32_t off, const uint8_t *data, uint32_t len)
{
    uint32_t align = mt_flash_align(st->bank.dev);
    uint32_t body = len & ~(align - 1u); /* align: a power of two (mt_flash_init) */
    int rc = MT_OK;
    if (body != 0) rc = mt_flash_area_program(&st->bank, off, data, body);
    if (rc == MT_OK && body < len) {
        uint8_t t[16];
        memset(t, 0xFF, sizeof t);
        memcpy(t, data + body, len - body);
        rc = mt_flash_area_program(&st->bank, off + body, t, align);
    }
    return rc;
}

/* 1 when programming can turn cur into data: data asks for no 1 where cur
 * holds a 0. Sixteen bytes a turn with no early exit (native-order memcpy: a
 * bitwise test, the same in any byte order), then the tail. */
static int programmable(const uint8_t *cur, const uint8_t *data, uint32_t len)
{
    uint64_t up = 0, up2 = 0;
    uint32_t k = 0;
    for (; len - k >= 16u; k += 16u) {
        uint64_t c, d, c2, d2;
        memcpy(&c, cur + k, sizeof c);
        memcpy(&d, data + k, sizeof d);
        memcpy(&c2, cur + k + 8u, sizeof c2);
        memcpy(&d2, data + k + 8u, sizeof d2);
        up |= d & ~c;
        up2 |= d2 & ~c2;
    }
    for (; len - k >= 8u; k += 8u) {
        uint64_t c, d;
        memcpy(&c, cur + k, sizeof c);
        memcpy(&d, data + k, sizeof d);
        up |= d & ~c;
    }
    for (; k < len; k++) up |= (uint64_t)(data[k] & (uint8_t)~cur[k]);
    return (up | up2) == 0;
}

/* Fragment i, once its received bit (got) and the bank bytes it covers
 * (cur, len bytes) are known: a duplicate recognised (or a conflict), else
 * written and marked. (Six arguments: all in registers on common ABIs, so
 * the callers' tail calls keep a fixed stack frame.) */
static int store_at(mt_reasm *st, uint32_t i, const uint8_t *cur, int got, const uint8_t *data,
                    uint32_t len)
{
    uint32_t off = i * st->fragment_size; /* < package_size: i < fragment_count */
    int rc;
    if (got) {
        if (memcmp(cur, data, len) == 0) {
            st->stats.duplicates++;
            return MT_OK;
        }
        st->stats.conflicts++;
        return MT_E_CONFLICT;
    }
    /* Unmarked: erased, or this fragment's own torn or complete bytes from
     * before a power cut. Anything that programming cannot turn into data
     * is another fragment's content: refuse before writing. */
    if (!programmable(cur, data, len)) {
        st->stats.conflicts++;
        return MT_E_CONFLICT;
    }
    rc = write_payload(st, off, data, len);
    if (rc == MT_OK) rc = mark(st, i);
    if (rc != MT_OK) return mt_reasm_fault(st, rc);
    st->received++;
    st->stats.accepted++;
    return MT_OK;
}

/* Writes and marks fragment i (index and length already checked), or
 * recognises a duplicate. */
static int store(mt_reasm *st, uint32_t i, const uint8_t *data, uint32_t len)
{
    const uint8_t *cur;
    uint32_t off = i * st->fragment_size; /* < package_size: i < fragment_count */
    int rc, got = 0;

    if (st->phase != MT_REASM_ACTIVE) { /* the first fragment: set up first */
        rc = mt_reasm_prepare(st);
        if (rc != MT_OK) return rc;
    }
    rc = mt_reasm_is_received(st, i, &got);
    if (rc != MT_OK) return mt_reasm_fault(st, rc);
    cur = mt_flash_area_peek(&st->bank, off, len);
    if (cur == NULL) return mt_reasm_fault(st, mt_reasm_peek_error(&st->bank));
    return store_at(st, i, cur, got, data, len);
}

int mt_reasm_header_check(const mt_reasm *st, const uint8_t *hdr, size_t len,
                          uint32_t package_size, uint32_t fragment_size, uint32_t fragment_count)
{
    mt_pkg_header h;
    int rc;
    if (st == NULL || hdr == NULL) return MT_E_ARG;
    rc = mt_pkg_header_parse(&h, hdr, len);
    if (rc != MT_OK) return rc;
    if (h.vendor_id != st->vendor_id) return MT_E_VENDOR;
    if (h.hw_revision != st->hw_revision) return MT_E_HW_REV;
    if (h.package_size > st->bank.size) return MT_E_TOO_BIG;
    if (h.package_size != package_size) return MT_E_HDR_FIELD;
    if (fragment_size != 0 &&
        (h.fragment_size != fragment_size || h.fragment_count != fragment_count))
        return MT_E_HDR_FIELD;
    return MT_OK;
}

/* The session's header check: mesh frames carry the fragment geometry, which
 * must be the header's; DLMS blocks have the meter's own block size, so only
 * the package size is compared (frames: 1 for the mesh path). */
static int check_header(const mt_reasm *st, const uint8_t *hdr, int frames)
{
    return mt_reasm_header_check(st, hdr, MT_PKG_HEADER_SIZE, st->package_size,
                                 frames ? st->fragment_size : 0u,
                                 frames ? st->fragment_count : 0u);
}

/* A fragment holding part of the header, before the header was accepted. */
static int header_fragment(mt_reasm *st, uint32_t i, const uint8_t *data, uint32_t len,
                           int frames)
{
    uint32_t fs = st->fragment_size;
    uint8_t bit;
    uint8_t *slot;
    int rc, got = 0;

    if (st->hdr_frags == 1) {
        /* fragment_size >= 128 (or the package is one fragment > 128 bytes):
         * the whole header is in this payload. */
        rc = check_header(st, data, frames);
        if (rc != MT_OK) return refuse(st, rc);
        st->hdr_ok = 1;
        return store(st, i, data, len);
    }
    /* fragment_size < 128: i < hdr_frags <= 8 and i * fs + len < 128 + fs <= 256,
     * so the slot lies inside hdr_buf. */
    bit = (uint8_t)(1u << i);
    slot = st->hdr_buf + i * fs;
    if (st->phase == MT_REASM_ACTIVE) {
        rc = mt_reasm_is_received(st, i, &got);
        if (rc != MT_OK) return mt_reasm_fault(st, rc);
        if (got) return store(st, i, data, len); /* duplicate or conflict */
    }
    if (st->hdr_held & bit) {
        if (memcmp(slot, data, len) == 0) {
            st->stats.duplicates++;
            return MT_OK;
        }
        st->stats.conflicts++;
        return MT_E_CONFLICT;
    }
    memcpy(slot, data, len);
    st->hdr_held |= bit;
    /* Every header fragment either held here or (after a resume) on flash? */
    for (uint32_t j = 0; j < st->hdr_frags; j++) {
        if (st->hdr_held & (1u << j)) continue;
        got = 0;
        if (st->phase == MT_REASM_ACTIVE) {
            rc = mt_reasm_is_received(st, j, &got);
            if (rc != MT_OK) return mt_reasm_fault(st, rc);
        }
        if (!got) return MT_OK; /* held until the rest of the header arrives */
        rc = mt_flash_area_read(&st->bank, j * fs, st->hdr_buf + j * fs, frag_len(st, j));
        if (rc != MT_OK) return mt_reasm_fault(st, rc);
    }
    rc = check_header(st, st->hdr_buf, frames);
    if (rc != MT_OK) return refuse(st, rc);
    st->hdr_ok = 1;
    for (uint32_t j = 0; j < st->hdr_frags; j++) {
        if (!(st->hdr_held & (1u << j))) continue;
        rc = store(st, j, st->hdr_buf + j * fs, frag_len(st, j));
        if (rc != MT_OK) return rc;
    }
    st->hdr_held = 0;
    return MT_OK;
}

/* Why a frame or block is dropped before anything is written, in the order
 * the checks run; each names its counter in mt_reasm_stats. */
enum drop {
    DROP_NONE = 0,
    DROP_FRAME,   /* bad_frame */
    DROP_CRC,     /* bad_crc */
    DROP_STATE,   /* refused */
    DROP_SESSION, /* bad_session */
    DROP_INDEX,   /* bad_index */
    DROP_LENGTH   /* bad_length */
};

/* Counts a drop in its counter and returns its code. */
static int count_drop(mt_reasm *st, enum drop d)
{
    switch (d) {
    case DROP_FRAME: st->stats.bad_frame++; return MT_E_FRAME;
    case DROP_CRC: st->stats.bad_crc++; return MT_E_FRAME;
    case DROP_STATE: st->stats.refused++; return MT_E_STATE;
    case DROP_SESSION: st->stats.bad_session++; return MT_E_SESSION;
    case DROP_INDEX: st->stats.bad_index++; return MT_E_FRAME;
    case DROP_LENGTH: st->stats.bad_length++; return MT_E_FRAME;
    case DROP_NONE: break;
    }
    return MT_OK;
}

/* The checks of fragment i of len bytes against the session; no side
 * effect. i and len are attacker-controlled; frag_len is called only once
 * i < fragment_count. */
static enum drop fragment_drop(const mt_reasm *st, uint32_t i, size_t len)
{
    if (st->phase != MT_REASM_ARMED && st->phase != MT_REASM_ACTIVE) return DROP_STATE;
    if (i >= st->fragment_count) return DROP_INDEX;
    if (len != frag_len(st, i)) return DROP_LENGTH;
    return DROP_NONE;
}

/* The session checks of a parsed frame; no side effect. */
static enum drop parsed_drop(const mt_reasm *st, const mt_frame *fr)
{
    if (st->phase != MT_REASM_ARMED && st->phase != MT_REASM_ACTIVE) return DROP_STATE;
    if (fr->session_id != st->session_id || fr->package_size != st->package_size ||
        fr->fragment_size != st->fragment_size || fr->fragment_count != st->fragment_count)
        return DROP_SESSION;
    return fragment_drop(st, fr->fragment_index, fr->payload_len);
}

/* The checks of a mesh frame, wire form first, then the session; no side
 * effect. On DROP_NONE *fr holds the parsed frame (payload into frame). */
static enum drop frame_drop(const mt_reasm *st, const uint8_t *frame, size_t len, mt_frame *fr)
{
    if (!mt_frame_well_formed(frame, len)) return DROP_FRAME;
    if ((st->crc_impl < 0 ? mt_frame_parse(fr, frame, len)
                          : mt_frame_parse_impl(fr, frame, len, st->crc_impl)) != MT_OK)
        return DROP_CRC;
    return parsed_drop(st, fr);
}

/* A fragment that passed its checks (len == frag_len(i) <= fragment_size);
 * frames: 1 when it came in a mesh frame, 0 as a DLMS block. */
static int take(mt_reasm *st, uint32_t i, const uint8_t *data, uint32_t len, int frames)
{
    if (!st->hdr_ok && i < st->hdr_frags) return header_fragment(st, i, data, len, frames);
    return store(st, i, data, len);
}

int mt_reasm_frame(mt_reasm *st, const uint8_t *frame, size_t len)
{
    mt_frame fr;
    enum drop d;
    if (st == NULL || frame == NULL) return MT_E_ARG;
    d = frame_drop(st, frame, len, &fr);
    if (d != DROP_NONE) return count_drop(st, d);
    return take(st, fr.fragment_index, fr.payload, fr.payload_len, 1);
}

int mt_reasm_frame_new(mt_reasm *st, const uint8_t *frame, size_t len)
{
    uint32_t before;
    int rc;
    if (st == NULL) return MT_E_ARG;
    before = st->received;
    rc = mt_reasm_frame(st, frame, len);
    if (rc != MT_OK) return rc;
    return st->received > before;
}

int mt_reasm_frame_parsed(mt_reasm *st, const mt_frame *fr)
{
    uint32_t before;
    enum drop d;
    int rc;
    if (st == NULL || fr == NULL || (fr->payload == NULL && fr->payload_len != 0)) return MT_E_ARG;
    d = parsed_drop(st, fr);
    if (d != DROP_NONE) return count_drop(st, d);
    before = st->received;
    rc = take(st, fr->fragment_index, fr->payload, fr->payload_len, 1);
    if (rc != MT_OK) return rc;
    return st->received > before;
}

int mt_reasm_block(mt_reasm *st, uint32_t index, const uint8_t *payload, size_t len)
{
    enum drop d;
    if (st == NULL || (payload == NULL && len != 0)) return MT_E_ARG;
    d = fragment_drop(st, index, len);
    if (d != DROP_NONE) return count_drop(st, d);
    return take(st, index, payload, (uint32_t)len, 0);
}

/*
 * The common case of a download in full swing, many frames per call: each
 * frame runs exactly the path mt_reasm_frame gives it, and the run stops
 * where the caller has more to do than count the frame. A frame that would
 * be dropped, or is a header fragment before the header was accepted, is
 * left unconsumed: nothing counted, nothing written (the caller feeds it to
 * mt_reasm_frame). A frame that fails while being stored (a conflict, a
 * flash error) is consumed, and its code is returned. The frame that
 * completes the download is consumed and ends the run.
 *
 * buf, buf_len and lens are the caller's (lengths it computed); the frames'
 * bytes are attacker-controlled and go through the same checks as in
 * mt_reasm_frame.
 */
/*
 * A run's view of the flash: the bank and the progress partition, each
 * peeked once (power and range checked) when the run begins on an ACTIVE
 * session. While the run lasts nothing can turn the power off without the
 * run ending: only this run's own programs touch the device, and one that a
 * cut strikes fails, so the run stops at that frame. Each fragment's
 * received bit and bank bytes are then read in place, with the same values
 * store() gets by asking the flash again for each. Without a view (another phase, or a peek that failed) every
 * frame takes store() itself. A fragment not yet received is written as
 * store() writes it (store_at), its checks and faults the flash's.
 */
typedef struct run_view {
    const uint8_t *bank;     /* NULL: no view */
    const uint8_t *progress;
    const uint8_t *vouched;  /* NULL, or the caller's bitmap (mt_reasm_frames_vouched) */
    uint32_t vouched_len;    /* its bytes */
} run_view;

static void view_open(const mt_reasm *st, run_view *v)
{
    v->bank = v->progress = NULL;
    v->vouched = NULL;
    v->vouched_len = 0;
    if (st->phase != MT_REASM_ACTIVE) return;
    v->bank = mt_flash_area_peek(&st->bank, 0, st->bank.size);
    v->progress = mt_flash_area_peek(&st->progress, 0, st->progress.size);
    if (v->bank == NULL || v->progress == NULL) v->bank = v->progress = NULL;
}

/* Fragment i through the view: 1 and *rc what store() would give, counted
 * the same (the received bit and the bank bytes read in place, then
 * store_at); 0 when store() must take it (no view, or a fragment outside
 * the partitions, which the session's geometry rules out but is checked
 * here all the same). */
static int store_viewed(mt_reasm *st, const run_view *v, uint32_t i, const uint8_t *data,
                        uint32_t len, int *rc)
{
    uint32_t byte = MT_REASM_RECORD_SIZE + i / 8u;
    uint32_t off = i * st->fragment_size; /* < package_size: i < fragment_count */
    int got;
    if (v->bank == NULL || st->phase != MT_REASM_ACTIVE || byte >= st->progress.size ||
        off > st->bank.size || len > st->bank.size - off)
        return 0;
    got = (((uint32_t)v->progress[byte] >> (i % 8u)) & 1u) == 0;
    if (got && ((v->vouched != NULL && i / 8u < v->vouched_len &&
                 ((uint32_t)v->vouched[i / 8u] >> (i % 8u) & 1u) != 0) ||
                memcmp(v->bank + off, data, len) == 0)) { /* the common duplicate, here */
        st->stats.duplicates++;
        *rc = MT_OK;
        return 1;
    }
    *rc = store_at(st, i, v->bank + off, got, data, len);
    return 1;
}

/* One frame of a run, parsed (the rule of mt_reasm_frames): 0 when the run
 * stops before it (a drop, or a header fragment while the header is not
 * accepted: nothing counted or written); else 1 and *rc the store's code. */
static int run_step(mt_reasm *st, const run_view *v, const mt_frame *fr, int *rc)
{
    if (parsed_drop(st, fr) != DROP_NONE) return 0;
    if (!st->hdr_ok && fr->fragment_index < st->hdr_frags) return 0;
    if (!store_viewed(st, v, fr->fragment_index, fr->payload, fr->payload_len, rc))
        *rc = store(st, fr->fragment_index, fr->payload, fr->payload_len);
    return 1;
}

/* After run_step took frame k (before: received before it): records its
 * outcome; 1 when the run goes on past it. */
static int run_record(const mt_reasm *st, int rc, uint32_t before, uint32_t k, int8_t *outcome)
{
    if (rc != MT_OK) {
        outcome[k] = (int8_t)rc; /* mt_err codes lie in -128..0 */
        return 0;
    }
    if (st->received == before) {
        outcome[k] = MT_REASM_DUPLICATE;
        return 1;
    }
    outcome[k] = MT_REASM_WRITTEN;
    return st->received != st->fragment_count; /* the completing one ends it */
}

int mt_reasm_frames(mt_reasm *st, const uint8_t *buf, size_t buf_len, const uint32_t *lens,
                    uint32_t n, int8_t *outcome, uint32_t *done)
{
    size_t off = 0;
    run_view v;
    if (st == NULL || done == NULL) return MT_E_ARG;
    *done = 0;
    if (n == 0) return MT_OK;
    if (buf == NULL || lens == NULL || outcome == NULL) return MT_E_ARG;
    /* Every frame inside the buffer, before any is taken: off <= buf_len
     * holds throughout, so buf_len - off cannot wrap. */
    for (uint32_t k = 0; k < n; k++) {
        if (lens[k] > buf_len - off) return MT_E_LENGTH;
        off += lens[k];
    }
    off = 0;
    view_open(st, &v);
    for (uint32_t k = 0; k < n; k++) {
        mt_frame fr;
        uint32_t before = st->received;
        int rc = MT_OK;
        if (frame_drop(st, buf + off, lens[k], &fr) != DROP_NONE) break;
        if (!run_step(st, &v, &fr, &rc)) break;
        *done = k + 1;
        if (!run_record(st, rc, before, k, outcome)) return rc;
        off += lens[k];
    }
    return MT_OK;
}

/* The vouched bitmap of mt_reasm_frames_vouched (bits NULL: none). */
typedef struct vouch {
    const uint8_t *bits;
    uint32_t len;
} vouch;

/* mt_reasm_frames_parsed and _vouched (six arguments: all in registers on
 * common ABIs, so neither caller needs a stack adjustment to call it). */
static int frames_run(mt_reasm *st, const mt_frame *frs, uint32_t n, int8_t *outcome,
                      uint32_t *done, const vouch *vo)
{
    run_view v;
    if (st == NULL || done == NULL) return MT_E_ARG;
    *done = 0;
    if (n == 0) return MT_OK;
    if (frs == NULL || outcome == NULL) return MT_E_ARG;
    for (uint32_t k = 0; k < n; k++) /* all checked before any is taken */
        if (frs[k].payload == NULL && frs[k].payload_len != 0) return MT_E_ARG;
    view_open(st, &v);
    if (v.bank != NULL && vo->bits != NULL) {
        v.vouched = vo->bits;
        v.vouched_len = vo->len;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t before = st->received;
        int rc = MT_OK;
        if (!run_step(st, &v, &frs[k], &rc)) break;
        *done = k + 1;
        if (!run_record(st, rc, before, k, outcome)) return rc;
    }
    return MT_OK;
}

int mt_reasm_frames_parsed(mt_reasm *st, const mt_frame *frs, uint32_t n, int8_t *outcome,
                           uint32_t *done)
{
    const vouch none = {NULL, 0};
    return frames_run(st, frs, n, outcome, done, &none);
}

int mt_reasm_frames_vouched(mt_reasm *st, const mt_frame *frs, uint32_t n, int8_t *outcome,
                            uint32_t *done, const uint8_t *vouched, uint32_t vouched_len)
{
    const vouch vo = {vouched, vouched_len};
    return frames_run(st, frs, n, outcome, done, &vo);
}
