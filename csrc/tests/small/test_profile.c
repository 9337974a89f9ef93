/*
 * What the small profile promises beyond the shared API tests: no
 * accelerated path anywhere (the CPU is never asked, the caller's 1 is
 * ignored), and the narrow table of multiples of G.
 */
#include "mt_crc.h"
#include "mt_p256_point.h"
#include "mt_sha256.h"
#include "mt_sha256_impl.h"
#include "mt_test.h"

int main(void)
{
    mt_sha256_ctx ctx;
    CHECK_EQ(mt_crc_accelerated(), 0);
    CHECK_EQ(mt_sha256_accelerated(), 0);
    mt_sha256_init_impl(&ctx, 1);
    CHECK_EQ(ctx.impl, MT_SHA256_IMPL_PORTABLE);
    mt_sha256_init(&ctx);
    CHECK_EQ(ctx.impl, MT_SHA256_IMPL_PORTABLE);
    CHECK(mt_p256_g_window < 7);
    printf("test_profile: small, G table of width %d (%d points)\n", mt_p256_g_window,
           1 << (mt_p256_g_window - 2));
    return mt_test_done("test_profile");
}
