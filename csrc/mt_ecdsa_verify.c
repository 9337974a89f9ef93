/*
 * ECDSA P-256 signature verification (SEC 1 v2, section 4.1.4).
 *
 * Attacker-controlled: the signature bytes and the digest; the key has been
 * parsed by mt_p256_pubkey_parse, but is checked again here because a caller
 * can fill the struct by hand. Everything is public, so the code is variable
 * time; it never handles a secret.
 */
#include "mt_p256.h"
#include "mt_err.h"
#include "mt_p256_field.h"
#include "mt_p256_limb.h"
#include "mt_p256_point.h"
#include "mt_p256_scalar.h"

int mt_ecdsa_verify_raw(const mt_p256_pubkey *key, const uint8_t digest[32],
                        const uint8_t rs[64])
{
    uint64_t r[4], s[4], e[4], w[4], u1[4], u2[4], t[4], z2[4];
    mt_p256_aff q;
    mt_p256_jac pt;

    if (key == NULL || digest == NULL || rs == NULL)
        return MT_E_ARG;

    /* 1. The key: coordinates < p and on the curve, into Montgomery form. */
    mt_p256_limbs_from_be(t, key->x);
    mt_p256_limbs_from_be(z2, key->y);
    if (!mt_p256_limbs_lt(t, mt_p256_p) || !mt_p256_limbs_lt(z2, mt_p256_p))
        return MT_E_PUBKEY;
    mt_p256_fe_to_mont(q.x, t);
    mt_p256_fe_to_mont(q.y, z2);
    if (!mt_p256_fe_on_curve(q.x, q.y))
        return MT_E_PUBKEY;

    /* 2. r and s in [1, n-1]. */
    mt_p256_limbs_from_be(r, rs);
    mt_p256_limbs_from_be(s, rs + 32);
    if (mt_p256_limbs_is_zero(r) || !mt_p256_limbs_lt(r, mt_p256_n) ||
        mt_p256_limbs_is_zero(s) || !mt_p256_limbs_lt(s, mt_p256_n))
        return MT_E_SIGNATURE;

    /* 3. e = the digest as a big-endian integer; n has 256 bits, so all 32
     *    bytes are used and one subtraction reduces it mod n (2^256 < 2n). */
    mt_p256_limbs_from_be(t, digest);
    mt_p256_sc_reduce(e, t);

    /* 4. w = s^-1 mod n, kept in Montgomery form (w * 2^256). */
    mt_p256_sc_inv_mont(w, s);

    /* 5. u1 = e w, u2 = r w mod n: a Montgomery product with w * 2^256
     *    removes the 2^256 again, leaving plain scalars. */
    mt_p256_sc_mont_mul(u1, e, w);
    mt_p256_sc_mont_mul(u2, r, w);

    /* 6. R = u1 G + u2 Q. */
    mt_p256_mul2(&pt, u1, u2, &q);

    /* 7. R must not be the point at infinity. */
    if (mt_p256_limbs_is_zero(pt.z))
        return MT_E_SIGNATURE;

    /* 8. Accept when R.x mod n == r. R.x = X / Z^2 is in [0, p), and
     *    p < 2n, so R.x mod n == r means R.x == r or R.x == r + n (the
     *    latter only possible when r + n < p). Compare X with r Z^2 and
     *    (r + n) Z^2 instead of inverting Z. */
    mt_p256_fe_sqr(z2, pt.z);
    mt_p256_fe_to_mont(t, r); /* r < n < p */
    mt_p256_fe_mul(t, t, z2);
    if (mt_p256_fe_eq(t, pt.x))
        return MT_OK;
    uint64_t c;
    t[0] = mt_p256_adc(r[0], mt_p256_n[0], 0, &c);
    t[1] = mt_p256_adc(r[1], mt_p256_n[1], c, &c);
    t[2] = mt_p256_adc(r[2], mt_p256_n[2], c, &c);
    t[3] = mt_p256_adc(r[3], mt_p256_n[3], c, &c);
    if (c || !mt_p256_limbs_lt(t, mt_p256_p))
        return MT_E_SIGNATURE;
    mt_p256_fe_to_mont(t, t);
    mt_p256_fe_mul(t, t, z2);
    return mt_p256_fe_eq(t, pt.x) ? MT_OK : MT_E_SIGNATURE;
}

int mt_ecdsa_verify_der(const mt_p256_pubkey *key, const uint8_t digest[32],
                        const uint8_t *der, size_t len)
{
    uint8_t rs[64];
    if (key == NULL || digest == NULL || der == NULL)
        return MT_E_ARG;
    if (mt_ecdsa_sig_from_der(rs, der, len) != MT_OK)
        return MT_E_SIGNATURE; /* malformed DER is a failed signature */
    return mt_ecdsa_verify_raw(key, digest, rs);
}
