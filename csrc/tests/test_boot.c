/*
 * Bootloader: record alternation and recovery, the update / confirm / revert
 * / boot-loop / golden flows, anti-rollback, and a power-cut sweep over every
 * flash operation of activate, boot, confirm, revert and golden recovery
 * (MCUboot simulator style: count the operations of a clean run, then cut at
 * each one in turn, under each tear mode, at several fill levels of the
 * boot-control areas so the sweep also lands in their erases).
 */
#include "mt_boot.h"
#include "mt_crc.h"
#include "mt_endian.h"
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
#define OFF_FL (3u * BANK + 2u * SEC)
#define SIZE (3u * BANK + 3u * SEC)
#define SLOTS (SEC / MT_BOOT_RECORD_SIZE)
#define FLOOR_SLOTS (SEC / MT_BOOT_FLOOR_SLOT_SIZE)

static uint8_t mem[SIZE];
static uint32_t wear[SIZE / SEC];
static uint32_t gen[SIZE / SEC]; /* write generations, bound when `tracking` */
static int tracking;
static mt_flash flash;
static mt_image_key keys[2]; /* the trusted key; the other signer, trusted where a test says */
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
    if (tracking) mt_flash_track(&flash, gen);
    mt_flash_factory_erase(&flash);
    put_bank(MT_BOOT_BANK_GOLDEN, pkg_golden, sizeof pkg_golden);
    put_bank(MT_BOOT_BANK_A, pkg_a, sizeof pkg_a);
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(mt_flash_area_init(&cfg.bank[i], &flash, bank_off[i], BANK), MT_OK);
    CHECK_EQ(mt_flash_area_init(&cfg.control[0], &flash, OFF_C0, SEC), MT_OK);
    CHECK_EQ(mt_flash_area_init(&cfg.control[1], &flash, OFF_C1, SEC), MT_OK);
    CHECK_EQ(mt_flash_area_init(&cfg.floor, &flash, OFF_FL, SEC), MT_OK);
    cfg.vendor_id = VEC_VENDOR;
    cfg.hw_revision = VEC_HW_REV;
    cfg.keys = keys;
    cfg.key_count = 1;
    CHECK_EQ(mt_boot_init(b, &cfg), MT_OK);
    CHECK_EQ(b->sha_impl, mt_sha256_accelerated()); /* asked once, at init */
    CHECK_EQ(b->crc_impl, mt_crc_accelerated());
}

/* The floor area's floor, read straight from the cells (power or not). */
static uint32_t area_floor(void)
{
    uint32_t v = 0, off;
    for (off = 0; off < SEC; off += MT_BOOT_FLOOR_SLOT_SIZE) {
        uint32_t x;
        if (mt_boot_floor_decode(&x, mem + OFF_FL + off) == MT_OK && x > v) v = x;
    }
    return v;
}

