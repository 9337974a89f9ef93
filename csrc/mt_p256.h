/*
 * NIST P-256 (secp256r1) public keys and ECDSA verification.
 *
 * Attacker-controlled inputs: every byte of `point`, `sig` and `digest`.
 * All functions are constant-memory (no heap), reentrant (no globals) and
 * return 0 or a negative mt_err.
 */
#ifndef MT_P256_H
#define MT_P256_H

#include <stddef.h>
#include <stdint.h>

/* A validated public key in affine coordinates, big-endian bytes. */
typedef struct mt_p256_pubkey {
    uint8_t x[32];
    uint8_t y[32];
} mt_p256_pubkey;

/*
 * Parse a SEC1 point: 0x04 || X || Y (65 bytes) or 0x02/0x03 || X (33 bytes).
 * Checks: length matches the prefix; X, Y < p; the point is on the curve
 * (for compressed, that a square root exists). Hybrid (0x06/0x07) and the
 * point at infinity (0x00) are rejected.
 * MT_E_ENCODING for a bad length or prefix, MT_E_PUBKEY for a bad point
 * (including the 1-byte infinity encoding 0x00); MT_E_ARG for NULL.
 */
int mt_p256_pubkey_parse(mt_p256_pubkey *out, const uint8_t *point, size_t len);

/* Writes the 65-byte uncompressed SEC1 encoding of a parsed key. */
void mt_p256_pubkey_encode(const mt_p256_pubkey *key, uint8_t out[65]);

/*
 * Strict DER ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s }, definite
 * short/long lengths in minimal form, minimal positive INTEGERs, no trailing
 * bytes. Writes r and s as 32-byte big-endian. Does not range-check r, s
 * against n (verify does); integers longer than 32 significant bytes are
 * MT_E_ENCODING. On error `rs` may be partly written. MT_E_ARG for NULL.
 */
int mt_ecdsa_sig_from_der(uint8_t rs[64], const uint8_t *der, size_t len);

/*
 * Verify an ECDSA signature given as raw r||s (64 bytes, big-endian) over a
 * 32-byte digest. Returns MT_OK when valid, MT_E_SIGNATURE otherwise
 * (including r or s outside [1, n-1]). A key struct not produced by
 * mt_p256_pubkey_parse is re-checked: off the curve or a coordinate >= p is
 * MT_E_PUBKEY. NULL pointers are MT_E_ARG.
 * Variable time: every input is public. Stack: about 3 KiB at the deepest
 * point (see `make -C csrc stack`).
 */
int mt_ecdsa_verify_raw(const mt_p256_pubkey *key, const uint8_t digest[32],
                        const uint8_t rs[64]);

/* The same with a strict-DER signature; malformed DER is MT_E_SIGNATURE. */
int mt_ecdsa_verify_der(const mt_p256_pubkey *key, const uint8_t digest[32],
                        const uint8_t *der, size_t len);

#endif
