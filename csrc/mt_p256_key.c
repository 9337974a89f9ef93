/*
 * SEC1 public key parsing and encoding for P-256 (SEC 1 v2, section 2.3.4).
 *
 * Attacker-controlled: every byte of `point` and `len`. Accepted forms:
 *   0x04 || X || Y   65 bytes, X, Y < p, (X, Y) on the curve
 *   0x02 || X        33 bytes, X < p, Y = the even square root of X^3 - 3X + b
 *   0x03 || X        33 bytes, as above with the odd root
 * Rejected: the point at infinity (0x00, MT_E_PUBKEY), hybrid 0x06/0x07 and
 * every other prefix or length (MT_E_ENCODING), coordinates >= p and points
 * off the curve (MT_E_PUBKEY).
 */
#include "mt_p256.h"
#include "mt_err.h"
#include "mt_p256_field.h"
#include "mt_p256_limb.h"

/* Decompression: Y from X (plain, < p) and the wanted parity. */
static int decompress(uint64_t y[4], const uint64_t x[4], unsigned odd)
{
    uint64_t xm[4], rhs[4], t[4], root[4];
    mt_p256_fe_to_mont(xm, x);
    mt_p256_fe_sqr(rhs, xm);
    mt_p256_fe_mul(rhs, rhs, xm);
    mt_p256_fe_add(t, xm, xm);
    mt_p256_fe_add(t, t, xm);
    mt_p256_fe_sub(rhs, rhs, t);
    mt_p256_fe_add(rhs, rhs, mt_p256_fe_b); /* X^3 - 3X + b */
    /* p = 3 mod 4: rhs^((p+1)/4) is a root whenever a root exists. */
    mt_p256_fe_sqrt_candidate(root, rhs);
    mt_p256_fe_sqr(t, root);
    if (!mt_p256_fe_eq(t, rhs))
        return MT_E_PUBKEY; /* X is not the x-coordinate of any point */
    mt_p256_fe_from_mont(y, root);
    if ((unsigned)(y[0] & 1u) != odd) {
        /* The other root is p - y. y = 0 has no odd partner (and cannot
         * occur on P-256, whose order is odd), so reject it explicitly. */
        if (mt_p256_limbs_is_zero(y))
            return MT_E_PUBKEY;
        mt_p256_fe_neg(y, y); /* plain negation mod p, same code */
    }
    return MT_OK;
}

int mt_p256_pubkey_parse(mt_p256_pubkey *out, const uint8_t *point, size_t len)
{
    uint64_t x[4], y[4], xm[4], ym[4];
    if (out == NULL || point == NULL)
        return MT_E_ARG;
    if (len == 0)
        return MT_E_ENCODING;
    uint8_t prefix = point[0];
    if (prefix == 0x00)
        return len == 1 ? MT_E_PUBKEY : MT_E_ENCODING; /* infinity is not a key */
    if (prefix == 0x04) {
        if (len != 65)
            return MT_E_ENCODING;
    } else if (prefix == 0x02 || prefix == 0x03) {
        if (len != 33)
            return MT_E_ENCODING;
    } else {
        return MT_E_ENCODING; /* hybrid 0x06/0x07 and unknown prefixes */
    }

    mt_p256_limbs_from_be(x, point + 1);
    if (!mt_p256_limbs_lt(x, mt_p256_p))
        return MT_E_PUBKEY;
    if (prefix == 0x04) {
        mt_p256_limbs_from_be(y, point + 33);
        if (!mt_p256_limbs_lt(y, mt_p256_p))
            return MT_E_PUBKEY;
        mt_p256_fe_to_mont(xm, x);
        mt_p256_fe_to_mont(ym, y);
        if (!mt_p256_fe_on_curve(xm, ym))
            return MT_E_PUBKEY;
    } else {
        int rc = decompress(y, x, prefix & 1u);
        if (rc != MT_OK)
            return rc;
    }
    mt_p256_limbs_to_be(out->x, x);
    mt_p256_limbs_to_be(out->y, y);
    return MT_OK;
}

void mt_p256_pubkey_encode(const mt_p256_pubkey *key, uint8_t out[65])
{
    if (key == NULL || out == NULL)
        return;
    out[0] = 0x04;
    for (int i = 0; i < 32; i++) {
        out[1 + i] = key->x[i];
        out[33 + i] = key->y[i];
    }
}