/* The slot offset of the newest record on flash (b->rec's). */
static uint32_t newest_record_addr(const mt_boot *b)
{
    uint32_t off = b->rec_area ? OFF_C1 : OFF_C0, s;
    for (s = 0; s < SLOTS; s++) {
        mt_boot_record r;
        if (mt_boot_record_decode(&r, mem + off + s * MT_BOOT_RECORD_SIZE) == MT_OK &&
            r.sequence == b->rec.sequence)
            return off + s * MT_BOOT_RECORD_SIZE;
    }
    CHECK(0);
    return off;
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
    CHECK_EQ(b.floor, 1u);
    CHECK_EQ(b.floor_rc, MT_OK);
    CHECK_EQ(area_floor(), 1u); /* and in the floor area */
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

/* ---- anti-rollback floor area ---- */

static uint32_t rng_state = 0x1234567u;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* The slot codec; every flipped bit is refused; a slot torn while being
 * programmed from erased flash (only some of its bits cleared) is the whole
 * intended slot or invalid, never another value. */
static void test_floor_slot_codec(void)
{
    const uint32_t values[] = {0u, 1u, 2u, 5u, 0x01020304u, 0x7FFFFFFFu, 0xFFFFFFFEu, 0xFFFFFFFFu};
    uint8_t enc[MT_BOOT_FLOOR_SLOT_SIZE], torn[MT_BOOT_FLOOR_SLOT_SIZE];
    uint32_t v;

    mt_boot_floor_encode(0x01020304u, enc);
    CHECK_MEM(enc, "MTFL", 4);
    CHECK_EQ(mt_ld32le(enc + 4), 0x01020304u);
    CHECK_EQ(mt_ld32le(enc + 8), 0xFEFDFCFBu);
    CHECK_EQ(mt_ld32le(enc + 12), mt_crc32(0, enc, 12));
    CHECK_EQ(mt_boot_floor_decode(&v, enc), MT_OK);
    CHECK_EQ(v, 0x01020304u);
    memset(torn, 0xFF, sizeof torn);
    CHECK_EQ(mt_boot_floor_decode(&v, torn), MT_E_ARG); /* erased: a free slot */
    for (size_t n = 0; n < sizeof values / sizeof values[0]; n++) {
        mt_boot_floor_encode(values[n], enc);
        CHECK_EQ(mt_boot_floor_decode(&v, enc), MT_OK);
        CHECK_EQ(v, values[n]);
        for (unsigned i = 0; i < MT_BOOT_FLOOR_SLOT_SIZE * 8u; i++) {
            memcpy(torn, enc, sizeof torn);
            torn[i / 8] ^= (uint8_t)(1u << (i % 8));
            CHECK(mt_boot_floor_decode(&v, torn) != MT_OK);
        }
    }
    for (unsigned n = 0; n < 20000u; n++) {
        uint32_t value = n < 5000u ? n : rng(), k = rng() % (MT_BOOT_FLOOR_SLOT_SIZE + 1u);
        mt_boot_floor_encode(value, enc);
        /* the first k bytes landed; the others got some of their clears */
        for (uint32_t i = 0; i < MT_BOOT_FLOOR_SLOT_SIZE; i++) {
            uint8_t missed = (uint8_t)(rng() & rng() & ~enc[i]); /* bits left at 1 */
            torn[i] = i < k ? enc[i] : (uint8_t)(enc[i] | missed);
        }
        if (mt_boot_floor_decode(&v, torn) == MT_OK) {
            CHECK_MEM(torn, enc, sizeof enc);
            CHECK_EQ(v, value);
        }
    }
}

/* Reading, raising (append-only, never lowered), torn and flipped slots,
 * stuck bits, a worn sector, a full area; configuration checks. */
static void test_floor_area(void)
{
    mt_boot b;
    mt_flash_area fa;
    mt_boot_config bad;
    uint32_t v, ops, n;
    int rc;

    factory(&b);
    fa = cfg.floor;
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 0u);
    CHECK_EQ(mt_boot_floor_raise(&fa, 3), MT_OK);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 3u);
    ops = mt_flash_ops(&flash);
    CHECK_EQ(mt_boot_floor_raise(&fa, 3), MT_OK);
    CHECK_EQ(mt_boot_floor_raise(&fa, 2), MT_OK);
    CHECK_EQ(mt_flash_ops(&flash), ops); /* never lowered: nothing written */
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 3u);

    /* a torn slot (the cut in the middle of its program) is skipped */
    CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_PREFIX, 6), MT_OK);
    mt_flash_cut_after(&flash, 0);
    CHECK_EQ(mt_boot_floor_raise(&fa, 5), MT_E_FLASH_POWER);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_E_FLASH_POWER);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_NONE, 0), MT_OK);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 3u);
    CHECK_EQ(mt_boot_floor_raise(&fa, 5), MT_OK);
    CHECK_EQ(mt_boot_floor_decode(&v, mem + OFF_FL + 16u), MT_E_ARG); /* the torn one */
    CHECK_EQ(mt_boot_floor_decode(&v, mem + OFF_FL + 32u), MT_OK);
    CHECK_EQ(v, 5u);
    /* a flipped bit in the newest slot: the area reads as the one before */
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_FL + 32u + 5u, 0x10), MT_OK);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 3u);
    CHECK_EQ(mt_boot_floor_raise(&fa, 5), MT_OK); /* into the next slot */
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 5u);

    /* a bit stuck at 1 in the next slot (magic byte 0, 0x4D, bit 1): it reads
     * back wrong, the slot after takes the floor */
    CHECK_EQ(mt_flash_stick_bits(&flash, OFF_FL + 64u, 0, 0x02), MT_OK);
    CHECK_EQ(mt_boot_floor_raise(&fa, 9), MT_OK);
    CHECK_EQ(mt_boot_floor_decode(&v, mem + OFF_FL + 64u), MT_E_ARG);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 9u);
    /* two in a row: given up, MT_E_FLASH_WORN; the floor stays */
    CHECK_EQ(mt_flash_stick_bits(&flash, OFF_FL + 96u, 0, 0x02), MT_OK);
    CHECK_EQ(mt_flash_stick_bits(&flash, OFF_FL + 112u, 0, 0x02), MT_OK);
    CHECK_EQ(mt_boot_floor_raise(&fa, 10), MT_E_FLASH_WORN);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, 9u);
    mt_flash_clear_faults(&flash);
    /* a worn sector refuses the program */
    CHECK_EQ(mt_flash_set_sector_endurance(&flash, OFF_FL, 0), MT_OK);
    CHECK_EQ(mt_boot_floor_raise(&fa, 10), MT_E_FLASH_WORN);
    mt_flash_clear_faults(&flash);

    /* full: a raise fails, nothing is erased, the area keeps its floor */
    for (n = 10;; n++) {
        rc = mt_boot_floor_raise(&fa, n);
        if (rc != MT_OK) break;
    }
    CHECK_EQ(rc, MT_E_TOO_BIG);
    CHECK_EQ(n - 10u, FLOOR_SLOTS - 8u); /* 8 slots used above */
    CHECK_EQ(mt_flash_wear(&flash, OFF_FL), 0u);
    CHECK_EQ(mt_boot_floor_read(&fa, &v), MT_OK);
    CHECK_EQ(v, n - 1u);

    /* the bootloader needs a usable floor area */
    bad = cfg;
    bad.floor.dev = NULL;
    CHECK_EQ(mt_boot_init(&b, &bad), MT_E_ARG);
    bad = cfg;
    bad.floor.size = 24; /* not whole slots */
    CHECK_EQ(mt_boot_init(&b, &bad), MT_E_ARG);
    bad.floor.size = 8;
    CHECK_EQ(mt_boot_init(&b, &bad), MT_E_ARG);
    CHECK_EQ(mt_boot_floor_read(NULL, &v), MT_E_ARG);
    CHECK_EQ(mt_boot_floor_raise(&bad.floor, 1), MT_E_ARG);
}

