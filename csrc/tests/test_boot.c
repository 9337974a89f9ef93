/*
 * Bootloader: record alternation and recovery, the update / confirm / revert
 * / boot-loop / golden flows, anti-rollback, and a power-cut sweep over every
 * flash operation of activate, boot, confirm, revert and golden recovery
 * (MCUboot simulator style: count the operations of a clean run, then cut at
 * each one in turn, under each tear mode, at several fill levels of the
 * boot-control areas so the sweep also lands in their erases).
 */
#include "mt_boot.h"
#include "mt_err.h"
#include "mt_sha256.h"
#include "mt_test.h"
#include "image_vectors.h"

#define SEC 512u
#define BANK (4u * SEC)
#define OFF_A 0u
#define OFF_B BANK
#define OFF_G (2u * BANK)
#define OFF_C0 (3u * BANK)
#define OFF_C1 (3u * BANK + SEC)
#define SIZE (3u * BANK + 2u * SEC)
#define SLOTS (SEC / MT_BOOT_RECORD_SIZE)

static uint8_t mem[SIZE];
static uint32_t wear[SIZE / SEC];
static mt_flash flash;
static mt_image_key keys[1];
static mt_boot_config cfg;

static const uint32_t bank_off[3] = {OFF_A, OFF_B, OFF_G};

/* Writes a package into a bank through the flash API (erase, then program,
 * padded with 0xFF to the write alignment). */
static void put_bank(int bank, const uint8_t *pkg, uint32_t len)
{
    static uint8_t tmp[BANK];
    uint32_t padded = (len + 7u) & ~7u;
    memset(tmp, 0xFF, sizeof tmp);
    memcpy(tmp, pkg, len);
    CHECK_EQ(mt_flash_erase(&flash, bank_off[bank], BANK), MT_OK);
    CHECK_EQ(mt_flash_program(&flash, bank_off[bank], tmp, padded), MT_OK);
}

/* A factory meter: golden and bank A hold signed images, no record. */
static void factory(mt_boot *b)
{
    CHECK_EQ(mt_flash_init(&flash, mem, SIZE, wear, SEC, 8), MT_OK);
    mt_flash_factory_erase(&flash);
    put_bank(MT_BOOT_BANK_GOLDEN, pkg_golden, sizeof pkg_golden);
    put_bank(MT_BOOT_BANK_A, pkg_a, sizeof pkg_a);
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(mt_flash_area_init(&cfg.bank[i], &flash, bank_off[i], BANK), MT_OK);
    CHECK_EQ(mt_flash_area_init(&cfg.control[0], &flash, OFF_C0, SEC), MT_OK);
    CHECK_EQ(mt_flash_area_init(&cfg.control[1], &flash, OFF_C1, SEC), MT_OK);
    cfg.vendor_id = VEC_VENDOR;
    cfg.hw_revision = VEC_HW_REV;
    cfg.keys = keys;
    cfg.key_count = 1;
    CHECK_EQ(mt_boot_init(b, &cfg), MT_OK);
    CHECK_EQ(b->sha_impl, mt_sha256_accelerated()); /* asked once, at init */
}

/* Power cycle: the flash keeps its cells, RAM state is rebuilt. */
static int power_cycle(mt_boot *b)
{
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_init(b, &cfg), MT_OK);
    return mt_boot_start(b);
}

/* Download + activate + reboot into the new image, which comes up. */
static void update_to(mt_boot *b, const uint8_t *pkg, uint32_t len)
{
    int bank = mt_boot_inactive(b);
    CHECK(bank == MT_BOOT_BANK_A || bank == MT_BOOT_BANK_B);
    put_bank(bank, pkg, len);
    CHECK_EQ(mt_boot_activate(b, 1), MT_OK);
    CHECK_EQ(mt_boot_start(b), MT_OK);
    CHECK_EQ(b->running, bank);
    CHECK_EQ(b->rec.state, MT_BOOT_TRIAL);
}

