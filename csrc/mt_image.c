/*
 * The image acceptance check (SPEC section 4; order and cache: mt_image.h).
 * Parsing is mt_image_parse.c, the trusted keys mt_image_key.c.
 *
 * Every byte of the package is attacker-controlled. The header is parsed and
 * range-checked before any of its lengths is used; from step 5 on
 * [pkg, pkg + package_size) is known to be readable.
 */
#include "mt_image.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_err.h"
#include "mt_image_impl.h"
#include "mt_sha256.h"

/* Bytes hashed per step of the streaming pass: small enough to stay in L1. */
#define MT_IMAGE_CHUNK 4096u

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

/* 0 and MT_IMAGE_GEN_UNKNOWN: the caller cannot say (mt_image_policy). */
static int gen_known(uint32_t gen)
{
    return gen != 0 && gen != MT_IMAGE_GEN_UNKNOWN;
}

/* 1 when steps 6, 7 and 9 are known to pass without running them: the bytes
 * are unchanged since they passed (the write generation recorded then) and
 * the header's key ID still names the key they verified with (the lookup of
 * step 8). Nothing else is read; see mt_image_cache. */
static int generation_hit(const mt_image_cache *cache, const mt_image_policy *policy,
                          const mt_pkg_header *h)
{
    const mt_image_key *key;

    if (cache == NULL || !cache->gen_valid || !gen_known(policy->gen) || policy->gen != cache->gen)
        return 0;
    key = mt_image_find_key(policy, h->key_id);
    return key != NULL && memcmp(&key->key, &cache->signer, sizeof key->key) == 0;
}

/* Steps 6 to 9 on a package whose header h passed steps 1 to 5, so that
 * [pkg, pkg + h->package_size) is readable. With a cache: the content key is
 * tried and kept, and the generation recorded when they pass (forgotten
 * otherwise: it is not these bytes'). */
static int check_contents(const mt_pkg_header *h, const mt_image_policy *policy,
                          const uint8_t *pkg, mt_image_cache *cache)
{
    mt_pkg_signature sig;
    mt_sha256_ctx img_ctx, signed_ctx;
    uint8_t img_digest[32], signed_digest[32];
    const mt_image_key *key;
    const uint8_t *image, *trailer;
    uint32_t crc = 0;
    size_t off;
    int rc, cached, impl, crc_impl;

    if (cache != NULL) {
        cache->gen_valid = 0;
        cache->hashed++;
    }

    /* 6, 7. One streaming pass: CRC-32 and SHA-256 of the image, and the
     * signed digest SHA-256(header || image). With a cache entry the image
     * SHA-256 is deferred: a hit implies it (see mt_image_cache). */
    image = pkg + MT_PKG_HEADER_SIZE;
    trailer = image + h->image_size; /* package_size = 128 + image + trailer <= available */
    cached = cache != NULL && cache->valid;
    impl = policy->sha_impl < 0 ? mt_sha256_accelerated() : policy->sha_impl;
    crc_impl = policy->crc_impl < 0 ? mt_crc_accelerated() : policy->crc_impl;
    mt_sha256_init_impl(&img_ctx, impl);
    mt_sha256_init_impl(&signed_ctx, impl);
    mt_sha256_update(&signed_ctx, pkg, MT_PKG_HEADER_SIZE);
    for (off = 0; off < h->image_size;) {
        size_t n = h->image_size - off < MT_IMAGE_CHUNK ? h->image_size - off : MT_IMAGE_CHUNK;
        crc = mt_crc32_impl(crc, image + off, n, crc_impl);
        if (cached)
            mt_sha256_update(&signed_ctx, image + off, n);
        else /* both digests in one read: the header left signed_ctx at a block boundary */
            mt_sha256_update2(&img_ctx, &signed_ctx, image + off, n);
        off += n;
    }
    mt_sha256_final(&signed_ctx, signed_digest);
    if (crc != h->image_crc32) return MT_E_IMAGE_CRC;
    /* The key is looked up here (its check, step 8, still comes after step
     * 7) because the cache key needs it: without a trusted key no hit. */
    key = mt_image_find_key(policy, h->key_id);
    if (cached) {
        if (key != NULL) {
            /* img_digest is scratch here: on a miss it is computed below */
            mt_sha256_init_impl(&signed_ctx, impl);
            cache_key(&signed_ctx, signed_digest, trailer, h->trailer_size, key, img_digest);
            cached = memcmp(cache->digest, img_digest, 32) == 0;
        } else {
            cached = 0;
        }
        if (!cached) hash_stream(&img_ctx, image, h->image_size); /* a miss: hash it now */
    }
    if (!cached) {
        mt_sha256_final(&img_ctx, img_digest);
        if (memcmp(img_digest, h->image_sha256, 32) != 0) return MT_E_IMAGE_SHA;
    }

    /* 8. Signed by a key the meter trusts. */
    if (key == NULL) return MT_E_UNKNOWN_KEY;

    /* 9. The trailer holds exactly one well-formed signature, and it verifies
     * over SHA-256(header || image). A cache hit means these very header,
     * image, trailer and key have verified before: the trailer is still
     * parsed, ECDSA is skipped. */
    rc = mt_pkg_trailer_parse(&sig, trailer, h->trailer_size);
    if (rc != MT_OK) return rc;
    if (!cached) {
        if (cache != NULL) cache->verified++;
        if (sig.type == MT_PKG_TLV_SIG_RAW)
            rc = mt_ecdsa_verify_raw(&key->key, signed_digest, sig.sig);
        else
            rc = mt_ecdsa_verify_der(&key->key, signed_digest, sig.sig, sig.len);
        if (rc != MT_OK) return MT_E_SIGNATURE;
        if (cache != NULL) {
            mt_sha256_init_impl(&signed_ctx, impl);
            cache_key(&signed_ctx, signed_digest, trailer, h->trailer_size, key, cache->digest);
            cache->valid = 1;
        }
    }
    return MT_OK;
}

