/*
 * What a profile costs in speed: CRC-32, CRC-16/X-25, SHA-256 and ECDSA P-256
 * verification through the core's API, timed on the machine running it.
 * Linked once per profile (make -C csrc bench builds and runs both); the
 * Python benchmarks (python -m bench) judge the fast profile against its
 * peers, this only compares the profiles with each other.
 *
 * Each case is timed in batches of at least 0.1 s, best of 5; the accelerated
 * paths (PCLMULQDQ, SHA-NI) are timed as well where the profile has them and
 * the CPU offers them. The first argument names the profile (for the labels).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mt_crc.h"
#include "mt_p256.h"
#include "mt_sha256.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Keeps results alive so the work is not optimised away. */
static volatile uint32_t sink;

static uint8_t image[128 * 1024];

typedef void (*bench_fn)(void);

static int impl; /* the path the current case asks for (the _impl entry points) */

static void crc32_image(void) { sink += mt_crc32_impl(0, image, sizeof image, impl); }

static void x25_frames(void)
{
    /* a 128 KiB image as 1,024 frames of 128 bytes, one FCS each */
    for (size_t off = 0; off < sizeof image; off += 128)
        sink += mt_crc16_x25_impl(image + off, 128, impl);
}

static void sha_image(void)
{
    uint8_t d[32];
    mt_sha256_impl(image, sizeof image, d, impl);
    sink += d[0];
}

/* The two digests of a validation (image alone, header || image) in one read. */
static void sha_image_twice(void)
{
    static const uint8_t header[128];
    mt_sha256_ctx a, b;
    uint8_t d[32];
    mt_sha256_init_impl(&a, impl);
    mt_sha256_init_impl(&b, impl);
    mt_sha256_update(&b, header, sizeof header);
    mt_sha256_update2(&a, &b, image, sizeof image);
    mt_sha256_final(&a, d);
    sink += d[0];
    mt_sha256_final(&b, d);
    sink += d[0];
}

static mt_p256_pubkey key;
static uint8_t digest[32], rs[64];

static void verify(void) { sink += (uint32_t)mt_ecdsa_verify_raw(&key, digest, rs); }

/* The work of a bank's validation (mt_image_check steps 6, 7 and 9) on a
 * 128 KiB image: CRC-32, SHA-256, one verification. */
static void validate(void)
{
    crc32_image();
    sha_image();
    verify();
}

/* Seconds per call: batches of at least 0.1 s, the best of five. */
static double timed(bench_fn fn)
{
    unsigned n = 1;
    double best = 0;
    for (;;) {
        double t0 = now();
        for (unsigned i = 0; i < n; i++) fn();
        double dt = now() - t0;
        if (dt >= 0.1) {
            best = dt / n;
            break;
        }
        n *= 2;
    }
    for (int round = 1; round < 5; round++) {
        double t0 = now();
        for (unsigned i = 0; i < n; i++) fn();
        double per = (now() - t0) / n;
        if (per < best) best = per;
    }
    return best;
}

static void unhex(uint8_t *out, size_t n, const char *hex)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void row(const char *profile, const char *what, const char *path, double sec,
                double bytes)
{
    if (bytes > 0)
        printf("%-10s %-34s %-20s %10.1f MB/s %10.1f us\n", profile, what, path,
               bytes / sec / 1e6, sec * 1e6);
    else
        printf("%-10s %-34s %-20s %10.0f /s   %10.1f us\n", profile, what, path, 1 / sec,
               sec * 1e6);
}

int main(int argc, char **argv)
{
    const char *profile = argc > 1 ? argv[1] : "?";
    uint8_t pt[65];
    uint32_t s = 0x12345678u;
    for (size_t i = 0; i < sizeof image; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        image[i] = (uint8_t)s;
    }
    /* a NIST/Wycheproof-checked vector of csrc/tests/test_p256.c */
    unhex(pt, 65, "0461216494fcbaea4d543a9d9b5b62279369487f1e3c8a0ffc792e43b26dae9d9c9e404bec30"
                  "96ae2503166f75489d21869abe0e4a955bbb28d5a398f10df530ff");
    unhex(digest, 32, "a850c77b642289d1862bfd131fba0d681297c0ba1cb010c8fcb9eba5f85a24c2");
    unhex(rs, 64, "5e052ad2322e72b8e0ff07b21dcdb409ae6bcf959a94f3095c93de85594f05330d33854420"
                  "9820f8a5f75e858f441f305ada9d9895b43bef1c554df99fe4a135");
    if (mt_p256_pubkey_parse(&key, pt, sizeof pt) != 0 || mt_ecdsa_verify_raw(&key, digest, rs) != 0) {
        fprintf(stderr, "bench_core: the verification vector does not verify\n");
        return 1;
    }

    /* the labels of the portable paths, by the profile the caller names */
    int small = strstr(profile, "small") != NULL;
    const char *tables = small ? "byte table" : "slicing-by-8 tables";
    const char *rounds = small ? "rolled rounds" : "unrolled rounds";
    const double len = (double)sizeof image;

    impl = 0;
    row(profile, "CRC-32, 128 KiB", tables, timed(crc32_image), len);
    row(profile, "CRC-16/X-25, 1024 x 128 B", tables, timed(x25_frames), len);
    row(profile, "SHA-256, 128 KiB", rounds, timed(sha_image), len);
    row(profile, "SHA-256 twice, 128 KiB (one read)", rounds, timed(sha_image_twice), len);
    row(profile, "ECDSA P-256 verify", small ? "G table width 4" : "G table width 7",
        timed(verify), 0);
    row(profile, "validate 128 KiB (CRC+SHA+ECDSA)", "portable", timed(validate), 0);
    impl = 1;
    if (mt_crc_accelerated()) {
        row(profile, "CRC-32, 128 KiB", "PCLMULQDQ folding", timed(crc32_image), len);
        row(profile, "CRC-16/X-25, 1024 x 128 B", "PCLMULQDQ folding", timed(x25_frames), len);
    }
    if (mt_sha256_accelerated())
    {
        row(profile, "SHA-256, 128 KiB", "SHA-NI", timed(sha_image), len);
        row(profile, "SHA-256 twice, 128 KiB (one read)", "SHA-NI, two chains",
            timed(sha_image_twice), len);
    }
    return 0;
}
