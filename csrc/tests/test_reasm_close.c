/* Reassembly sessions as the meter uses them: the caller's tag stored in the
 * progress record, closing a session (activated or given up), a closed
 * record read back by resume, and a power cut / torn program at the close. */
#include <stdint.h>

#include "mt_reasm.h"
#include "reasm_fixture.h"

#define FS 128u

static uint8_t mem[DEV];
static uint32_t wear[DEV / SEC];
static mt_flash flash;
static mt_layout layout;
static mt_flash_area bank_a, bank_b, progress;

/* A package whose header passes the reassembler's check (1000 bytes, 8
 * fragments of 128). */
static void make_close_pkg(void)
{
    make_pkg(1000u - 128u - 128u, FS, 128, VENDOR, HW);
}

static uint32_t len_of(uint32_t i)
{
    return frag_len(i, FS);
}

static void setup(uint32_t align)
{
    layout_init(&layout, &flash, mem, wear, align, 1);
    CHECK_EQ(mt_layout_area(&layout, &flash, MT_PART_BANK_A, &bank_a), MT_OK);
    CHECK_EQ(mt_layout_area(&layout, &flash, MT_PART_BANK_B, &bank_b), MT_OK);
    CHECK_EQ(mt_layout_area(&layout, &flash, MT_PART_PROGRESS, &progress), MT_OK);
}

static void start(mt_reasm *r, uint32_t tag, uint32_t upto)
{
    CHECK_EQ(mt_reasm_init(r, &bank_b, &progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_begin(r, 0xAB, pkg_size, FS, 8), MT_OK);
    r->tag = tag;
    for (uint32_t i = 0; i < upto; i++)
        CHECK_EQ(mt_reasm_block(r, i, pkg + i * FS, len_of(i)), MT_OK);
}

static void test_tag_and_close(uint32_t align)
{
    mt_reasm r, q;

    setup(align);
    start(&r, 1, 5);
    /* the tag is in the record and comes back with the session */
    CHECK_EQ(mt_reasm_init(&q, &bank_b, &progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_resume(&q), MT_OK);
    CHECK_EQ(q.tag, 1u);
    CHECK_EQ(q.received, 5u);
    /* a record for bank B is no session for bank A */
    CHECK_EQ(mt_reasm_init(&q, &bank_a, &progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_resume(&q), MT_E_STATE);
    CHECK_EQ(q.phase, MT_REASM_IDLE);

    /* close: one program, fragments refused, resume sees a closed session */
    uint32_t ops = mt_flash_ops(&flash);
    CHECK_EQ(mt_reasm_close(&r), MT_OK);
    CHECK_EQ(mt_flash_ops(&flash) - ops, align >= 4 ? 1u : 4u / align);
    CHECK_EQ(r.phase, MT_REASM_CLOSED);
    CHECK_EQ(mt_reasm_block(&r, 5, pkg + 5 * FS, FS), MT_E_STATE);
    CHECK_EQ(mt_reasm_complete(&r), 0);
    CHECK_EQ(mt_reasm_init(&q, &bank_b, &progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_resume(&q), MT_E_STATE);
    CHECK_EQ(q.phase, MT_REASM_CLOSED);
    CHECK_EQ(q.session_id, 0xABu);
    CHECK_EQ(q.tag, 1u);
    CHECK_EQ(q.received, 5u);
    CHECK_EQ(mt_reasm_block(&q, 5, pkg + 5 * FS, FS), MT_E_STATE);
    /* closing again writes nothing */
    ops = mt_flash_ops(&flash);
    CHECK_EQ(mt_reasm_close(&q), MT_OK);
    CHECK_EQ(mt_flash_ops(&flash), ops);
    /* the same session begun again starts over: the bank is erased */
    CHECK_EQ(mt_reasm_begin(&q, 0xAB, pkg_size, FS, 8), MT_OK);
    CHECK_EQ(q.phase, MT_REASM_ARMED);
    q.tag = 0;
    CHECK_EQ(mt_reasm_block(&q, 7, pkg + 7 * FS, len_of(7)), MT_OK);
    CHECK_EQ(q.received, 1u);
    CHECK_EQ(mt_reasm_init(&r, &bank_b, &progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_resume(&r), MT_OK);
    CHECK_EQ(r.tag, 0u);
    CHECK_EQ(r.received, 1u);

    /* closing a session that never reached flash writes nothing */
    setup(align);
    CHECK_EQ(mt_reasm_init(&r, &bank_b, &progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_begin(&r, 0xAB, pkg_size, FS, 8), MT_OK);
    CHECK_EQ(mt_reasm_close(&r), MT_OK);
    CHECK_EQ(mt_flash_ops(&flash), 0u);
    CHECK_EQ(r.phase, MT_REASM_CLOSED);
}

/* A cut at the close, every tear mode and length: afterwards the session is
 * either still open with all its progress, or closed — never anything that
 * resume would take for a different session. */
static void test_cut_at_close(uint32_t align)
{
    for (unsigned mode = MT_FLASH_TEAR_NONE; mode <= MT_FLASH_TEAR_BITS; mode++) {
        for (uint32_t k = 0; k <= 16; k++) {
            mt_reasm r, q;
            int rc;
            setup(align);
            start(&r, 1, 6);
            mt_flash_seed(&flash, 77u + k);
            CHECK_EQ(mt_flash_set_tear(&flash, mode, k), MT_OK);
            mt_flash_cut_after(&flash, 0);
            CHECK_EQ(mt_reasm_close(&r), MT_E_FLASH_POWER);
            CHECK_EQ(r.phase, MT_REASM_FAULT);
            mt_flash_power_up(&flash);
            CHECK_EQ(mt_reasm_init(&q, &bank_b, &progress, VENDOR, HW), MT_OK);
            rc = mt_reasm_resume(&q);
            if (rc == MT_OK) {
                CHECK_EQ(q.received, 6u); /* still open: nothing lost */
                CHECK_EQ(mt_reasm_close(&q), MT_OK);
                CHECK_EQ(mt_reasm_init(&q, &bank_b, &progress, VENDOR, HW), MT_OK);
                rc = mt_reasm_resume(&q);
            }
            CHECK_EQ(rc, MT_E_STATE);
            CHECK(q.phase == MT_REASM_CLOSED || q.phase == MT_REASM_IDLE);
            if (mode == MT_FLASH_TEAR_NONE) CHECK_EQ(q.phase, MT_REASM_CLOSED);
        }
    }
}

int main(void)
{
    static const uint32_t aligns[] = {1, 2, 4, 8, 16};
    make_close_pkg();
    for (unsigned i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        test_tag_and_close(aligns[i]);
        test_cut_at_close(aligns[i]);
    }
    return mt_test_done("test_reasm_close");
}
