/*
 * libFuzzer harness: package header parser, trailer parser and the full
 * acceptance check over one buffer.
 *
 * Invariant: every input is accepted or rejected with one of the documented
 * codes of that function (mt_image.h), and nothing else — no read outside
 * the buffer, no undefined behaviour, no other return value.
 *
 * The first input byte picks a mode; with bit 0 set the harness repairs the
 * header CRC, the image CRC-32 and the image SHA-256 of the rest before the
 * check, so the fuzzer gets past the cheap integrity gates into the key,
 * trailer, ECDSA and counter steps.
 *
 * With bit 4 set the input instead edits a copy of pkg_a, a package that
 * passes (XOR pairs: position, value; a length change), and the copy is
 * checked twice: with no cache, and with a pinned cache whose reference is
 * pkg_a (mt_image_cache, "By reference"). Invariant: the same code, and the
 * reference answers exactly when the copy's package bytes are pkg_a's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"
#include "mt_image.h"
#include "mt_sha256.h"

/* The trusted key (vec_trusted_key) and a package it signed (pkg_a), from
 * the C tests' vectors. */
#include "tests/image_vectors.h"

static void repair(uint8_t *p, size_t n)
{
    uint32_t isz;
    if (n < MT_PKG_HEADER_SIZE) return;
    isz = mt_ld32le(p + 28);
    if (isz <= n - MT_PKG_HEADER_SIZE) {
        mt_st32le(p + 40, mt_crc32(0, p + MT_PKG_HEADER_SIZE, isz));
        mt_sha256(p + MT_PKG_HEADER_SIZE, isz, p + 44);
    }
    mt_st32le(p + 124, mt_crc32(0, p, 124));
}

static void expect(int ok)
{
    if (!ok) abort();
}

static mt_image_policy vec_policy(const mt_image_key *key)
{
    mt_image_policy pol;
    memset(&pol, 0, sizeof pol);
    pol.vendor_id = VEC_VENDOR;
    pol.hw_revision = (uint16_t)VEC_HW_REV;
    pol.bank_size = 4096u;
    pol.keys = key;
    pol.key_count = 1;
    return pol;
}

static void reference_mode(const uint8_t *data, size_t size)
{
    static mt_image_cache cache; /* pinned, its reference pkg_a: made once */
    static int ready;
    mt_image_key key;
    mt_image_policy pol;
    uint8_t *buf;
    size_t n = sizeof pkg_a, i;
    uint32_t matched;
    int plain, with, same;

    expect(mt_image_key_init(&key, vec_trusted_key, sizeof vec_trusted_key) == MT_OK);
    pol = vec_policy(&key);
    if (!ready) {
        cache.pin = 1;
        expect(mt_image_check(NULL, &pol, pkg_a, sizeof pkg_a, 1, &cache) == MT_OK);
        expect(cache.ref == pkg_a && cache.ref_len == sizeof pkg_a);
        cache.pin = 0; /* the reference stays pkg_a */
        ready = 1;
    }
    if (size >= 1) { /* a length change: -64 .. +63 bytes */
        int d = (int)(data[0] & 127u) - 64;
        n = (size_t)((int)n + d);
        data++;
        size--;
    }
    buf = malloc(n);
    if (buf == NULL) return;
    for (i = 0; i < n; i++) buf[i] = i < sizeof pkg_a ? pkg_a[i] : 0xFF;
    for (i = 0; i + 1 < size; i += 2) { /* (position, value) pairs */
        size_t at = ((size_t)data[i] * 7u + i) % n;
        buf[at] ^= data[i + 1];
    }
    same = n >= sizeof pkg_a && memcmp(buf, pkg_a, sizeof pkg_a) == 0;
    plain = mt_image_check(NULL, &pol, buf, n, 1, NULL);
    matched = cache.matched;
    with = mt_image_check(NULL, &pol, buf, n, 1, &cache);
    expect(with == plain);
    expect(cache.matched == matched + (same ? 1u : 0u));
    expect(cache.ref == pkg_a);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_pkg_header h;
    mt_pkg_signature sig;
    mt_image_key key;
    mt_image_policy pol;
    mt_image_cache cache;
    uint8_t *buf;
    size_t n;
    int rc;

    if (size == 0) return 0;
    if (data[0] & 16) {
        reference_mode(data + 1, size - 1);
        return 0;
    }
    n = size - 1;
    /* an exact-size heap copy, so any overread is caught */
    buf = malloc(n ? n : 1);
    if (buf == NULL) return 0;
    memcpy(buf, data + 1, n);
    if (data[0] & 1) repair(buf, n);

    rc = mt_pkg_header_parse(&h, buf, n);
    expect(rc == MT_OK || rc == MT_E_LENGTH || rc == MT_E_HDR_MAGIC || rc == MT_E_HDR_CRC ||
           rc == MT_E_HDR_FIELD);
    if (rc == MT_OK) {
        expect(h.package_size == 128u + h.image_size + h.trailer_size);
        expect(h.fragment_size >= 16 && h.fragment_size <= 1024 && h.trailer_size <= 1024);
    }

    rc = mt_pkg_trailer_parse(&sig, buf, n);
    expect(rc == MT_OK || rc == MT_E_TRAILER || rc == MT_E_NO_SIGNATURE);
    if (rc == MT_OK)
        expect((sig.type == MT_PKG_TLV_SIG_DER && sig.len >= 8 && sig.len <= 72) ||
               (sig.type == MT_PKG_TLV_SIG_RAW && sig.len == 64));

    expect(mt_image_key_init(&key, vec_trusted_key, sizeof vec_trusted_key) == MT_OK);
    pol.vendor_id = 0x4D455445u;
    pol.hw_revision = 3;
    pol.bank_size = (data[0] & 2) ? 128u * 1024u : (uint32_t)n;
    pol.installed_counter = (uint32_t)(data[0] >> 4);
    pol.keys = &key;
    pol.key_count = 1;
    pol.sha_impl = 0; /* portable SHA-256 and CRC-32: no CPUID per input */
    pol.crc_impl = 0;
    pol.gen = (data[0] & 8) ? 1u : 0u; /* with a cache: the bytes' write generation */
    memset(&cache, 0, sizeof cache);
    rc = mt_image_check(&h, &pol, buf, n, (data[0] & 4) == 0, (data[0] & 8) ? &cache : NULL);
    expect(rc == MT_OK || rc == MT_E_HDR_MAGIC || rc == MT_E_HDR_CRC || rc == MT_E_HDR_FIELD ||
           rc == MT_E_VENDOR || rc == MT_E_HW_REV || rc == MT_E_TOO_BIG ||
           rc == MT_E_INCOMPLETE || rc == MT_E_IMAGE_CRC || rc == MT_E_IMAGE_SHA ||
           rc == MT_E_UNKNOWN_KEY || rc == MT_E_TRAILER || rc == MT_E_NO_SIGNATURE ||
           rc == MT_E_SIGNATURE || rc == MT_E_DOWNGRADE);
    if (rc == MT_OK) expect(h.package_size <= n && h.security_counter >= pol.installed_counter);
    if (data[0] & 8) {
        /* the same bytes at the same generation: the cache may skip work,
         * never change the answer */
        mt_pkg_header h2;
        uint32_t hashed = cache.hashed;
        expect(mt_image_check(&h2, &pol, buf, n, (data[0] & 4) == 0, &cache) == rc);
        if (rc == MT_OK)
            expect(cache.hashed == hashed && h2.package_size == h.package_size &&
                   h2.security_counter == h.security_counter &&
                   memcmp(h2.image_sha256, h.image_sha256, 32) == 0);
    }
    free(buf);
    return 0;
}
