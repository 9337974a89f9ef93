/* Minimal C test harness: CHECK records a failure and carries on; main returns mt_test_done(). */
#ifndef MT_TEST_H
#define MT_TEST_H

#include <stdio.h>
#include <string.h>

static int mt_test_failures;
static int mt_test_checks;

#define CHECK(cond)                                                              \
    do {                                                                         \
        mt_test_checks++;                                                        \
        if (!(cond)) {                                                           \
            mt_test_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

static inline int mt_test_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, mt_test_checks, mt_test_failures);
    return mt_test_failures ? 1 : 0;
}

/* Parses hex into out; returns the byte count, or -1 on bad input. */
static inline int mt_test_unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

#endif
