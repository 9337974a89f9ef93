/* cdef for cffi: package parsing and image acceptance (mirrors csrc/mt_image.h).
 * Needs p256.h (mt_p256_pubkey) earlier in order.txt. */
typedef struct mt_pkg_header {
    uint16_t format_version;
    uint16_t header_size;
    uint32_t vendor_id;
    uint16_t hw_revision;
    uint16_t flags;
    uint8_t behaviour;
    uint8_t version_major;
    uint8_t version_minor;
    uint16_t version_patch;
    uint32_t version_build;
    uint32_t security_counter;
    uint32_t image_size;
    uint16_t fragment_size;
    uint16_t trailer_size;
    uint32_t fragment_count;
    uint32_t image_crc32;
    uint8_t image_sha256[32];
    uint8_t key_id[8];
    uint32_t header_crc32;
    uint32_t package_size;
} mt_pkg_header;
int mt_pkg_header_parse(mt_pkg_header *out, const uint8_t *buf, size_t len);

typedef struct mt_pkg_signature {
    uint8_t type;
    uint8_t len;
    uint8_t sig[72];
} mt_pkg_signature;
int mt_pkg_trailer_parse(mt_pkg_signature *out, const uint8_t *trailer, size_t len);

typedef struct mt_image_key {
    mt_p256_pubkey key;
    uint8_t key_id[8];
} mt_image_key;
int mt_image_key_init(mt_image_key *out, const uint8_t *point, size_t len);

typedef struct mt_image_policy {
    uint32_t vendor_id;
    uint16_t hw_revision;
    uint32_t bank_size;
    uint32_t installed_counter;
    const mt_image_key *keys;
    uint32_t key_count;
    int sha_impl;
    int crc_impl;
    uint32_t gen;
} mt_image_policy;

typedef struct mt_image_cache {
    uint8_t valid;
    uint8_t gen_valid;
    uint8_t pin;
    uint32_t gen;
    uint32_t hashed;
    uint32_t verified;
    uint32_t matched;
    mt_p256_pubkey signer;
    uint8_t digest[32];
    const uint8_t *ref;
    uint32_t ref_len;
    mt_p256_pubkey ref_signer;
} mt_image_cache;

int mt_image_check(mt_pkg_header *out, const mt_image_policy *policy,
                   const uint8_t *pkg, size_t available, int complete,
                   mt_image_cache *cache);
