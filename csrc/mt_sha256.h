/*
 * SHA-256 (FIPS 180-4), incremental and one-shot. The caller owns the context.
 * In the fast profile a runtime-detected SHA-extension path may be used on
 * x86-64; the portable compression function is always compiled and
 * selectable for tests. The small profile has the portable code alone
 * (mt_sha256_impl.h): mt_sha256_accelerated() is 0 there.
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

/*
 * Selects the fastest implementation the CPU supports. It asks the CPU each
 * time (three CPUID instructions on x86: about 12 us under a hypervisor that
 * traps them, more than hashing 4 KiB); a caller that starts many contexts
 * asks once with mt_sha256_accelerated and uses mt_sha256_init_impl.
 */
void mt_sha256_init(mt_sha256_ctx *ctx);
/*
 * The same with the implementation chosen by the caller: impl is what
 * mt_sha256_accelerated() returned on this CPU (1 selects the accelerated
 * path, which faults on a CPU without it), or 0 for the portable code. Any
 * other value, and every value on a build without an accelerated path,
 * selects the portable code.
 */
void mt_sha256_init_impl(mt_sha256_ctx *ctx, int impl);
/* Forces the portable implementation (tests compare both paths). */
void mt_sha256_init_portable(mt_sha256_ctx *ctx);
void mt_sha256_update(mt_sha256_ctx *ctx, const uint8_t *data, size_t len);
void mt_sha256_final(mt_sha256_ctx *ctx, uint8_t out[MT_SHA256_LEN]);
/*
 * The same bytes into two contexts: exactly mt_sha256_update(a, ...) then
 * mt_sha256_update(b, ...), a and b distinct. When both are at a block
 * boundary with the same implementation (e.g. an image hashed alone and
 * after a 128-byte header), the whole blocks are read once and, on the
 * SHA-NI path, compressed into both side by side (mt_sha256_impl.h).
 */
void mt_sha256_update2(mt_sha256_ctx *a, mt_sha256_ctx *b, const uint8_t *data, size_t len);
/* One-shot. Asks the CPU (mt_sha256_init) only for 16 KiB and more; a
 * shorter message takes the portable code without asking. */
void mt_sha256(const uint8_t *data, size_t len, uint8_t out[MT_SHA256_LEN]);
/* One-shot with the implementation chosen by the caller, as
 * mt_sha256_init_impl: no CPUID, the accelerated path at every length when
 * impl is 1. */
void mt_sha256_impl(const uint8_t *data, size_t len, uint8_t out[MT_SHA256_LEN], int impl);
/* 1 when the accelerated path is available on this CPU, else 0 (asks the
 * CPU on every call; nothing is cached). */
int mt_sha256_accelerated(void);

#endif
