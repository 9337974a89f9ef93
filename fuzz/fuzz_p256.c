/*
 * libFuzzer harness: SEC1 public keys, strict DER signatures and ECDSA P-256
 * verification.
 *
 * Invariant: every input is accepted or rejected with a documented mt_err
 * code, nothing else — no crash, no undefined behaviour, no read or write out
 * of bounds (run under ASan + UBSan). Checked here, abort() when broken:
 *   - mt_p256_pubkey_parse returns MT_OK, MT_E_ENCODING or MT_E_PUBKEY; an
 *     accepted key encodes to 65 bytes that parse back to the same key, and a
 *     65-byte uncompressed input encodes back to itself;
 *   - mt_ecdsa_sig_from_der returns MT_OK or MT_E_ENCODING; an accepted input
 *     is exactly the one DER encoding of the (r, s) it yields (strict DER has
 *     a single encoding per value);
 *   - mt_ecdsa_verify_der returns MT_OK or MT_E_SIGNATURE, and agrees with
 *     mt_ecdsa_verify_raw on the parsed (r, s); mt_ecdsa_verify_raw returns
 *     MT_OK or MT_E_SIGNATURE for a parsed key.
 *
 * Input layout:
 *   byte 0        key length: bit 7 clear -> 65 if bit 0 is set, else 33;
 *                 bit 7 set -> the low 7 bits (0..127), any length
 *   key bytes     that many (fewer if the input ends)
 *   digest        the next 32 bytes (zero-padded if the input ends)
 *   signature     the rest, as DER; when it is exactly 64 bytes it is also
 *                 tried as raw r||s
 * A key that does not parse is still reported, and verification then runs
 * against the base point G so that signature paths stay reachable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt_err.h"
#include "mt_p256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t base_point[65] = {
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63,
    0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39,
    0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e,
    0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e,
    0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};

#define REQUIRE(cond)       \
    do {                    \
        if (!(cond))        \
            abort();        \
    } while (0)

/* Minimal DER INTEGER of a 32-byte big-endian value; returns bytes written. */
static size_t der_int(uint8_t *out, const uint8_t v[32])
{
    size_t i = 0;
    while (i < 31 && v[i] == 0)
        i++;
    size_t n = 32 - i, pad = (v[i] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v + i, n);
    return 2 + pad + n;
}

/* The DER encoding of (r, s): at most 2 + 2 * 35 = 72 bytes, short form. */
static size_t der_sig(uint8_t out[72], const uint8_t rs[64])
{
    size_t n = der_int(out + 2, rs);
    n += der_int(out + 2 + n, rs + 32);
    out[0] = 0x30;
    out[1] = (uint8_t)n;
    return n + 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_p256_pubkey key, again;
    uint8_t digest[32] = {0}, rs[64], enc[72], pt[65];
    size_t off = 0;

    if (size == 0)
        return 0;
    uint8_t sel = data[off++];
    size_t klen = (sel & 0x80) ? (size_t)(sel & 0x7f) : ((sel & 1) ? 65u : 33u);
    if (klen > size - off)
        klen = size - off;
    const uint8_t *kbytes = data + off;
    off += klen;
    size_t dlen = size - off < 32 ? size - off : 32;
    memcpy(digest, data + off, dlen);
    off += dlen;
    const uint8_t *sig = data + off;
    size_t slen = size - off;

    /* Keys. */
    int krc = mt_p256_pubkey_parse(&key, kbytes, klen);
    REQUIRE(krc == MT_OK || krc == MT_E_ENCODING || krc == MT_E_PUBKEY);
    if (krc == MT_OK) {
        mt_p256_pubkey_encode(&key, pt);
        REQUIRE(mt_p256_pubkey_parse(&again, pt, 65) == MT_OK);
        REQUIRE(memcmp(&again, &key, sizeof key) == 0);
        if (klen == 65)
            REQUIRE(memcmp(pt, kbytes, 65) == 0);
    } else {
        REQUIRE(mt_p256_pubkey_parse(&key, base_point, sizeof base_point) == MT_OK);
    }

    /* Signatures: strict DER means one encoding per (r, s). */
    int drc = mt_ecdsa_sig_from_der(rs, sig, slen);
    REQUIRE(drc == MT_OK || drc == MT_E_ENCODING);
    if (drc == MT_OK) {
        size_t n = der_sig(enc, rs);
        REQUIRE(n == slen && memcmp(enc, sig, n) == 0);
    }

    /* Verification. */
    int vrc = mt_ecdsa_verify_der(&key, digest, sig, slen);
    REQUIRE(vrc == MT_OK || vrc == MT_E_SIGNATURE);
    if (drc == MT_OK)
        REQUIRE(mt_ecdsa_verify_raw(&key, digest, rs) == vrc);
    else
        REQUIRE(vrc == MT_E_SIGNATURE);
    if (slen == 64) {
        int rrc = mt_ecdsa_verify_raw(&key, digest, sig);
        REQUIRE(rrc == MT_OK || rrc == MT_E_SIGNATURE);
    }
    return 0;
}
