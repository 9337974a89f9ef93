/* mt_reasm_frames, many mesh frames per call: where a run stops and why, its
 * argument checks, and a differential test -- random hostile streams with
 * power cuts fed to two reassemblers, one frame by frame through
 * mt_reasm_frame, the other in runs through mt_reasm_frames (or, one time in
 * four, parsed once and given to mt_reasm_frame_parsed, or in runs through
 * mt_reasm_frames_parsed), must leave the
 * same flash, wear, counters and state, frame for frame the same outcomes;
 * half the streams with bits stuck in the progress bitmap and the bank and a
 * bank sector worn out early. The runs tell a duplicate through a view of
 * the flash taken once per run, the single frames ask the flash each time:
 * this holds the two to the same results. */
#include <stdint.h>

#include "mt_frame.h"
#include "mt_reasm.h"
#include "reasm_fixture.h"

#define MAXN 512u                 /* frames in one stream */
#define MAXFRAME (19u + 256u + 8u) /* largest frame a stream holds */
#define HELD 2                    /* outcome: a header fragment held in RAM */

typedef struct twin {
    uint8_t mem[DEV];
    uint32_t wear[DEV / SEC];
    mt_flash flash;
    mt_layout layout;
    mt_flash_area bank, progress;
    mt_reasm r;
} twin;

static twin one, many;
static uint8_t stream[MAXN * MAXFRAME];
static uint32_t lens[MAXN];
static int out_one[MAXN], out_many[MAXN];
static int8_t outcome[MAXN];

/* The frame of fragment i (payload from data), with the given fields. */
static uint32_t encode(uint8_t *out, uint32_t session, uint32_t psize, uint32_t fs, uint32_t i,
                       uint32_t count, const uint8_t *data, uint32_t len)
{
    mt_frame f;
    size_t n = 0;
    f.session_id = session;
    f.package_size = psize;
    f.fragment_size = (uint16_t)fs;
    f.fragment_index = (uint16_t)i;
    f.fragment_count = (uint16_t)count;
    f.payload_len = (uint16_t)len;
    f.payload = data;
    CHECK_EQ(mt_frame_encode(out, MAXFRAME, &f, &n), MT_OK);
    return (uint32_t)n;
}

static uint32_t frame_of(uint8_t *out, uint32_t i, uint32_t fs)
{
    return encode(out, SESSION, pkg_size, fs, i, count_of(fs), pkg + i * fs, frag_len(i, fs));
}

static void twin_init(twin *t, uint32_t align)
{
    layout_init(&t->layout, &t->flash, t->mem, t->wear, align, 1);
    CHECK_EQ(mt_layout_area(&t->layout, &t->flash, MT_PART_BANK_B, &t->bank), MT_OK);
    CHECK_EQ(mt_layout_area(&t->layout, &t->flash, MT_PART_PROGRESS, &t->progress), MT_OK);
    CHECK_EQ(mt_reasm_init(&t->r, &t->bank, &t->progress, VENDOR, HW), MT_OK);
}

/* One frame through mt_reasm_frame, as an outcome: the code on failure, else
 * written, duplicate or held (a header fragment kept in RAM). */
static int one_frame(twin *t, const uint8_t *frame, uint32_t len)
{
    uint32_t before = t->r.received, dups = t->r.stats.duplicates;
    int rc = mt_reasm_frame(&t->r, frame, len);
    if (rc != MT_OK) return rc;
    if (t->r.received != before) return MT_REASM_WRITTEN;
    return t->r.stats.duplicates != dups ? MT_REASM_DUPLICATE : HELD;
}

static void feed_one(twin *t, uint32_t n)
{
    uint32_t off = 0;
    for (uint32_t k = 0; k < n; k++) {
        out_one[k] = one_frame(t, stream + off, lens[k]);
        off += lens[k];
    }
}

/* Runs through mt_reasm_frames; a frame it leaves goes to mt_reasm_frame,
 * as the meter does. Returns the frames the runs consumed. */
