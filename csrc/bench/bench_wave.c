/*
 * The C-core floor of a firmware wave: a meter's whole update with no Python
 * in the loop, repeated for N meters, CPU time per phase per meter.
 *
 *   bench_wave [--json] PACKAGE KEY FACTORY [METERS [SEED [LOSS_PERCENT]]]
 *
 * PACKAGE is the signed package broadcast, FACTORY the signed factory package
 * (golden and bank A), KEY the trusted signer's SEC1 point (65 bytes). The
 * meter's vendor and hardware revision are the package's. python -m
 * bench.meter writes the three files and runs this next to its own C core
 * path (make -C csrc bench-wave builds it).
 *
 * Per meter, as bench.meter's C core path does through the binding:
 *   set-up       the meter's flash from a provisioned state (a copy of the
 *                cells of a meter provisioned once: factory image in golden
 *                and bank A, first boot record), the bootloader bound and
 *                started (its first start validates bank A), boot ok;
 *   fragments    every frame of the package broadcast over a link that
 *                loses each one with the given probability (a per-meter
 *                xorshift generator, seeded), then rounds re-sending what
 *                the meter's missing bitmap names, until complete; each frame
 *                delivered goes through mt_reasm_frame;
 *   validation   mt_boot_verify on the inactive bank;
 *   activation   mt_boot_activate, mt_boot_start, mt_boot_boot_ok,
 *                mt_boot_confirm.
 * Choosing the lost frames (the link) is timed apart, as is the set-up; the
 * per-meter figure is fragments + validation + activation. Every meter must
 * end confirmed on the new image, else the run fails.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_boot.h"
#include "mt_crc.h"
#include "mt_err.h"
#include "mt_frame.h"
#include "mt_image.h"
#include "mt_layout.h"
#include "mt_reasm.h"
#include "mt_sha256.h"

#define DEVICE MT_LAYOUT_DEFAULT_DEVICE_SIZE
#define SECTOR MT_FLASH_SECTOR_DEFAULT
#define SECTORS (DEVICE / SECTOR)
#define PKG_MAX (128u * 1024u)
#define FRAMES_MAX (PKG_MAX / MT_PKG_FRAGMENT_MIN)
#define SESSION 0xBE4Cu

enum phase { SETUP, LINK, FRAGMENTS, VALIDATION, ACTIVATION, PHASES };
static const char *const phase_name[PHASES] = {
    "set-up", "link", "fragments", "validation", "activation",
};
static const char *const phase_key[PHASES] = {
    "setup_us", "link_us", "fragments_us", "validation_us", "activation_us",
};

/* Large buffers, static so the stack stays small. */
static uint8_t pkg[PKG_MAX], factory_pkg[PKG_MAX];
static uint8_t provisioned[DEVICE], mem[DEVICE];
static uint32_t provisioned_wear[SECTORS], wear[SECTORS], gen[SECTORS];
static uint8_t frames[PKG_MAX + FRAMES_MAX * MT_FRAME_OVERHEAD];
static uint32_t frame_off[FRAMES_MAX + 1];
static uint32_t todo[FRAMES_MAX], arrived[FRAMES_MAX];

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "bench_wave: %s (%d)\n", what, rc);
    exit(2);
}

static size_t load(const char *path, uint8_t *out, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    size_t n;
    if (fp == NULL) {
        fprintf(stderr, "bench_wave: cannot open %s\n", path);
        exit(2);
    }
    n = fread(out, 1, cap, fp);
    if (fgetc(fp) != EOF) {
        fprintf(stderr, "bench_wave: %s is larger than %zu bytes\n", path, cap);
        exit(2);
    }
    fclose(fp);
    return n;
}

/* One meter's flash, bootloader and reassembler. */
typedef struct meter {
    mt_flash flash;
    mt_boot boot;
    mt_reasm reasm;
} meter;

static mt_layout layout;
static mt_image_key key;

static void bind(meter *m, uint8_t *cells, uint32_t *wear_of, int sha_impl, int crc_impl)
{
    mt_boot_config cfg;
    int rc;
    memset(&cfg, 0, sizeof cfg);
    rc = mt_flash_init(&m->flash, cells, DEVICE, wear_of, SECTOR, MT_FLASH_ALIGN_DEFAULT);
    if (rc != MT_OK) fail("flash init", rc);
    mt_flash_track(&m->flash, gen);
    mt_layout_area(&layout, &m->flash, MT_PART_BANK_A, &cfg.bank[MT_BOOT_BANK_A]);
    mt_layout_area(&layout, &m->flash, MT_PART_BANK_B, &cfg.bank[MT_BOOT_BANK_B]);
    mt_layout_area(&layout, &m->flash, MT_PART_GOLDEN, &cfg.bank[MT_BOOT_BANK_GOLDEN]);
    mt_layout_area(&layout, &m->flash, MT_PART_BOOT0, &cfg.control[0]);
    mt_layout_area(&layout, &m->flash, MT_PART_BOOT1, &cfg.control[1]);
    mt_layout_area(&layout, &m->flash, MT_PART_FLOOR, &cfg.floor);
    {
        mt_pkg_header h;
        rc = mt_pkg_header_parse(&h, pkg, MT_PKG_HEADER_SIZE);
        if (rc != MT_OK) fail("package header", rc);
        cfg.vendor_id = h.vendor_id;
        cfg.hw_revision = h.hw_revision;
    }
    cfg.keys = &key;
    cfg.key_count = 1;
    rc = mt_boot_init_impl(&m->boot, &cfg, sha_impl, crc_impl);
    if (rc != MT_OK) fail("boot init", rc);
}

