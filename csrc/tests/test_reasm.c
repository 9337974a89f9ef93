/* Reassembly: orders, duplicates, conflicts, hostile frames, the header check
 * before any write, the layout, and a power cut at every flash operation. */
#include <stdint.h>

#include "mt_frame.h"
#include "mt_reasm.h"
#include "reasm_fixture.h"

#define MAXDEV DEV

static uint8_t mem[MAXDEV];
static uint32_t wear[MAXDEV / SEC];

static size_t frame_for(uint8_t *out, uint32_t session, uint32_t i, uint32_t fs)
{
    mt_frame f;
    size_t n = 0;
    f.session_id = session;
    f.package_size = pkg_size;
    f.fragment_size = (uint16_t)fs;
    f.fragment_index = (uint16_t)i;
    f.fragment_count = (uint16_t)count_of(fs);
    f.payload_len = (uint16_t)frag_len(i, fs);
    f.payload = pkg + i * fs;
    CHECK_EQ(mt_frame_encode(out, 2048, &f, &n), MT_OK);
    return n;
}

typedef struct rig {
    mt_flash flash;
    mt_layout layout;
    mt_flash_area bank, progress;
    mt_reasm r;
} rig;

static void rig_init(rig *g, uint32_t align, int factory)
{
    layout_init(&g->layout, &g->flash, mem, wear, align, factory);
    CHECK_EQ(mt_layout_area(&g->layout, &g->flash, MT_PART_BANK_B, &g->bank), MT_OK);
    CHECK_EQ(mt_layout_area(&g->layout, &g->flash, MT_PART_PROGRESS, &g->progress), MT_OK);
    CHECK_EQ(mt_reasm_init(&g->r, &g->bank, &g->progress, VENDOR, HW), MT_OK);
}

static int bank_holds_pkg(const rig *g)
{
    const uint8_t *b = mem + g->bank.off;
    if (memcmp(b, pkg, pkg_size) != 0) return 0;
    for (uint32_t i = pkg_size; i < BANK; i++)
        if (b[i] != 0xFF) return 0;
    return 1;
}

static void test_layout(void)
{
    mt_layout l;
    mt_layout_params p;
    mt_layout_default_params(&p);
    CHECK_EQ(mt_layout_compute(&l, &p, MT_LAYOUT_DEFAULT_DEVICE_SIZE), MT_OK);
    CHECK_EQ(l.used, MT_LAYOUT_DEFAULT_DEVICE_SIZE);
    CHECK_EQ(l.part[MT_PART_BANK_A].off, 0u);
    CHECK_EQ(l.part[MT_PART_BANK_B].off, 0x20000u);
    CHECK_EQ(l.part[MT_PART_GOLDEN].off, 0x40000u);
    CHECK_EQ(l.part[MT_PART_BOOT0].off, 0x60000u);
    CHECK_EQ(l.part[MT_PART_BOOT1].off, 0x61000u);
    CHECK_EQ(l.part[MT_PART_PROGRESS].off, 0x62000u);
    CHECK_EQ(l.part[MT_PART_METROLOGY].off, 0x63000u);
    CHECK_EQ(l.part[MT_PART_METROLOGY].size, 0x2000u);
    CHECK_EQ(l.part[MT_PART_AUDIT].off, 0x65000u);
    CHECK_EQ(l.part[MT_PART_AUDIT].size, 0x4000u);
    CHECK_EQ(l.part[MT_PART_FLOOR].off, 0x69000u);
    CHECK_EQ(l.part[MT_PART_FLOOR].size, 0x1000u);
    CHECK_EQ(l.part[MT_PART_SESSIONS].off, 0x6A000u);
    CHECK_EQ(l.part[MT_PART_SESSIONS].size, 0x2000u);
    CHECK_EQ(mt_layout_compute(&l, &p, MT_LAYOUT_DEFAULT_DEVICE_SIZE - 1), MT_E_TOO_BIG);
    CHECK_EQ(mt_layout_compute(&l, &p, 0), MT_E_TOO_BIG);
    p.bank_size = 4096u * 32u + 100u;
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_E_ARG);
    mt_layout_default_params(&p);
    p.audit_sectors = 0;
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_E_ARG);
    mt_layout_default_params(&p);
    p.audit_sectors = 0x40000000u; /* sectors * size overflows 32 bits */
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_E_ARG);
    mt_layout_default_params(&p);
    p.bank_size = 0xFFFF0000u; /* sum of partitions would wrap */
    p.progress_sectors = 0x4000u;
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_E_TOO_BIG);
    mt_layout_default_params(&p);
    p.sector_size = 3000;
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_E_ARG);
    /* a 1 MiB bank needs more than one 4 KiB progress sector at 16-byte fragments */
    mt_layout_default_params(&p);
    p.bank_size = 1024u * 1024u;
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_E_ARG);
    p.progress_sectors = 3;
    CHECK_EQ(mt_layout_compute(&l, &p, 0xFFFFF000u), MT_OK);
    /* areas: the device must match */
    mt_flash f;
    mt_flash_area a;
    mt_layout_default_params(&p);
    p.sector_size = SEC;
    p.bank_size = BANK;
    p.golden_size = BANK;
    CHECK_EQ(mt_layout_compute(&l, &p, MAXDEV), MT_OK);
    CHECK_EQ(mt_flash_init(&f, mem, MAXDEV, wear, SEC, 8), MT_OK);
    CHECK_EQ(mt_layout_area(&l, &f, MT_PART_GOLDEN, &a), MT_OK);
    CHECK_EQ(a.off, 2 * BANK);
    CHECK_EQ(mt_layout_area(&l, &f, MT_PART_COUNT, &a), MT_E_ARG);
    CHECK_EQ(mt_flash_init(&f, mem, MAXDEV, wear, 2 * SEC, 8), MT_OK);
    CHECK_EQ(mt_layout_area(&l, &f, MT_PART_GOLDEN, &a), MT_E_ARG);
}