/* Both boot-control sectors erased: the blank default says counter 0, the
 * floor area keeps the confirmed floor, a lower counter is still refused,
 * and the next record carries the area's floor again. */
static void test_floor_survives_erased_records(void)
{
    mt_boot b;
    mt_pkg_header h;

    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_OK);
    CHECK_EQ(area_floor(), 1u);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b); /* B, counter 2 */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_OK);
    CHECK_EQ(area_floor(), 2u);
    update_to(&b, pkg_nohb, sizeof pkg_nohb); /* A, counter 3 */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor, 3u);
    CHECK_EQ(area_floor(), 3u);

    CHECK_EQ(mt_flash_erase(&flash, OFF_C0, SEC), MT_OK);
    CHECK_EQ(mt_flash_erase(&flash, OFF_C1, SEC), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.rec_area, -1);
    CHECK_EQ(b.floor_record, 0u);
    CHECK_EQ(b.floor_otp, 3u);
    CHECK_EQ(b.floor, 3u);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    /* a lower counter: refused in verify and activate */
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_verify(&b, &h, 1), MT_E_DOWNGRADE);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    CHECK_EQ(b.writes, 0u);
    /* an equal one is fine, and its record carries the floor */
    put_bank(MT_BOOT_BANK_B, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(mt_boot_verify(&b, &h, 1), MT_OK);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
    CHECK_EQ(b.rec.counter, 3u);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor_record, 3u);
    CHECK_EQ(b.floor_otp, 3u);

    /* re-provisioning the wiped board cannot lower the floor either */
    CHECK_EQ(mt_flash_erase(&flash, OFF_C0, SEC), MT_OK);
    CHECK_EQ(mt_flash_erase(&flash, OFF_C1, SEC), MT_OK);
    put_bank(MT_BOOT_BANK_A, pkg_a, sizeof pkg_a);
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_provision(&b), MT_E_DOWNGRADE);

    /* with the blank default naming a bank below the floor, the boot falls
     * back to the bank that holds the confirmed image */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(mt_flash_erase(&flash, OFF_C0, SEC), MT_OK);
    CHECK_EQ(mt_flash_erase(&flash, OFF_C1, SEC), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B); /* A holds counter 1 < 2 */
    CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    CHECK_EQ(b.rec.counter, 2u);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
}

/* The newest record corrupt: an older one (a trial, counter of its time) is
 * current again; the floor stays, and the revert it leads to cannot bring
 * back a lower counter. */
static void test_floor_survives_flipped_record(void)
{
    mt_boot b;

    factory(&b);
    cfg.key_count = 2; /* pkg_other_key: counter 5 */
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_other_key, sizeof pkg_other_key);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.rec.counter, 5u);
    CHECK_EQ(area_floor(), 5u);

    CHECK_EQ(mt_flash_flip_bits(&flash, newest_record_addr(&b) + 12u, 0x01), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor_record, 1u); /* the trial record, written before the confirm */
    CHECK_EQ(b.floor_otp, 5u);
    CHECK_EQ(b.floor, 5u);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.rec.state, MT_BOOT_TRIAL);
    CHECK_EQ(b.rec.counter, 5u); /* the attempt's record carries the floor */
    /* no heartbeat this time: revert to A (counter 1), refused: golden */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_revert(&b), MT_OK);
    CHECK_EQ(b.rec.counter, 5u);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
    CHECK_EQ(b.floor, 5u);
    /* a counter 3 (and 2) package into A: refused */
    CHECK_EQ(mt_boot_inactive(&b), MT_BOOT_BANK_A);
    put_bank(MT_BOOT_BANK_A, pkg_crash, sizeof pkg_crash);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    put_bank(MT_BOOT_BANK_A, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor, 5u);
    cfg.key_count = 1;
}