/* The factory image padded to the write unit into a partition. */
static void put(meter *m, unsigned part, const uint8_t *data, size_t len)
{
    static uint8_t tmp[PKG_MAX + 16u];
    size_t padded = (len + 7u) & ~(size_t)7u;
    int rc;
    memset(tmp, 0xFF, padded);
    memcpy(tmp, data, len);
    rc = mt_flash_program(&m->flash, layout.part[part].off, tmp, (uint32_t)padded);
    if (rc != MT_OK) fail("factory program", rc);
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

int main(int argc, char **argv)
{
    static meter m;
    mt_layout_params lp;
    mt_pkg_header h;
    uint8_t point[80];
    double t[PHASES] = {0}, t0;
    unsigned long sent = 0, delivered = 0, rounds = 0, hashed = 0, verified = 0;
    unsigned meters = 1000, seed = 1, loss_pct = 10;
    int json = 0, sha_impl, crc_impl, rc;
    size_t pkg_len, factory_len, point_len;
    uint32_t count, fsize, loss_cut;
    int a = 1;

    if (argc > 1 && strcmp(argv[1], "--json") == 0) {
        json = 1;
        a = 2;
    }
    if (argc - a < 3) {
        fprintf(stderr, "usage: bench_wave [--json] PACKAGE KEY FACTORY [METERS [SEED [LOSS_PERCENT]]]\n");
        return 2;
    }
    pkg_len = load(argv[a], pkg, sizeof pkg);
    point_len = load(argv[a + 1], point, sizeof point);
    factory_len = load(argv[a + 2], factory_pkg, sizeof factory_pkg);
    if (argc - a > 3) meters = (unsigned)strtoul(argv[a + 3], NULL, 10);
    if (argc - a > 4) seed = (unsigned)strtoul(argv[a + 4], NULL, 10);
    if (argc - a > 5) loss_pct = (unsigned)strtoul(argv[a + 5], NULL, 10);
    if (meters == 0 || loss_pct >= 100) fail("METERS >= 1 and LOSS_PERCENT < 100", 0);
    loss_cut = (uint32_t)(4294967296.0 * loss_pct / 100.0);

    rc = mt_image_key_init(&key, point, point_len);
    if (rc != MT_OK) fail("trusted key", rc);
    rc = mt_pkg_header_parse(&h, pkg, pkg_len);
    if (rc != MT_OK || h.package_size != pkg_len) fail("package header", rc);
    count = h.fragment_count;
    fsize = h.fragment_size;
    mt_layout_default_params(&lp);
    rc = mt_layout_compute(&layout, &lp, DEVICE);
    if (rc != MT_OK) fail("layout", rc);
    sha_impl = mt_sha256_accelerated();
    crc_impl = mt_crc_accelerated();

    /* The frames, laid end to end. */
    frame_off[0] = 0;
    for (uint32_t i = 0; i < count; i++) {
        mt_frame fr;
        size_t w;
        uint32_t off = i * fsize;
        fr.session_id = SESSION;
        fr.package_size = (uint32_t)pkg_len;
        fr.fragment_size = (uint16_t)fsize;
        fr.fragment_index = (uint16_t)i;
        fr.fragment_count = (uint16_t)count;
        fr.payload_len = (uint16_t)(pkg_len - off < fsize ? pkg_len - off : fsize);
        fr.payload = pkg + off;
        rc = mt_frame_encode(frames + frame_off[i], sizeof frames - frame_off[i], &fr, &w);
        if (rc != MT_OK) fail("frame encode", rc);
        frame_off[i + 1] = frame_off[i] + (uint32_t)w;
    }

    /* One meter provisioned, its cells and wear kept as every meter's start. */
    memset(mem, 0xFF, sizeof mem);
    memset(wear, 0, sizeof wear);
    bind(&m, mem, wear, sha_impl, crc_impl);
    put(&m, MT_PART_GOLDEN, factory_pkg, factory_len);
    put(&m, MT_PART_BANK_A, factory_pkg, factory_len);
    if ((rc = mt_boot_provision(&m.boot)) != MT_OK) fail("provision", rc);
    memcpy(provisioned, mem, sizeof mem);
    memcpy(provisioned_wear, wear, sizeof wear);

    for (unsigned k = 0; k < meters; k++) {
        uint32_t rng = 0x9E3779B9u * (seed * 1000003u + k + 1u) | 1u;
        uint32_t n = count;
        mt_flash_area bank, progress;
        int inactive;

        t0 = cpu();
        memcpy(mem, provisioned, sizeof mem);
        memcpy(wear, provisioned_wear, sizeof wear);
        bind(&m, mem, wear, sha_impl, crc_impl);
        if ((rc = mt_boot_start(&m.boot)) != MT_OK) fail("first start", rc);
        if ((rc = mt_boot_boot_ok(&m.boot)) != MT_OK) fail("first boot ok", rc);
        inactive = mt_boot_inactive(&m.boot);
        if (inactive < 0) fail("inactive", inactive);
        bank = m.boot.cfg.bank[inactive];
        mt_layout_area(&layout, &m.flash, MT_PART_PROGRESS, &progress);
        rc = mt_reasm_init_impl(&m.reasm, &bank, &progress, m.boot.cfg.vendor_id,
                                m.boot.cfg.hw_revision, crc_impl);
        if (rc != MT_OK) fail("reasm init", rc);
        t[SETUP] += cpu() - t0;

        t0 = cpu();
        rc = mt_reasm_begin(&m.reasm, SESSION, (uint32_t)pkg_len, fsize, count);
        if (rc != MT_OK) fail("begin", rc);
        t[FRAGMENTS] += cpu() - t0;
        for (uint32_t i = 0; i < count; i++) todo[i] = i;
        while (n != 0) {
            uint32_t got = 0;
            uint8_t missing[FRAMES_MAX / 8u];
            size_t written;
            t0 = cpu();
            for (uint32_t i = 0; i < n; i++)
                if (xorshift(&rng) >= loss_cut) arrived[got++] = todo[i];
            t[LINK] += cpu() - t0;
            rounds++;
            sent += n;
            delivered += got;
            t0 = cpu();
            for (uint32_t i = 0; i < got; i++) {
                uint32_t f = arrived[i];
                rc = mt_reasm_frame(&m.reasm, frames + frame_off[f], frame_off[f + 1] - frame_off[f]);
                if (rc != MT_OK) fail("frame", rc);
            }
            t[FRAGMENTS] += cpu() - t0;
            /* the head-end's next round: what the meter reports missing */
            t0 = cpu();
            rc = mt_reasm_missing(&m.reasm, missing, sizeof missing, &written);
            if (rc != MT_OK) fail("missing", rc);
            n = 0;
            for (uint32_t i = 0; i < count; i++)
                if ((missing[i / 8u] >> (i % 8u)) & 1u) todo[n++] = i;
            t[LINK] += cpu() - t0;
        }
        if (!mt_reasm_complete(&m.reasm)) fail("not complete", 0);

        t0 = cpu();
        rc = mt_boot_verify(&m.boot, &h, 1);
        t[VALIDATION] += cpu() - t0;
        if (rc != MT_OK) fail("verify", rc);

        t0 = cpu();
        if ((rc = mt_boot_activate(&m.boot, 1)) != MT_OK) fail("activate", rc);
        if ((rc = mt_boot_start(&m.boot)) != MT_OK) fail("start", rc);
        if ((rc = mt_boot_boot_ok(&m.boot)) != MT_OK) fail("boot ok", rc);
        if ((rc = mt_boot_confirm(&m.boot)) != MT_OK) fail("confirm", rc);
        t[ACTIVATION] += cpu() - t0;
        if (m.boot.running != inactive || m.boot.rec.state != MT_BOOT_CONFIRMED)
            fail("not running the new image confirmed", 0);
        hashed += m.boot.cache[inactive].hashed;
        verified += m.boot.cache[inactive].verified;
    }

    {
        double per = 1e6 / meters, total = (t[FRAGMENTS] + t[VALIDATION] + t[ACTIVATION]) * per;
        if (json) {
            printf("{\"meters\": %u, \"frames_sent\": %.1f, \"frames_delivered\": %.1f, "
                   "\"rounds\": %.2f, \"image_passes\": %.2f, \"ecdsa\": %.2f, \"sha_impl\": %d, "
                   "\"crc_impl\": %d, \"total_us\": %.2f",
                   meters, (double)sent / meters, (double)delivered / meters,
                   (double)rounds / meters, (double)hashed / meters, (double)verified / meters,
                   sha_impl, crc_impl, total);
            for (int p = 0; p < PHASES; p++) printf(", \"%s\": %.2f", phase_key[p], t[p] * per);
            printf("}\n");
        } else {
            printf("C-core floor: %u meters, %.0f frames sent and %.0f delivered per meter, "
                   "%.1f rounds, %.2f image passes and %.2f ECDSA per meter on the new bank\n",
                   meters, (double)sent / meters, (double)delivered / meters,
                   (double)rounds / meters, (double)hashed / meters, (double)verified / meters);
            for (int p = FRAGMENTS; p < PHASES; p++)
                printf("  %-12s %9.2f us per meter\n", phase_name[p], t[p] * per);
            printf("  %-12s %9.2f us per meter\n", "total", total);
            printf("  (%s %.2f us, %s %.2f us per meter, not counted)\n", phase_name[SETUP],
                   t[SETUP] * per, phase_name[LINK], t[LINK] * per);
        }
    }
    return 0;
}
