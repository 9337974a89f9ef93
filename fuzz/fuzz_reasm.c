/*
 * libFuzzer harness: the reassembler fed hostile frames, blocks and power cuts
 * over a small flash.
 *
 * Invariants, checked after every step (abort() when broken):
 *   - every call returns 0 or one of the codes mt_reasm.h documents for it;
 *     MT_E_FLASH_POWER only while a cut was armed or the power is off;
 *   - the flash outside the inactive bank and the progress partition never
 *     changes;
 *   - received <= fragment_count, and complete means received == count;
 *   - no crash, no read or write out of bounds, no undefined behaviour
 *     (run under ASan + UBSan).
 *
 * Input: byte 0 picks the session geometry and mode; then a run of commands.
 * In "synthesized" mode (bit 7 of byte 0) the harness builds a package with a
 * valid header for this meter, so the fuzzer gets past the header check and
 * exercises duplicates, conflicts, resumes and torn writes; commands then pick
 * which fragment to send and how to damage it. Otherwise commands carry raw
 * frame bytes.
 *
 *   command byte c, low 3 bits:
 *     0  frame: next 2 bytes length L, then L raw bytes (raw mode), or
 *        fragment index (synthesized mode, 2 bytes) sent intact
 *     1  block: 2-byte index, 2-byte length, payload from the input (raw),
 *        or the true payload with one byte flipped at a chosen position
 *     2  arm a power cut after (next byte % 16) operations, tear mode c >> 3 % 3
 *     3  power-up, new reassembler struct, resume, begin again
 *     4  begin again (same session), or another session ID when c & 0x80
 *     5  synthesized: send every missing fragment once (a retransmission round)
 *     6  queries: next missing, missing bitmap
 *     7  frame with one byte flipped (synthesized) / truncated frame (raw)
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

typedef struct rig {
    uint8_t mem[DEV];
    uint8_t snapshot[DEV];
    uint32_t wear[DEV / SEC];
    uint8_t pkg[BANK];
    uint8_t frame[MT_PKG_FRAGMENT_MAX + MT_FRAME_OVERHEAD];
    mt_flash flash;
    mt_flash_area bank, progress;
    mt_reasm r;
    uint32_t session, pkg_size, fs, count;
    int cut_armed;
} rig;

static rig g;

/* The input as a stream: reads past the end give zeros / empty slices. */
typedef struct reader {
    const uint8_t *data;
    size_t size, pos;
} reader;

static uint32_t take8(reader *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0u;
}

static uint32_t take16(reader *in)
{
    uint32_t lo = take8(in);
    return lo | take8(in) << 8;
}

/* Up to n bytes from the stream; *got says how many there were. */
static const uint8_t *take(reader *in, size_t n, size_t *got)
{
    const uint8_t *p = in->data + in->pos;
    size_t left = in->size - in->pos;
    *got = n < left ? n : left;
    in->pos += *got;
    return p;
}

static void check_outside(void)
{
    /* the layout puts bank B before the progress partition */
    uint32_t b0 = g.bank.off, b1 = g.bank.off + g.bank.size;
    uint32_t p0 = g.progress.off, p1 = g.progress.off + g.progress.size;
    if (b1 > p0) abort();
    if (memcmp(g.mem, g.snapshot, b0) != 0 || memcmp(g.mem + b1, g.snapshot + b1, p0 - b1) != 0 ||
        memcmp(g.mem + p1, g.snapshot + p1, DEV - p1) != 0)
        abort();
    if (g.r.phase == MT_REASM_ACTIVE || g.r.phase == MT_REASM_ARMED) {
        if (mt_reasm_received(&g.r) > g.r.fragment_count) abort();
    }
    if (mt_reasm_complete(&g.r) && mt_reasm_received(&g.r) != g.r.fragment_count) abort();
}

/* Codes a fragment (frame or block) may return. */
static void check_fragment_rc(int rc)
{
    switch (rc) {
    case MT_OK:
    case MT_E_FRAME:
    case MT_E_SESSION:
    case MT_E_STATE:
    case MT_E_CONFLICT:
    case MT_E_HDR_MAGIC:
    case MT_E_HDR_CRC:
    case MT_E_HDR_FIELD:
    case MT_E_VENDOR:
    case MT_E_HW_REV:
    case MT_E_TOO_BIG:
        return;
    case MT_E_FLASH_POWER:
        if (g.cut_armed || !mt_flash_powered(&g.flash)) return;
        abort();
    default:
        abort();
    }
}

