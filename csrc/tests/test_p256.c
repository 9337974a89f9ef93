/*
 * Tests of the P-256 field, scalar and point arithmetic, SEC1 key parsing,
 * strict DER and ECDSA verification.
 *
 * Expected values were computed independently in Python (plain integers for
 * the arithmetic; signatures made with the `cryptography` package) and pasted
 * here as hex. test_limbs compares the fast limb primitives with their
 * portable versions; the whole file runs on the portable path with
 *   make -C csrc -B test T=test_p256 CC="cc -DMT_P256_NO_INT128"
 */
#include "mt_err.h"
#include "mt_p256.h"
#include "mt_p256_field.h"
#include "mt_p256_limb.h"
#include "mt_p256_point.h"
#include "mt_p256_scalar.h"
#include "mt_test.h"

static void unhex(uint8_t *out, size_t n, const char *hex)
{
    CHECK_EQ(mt_test_unhex(hex, out, n), (int)n);
}

static void limbs(uint64_t r[4], const char *hex64)
{
    uint8_t b[32];
    unhex(b, 32, hex64);
    mt_p256_limbs_from_be(r, b);
}

static int limbs_eq(const uint64_t a[4], const uint64_t b[4])
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* xorshift64: a fixed, reproducible stream of test words */
static uint64_t next_word(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static void test_limbs(void)
{
    static const uint64_t edge[] = {0, 1, 2, 0xffffffffu, 0x100000000u, 0x7fffffffffffffffu,
                                    0x8000000000000000u, 0xfffffffeffffffffu,
                                    0xffffffffffffffffu};
    const size_t ne = sizeof edge / sizeof edge[0];
    uint64_t state = 0x9e3779b97f4a7c15u;
    int bad = 0;
    for (size_t i = 0; i < 4000; i++) {
        uint64_t a, b, c, d;
        if (i < ne * ne) {
            a = edge[i / ne];
            b = edge[i % ne];
            c = edge[(i * 7) % ne];
            d = edge[(i * 5 + 3) % ne];
        } else {
            a = next_word(&state);
            b = next_word(&state);
            c = next_word(&state);
            d = next_word(&state);
        }
        uint64_t h1, h2, lo1, lo2, k1, k2;
        lo1 = mt_p256_mac(a, b, c, d, &h1);
        lo2 = mt_p256_mac_portable(a, b, c, d, &h2);
        bad |= lo1 != lo2 || h1 != h2 || lo1 != a * b + c + d;
        for (uint64_t cin = 0; cin < 2; cin++) {
            lo1 = mt_p256_adc(a, b, cin, &k1);
            lo2 = mt_p256_adc_portable(a, b, cin, &k2);
            bad |= lo1 != lo2 || k1 != k2 || lo1 != a + b + cin;
            lo1 = mt_p256_sbb(a, b, cin, &k1);
            lo2 = mt_p256_sbb_portable(a, b, cin, &k2);
            bad |= lo1 != lo2 || k1 != k2 || lo1 != a - b - cin;
        }
    }
    CHECK(!bad);
    /* a few exact values: (2^64-1)^2 + 2(2^64-1) = 2^128 - 1 */
    uint64_t hi, lo = mt_p256_mac_portable(~0ull, ~0ull, ~0ull, ~0ull, &hi);
    CHECK(lo == ~0ull && hi == ~0ull);
    lo = mt_p256_mac_portable(0x100000000u, 0x100000000u, 0, 0, &hi);
    CHECK(lo == 0 && hi == 1);
}

static const char *const field_vec[][7] = {
/* a, b, a*b, a^2, a+b, a-b, a^-1 (mod p) */
    {"d23f0824128b2f330c5c7fd0a6a3a4506513270e269e0d37f2a74de452e6b438",
     "36f675cc81e74ef5e8e25d940ed904759531985d5d9dc9f81818e811892f902b",
     "8a0738a0a9cc1a6bdc2ec5cad956023880c2fafb38567705e3a79ea958be0737",
     "899ce0c00fa5caa838096927ac9cea4a850592fb9fa15a43c25189280e216911",
     "09357df194727e27f53edd64b57ca8c5fa44bf6a843bd7300ac035f5dc164464",
     "9b48925790a3e03d237a223c97ca9fdacfe18eb0c900433fda8e65d2c9b7240d",
     "ff263e96a649b617c39d465ae2d88c3a989bc2de4a108cd4fd58c4edcad4bd30"},
    {"ffffffff00000001000000000000000000000000fffffffffffffffffffffffe",
     "ffffffff00000001000000000000000000000000fffffffffffffffffffffffd",
     "0000000000000000000000000000000000000000000000000000000000000002",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "ffffffff00000001000000000000000000000000fffffffffffffffffffffffe"},
    {"0000000000000000000000000000000000000000000000000000000000000001",
     "ffffffff00000001000000000000000000000000fffffffffffffffffffffffe",
     "ffffffff00000001000000000000000000000000fffffffffffffffffffffffe",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000002",
     "0000000000000000000000000000000000000000000000000000000000000001"},
    {"8d116ece1738f7d93d9c172411e20b8f6b0d549b6f03675a1600a35a099950d8",
     "8000000000000000000000000000000000000000000000000000000000000000",
     "c39f5f4d3ee7f40d2e55686998989945c567ba3c7c151f14c89dc0aca6eac285",
     "eb14c6c8fc65b40dd71ed30f46b1d82af8bfd4533c9ea0788d801eb202a3a911",
     "0d116ecf1738f7d83d9c172411e20b8f6b0d549a6f03675a1600a35a099950d9",
     "0d116ece1738f7d93d9c172411e20b8f6b0d549b6f03675a1600a35a099950d8",
     "9e3bde91dc04bd8357ad747c814c18bec6dd8fc7e15d56417c6b5f80591dccb6"},
};

static void test_field(void)
{
    for (size_t i = 0; i < sizeof field_vec / sizeof field_vec[0]; i++) {
        uint64_t a[4], b[4], want[4], am[4], bm[4], r[4], t[4];
        limbs(a, field_vec[i][0]);
        limbs(b, field_vec[i][1]);
        mt_p256_fe_to_mont(am, a);
        mt_p256_fe_to_mont(bm, b);
        mt_p256_fe_from_mont(t, am);
        CHECK(limbs_eq(t, a)); /* round trip */

        mt_p256_fe_mul(r, am, bm);
        mt_p256_fe_from_mont(r, r);
        limbs(want, field_vec[i][2]);
        CHECK(limbs_eq(r, want));

        mt_p256_fe_sqr(r, am);
        mt_p256_fe_from_mont(r, r);
        limbs(want, field_vec[i][3]);
        CHECK(limbs_eq(r, want));

        mt_p256_fe_add(r, am, bm);
        mt_p256_fe_from_mont(r, r);
        limbs(want, field_vec[i][4]);
        CHECK(limbs_eq(r, want));

        mt_p256_fe_sub(r, am, bm);
        mt_p256_fe_from_mont(r, r);
        limbs(want, field_vec[i][5]);
        CHECK(limbs_eq(r, want));

        /* add and sub work the same on plain values: check them unconverted too */
        mt_p256_fe_sub(r, a, b);
        CHECK(limbs_eq(r, want));

        mt_p256_fe_inv(r, am);
        mt_p256_fe_from_mont(r, r);
        limbs(want, field_vec[i][6]);
        CHECK(limbs_eq(r, want));

        /* the square root of a^2 is +-a */
        mt_p256_fe_sqr(t, am);
        mt_p256_fe_sqrt_candidate(r, t);
        mt_p256_fe_neg(t, am);
        CHECK(mt_p256_fe_eq(r, am) || mt_p256_fe_eq(r, t));

        /* aliasing: r == a == b */
        for (int k = 0; k < 4; k++)
            r[k] = am[k];
        mt_p256_fe_mul(r, r, r);
        mt_p256_fe_sqr(t, am);
        CHECK(mt_p256_fe_eq(r, t));
    }
}

static const char *const scalar_vec[][4] = {
/* a, b, a*b/2^256 mod n, a^-1 mod n */
    {"a170b33839263059f28c105d1fb17c2390c192cfd3ac94af0f21ddb66cad4a27",
     "0cb1e29c658cda1495e60af593bd04cf0fd630f1f29d0da9953f48f1a09f76b5",
     "4de799134a7b0a31137907b20f042c005c43b97f35d1ab85cea6392fd044242c",
     "2f76abae8289ecb0d17bbca8ec28b270a5397ee82b0c1450818c0a445c42da49"},
    {"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550",
     "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550",
     "60d066334905c1e907f8b6041e607725badef3e243566fafce1bc8f79c197c79",
     "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550"},
    {"0000000000000000000000000000000000000000000000000000000000000001",
     "6b4cb2424a23d5962217beaddbc496cb8e81973e0becd7b03898d190f9ebdacc",
     "97fbaa236aa9b4e29d5247ab5e15d4eaec06237af4ff95aa904a54e0244bd4d6",
     "0000000000000000000000000000000000000000000000000000000000000001"},
};

static void test_scalar(void)
{
    for (size_t i = 0; i < sizeof scalar_vec / sizeof scalar_vec[0]; i++) {
        uint64_t a[4], b[4], want[4], r[4], one[4] = {1, 0, 0, 0};
        limbs(a, scalar_vec[i][0]);
        limbs(b, scalar_vec[i][1]);
        mt_p256_sc_mont_mul(r, a, b);
        limbs(want, scalar_vec[i][2]);
        CHECK(limbs_eq(r, want));
        mt_p256_sc_inv_mont(r, a);      /* a^-1 * 2^256 */
        mt_p256_sc_mont_mul(r, r, one); /* a^-1 */
        limbs(want, scalar_vec[i][3]);
        CHECK(limbs_eq(r, want));
    }
    /* reduction of values >= n: 2^256 - 1 -> 2^256 - 1 - n */
    uint64_t all[4] = {~0ull, ~0ull, ~0ull, ~0ull}, r[4], want[4];
    mt_p256_sc_reduce(r, all);
    limbs(want, "00000000ffffffff00000000000000004319055258e8617b0c46353d039cdaae");
    CHECK(limbs_eq(r, want));
    mt_p256_sc_reduce(r, mt_p256_n);
    CHECK(mt_p256_limbs_is_zero(r));
}

/* Jacobian -> plain affine x, y (big-endian) */
static void to_affine(uint8_t x[32], uint8_t y[32], const mt_p256_jac *p)
{
    uint64_t zi[4], z2[4], t[4];
    mt_p256_fe_inv(zi, p->z);
    mt_p256_fe_sqr(z2, zi);
    mt_p256_fe_mul(t, p->x, z2);
    mt_p256_fe_from_mont(t, t);
    mt_p256_limbs_to_be(x, t);
    mt_p256_fe_mul(z2, z2, zi);
    mt_p256_fe_mul(t, p->y, z2);
    mt_p256_fe_from_mont(t, t);
    mt_p256_limbs_to_be(y, t);
}

static const char *const g_hex =
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

static void key_to_aff(mt_p256_aff *q, const mt_p256_pubkey *key)
{
    uint64_t t[4];
    mt_p256_limbs_from_be(t, key->x);
    mt_p256_fe_to_mont(q->x, t);
    mt_p256_limbs_from_be(t, key->y);
    mt_p256_fe_to_mont(q->y, t);
}

/* The committed table equals (2i+1) G computed afresh with the C arithmetic. */
static void test_g_table(void)
{
    uint8_t pt[65];
    mt_p256_pubkey g;
    mt_p256_aff ga;
    mt_p256_jac acc, g2;
    unhex(pt, 65, g_hex);
    CHECK_EQ(mt_p256_pubkey_parse(&g, pt, 65), MT_OK);
    key_to_aff(&ga, &g);
    for (int k = 0; k < 4; k++) {
        acc.x[k] = ga.x[k];
        acc.y[k] = ga.y[k];
        acc.z[k] = mt_p256_fe_one[k];
    }
    mt_p256_jac_dbl(&g2, &acc);
    CHECK(mt_p256_g_window >= 2 && mt_p256_g_window <= 8);
    for (int i = 0; i < 1 << (mt_p256_g_window - 2); i++) {
        uint8_t x[32], y[32], tx[32], ty[32];
        uint64_t t[4];
        to_affine(x, y, &acc);
        mt_p256_fe_from_mont(t, mt_p256_g_table[i].x);
        mt_p256_limbs_to_be(tx, t);
        mt_p256_fe_from_mont(t, mt_p256_g_table[i].y);
        mt_p256_limbs_to_be(ty, t);
        CHECK_MEM(x, tx, 32);
        CHECK_MEM(y, ty, 32);
        mt_p256_jac_add(&acc, &acc, &g2, 0);
    }
}

static const char *const mul2_vec[][5] = {
/* u1, u2, k (Q = kG), affine x, y of u1 G + u2 Q (0, 0: infinity) */
    {"ae97ba94d0eda82f8f6d05584ef8aa38922766581e27a1c08a6a63ec24ede6a4",
     "18f135d25f557203301850c5a38fd547923a736994e3bf911a61dbe22e44158b",
     "7f15052434b9b5df9e7769b10f4205b4907a70c31012f037b64ce4228c38fb2a",
     "e5c40af2c06be24d99124182c795c61e3e9f54c9c61339a67fb877f41dd90a39",
     "37ed52b3ff38cdf5a271b1111710f357c6615af680350e18ddaa6c587387aa9e"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000005",
     "0000000000000000000000000000000000000000000000000000000000000007",
     "d58d4a589ed27d168ffa3ad7326c48ca94e8e1fe92af9700a12d389033bb291a",
     "d45514d102726b8576ea92632dc7fef667271c163b034979a5b0c9c6f586b9d5"},
    {"0000000000000000000000000000000000000000000000000000000000000003",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "5ecbe4d1a6330a44c8f7ef951d4bf165e6c6b721efada985fb41661bc6e7fd6c",
     "8734640c4998ff7e374b06ce1a64a2ecd82ab036384fb83d9a79b127a27d5032"},
    {"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000000"},
    {"8000000000000000000000000000000000000000000000000000000000000000",
     "7fffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
     "0000000000000000000000000000000000000000000000000000000000000003",
     "0b197a2e1e67a44b5afb62de48adde6400b60867487cab5739912513c420924a",
     "5b5fc4ce0c6bac1ea990c7a29839be03f0a0ab1147404cbf461ac4c72efba5a0"},
    {"0000000000000000000000000000000000000000000000000000000000000001",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "7cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc47669978",
     "07775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1"},
};

static void test_mul2(void)
{
    uint8_t pt[65];
    mt_p256_pubkey g;
    mt_p256_aff ga;
    unhex(pt, 65, g_hex);
    CHECK_EQ(mt_p256_pubkey_parse(&g, pt, 65), MT_OK);
    key_to_aff(&ga, &g);
    for (size_t i = 0; i < sizeof mul2_vec / sizeof mul2_vec[0]; i++) {
        uint64_t u1[4], u2[4], k[4], zero[4] = {0, 0, 0, 0};
        mt_p256_jac q, r;
        mt_p256_aff qa;
        uint8_t x[32], y[32], wx[32], wy[32];
        limbs(u1, mul2_vec[i][0]);
        limbs(u2, mul2_vec[i][1]);
        limbs(k, mul2_vec[i][2]);
        /* Q = k G, through the same routine with u2 = 0 */
        mt_p256_mul2(&q, k, zero, &ga);
        uint64_t zi[4], t[4];
        mt_p256_fe_inv(zi, q.z);
        mt_p256_fe_sqr(t, zi);
        mt_p256_fe_mul(qa.x, q.x, t);
        mt_p256_fe_mul(t, t, zi);
        mt_p256_fe_mul(qa.y, q.y, t);
        mt_p256_mul2(&r, u1, u2, &qa);
        unhex(wx, 32, mul2_vec[i][3]);
        unhex(wy, 32, mul2_vec[i][4]);
        static const uint8_t z32[32];
        if (memcmp(wx, z32, 32) == 0 && memcmp(wy, z32, 32) == 0) {
            CHECK(mt_p256_limbs_is_zero(r.z));
            continue;
        }
        CHECK(!mt_p256_limbs_is_zero(r.z));
        to_affine(x, y, &r);
        CHECK_MEM(x, wx, 32);
        CHECK_MEM(y, wy, 32);
    }
}

static void test_pubkey(void)
{
    uint8_t pt[80], enc[65];
    mt_p256_pubkey k, kc;
    static const char *const unc =
        "0461216494fcbaea4d543a9d9b5b62279369487f1e3c8a0ffc792e43b26dae9d9c"
        "9e404bec3096ae2503166f75489d21869abe0e4a955bbb28d5a398f10df530ff";

    unhex(pt, 65, unc);
    CHECK_EQ(mt_p256_pubkey_parse(&k, pt, 65), MT_OK);
    mt_p256_pubkey_encode(&k, enc);
    CHECK_MEM(enc, pt, 65);

    /* compressed: y is odd, so 03 gives the same key, 02 the negation */
    pt[0] = 0x03;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_OK);
    CHECK_MEM(&kc, &k, sizeof k);
    pt[0] = 0x02;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_OK);
    CHECK_MEM(kc.x, k.x, 32);
    CHECK(memcmp(kc.y, k.y, 32) != 0);
    CHECK_EQ(kc.y[31] & 1, 0);

    /* wrong lengths for each prefix, hybrid and unknown prefixes */
    unhex(pt, 65, unc);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 64), MT_E_ENCODING);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 66), MT_E_ENCODING);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_E_ENCODING);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 0), MT_E_ENCODING);
    pt[0] = 0x06;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_ENCODING);
    pt[0] = 0x07;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_ENCODING);
    pt[0] = 0x05;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_ENCODING);
    pt[0] = 0x02;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 32), MT_E_ENCODING);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 34), MT_E_ENCODING);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_ENCODING);
    pt[0] = 0x00;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 1), MT_E_PUBKEY); /* infinity */
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_ENCODING);
    CHECK_EQ(mt_p256_pubkey_parse(NULL, pt, 65), MT_E_ARG);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, NULL, 65), MT_E_ARG);

    /* off the curve: flip a bit of y */
    unhex(pt, 65, unc);
    pt[64] ^= 1;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_PUBKEY);
    /* (0, 0) */
    memset(pt + 1, 0, 64);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_PUBKEY);

    /* x = p, and y = p, are out of range even though they reduce to valid
     * field elements; x = p with the y of the point x = 0 would be "on the
     * curve" mod p. */
    static const char *const p_hex = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    static const char *const y_of_x0 = "66485c780e2f83d72433bd5d84a06bb6541c2af31dae871728bf856a174f93f4";
    pt[0] = 0x04;
    memset(pt + 1, 0, 32);
    unhex(pt + 33, 32, y_of_x0);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_OK); /* (0, y) is a point */
    unhex(pt + 1, 32, p_hex);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_PUBKEY);
    pt[0] = 0x02;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_E_PUBKEY);
    memset(pt + 1, 0xff, 32);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_E_PUBKEY);
    /* y = p - y0 + p is >= p */
    pt[0] = 0x04;
    memset(pt + 1, 0, 32);
    unhex(pt + 33, 32, p_hex);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 65), MT_E_PUBKEY);

    /* compressed x = 0 decompresses to the root above (even) or p - root */
    pt[0] = 0x02;
    memset(pt + 1, 0, 32);
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_OK);
    unhex(enc, 32, y_of_x0);
    CHECK_MEM(kc.y, enc, 32);
    /* compressed x = 1: x^3 - 3x + b is not a square */
    pt[32] = 1;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_E_PUBKEY);
    pt[0] = 0x03;
    CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_E_PUBKEY);
}