static void test_record_codec(void)
{
    mt_boot_record r = {0x01020304u, 7u, MT_BOOT_BANK_B, MT_BOOT_TRIAL, 2, MT_BOOT_BANK_A, 0}, d;
    uint8_t enc[MT_BOOT_RECORD_SIZE];
    mt_boot_record_encode(&r, enc);
    CHECK_MEM(enc, "MTBC", 4);
    CHECK_EQ(enc[4], 0x04u);
    CHECK_EQ(enc[8], 1u);
    CHECK_EQ(enc[12], 7u);
    CHECK_EQ(mt_boot_record_decode(&d, enc), MT_OK);
    CHECK(d.sequence == r.sequence && d.counter == 7u && d.active == 1u && d.state == 1u &&
          d.attempts == 2u && d.previous == 0u);
    for (unsigned i = 0; i < MT_BOOT_RECORD_SIZE * 8; i++) {
        enc[i / 8] ^= (uint8_t)(1u << (i % 8));
        CHECK(mt_boot_record_decode(&d, enc) != MT_OK);
        enc[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}

static void test_blank_and_update(void)
{
    mt_boot b;
    mt_pkg_header h;

    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.writes, 0u); /* a confirmed image boots without a write */
    CHECK_EQ(b.rec_area, -1);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_inactive(&b), MT_BOOT_BANK_B);
    /* nothing downloaded yet: B is erased flash */
    CHECK_EQ(mt_boot_verify(&b, &h, 1), MT_E_HDR_MAGIC);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_HDR_MAGIC);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_verify(&b, &h, 0), MT_E_INCOMPLETE);
    CHECK_EQ(mt_boot_activate(&b, 0), MT_E_INCOMPLETE);
    CHECK_EQ(b.writes, 0u);
    CHECK_EQ(mt_boot_verify(&b, &h, 1), MT_OK);
    CHECK_EQ(h.security_counter, 2u);
    CHECK_EQ(mt_boot_confirm(&b), MT_E_STATE);
    CHECK_EQ(mt_boot_revert(&b), MT_E_STATE);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_TRIAL);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_A);
    CHECK_EQ(mt_boot_inactive(&b), MT_E_STATE);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_STATE);
    CHECK_EQ(b.running, MT_BOOT_BANK_A); /* until the reset */

    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.rec.attempts, 1u);
    CHECK_EQ(b.running_header.security_counter, 2u);
    CHECK_EQ(mt_boot_confirm(&b), MT_E_STATE); /* not booted yet */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_TRIAL); /* only the heartbeat confirms */
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(b.rec.counter, 2u);
    CHECK_EQ(b.rec.attempts, 0u);
    CHECK_EQ(mt_boot_confirm(&b), MT_E_STATE);

    uint32_t w = b.writes;
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.rec.counter, 2u);
    CHECK_EQ(b.writes, 0u);
    CHECK(w == 3u);

    /* downgrade refused: the old image (counter 1) into A */
    CHECK_EQ(mt_boot_inactive(&b), MT_BOOT_BANK_A);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    put_bank(MT_BOOT_BANK_A, pkg_golden, sizeof pkg_golden);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    CHECK_EQ(b.rec.active, MT_BOOT_BANK_B);
    /* an untrusted signer */
    put_bank(MT_BOOT_BANK_A, pkg_other_key, sizeof pkg_other_key);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_UNKNOWN_KEY);
}