/* A cut between the confirm record and the floor area: confirm is done, the
 * next start raises the area (also when a cut hits that repair first); a
 * floor area that cannot be written stops neither confirm nor the boot. */
static void test_floor_repair(void)
{
    mt_boot b;

    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    mt_flash_cut_after(&flash, 1); /* the record lands, the area's program is cut */
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_E_FLASH_POWER);
    CHECK_EQ(b.fault, 0u);
    CHECK_EQ(b.rec.counter, 2u);
    CHECK_EQ(area_floor(), 1u);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_load(&b), MT_OK);
    CHECK_EQ(b.floor_record, 2u);
    CHECK_EQ(b.floor_otp, 1u);
    CHECK_EQ(b.floor, 2u);
    CHECK_EQ(area_floor(), 1u); /* load writes nothing */
    mt_flash_cut_after(&flash, 0); /* the repair itself is cut */
    CHECK_EQ(mt_boot_start(&b), MT_E_FLASH_POWER);
    CHECK_EQ(b.running, MT_BOOT_NONE);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_OK);
    CHECK_EQ(b.floor_otp, 1u); /* what the area said before the repair */
    CHECK_EQ(area_floor(), 2u);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor_otp, 2u);
    CHECK_EQ(b.floor_record, 2u);

    /* a worn floor sector: confirm and the boot go on, the record holds it */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_flash_set_sector_endurance(&flash, OFF_FL, 0), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_E_FLASH_WORN);
    CHECK_EQ(b.floor, 2u);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_E_FLASH_WORN);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(b.floor_record, 2u);
    CHECK_EQ(b.floor_otp, 1u);
    put_bank(MT_BOOT_BANK_A, pkg_a, sizeof pkg_a);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    mt_flash_clear_faults(&flash);
    CHECK_EQ(power_cycle(&b), MT_OK); /* repaired once it can be written */
    CHECK_EQ(b.floor_rc, MT_OK);
    CHECK_EQ(area_floor(), 2u);

    /* a full area: the same, for good */
    factory(&b);
    for (uint32_t off = 0; off < SEC; off += MT_BOOT_FLOOR_SLOT_SIZE) {
        uint8_t enc[MT_BOOT_FLOOR_SLOT_SIZE];
        mt_boot_floor_encode(1, enc);
        CHECK_EQ(mt_flash_program(&flash, OFF_FL + off, enc, sizeof enc), MT_OK);
    }
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_OK); /* already at 1 */
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_E_TOO_BIG);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_E_TOO_BIG);
    CHECK_EQ(b.floor, 2u);
    CHECK_EQ(mt_flash_wear(&flash, OFF_FL), 0u);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE); /* A: counter 1 */
}

/* ---- power-cut sweep ---- */

static uint8_t snap_mem[SIZE];
static uint32_t snap_wear[SIZE / SEC];
static uint32_t snap_gen[SIZE / SEC];
static mt_flash snap_flash;
static mt_boot snap_boot;

static void snapshot(const mt_boot *b)
{
    memcpy(snap_mem, mem, SIZE);
    memcpy(snap_wear, wear, sizeof wear);
    memcpy(snap_gen, gen, sizeof gen);
    snap_flash = flash;
    snap_boot = *b;
}

