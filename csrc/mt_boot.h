/*
 * The bootloader: boot-control records, the power-up decision, activation,
 * confirmation, revert and golden recovery (SPEC §5).
 *
 * Banks: A and B hold downloaded packages, GOLDEN the factory package. Each
 * bank is a flash area holding a package (mt_pkg.h) from its first byte.
 * The meter runs the bank the newest boot-control record names; activation
 * flips that pointer, nothing is copied.
 *
 * Boot-control record, on flash, 32 bytes, all integers little-endian:
 *
 *   off size field
 *     0    4 magic         "MTBC" (4D 54 42 43)
 *     4    4 sequence      +1 per record written; the valid record with the
 *                          highest sequence is the current one
 *     8    1 active        bank to run: 0 A, 1 B, 2 golden
 *     9    1 state         0 confirmed; 1 trial (a new image awaiting its
 *                          heartbeat); 2 reverted (an older image brought back
 *                          after a failure, on probation until it boots once)
 *    10    1 attempts      boots of the active image while state != confirmed
 *    11    1 previous      bank a trial reverts to (0 A, 1 B, 2 golden)
 *    12    4 counter       confirmed security counter (anti-rollback floor)
 *    16    1 outcome       how the last update ended: 0 none (no update yet, or
 *                          one activated and still on trial), 1 confirmed (its
 *                          heartbeat came), 2 reverted (trial given up, boot
 *                          loop, an invalid bank, golden recovery). It outlives
 *                          the state: a reverted image that boots once is
 *                          state confirmed again, outcome still reverted.
 *    17   11 reserved      0
 *    28    4 crc32         CRC-32/ISO-HDLC of bytes 0..27
 *
 * A record is valid when magic, CRC, field ranges and reserved bytes check.
 * No valid record at all (a blank meter) reads as {sequence 0, active A,
 * confirmed, previous golden, counter 0, outcome none}; nothing is written
 * until a change. The factory writes the first record with mt_boot_provision
 * so that the factory image's security counter is the floor from day one.
 *
 * Where records go. There are two boot-control areas (one flash sector
 * each, or more), each an array of 32-byte slots. Record n+1 always goes to
 * the area that does NOT hold record n (the SPEC's alternation), into the
 * first erased slot after the last used slot of that area; only when that
 * area is full is it erased, and then the record goes to slot 0. So:
 *   - the area holding the current record is never erased or programmed
 *     while a new record is written: a cut at any point (torn program, torn
 *     erase) leaves the current record intact, and the new one either valid
 *     or invalid by CRC — the old or the new state, never neither;
 *   - each area is erased once per (slots per area) of its records: with
 *     4 KiB sectors, one erase per 128 records instead of one per record.
 * A torn slot is never reused (it is not erased); it just costs a slot.
 * If the target area is worn out (erase refused), the record is appended to
 * the current area's free slots instead, which still never touches the
 * current record. Every program is read back and compared.
 *
 * Boot flow (mt_boot_start, at every power-up or reset):
 *   1. Read both areas; the newest valid record is current.
 *   2. Golden active: validate it (CRC + signature; the anti-rollback floor
 *      does not apply to the factory image) and run it, else
 *      MT_E_NO_BOOTABLE.
 *   3. Trial or reverted with attempts >= max_attempts (a boot loop): write
 *      the fallback record (below) and go to 2/4 with it.
 *   4. Validate the active bank (CRC + SHA-256 + signature, security
 *      counter >= the record's counter; cached per bank by content). If it
 *      fails, write the fallback record and start over with it.
 *   5. Trial or reverted: write the record with attempts + 1 BEFORE running
 *      the image (so a crash is counted), then run it.
 * Fallback record (also what mt_boot_revert writes), counter unchanged,
 * outcome reverted:
 *      trial     -> previous bank, state reverted (golden: confirmed)
 *      reverted  -> golden, confirmed
 *      confirmed -> the other of A/B, state reverted
 * A revert never raises the counter; only mt_boot_confirm does.
 * Outcome: activate writes none, confirm confirmed, every fallback and
 * mt_boot_golden reverted; boot_ok and the attempt count keep it.
 *
 * After start, the caller "runs" the image: it reports mt_boot_boot_ok when
 * the image came up (a reverted image is then confirmed again), or
 * mt_boot_boot_failed when it crashed (behaviour crash-on-boot), which is a
 * watchdog reset: the flow above runs again. no-heartbeat and slow-boot are
 * the caller's to emulate; `running_header.behaviour` says which applies.
 *
 * F.03 (MT_E_SWAP): a record could not be written — the power was cut, the
 * areas are worn, or the read-back differs. Then:
 *   - flash: the newest valid record is the one before the failed write (or,
 *     if the cut fell after the last byte, the new one) — never neither;
 *   - RAM: the record copy is unchanged, `fault` is set (the LCD shows F.03);
 *     after activate/confirm/revert/golden the meter keeps running the image
 *     it was running; after a failed write inside mt_boot_start nothing is
 *     running (running == MT_BOOT_NONE);
 *   - every further record operation returns MT_E_SWAP until the power
 *     cycle: mt_boot_start re-reads the flash, takes the newest valid record
 *     and boots by the rules above (the rollback, if the swap did not land).
 */
#ifndef MT_BOOT_H
#define MT_BOOT_H

#include <stdint.h>

#include "mt_flash.h"
#include "mt_image.h"

