/*
 * Strict DER decoding of ECDSA-Sig-Value (SEC 1 v2, C.5; X.690 DER rules):
 *
 *   30 L  02 Lr r-bytes  02 Ls s-bytes      and nothing after it
 *
 * Attacker-controlled: every byte of `der` and `len`. Exactly one encoding of
 * each (r, s) is accepted:
 *   - tags are exactly 0x30 and 0x02 (no other class, no constructed INTEGER);
 *   - lengths are definite and minimal: short form below 128, long form only
 *     for 128 or more with no leading zero byte; 0x80 (indefinite) is refused;
 *   - INTEGERs are non-empty, non-negative (top bit clear) and minimal (a
 *     leading 0x00 only when the next byte has its top bit set), so at most
 *     33 bytes and at most 32 significant bytes;
 *   - the SEQUENCE ends exactly after s, and the input exactly after the
 *     SEQUENCE.
 * r and s are not range-checked against n here; verification does that.
 */
#include "mt_p256.h"
#include "mt_err.h"

/*
 * Reads a DER length at der[*off], advancing *off. Returns 0 or
 * MT_E_ENCODING. On success *out <= len - *off (the content fits).
 * Long forms of one or two bytes are enough for any input this parser could
 * accept; a longer form cannot be minimal for such a length.
 */
static int der_length(const uint8_t *der, size_t len, size_t *off, size_t *out)
{
    size_t n;
    if (*off >= len)
        return MT_E_ENCODING;
    uint8_t first = der[(*off)++];
    if (first < 0x80) {
        n = first;
    } else if (first == 0x81) {
        if (*off >= len)
            return MT_E_ENCODING;
        n = der[(*off)++];
        if (n < 0x80)
            return MT_E_ENCODING; /* short form would do */
    } else if (first == 0x82) {
        if (len - *off < 2)
            return MT_E_ENCODING;
        n = ((size_t)der[*off] << 8) | der[*off + 1];
        *off += 2;
        if (n < 0x100)
            return MT_E_ENCODING; /* leading zero byte: one byte would do */
    } else {
        return MT_E_ENCODING; /* indefinite (0x80) or longer than any valid signature */
    }
    /* *off <= len holds here, so len - *off cannot wrap. */
    if (n > len - *off)
        return MT_E_ENCODING;
    *out = n;
    return MT_OK;
}

/* One INTEGER at der[*off] within der[0..end); writes it as 32 bytes big-endian. */
static int der_integer(uint8_t out[32], const uint8_t *der, size_t end, size_t *off)
{
    size_t n;
    if (*off >= end || der[*off] != 0x02)
        return MT_E_ENCODING;
    (*off)++;
    int rc = der_length(der, end, off, &n);
    if (rc != MT_OK)
        return rc;
    const uint8_t *v = der + *off; /* n bytes, n <= end - *off (checked above) */
    size_t whole = n;
    if (n == 0)
        return MT_E_ENCODING;
    if (v[0] & 0x80)
        return MT_E_ENCODING; /* negative */
    if (v[0] == 0x00 && n > 1) {
        if (!(v[1] & 0x80))
            return MT_E_ENCODING; /* leading zero not needed */
        v++;
        n--;
    }
    if (n > 32)
        return MT_E_ENCODING; /* more than 256 bits */
    for (size_t i = 0; i < 32 - n; i++)
        out[i] = 0;
    for (size_t i = 0; i < n; i++)
        out[32 - n + i] = v[i];
    *off += whole;
    return MT_OK;
}

int mt_ecdsa_sig_from_der(uint8_t rs[64], const uint8_t *der, size_t len)
{
    size_t off = 0, body;
    if (rs == NULL || der == NULL)
        return MT_E_ARG;
    if (len < 2 || der[0] != 0x30)
        return MT_E_ENCODING;
    off = 1;
    int rc = der_length(der, len, &off, &body);
    if (rc != MT_OK)
        return rc;
    if (body != len - off)
        return MT_E_ENCODING; /* trailing bytes after the SEQUENCE */
    /* From here every read is bounded by len, the end of the SEQUENCE. */
    rc = der_integer(rs, der, len, &off);
    if (rc != MT_OK)
        return rc;
    rc = der_integer(rs + 32, der, len, &off);
    if (rc != MT_OK)
        return rc;
    if (off != len)
        return MT_E_ENCODING; /* extra elements inside the SEQUENCE */
    return MT_OK;
}
