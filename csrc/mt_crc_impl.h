/*
 * Internal to the CRC subsystem. Not public API. The code is the profile's,
 * chosen by the build's source list:
 *   fast  (sources.txt)        mt_crc.c: slicing by 8 over braided streams
 *                              with the generated tables (mt_crc_tables.c,
 *                              33 KiB), and the x86 carry-less-multiply
 *                              folding path (mt_crc_x86.c);
 *   small (sources-small.txt)  mt_crc_small.c: one lookup per byte in the
 *                              byte tables (mt_crc_small_tables.c, 1.5 KiB).
 * Both implement all of mt_crc.h with the same results.
 */
#ifndef MT_CRC_IMPL_H
#define MT_CRC_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Interleaved 8-byte streams of the table path (csrc/tools/gen_crc_tables.py: BRAIDS). */
#define MT_CRC_BRAIDS 6

/*
 * slice[k][i]: register after byte i followed by k zero bytes, starting from 0.
 * braid[k][i]: the same with 8*(MT_CRC_BRAIDS-1) + k zero bytes.
 * The X-25 tables hold 16-bit values in 32-bit entries, so that one table
 * routine serves both CRCs.
 */
extern const uint32_t mt_crc32_slice[8][256];
extern const uint32_t mt_crc16_x25_slice[8][256];
extern const uint32_t mt_crc32_braid[8][256];
extern const uint32_t mt_crc16_x25_braid[8][256];

/* The small profile's: register after byte i, from 0 (slice[0] above). */
extern const uint32_t mt_crc32_table[256];
extern const uint16_t mt_crc16_x25_table[256];

/* [k-1] = {x^(128k+63) mod P, x^(128k-1) mod P}, coefficient x^j at bit 63-j. */
extern const uint64_t mt_crc32_fold[8][2];
extern const uint64_t mt_crc16_x25_fold[8][2];

/*
 * mt_crc32 / mt_crc16_x25(_update), which ask the CPU per call: buffers
 * shorter than this take the table path without asking. One CPUID costs
 * microseconds under a hypervisor (about 4 us on the reference machine), time
 * in which the tables (about 5 GB/s there) get through some 20 KiB; folding
 * (about 15 GB/s) wins clearly from 32 KiB. The _impl entry points, told the
 * answer by their caller, do not use it.
 */
#define MT_CRC_ACCEL_MIN 32768u

/*
 * The _impl entry points fold from this length on: the shortest buffer the
 * folding path takes (four 16-byte lanes), where it already wins. Measured
 * with folding and the tables' finish together (gcc 12 -O2, reference
 * machine, loaded): 64 bytes in about 15 ns against the tables' 32 ns, 256
 * in 18 against 94, 4 KiB in 0.19 us against 1.18 us.
 */
#define MT_CRC_FOLD_MIN 64u

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MT_CRC_HAVE_X86 1
/* 1 when the CPU has PCLMULQDQ and SSE4.1 (one CPUID per call, no caching). */
int mt_crc_x86_available(void);
/*
 * Folds data[0 .. n) with the reflected register `reg` (any width <= 32)
 * XORed into its first bytes, where n is len rounded down to 16 and len >= 64.
 * Writes a 16-byte block congruent to that prefix modulo P into out and
 * returns n; the caller runs the tables over out (from register 0) and then
 * over data[n .. len). Only call when mt_crc_x86_available().
 */
size_t mt_crc_fold_x86(uint32_t reg, const uint8_t *data, size_t len,
                       const uint64_t fold[8][2], uint8_t out[16]);
#endif

#endif
