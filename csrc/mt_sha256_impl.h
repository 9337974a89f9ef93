/*
 * Internal to SHA-256: what the buffering (mt_sha256.c) and the profile's
 * block function share. Not public API.
 *
 * The block function is the profile's, chosen by the build's source list:
 *   mt_sha256_fast.c   (sources.txt)        fully unrolled rounds, and SHA-NI
 *                                           (mt_sha256_x86.c) on x86-64;
 *   mt_sha256_small.c  (sources-small.txt)  one round in a loop, no other path.
 * Either defines the four functions below, with identical results; a context
 * may switch between implementations at any block.
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

/* FIPS 180-4, 4.1.2: the functions of the rounds and of the schedule. */
#define MT_SHA256_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (MT_SHA256_ROTR(x, 2) ^ MT_SHA256_ROTR(x, 13) ^ MT_SHA256_ROTR(x, 22))
#define BSIG1(x) (MT_SHA256_ROTR(x, 6) ^ MT_SHA256_ROTR(x, 11) ^ MT_SHA256_ROTR(x, 25))
#define SSIG0(x) (MT_SHA256_ROTR(x, 7) ^ MT_SHA256_ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (MT_SHA256_ROTR(x, 17) ^ MT_SHA256_ROTR(x, 19) ^ ((x) >> 10))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

/* The portable compression of nblocks consecutive 64-byte blocks. */
void mt_sha256_compress_portable(uint32_t state[8], const uint8_t *blocks, size_t nblocks);
/* The same with the implementation a context chose (its impl field). */
void mt_sha256_blocks(uint32_t impl, uint32_t state[8], const uint8_t *blocks, size_t nblocks);
/* Two states over the same blocks: the same as mt_sha256_blocks on each in
 * turn. The SHA-NI path runs the two round chains side by side on one
 * message schedule (each chain waits on its own latency, so the two cost
 * little more than one); elsewhere one state after the other. */
void mt_sha256_blocks2(uint32_t impl, uint32_t a[8], uint32_t b[8], const uint8_t *blocks,
                       size_t nblocks);
/* The impl field for the caller's word (mt_sha256_init_impl): X86 for 1
 * where the profile has that path, PORTABLE otherwise. */
uint32_t mt_sha256_select(int impl);
/* int mt_sha256_accelerated(void), public (mt_sha256.h), is the profile's too. */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MT_SHA256_HAVE_X86 1
/* 1 when the CPU has the SHA extensions, SSSE3 and SSE4.1 (CPUID, no caching). */
int mt_sha256_x86_available(void);
/* Only call when mt_sha256_x86_available(). */
void mt_sha256_compress_x86(uint32_t state[8], const uint8_t *blocks, size_t nblocks);
void mt_sha256_compress2_x86(uint32_t a[8], uint32_t b[8], const uint8_t *blocks, size_t nblocks);
#endif

#endif