static uint32_t feed_many(twin *t, uint32_t n, size_t total)
{
    uint32_t k = 0, batched = 0;
    size_t off = 0;
    while (k < n) {
        uint32_t done = n;
        int rc = mt_reasm_frames(&t->r, stream + off, total - off, lens + k, n - k, outcome,
                                 &done);
        CHECK(done <= n - k);
        if (done == 0) {
            CHECK_EQ(rc, MT_OK);
            out_many[k] = one_frame(t, stream + off, lens[k]);
            off += lens[k];
            k++;
            continue;
        }
        for (uint32_t j = 0; j < done; j++) {
            CHECK(outcome[j] == MT_REASM_WRITTEN || outcome[j] == MT_REASM_DUPLICATE ||
                  (j == done - 1 && rc != MT_OK && outcome[j] == rc));
            out_many[k + j] = outcome[j];
            off += lens[k + j];
        }
        if (rc != MT_OK) CHECK_EQ(outcome[done - 1], rc);
        k += done;
        batched += done;
    }
    return batched;
}

/* Each frame parsed once, then mt_reasm_frame_parsed (what a caller handing
 * one frame to many reassemblers does); a frame that does not parse goes to
 * mt_reasm_frame, which counts it. The outcomes as one_frame gives them. */
static void feed_parsed(twin *t, uint32_t n)
{
    uint32_t off = 0;
    for (uint32_t k = 0; k < n; k++) {
        mt_frame fr;
        if (mt_frame_parse_impl(&fr, stream + off, lens[k], mt_crc_accelerated()) != MT_OK) {
            out_many[k] = one_frame(t, stream + off, lens[k]);
        } else {
            uint32_t dups = t->r.stats.duplicates;
            int rc = mt_reasm_frame_parsed(&t->r, &fr);
            out_many[k] = rc < 0 ? rc
                        : rc == 1 ? MT_REASM_WRITTEN
                        : t->r.stats.duplicates != dups ? MT_REASM_DUPLICATE : HELD;
        }
        off += lens[k];
    }
}

/* Runs through mt_reasm_frames_parsed over frames parsed beforehand: a run
 * goes up to the next frame that does not parse; a frame a run leaves (or
 * that does not parse) goes to mt_reasm_frame. Returns the frames the runs
 * consumed. */
static uint32_t feed_runs_parsed(twin *t, uint32_t n)
{
    static mt_frame frs[MAXN];
    static uint8_t ok[MAXN], *at[MAXN];
    uint32_t k = 0, batched = 0, off = 0;
    for (uint32_t j = 0; j < n; j++) {
        at[j] = stream + off;
        ok[j] = mt_frame_parse(&frs[j], stream + off, lens[j]) == MT_OK;
        off += lens[j];
    }
    while (k < n) {
        uint32_t end = k, done = n;
        int rc;
        while (end < n && ok[end]) end++;
        if (end == k) {
            out_many[k] = one_frame(t, at[k], lens[k]);
            k++;
            continue;
        }
        rc = mt_reasm_frames_parsed(&t->r, frs + k, end - k, outcome, &done);
        CHECK(done <= end - k);
        if (done == 0) {
            CHECK_EQ(rc, MT_OK);
            out_many[k] = one_frame(t, at[k], lens[k]);
            k++;
            continue;
        }
        for (uint32_t j = 0; j < done; j++) out_many[k + j] = outcome[j];
        if (rc != MT_OK) CHECK_EQ(outcome[done - 1], rc);
        k += done;
        batched += done;
    }
    return batched;
}

static void check_same(const twin *a, const twin *b, uint32_t n)
{
    CHECK_MEM(a->mem, b->mem, DEV);
    CHECK_MEM(a->wear, b->wear, sizeof a->wear);
    CHECK_EQ(mt_flash_ops(&a->flash), mt_flash_ops(&b->flash));
    CHECK_EQ(mt_flash_powered(&a->flash), mt_flash_powered(&b->flash));
    CHECK_EQ(a->r.phase, b->r.phase);
    CHECK_EQ(a->r.hdr_ok, b->r.hdr_ok);
    CHECK_EQ(a->r.hdr_held, b->r.hdr_held);
    CHECK_EQ(a->r.error, b->r.error);
    CHECK_EQ(a->r.received, b->r.received);
    CHECK_MEM(&a->r.stats, &b->r.stats, sizeof a->r.stats);
    CHECK_MEM(a->r.hdr_buf, b->r.hdr_buf, sizeof a->r.hdr_buf);
    for (uint32_t k = 0; k < n; k++) CHECK_EQ(out_one[k], out_many[k]);
}

/* n frames of a hostile radio: mostly the session's fragments in any order
 * and repeated, then damaged ones, other sessions, bad index or length,
 * conflicting content, truncated and empty frames. */