static void test_frame_codec(void)
{
    uint8_t buf[2048];
    mt_frame f;
    make_pkg(300, 128, 0, VENDOR, HW);
    size_t n = frame_for(buf, SESSION, 3, 128);
    CHECK_EQ(n, MT_FRAME_OVERHEAD + 44u);
    CHECK_EQ(mt_frame_parse(&f, buf, n), MT_OK);
    CHECK_EQ(f.session_id, SESSION);
    CHECK_EQ(f.fragment_index, 3u);
    CHECK_EQ(f.fragment_count, 4u);
    CHECK_EQ(f.payload_len, 44u);
    CHECK(f.payload == buf + MT_FRAME_HEAD);
    CHECK_EQ(buf[0], MT_FRAME_TYPE_FRAGMENT);
    CHECK_EQ(buf[1], 0x01);
    CHECK_EQ(buf[4], 0xC0);
    CHECK_EQ(mt_frame_parse(&f, buf, n - 1), MT_E_FRAME);
    CHECK_EQ(mt_frame_parse(&f, buf, 5), MT_E_FRAME);
    buf[20] ^= 1;
    CHECK_EQ(mt_frame_parse(&f, buf, n), MT_E_FRAME);
    CHECK(mt_frame_well_formed(buf, n));
    size_t w;
    CHECK_EQ(mt_frame_encode(buf, 10, &f, &w), MT_E_LENGTH);
}

/* Sends every fragment once in the order given; checks completion. */
static void feed(rig *g, const uint32_t *order, uint32_t n, uint32_t fs, int use_blocks)
{
    uint8_t buf[2048];
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        int rc;
        if (use_blocks) {
            rc = mt_reasm_block(&g->r, i, pkg + i * fs, frag_len(i, fs));
        } else {
            size_t len = frame_for(buf, SESSION, i, fs);
            uint32_t before = mt_reasm_received(&g->r);
            /* on odd frames the variant that says what it did: 1 for a new
             * fragment (received grew: several when it completes a held
             * header), 0 otherwise */
            if (k % 2) {
                rc = mt_reasm_frame_new(&g->r, buf, len);
                CHECK(rc >= 0);
                CHECK_EQ(rc, mt_reasm_received(&g->r) > before);
                rc = MT_OK;
            } else {
                rc = mt_reasm_frame(&g->r, buf, len);
            }
        }
        CHECK_EQ(rc, MT_OK);
    }
}

static void shuffle(uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = next_rand() % i, t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static void test_orders(void)
{
    static const uint32_t sizes[] = {128, 512, 64, 16, 48, 1024};
    uint32_t order[400];
    for (unsigned s = 0; s < 6; s++) {
        uint32_t fs = sizes[s];
        for (int mode = 0; mode < 4; mode++) {
            rig g;
            rig_init(&g, mode == 3 ? 16 : 8, 1);
            if (mode == 2) /* the frame FCS by the code asked once: same outcome */
                CHECK_EQ(mt_reasm_init_impl(&g.r, &g.bank, &g.progress, VENDOR, HW,
                                            mt_crc_accelerated()), MT_OK);
            make_pkg(1000 + (uint32_t)mode * 333u, fs, 64, VENDOR, HW);
            uint32_t n = count_of(fs);
            CHECK(n <= 400);
            CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, n), MT_OK);
            CHECK_EQ(mt_reasm_next_missing(&g.r, 0), 0u);
            for (uint32_t i = 0; i < n; i++) order[i] = mode == 1 ? n - 1 - i : i;
            if (mode >= 2) shuffle(order, n);
            feed(&g, order, n, fs, mode == 3);
            CHECK(mt_reasm_complete(&g.r));
            CHECK_EQ(mt_reasm_received(&g.r), n);
            CHECK_EQ(g.r.stats.accepted, n);
            CHECK_EQ(mt_reasm_next_missing(&g.r, 0), n);
            CHECK(bank_holds_pkg(&g));
            /* everything again: all duplicates, nothing changes */
            uint32_t ops = mt_flash_ops(&g.flash);
            feed(&g, order, n, fs, mode != 3);
            CHECK_EQ(g.r.stats.duplicates, n);
            CHECK_EQ(mt_flash_ops(&g.flash), ops);
            /* a restart resumes to the same state */
            CHECK_EQ(mt_reasm_init(&g.r, &g.bank, &g.progress, VENDOR, HW), MT_OK);
            CHECK_EQ(mt_reasm_resume(&g.r), MT_OK);
            CHECK(mt_reasm_complete(&g.r));
            CHECK_EQ(g.r.hdr_ok, 1);
        }
    }
}

