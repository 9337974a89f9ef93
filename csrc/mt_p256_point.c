/*
 * P-256 point arithmetic in Jacobian coordinates and the double-scalar
 * multiplication u1*G + u2*Q used by ECDSA verification.
 *
 * Formulas (a = -3), counted in field multiplications M and squarings S:
 *   doubling        4M + 4S   (Z3 = 2YZ and a halving: fewer additions than 3M + 5S)
 *   addition       12M + 4S   (general Jacobian + Jacobian)
 *   mixed addition  8M + 3S   (Jacobian + affine)
 * Additions detect equal inputs (switch to doubling), opposite inputs and
 * infinity, so every special case of the scalar multiplication is exact.
 * Variable time: the inputs are public.
 */
#include "mt_p256_point.h"
#include "mt_p256_field.h"
#include "mt_p256_limb.h"

#define fe_add mt_p256_fe_add
#define fe_sub mt_p256_fe_sub
#define fe_mul mt_p256_fe_mul
#define fe_sqr mt_p256_fe_sqr
#define fe_half mt_p256_fe_half

static void fe_copy(uint64_t r[4], const uint64_t a[4])
{
    r[0] = a[0]; r[1] = a[1]; r[2] = a[2]; r[3] = a[3];
}

static void jac_set_inf(mt_p256_jac *r)
{
    for (int i = 0; i < 4; i++) {
        r->x[i] = mt_p256_fe_one[i];
        r->y[i] = mt_p256_fe_one[i];
        r->z[i] = 0;
    }
}

void mt_p256_jac_dbl(mt_p256_jac *r, const mt_p256_jac *a)
{
    uint64_t delta[4], y2[4], s[4], xs[4], m[4], t[4], u[4];
    /* Reads of a->x, a->y, a->z all happen before the matching field of r
     * is written, so r may alias a. */
    fe_sqr(delta, a->z);            /* delta = Z^2 */
    fe_add(y2, a->y, a->y);         /* 2Y */
    fe_sqr(s, y2);                  /* S = 4 Y^2 */
    fe_mul(xs, a->x, s);            /* 4 X Y^2 */
    fe_sub(t, a->x, delta);
    fe_add(u, a->x, delta);
    fe_mul(m, t, u);
    fe_add(t, m, m);
    fe_add(m, m, t);                /* M = 3 (X - delta)(X + delta) = 3 X^2 - 3 Z^4 (a = -3) */
    fe_mul(r->z, y2, a->z);         /* Z3 = 2 Y Z; infinity (Z = 0) stays infinity */
    fe_sqr(t, m);
    fe_add(u, xs, xs);
    fe_sub(r->x, t, u);             /* X3 = M^2 - 8 X Y^2 */
    fe_sub(t, xs, r->x);
    fe_mul(t, m, t);
    fe_sqr(u, s);
    fe_half(u, u);                  /* 8 Y^4 = (4 Y^2)^2 / 2 */
    fe_sub(r->y, t, u);             /* Y3 = M (4 X Y^2 - X3) - 8 Y^4 */
}

/*
 * Shared tail of both additions: with H = U2 - U1 != 0 and R = S2 - S1,
 * X3 = R^2 - H^3 - 2 U1 H^2, Y3 = R (U1 H^2 - X3) - S1 H^3; Z3 is set by the caller.
 */
static void add_tail(mt_p256_jac *r, const uint64_t h[4], const uint64_t rr[4],
                     const uint64_t u1[4], const uint64_t s1[4])
{
    uint64_t hh[4], hhh[4], v[4], t[4];
    fe_sqr(hh, h);
    fe_mul(hhh, h, hh);
    fe_mul(v, u1, hh);
    fe_sqr(t, rr);
    fe_sub(t, t, hhh);
    fe_sub(t, t, v);
    fe_sub(t, t, v);                /* X3 */
    fe_sub(v, v, t);
    fe_copy(r->x, t);
    fe_mul(v, rr, v);
    fe_mul(hhh, s1, hhh);
    fe_sub(r->y, v, hhh);
}

void mt_p256_jac_add(mt_p256_jac *r, const mt_p256_jac *a, const mt_p256_jac *b, int neg)
{
    uint64_t z1z1[4], z2z2[4], u1[4], u2[4], s1[4], s2[4], h[4], rr[4], z3[4];
    if (mt_p256_limbs_is_zero(b->z)) {
        if (r != a)
            *r = *a;
        return;
    }
    if (mt_p256_limbs_is_zero(a->z)) {
        *r = *b;
        if (neg)
            mt_p256_fe_neg(r->y, r->y);
        return;
    }
    fe_sqr(z1z1, a->z);
    fe_sqr(z2z2, b->z);
    fe_mul(u1, a->x, z2z2);
    fe_mul(u2, b->x, z1z1);
    fe_mul(s1, a->y, b->z);
    fe_mul(s1, s1, z2z2);
    fe_mul(s2, b->y, a->z);
    fe_mul(s2, s2, z1z1);
    if (neg)
        mt_p256_fe_neg(s2, s2);
    fe_sub(h, u2, u1);
    fe_sub(rr, s2, s1);
    if (mt_p256_limbs_is_zero(h)) {
        if (mt_p256_limbs_is_zero(rr))
            mt_p256_jac_dbl(r, a);  /* a == b */
        else
            jac_set_inf(r);         /* a == -b */
        return;
    }
    fe_mul(z3, a->z, b->z);
    fe_mul(z3, z3, h);
    add_tail(r, h, rr, u1, s1);
    fe_copy(r->z, z3);
}

