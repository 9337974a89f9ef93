/*
 * libFuzzer harness: mt_reasm_frames, many mesh frames per call, fed a hostile
 * buffer of frames with hostile lengths, against a twin fed one frame at a
 * time through mt_reasm_frame.
 *
 * The frames' bytes come off the radio (attacker-controlled); the buffer, its
 * length and the length of each frame are the caller's, and here they are
 * hostile too: lengths that cut a frame short, run into the next one, are
 * zero, or run past the buffer.
 *
 * Invariant: every call is accepted or rejected with a documented code, and
 * the state after it is the state mt_reasm_frame would leave. Checked after
 * every call (abort() when broken):
 *   - mt_reasm_frames returns MT_OK, MT_E_LENGTH (then it consumed nothing and
 *     changed nothing: the lengths run past the buffer, which the harness
 *     also works out for itself), MT_E_CONFLICT, or MT_E_FLASH_POWER while a
 *     cut is armed; a failure is always the last frame consumed;
 *   - twin B, fed the consumed frames one by one through mt_reasm_frame, ends
 *     in the same state: flash cells, wear counters, operation count, power,
 *     phase, header state, error, received count, every statistic; and each
 *     consumed frame's outcome (written, duplicate, or its code) is what
 *     mt_reasm_frame did with it;
 *   - the run stops only where mt_reasm.h says: after the frame that completes
 *     the download, after a failed store, or before a frame mt_reasm_frame
 *     would drop (MT_E_FRAME, MT_E_SESSION, MT_E_STATE, leaving the flash as
 *     it was) or a header fragment while the header is not yet accepted;
 *   - the frames buffer, the lengths and the outcome array are heap blocks
 *     of exactly their size: no read or write past them, no undefined
 *     behaviour (ASan + UBSan).
 * The frame where a run stopped goes to mt_reasm_frame on both twins (the
 * meter does the same) and the next run starts after it; after a power cut
 * both twins power up, resume and begin again.
 *
 * Input:
 *   byte 0   bits 0-2 fragment size (16, 24, 32, 64, 128, 200, 256, 512);
 *            bits 3-4 power cut: 0 none, else tear mode (bits - 1) after
 *            byte 3 operations
 *   bytes 1-2 package size: 129 + value % (bank - 128)
 *   byte 3   cut after (when armed)
 *   then one command per frame (at most MAXN frames), byte c:
 *     c & 7:  0-3 the intact frame of fragment (next byte % count)
 *             4   that frame with one bit flipped (FCS wrong)
 *             5   that frame for another session or another geometry
 *             6   raw bytes: next byte L, then L bytes from the input
 *             7   that frame with other content (a conflict), FCS right
 *     c >> 3 & 3, the length given for it: 0 its own; 1 shorter by
 *             (c >> 5) + 1; 2 longer by (c >> 5) + 1 (into the next frame),
 *             or 0xFFFFFFFF when c >> 5 is 7; 3 zero
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"
#include "mt_flash.h"
#include "mt_frame.h"
#include "mt_layout.h"
#include "mt_reasm.h"

#define SEC 256u
#define BANK (16u * SEC)
#define DEV (64u * SEC)
#define VENDOR 0x4D455445u
#define HW 5u
#define SESSION 0xABCD0001u
#define MAXN 160u
#define MAXFRAME (MT_FRAME_OVERHEAD + 512u)
#define HELD 2 /* outcome of a header fragment kept in RAM (never a consumed frame) */

typedef struct twin {
    uint8_t mem[DEV];
    uint32_t wear[DEV / SEC];
    mt_flash flash;
    mt_flash_area bank, progress;
    mt_reasm r;
} twin;

static twin a, b; /* a: runs through mt_reasm_frames; b: frame by frame */
static mt_layout lay;
static uint8_t pkg[BANK];
static uint8_t stream[MAXN * (MAXFRAME + 256u)];
static uint32_t at[MAXN], real_len[MAXN];
static uint32_t fs, pkg_size, count;
static int cut_armed;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok) abort();
}

typedef struct reader {
    const uint8_t *data;
    size_t size, pos;
} reader;

