/*
 * SHA-256: FIPS 180 examples (tests/vectors/sha256.json) on the portable and
 * the accelerated path, chunked updates at every split point == one-shot,
 * every length across the padding boundaries, and both paths agreeing.
 */
#include "mt_sha256.h"
#include "mt_sha256_impl.h"
#include "mt_test.h"

typedef void (*init_fn)(mt_sha256_ctx *);

static int digest_is(const uint8_t d[32], const char *hex)
{
    uint8_t want[32];
    if (mt_test_unhex(hex, want, sizeof want) != 32) return 0;
    return memcmp(d, want, 32) == 0;
}

static void hash_with(init_fn init, const uint8_t *p, size_t n, size_t chunk, uint8_t out[32])
{
    mt_sha256_ctx ctx;
    init(&ctx);
    while (n) {
        size_t take = n < chunk ? n : chunk;
        mt_sha256_update(&ctx, p, take);
        p += take;
        n -= take;
    }
    mt_sha256_final(&ctx, out);
}

static uint8_t million[1000000];

static void check_vectors(init_fn init)
{
    static const struct { const char *msg; const char *digest; } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
         "klmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    uint8_t d[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const uint8_t *m = (const uint8_t *)v[i].msg;
        size_t n = strlen(v[i].msg);
        for (size_t chunk = 1; chunk <= 65; chunk += 16) {
            hash_with(init, m, n, chunk, d);
            CHECK(digest_is(d, v[i].digest));
        }
    }
    const char *million_a = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    memset(million, 'a', sizeof million);
    hash_with(init, million, sizeof million, sizeof million, d);
    CHECK(digest_is(d, million_a));
    hash_with(init, million, sizeof million, 1000, d);
    CHECK(digest_is(d, million_a));
    hash_with(init, million, sizeof million, 4093, d);
    CHECK(digest_is(d, million_a));
}

/* msg[i] = i*31+7; the digest of the 301 digests of msg[0..n), n = 0..300 (hashlib). */
static void check_lengths(init_fn init)
{
    uint8_t msg[300], all[301 * 32], d[32];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 31u + 7u);
    for (size_t n = 0; n <= sizeof msg; n++) hash_with(init, msg, n, n ? n : 1, all + 32 * n);
    hash_with(init, all, sizeof all, sizeof all, d);
    CHECK(digest_is(d, "78f25692e2f4dd74482ac3dcf4f505a7c278fa279588b764b99a497144bcd49c"));
}

/* Two and three chunks at every split point equal one-shot. */
static void check_splits(init_fn init)
{
    uint8_t msg[300], whole[32], d[32];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 131u + 7u);
    hash_with(init, msg, sizeof msg, sizeof msg, whole);
    int bad = 0;
    for (size_t s = 0; s <= sizeof msg; s++) {
        mt_sha256_ctx ctx;
        init(&ctx);
        mt_sha256_update(&ctx, msg, s);
        mt_sha256_update(&ctx, msg + s, sizeof msg - s);
        mt_sha256_final(&ctx, d);
        if (memcmp(d, whole, 32) != 0) bad++;
        for (size_t t = s; t <= sizeof msg; t += 7) {
            init(&ctx);
            mt_sha256_update(&ctx, msg, s);
            mt_sha256_update(&ctx, msg + s, t - s);
            mt_sha256_update(&ctx, msg + t, sizeof msg - t);
            mt_sha256_final(&ctx, d);
            if (memcmp(d, whole, 32) != 0) bad++;
        }
    }
    CHECK_EQ(bad, 0);
}