static void test_duplicates_and_missing(void)
{
    rig g;
    uint8_t buf[2048], bm[64];
    size_t n_bm = 0;
    uint32_t fs = 64;
    rig_init(&g, 8, 1);
    make_pkg(900, fs, 32, VENDOR, HW);
    uint32_t n = count_of(fs); /* 17 */
    CHECK_EQ(n, 17u);
    CHECK_EQ(mt_reasm_missing(&g.r, bm, sizeof bm, &n_bm), MT_E_STATE);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, n), MT_OK);
    CHECK_EQ(mt_reasm_missing(&g.r, bm, sizeof bm, &n_bm), MT_OK);
    CHECK_EQ(n_bm, 3u);
    CHECK_EQ(bm[0], 0xFF);
    CHECK_EQ(bm[2], 0x01);
    CHECK_EQ(mt_reasm_missing(&g.r, bm, 2, &n_bm), MT_E_LENGTH);
    /* random order, each fragment one to three times */
    uint32_t order[64], m = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k <= next_rand() % 3; k++) order[m++] = i;
    shuffle(order, m);
    uint32_t half = m / 2;
    feed(&g, order, half, fs, 0);
    uint32_t got = mt_reasm_received(&g.r);
    /* header fragments (fragment_size < 128) wait in RAM until the header is whole */
    uint32_t held = 0;
    for (uint32_t b = g.r.hdr_held; b != 0; b &= b - 1u) held++;
    CHECK_EQ(g.r.stats.accepted + g.r.stats.duplicates + held, half);
    CHECK_EQ(mt_reasm_missing(&g.r, bm, sizeof bm, &n_bm), MT_OK);
    uint32_t missing = 0, first = n;
    for (uint32_t i = 0; i < n; i++) {
        if ((bm[i / 8] >> (i % 8)) & 1) {
            missing++;
            if (first == n) first = i;
        }
    }
    CHECK_EQ(missing, n - got - held); /* held header fragments are not missing */
    CHECK_EQ(mt_reasm_next_missing(&g.r, 0), first);
    feed(&g, order + half, m - half, fs, 0);
    CHECK(mt_reasm_complete(&g.r));
    CHECK_EQ(g.r.stats.accepted, n);
    CHECK_EQ(g.r.stats.duplicates, m - n);
    CHECK(bank_holds_pkg(&g));
    CHECK_EQ(mt_reasm_missing(&g.r, bm, sizeof bm, &n_bm), MT_OK);
    CHECK(bm[0] == 0 && bm[1] == 0 && bm[2] == 0);

    /* conflicting duplicate: reported, nothing written */
    uint8_t snap[MAXDEV];
    memcpy(snap, mem, MAXDEV);
    pkg[5 * fs + 3] ^= 0x40;
    size_t len = frame_for(buf, SESSION, 5, fs);
    pkg[5 * fs + 3] ^= 0x40;
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_CONFLICT);
    CHECK_EQ(g.r.stats.conflicts, 1u);
    CHECK_MEM(snap, mem, MAXDEV);
    CHECK(mt_reasm_complete(&g.r));
    /* begin the same session again: progress kept; a new one starts over */
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, n), MT_OK);
    CHECK(mt_reasm_complete(&g.r));
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION + 1, pkg_size, fs, n), MT_OK);
    CHECK_EQ(mt_reasm_received(&g.r), 0u);
    CHECK(!mt_reasm_complete(&g.r));
}