static void test_alternation_and_corruption(void)
{
    mt_boot b;
    int last_area = -1;
    uint32_t last_seq = 0;

    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    /* activate / revert pairs: 2 records each, enough to wrap both areas
     * several times */
    for (unsigned i = 0; i < 3u * SLOTS; i++) {
        CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
        CHECK(b.rec_area != last_area);
        CHECK_EQ(b.rec.sequence, last_seq + 1u);
        last_area = b.rec_area;
        last_seq = b.rec.sequence;
        CHECK_EQ(mt_boot_revert(&b), MT_OK);
        CHECK(b.rec_area != last_area);
        CHECK_EQ(b.rec.sequence, last_seq + 1u);
        last_area = b.rec_area;
        last_seq = b.rec.sequence;
        CHECK_EQ(b.rec.active, MT_BOOT_BANK_A);
        CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    }
    /* 6*SLOTS records over 2 areas of SLOTS slots: each area erased twice
     * (its first fill needs none) */
    CHECK_EQ(mt_flash_wear(&flash, OFF_C0), 2u);
    CHECK_EQ(mt_flash_wear(&flash, OFF_C1), 2u);
    /* the newest record is at the end of its area */
    CHECK_EQ(mt_boot_load(&b), MT_OK);
    CHECK_EQ(b.rec.sequence, last_seq);

    /* corrupt the newest record: the one before it wins */
    mt_boot_activate(&b, 1);
    CHECK_EQ(b.rec.state, MT_BOOT_TRIAL);
    uint32_t off = (b.rec_area ? OFF_C1 : OFF_C0);
    uint32_t s;
    for (s = 0; s < SLOTS; s++) {
        mt_boot_record r;
        if (mt_boot_record_decode(&r, mem + off + s * MT_BOOT_RECORD_SIZE) == MT_OK &&
            r.sequence == b.rec.sequence)
            break;
    }
    CHECK(s < SLOTS);
    CHECK_EQ(mt_flash_flip_bits(&flash, off + s * MT_BOOT_RECORD_SIZE + 9u, 0x01), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    /* the counted attempt reuses the corrupt record's sequence number, in
     * the next slot of the same area */
    CHECK_EQ(b.rec.sequence, last_seq + 1u);
    CHECK_EQ(b.rec_area, off == OFF_C1 ? 1 : 0);

    /* wipe a whole area: the other area's record still wins */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK); /* area 0 */
    CHECK_EQ(mt_boot_start(&b), MT_OK);       /* area 1: attempts 1 */
    CHECK_EQ(b.rec_area, 1);
    memset(mem + OFF_C1, 0xFF, SEC);
    CHECK_EQ(mt_boot_load(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_TRIAL);
    CHECK_EQ(b.rec.attempts, 0u);
    memset(mem + OFF_C0, 0x00, SEC); /* both gone: blank-meter default */
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
}

static void test_bad_banks(void)
{
    mt_boot b;
    static uint8_t bad[sizeof pkg_b];

    /* a bank with a bad signature is never activated ... */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    memcpy(bad, pkg_b, sizeof bad);
    bad[128 + 333 + 3 + 5] ^= 0x10;
    put_bank(MT_BOOT_BANK_B, bad, sizeof bad);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_SIGNATURE);
    CHECK_EQ(b.writes, 0u);
    /* ... nor booted when it goes bad after activation */
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
    put_bank(MT_BOOT_BANK_B, bad, sizeof bad);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    /* the verification cache does not hide a change of content */
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 128u + 17u, 0x04), MT_OK);
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK); /* reset */
    CHECK_EQ(b.running, MT_BOOT_BANK_A);

    /* a confirmed image that rots: the other bank only if not a downgrade,
     * else golden */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 200u, 0x80), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN); /* A holds counter 1 < 2 */
    CHECK_EQ(b.rec.counter, 2u);

    /* nothing valid at all */
    factory(&b);
    memset(mem + OFF_G + 150u, 0, 8);
    memset(mem + OFF_A + 150u, 0, 8);
    CHECK_EQ(mt_boot_start(&b), MT_E_NO_BOOTABLE);
    CHECK_EQ(b.running, MT_BOOT_NONE);
    CHECK_EQ(mt_boot_inactive(&b), MT_E_STATE);
}

static void test_boot_loop(void)
{
    mt_boot b;

    /* crash-on-boot: N counted boots, then back to the previous image */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(b.running_header.behaviour, MT_BEHAVIOUR_CRASH_ON_BOOT);
    CHECK_EQ(b.rec.attempts, 1u);
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.rec.attempts, 2u);
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.rec.attempts, 3u);
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    CHECK_EQ(b.rec.counter, 0u); /* never raised by the crashing image */
    CHECK_EQ(b.running_header.behaviour, MT_BEHAVIOUR_NORMAL);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(b.rec.counter, 0u);

    /* the previous image fails too (here: crashes as well) -> golden */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    for (int i = 0; i < 3; i++) CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
        CHECK_EQ(b.running, MT_BOOT_BANK_A);
    }
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(mt_boot_inactive(&b), MT_BOOT_BANK_A);

    /* the previous image went bad meanwhile -> golden at once */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_A + 300u, 0x01), MT_OK);
    for (int i = 0; i < 3; i++) CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);

    /* a custom limit */
    factory(&b);
    cfg.max_attempts = 1;
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
}

