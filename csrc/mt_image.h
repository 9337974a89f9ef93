/*
 * Firmware package parsing and image acceptance (SPEC §3, §4).
 *
 * The package layout is documented byte by byte in mt_pkg.h. Everything here
 * reads the package in place: a `const uint8_t *` to the bytes (a view into
 * the inactive bank from mt_flash_peek, or a plain buffer for `meteremu
 * verify`), never a copy the sender supplied. Every byte of the package is
 * attacker-controlled.
 *
 * Acceptance order (SPEC §4), the first failure stops:
 *   1. header sanity            MT_E_HDR_MAGIC, MT_E_HDR_CRC, MT_E_HDR_FIELD
 *   2. vendor                   MT_E_VENDOR
 *   3. hardware revision        MT_E_HW_REV
 *   4. package size vs bank     MT_E_TOO_BIG
 *   5. complete                 MT_E_INCOMPLETE
 *   6. image CRC-32             MT_E_IMAGE_CRC
 *   7. image SHA-256            MT_E_IMAGE_SHA
 *   8. key ID trusted           MT_E_UNKNOWN_KEY
 *   9. trailer, then ECDSA P-256 over SHA-256(header || image)
 *                               MT_E_TRAILER, MT_E_NO_SIGNATURE, MT_E_SIGNATURE
 *  10. security counter >= installed   MT_E_DOWNGRADE
 * At operator level (meteremu/errors.py) MT_E_SIGNATURE is 0xE04 "signature
 * verification failed", MT_E_NO_SIGNATURE 0xE05 and MT_E_TRAILER 0xE06: the
 * same 0xE0x family, so `grep 0xE0` finds every signature-side refusal.
 *
 * Files: mt_image_parse.c the header and trailer parsers, mt_image_key.c the
 * trusted keys, mt_image.c the acceptance check; mt_image_impl.h what they
 * share.
 */
#ifndef MT_IMAGE_H
#define MT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mt_p256.h"
#include "mt_pkg.h"

/* The parsed header: every field of mt_pkg.h, host byte order. */
typedef struct mt_pkg_header {
    uint16_t format_version;
    uint16_t header_size;
    uint32_t vendor_id;
    uint16_t hw_revision;
    uint16_t flags;
    uint8_t behaviour;        /* flags bits 0-3, an enum mt_behaviour value */
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
    uint8_t key_id[MT_PKG_KEY_ID_LEN];
    uint32_t header_crc32;
    uint32_t package_size;    /* derived: header_size + image_size + trailer_size */
} mt_pkg_header;

/*
 * Parses and sanity-checks the first MT_PKG_HEADER_SIZE bytes of buf (len may
 * be larger; the rest is ignored). Checks, in order:
 *   magic, format version, header size                   MT_E_HDR_MAGIC
 *   header CRC-32 over bytes 0..123                      MT_E_HDR_CRC
 *   flags reserved bits, behaviour value, fragment_size in
 *   16..1024, trailer_size <= 1024, image_size >= 1, the
 *   package size fits 32 bits, fragment_count ==
 *   ceil(package_size / fragment_size), reserved bytes 0  MT_E_HDR_FIELD
 * MT_E_LENGTH when len < MT_PKG_HEADER_SIZE, MT_E_ARG on NULL.
 * out is written only on success.
 */
int mt_pkg_header_parse(mt_pkg_header *out, const uint8_t *buf, size_t len);

#define MT_PKG_SIG_MAX 72u

/* The signature record of a trailer. */
typedef struct mt_pkg_signature {
    uint8_t type;              /* MT_PKG_TLV_SIG_DER or MT_PKG_TLV_SIG_RAW */
    uint8_t len;               /* DER: 8..72; raw: 64 */
    uint8_t sig[MT_PKG_SIG_MAX];
} mt_pkg_signature;

/*
 * Parses a trailer of exactly `len` bytes (the header's trailer_size): TLV
 * records, then 0xFF padding to the end. MT_E_TRAILER for a record running
 * past the end, an unknown type, a signature of the wrong length, a second
 * signature, or a non-0xFF byte in the padding; MT_E_NO_SIGNATURE when the
 * records hold no signature (an empty trailer included).
 */
int mt_pkg_trailer_parse(mt_pkg_signature *out, const uint8_t *trailer, size_t len);

#define MT_IMAGE_MAX_KEYS 4u

/* A write generation that says nothing (the flash model's
 * MT_FLASH_GEN_UNKNOWN, which never stamps 0 either): never taken as
 * "unchanged". */
#define MT_IMAGE_GEN_UNKNOWN 0xFFFFFFFFu

/* A trusted signer: the parsed key and its key ID (mt_pkg.h, offset 76). */
typedef struct mt_image_key {
    mt_p256_pubkey key;
    uint8_t key_id[MT_PKG_KEY_ID_LEN];
} mt_image_key;

/* Parses a SEC1 point (see mt_p256_pubkey_parse) and derives its key ID. */
int mt_image_key_init(mt_image_key *out, const uint8_t *point, size_t len);