static uint32_t take8(reader *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0u;
}

static void twin_init(twin *t)
{
    require(mt_flash_init(&t->flash, t->mem, DEV, t->wear, SEC, 8) == MT_OK);
    mt_flash_factory_erase(&t->flash);
    /* something in every partition, so "untouched" means something */
    for (uint32_t i = 0; i < DEV; i++) t->mem[i] = (uint8_t)(i * 31u + 7u);
    require(mt_layout_area(&lay, &t->flash, MT_PART_BANK_B, &t->bank) == MT_OK);
    require(mt_layout_area(&lay, &t->flash, MT_PART_PROGRESS, &t->progress) == MT_OK);
    require(mt_reasm_init(&t->r, &t->bank, &t->progress, VENDOR, HW) == MT_OK);
}

static void check_same(void)
{
    require(memcmp(a.mem, b.mem, DEV) == 0);
    require(memcmp(a.wear, b.wear, sizeof a.wear) == 0);
    require(mt_flash_ops(&a.flash) == mt_flash_ops(&b.flash));
    require(mt_flash_powered(&a.flash) == mt_flash_powered(&b.flash));
    require(a.r.phase == b.r.phase && a.r.hdr_ok == b.r.hdr_ok && a.r.hdr_held == b.r.hdr_held);
    require(a.r.hdr_frags == b.r.hdr_frags && a.r.error == b.r.error);
    require(a.r.received == b.r.received);
    require(memcmp(&a.r.stats, &b.r.stats, sizeof a.r.stats) == 0);
    require(memcmp(a.r.hdr_buf, b.r.hdr_buf, sizeof a.r.hdr_buf) == 0);
    require(a.r.received <= a.r.fragment_count || a.r.phase == MT_REASM_IDLE);
}

/* One frame through mt_reasm_frame, as an outcome: its code on failure,
 * else written, duplicate or held. */
static int one_frame(twin *t, const uint8_t *frame, uint32_t len)
{
    uint32_t before = t->r.received, dups = t->r.stats.duplicates;
    int rc = mt_reasm_frame(&t->r, frame, len);
    if (rc != MT_OK) return rc;
    if (t->r.received != before) return MT_REASM_WRITTEN;
    return t->r.stats.duplicates != dups ? MT_REASM_DUPLICATE : HELD;
}

/* A package whose header is valid for this meter; image bytes from the input. */
static void synth_package(const uint8_t *data, size_t size)
{
    memset(pkg, 0, 128);
    memcpy(pkg, MT_PKG_MAGIC, 4);
    mt_st16le(pkg + 4, MT_PKG_FORMAT_VERSION);
    mt_st16le(pkg + 6, MT_PKG_HEADER_SIZE);
    mt_st32le(pkg + 8, VENDOR);
    mt_st16le(pkg + 12, HW);
    mt_st32le(pkg + 28, pkg_size - 128u);
    mt_st16le(pkg + 32, (uint16_t)fs);
    mt_st16le(pkg + 34, 0);
    mt_st32le(pkg + 36, count);
    for (uint32_t i = 128; i < pkg_size; i++) pkg[i] = size ? data[i % size] : (uint8_t)i;
    mt_st32le(pkg + 124, mt_crc32(0, pkg, 124));
}

static uint32_t encode(uint8_t *out, uint32_t session, uint32_t psize, uint32_t i,
                       const uint8_t *payload, uint32_t len)
{
    mt_frame f;
    size_t n = 0;
    f.session_id = session;
    f.package_size = psize;
    f.fragment_size = (uint16_t)fs;
    f.fragment_index = (uint16_t)i;
    f.fragment_count = (uint16_t)count;
    f.payload_len = (uint16_t)len;
    f.payload = payload;
    require(mt_frame_encode(out, MAXFRAME, &f, &n) == MT_OK);
    return (uint32_t)n;
}

static uint32_t frag_len(uint32_t i)
{
    return pkg_size - i * fs < fs ? pkg_size - i * fs : fs;
}