static void test_hostile_frames(void)
{
    rig g;
    uint8_t buf[2048], snap[MAXDEV];
    uint32_t fs = 128;
    size_t len;
    rig_init(&g, 8, 1);
    make_pkg(700, fs, 0, VENDOR, HW);
    uint32_t n = count_of(fs);
    /* no session yet */
    len = frame_for(buf, SESSION, 1, fs);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_STATE);
    CHECK_EQ(mt_reasm_block(&g.r, 1, pkg + fs, fs), MT_E_STATE);
    CHECK_EQ(g.r.stats.refused, 2u);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, n), MT_OK);
    memcpy(snap, mem, MAXDEV);
    /* bad FCS */
    len = frame_for(buf, SESSION, 1, fs);
    buf[30] ^= 0x01;
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_FRAME);
    CHECK_EQ(g.r.stats.bad_crc, 1u);
    /* truncated, extended, wrong type, empty */
    len = frame_for(buf, SESSION, 1, fs);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len - 1), MT_E_FRAME);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len + 1), MT_E_FRAME);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, 0), MT_E_FRAME);
    buf[0] = 0xF2;
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_FRAME);
    CHECK_EQ(g.r.stats.bad_frame, 4u);
    /* wrong session ID, or the right ID with other geometry */
    len = frame_for(buf, SESSION + 7, 1, fs);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_SESSION);
    {
        mt_frame f;
        size_t w;
        f.session_id = SESSION;
        f.package_size = pkg_size + 1;
        f.fragment_size = (uint16_t)fs;
        f.fragment_index = 1;
        f.fragment_count = (uint16_t)n;
        f.payload_len = (uint16_t)fs;
        f.payload = pkg + fs;
        CHECK_EQ(mt_frame_encode(buf, sizeof buf, &f, &w), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, w), MT_E_SESSION);
        /* index out of range, with a valid FCS */
        f.package_size = pkg_size;
        f.fragment_index = (uint16_t)n;
        CHECK_EQ(mt_frame_encode(buf, sizeof buf, &f, &w), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, w), MT_E_FRAME);
        f.fragment_index = 0xFFFF;
        CHECK_EQ(mt_frame_encode(buf, sizeof buf, &f, &w), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, w), MT_E_FRAME);
        /* wrong length for the index: short middle, long last */
        f.fragment_index = 2;
        f.payload_len = (uint16_t)(fs - 8);
        CHECK_EQ(mt_frame_encode(buf, sizeof buf, &f, &w), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, w), MT_E_FRAME);
        f.fragment_index = (uint16_t)(n - 1);
        f.payload_len = (uint16_t)fs;
        CHECK_EQ(mt_frame_encode(buf, sizeof buf, &f, &w), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, w), MT_E_FRAME);
    }
    CHECK_EQ(g.r.stats.bad_session, 2u);
    CHECK_EQ(g.r.stats.bad_index, 2u);
    CHECK_EQ(g.r.stats.bad_length, 2u);
    CHECK_EQ(mt_reasm_block(&g.r, n, pkg, fs), MT_E_FRAME);
    CHECK_EQ(mt_reasm_block(&g.r, 0, pkg, fs + 1), MT_E_FRAME);
    CHECK_EQ(mt_reasm_block(&g.r, 0, NULL, 4), MT_E_ARG);
    CHECK_EQ(g.r.stats.accepted, 0u);
    /* none of it touched the flash: not even the session start */
    CHECK_MEM(snap, mem, MAXDEV);
    CHECK_EQ(mt_flash_ops(&g.flash), 0u);
}

static void test_begin_checks(void)
{
    rig g;
    rig_init(&g, 8, 1);
    make_pkg(1000, 128, 0, VENDOR, HW);
    uint32_t n = count_of(128);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, pkg_size, 128, n + 1), MT_E_HDR_FIELD);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, pkg_size, 8, (pkg_size + 7) / 8), MT_E_HDR_FIELD);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, pkg_size, 2048, 1), MT_E_HDR_FIELD);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, 128, 128, 1), MT_E_HDR_FIELD);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, BANK + 1, 1024, 5), MT_E_TOO_BIG);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, 0xFFFFFFFFu, 1024, 4194304u), MT_E_TOO_BIG);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, BANK, 1024, 4), MT_OK);
    rig_init(&g, 16, 1);
    CHECK_EQ(mt_reasm_begin(&g.r, 1, 1000, 24, 42), MT_E_HDR_FIELD); /* not a write-unit multiple */
    CHECK_EQ(mt_flash_ops(&g.flash), 0u);
    CHECK_EQ(mt_reasm_resume(&g.r), MT_E_STATE); /* factory-fresh: no session */
}