static void test_revert_and_golden(void)
{
    mt_boot b;

    /* confirm B (counter 2), trial A with no heartbeat (counter 3) -> revert */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    update_to(&b, pkg_nohb, sizeof pkg_nohb);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.running_header.behaviour, MT_BEHAVIOUR_NO_HEARTBEAT);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_revert(&b), MT_OK); /* the 300 s window ran out */
    CHECK_EQ(b.rec.counter, 2u);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.rec.counter, 2u);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(b.rec.counter, 2u);

    /* manual golden recovery, and an update from golden */
    CHECK_EQ(mt_boot_golden(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
    CHECK_EQ(b.rec.counter, 2u);
    uint32_t w = b.writes;
    CHECK_EQ(mt_boot_golden(&b), MT_OK); /* already there: no write */
    CHECK_EQ(b.writes, w);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_GOLDEN);
    CHECK_EQ(mt_boot_revert(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
}

/* The outcome field: what the last update came to, kept across the state
 * changes that follow it; and factory provisioning. */
static void test_outcome_and_provision(void)
{
    mt_boot b;
    mt_boot_record r = {9u, 4u, MT_BOOT_BANK_A, MT_BOOT_CONFIRMED, 0, MT_BOOT_BANK_GOLDEN,
                        MT_BOOT_OUTCOME_REVERTED}, d;
    uint8_t enc[MT_BOOT_RECORD_SIZE];

    mt_boot_record_encode(&r, enc);
    CHECK_EQ(enc[16], 2u);
    CHECK_EQ(mt_boot_record_decode(&d, enc), MT_OK);
    CHECK_EQ(d.outcome, MT_BOOT_OUTCOME_REVERTED);
    r.outcome = 3; /* out of range, even with a good CRC */
    mt_boot_record_encode(&r, enc);
    CHECK_EQ(mt_boot_record_decode(&d, enc), MT_E_ARG);

    /* provisioning: the factory image's counter is the floor from the start */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(b.rec.counter, 1u);
    CHECK_EQ(b.rec.active, MT_BOOT_BANK_A);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_NONE);
    CHECK_EQ(b.writes, 1u);
    CHECK_EQ(mt_boot_provision(&b), MT_E_STATE); /* once only */
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.rec.counter, 1u);
    CHECK_EQ(b.rec_area, 0);
    put_bank(MT_BOOT_BANK_B, pkg_golden, sizeof pkg_golden); /* counter 0 < 1 */
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    /* a bad factory image is refused, nothing written */
    factory(&b);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_A + 200u, 0x01), MT_OK);
    CHECK(mt_boot_provision(&b) < 0);
    CHECK_EQ(b.writes, 0u);

    /* confirmed update: outcome confirmed, survives a power cycle */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_NONE);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_CONFIRMED);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_CONFIRMED);

    /* reverted update: outcome reverted, kept when the old image is confirmed
     * again by booting and across a power cycle; the next activation clears it */
    update_to(&b, pkg_nohb, sizeof pkg_nohb);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_NONE);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_revert(&b), MT_OK);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_REVERTED);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_REVERTED);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_REVERTED);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_NONE);
    /* a boot loop is a revert too */
    for (int i = 0; i < 3; i++) CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_REVERTED);
    /* and so is golden recovery */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_golden(&b), MT_OK);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_REVERTED);
}

