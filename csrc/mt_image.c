/*
 * Package header and trailer parsing, and the image acceptance check.
 * Layout: mt_pkg.h. Interface and check order: mt_image.h.
 *
 * Every byte of the package is attacker-controlled: the header fields, the
 * trailer's TLV types and lengths, the signature. Lengths are compared
 * subtract-first against the bytes left, so no sum of attacker values is ever
 * formed in a type it could wrap; where a sum is formed its bound is stated.
 */
#include "mt_image.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"
#include "mt_sha256.h"

/* Bytes hashed per step of the streaming pass: small enough to stay in L1. */
#define MT_IMAGE_CHUNK 4096u

int mt_pkg_header_parse(mt_pkg_header *out, const uint8_t *buf, size_t len)
{
    mt_pkg_header h;
    uint64_t package_size, expect_count;
    size_t i;

    if (out == NULL || buf == NULL) return MT_E_ARG;
    if (len < MT_PKG_HEADER_SIZE) return MT_E_LENGTH;

    /* 1. Identity: magic, format version, header size. */
    if (memcmp(buf, MT_PKG_MAGIC, 4) != 0) return MT_E_HDR_MAGIC;
    h.format_version = mt_ld16le(buf + 4);
    h.header_size = mt_ld16le(buf + 6);
    if (h.format_version != MT_PKG_FORMAT_VERSION || h.header_size != MT_PKG_HEADER_SIZE)
        return MT_E_HDR_MAGIC;

    /* 2. Header checksum over bytes 0..123. */
    h.header_crc32 = mt_ld32le(buf + 124);
    if (mt_crc32(0, buf, 124) != h.header_crc32) return MT_E_HDR_CRC;

    h.vendor_id = mt_ld32le(buf + 8);
    h.hw_revision = mt_ld16le(buf + 12);
    h.flags = mt_ld16le(buf + 14);
    h.behaviour = (uint8_t)(h.flags & 0x0Fu);
    h.version_major = buf[16];
    h.version_minor = buf[17];
    h.version_patch = mt_ld16le(buf + 18);
    h.version_build = mt_ld32le(buf + 20);
    h.security_counter = mt_ld32le(buf + 24);
    h.image_size = mt_ld32le(buf + 28);
    h.fragment_size = mt_ld16le(buf + 32);
    h.trailer_size = mt_ld16le(buf + 34);
    h.fragment_count = mt_ld32le(buf + 36);
    h.image_crc32 = mt_ld32le(buf + 40);
    memcpy(h.image_sha256, buf + 44, 32);
    memcpy(h.key_id, buf + 76, MT_PKG_KEY_ID_LEN);

    /* 3. Field ranges. */
    if ((h.flags & 0xFFF0u) != 0 || h.behaviour > MT_BEHAVIOUR_SLOW_BOOT) return MT_E_HDR_FIELD;
    if (h.fragment_size < MT_PKG_FRAGMENT_MIN || h.fragment_size > MT_PKG_FRAGMENT_MAX ||
        h.fragment_size % MT_PKG_FRAGMENT_ALIGN != 0)
        return MT_E_HDR_FIELD;
    if (h.trailer_size > MT_PKG_TRAILER_MAX) return MT_E_HDR_FIELD;
    if (h.image_size < 1) return MT_E_HDR_FIELD;
    for (i = 84; i < 124; i++)
        if (buf[i] != 0) return MT_E_HDR_FIELD;

    /* 4. Geometry. image_size < 2^32 and header + trailer <= 128 + 1024, so the
     * 64-bit sum cannot wrap; the package size must also fit 32 bits, which
     * makes every later offset computation in size_t safe on 32-bit hosts. */
    package_size = (uint64_t)h.header_size + h.image_size + h.trailer_size;
    if (package_size > 0xFFFFFFFFu) return MT_E_HDR_FIELD;
    h.package_size = (uint32_t)package_size;
    /* fragment_size >= 16, so the quotient is < 2^32 and the sum no wrap. */
    expect_count = (package_size + h.fragment_size - 1u) / h.fragment_size;
    if (expect_count != h.fragment_count) return MT_E_HDR_FIELD;

    *out = h;
    return MT_OK;
}