static size_t make_stream(uint32_t fs, uint32_t n)
{
    uint8_t alt[256];
    uint32_t count = count_of(fs);
    size_t off = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint8_t *f = stream + off;
        uint32_t i = next_rand() % count, len = frag_len(i, fs), r = next_rand() % 100u;
        if (r < 72) {
            lens[k] = frame_of(f, i, fs);
        } else if (r < 78) { /* bits flipped on the air: FCS wrong */
            lens[k] = frame_of(f, i, fs);
            f[next_rand() % lens[k]] ^= (uint8_t)(1u << (next_rand() % 8u));
        } else if (r < 82) {
            lens[k] = encode(f, SESSION ^ 0x100u, pkg_size, fs, i, count, pkg + i * fs, len);
        } else if (r < 85) { /* the session's ID, another geometry */
            lens[k] = encode(f, SESSION, pkg_size + 1u, fs, i, count, pkg + i * fs, len);
        } else if (r < 88) {
            lens[k] = encode(f, SESSION, pkg_size, fs, count + next_rand() % 5u, count, pkg, fs);
        } else if (r < 91) {
            lens[k] = encode(f, SESSION, pkg_size, fs, i, count, pkg + i * fs, len - 1u);
        } else if (r < 94) { /* a duplicate with other content */
            memcpy(alt, pkg + i * fs, len);
            alt[next_rand() % len] ^= 0x10;
            lens[k] = encode(f, SESSION, pkg_size, fs, i, count, alt, len);
        } else if (r < 97) {
            lens[k] = frame_of(f, i, fs) - 1u - next_rand() % 5u;
        } else {
            lens[k] = 0;
        }
        off += lens[k];
    }
    return off;
}

/* Both twins through the same streams: a first stream (under a power cut
 * when cut > 0), then power-up, resume, and a second stream. */
