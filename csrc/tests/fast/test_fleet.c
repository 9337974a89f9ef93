/* mt_fleet_round (sim/mt_fleet.h): one round to many meters. The heard bits
 * follow each meter's own xorshift64* link, computed here independently; a
 * meter fed by the round ends with the flash, counters and state of a twin
 * fed the same heard frames one by one through mt_reasm_frame; runs stop
 * where mt_reasm_frames stops; the argument checks change nothing. */
#include <stdint.h>
#include <string.h>

#include "mt_fleet.h"
#include "mt_frame.h"
#include "mt_reasm.h"
#include "reasm_fixture.h"

#define FS 128u
#define MAXN 32u
#define MAXFRAME (19u + FS + 8u)
#define METERS 3u

typedef struct meter {
    uint8_t mem[DEV];
    uint32_t wear[DEV / SEC];
    mt_flash flash;
    mt_layout layout;
    mt_flash_area bank, progress;
    mt_reasm r;
} meter;

static meter fleet[METERS], twin[METERS];
static uint8_t stream[MAXN * MAXFRAME];
static uint32_t lens[MAXN], offs[MAXN];
static uint8_t heard[METERS * (MAXN / 8u)];

static void meter_init(meter *m)
{
    layout_init(&m->layout, &m->flash, m->mem, m->wear, 8, 1);
    CHECK_EQ(mt_layout_area(&m->layout, &m->flash, MT_PART_BANK_B, &m->bank), MT_OK);
    CHECK_EQ(mt_layout_area(&m->layout, &m->flash, MT_PART_PROGRESS, &m->progress), MT_OK);
    CHECK_EQ(mt_reasm_init(&m->r, &m->bank, &m->progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_begin(&m->r, SESSION, pkg_size, FS, count_of(FS)), MT_OK);
}

/* The link as the header specifies it, written out again. */
static int hears(uint64_t *x, uint64_t loss)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return ((*x * 0x2545F4914F6CDD1DULL) >> 32) >= loss;
}

static uint32_t build_stream(void)
{
    uint32_t n = count_of(FS), off = 0;
    for (uint32_t i = 0; i < n; i++) {
        mt_frame f;
        size_t len = 0;
        f.session_id = SESSION;
        f.package_size = pkg_size;
        f.fragment_size = (uint16_t)FS;
        f.fragment_index = (uint16_t)i;
        f.fragment_count = (uint16_t)n;
        f.payload_len = (uint16_t)frag_len(i, FS);
        f.payload = pkg + i * FS;
        CHECK_EQ(mt_frame_encode(stream + off, MAXFRAME, &f, &len), MT_OK);
        offs[i] = off;
        lens[i] = (uint32_t)len;
        off += (uint32_t)len;
    }
    return off;
}

static void same(const meter *a, const meter *b)
{
    CHECK_MEM(a->mem, b->mem, DEV);
    CHECK_MEM(a->wear, b->wear, sizeof a->wear);
    CHECK_EQ(mt_reasm_received(&a->r), mt_reasm_received(&b->r));
    CHECK_MEM(&a->r.stats, &b->r.stats, sizeof a->r.stats);
    CHECK_EQ(a->r.phase, b->r.phase);
}

/* mt_fleet_pages_equal against a byte-by-byte reference: random buffers with
 * a few bytes changed, pages that divide the length and pages that do not
 * (a short last page), then its argument errors. */
static void pages_equal_cases(void)
{
    static uint8_t a[1000], b[1000], got[1001 / 8 + 2], want[sizeof got];
    static const size_t pages[] = {1, 7, 64, 100, 999, 1000, 4096};
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 40; round++) {
        for (size_t i = 0; i < sizeof a; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            a[i] = b[i] = (uint8_t)x;
        }
        for (int k = 0; k < round % 5; k++) { /* 0 to 4 bytes differ */
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            b[x % sizeof b] ^= (uint8_t)(1u + (x >> 32) % 255u);
        }
        for (size_t q = 0; q < sizeof pages / sizeof pages[0]; q++) {
            size_t page = pages[q], n = (sizeof a + page - 1) / page;
            memset(want, 0, sizeof want);
            for (size_t p = 0; p < n; p++) {
                int eq = 1;
                for (size_t i = p * page; i < sizeof a && i < (p + 1) * page; i++)
                    eq &= a[i] == b[i];
                if (eq) want[p / 8] |= (uint8_t)(1u << (p % 8));
            }
            memset(got, 0xA5, sizeof got);
            CHECK_EQ(mt_fleet_pages_equal(a, b, sizeof a, page, got, (n + 7) / 8), MT_OK);
            CHECK_MEM(got, want, (n + 7) / 8);
        }
    }
    CHECK_EQ(mt_fleet_pages_equal(NULL, b, sizeof a, 64, got, sizeof got), MT_E_ARG);
    CHECK_EQ(mt_fleet_pages_equal(a, NULL, sizeof a, 64, got, sizeof got), MT_E_ARG);
    CHECK_EQ(mt_fleet_pages_equal(a, b, sizeof a, 64, NULL, sizeof got), MT_E_ARG);
    CHECK_EQ(mt_fleet_pages_equal(a, b, sizeof a, 0, got, sizeof got), MT_E_ARG);
    /* 1000 bytes in pages of 7: 143 pages, 18 bytes of bitmap; 17 is short */
    CHECK_EQ(mt_fleet_pages_equal(a, b, sizeof a, 7, got, 17), MT_E_LENGTH);
    CHECK_EQ(mt_fleet_pages_equal(a, b, 0, 64, got, 0), MT_OK); /* nothing to compare */
}