int mt_pkg_trailer_parse(mt_pkg_signature *out, const uint8_t *trailer, size_t len)
{
    size_t off = 0;
    int found = 0;

    if (out == NULL || (trailer == NULL && len != 0)) return MT_E_ARG;
    while (off < len) {
        unsigned type = trailer[off];
        size_t vlen;

        if (type == MT_PKG_TLV_PAD) {
            /* Padding: every byte from here to the end must be 0xFF. */
            for (; off < len; off++)
                if (trailer[off] != 0xFFu) return MT_E_TRAILER;
            break;
        }
        /* type + 2-byte length must fit in what is left (off < len here). */
        if (len - off < 3) return MT_E_TRAILER;
        vlen = mt_ld16le(trailer + off + 1); /* attacker-controlled, <= 65535 */
        off += 3;
        if (vlen > len - off) return MT_E_TRAILER;
        if (type == MT_PKG_TLV_SIG_DER) {
            if (vlen < 8 || vlen > MT_PKG_SIG_MAX) return MT_E_TRAILER;
        } else if (type == MT_PKG_TLV_SIG_RAW) {
            if (vlen != 64) return MT_E_TRAILER;
        } else {
            return MT_E_TRAILER;
        }
        if (found) return MT_E_TRAILER; /* exactly one signature */
        found = 1;
        out->type = (uint8_t)type;
        out->len = (uint8_t)vlen;    /* <= 72 by the checks above */
        memcpy(out->sig, trailer + off, vlen);
        off += vlen;                  /* <= len by the check above */
    }
    return found ? MT_OK : MT_E_NO_SIGNATURE;
}

int mt_image_key_init(mt_image_key *out, const uint8_t *point, size_t len)
{
    uint8_t enc[65], digest[32];
    mt_p256_pubkey key;
    int rc;

    if (out == NULL || point == NULL) return MT_E_ARG;
    rc = mt_p256_pubkey_parse(&key, point, len);
    if (rc != MT_OK) return rc;
    /* The key ID is defined over the uncompressed encoding, whatever form
     * the caller handed in. */
    mt_p256_pubkey_encode(&key, enc);
    mt_sha256(enc, sizeof enc, digest);
    out->key = key;
    memcpy(out->key_id, digest, MT_PKG_KEY_ID_LEN);
    return MT_OK;
}

static const mt_image_key *find_key(const mt_image_policy *policy, const uint8_t id[8])
{
    uint32_t i;

    for (i = 0; i < policy->key_count && i < MT_IMAGE_MAX_KEYS; i++)
        if (memcmp(policy->keys[i].key_id, id, MT_PKG_KEY_ID_LEN) == 0) return &policy->keys[i];
    return NULL;
}

/* SHA-256 of data, len bytes, fed to ctx in chunks. */
static void hash_stream(mt_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    size_t off = 0;

    while (off < len) {
        size_t n = len - off < MT_IMAGE_CHUNK ? len - off : MT_IMAGE_CHUNK;
        mt_sha256_update(ctx, data + off, n);
        off += n;
    }
}

/* The cache key (mt_image_cache): SHA-256(signed_digest || trailer || the
 * signer's point 0x04 || X || Y). Everything the check reads: the header and
 * the image through signed_digest, the whole trailer (signature record and
 * padding), and the key the signature is checked against. trailer_len is the
 * header's trailer_size, <= MT_PKG_TRAILER_MAX. ctx: freshly initialised by
 * the caller, which reuses a context it is done with, so that no third one
 * sits on the verification stack. */
static void cache_key(mt_sha256_ctx *ctx, const uint8_t signed_digest[32], const uint8_t *trailer,
                      size_t trailer_len, const mt_image_key *key, uint8_t out[32])
{
    static const uint8_t uncompressed = 0x04; /* SEC1 prefix (mt_p256_pubkey_encode) */

    mt_sha256_update(ctx, signed_digest, 32);
    mt_sha256_update(ctx, trailer, trailer_len);
    mt_sha256_update(ctx, &uncompressed, 1);
    mt_sha256_update(ctx, key->key.x, 32);
    mt_sha256_update(ctx, key->key.y, 32);
    mt_sha256_final(ctx, out);
}

