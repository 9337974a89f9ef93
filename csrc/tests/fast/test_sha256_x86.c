/*
 * The fast profile's SHA-256 paths against each other: the unrolled portable
 * compression and the SHA-NI one block for block, and a context switching
 * between them mid-message. Skipped (saying so) without SHA-NI.
 */
#include "mt_sha256.h"
#include "mt_sha256_impl.h"
#include "mt_test.h"

static uint8_t big[100003];

int main(void)
{
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 131u + 7u);
#ifdef MT_SHA256_HAVE_X86
    if (mt_sha256_accelerated()) {
        /* the compression functions agree block for block on many states */
        uint32_t s1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, s2[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        int bad = 0;
        for (size_t off = 0; off + 64 * 5 <= sizeof big; off += 997) {
            mt_sha256_compress_portable(s1, big + off, 5);
            mt_sha256_compress_x86(s2, big + off, 5);
            if (memcmp(s1, s2, sizeof s1) != 0) bad++;
        }
        CHECK_EQ(bad, 0);
        /* a context may change path between blocks */
        mt_sha256_ctx ctx;
        uint8_t d[32], want[32];
        mt_sha256_init(&ctx);
        CHECK_EQ(ctx.impl, MT_SHA256_IMPL_X86);
        mt_sha256_update(&ctx, big, 1000);
        ctx.impl = MT_SHA256_IMPL_PORTABLE;
        mt_sha256_update(&ctx, big + 1000, sizeof big - 1000);
        mt_sha256_final(&ctx, d);
        CHECK_EQ(mt_test_unhex("bbfad4f95f90d384d555f3df407b8abd654b51131434e1bdca5cda29038f40d1",
                               want, sizeof want), 32);
        CHECK_MEM(d, want, 32);
    } else {
        printf("test_sha256_x86: no SHA extensions on this CPU, not run\n");
    }
#else
    printf("test_sha256_x86: not an x86-64 build, nothing to compare\n");
#endif
    return mt_test_done("test_sha256_x86");
}