static void restore(mt_boot *b)
{
    memcpy(mem, snap_mem, SIZE);
    memcpy(wear, snap_wear, sizeof wear);
    memcpy(gen, snap_gen, sizeof gen);
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
 * valid image. The anti-rollback floor after the power-up (and the start's
 * repair) is never below the old state's, never above what the clean run
 * reaches, exactly the old one while the old record is current (the area is
 * raised only after the record that raises the counter), and the area holds
 * it. */
static void sweep(mt_boot *b, enum op op)
{
    mt_boot_record before, after;
    uint32_t ops0, n_ops, floor_before, floor_after;
    uint8_t old_run, new_run;
    mt_boot bb;

    /* what a power-up from the old state boots */
    restore(b);
    before = b->rec;
    CHECK_EQ(mt_boot_init(&bb, &cfg), MT_OK);
    CHECK_EQ(mt_boot_load(&bb), MT_OK);
    floor_before = bb.floor;
    CHECK_EQ(mt_boot_start(&bb), MT_OK);
    old_run = bb.running;
    /* the clean run, and what a power-up after it boots */
    restore(b);
    ops0 = mt_flash_ops(&flash);
    CHECK_EQ(run_op(b, op), MT_OK);
    CHECK_EQ(b->floor_rc, MT_OK);
    n_ops = mt_flash_ops(&flash) - ops0;
    after = b->rec;
    floor_after = b->floor;
    CHECK(floor_after >= floor_before);
    CHECK_EQ(mt_boot_init(&bb, &cfg), MT_OK);
    CHECK_EQ(mt_boot_start(&bb), MT_OK);
    new_run = bb.running;
    CHECK_EQ(bb.floor, floor_after);
    CHECK(n_ops > 0);

    for (uint32_t k = 0; k < n_ops; k++) {
        for (unsigned mode = 0; mode < 3; mode++) {
            for (uint32_t seed = 1; seed <= (mode ? 3u : 1u); seed++) {
                restore(b);
                mt_flash_seed(&flash, seed * 7919u + k);
                CHECK_EQ(mt_flash_set_tear(&flash, mode, MT_FLASH_TEAR_RANDOM), MT_OK);
                mt_flash_cut_after(&flash, k);
                int rc = run_op(b, op);
                if (rc == MT_E_SWAP) {
                    CHECK_EQ(b->fault, 1u);
                } else {
                    /* the cut hit the floor area after the record: confirm
                     * is done (MT_OK), a start's repair stops it */
                    CHECK((rc == MT_OK && op == OP_CONFIRM) ||
                          (rc == MT_E_FLASH_POWER && (op == OP_START || op == OP_CRASH)));
                    CHECK_EQ(b->floor_rc, MT_E_FLASH_POWER);
                    CHECK_EQ(b->fault, 0u);
                }
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
                if (is_old) CHECK_EQ(bb.floor, floor_before);
                if (is_new) CHECK_EQ(bb.floor, floor_after);
                CHECK(bb.floor >= floor_before && bb.floor <= floor_after);
                CHECK_EQ(mt_boot_start(&bb), MT_OK);
                CHECK(bb.floor >= floor_before && bb.floor <= floor_after);
                CHECK_EQ(bb.floor_rc, MT_OK);
                CHECK_EQ(area_floor(), bb.floor); /* repaired if it lagged */
                if (is_old) CHECK_EQ(bb.running, old_run);
                else if (is_new) CHECK_EQ(bb.running, new_run);
                else CHECK(bb.running == old_run || bb.running == new_run);
                /* whatever runs passes the full check */
                mt_image_policy pol = {VEC_VENDOR, VEC_HW_REV, BANK, 0, keys, 1, -1, -1, 0};
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

/* The anti-rollback floor under cuts (sweep() checks it after every one):
 * confirms that raise it (record, then area), and the repair at start from
 * a confirmed and from a trial record that are ahead of the area. */
static void test_floor_power_cut_sweep(void)
{
    mt_boot b;
    unsigned cuts = sweep_cuts;

    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    snapshot(&b);
    sweep(&b, OP_CONFIRM); /* 1 -> 2 */
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    update_to(&b, pkg_nohb, sizeof pkg_nohb);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    snapshot(&b);
    sweep(&b, OP_CONFIRM); /* 2 -> 3, the area's third slot */
    sweep(&b, OP_REVERT);  /* back to B: counter 2, at the floor */

    /* the record ahead of the area: confirmed, and on trial */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_flash_set_sector_endurance(&flash, OFF_FL, 0), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor_rc, MT_E_FLASH_WORN);
    CHECK_EQ(mt_boot_start(&b), MT_OK); /* the repair fails too */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    mt_flash_clear_faults(&flash);
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_load(&b), MT_OK);
    CHECK(b.floor_record == 2u && b.floor_otp == 1u);
    snapshot(&b);
    sweep(&b, OP_START); /* the repair alone */
    CHECK_EQ(mt_flash_set_sector_endurance(&flash, OFF_FL, 0), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    put_bank(MT_BOOT_BANK_A, pkg_nohb, sizeof pkg_nohb);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK); /* a trial record, counter 2 */
    mt_flash_clear_faults(&flash);
    CHECK_EQ(mt_boot_init(&b, &cfg), MT_OK);
    CHECK_EQ(mt_boot_load(&b), MT_OK);
    CHECK(b.rec.state == MT_BOOT_TRIAL && b.floor_record == 2u && b.floor_otp == 1u);
    snapshot(&b);
    sweep(&b, OP_START); /* the repair, then the counted attempt */
    printf("floor power-cut sweep: %u cuts\n", sweep_cuts - cuts);
}

/* ---- the verification cache by write generation ---- */

static uint32_t hashed(const mt_boot *b, int bank) { return b->cache[bank].hashed; }
static uint32_t verified(const mt_boot *b, int bank) { return b->cache[bank].verified; }

/* With write generations bound, a bank nothing has written since its last
 * full check is not read again (no pass over the image, no ECDSA) by
 * provision, start, verify or activate, and the bootloader's RAM is kept
 * across power-ups; the floor is checked every time; a flipped bit, a stuck
 * bit, a torn program or erase, or another key behind the key ID forces the
 * full check, which refuses what changed. */
static void test_generation_cache(void)
{
    static const uint8_t zeros[16] = {0};
    mt_boot b;
    mt_image_key saved;

    tracking = 1;
    /* provisioning reads bank A once; the first boot does not */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK(hashed(&b, MT_BOOT_BANK_A) == 1u && verified(&b, MT_BOOT_BANK_A) == 1u);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.running_header.security_counter, 1u); /* the header is read again */
    CHECK(hashed(&b, MT_BOOT_BANK_A) == 1u && verified(&b, MT_BOOT_BANK_A) == 1u);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);

    /* an update: verify reads B once; activate and the trial boot do not */
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    CHECK(hashed(&b, MT_BOOT_BANK_B) == 1u && verified(&b, MT_BOOT_BANK_B) == 1u);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.floor, 2u);
    CHECK(hashed(&b, MT_BOOT_BANK_B) == 1u && verified(&b, MT_BOOT_BANK_B) == 1u);
    /* power-ups with the bootloader's RAM kept: still no pass */
    mt_flash_power_cut(&flash);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 1u);
    /* a hit reads no image byte: a store behind the model's back goes unseen,
     * which is why the model stamps every write and every injected fault */
    mem[OFF_B + 200u] ^= 0x01;
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK(b.running == MT_BOOT_BANK_B && hashed(&b, MT_BOOT_BANK_B) == 1u);
    mem[OFF_B + 200u] ^= 0x01;
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    /* the floor is checked on a hit: A (counter 1) under floor 2 */
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_DOWNGRADE);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_A), 1u);
    /* one flipped bit in the verified running bank: the next boot reads it
     * all and refuses it (A is below the floor: golden) */
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 128u + 17u, 0x04), MT_OK);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 2u);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
    CHECK_EQ(b.rec.outcome, MT_BOOT_OUTCOME_REVERTED);

    /* activation: a verified bank, then one bit flips: activate reads it all
     * and refuses; flipped back, one pass again, and the content key spares
     * ECDSA */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 128u + 40u, 0x80), MT_OK);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_IMAGE_CRC);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 2u);
    CHECK_EQ(b.writes, 1u); /* provisioning's record only */
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 128u + 40u, 0x80), MT_OK);
    CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    CHECK(hashed(&b, MT_BOOT_BANK_B) == 3u && verified(&b, MT_BOOT_BANK_B) == 1u);
    /* a stuck bit: the same */
    CHECK_EQ(mt_flash_stick_bits(&flash, OFF_B + 128u + 41u, 0x00, 0x01), MT_OK);
    CHECK(mem[OFF_B + 128u + 41u] == (pkg_b[128 + 41] | 0x01u));
    if (pkg_b[128 + 41] & 0x01u) { /* the bit was 1 already: nothing changed */
        CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    } else {
        CHECK_EQ(mt_boot_activate(&b, 1), MT_E_IMAGE_CRC);
    }
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 4u);
    mt_flash_clear_faults(&flash);
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 5u);

    /* a program into the verified bank torn by a cut: even one that left no
     * cell changed is read again (it passes); one that left 8 bytes is
     * refused, at activation and at the boot of that bank */
    CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_PREFIX, 0), MT_OK);
    mt_flash_cut_after(&flash, 0);
    CHECK_EQ(mt_flash_program(&flash, OFF_B + 256u, zeros, 16), MT_E_FLASH_POWER);
    CHECK_MEM(mem + OFF_B, pkg_b, sizeof pkg_b); /* nothing landed */
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK(b.running == MT_BOOT_BANK_A && hashed(&b, MT_BOOT_BANK_A) == 1u);
    CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    CHECK(hashed(&b, MT_BOOT_BANK_B) == 6u && verified(&b, MT_BOOT_BANK_B) == 1u);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_OK); /* a trial of B */
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 6u);
    CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_PREFIX, 8), MT_OK);
    mt_flash_cut_after(&flash, 0);
    CHECK_EQ(mt_flash_program(&flash, OFF_B + 256u, zeros, 16), MT_E_FLASH_POWER);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_boot_start(&b), MT_OK); /* the trial bank is read again: refused */
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 7u);
    CHECK_EQ(b.running, MT_BOOT_BANK_A);
    CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_activate(&b, 1), MT_E_IMAGE_CRC);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 8u);
    /* a torn erase of its second sector (the trailer): the same */
    put_bank(MT_BOOT_BANK_B, pkg_b, sizeof pkg_b);
    CHECK_EQ(mt_boot_verify(&b, NULL, 1), MT_OK);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 9u);
    CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_BITS, 40), MT_OK);
    mt_flash_cut_after(&flash, 0);
    CHECK_EQ(mt_flash_erase(&flash, OFF_B + SEC, SEC), MT_E_FLASH_POWER);
    mt_flash_power_up(&flash);
    CHECK_EQ(mt_flash_set_tear(&flash, MT_FLASH_TEAR_NONE, 0), MT_OK);
    CHECK(mt_boot_activate(&b, 1) < 0);
    CHECK_EQ(hashed(&b, MT_BOOT_BANK_B), 10u);

    /* another key behind the trusted key ID: the next boot runs every step,
     * and ECDSA refuses both A and golden */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    saved = keys[0];
    keys[0].key = keys[1].key; /* the key ID stays */
    CHECK_EQ(mt_boot_start(&b), MT_E_NO_BOOTABLE);
    CHECK(hashed(&b, MT_BOOT_BANK_A) == 2u && verified(&b, MT_BOOT_BANK_A) == 2u);
    keys[0] = saved;

    /* the factory's check of the package file, adopted for bank A:
     * provisioning makes its one pass but runs no ECDSA */
    {
        mt_image_policy pol = {VEC_VENDOR, VEC_HW_REV, BANK, 0, keys, 1, -1, -1, 0};
        mt_image_cache fc;

        memset(&fc, 0, sizeof fc);
        factory(&b);
        CHECK_EQ(mt_boot_adopt(&b, MT_BOOT_BANK_A, &fc), MT_E_ARG); /* empty */
        CHECK_EQ(mt_image_check(NULL, &pol, pkg_a, sizeof pkg_a, 1, &fc), MT_OK);
        CHECK_EQ(mt_boot_adopt(&b, 3, &fc), MT_E_ARG);
        CHECK_EQ(mt_boot_adopt(&b, -1, &fc), MT_E_ARG);
        CHECK_EQ(mt_boot_adopt(&b, MT_BOOT_BANK_A, &fc), MT_OK);
        CHECK_EQ(mt_boot_provision(&b), MT_OK);
        CHECK(hashed(&b, MT_BOOT_BANK_A) == 1u && verified(&b, MT_BOOT_BANK_A) == 0u);
        CHECK_EQ(mt_boot_start(&b), MT_OK);
        CHECK_EQ(hashed(&b, MT_BOOT_BANK_A), 1u);
        /* a key adopted from another package does not hit: every step */
        memset(&fc, 0, sizeof fc);
        CHECK_EQ(mt_image_check(NULL, &pol, pkg_b, sizeof pkg_b, 1, &fc), MT_OK);
        factory(&b);
        CHECK_EQ(mt_boot_adopt(&b, MT_BOOT_BANK_A, &fc), MT_OK);
        CHECK_EQ(mt_boot_provision(&b), MT_OK);
        CHECK(hashed(&b, MT_BOOT_BANK_A) == 1u && verified(&b, MT_BOOT_BANK_A) == 1u);
        /* nor for a bank holding a bad copy of the adopted package */
        memset(&fc, 0, sizeof fc);
        CHECK_EQ(mt_image_check(NULL, &pol, pkg_a, sizeof pkg_a, 1, &fc), MT_OK);
        factory(&b);
        CHECK_EQ(mt_flash_flip_bits(&flash, OFF_A + 128u + 5u, 0x02), MT_OK);
        CHECK_EQ(mt_boot_adopt(&b, MT_BOOT_BANK_A, &fc), MT_OK);
        CHECK_EQ(mt_boot_provision(&b), MT_E_IMAGE_CRC);
        CHECK_EQ(b.writes, 0u);
    }

    /* the CPU's answers from the caller: the portable code, or anything but
     * 1, boots the same */
    {
        const int impls[][2] = {{0, 0}, {7, -1}, {mt_sha256_accelerated(), mt_crc_accelerated()}};
        for (size_t i = 0; i < 3; i++) {
            factory(&b);
            CHECK_EQ(mt_boot_init_impl(&b, &cfg, impls[i][0], impls[i][1]), MT_OK);
            CHECK_EQ(b.sha_impl, impls[i][0] == 1);
            CHECK_EQ(b.crc_impl, impls[i][1] == 1);
            CHECK_EQ(mt_boot_provision(&b), MT_OK);
            CHECK_EQ(mt_boot_start(&b), MT_OK);
            update_to(&b, pkg_b, sizeof pkg_b);
            CHECK(hashed(&b, MT_BOOT_BANK_B) == 1u && verified(&b, MT_BOOT_BANK_B) == 1u);
            put_bank(MT_BOOT_BANK_A, pkg_nohb, sizeof pkg_nohb);
            CHECK_EQ(mt_flash_flip_bits(&flash, OFF_A + 128u + 100u, 0x01), MT_OK);
            CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
            CHECK_EQ(mt_boot_confirm(&b), MT_OK);
            CHECK_EQ(mt_boot_activate(&b, 1), MT_E_IMAGE_CRC);
        }
        CHECK_EQ(mt_boot_init_impl(&b, NULL, 0, 0), MT_E_ARG);
    }

    /* without write generations every validation makes its pass */
    tracking = 0;
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK(hashed(&b, MT_BOOT_BANK_A) == 3u && verified(&b, MT_BOOT_BANK_A) == 1u);
}