int main(void)
{
    make_pkg(2048u - 128u - 64u, FS, 64u, VENDOR, HW);
    uint32_t n = count_of(FS), total = build_stream(), row = (n + 7u) / 8u;
    CHECK(n <= MAXN);
    CHECK_EQ(mt_fleet_heard_bytes(METERS, n), (size_t)METERS * row);
    const uint64_t loss[METERS] = {0, (uint64_t)1 << 32, (uint64_t)3 << 30 >> 2};
    mt_fleet_meter m[METERS];
    memset(m, 0, sizeof m); /* start too: replay checks every meter's */
    for (uint32_t i = 0; i < METERS; i++) {
        meter_init(&fleet[i]);
        meter_init(&twin[i]);
        m[i].reasm = &fleet[i].r;
        m[i].rng = 0x9E3779B97F4A7C15ULL + i;
        m[i].loss = loss[i];
        m[i].start = 0;
    }

    /* misuse: nothing drawn, nothing fed */
    m[0].rng = 0;
    CHECK_EQ(mt_fleet_round(m, METERS, stream, total, lens, n, heard, sizeof heard), MT_E_ARG);
    m[0].rng = 0x9E3779B97F4A7C15ULL;
    m[1].loss = ((uint64_t)1 << 32) + 1;
    CHECK_EQ(mt_fleet_round(m, METERS, stream, total, lens, n, heard, sizeof heard), MT_E_ARG);
    m[1].loss = loss[1];
    CHECK_EQ(mt_fleet_round(m, METERS, stream, total - 1, lens, n, heard, sizeof heard),
             MT_E_LENGTH);
    CHECK_EQ(mt_fleet_round(m, METERS, stream, total, lens, n, heard, METERS * row - 1),
             MT_E_LENGTH);
    CHECK_EQ(mt_fleet_round(NULL, METERS, stream, total, lens, n, heard, sizeof heard), MT_E_ARG);
    CHECK_EQ(m[0].rng, 0x9E3779B97F4A7C15ULL);
    for (uint32_t i = 0; i < METERS; i++) same(&fleet[i], &twin[i]);

    /* Rounds: the twin takes every heard frame through mt_reasm_frame; the
     * fleet meter takes the round, then each stop by hand and the replay from
     * after it, until its run goes through. */
    uint64_t x[METERS];
    for (uint32_t i = 0; i < METERS; i++) x[i] = m[i].rng;
    int stops = 0, replays = 0;
    for (int round = 0; round < 4; round++) {
        CHECK_EQ(mt_fleet_round(m, METERS, stream, total, lens, n, heard, sizeof heard), MT_OK);
        for (uint32_t i = 0; i < METERS; i++) {
            CHECK_EQ(x[i] == m[i].rng, 0);
            for (uint32_t k = 0; k < n; k++) {
                int h = hears(&x[i], loss[i]);
                CHECK_EQ(h, (heard[i * row + k / 8u] >> (k % 8u)) & 1);
                if (h) CHECK_EQ(mt_reasm_frame(&twin[i].r, stream + offs[k], lens[k]), MT_OK);
            }
            CHECK_EQ(x[i], m[i].rng);
        }
        for (;;) {
            int any = 0;
            for (uint32_t i = 0; i < METERS; i++) {
                if (m[i].code == MT_FLEET_RAN) {
                    m[i].reasm = NULL;
                    continue;
                }
                any = 1;
                stops++;
                uint32_t k = m[i].stop;
                if (m[i].code == MT_FLEET_BEFORE)  /* the header: the per-frame way */
                    CHECK_EQ(mt_reasm_frame(&fleet[i].r, stream + offs[k], lens[k]), MT_OK);
                else
                    CHECK_EQ(m[i].code, MT_FLEET_COMPLETED);
                m[i].reasm = &fleet[i].r;
                m[i].start = k + 1;
            }
            if (!any) break;
            replays++;
            int rc = mt_fleet_replay(m, METERS, stream, total, lens, n, heard, sizeof heard);
            CHECK_EQ(rc, MT_OK);
            if (rc != MT_OK) break; /* the codes would not move: no endless loop */
        }
        for (uint32_t i = 0; i < METERS; i++) {
            same(&fleet[i], &twin[i]);
            m[i].reasm = &fleet[i].r;
        }
    }
    CHECK(stops >= 4 && replays >= 2);  /* both headers and both completions */
    m[0].start = n + 1;
    CHECK_EQ(mt_fleet_replay(m, METERS, stream, total, lens, n, heard, sizeof heard), MT_E_ARG);
    /* a meter not fed: its start is never read */
    m[0].reasm = NULL;
    CHECK_EQ(mt_fleet_replay(m, METERS, stream, total, lens, n, heard, sizeof heard), MT_OK);
    m[0].reasm = &fleet[0].r;
    CHECK(mt_reasm_complete(&fleet[0].r));
    CHECK(mt_reasm_complete(&fleet[2].r));
    CHECK_EQ(mt_reasm_received(&fleet[1].r), 0u);
    for (uint32_t k = 0; k < n; k++) CHECK_MEM(fleet[0].mem + fleet[0].bank.off + k * FS,
                                               pkg + k * FS, frag_len(k, FS));
    pages_equal_cases();
    return mt_test_done("test_fleet");
}
