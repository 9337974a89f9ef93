/*
 * Scalars modulo n, the order of the P-256 base point: Montgomery
 * multiplication (R = 2^256) and inversion by Fermat's little theorem.
 *
 * Variable time on purpose: ECDSA verification only handles public values
 * (the signature, the digest, the public key), so the inversion exponent's
 * windows are skipped when zero and the final subtraction is a branch.
 */
#include "mt_p256_scalar.h"
#include "mt_p256_limb.h"

#define N0 0xf3b9cac2fc632551u
#define N1 0xbce6faada7179e84u
#define N2 0xffffffffffffffffu
#define N3 0xffffffff00000000u
const uint64_t mt_p256_n[4] = {N0, N1, N2, N3};
/* -n^-1 mod 2^64 */
#define N0INV 0xccd1c8aaee00bc4fu
/* 2^512 mod n, to enter Montgomery form */
static const uint64_t sc_r2[4] = {0x83244c95be79eea2u, 0x4699799c49bd6fa6u,
                                  0x2845b2392b6bec59u, 0x66e12d94f3d95620u};
/* 2^256 mod n: 1 in Montgomery form */
static const uint64_t sc_one[4] = {0x0c46353d039cdaafu, 0x4319055258e8617bu, 0, 0x00000000ffffffffu};

/* r = t - n if t + hi*2^256 >= n, else t; needs t + hi*2^256 < 2n. */
static inline void sc_final_sub(uint64_t r[4], uint64_t t0, uint64_t t1, uint64_t t2,
                                uint64_t t3, uint64_t hi)
{
    mt_p256_cond_sub(r, t0, t1, t2, t3, hi, N0, N1, N2, N3);
}

/*
 * One Montgomery round: m = t0 * (-n^-1) mod 2^64 makes t0 + m * n[0]
 * divisible by 2^64; add m * n * 2^(64i) to the running value t0..t4 (limbs
 * i..i+4). `hc` carries the bit out of limb i+4 into the next round's top
 * limb, as in the field reduction.
 */
#define SC_RED_ROUND(t0, t1, t2, t3, t4)                       \
    do {                                                       \
        uint64_t m_ = (t0) * N0INV, c_;                        \
        (void)mt_p256_mac(m_, N0, (t0), 0, &c_);               \
        (t1) = mt_p256_mac(m_, N1, (t1), c_, &c_);             \
        (t2) = mt_p256_mac(m_, N2, (t2), c_, &c_);             \
        (t3) = mt_p256_mac(m_, N3, (t3), c_, &c_);             \
        (t4) = mt_p256_adc((t4), c_, hc, &hc);                 \
    } while (0)

/*
 * Product then reduction. For a < 2^256 and b < n the product is below
 * 2^256 n, so (ab + Mn) / 2^256 < 2n: one conditional subtraction.
 */
void mt_p256_sc_mont_mul(uint64_t r[4], const uint64_t a[4], const uint64_t b[4])
{
    uint64_t t[8], hc = 0;

    mt_p256_mul_wide(t, a, b);
    SC_RED_ROUND(t[0], t[1], t[2], t[3], t[4]);
    SC_RED_ROUND(t[1], t[2], t[3], t[4], t[5]);
    SC_RED_ROUND(t[2], t[3], t[4], t[5], t[6]);
    SC_RED_ROUND(t[3], t[4], t[5], t[6], t[7]);
    sc_final_sub(r, t[4], t[5], t[6], t[7], hc);
}

void mt_p256_sc_reduce(uint64_t r[4], const uint64_t a[4])
{
    sc_final_sub(r, a[0], a[1], a[2], a[3], 0);
}

/* The exponent n - 2, most significant limb first, read in 4-bit windows. */
static const uint64_t sc_n_minus_2[4] = {0xf3b9cac2fc63254fu, 0xbce6faada7179e84u,
                                         0xffffffffffffffffu, 0xffffffff00000000u};

void mt_p256_sc_inv_mont(uint64_t r[4], const uint64_t a[4])
{
    /* pw[k] = a^k in Montgomery form, k = 1..15; 15 x 32 bytes of stack. */
    uint64_t pw[15][4];
    uint64_t acc[4];
    mt_p256_sc_mont_mul(pw[0], a, sc_r2);
    for (int k = 1; k < 15; k++)
        mt_p256_sc_mont_mul(pw[k], pw[k - 1], pw[0]);

    for (int i = 0; i < 4; i++)
        acc[i] = sc_one[i];
    int started = 0;
    for (int w = 63; w >= 0; w--) {
        unsigned nib = (unsigned)(sc_n_minus_2[w / 16] >> (4 * (w % 16))) & 15u;
        if (started)
            for (int k = 0; k < 4; k++)
                mt_p256_sc_mont_mul(acc, acc, acc);
        if (nib) {
            mt_p256_sc_mont_mul(acc, acc, pw[nib - 1]);
            started = 1;
        }
    }
    for (int i = 0; i < 4; i++)
        r[i] = acc[i];
}
