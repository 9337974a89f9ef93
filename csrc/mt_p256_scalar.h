/*
 * Arithmetic modulo the P-256 group order n (internal).
 *
 * Scalars are 4 x 64-bit limbs, least significant first, always < n. The
 * Montgomery functions work with R = 2^256; which values are in Montgomery
 * form is stated at each call site. Outputs may alias inputs.
 */
#ifndef MT_P256_SCALAR_H
#define MT_P256_SCALAR_H

#include <stdint.h>

extern const uint64_t mt_p256_n[4];

/* r = a * b / 2^256 mod n, for a < 2^256 and b < n. */
void mt_p256_sc_mont_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]);

/* r = a mod n for any a < 2^256 (one conditional subtraction: 2^256 < 2n). */
void mt_p256_sc_reduce(uint64_t r[4], const uint64_t a[4]);

/*
 * r = a^-1 * 2^256 mod n (the inverse in Montgomery form) for plain
 * 0 < a < n, by Fermat: a^(n-2).
 */
void mt_p256_sc_inv_mont(uint64_t r[4], const uint64_t a[4]);

#endif