/* What the meter accepts. Caller-owned; keys points to key_count entries. */
typedef struct mt_image_policy {
    uint32_t vendor_id;
    uint16_t hw_revision;
    uint32_t bank_size;          /* bytes the whole package may occupy */
    uint32_t installed_counter;  /* lowest acceptable security counter */
    const mt_image_key *keys;
    uint32_t key_count;          /* <= MT_IMAGE_MAX_KEYS */
    /* SHA-256 implementation for the check's hashes (mt_sha256_init_impl):
     * what mt_sha256_accelerated() returned, asked once by the caller; -1
     * asks the CPU at every check. 0 (a zeroed struct) is the portable code. */
    int sha_impl;
    /* CRC-32 implementation for the image CRC (mt_crc32_impl): what
     * mt_crc_accelerated() returned, asked once by the caller; -1 asks the
     * CPU at every check. 0 (a zeroed struct) is the table code. */
    int crc_impl;
    /* The write generation of the bytes checked, [pkg, pkg + available), from
     * the flash model they live in (mt_flash_area_generation), for the cache
     * (mt_image_cache). 0 (a zeroed struct) and MT_IMAGE_GEN_UNKNOWN say
     * nothing: the check then never skips a step on the generation's word. */
    uint32_t gen;
} mt_image_policy;

/*
 * Verification cache for one bank: two ways of knowing that a package has
 * passed steps 6 to 9 before, each keyed on every byte those steps read
 * (header, image, trailer and signature, the key: SPEC section 5).
 *
 * By content. `digest` is the key of the last package that passed
 * signature verification:
 *
 *   SHA-256( SHA-256(header || image)        the signed digest, 32 bytes
 *            || trailer                      all trailer_size bytes: the
 *                                            signature record and the padding
 *            || 0x04 || X || Y )             the trusted key the key ID named,
 *                                            65-byte uncompressed SEC1 point
 *
 * A bank rewritten since, another signature or trailer, or another key
 * behind the same key ID simply misses and runs every step; only on a hit
 * are the image SHA-256 (implied: the header carries it) and ECDSA skipped.
 * The key is computed from bytes the check hashes anyway (the signed digest
 * comes out of the one streaming pass), so a hit costs no second pass over
 * the image, but it still costs that pass.
 *
 * By write generation. When the caller's flash model says the bytes have not
 * been written since (policy->gen: the write generation of [pkg, pkg +
 * available), mt_flash.h), `gen` and `signer` record the
 * generation at the last check that passed steps 6 to 9 and the key the
 * signature verified with. A later check with the same generation and the
 * same trusted key behind the header's key ID skips steps 6, 7 and 9
 * entirely: no pass over the image, no ECDSA. Steps 1 to 5, the key lookup
 * of step 8 and step 10 still run on every check, against the policy of the
 * moment (vendor, hardware revision, bank size, `complete`, the installed
 * counter): the header is re-parsed from the bytes, 128 of them. Any program,
 * erase or injected fault on the bank moves its generation on, so the next
 * check reads everything again; 0 and MT_IMAGE_GEN_UNKNOWN never match. A
 * check that runs steps 6 to 9 and fails forgets the generation. Whatever
 * the cache holds, the result is what a check without it would return on
 * the same bytes; only the work differs.
 *
 * By reference. `ref` names ref_len bytes of memory that hold a whole
 * package which passed steps 6 to 9 with the key `ref_signer`. A later
 * check whose package is ref_len bytes long, byte for byte equal to them,
 * and whose header's key ID names that same trusted key skips steps 6, 7
 * and 9: one compare with the reference instead of the pass over the image,
 * no ECDSA. Steps 1 to 5, 8 and 10 still run as above. The verdict of steps
 * 6 to 9 is a function of those bytes and that key alone, so equal inputs
 * get the verdict the reference got. A check sets `ref` only when the
 * caller set `pin` on its cache: the caller's promise that the bytes it
 * checks with that cache stay alive and unchanged for as long as the cache,
 * or a cache that adopted it (mt_boot_adopt), names them -- a file the
 * caller holds, never flash that may still be written. A pinned check that
 * passes, by any way, names its own bytes.
 *
 * A cache belongs to one range of one device (a bank). `hashed`,
 * `verified` and `matched` count, for diagnostics and tests, the checks
 * that read the image (the streaming pass of steps 6 and 7, or the compare
 * with the reference), the ECDSA verifications run, and the checks that
 * the reference answered. Zero the struct to empty it.
 */
typedef struct mt_image_cache {
    uint8_t valid;            /* digest is set */
    uint8_t gen_valid;        /* gen and signer are set */
    uint8_t pin;              /* set by the caller: a passed check names its bytes in ref */
    uint32_t gen;             /* the bytes' write generation when they passed */
    uint32_t hashed;          /* checks that read the image (diagnostics) */
    uint32_t verified;        /* ECDSA verifications run (diagnostics) */
    uint32_t matched;         /* checks the reference answered (diagnostics) */
    mt_p256_pubkey signer;    /* the key the signature verified with */
    uint8_t digest[32];
    const uint8_t *ref;       /* NULL, or ref_len bytes that passed with ref_signer */
    uint32_t ref_len;
    mt_p256_pubkey ref_signer;
} mt_image_cache;


/*
 * The acceptance check, in the order above. pkg points to `available` bytes
 * holding the package from its first byte (a whole bank, or a file);
 * `complete` is the caller's word that every fragment was received (a bank
 * being downloaded holds stale or 0xFF bytes where fragments are missing).
 * A package longer than `available` is MT_E_INCOMPLETE, as is available <
 * MT_PKG_HEADER_SIZE. cache may be NULL. On success writes *out (may be NULL).
 * Returns 0 or the first failing check's code; never reads outside
 * [pkg, pkg + available).
 */
int mt_image_check(mt_pkg_header *out, const mt_image_policy *policy,
                   const uint8_t *pkg, size_t available, int complete,
                   mt_image_cache *cache);
#endif
