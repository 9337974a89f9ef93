/*
 * SHA-256 (FIPS 180-4): the round constants, and the buffering of
 * update/final around the profile's block function (mt_sha256_impl.h):
 * mt_sha256_fast.c (unrolled rounds, and SHA-NI from mt_sha256_x86.c where
 * the CPU has it) or mt_sha256_small.c (rolled rounds, nothing else). The
 * choice of compression function is made once per context, in
 * mt_sha256_init / mt_sha256_init_impl.
 */
#include <string.h>

#include "mt_endian.h"
#include "mt_sha256.h"
#include "mt_sha256_impl.h"

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. Also read by the SHA-NI path. */
const uint32_t mt_sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static void compress(mt_sha256_ctx *ctx, const uint8_t *p, size_t nblocks)
{
    mt_sha256_blocks(ctx->impl, ctx->state, p, nblocks);
}

void mt_sha256_init_portable(mt_sha256_ctx *ctx)
{
    static const uint32_t iv[8] = {
        0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
        0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
    };
    memcpy(ctx->state, iv, sizeof iv);
    ctx->total = 0;
    ctx->buflen = 0;
    ctx->impl = MT_SHA256_IMPL_PORTABLE;
}

void mt_sha256_init_impl(mt_sha256_ctx *ctx, int impl)
{
    mt_sha256_init_portable(ctx);
    ctx->impl = mt_sha256_select(impl);
}

void mt_sha256_init(mt_sha256_ctx *ctx)
{
    mt_sha256_init_impl(ctx, mt_sha256_accelerated());
}

void mt_sha256_update(mt_sha256_ctx *ctx, const uint8_t *data, size_t len)
{
    /* FIPS 180-4 limits messages to 2^64 - 1 bits; total wraps only beyond 2^64 bytes. */
    ctx->total += (uint64_t)len;
    if (ctx->buflen) {
        /* buflen < 64 is the context's invariant, so 64 - buflen cannot wrap */
        size_t room = 64u - ctx->buflen;
        size_t take = len < room ? len : room;
        memcpy(ctx->buf + ctx->buflen, data, take);
        ctx->buflen += (uint32_t)take;
        data += take;
        len -= take;
        if (ctx->buflen < 64u) return;
        compress(ctx, ctx->buf, 1);
        ctx->buflen = 0;
    }
    if (len >= 64u) {
        compress(ctx, data, len / 64u);
        data += len & ~(size_t)63u;
        len &= 63u;
    }
    if (len) {
        memcpy(ctx->buf, data, len);
        ctx->buflen = (uint32_t)len;
    }
}

void mt_sha256_update2(mt_sha256_ctx *a, mt_sha256_ctx *b, const uint8_t *data, size_t len)
{
    if (a->buflen == 0 && b->buflen == 0 && a->impl == b->impl && len >= 64u) {
        size_t whole = len & ~(size_t)63u;
        mt_sha256_blocks2(a->impl, a->state, b->state, data, whole / 64u);
        a->total += (uint64_t)whole;
        b->total += (uint64_t)whole;
        data += whole;
        len -= whole;
    }
    mt_sha256_update(a, data, len);
    mt_sha256_update(b, data, len);
}

void mt_sha256_final(mt_sha256_ctx *ctx, uint8_t out[MT_SHA256_LEN])
{
    uint64_t bits = ctx->total << 3; /* message length in bits, mod 2^64 */
    uint32_t n = ctx->buflen;        /* < 64 */
    ctx->buf[n++] = 0x80u;
    if (n > 56u) {
        memset(ctx->buf + n, 0, 64u - n);
        compress(ctx, ctx->buf, 1);
        n = 0;
    }
    memset(ctx->buf + n, 0, 56u - n);
    mt_st64be(ctx->buf + 56, bits);
    compress(ctx, ctx->buf, 1);
    for (int i = 0; i < 8; i++) mt_st32be(out + 4 * i, ctx->state[i]);
    memset(ctx, 0, sizeof *ctx); /* final consumes the context */
}

void mt_sha256_impl(const uint8_t *data, size_t len, uint8_t out[MT_SHA256_LEN], int impl)
{
    mt_sha256_ctx ctx;
    mt_sha256_init_impl(&ctx, impl);
    mt_sha256_update(&ctx, data, len);
    mt_sha256_final(&ctx, out);
}

void mt_sha256(const uint8_t *data, size_t len, uint8_t out[MT_SHA256_LEN])
{
    mt_sha256_impl(data, len, out, len >= MT_SHA256_ACCEL_MIN ? mt_sha256_accelerated() : 0);
}