/* The header is checked before any byte of the download is written. */
static void refuse_case(uint32_t fs, void (*spoil)(void), int expect)
{
    rig g;
    uint8_t buf[2048];
    static uint8_t before[MAXDEV];
    rig_init(&g, 8, 1);
    /* the inactive bank and progress hold an older download */
    memset(mem + g.bank.off, 0x5A, BANK);
    memset(mem + g.progress.off, 0x00, 64);
    make_pkg(1500, fs, 64, VENDOR, HW);
    spoil();
    uint32_t n = count_of(fs);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, n), MT_OK);
    memcpy(before, mem, MAXDEV);
    int rc = MT_OK;
    /* header fragments first (all of them when the header spans several) */
    for (uint32_t i = 0; i * fs < 128; i++) {
        size_t len = frame_for(buf, SESSION, i, fs);
        rc = mt_reasm_frame(&g.r, buf, len);
        if (rc != MT_OK) break;
    }
    CHECK_EQ(rc, expect);
    CHECK_EQ(g.r.phase, MT_REASM_REFUSED);
    CHECK_EQ(g.r.error, expect);
    CHECK_MEM(before, mem, MAXDEV);
    CHECK_EQ(mt_flash_ops(&g.flash), 0u);
    /* and the session stays refused */
    size_t len = frame_for(buf, SESSION, n - 1, fs);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_STATE);
    CHECK_MEM(before, mem, MAXDEV);
}

static void sp_vendor(void) { mt_st32le(pkg + 8, VENDOR + 1); mt_st32le(pkg + 124, mt_crc32(0, pkg, 124)); }
static void sp_hw(void) { mt_st16le(pkg + 12, HW + 1); mt_st32le(pkg + 124, mt_crc32(0, pkg, 124)); }
static void sp_magic(void) { pkg[0] = 'X'; }
static void sp_crc(void) { pkg[20] ^= 1; }
static void sp_flags(void) { mt_st16le(pkg + 14, 0x10); mt_st32le(pkg + 124, mt_crc32(0, pkg, 124)); }
static void sp_reserved(void) { pkg[100] = 1; mt_st32le(pkg + 124, mt_crc32(0, pkg, 124)); }
/* announces an image larger than the bank, with geometry consistent in itself */
static void sp_big(void)
{
    uint32_t fs = mt_ld16le(pkg + 32);
    mt_st32le(pkg + 28, 10000);
    mt_st16le(pkg + 34, 0);
    mt_st32le(pkg + 36, (128u + 10000u + fs - 1u) / fs);
    mt_st32le(pkg + 124, mt_crc32(0, pkg, 124));
}
/* valid header, but for another fragment size than the session's */
static void sp_geometry(void)
{
    uint32_t fs = mt_ld16le(pkg + 32);
    uint32_t other = fs == 1024 ? 512 : fs * 2;
    mt_st16le(pkg + 32, (uint16_t)other);
    mt_st32le(pkg + 36, (pkg_size + other - 1u) / other);
    mt_st32le(pkg + 124, mt_crc32(0, pkg, 124));
}

static void test_header_refusal(void)
{
    static const uint32_t sizes[] = {128, 1024, 16, 48};
    for (unsigned s = 0; s < 4; s++) {
        uint32_t fs = sizes[s];
        refuse_case(fs, sp_vendor, MT_E_VENDOR);
        refuse_case(fs, sp_hw, MT_E_HW_REV);
        refuse_case(fs, sp_magic, MT_E_HDR_MAGIC);
        refuse_case(fs, sp_crc, MT_E_HDR_CRC);
        refuse_case(fs, sp_flags, MT_E_HDR_FIELD);
        refuse_case(fs, sp_reserved, MT_E_HDR_FIELD);
        refuse_case(fs, sp_big, MT_E_TOO_BIG);
        refuse_case(fs, sp_geometry, MT_E_HDR_FIELD);
    }
    /* header fragments held in RAM: duplicate and conflict before the check */
    rig g;
    uint8_t buf[2048];
    rig_init(&g, 8, 1);
    make_pkg(500, 32, 0, VENDOR, HW);
    uint32_t n = count_of(32);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, 32, n), MT_OK);
    size_t len = frame_for(buf, SESSION, 1, 32);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_OK);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_OK);
    CHECK_EQ(g.r.stats.duplicates, 1u);
    CHECK_EQ(mt_reasm_received(&g.r), 0u);
    CHECK_EQ(mt_flash_ops(&g.flash), 0u);
    pkg[40] ^= 1;
    len = frame_for(buf, SESSION, 1, 32);
    pkg[40] ^= 1;
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_CONFLICT);
    CHECK_EQ(mt_flash_ops(&g.flash), 0u);
}

/* DLMS blocks have the meter's block size, whatever fragment size the header
 * announces for the mesh; mesh frames must still agree with the header. */
