/*
 * Squaring modulo the P-256 prime, the fast profile's: each off-diagonal
 * product a_i * a_j (i < j) once and doubled, the four squares added, then
 * the Montgomery reduction of mt_p256_fe_mul (mt_p256_field.h). 10 limb
 * products against the general multiplication's 16.
 */
#include "mt_p256_field.h"
#include "mt_p256_limb.h"

void mt_p256_fe_sqr(uint64_t r[4], const uint64_t a[4])
{
    uint64_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    uint64_t t0, t1, t2, t3, t4, t5, t6, t7, c, hi;

    /* Off-diagonal products a_i * a_j, i < j, into t1..t6. */
    t1 = mt_p256_mac(a0, a1, 0, 0, &c);
    t2 = mt_p256_mac(a0, a2, 0, c, &c);
    t3 = mt_p256_mac(a0, a3, 0, c, &c);
    t4 = c;
    t3 = mt_p256_mac(a1, a2, t3, 0, &c);
    t4 = mt_p256_mac(a1, a3, t4, c, &c);
    t5 = c;
    t5 = mt_p256_mac(a2, a3, t5, 0, &c);
    t6 = c;

    /* Double them (the off-diagonal sum is < 2^511, so t7 gets one bit). */
    t7 = t6 >> 63;
    t6 = (t6 << 1) | (t5 >> 63);
    t5 = (t5 << 1) | (t4 >> 63);
    t4 = (t4 << 1) | (t3 >> 63);
    t3 = (t3 << 1) | (t2 >> 63);
    t2 = (t2 << 1) | (t1 >> 63);
    t1 = t1 << 1;

    /* Add the squares a_i^2 at limb 2i; the total is a^2 < 2^512, no carry out. */
    t0 = mt_p256_mac(a0, a0, 0, 0, &hi);
    t1 = mt_p256_adc(t1, hi, 0, &c);
    t2 = mt_p256_mac(a1, a1, t2, c, &hi);
    t3 = mt_p256_adc(t3, hi, 0, &c);
    t4 = mt_p256_mac(a2, a2, t4, c, &hi);
    t5 = mt_p256_adc(t5, hi, 0, &c);
    t6 = mt_p256_mac(a3, a3, t6, c, &hi);
    t7 = t7 + hi;
    MT_P256_MONT_REDUCE(r, t0, t1, t2, t3, t4, t5, t6, t7);
}