struct der_case {
    const char *hex;
    int rc;
};

static void test_der(void)
{
    /* r = 0x01, s = 0x80 (needs a leading zero) */
    static const struct der_case cases[] = {
        {"3007020101020200ff", MT_OK},
        {"300702010102020080", MT_OK},
        {"3006020101020180", MT_E_ENCODING},          /* s negative */
        {"30080201010203000080", MT_E_ENCODING},      /* s with two leading zeros */
        {"3007020200010201ff", MT_E_ENCODING},        /* r with a needless leading zero */
        {"300502000201ff", MT_E_ENCODING},            /* zero-length r */
        {"3006020100020101", MT_OK},                  /* r = 0 parses; verify rejects it */
        {"308107020101020200ff", MT_E_ENCODING},      /* long form where short fits */
        {"30820007020101020200ff", MT_E_ENCODING},    /* two-byte long form */
        {"3080020101020200ff0000", MT_E_ENCODING},    /* indefinite length */
        {"3007020101020200ff00", MT_E_ENCODING},      /* trailing byte */
        {"3008020101020200ff", MT_E_ENCODING},        /* length past the end */
        {"3006020101020200ff", MT_E_ENCODING},        /* length short of the content */
        {"3107020101020200ff", MT_E_ENCODING},        /* SET, not SEQUENCE */
        {"1007020101020200ff", MT_E_ENCODING},        /* primitive tag 0x10 */
        {"3007030101020200ff", MT_E_ENCODING},        /* BIT STRING for r */
        {"3007020101220200ff", MT_E_ENCODING},        /* constructed INTEGER */
        {"300a020101020200ff020101", MT_E_ENCODING},  /* third INTEGER */
        {"3003020101", MT_E_ENCODING},                /* s missing */
        {"30", MT_E_ENCODING},
        {"", MT_E_ENCODING},
        {"3000", MT_E_ENCODING},
        {"3007028101020200ff", MT_E_ENCODING},        /* long-form INTEGER length */
        /* 33 bytes with a leading zero: fine; 33 significant bytes: too long */
        {"3026020101022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
         MT_OK},
        {"3026020101022101ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
         MT_E_ENCODING},
        {"30270201010222000000ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc6325",
         MT_E_ENCODING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t der[80], rs[64];
        int n = mt_test_unhex(cases[i].hex, der, sizeof der);
        CHECK(n >= 0);
        int rc = mt_ecdsa_sig_from_der(rs, der, (size_t)n);
        if (rc != cases[i].rc)
            fprintf(stderr, "der case %zu: got %d\n", i, rc);
        CHECK_EQ(rc, cases[i].rc);
    }
    uint8_t der[9], rs[64], want[64] = {0};
    unhex(der, 9, "3007020101020200ff");
    CHECK_EQ(mt_ecdsa_sig_from_der(rs, der, 9), MT_OK);
    want[31] = 1;
    want[63] = 0xff;
    CHECK_MEM(rs, want, 64);
    CHECK_EQ(mt_ecdsa_sig_from_der(NULL, der, 9), MT_E_ARG);
    CHECK_EQ(mt_ecdsa_sig_from_der(rs, NULL, 9), MT_E_ARG);
}

/* key (uncompressed), key (compressed), digest, DER signature, r||s */
static const char *const kat[][5] = {
    {"0461216494fcbaea4d543a9d9b5b62279369487f1e3c8a0ffc792e43b26dae9d9c9e404bec3096ae2503166f75489d21869abe0e4a955bbb28d5a398f10df530ff",
     "0361216494fcbaea4d543a9d9b5b62279369487f1e3c8a0ffc792e43b26dae9d9c",
     "a850c77b642289d1862bfd131fba0d681297c0ba1cb010c8fcb9eba5f85a24c2",
     "304402205e052ad2322e72b8e0ff07b21dcdb409ae6bcf959a94f3095c93de85594f053302200d338544209820f8a5f75e858f441f305ada9d9895b43bef1c554df99fe4a135",
     "5e052ad2322e72b8e0ff07b21dcdb409ae6bcf959a94f3095c93de85594f05330d338544209820f8a5f75e858f441f305ada9d9895b43bef1c554df99fe4a135"},
    {"04b254db4dcc4a064f1a1dbac8f63816fb2d3def9d862f8a282c0e47bcccd49c864e9766a1fea2b961a8a178f45f362e0d420c22ee593c4d9eaffb6f1131573cac",
     "02b254db4dcc4a064f1a1dbac8f63816fb2d3def9d862f8a282c0e47bcccd49c86",
     "8bf471cb63d465eccdf7486b8e68c5c02f43329aeeac6c822c8b7acd0cdcb78e",
     "3045022100cda34759fe4b1f38d0eefa284fa3a7a72774db16b0a9132e3d81d29d9d67687702203c40ce4e5091999e704c4fafe01b5c8b56a2ca6aecb366d657f08268a2097ffb",
     "cda34759fe4b1f38d0eefa284fa3a7a72774db16b0a9132e3d81d29d9d6768773c40ce4e5091999e704c4fafe01b5c8b56a2ca6aecb366d657f08268a2097ffb"},
    {"043f7c32037749f0366296e2a899054e568d5c0e4b5b49636eec39a1456ce8f7c70dfd4798d5855fb75c4933339ce7a210b27f09404c5bc24b77175e59825922f9",
     "033f7c32037749f0366296e2a899054e568d5c0e4b5b49636eec39a1456ce8f7c7",
     "e4471b18e7ada490a4bd6b02d9ab98b0a14761f1cc09766f292e12050bea2fb3",
     "3045022064060ca1df188a1b321c69c35e1c24f042281dd5fc3b9e3d6806374bd68d7002022100c17888cebb2d8e30ae0ee3115b5f3243247fb91a24f2b6088d8ab0edf1a96c42",
     "64060ca1df188a1b321c69c35e1c24f042281dd5fc3b9e3d6806374bd68d7002c17888cebb2d8e30ae0ee3115b5f3243247fb91a24f2b6088d8ab0edf1a96c42"},
    {"04e48f55e628a0ee73d512456060692eb45880c398295433e0fb2fb90bc132143ae9e8eccf6df716aa4eecd8a3f1abb0f3c02744c9ee617bb0e308a70dc27c2957",
     "03e48f55e628a0ee73d512456060692eb45880c398295433e0fb2fb90bc132143a",
     "3e62b4317de0707f9dcabda4b6d139726c896ed2fc5c66751f33c2bc59e6802f",
     "3045022003ecbb99e6d7b67f1472298419c87b4f07dbfe8e97516a4d47f9cfa84879c7b7022100bac21b93af025fb75a9785efecee34109602fa30a072dcb44af8f0cbd06640e7",
     "03ecbb99e6d7b67f1472298419c87b4f07dbfe8e97516a4d47f9cfa84879c7b7bac21b93af025fb75a9785efecee34109602fa30a072dcb44af8f0cbd06640e7"},
};

static void test_verify(void)
{
    static const char *const n_hex = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint8_t pt[65], d[32], der[72], rs[64], t[64];
        mt_p256_pubkey k, kc;
        unhex(pt, 65, kat[i][0]);
        CHECK_EQ(mt_p256_pubkey_parse(&k, pt, 65), MT_OK);
        unhex(pt, 33, kat[i][1]);
        CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_OK);
        CHECK_MEM(&k, &kc, sizeof k);
        unhex(d, 32, kat[i][2]);
        int dn = mt_test_unhex(kat[i][3], der, sizeof der);
        CHECK(dn > 0);
        unhex(rs, 64, kat[i][4]);

        CHECK_EQ(mt_ecdsa_verify_der(&k, d, der, (size_t)dn), MT_OK);
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, rs), MT_OK);
        CHECK_EQ(mt_ecdsa_sig_from_der(t, der, (size_t)dn), MT_OK);
        CHECK_MEM(t, rs, 64);

        /* tampered digest, r, s, key */
        d[i % 32] ^= 0x10;
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, rs), MT_E_SIGNATURE);
        CHECK_EQ(mt_ecdsa_verify_der(&k, d, der, (size_t)dn), MT_E_SIGNATURE);
        d[i % 32] ^= 0x10;
        rs[5] ^= 1;
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, rs), MT_E_SIGNATURE);
        rs[5] ^= 1;
        rs[40] ^= 0x80;
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, rs), MT_E_SIGNATURE);
        rs[40] ^= 0x80;
        der[dn - 1] ^= 1;
        CHECK_EQ(mt_ecdsa_verify_der(&k, d, der, (size_t)dn), MT_E_SIGNATURE);
        der[dn - 1] ^= 1;
        CHECK_EQ(mt_ecdsa_verify_der(&k, d, der, (size_t)dn - 1), MT_E_SIGNATURE);
        unhex(pt, 33, kat[(i + 1) % 4][1]);
        CHECK_EQ(mt_p256_pubkey_parse(&kc, pt, 33), MT_OK);
        CHECK_EQ(mt_ecdsa_verify_raw(&kc, d, rs), MT_E_SIGNATURE);

        /* (r, n - s) verifies too: -s negates u1 and u2, so R becomes -R with
         * the same x. ECDSA has no low-s rule and this verifier adds none. */
        memcpy(t, rs, 64);
        uint64_t s[4], ns[4], nn[4], bw = 0;
        mt_p256_limbs_from_be(s, t + 32);
        limbs(nn, n_hex);
        for (int j = 0; j < 4; j++)
            ns[j] = mt_p256_sbb(nn[j], s[j], bw, &bw);
        mt_p256_limbs_to_be(t + 32, ns);
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, t), MT_OK);

        /* r, s out of range: 0 and n */
        memcpy(t, rs, 64);
        memset(t, 0, 32);
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, t), MT_E_SIGNATURE);
        unhex(t, 32, n_hex);
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, t), MT_E_SIGNATURE);
        memcpy(t, rs, 64);
        memset(t + 32, 0, 32);
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, t), MT_E_SIGNATURE);
        unhex(t + 32, 32, n_hex);
        CHECK_EQ(mt_ecdsa_verify_raw(&k, d, t), MT_E_SIGNATURE);
        /* r + n (still < 2^256): the same residue, but out of range */
        memcpy(t, rs, 64);
        uint64_t r[4], c = 0;
        mt_p256_limbs_from_be(r, t);
        for (int j = 0; j < 4; j++)
            r[j] = mt_p256_adc(r[j], nn[j], c, &c);
        if (!c) {
            mt_p256_limbs_to_be(t, r);
            CHECK_EQ(mt_ecdsa_verify_raw(&k, d, t), MT_E_SIGNATURE);
        }
    }

    /* a hand-filled key struct that is not on the curve */
    mt_p256_pubkey bad;
    uint8_t d[32] = {1}, rs[64] = {0};
    memset(&bad, 0, sizeof bad);
    rs[31] = rs[63] = 1;
    CHECK_EQ(mt_ecdsa_verify_raw(&bad, d, rs), MT_E_PUBKEY);
    CHECK_EQ(mt_ecdsa_verify_raw(NULL, d, rs), MT_E_ARG);
    CHECK_EQ(mt_ecdsa_verify_der(&bad, d, NULL, 0), MT_E_ARG);
}

/* Which limb primitives this build runs, on what: 32-bit targets have no
 * unsigned __int128 and must land on the portable ones by themselves. */
static void print_target(void)
{
    const uint16_t one = 1;
    const char *order = *(const uint8_t *)&one ? "little" : "big";
#ifdef MT_P256_HAVE_INT128
    const char *mul = "unsigned __int128";
#else
    const char *mul = "portable (32-bit halves)";
#endif
    printf("test_p256: %u-bit pointers, %s-endian, 64x64 multiply: %s\n",
           (unsigned)(8 * sizeof(void *)), order, mul);
}

int main(void)
{
    print_target();
    test_limbs();
    test_field();
    test_scalar();
    test_g_table();
    test_mul2();
    test_pubkey();
    test_der();
    test_verify();
    return mt_test_done("test_p256");
}