int mt_image_check(mt_pkg_header *out, const mt_image_policy *policy,
                   const uint8_t *pkg, size_t available, int complete,
                   mt_image_cache *cache)
{
    mt_pkg_header h;
    mt_pkg_signature sig;
    mt_sha256_ctx img_ctx, signed_ctx;
    uint8_t img_digest[32], signed_digest[32];
    const mt_image_key *key;
    const uint8_t *image, *trailer;
    uint32_t crc = 0;
    size_t off;
    int rc, cached, impl;

    if (policy == NULL || (pkg == NULL && available != 0)) return MT_E_ARG;
    if (policy->key_count > MT_IMAGE_MAX_KEYS || (policy->keys == NULL && policy->key_count))
        return MT_E_ARG;

    /* 1. Header sanity. A buffer too short to hold a header is a package
     * whose first fragments are missing. */
    if (available < MT_PKG_HEADER_SIZE) return MT_E_INCOMPLETE;
    rc = mt_pkg_header_parse(&h, pkg, available);
    if (rc != MT_OK) return rc;

    /* 2, 3. Meant for this meter. */
    if (h.vendor_id != policy->vendor_id) return MT_E_VENDOR;
    if (h.hw_revision != policy->hw_revision) return MT_E_HW_REV;

    /* 4. Fits the bank (header, image and trailer). */
    if (h.package_size > policy->bank_size) return MT_E_TOO_BIG;

    /* 5. Complete: every fragment received and every byte present. From
     * here on [pkg, pkg + package_size) is readable. */
    if (!complete || h.package_size > available) return MT_E_INCOMPLETE;

    /* 6, 7. One streaming pass: CRC-32 and SHA-256 of the image, and the
     * signed digest SHA-256(header || image). With a cache entry the image
     * SHA-256 is deferred: a hit implies it (see mt_image_cache). */
    image = pkg + MT_PKG_HEADER_SIZE;
    trailer = image + h.image_size; /* package_size = 128 + image + trailer <= available */
    cached = cache != NULL && cache->valid;
    impl = policy->sha_impl < 0 ? mt_sha256_accelerated() : policy->sha_impl;
    mt_sha256_init_impl(&img_ctx, impl);
    mt_sha256_init_impl(&signed_ctx, impl);
    mt_sha256_update(&signed_ctx, pkg, MT_PKG_HEADER_SIZE);
    for (off = 0; off < h.image_size;) {
        size_t n = h.image_size - off < MT_IMAGE_CHUNK ? h.image_size - off : MT_IMAGE_CHUNK;
        crc = mt_crc32(crc, image + off, n);
        if (!cached) mt_sha256_update(&img_ctx, image + off, n);
        mt_sha256_update(&signed_ctx, image + off, n);
        off += n;
    }
    mt_sha256_final(&signed_ctx, signed_digest);
    if (crc != h.image_crc32) return MT_E_IMAGE_CRC;
    /* The key is looked up here (its check, step 8, still comes after step
     * 7) because the cache key needs it: without a trusted key no hit. */
    key = find_key(policy, h.key_id);
    if (cached) {
        if (key != NULL) {
            /* img_digest is scratch here: on a miss it is computed below */
            mt_sha256_init_impl(&signed_ctx, impl);
            cache_key(&signed_ctx, signed_digest, trailer, h.trailer_size, key, img_digest);
            cached = memcmp(cache->digest, img_digest, 32) == 0;
        } else {
            cached = 0;
        }
        if (!cached) hash_stream(&img_ctx, image, h.image_size); /* a miss: hash it now */
    }
    if (!cached) {
        mt_sha256_final(&img_ctx, img_digest);
        if (memcmp(img_digest, h.image_sha256, 32) != 0) return MT_E_IMAGE_SHA;
    }

    /* 8. Signed by a key the meter trusts. */
    if (key == NULL) return MT_E_UNKNOWN_KEY;

    /* 9. The trailer holds exactly one well-formed signature, and it verifies
     * over SHA-256(header || image). A cache hit means these very header,
     * image, trailer and key have verified before: the trailer is still
     * parsed, ECDSA is skipped. */
    rc = mt_pkg_trailer_parse(&sig, trailer, h.trailer_size);
    if (rc != MT_OK) return rc;
    if (!cached) {
        if (sig.type == MT_PKG_TLV_SIG_RAW)
            rc = mt_ecdsa_verify_raw(&key->key, signed_digest, sig.sig);
        else
            rc = mt_ecdsa_verify_der(&key->key, signed_digest, sig.sig, sig.len);
        if (rc != MT_OK) return MT_E_SIGNATURE;
        if (cache != NULL) {
            mt_sha256_init_impl(&signed_ctx, impl);
            cache_key(&signed_ctx, signed_digest, trailer, h.trailer_size, key, cache->digest);
            cache->valid = 1;
        }
    }

    /* 10. Anti-rollback. */
    if (h.security_counter < policy->installed_counter) return MT_E_DOWNGRADE;

    if (out != NULL) *out = h;
    return MT_OK;
}
