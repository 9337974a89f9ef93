/*
 * SHA-256 (FIPS 180-4), incremental and one-shot. The caller owns the context.
 * A runtime-detected SHA-extension path may be used on x86; the portable
 * compression function is always compiled and selectable for tests.
 */
#ifndef MT_SHA256_H
#define MT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MT_SHA256_LEN 32u

typedef struct mt_sha256_ctx {
    uint32_t state[8];
    uint64_t total;          /* bytes hashed so far */
    uint8_t buf[64];
    uint32_t buflen;         /* bytes waiting in buf, < 64 */
    uint32_t impl;           /* 0 = portable, 1 = x86 SHA extensions */
} mt_sha256_ctx;

/* Selects the fastest implementation the CPU supports. */
void mt_sha256_init(mt_sha256_ctx *ctx);
/* Forces the portable implementation (tests compare both paths). */
void mt_sha256_init_portable(mt_sha256_ctx *ctx);
void mt_sha256_update(mt_sha256_ctx *ctx, const uint8_t *data, size_t len);
void mt_sha256_final(mt_sha256_ctx *ctx, uint8_t out[MT_SHA256_LEN]);
void mt_sha256(const uint8_t *data, size_t len, uint8_t out[MT_SHA256_LEN]);
/* 1 when the accelerated path is available on this CPU, else 0. */
int mt_sha256_accelerated(void);

#endif