/* The frame command c asks for, written at out; returns its true length. */
static uint32_t make_frame(reader *in, uint32_t c, uint8_t *out)
{
    uint32_t i, len, n;
    uint8_t alt[512];
    if ((c & 7u) == 6u) { /* raw bytes */
        uint32_t want = take8(in);
        uint32_t got = (uint32_t)(in->size - in->pos < want ? in->size - in->pos : want);
        memcpy(out, in->data + in->pos, got);
        in->pos += got;
        return got;
    }
    i = take8(in) % count;
    len = frag_len(i);
    switch (c & 7u) {
    case 4:
        n = encode(out, SESSION, pkg_size, i, pkg + i * fs, len);
        out[(c * 7u + i) % n] ^= (uint8_t)(1u << (i % 8u));
        return n;
    case 5:
        if (c & 0x80u) return encode(out, SESSION ^ 0x100u, pkg_size, i, pkg + i * fs, len);
        return encode(out, SESSION, pkg_size + 1u, i, pkg + i * fs, len);
    case 7:
        memcpy(alt, pkg + i * fs, len);
        alt[(c >> 3) % len] ^= 0x10;
        return encode(out, SESSION, pkg_size, i, alt, len);
    default:
        return encode(out, SESSION, pkg_size, i, pkg + i * fs, len);
    }
}

static uint32_t hostile_len(uint32_t c, uint32_t len)
{
    uint32_t d = (c >> 5) + 1u;
    switch ((c >> 3) & 3u) {
    case 1: return len > d ? len - d : 0;
    case 2: return d == 8u ? 0xFFFFFFFFu : len + d;
    case 3: return 0;
    default: return len;
    }
}

/* After a power cut: both twins power up, a new struct, resume, begin again. */
static void power_up_both(void)
{
    int ra, rb;
    mt_flash_power_up(&a.flash);
    mt_flash_power_up(&b.flash);
    cut_armed = 0;
    require(mt_reasm_init(&a.r, &a.bank, &a.progress, VENDOR, HW) == MT_OK);
    require(mt_reasm_init(&b.r, &b.bank, &b.progress, VENDOR, HW) == MT_OK);
    ra = mt_reasm_resume(&a.r);
    rb = mt_reasm_resume(&b.r);
    require(ra == rb && (ra == MT_OK || ra == MT_E_STATE));
    if (a.r.phase != MT_REASM_ACTIVE) {
        require(mt_reasm_begin(&a.r, SESSION, pkg_size, fs, count) == MT_OK);
        require(mt_reasm_begin(&b.r, SESSION, pkg_size, fs, count) == MT_OK);
    }
    check_same();
}