static uint32_t differential(uint32_t fs, uint32_t align, uint32_t cut, unsigned tear,
                             int parsed)
{
    uint32_t count, n, batched = 0;
    size_t total;
    make_pkg(600u + next_rand() % 1200u, fs, 64, VENDOR, HW);
    count = count_of(fs);
    n = 3u * count < MAXN ? 3u * count : MAXN;
    twin_init(&one, align);
    twin_init(&many, align);
    CHECK_EQ(mt_reasm_begin(&one.r, SESSION, pkg_size, fs, count), MT_OK);
    CHECK_EQ(mt_reasm_begin(&many.r, SESSION, pkg_size, fs, count), MT_OK);
    if (cut) {
        uint32_t seed = next_rand();
        mt_flash_seed(&one.flash, seed);
        mt_flash_seed(&many.flash, seed);
        CHECK_EQ(mt_flash_set_tear(&one.flash, tear, MT_FLASH_TEAR_RANDOM), MT_OK);
        CHECK_EQ(mt_flash_set_tear(&many.flash, tear, MT_FLASH_TEAR_RANDOM), MT_OK);
        mt_flash_cut_after(&one.flash, cut);
        mt_flash_cut_after(&many.flash, cut);
    }
    if (next_rand() % 2u) { /* bits stuck in the bitmap and the bank, a bank sector worn early */
        uint32_t bit = one.progress.off + MT_REASM_RECORD_SIZE + next_rand() % 8u;
        uint32_t cell = one.bank.off + next_rand() % 600u;
        uint32_t sec = one.bank.off + next_rand() % one.bank.size, extra = next_rand() % 2u;
        uint8_t s0 = (uint8_t)next_rand(), s1 = (uint8_t)(next_rand() & ~(uint32_t)s0 & 0x0Fu);
        uint8_t one_bit = (uint8_t)(1u << (next_rand() % 8u));
        twin *both[2] = {&one, &many};
        for (int k = 0; k < 2; k++) {
            mt_flash *f = &both[k]->flash;
            CHECK_EQ(mt_flash_stick_bits(f, bit, 0, one_bit), MT_OK);
            CHECK_EQ(mt_flash_stick_bits(f, cell, s0, s1), MT_OK);
            CHECK_EQ(mt_flash_set_sector_endurance(f, sec, mt_flash_wear(f, sec) + extra), MT_OK);
        }
    }
    total = make_stream(fs, n);
    feed_one(&one, n);
    if (parsed == 1)
        feed_parsed(&many, n);
    else if (parsed == 2)
        batched += feed_runs_parsed(&many, n);
    else
        batched += feed_many(&many, n, total);
    check_same(&one, &many, n);

    mt_flash_power_up(&one.flash);
    mt_flash_power_up(&many.flash);
    CHECK_EQ(mt_reasm_init(&one.r, &one.bank, &one.progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_init(&many.r, &many.bank, &many.progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_resume(&one.r), mt_reasm_resume(&many.r));
    if (one.r.phase != MT_REASM_ACTIVE) {
        CHECK_EQ(mt_reasm_begin(&one.r, SESSION, pkg_size, fs, count), MT_OK);
        CHECK_EQ(mt_reasm_begin(&many.r, SESSION, pkg_size, fs, count), MT_OK);
    }
    total = make_stream(fs, n);
    feed_one(&one, n);
    if (parsed == 1)
        feed_parsed(&many, n);
    else if (parsed == 2)
        batched += feed_runs_parsed(&many, n);
    else
        batched += feed_many(&many, n, total);
    check_same(&one, &many, n);
    return batched;
}

static void test_differential(void)
{
    static const uint32_t sizes[] = {16, 48, 64, 128, 256};
    static const uint32_t aligns[] = {1, 8, 16};
    uint32_t runs = 0, parsed_runs = 0, batched = 0, completed = 0;
    for (unsigned s = 0; s < 5; s++) {
        for (unsigned a = 0; a < 3; a++) {
            if (sizes[s] % aligns[a] != 0) continue;
            for (unsigned rep = 0; rep < 12; rep++) {
                uint32_t cut = rep < 4 ? 0 : 1u + next_rand() % 150u;
                /* every fourth twin takes pre-parsed frames one by one instead
                 * of runs, every fourth runs of pre-parsed frames */
                int parsed = rep % 4u == 3u ? 1 : rep % 4u == 2u ? 2 : 0;
                batched += differential(sizes[s], aligns[a], cut, rep % 3u, parsed);
                completed += (uint32_t)mt_reasm_complete(&one.r);
                runs += parsed == 1 ? 0u : 1u;
                parsed_runs += parsed == 1 ? 1u : 0u;
            }
        }
    }
    /* the runs did the work, not the frame-by-frame fallback */
    CHECK(batched > runs * 50u);
    CHECK(completed > (runs + parsed_runs) / 4u);
    printf("differential: %u runs, %u frames taken in runs, %u with pre-parsed frames, "
           "%u downloads completed\n", (unsigned)runs, (unsigned)batched,
           (unsigned)parsed_runs, (unsigned)completed);
}

/* Lays out frames of the given indexes (SESSION, fragment size fs). */
static size_t lay(const uint32_t *idx, uint32_t n, uint32_t fs)
{
    size_t off = 0;
    for (uint32_t k = 0; k < n; k++) {
        lens[k] = frame_of(stream + off, idx[k], fs);
        off += lens[k];
    }
    return off;
}

static void test_runs(void)
{
    uint32_t fs = 128, idx[16], done = 99, count;
    mt_reasm_stats before;
    size_t total;
    twin *t = &many;

    make_pkg(1500, fs, 64, VENDOR, HW);
    count = count_of(fs); /* 14 */
    twin_init(t, 8);
    for (uint32_t i = 0; i < 16; i++) idx[i] = i % count;
    total = lay(idx, 4, fs);

    /* arguments */
    CHECK_EQ(mt_reasm_frames(NULL, stream, total, lens, 4, outcome, &done), MT_E_ARG);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, outcome, NULL), MT_E_ARG);
    CHECK_EQ(mt_reasm_frames(&t->r, NULL, total, lens, 4, outcome, &done), MT_E_ARG);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, NULL, 4, outcome, &done), MT_E_ARG);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, NULL, &done), MT_E_ARG);
    CHECK_EQ(mt_reasm_frames(&t->r, NULL, 0, NULL, 0, NULL, &done), MT_OK);
    CHECK_EQ(done, 0u);

    /* no session: nothing taken, nothing counted */
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, outcome, &done), MT_OK);
    CHECK_EQ(done, 0u);
    CHECK_EQ(t->r.stats.refused, 0u);
    /* the header fragment before the header check: left to the caller */
    CHECK_EQ(mt_reasm_begin(&t->r, SESSION, pkg_size, fs, count), MT_OK);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, outcome, &done), MT_OK);
    CHECK_EQ(done, 0u);
    CHECK_EQ(mt_flash_ops(&t->flash), 0u);
    CHECK_EQ(mt_reasm_frame(&t->r, stream, lens[0]), MT_OK); /* the session starts */
    CHECK_EQ(t->r.phase, MT_REASM_ACTIVE);

    /* lengths past the buffer: misuse, nothing taken */
    before = t->r.stats;
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total - 1, lens, 4, outcome, &done), MT_E_LENGTH);
    CHECK_EQ(done, 0u);
    CHECK_MEM(&before, &t->r.stats, sizeof before);
    CHECK_EQ(t->r.received, 1u);

    /* 0 again (a duplicate), 1, 2, 3 written */
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, outcome, &done), MT_OK);
    CHECK_EQ(done, 4u);
    CHECK_EQ(outcome[0], MT_REASM_DUPLICATE);
    CHECK(outcome[1] == MT_REASM_WRITTEN && outcome[2] == MT_REASM_WRITTEN &&
          outcome[3] == MT_REASM_WRITTEN);
    CHECK_EQ(t->r.stats.duplicates, before.duplicates + 1u);
    CHECK_EQ(t->r.received, 4u);

    /* a damaged frame in the middle: the run stops before it, uncounted */
    idx[0] = 4;
    idx[1] = 5;
    idx[2] = 6;
    total = lay(idx, 3, fs);
    stream[lens[0] + 40] ^= 0x08;
    before = t->r.stats;
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 3, outcome, &done), MT_OK);
    CHECK_EQ(done, 1u);
    CHECK_EQ(t->r.stats.accepted, before.accepted + 1u);
    before.accepted++;
    CHECK_MEM(&before, &t->r.stats, sizeof before);
    CHECK_EQ(mt_reasm_frame(&t->r, stream + lens[0], lens[1]), MT_E_FRAME);
    CHECK_EQ(t->r.stats.bad_crc, before.bad_crc + 1u);

    /* a conflicting duplicate: taken, its code returned, the run ends there */
    idx[0] = 7;
    idx[1] = 2;
    idx[2] = 8;
    total = lay(idx, 3, fs);
    {
        uint8_t alt[128];
        memcpy(alt, pkg + 2u * fs, fs);
        alt[9] ^= 0x01;
        uint32_t l1 = encode(stream + lens[0], SESSION, pkg_size, fs, 2, count, alt, fs);
        CHECK_EQ(l1, lens[1]);
    }
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 3, outcome, &done), MT_E_CONFLICT);
    CHECK_EQ(done, 2u);
    CHECK_EQ(outcome[0], MT_REASM_WRITTEN);
    CHECK_EQ(outcome[1], (int8_t)MT_E_CONFLICT);
    CHECK_EQ(t->r.stats.conflicts, 1u);
    CHECK_EQ(t->r.received, 6u);

    /* the rest and some duplicates after: the run ends with the frame that completes */
    for (uint32_t i = 0; i < 10; i++) idx[i] = (i + 5u) % count; /* 5..13, then 0 */
    total = lay(idx, 10, fs);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 10, outcome, &done), MT_OK);
    CHECK_EQ(done, 9u);
    CHECK_EQ(outcome[8], MT_REASM_WRITTEN);
    CHECK(mt_reasm_complete(&t->r));
    /* once complete, a run of duplicates goes on to its end */
    total = lay(idx, 10, fs);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 10, outcome, &done), MT_OK);
    CHECK_EQ(done, 10u);
    for (uint32_t k = 0; k < 10; k++) CHECK_EQ(outcome[k], MT_REASM_DUPLICATE);

    /* a power cut at a fragment's mark: taken, the code returned, phase FAULT */
    twin_init(t, 8);
    CHECK_EQ(mt_reasm_begin(&t->r, SESSION, pkg_size, fs, count), MT_OK);
    for (uint32_t i = 0; i < 4; i++) idx[i] = i;
    total = lay(idx, 4, fs);
    CHECK_EQ(mt_reasm_frame(&t->r, stream, lens[0]), MT_OK);
    mt_flash_cut_after(&t->flash, 3); /* fragment 1: payload, mark; fragment 2: payload */
    CHECK_EQ(mt_reasm_frames(&t->r, stream + lens[0], total - lens[0], lens + 1, 3, outcome,
                             &done), MT_E_FLASH_POWER);
    CHECK_EQ(done, 2u);
    CHECK_EQ(outcome[1], (int8_t)MT_E_FLASH_POWER);
    CHECK_EQ(t->r.phase, MT_REASM_FAULT);
    CHECK_EQ(t->r.stats.flash_errors, 1u);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, outcome, &done), MT_OK);
    CHECK_EQ(done, 0u);

    /* small fragments: a run may start the session (its first store puts
     * the record on flash); header fragments wait for the caller until the
     * header is accepted */
    make_pkg(900, 16, 64, VENDOR, HW);
    count = count_of(16);
    twin_init(t, 8);
    CHECK_EQ(mt_reasm_begin(&t->r, SESSION, pkg_size, 16, count), MT_OK);
    idx[0] = 9;
    idx[1] = 10;
    idx[2] = 3;
    idx[3] = 11;
    total = lay(idx, 4, 16);
    CHECK_EQ(mt_reasm_frames(&t->r, stream, total, lens, 4, outcome, &done), MT_OK);
    CHECK_EQ(done, 2u);
    CHECK_EQ(t->r.phase, MT_REASM_ACTIVE);
    CHECK_EQ(t->r.received, 2u);
    CHECK_EQ(t->r.hdr_held, 0u);
}

