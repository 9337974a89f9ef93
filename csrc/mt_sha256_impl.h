/*
 * Internal to SHA-256: the block compression functions behind mt_sha256.c.
 * Not public API. Both functions process nblocks consecutive 64-byte blocks
 * and give identical results; a context may switch between them at any block.
 */
#ifndef MT_SHA256_IMPL_H
#define MT_SHA256_IMPL_H

#include <stddef.h>
#include <stdint.h>

#define MT_SHA256_IMPL_PORTABLE 0u
#define MT_SHA256_IMPL_X86 1u

/*
 * The one-shot mt_sha256 asks the CPU for SHA extensions only from this many
 * bytes on: the three CPUID instructions of the check cost microseconds under
 * a hypervisor (about 12 us on the reference machine), more than the portable
 * code spends on a few KiB. mt_sha256_impl, told the answer, does not use it:
 * the SHA extensions win from the first block (a one-block message in
 * about 90 ns against 290 ns portable, 4 KiB in 3.2 us against 16.6 us;
 * gcc 12 -O2, reference machine, loaded).
 */
#define MT_SHA256_ACCEL_MIN 16384u

/* The 64 round constants (mt_sha256.c). */
extern const uint32_t mt_sha256_k[64];

void mt_sha256_compress_portable(uint32_t state[8], const uint8_t *blocks, size_t nblocks);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MT_SHA256_HAVE_X86 1
/* 1 when the CPU has the SHA extensions, SSSE3 and SSE4.1 (CPUID, no caching). */
int mt_sha256_x86_available(void);
/* Only call when mt_sha256_x86_available(). */
void mt_sha256_compress_x86(uint32_t state[8], const uint8_t *blocks, size_t nblocks);
#endif

#endif