static void check_store_rc(int rc)
{
    require(rc == MT_E_CONFLICT || (rc == MT_E_FLASH_POWER && cut_armed));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t sizes[8] = {16, 24, 32, 64, 128, 200, 256, 512};
    mt_layout_params lp;
    reader in = {data, size, 0};
    uint32_t n = 0, k = 0, mode, cut;
    size_t total = 0;
    uint8_t *buf;
    uint32_t *lens;
    int8_t *outcome;

    if (size < 4) return 0;
    mt_layout_default_params(&lp);
    lp.sector_size = SEC;
    lp.bank_size = BANK;
    lp.golden_size = BANK;
    require(mt_layout_compute(&lay, &lp, DEV) == MT_OK);
    twin_init(&a);
    twin_init(&b);
    check_same();

    mode = take8(&in);
    fs = sizes[mode & 7u];
    pkg_size = 129u + (take8(&in) | take8(&in) << 8) % (BANK - 128u);
    count = (pkg_size + fs - 1u) / fs;
    cut = take8(&in);
    synth_package(data, size);
    require(mt_reasm_begin(&a.r, SESSION, pkg_size, fs, count) == MT_OK);
    require(mt_reasm_begin(&b.r, SESSION, pkg_size, fs, count) == MT_OK);
    cut_armed = 0;
    if ((mode >> 3) & 3u) {
        unsigned tear = ((mode >> 3) & 3u) - 1u;
        mt_flash_seed(&a.flash, cut + 1u);
        mt_flash_seed(&b.flash, cut + 1u);
        require(mt_flash_set_tear(&a.flash, tear, MT_FLASH_TEAR_RANDOM) == MT_OK);
        require(mt_flash_set_tear(&b.flash, tear, MT_FLASH_TEAR_RANDOM) == MT_OK);
        mt_flash_cut_after(&a.flash, cut);
        mt_flash_cut_after(&b.flash, cut);
        cut_armed = 1;
    }

    /* The frames end to end, and the lengths the caller claims for them. */
    while (in.pos < in.size && n < MAXN) {
        uint32_t c = take8(&in);
        at[n] = (uint32_t)total;
        real_len[n] = make_frame(&in, c, stream + total);
        total += real_len[n];
        real_len[n] = hostile_len(c, real_len[n]);
        n++;
    }
    if (n == 0) return 0;
    buf = malloc(total ? total : 1u);
    lens = malloc(n * sizeof *lens);
    outcome = malloc(n);
    require(buf != NULL && lens != NULL && outcome != NULL);
    memcpy(buf, stream, total);
    memcpy(lens, real_len, n * sizeof *lens);

    /* No frames: nothing to do, nothing done. */
    {
        uint32_t done = 99;
        require(mt_reasm_frames(&a.r, buf, total, lens, 0, outcome, &done) == MT_OK);
        require(done == 0);
    }

    /* Runs through a, frame by frame through b, from frame k and byte off. */
    size_t off = 0;
    while (k < n) {
        uint32_t left = n - k, fit = 0, done = 0xFFFFFFFFu;
        uint64_t sum = 0;
        int rc, limited;
        /* how many of the remaining lengths lie inside the buffer */
        while (fit < left && sum + lens[k + fit] <= total - off) sum += lens[k + fit++];
        limited = fit < left;

        rc = mt_reasm_frames(&a.r, buf + off, total - off, lens + k, left, outcome, &done);
        if (limited) { /* some length runs past the buffer: refused, untouched */
            require(rc == MT_E_LENGTH && done == 0);
            check_same();
            if (fit == 0) break; /* the next frame itself runs past: stop here */
            left = fit;           /* the caller retries with the frames that fit */
            rc = mt_reasm_frames(&a.r, buf + off, total - off, lens + k, left, outcome, &done);
        }
        require(done <= left);
        if (rc != MT_OK) {
            check_store_rc(rc);
            require(done >= 1 && outcome[done - 1] == rc);
        }
        /* the twin takes the same frames one by one */
        for (uint32_t j = 0; j < done; j++) {
            int got = one_frame(&b, buf + off, lens[k + j]);
            require(got == outcome[j]);
            require(j + 1u == done || got == MT_REASM_WRITTEN || got == MT_REASM_DUPLICATE);
            off += lens[k + j];
        }
        check_same();
        k += done;
        if (rc == MT_E_FLASH_POWER) {
            power_up_both();
            continue;
        }
        if (rc != MT_OK || k == n) continue;
        if (limited && done == left) break; /* the next length runs past the buffer */
        if (done > 0 && mt_reasm_complete(&a.r) && outcome[done - 1] == MT_REASM_WRITTEN)
            continue; /* stopped after the frame that completed the download */
        {
            /* stopped before frame k: one mt_reasm_frame drops, or a header
             * fragment while the header is not yet accepted */
            int hdr_ok = a.r.hdr_ok, ra, rb;
            uint32_t ops = mt_flash_ops(&a.flash), got = a.r.received, frags = a.r.hdr_frags;
            ra = one_frame(&a, buf + off, lens[k]);
            rb = one_frame(&b, buf + off, lens[k]);
            require(ra == rb);
            if (ra == MT_E_FRAME || ra == MT_E_SESSION || ra == MT_E_STATE) {
                require(mt_flash_ops(&a.flash) == ops && a.r.received == got);
            } else {
                mt_frame f;
                require(!hdr_ok);
                require(mt_frame_parse(&f, buf + off, lens[k]) == MT_OK);
                require(f.fragment_index < frags);
            }
            check_same();
            off += lens[k];
            k++;
            if (ra == MT_E_FLASH_POWER) {
                require(cut_armed);
                power_up_both();
            }
        }
    }

    free(buf);
    free(lens);
    free(outcome);
    return 0;
}