static void check_paths(void)
{
    int accel = mt_sha256_accelerated();
    CHECK(accel == 0 || accel == 1);
    mt_sha256_ctx ctx;
    mt_sha256_init(&ctx);
    CHECK_EQ(ctx.impl, accel ? MT_SHA256_IMPL_X86 : MT_SHA256_IMPL_PORTABLE);
    mt_sha256_init_portable(&ctx);
    CHECK_EQ(ctx.impl, MT_SHA256_IMPL_PORTABLE);
    /* the caller's choice: the detected answer, or the portable code for
     * 0 and anything that is not 1 */
    mt_sha256_init_impl(&ctx, accel);
    CHECK_EQ(ctx.impl, accel ? MT_SHA256_IMPL_X86 : MT_SHA256_IMPL_PORTABLE);
    int others[] = {0, -1, 2, 255};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        mt_sha256_init_impl(&ctx, others[i]);
        CHECK_EQ(ctx.impl, MT_SHA256_IMPL_PORTABLE);
        CHECK_EQ(ctx.total, 0u);
        CHECK_EQ(ctx.buflen, 0u);
    }
    printf("test_sha256: accelerated path %s\n", accel ? "present, tested" : "absent");

    /* one-shot on both sides of the detection threshold, vs hashlib */
    static uint8_t big[100003];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 131u + 7u);
    uint8_t d[32], p[32];
    mt_sha256(big, sizeof big, d);
    CHECK(digest_is(d, "bbfad4f95f90d384d555f3df407b8abd654b51131434e1bdca5cda29038f40d1"));
    size_t lens[] = {MT_SHA256_ACCEL_MIN - 1, MT_SHA256_ACCEL_MIN, MT_SHA256_ACCEL_MIN + 63};
    for (size_t i = 0; i < 3; i++) {
        mt_sha256(big + 1, lens[i], d);
        hash_with(mt_sha256_init_portable, big + 1, lens[i], lens[i], p);
        CHECK_MEM(d, p, 32);
    }
    /* the one-shot with the caller's answer: every path, every length */
    {
        const int impls[] = {0, 7, accel};
        int bad = 0;
        for (size_t k = 0; k < 3; k++) {
            for (size_t n = 0; n < 300; n++) {
                mt_sha256_impl(big + 5, n, d, impls[k]);
                hash_with(mt_sha256_init_portable, big + 5, n, n ? n : 1, p);
                if (memcmp(d, p, 32) != 0) bad++;
            }
            mt_sha256_impl(big, sizeof big, d, impls[k]);
            if (!digest_is(d, "bbfad4f95f90d384d555f3df407b8abd654b51131434e1bdca5cda29038f40d1"))
                bad++;
        }
        CHECK_EQ(bad, 0);
    }
    /* final consumes the context */
    mt_sha256_init(&ctx);
    mt_sha256_update(&ctx, big, 10);
    mt_sha256_final(&ctx, d);
    CHECK_EQ(ctx.total, 0u);
    CHECK_EQ(ctx.buflen, 0u);
}

/* mt_sha256_update2 is update(a) then update(b): for contexts at a block
 * boundary or not, the same implementation or not, any lengths and splits;
 * b starting after a prefix (the signed digest after its 128-byte header). */
static void check_update2(void)
{
    static uint8_t data[5000];
    uint32_t s = 0x1234567u;
    for (size_t i = 0; i < sizeof data; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        data[i] = (uint8_t)s;
    }
    for (int round = 0; round < 300; round++) {
        mt_sha256_ctx a, b, ra, rb;
        uint8_t da[32], db[32], dra[32], drb[32];
        size_t prefix_a, prefix_b, off = 0;
        int ia, ib;
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        ia = (int)(s & 1u) & mt_sha256_accelerated();
        ib = round % 5 == 0 ? (int)((s >> 1) & 1u) & mt_sha256_accelerated() : ia;
        prefix_a = round % 3 == 0 ? (s >> 4) % 130u : 0;
        prefix_b = round % 4 == 0 ? (s >> 12) % 130u : 128u;
        mt_sha256_init_impl(&a, ia);
        mt_sha256_init_impl(&b, ib);
        mt_sha256_init_portable(&ra);
        mt_sha256_init_portable(&rb);
        mt_sha256_update(&a, data, prefix_a);
        mt_sha256_update(&ra, data, prefix_a);
        mt_sha256_update(&b, data + 1000, prefix_b);
        mt_sha256_update(&rb, data + 1000, prefix_b);
        while (off < 4096u) {
            size_t n;
            s ^= s << 13; s ^= s >> 17; s ^= s << 5;
            n = round % 2 ? (size_t)(s % 700u) : (size_t)64u * (s % 20u);
            if (n > 4096u - off) n = 4096u - off;
            mt_sha256_update2(&a, &b, data + off, n);
            mt_sha256_update(&ra, data + off, n);
            mt_sha256_update(&rb, data + off, n);
            off += n;
        }
        mt_sha256_final(&a, da);
        mt_sha256_final(&b, db);
        mt_sha256_final(&ra, dra);
        mt_sha256_final(&rb, drb);
        CHECK_MEM(da, dra, 32);
        CHECK_MEM(db, drb, 32);
    }
}

int main(void)
{
    init_fn inits[2] = {mt_sha256_init_portable, mt_sha256_init};
    for (int i = 0; i < 2; i++) {
        check_vectors(inits[i]);
        check_lengths(inits[i]);
        check_splits(inits[i]);
    }
    check_paths();
    check_update2();
    return mt_test_done("test_sha256");
}