static void test_blocks_ignore_header_fragment_size(void)
{
    rig g;
    uint32_t bs = 128, n;
    rig_init(&g, 8, 1);
    make_pkg(900, 64, 0, VENDOR, HW); /* the header says 64-byte fragments */
    n = count_of(bs);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, bs, n), MT_OK);
    for (uint32_t i = 0; i < n; i++)
        CHECK_EQ(mt_reasm_block(&g.r, i, pkg + i * bs, frag_len(i, bs)), MT_OK);
    CHECK_EQ(mt_reasm_complete(&g.r), 1);
    CHECK_EQ(memcmp(mem + g.bank.off, pkg, pkg_size), 0);
    /* the same geometry as frames: the header disagrees, refused */
    uint8_t buf[2048];
    rig_init(&g, 8, 1);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, bs, n), MT_OK);
    size_t len = frame_for(buf, SESSION, 0, bs);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_HDR_FIELD);
    /* a block session still compares the package size */
    rig_init(&g, 8, 1);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size + 16, bs, count_of(bs) + 0), MT_OK);
    CHECK_EQ(mt_reasm_block(&g.r, 0, pkg, bs), MT_E_HDR_FIELD);
}

/* The standalone header check: what the session's own check says, no side
 * effect, for any geometry the caller names. */
static void test_header_check(void)
{
    rig g;
    uint32_t ops;
    rig_init(&g, 8, 1);
    make_pkg(900, 64, 0, VENDOR, HW);
    ops = mt_flash_ops(&g.flash);
    CHECK_EQ(mt_reasm_header_check(&g.r, pkg, 128, pkg_size, 64, count_of(64)), MT_OK);
    CHECK_EQ(mt_reasm_header_check(&g.r, pkg, 128, pkg_size, 0, 0), MT_OK);
    CHECK_EQ(mt_reasm_header_check(&g.r, pkg, 128, pkg_size, 128, count_of(128)), MT_E_HDR_FIELD);
    CHECK_EQ(mt_reasm_header_check(&g.r, pkg, 128, pkg_size + 1, 0, 0), MT_E_HDR_FIELD);
    CHECK(mt_reasm_header_check(&g.r, pkg, 127, pkg_size, 0, 0) != MT_OK);
    CHECK_EQ(mt_reasm_header_check(&g.r, NULL, 128, pkg_size, 0, 0), MT_E_ARG);
    make_pkg(900, 64, 0, VENDOR + 1, HW);
    CHECK_EQ(mt_reasm_header_check(&g.r, pkg, 128, pkg_size, 0, 0), MT_E_VENDOR);
    make_pkg(900, 64, 0, VENDOR, HW + 1);
    CHECK_EQ(mt_reasm_header_check(&g.r, pkg, 128, pkg_size, 0, 0), MT_E_HW_REV);
    CHECK_EQ(mt_flash_ops(&g.flash), ops);
    CHECK_EQ(g.r.phase, MT_REASM_IDLE);
}

/* Power cut at every flash operation of a small download, for every tear
 * mode; power-up, resume (or begin again), receive everything again. */
static void set_old_state(rig *g)
{
    /* an older, finished download in the inactive bank and its progress */
    memset(mem, 0xFF, MAXDEV);
    memset(wear, 0, sizeof wear);
    for (uint32_t i = 0; i < 600; i++) mem[g->bank.off + i] = (uint8_t)(i * 13u);
    memset(mem + g->progress.off, 0x00, 48);
    memset(mem + g->bank.off + BANK - SEC, 0x11, 8);
}

static uint32_t run_download(rig *g, uint32_t fs, const uint32_t *order, uint32_t n, int *rc_out)
{
    uint8_t buf[2048];
    int rc = MT_OK;
    uint32_t k;
    rc = mt_reasm_begin(&g->r, SESSION, pkg_size, fs, n);
    for (k = 0; rc == MT_OK && k < n; k++) {
        size_t len = frame_for(buf, SESSION, order[k], fs);
        rc = mt_reasm_frame(&g->r, buf, len);
    }
    *rc_out = rc;
    return k;
}

/* A download erases exactly the bank sectors that are not blank: one byte
 * with one bit cleared, anywhere in a sector (first and last bytes
 * included), gets that sector erased and no other; a blank bank none. */