static void test_swap_fault(void)
{
    mt_boot b;

    /* worn target area: the record goes to the current area's free slots */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK); /* area 0 */
    CHECK_EQ(mt_boot_revert(&b), MT_OK);      /* area 1 */
    CHECK_EQ(mt_flash_set_sector_endurance(&flash, OFF_C0, 0), MT_OK);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
    CHECK_EQ(b.rec_area, 1);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);

    /* both worn: once the current area is full too, F.03: the meter keeps
     * running, every record operation is refused, and after the power cycle
     * the newest record on flash is the last one written */
    CHECK_EQ(mt_flash_set_sector_endurance(&flash, OFF_C1, 0), MT_OK);
    while (mt_boot_revert(&b) == MT_OK && mt_boot_activate(&b, 1) == MT_OK) {
    }
    CHECK_EQ(b.fault, 1u);
    mt_boot_record last = b.rec;
    CHECK_EQ(mt_boot_revert(&b), MT_E_SWAP);
    CHECK_EQ(mt_boot_golden(&b), MT_E_SWAP);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_load(&b), MT_OK);
    CHECK_EQ(b.rec.sequence, last.sequence);
    CHECK_EQ(b.rec_area, 1);

    /* power cut during activate: MT_E_SWAP, old record, still running A */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    mt_flash_cut_after(&flash, 0);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_SWAP);
    CHECK_EQ(b.fault, 1u);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.rec.state, MT_BOOT_CONFIRMED);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_SWAP);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.fault, 0u);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK); /* the retry works */
}

/* ---- power-cut sweep ---- */

static uint8_t snap_mem[SIZE];
static uint32_t snap_wear[SIZE / SEC];
static mt_flash snap_flash;
static mt_boot snap_boot;

static void snapshot(const mt_boot *b)
{
    memcpy(snap_mem, mem, SIZE);
    memcpy(snap_wear, wear, sizeof wear);
    snap_flash = flash;
    snap_boot = *b;
}

static void restore(mt_boot *b)
{
    memcpy(mem, snap_mem, SIZE);
    memcpy(wear, snap_wear, sizeof wear);
    flash = snap_flash;
    *b = snap_boot;
}

static int same(const mt_boot_record *x, const mt_boot_record *y)
{
    return x->sequence == y->sequence && x->active == y->active && x->state == y->state &&
           x->attempts == y->attempts && x->previous == y->previous && x->counter == y->counter;
}

enum op { OP_ACTIVATE, OP_START, OP_BOOT_OK, OP_CONFIRM, OP_REVERT, OP_GOLDEN, OP_CRASH };

static int run_op(mt_boot *b, enum op op)
{
    switch (op) {
    case OP_ACTIVATE: return mt_boot_activate(b, 1);
    case OP_START: return mt_boot_start(b);
    case OP_BOOT_OK: return mt_boot_boot_ok(b);
    case OP_CONFIRM: return mt_boot_confirm(b);
    case OP_REVERT: return mt_boot_revert(b);
    case OP_GOLDEN: return mt_boot_golden(b);
    case OP_CRASH: return mt_boot_boot_failed(b);
    }
    return MT_E_ARG;
}

static unsigned sweep_cuts;

/* From the snapshot state, run op clean and note its records; then for
 * every flash operation k of it and every tear mode: cut there, power up,
 * and check that the flash holds the old record or one of the records the
 * clean run wrote (a start may write several), and that the meter boots a
 * valid image. */