void mt_p256_jac_add_aff(mt_p256_jac *r, const mt_p256_jac *a, const mt_p256_aff *b, int neg)
{
    uint64_t z1z1[4], u2[4], s2[4], h[4], rr[4], u1[4], s1[4];
    if (mt_p256_limbs_is_zero(a->z)) {
        fe_copy(r->x, b->x);
        if (neg)
            mt_p256_fe_neg(r->y, b->y);
        else
            fe_copy(r->y, b->y);
        fe_copy(r->z, mt_p256_fe_one);
        return;
    }
    fe_sqr(z1z1, a->z);
    fe_mul(u2, b->x, z1z1);
    fe_mul(s2, b->y, a->z);
    fe_mul(s2, s2, z1z1);
    if (neg)
        mt_p256_fe_neg(s2, s2);
    fe_sub(h, u2, a->x);
    fe_sub(rr, s2, a->y);
    if (mt_p256_limbs_is_zero(h)) {
        if (mt_p256_limbs_is_zero(rr))
            mt_p256_jac_dbl(r, a);
        else
            jac_set_inf(r);
        return;
    }
    fe_copy(u1, a->x);
    fe_copy(s1, a->y);
    fe_mul(r->z, a->z, h);          /* Z3 = Z1 H; a->z is no longer needed */
    add_tail(r, h, rr, u1, s1);
}

/* Bits pos .. pos+w-1 of k (w <= 8), zero above bit 255. */
static unsigned scalar_bits(const uint64_t k[4], int pos, int w)
{
    if (pos >= 256)
        return 0;
    int limb = pos / 64, off = pos % 64;
    uint64_t v = k[limb] >> off;
    if (off + w > 64 && limb < 3)
        v |= k[limb + 1] << (64 - off);
    return (unsigned)(v & ((1u << w) - 1u));
}

#define NAF_LEN 257

/*
 * Width-w non-adjacent form of k < 2^256: k = sum naf[i] 2^i with every
 * nonzero digit odd and |digit| < 2^(w-1), nonzero digits at least w apart.
 * Returns the index of the highest nonzero digit (-1 for k = 0).
 *
 * `carry` is the 1 borrowed from bit i when a digit was made negative. A
 * negative digit needs bit i+w-1 of k set (the window, plus a carry, is at
 * least 2^(w-1) and odd), so i+w <= 256 and every digit lands in naf[0..256].
 */
static int scalar_wnaf(int8_t naf[NAF_LEN], const uint64_t k[4], int w)
{
    int carry = 0, top = -1;
    for (int i = 0; i < NAF_LEN; i++)
        naf[i] = 0;
    for (int i = 0; i < NAF_LEN;) {
        if ((int)scalar_bits(k, i, 1) == carry) {
            i++; /* bit + carry is 0 or 2: digit 0, carry unchanged */
            continue;
        }
        int word = (int)scalar_bits(k, i, w) + carry; /* odd, < 2^w */
        if (word >= (1 << (w - 1))) {
            word -= 1 << w;
            carry = 1;
        } else {
            carry = 0;
        }
        naf[i] = (int8_t)word;
        top = i;
        i += w;
    }
    return top;
}

#define Q_WINDOW 5
#define Q_TABLE_LEN (1 << (Q_WINDOW - 2))

/*
 * Interleaved (Shamir) evaluation: one chain of doublings from the top digit
 * of either scalar; at each position add the signed table entry for u2's
 * width-5 digit (odd multiples Q..15Q, Jacobian, built here) and for u1's
 * digit of the profile's width (odd multiples of G, affine, precomputed:
 * width 7, G..63G, in the fast profile; mt_p256_point.h).
 * Stack: the two digit strings (2 x 257 bytes) and 8 Jacobian points (768 bytes).
 */
void mt_p256_mul2(mt_p256_jac *r, const uint64_t u1[4], const uint64_t u2[4],
                  const mt_p256_aff *q)
{
    int8_t naf1[NAF_LEN], naf2[NAF_LEN];
    mt_p256_jac qt[Q_TABLE_LEN], q2;

    int top1 = scalar_wnaf(naf1, u1, mt_p256_g_window);
    int top2 = scalar_wnaf(naf2, u2, Q_WINDOW);

    /* qt[i] = (2i+1) Q */
    fe_copy(qt[0].x, q->x);
    fe_copy(qt[0].y, q->y);
    fe_copy(qt[0].z, mt_p256_fe_one);
    mt_p256_jac_dbl(&q2, &qt[0]);
    for (int i = 1; i < Q_TABLE_LEN; i++)
        mt_p256_jac_add(&qt[i], &qt[i - 1], &q2, 0);

    jac_set_inf(r);
    for (int i = top1 > top2 ? top1 : top2; i >= 0; i--) {
        if (!mt_p256_limbs_is_zero(r->z))
            mt_p256_jac_dbl(r, r);
        int d2 = naf2[i], d1 = naf1[i];
        if (d2 > 0)
            mt_p256_jac_add(r, r, &qt[d2 >> 1], 0);
        else if (d2 < 0)
            mt_p256_jac_add(r, r, &qt[(-d2) >> 1], 1);
        if (d1 > 0)
            mt_p256_jac_add_aff(r, r, &mt_p256_g_table[d1 >> 1], 0);
        else if (d1 < 0)
            mt_p256_jac_add_aff(r, r, &mt_p256_g_table[(-d1) >> 1], 1);
    }
}