/* mt_reasm_frames_vouched: a duplicate of a fragment the caller vouches for
 * is counted without reading the bank; without the vouch (no bitmap, its
 * bit clear, or its byte past vouched_len) the bank is compared as ever. The
 * bank is altered behind the model's back to tell the two apart. */
static void test_vouched(void)
{
    uint32_t fs = 128, count, done = 99, five = 5;
    uint8_t vouched[2] = {0, 0};
    mt_frame fr;
    twin *t = &one;

    make_pkg(1500, fs, 64, VENDOR, HW);
    count = count_of(fs);
    twin_init(t, 8);
    CHECK_EQ(mt_reasm_begin(&t->r, SESSION, pkg_size, fs, count), MT_OK);
    for (uint32_t i = 0; i < 6; i++) {
        lens[0] = frame_of(stream, i, fs);
        CHECK_EQ(one_frame(t, stream, lens[0]), MT_REASM_WRITTEN);
    }
    CHECK(count > 8u);
    lens[0] = frame_of(stream, five, fs);
    CHECK_EQ(mt_frame_parse(&fr, stream, lens[0]), MT_OK);
    /* as it is: a duplicate either way */
    CHECK_EQ(mt_reasm_frames_vouched(&t->r, &fr, 1, outcome, &done, NULL, 0), MT_OK);
    CHECK_EQ(outcome[0], MT_REASM_DUPLICATE);
    t->mem[t->bank.off + five * fs + 1] ^= 0x01u; /* the cells no longer hold it */
    CHECK_EQ(mt_reasm_frames_vouched(&t->r, &fr, 1, outcome, &done, vouched, 2), MT_E_CONFLICT);
    CHECK_EQ(outcome[0], MT_E_CONFLICT);
    CHECK_EQ(t->r.stats.conflicts, 1u);
    vouched[0] = (uint8_t)(1u << five);
    CHECK_EQ(mt_reasm_frames_vouched(&t->r, &fr, 1, outcome, &done, vouched, 0), MT_E_CONFLICT);
    CHECK_EQ(mt_reasm_frames_vouched(&t->r, &fr, 1, outcome, &done, NULL, 2), MT_E_CONFLICT);
    CHECK_EQ(t->r.stats.conflicts, 3u);
    CHECK_EQ(t->r.stats.duplicates, 1u);
    CHECK_EQ(mt_reasm_frames_vouched(&t->r, &fr, 1, outcome, &done, vouched, 2), MT_OK);
    CHECK_EQ(done, 1u);
    CHECK_EQ(outcome[0], MT_REASM_DUPLICATE);
    CHECK_EQ(t->r.stats.duplicates, 2u);
    CHECK_EQ(t->r.stats.conflicts, 3u);
    CHECK_EQ(t->r.received, 6u);
    /* a fragment not yet held is written as ever, vouched for or not */
    lens[0] = frame_of(stream, 7, fs);
    CHECK_EQ(mt_frame_parse(&fr, stream, lens[0]), MT_OK);
    vouched[0] = 0xFF;
    CHECK_EQ(mt_reasm_frames_vouched(&t->r, &fr, 1, outcome, &done, vouched, 2), MT_OK);
    CHECK_EQ(outcome[0], MT_REASM_WRITTEN);
    CHECK_EQ(t->r.received, 7u);
}

int main(void)
{
    test_runs();
    test_differential();
    test_vouched();
    return mt_test_done("test_reasm_frames");
}