static void check_begin_rc(int rc)
{
    if (rc != MT_OK && rc != MT_E_HDR_FIELD && rc != MT_E_TOO_BIG) abort();
}

static size_t synth_frame(uint32_t i, uint32_t session)
{
    mt_frame f;
    size_t n = 0;
    uint32_t off = i * g.fs;
    f.session_id = session;
    f.package_size = g.pkg_size;
    f.fragment_size = (uint16_t)g.fs;
    f.fragment_index = (uint16_t)i;
    f.fragment_count = (uint16_t)g.count;
    f.payload_len = (uint16_t)(g.pkg_size - off < g.fs ? g.pkg_size - off : g.fs);
    f.payload = g.pkg + off;
    if (mt_frame_encode(g.frame, sizeof g.frame, &f, &n) != MT_OK) abort();
    return n;
}

/* A package of pkg_size bytes whose header is valid for this meter; image
 * bytes from the input. */
static void synth_package(const uint8_t *data, size_t size)
{
    uint32_t image = g.pkg_size - 128u;
    memset(g.pkg, 0, 128);
    memcpy(g.pkg, MT_PKG_MAGIC, 4);
    mt_st16le(g.pkg + 4, MT_PKG_FORMAT_VERSION);
    mt_st16le(g.pkg + 6, MT_PKG_HEADER_SIZE);
    mt_st32le(g.pkg + 8, VENDOR);
    mt_st16le(g.pkg + 12, HW);
    mt_st32le(g.pkg + 28, image);
    mt_st16le(g.pkg + 32, (uint16_t)g.fs);
    mt_st16le(g.pkg + 34, 0);
    mt_st32le(g.pkg + 36, g.count);
    for (uint32_t i = 128; i < g.pkg_size; i++)
        g.pkg[i] = size != 0 ? data[i % size] : (uint8_t)i;
    mt_st32le(g.pkg + 124, mt_crc32(0, g.pkg, 124));
}

/* 1 when fragment i is marked received, 0 when not, -1 when unknown. */
static int is_marked(uint32_t i)
{
    uint8_t bm[BANK / MT_PKG_FRAGMENT_MIN / 8u + 8u];
    size_t w = 0;
    if (g.r.phase != MT_REASM_ACTIVE || !mt_flash_powered(&g.flash)) return -1;
    if (mt_reasm_missing(&g.r, bm, sizeof bm, &w) != MT_OK) abort();
    return ((bm[i / 8u] >> (i % 8u)) & 1u) == 0;
}