#define MT_BOOT_RECORD_SIZE 32u
#define MT_BOOT_MAGIC "MTBC"
#define MT_BOOT_ATTEMPTS_DEFAULT 3u

enum mt_boot_bank {
    MT_BOOT_BANK_A = 0,
    MT_BOOT_BANK_B = 1,
    MT_BOOT_BANK_GOLDEN = 2,
    MT_BOOT_NONE = 0xFF
};

enum mt_boot_state {
    MT_BOOT_CONFIRMED = 0,
    MT_BOOT_TRIAL = 1,
    MT_BOOT_REVERTED = 2
};

enum mt_boot_outcome {
    MT_BOOT_OUTCOME_NONE = 0,
    MT_BOOT_OUTCOME_CONFIRMED = 1,
    MT_BOOT_OUTCOME_REVERTED = 2
};

/* A boot-control record in RAM (the on-flash layout is above). */
typedef struct mt_boot_record {
    uint32_t sequence;
    uint32_t counter;
    uint8_t active;
    uint8_t state;
    uint8_t attempts;
    uint8_t previous;
    uint8_t outcome;   /* enum mt_boot_outcome */
} mt_boot_record;

/* Encodes / decodes the 32-byte on-flash form. Decode returns MT_E_ARG when
 * the bytes are not a valid record (magic, CRC, field range, reserved). */
void mt_boot_record_encode(const mt_boot_record *rec, uint8_t out[MT_BOOT_RECORD_SIZE]);
int mt_boot_record_decode(mt_boot_record *out, const uint8_t in[MT_BOOT_RECORD_SIZE]);

/* The meter's flash map and trust. Areas and keys stay caller-owned. */
typedef struct mt_boot_config {
    mt_flash_area bank[3];      /* indexed by enum mt_boot_bank */
    mt_flash_area control[2];   /* the two boot-control areas */
    uint32_t vendor_id;
    uint16_t hw_revision;
    uint8_t max_attempts;       /* boot-loop limit, >= 1; 0 selects the default 3 */
    const mt_image_key *keys;
    uint32_t key_count;         /* <= MT_IMAGE_MAX_KEYS */
} mt_boot_config;

/* The bootloader's whole RAM state. Caller-owned. */
typedef struct mt_boot {
    mt_boot_config cfg;
    mt_boot_record rec;          /* current record (what flash says) */
    int8_t rec_area;             /* area holding it, -1 when none on flash */
    uint8_t running;             /* bank running since mt_boot_start, or MT_BOOT_NONE */
    uint8_t booted_ok;           /* mt_boot_boot_ok seen since the last start */
    uint8_t fault;               /* F.03 latched until the next start */
    uint32_t writes;             /* records written since init (diagnostics) */
    int8_t sha_impl;             /* mt_sha256_accelerated(), asked once by mt_boot_init */
    mt_pkg_header running_header;
    mt_image_cache cache[3];     /* per bank: last signature-verified digest */
} mt_boot;

/* Binds the state to a config (copied) and asks the CPU once which SHA-256
 * code the validations use. MT_E_ARG on a bad config: control areas smaller
 * than a record or not a multiple of it, too many keys. */
int mt_boot_init(mt_boot *b, const mt_boot_config *cfg);

/* Factory provisioning of a blank meter: validates bank A (the factory
 * image, no counter floor) and writes the first record {active A, confirmed,
 * previous golden, counter = A's security counter, outcome none}. MT_E_STATE
 * when a valid record is already on flash (provisioning happens once), an
 * acceptance code when A does not validate, MT_E_SWAP when the write fails. */
int mt_boot_provision(mt_boot *b);

/* Reads both boot-control areas into b->rec / b->rec_area (step 1 of the
 * flow) without booting anything. MT_E_FLASH_POWER with the power off. */
int mt_boot_load(mt_boot *b);
/* Power-up or reset: the boot flow above. 0 with b->running set, or
 * MT_E_NO_BOOTABLE, MT_E_SWAP (a record write failed; see F.03). */
int mt_boot_start(mt_boot *b);
/* The running image came up. Confirms a reverted image (a record write). */
int mt_boot_boot_ok(mt_boot *b);
/* The running image crashed: a watchdog reset, i.e. mt_boot_start again. */
int mt_boot_boot_failed(mt_boot *b);

/* The bank a download may be written to (the other of A/B; A while golden
 * runs). MT_E_STATE while a trial runs (the other bank is its fallback) or
 * nothing runs. */
int mt_boot_inactive(const mt_boot *b);

/* The acceptance check (mt_image_check) on the inactive bank, with the
 * stored counter as the anti-rollback floor. complete: every fragment in. */
int mt_boot_verify(mt_boot *b, mt_pkg_header *out, int complete);
/* Verify, then write {active: inactive bank, trial, attempts 0, previous:
 * running bank}. The new image runs from the next mt_boot_start. */
int mt_boot_activate(mt_boot *b, int complete);
/* The trial image has its heartbeat: state confirmed, counter raised to the
 * image's security counter. MT_E_STATE unless a trial runs and booted ok. */
int mt_boot_confirm(mt_boot *b);
/* Give up the trial (missed heartbeat) or the reverted image: write the
 * fallback record. MT_E_STATE when the running state is confirmed. Takes
 * effect at the next mt_boot_start. */
int mt_boot_revert(mt_boot *b);
/* Manual recovery: golden, confirmed. Counter unchanged. */
int mt_boot_golden(mt_boot *b);

#endif