/* 1 when steps 6 to 9 are known to pass because the package, all
 * h->package_size bytes of it, equals the cache's reference byte for byte
 * and the header's key ID names the key the reference passed with (see
 * mt_image_cache). [pkg, pkg + h->package_size) is readable (step 5). */
static int reference_hit(mt_image_cache *cache, const mt_image_policy *policy,
                         const mt_pkg_header *h, const uint8_t *pkg)
{
    const mt_image_key *key;

    if (cache == NULL || cache->ref == NULL || cache->ref_len != h->package_size) return 0;
    key = mt_image_find_key(policy, h->key_id);
    if (key == NULL || memcmp(&key->key, &cache->ref_signer, sizeof key->key) != 0) return 0;
    if (pkg != cache->ref && memcmp(pkg, cache->ref, h->package_size) != 0) return 0;
    cache->hashed++;
    cache->matched++;
    return 1;
}

/* Steps 6 to 9 passed on [pkg, pkg + h->package_size): the cache keeps the
 * bytes' write generation when the caller knows it, and the bytes themselves
 * as its reference when the caller pinned the cache (mt_image_cache). */
static void remember(mt_image_cache *cache, const mt_image_policy *policy,
                     const mt_pkg_header *h, const uint8_t *pkg)
{
    const mt_image_key *key = mt_image_find_key(policy, h->key_id);

    if (key == NULL) return; /* not after a pass: step 8 found it */
    if (gen_known(policy->gen)) {
        cache->gen = policy->gen;
        cache->signer = key->key;
        cache->gen_valid = 1;
    }
    if (cache->pin) {
        cache->ref = pkg;
        cache->ref_len = h->package_size;
        cache->ref_signer = key->key;
    }
}

int mt_image_check(mt_pkg_header *out, const mt_image_policy *policy,
                   const uint8_t *pkg, size_t available, int complete,
                   mt_image_cache *cache)
{
    mt_pkg_header h;
    int rc;

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

    /* 6 to 9: integrity, key, signature, unless these bytes passed them
     * before and have not been written since, or equal the bytes of a
     * reference that passed them. */
    if (!generation_hit(cache, policy, &h) && !reference_hit(cache, policy, &h, pkg)) {
        rc = check_contents(&h, policy, pkg, cache);
        if (rc != MT_OK) return rc;
    }
    if (cache != NULL) remember(cache, policy, &h, pkg);

    /* 10. Anti-rollback. */
    if (h.security_counter < policy->installed_counter) return MT_E_DOWNGRADE;

    if (out != NULL) *out = h;
    return MT_OK;
}