static void new_struct(void)
{
    if (mt_reasm_init(&g.r, &g.bank, &g.progress, VENDOR, HW) != MT_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t sizes[8] = {16, 24, 32, 64, 128, 200, 512, 1024};
    mt_layout_params lp;
    mt_layout lay;
    reader in = {data, size, 0};
    int synth, rc, tainted = 0;

    if (size < 3) return 0;
    mt_layout_default_params(&lp);
    lp.sector_size = SEC;
    lp.bank_size = BANK;
    lp.golden_size = BANK;
    if (mt_layout_compute(&lay, &lp, DEV) != MT_OK) abort();
    if (mt_flash_init(&g.flash, g.mem, DEV, g.wear, SEC, 8) != MT_OK) abort();
    mt_flash_factory_erase(&g.flash);
    /* something in every partition, so "untouched" means something */
    for (uint32_t a = 0; a < DEV; a++) g.mem[a] = (uint8_t)(a * 31u + 7u);
    if (mt_layout_area(&lay, &g.flash, MT_PART_BANK_B, &g.bank) != MT_OK) abort();
    if (mt_layout_area(&lay, &g.flash, MT_PART_PROGRESS, &g.progress) != MT_OK) abort();
    memcpy(g.snapshot, g.mem, DEV);
    new_struct();
    g.cut_armed = 0;

    uint32_t mode = take8(&in);
    synth = (mode & 0x80u) != 0;
    g.fs = sizes[mode & 7u];
    g.session = SESSION;
    /* package size: up to a little past the bank, so MT_E_TOO_BIG happens */
    g.pkg_size = 129u + take16(&in) % (BANK + 64u);
    if (synth && g.pkg_size > BANK) g.pkg_size = BANK;
    g.count = (g.pkg_size + g.fs - 1u) / g.fs;
    if (synth) synth_package(data, size);
    check_begin_rc(mt_reasm_begin(&g.r, g.session, g.pkg_size, g.fs, g.count));

    while (in.pos < in.size) {
        uint32_t c = take8(&in);
        size_t got;
        switch (c & 7u) {
        case 0: /* a frame: intact (synthesized) or raw bytes */
            if (synth) {
                size_t n = synth_frame(take16(&in) % g.count, g.session);
                check_fragment_rc(mt_reasm_frame(&g.r, g.frame, n));
            } else {
                const uint8_t *p = take(&in, take16(&in), &got);
                check_fragment_rc(mt_reasm_frame(&g.r, p, got));
            }
            break;
        case 1: { /* a block: the true payload, maybe one bit flipped; or raw */
            uint32_t idx = take16(&in), arg = take16(&in);
            if (synth) {
                uint8_t buf[MT_PKG_FRAGMENT_MAX];
                uint32_t i = idx % g.count, off = i * g.fs;
                uint32_t n = g.pkg_size - off < g.fs ? g.pkg_size - off : g.fs;
                int flip = arg % 3u == 0;
                int marked = is_marked(i);
                memcpy(buf, g.pkg + off, n);
                if (flip) buf[arg % n] ^= (uint8_t)(1u << (arg % 8u));
                rc = mt_reasm_block(&g.r, i, buf, n);
                check_fragment_rc(rc);
                /* a received fragment again: same bytes are a duplicate, others a
                 * conflict (the first copy may itself be a flipped one) */
                if (marked == 1 && !tainted && rc != (flip ? MT_E_CONFLICT : MT_OK)) abort();
                /* a flipped payload cut during its mark may be on flash, marked */
                if (flip && (rc == MT_OK || rc == MT_E_FLASH_POWER)) tainted = 1;
            } else {
                const uint8_t *p = take(&in, arg % 1100u, &got);
                check_fragment_rc(mt_reasm_block(&g.r, idx, p, got));
            }
            break;
        }
        case 2: { /* arm a power cut */
            uint32_t n = take8(&in);
            mt_flash_seed(&g.flash, n + 1u);
            if (mt_flash_set_tear(&g.flash, (unsigned)((c >> 3) % 3u), MT_FLASH_TEAR_RANDOM))
                abort();
            mt_flash_cut_after(&g.flash, n % 16u);
            g.cut_armed = 1;
            break;
        }
        case 3: /* power-up: RAM state lost, rebuilt from flash */
            mt_flash_power_up(&g.flash);
            g.cut_armed = 0;
            new_struct();
            rc = mt_reasm_resume(&g.r);
            if (rc != MT_OK && rc != MT_E_STATE) abort();
            check_begin_rc(mt_reasm_begin(&g.r, g.session, g.pkg_size, g.fs, g.count));
            break;
        case 4: /* begin again, the same session or a new one */
            if (c & 0x80u) g.session++;
            check_begin_rc(mt_reasm_begin(&g.r, g.session, g.pkg_size, g.fs, g.count));
            break;
        case 5: /* a retransmission round over the missing fragments */
            if (!synth) break;
            for (uint32_t i = mt_reasm_next_missing(&g.r, 0); i < g.count;
                 i = mt_reasm_next_missing(&g.r, i + 1u)) {
                size_t n = synth_frame(i, g.session);
                rc = mt_reasm_frame(&g.r, g.frame, n);
                check_fragment_rc(rc);
                if (rc != MT_OK) break;
            }
            break;
        case 6: { /* queries */
            uint8_t bm[BANK / MT_PKG_FRAGMENT_MIN / 8u + 8u];
            size_t w = 0;
            if (mt_reasm_next_missing(&g.r, take16(&in)) > g.r.fragment_count) abort();
            rc = mt_reasm_missing(&g.r, bm, sizeof bm, &w);
            if (rc != MT_OK && rc != MT_E_STATE && rc != MT_E_FLASH_POWER) abort();
            break;
        }
        default: { /* a damaged frame: one bit flipped, or truncated raw bytes */
            uint32_t arg = take16(&in);
            if (synth) {
                size_t n = synth_frame(arg % g.count, g.session);
                g.frame[arg % n] ^= (uint8_t)(1u << (c >> 5));
                /* CRC-16 catches every single-bit error: never accepted */
                rc = mt_reasm_frame(&g.r, g.frame, n);
                check_fragment_rc(rc);
                if (rc == MT_OK) abort();
            } else {
                const uint8_t *p = take(&in, arg % 64u, &got);
                check_fragment_rc(mt_reasm_frame(&g.r, p, got / 2u));
            }
            break;
        }
        }
        check_outside();
    }
    /* an untainted synthesized download that completed holds the package */
    if (synth && !tainted && mt_reasm_complete(&g.r) &&
        memcmp(g.mem + g.bank.off, g.pkg, g.pkg_size) != 0)
        abort();
    return 0;
}
