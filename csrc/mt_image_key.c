/*
 * The meter's trusted signers (see mt_image.h): a key parsed from its SEC1
 * point with its key ID, and the lookup of the key a package header names.
 */
#include "mt_image.h"

#include <string.h>

#include "mt_err.h"
#include "mt_image_impl.h"
#include "mt_sha256.h"

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

const mt_image_key *mt_image_find_key(const mt_image_policy *policy, const uint8_t id[8])
{
    uint32_t i;

    for (i = 0; i < policy->key_count && i < MT_IMAGE_MAX_KEYS; i++)
        if (memcmp(policy->keys[i].key_id, id, MT_PKG_KEY_ID_LEN) == 0) return &policy->keys[i];
    return NULL;
}