static void sweep(mt_boot *b, enum op op)
{
    mt_boot_record before, after;
    uint32_t ops0, n_ops;
    uint8_t old_run, new_run;
    mt_boot bb;

    /* what a power-up from the old state boots */
    restore(b);
    before = b->rec;
    CHECK_EQ(mt_boot_init(&bb, &cfg), MT_OK);
    CHECK_EQ(mt_boot_start(&bb), MT_OK);
    old_run = bb.running;
    /* the clean run, and what a power-up after it boots */
    restore(b);
    ops0 = mt_flash_ops(&flash);
    CHECK_EQ(run_op(b, op), MT_OK);
    n_ops = mt_flash_ops(&flash) - ops0;
    after = b->rec;
    CHECK_EQ(mt_boot_init(&bb, &cfg), MT_OK);
    CHECK_EQ(mt_boot_start(&bb), MT_OK);
    new_run = bb.running;
    CHECK(n_ops > 0);

    for (uint32_t k = 0; k < n_ops; k++) {
        for (unsigned mode = 0; mode < 3; mode++) {
            for (uint32_t seed = 1; seed <= (mode ? 3u : 1u); seed++) {
                restore(b);
                mt_flash_seed(&flash, seed * 7919u + k);
                CHECK_EQ(mt_flash_set_tear(&flash, mode, MT_FLASH_TEAR_RANDOM), MT_OK);
                mt_flash_cut_after(&flash, k);
                CHECK_EQ(run_op(b, op), MT_E_SWAP);
                CHECK_EQ(b->fault, 1u);
                mt_flash_power_up(&flash);
                CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_NONE, 0), MT_OK);
                CHECK_EQ(mt_boot_init(&bb, &cfg), MT_OK);
                CHECK_EQ(mt_boot_load(&bb), MT_OK);
                /* the old record or the new one; an op that writes several
                 * records (a start that falls back, then counts) may also
                 * stop at one in between */
                int is_old = same(&bb.rec, &before), is_new = same(&bb.rec, &after);
                CHECK(is_old || is_new ||
                      (bb.rec.sequence > before.sequence && bb.rec.sequence < after.sequence));
                CHECK_EQ(mt_boot_start(&bb), MT_OK);
                if (is_old) CHECK_EQ(bb.running, old_run);
                else if (is_new) CHECK_EQ(bb.running, new_run);
                else CHECK(bb.running == old_run || bb.running == new_run);
                /* whatever runs passes the full check */
                mt_image_policy pol = {VEC_VENDOR, VEC_HW_REV, BANK, 0, keys, 1, -1};
                CHECK_EQ(mt_image_check(NULL, &pol, mem + bank_off[bb.running], BANK, 1, NULL),
                         MT_OK);
                sweep_cuts++;
            }
        }
    }
    restore(b);
}

static void test_power_cut_sweep(void)
{
    mt_boot b;

    for (unsigned fill = 0; fill < SLOTS + 2u; fill++) {
        factory(&b);
        CHECK_EQ(mt_boot_start(&b), MT_OK);
        put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
        /* fill the areas to different levels so cuts land in erases too */
        for (unsigned i = 0; i < fill; i++) {
            CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
            CHECK_EQ(mt_boot_revert(&b), MT_OK);
        }
        CHECK_EQ(mt_boot_start(&b), MT_OK);
        CHECK_EQ(mt_boot_boot_ok(&b), MT_OK); /* reverted -> confirmed */

        /* activation */
        snapshot(&b);
        sweep(&b, OP_ACTIVATE);
        /* the trial boot (attempt counting) */
        CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
        snapshot(&b);
        sweep(&b, OP_START);
        /* confirm, revert, golden recovery */
        CHECK_EQ(mt_boot_start(&b), MT_OK);
        CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
        snapshot(&b);
        sweep(&b, OP_CONFIRM);
        sweep(&b, OP_REVERT);
        sweep(&b, OP_GOLDEN);
        /* the reverted image's first good boot */
        CHECK_EQ(mt_boot_revert(&b), MT_OK);
        CHECK_EQ(mt_boot_start(&b), MT_OK);
        CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
        snapshot(&b);
        sweep(&b, OP_BOOT_OK);
    }
    /* a boot loop ending in golden, cut at every step */
    factory(&b);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash);
    for (int i = 0; i < 5; i++) {
        snapshot(&b);
        sweep(&b, OP_CRASH);
        CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    }
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    snapshot(&b);
    sweep(&b, OP_CRASH);
    CHECK_EQ(mt_boot_boot_failed(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
    printf("power-cut sweep: %u cuts\n", sweep_cuts);
}

int main(void)
{
    CHECK_EQ(mt_image_key_init(&keys[0], vec_trusted_key, sizeof vec_trusted_key), MT_OK);
    test_record_codec();
    test_blank_and_update();
    test_alternation_and_corruption();
    test_bad_banks();
    test_boot_loop();
    test_revert_and_golden();
    test_outcome_and_provision();
    test_swap_fault();
    test_power_cut_sweep();
    printf("RAM: sizeof(mt_boot)=%zu sizeof(mt_flash)=%zu sizeof(mt_image_key)*%u=%zu "
           "sizeof(mt_pkg_header)=%zu\n",
           sizeof(mt_boot), sizeof(mt_flash), MT_IMAGE_MAX_KEYS,
           sizeof(mt_image_key) * MT_IMAGE_MAX_KEYS, sizeof(mt_pkg_header));
    return mt_test_done("test_boot");
}