static void test_blank_check(void)
{
    uint8_t buf[2048];
    const uint32_t fs = 64;
    rig g;
    make_pkg(900, fs, 32, VENDOR, HW);
    for (uint32_t at = 0; at <= BANK; at++) {
        uint32_t before[BANK / SEC], in = at % SEC;
        if (at < BANK && in >= 9u && in < SEC - 9u && in % 23u != 0) continue;
        rig_init(&g, 8, 1);
        if (at < BANK) mem[g.bank.off + at] = (uint8_t)(0xFFu ^ (1u << (at % 8u)));
        for (uint32_t s = 0; s < BANK / SEC; s++)
            before[s] = mt_flash_wear(&g.flash, g.bank.off + s * SEC);
        CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, count_of(fs)), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, frame_for(buf, SESSION, 2, fs)), MT_OK);
        for (uint32_t s = 0; s < BANK / SEC; s++) {
            uint32_t erased = at < BANK && at / SEC == s ? 1u : 0u;
            CHECK_EQ(mt_flash_wear(&g.flash, g.bank.off + s * SEC), before[s] + erased);
        }
        CHECK_EQ(mt_reasm_received(&g.r), 1u);
    }
    /* a sector that repeats one 8-byte pattern other than all ones */
    for (uint32_t pattern = 0; pattern < 2; pattern++) {
        uint32_t wear_before;
        rig_init(&g, 8, 1);
        for (uint32_t k = 0; k < SEC; k++)
            mem[g.bank.off + 3u * SEC + k] = pattern == 0 ? 0x00 : (k % 8u == 0 ? 0x7F : 0xFF);
        wear_before = mt_flash_wear(&g.flash, g.bank.off + 3u * SEC);
        CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, fs, count_of(fs)), MT_OK);
        CHECK_EQ(mt_reasm_frame(&g.r, buf, frame_for(buf, SESSION, 2, fs)), MT_OK);
        CHECK_EQ(mt_flash_wear(&g.flash, g.bank.off + 3u * SEC), wear_before + 1u);
    }
}

static void sweep(uint32_t fs, uint32_t align)
{
    static uint8_t outside[MAXDEV];
    uint32_t order[64], n, clean_ops;
    int rc;
    rig g;
    make_pkg(520, fs, 40, VENDOR, HW);
    n = count_of(fs);
    CHECK(n <= 64);
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    shuffle(order, n);

    rig_init(&g, align, 1);
    set_old_state(&g);
    run_download(&g, fs, order, n, &rc);
    CHECK_EQ(rc, MT_OK);
    CHECK(mt_reasm_complete(&g.r));
    clean_ops = mt_flash_ops(&g.flash);
    /* progress erase + bank sectors that held data + record + 2 per fragment
     * (+1 for a short last fragment not a multiple of the write unit) */
    CHECK(clean_ops >= 1u + 3u + 1u + 2u * n);

    unsigned cases = 0, restarted = 0;
    for (unsigned mode = MT_FLASH_TEAR_NONE; mode <= MT_FLASH_TEAR_BITS; mode++) {
        for (uint32_t cut = 0; cut < clean_ops; cut++) {
            rig_init(&g, align, 0);
            set_old_state(&g);
            memcpy(outside, mem, MAXDEV);
            mt_flash_seed(&g.flash, 1000u + cut * 7u + mode);
            CHECK_EQ(mt_flash_set_tear(&g.flash, mode, MT_FLASH_TEAR_RANDOM), MT_OK);
            mt_flash_cut_after(&g.flash, cut);
            run_download(&g, fs, order, n, &rc);
            CHECK_EQ(rc, MT_E_FLASH_POWER);
            CHECK_EQ(g.r.phase, MT_REASM_FAULT);
            /* power-up: RAM state is gone */
            mt_flash_power_up(&g.flash);
            CHECK_EQ(mt_reasm_init(&g.r, &g.bank, &g.progress, VENDOR, HW), MT_OK);
            rc = mt_reasm_resume(&g.r);
            CHECK(rc == MT_OK || rc == MT_E_STATE);
            if (rc == MT_E_STATE) restarted++;
            uint32_t before = mt_reasm_received(&g.r);
            uint32_t order2[64];
            for (uint32_t i = 0; i < n; i++) order2[i] = order[n - 1 - i];
            run_download(&g, fs, order2, n, &rc);
            CHECK_EQ(rc, MT_OK);
            CHECK(mt_reasm_complete(&g.r));
            CHECK(bank_holds_pkg(&g));
            CHECK_EQ(g.r.stats.accepted + before, n);
            /* nothing outside the bank and the progress partition changed */
            CHECK_MEM(outside, mem, g.bank.off);
            CHECK_MEM(outside + g.bank.off + BANK, mem + g.bank.off + BANK,
                      g.progress.off - (g.bank.off + BANK));
            uint32_t pend = g.progress.off + g.progress.size;
            CHECK_MEM(outside + pend, mem + pend, MAXDEV - pend);
            cases++;
        }
    }
    CHECK_EQ(cases, 3u * clean_ops);
    CHECK(restarted > 0 && restarted < cases);
    printf("sweep fs=%u align=%u: %u fragments, %u flash ops, %u cut cases (%u restarted)\n",
           (unsigned)fs, (unsigned)align, (unsigned)n, (unsigned)clean_ops, cases, restarted);
}

