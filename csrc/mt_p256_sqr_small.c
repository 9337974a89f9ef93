/*
 * Squaring modulo the P-256 prime, the small profile's: the general
 * Montgomery multiplication with both operands the same. Slower than the fast
 * profile's dedicated squaring (16 limb products instead of 10) and about a
 * kilobyte smaller on a Cortex-M4.
 */
#include "mt_p256_field.h"

void mt_p256_fe_sqr(uint64_t r[4], const uint64_t a[4])
{
    mt_p256_fe_mul(r, a, a);
}