/* A confirmed bank that stops validating falls back to the image confirmed
 * before it while the record names it; a revert or mt_boot_forget_fallback
 * drops that, and the fallback is golden. pkg_nohb and pkg_crash share
 * counter 3, so the floor admits either. */
static void test_fallback_previous(void)
{
    mt_boot b;
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_GOLDEN); /* B holds nothing yet */
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_nohb, sizeof pkg_nohb); /* into B */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash); /* into A */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_B);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_A + 300u, 0x01), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B); /* the image confirmed before */
    CHECK_EQ(b.rec.state, MT_BOOT_REVERTED);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_GOLDEN);

    /* a download takes the fallback's bank: forgotten, then golden */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_nohb, sizeof pkg_nohb);
    CHECK_EQ(mt_boot_forget_fallback(&b), MT_E_STATE); /* on trial: the fallback stays */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_A);
    CHECK_EQ(mt_boot_forget_fallback(&b), MT_OK);
    CHECK_EQ(b.rec.previous, MT_BOOT_BANK_GOLDEN);
    {
        uint32_t writes = b.writes;
        CHECK_EQ(mt_boot_forget_fallback(&b), MT_OK); /* nothing left to forget */
        CHECK_EQ(b.writes, writes);
    }
    put_bank(MT_BOOT_BANK_A, pkg_crash, sizeof pkg_crash); /* a download nobody activated */
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 300u, 0x01), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);

    /* a revert gives the trial image up: it never comes back */
    factory(&b);
    CHECK_EQ(mt_boot_provision(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    update_to(&b, pkg_nohb, sizeof pkg_nohb); /* B, confirmed */
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_boot_confirm(&b), MT_OK);
    update_to(&b, pkg_crash, sizeof pkg_crash); /* A on trial */
    CHECK_EQ(mt_boot_revert(&b), MT_OK);
    CHECK_EQ(mt_boot_start(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_B);
    CHECK_EQ(mt_boot_boot_ok(&b), MT_OK);
    CHECK_EQ(mt_flash_flip_bits(&flash, OFF_B + 300u, 0x01), MT_OK);
    CHECK_EQ(power_cycle(&b), MT_OK);
    CHECK_EQ(b.running, MT_BOOT_BANK_GOLDEN);
}

int main(void)
{
    CHECK_EQ(mt_image_key_init(&keys[0], vec_trusted_key, sizeof vec_trusted_key), MT_OK);
    CHECK_EQ(mt_image_key_init(&keys[1], vec_other_key, sizeof vec_other_key), MT_OK);
    /* every test without write generations, then again with them bound */
    for (tracking = 0; tracking < 2; tracking++) {
        test_record_codec();
        test_blank_and_update();
        test_alternation_and_corruption();
        test_bad_banks();
        test_boot_loop();
        test_revert_and_golden();
        test_outcome_and_provision();
        test_swap_fault();
        test_floor_slot_codec();
        test_floor_area();
        test_floor_survives_erased_records();
        test_floor_survives_flipped_record();
        test_floor_repair();
        test_power_cut_sweep();
        test_floor_power_cut_sweep();
        test_fallback_previous();
    }
    test_generation_cache();
    printf("RAM: sizeof(mt_boot)=%zu sizeof(mt_flash)=%zu sizeof(mt_image_key)*%u=%zu "
           "sizeof(mt_pkg_header)=%zu\n",
           sizeof(mt_boot), sizeof(mt_flash), MT_IMAGE_MAX_KEYS,
           sizeof(mt_image_key) * MT_IMAGE_MAX_KEYS, sizeof(mt_pkg_header));
    return mt_test_done("test_boot");
}