/* Several random cuts in one download, stacked. */
static void stacked_cuts(void)
{
    rig g;
    uint32_t order[64], fs = 32;
    int rc;
    make_pkg(600, fs, 40, VENDOR, HW);
    uint32_t n = count_of(fs);
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    rig_init(&g, 8, 1);
    set_old_state(&g);
    mt_flash_seed(&g.flash, 77);
    CHECK_EQ(mt_flash_set_tear(&g.flash, MT_FLASH_TEAR_BITS, MT_FLASH_TEAR_RANDOM), MT_OK);
    unsigned cuts = 0;
    for (int round = 0; round < 200 && !mt_reasm_complete(&g.r); round++) {
        shuffle(order, n);
        mt_flash_cut_after(&g.flash, next_rand() % 12u);
        run_download(&g, fs, order, n, &rc);
        if (rc == MT_E_FLASH_POWER) {
            cuts++;
            mt_flash_power_up(&g.flash);
            CHECK_EQ(mt_reasm_init(&g.r, &g.bank, &g.progress, VENDOR, HW), MT_OK);
            rc = mt_reasm_resume(&g.r);
            CHECK(rc == MT_OK || rc == MT_E_STATE);
        } else {
            CHECK_EQ(rc, MT_OK);
        }
    }
    CHECK(cuts > 5);
    CHECK(mt_reasm_complete(&g.r));
    CHECK(bank_holds_pkg(&g));
}

/* A worn bank sector is an error returned as is, and puts the state in fault. */
static void worn_sector(void)
{
    rig g;
    uint8_t buf[2048];
    rig_init(&g, 8, 1);
    make_pkg(900, 128, 0, VENDOR, HW);
    uint32_t n = count_of(128);
    CHECK_EQ(mt_flash_set_sector_endurance(&g.flash, g.bank.off + 512, 0), MT_OK);
    CHECK_EQ(mt_reasm_begin(&g.r, SESSION, pkg_size, 128, n), MT_OK);
    size_t len = frame_for(buf, SESSION, 0, 128);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_OK);
    len = frame_for(buf, SESSION, 4, 128);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_FLASH_WORN);
    CHECK_EQ(g.r.phase, MT_REASM_FAULT);
    CHECK_EQ(g.r.stats.flash_errors, 1u);
    len = frame_for(buf, SESSION, 1, 128);
    CHECK_EQ(mt_reasm_frame(&g.r, buf, len), MT_E_STATE);
}

/* mt_frame_parse_impl, with either CRC code, parses exactly what
 * mt_frame_parse does: same verdict on good, damaged and cut frames, same
 * fields. */
static void test_frame_parse_impl(void)
{
    static uint8_t payload[1024], buf[1100];
    for (int round = 0; round < 600; round++) {
        mt_frame f, a, b;
        size_t w, len;
        uint32_t n = next_rand() % 1025u;
        for (uint32_t i = 0; i < n; i++) payload[i] = (uint8_t)next_rand();
        f.session_id = next_rand();
        f.package_size = next_rand();
        f.fragment_size = (uint16_t)next_rand();
        f.fragment_index = (uint16_t)next_rand();
        f.fragment_count = (uint16_t)next_rand();
        f.payload_len = (uint16_t)n;
        f.payload = payload;
        CHECK_EQ(mt_frame_encode(buf, sizeof buf, &f, &w), MT_OK);
        len = w;
        if (round % 3 == 1) buf[next_rand() % w] ^= (uint8_t)(1u << (next_rand() % 8u));
        if (round % 7 == 2) len = next_rand() % (w + 1u);
        for (int impl = 0; impl <= mt_crc_accelerated(); impl++) {
            int ra = mt_frame_parse(&a, buf, len), rb = mt_frame_parse_impl(&b, buf, len, impl);
            CHECK_EQ(ra, rb);
            if (ra == MT_OK && rb == MT_OK) {
                CHECK_EQ(a.session_id, b.session_id);
                CHECK_EQ(a.fragment_index, b.fragment_index);
                CHECK_EQ(a.payload_len, b.payload_len);
                CHECK(a.payload == b.payload);
            }
        }
    }
}

int main(void)
{
    test_layout();
    test_frame_parse_impl();
    test_frame_codec();
    test_orders();
    test_duplicates_and_missing();
    test_hostile_frames();
    test_begin_checks();
    test_header_refusal();
    test_blocks_ignore_header_fragment_size();
    test_header_check();
    test_blank_check();
    sweep(64, 8);
    sweep(48, 16);
    sweep(16, 1);
    sweep(128, 8);
    stacked_cuts();
    worn_sector();
    printf("sizeof(mt_reasm) = %u bytes, sizeof(mt_flash) = %u bytes\n",
           (unsigned)sizeof(mt_reasm), (unsigned)sizeof(mt_flash));
    return mt_test_done("test_reasm");
}
