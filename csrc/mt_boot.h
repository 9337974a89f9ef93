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
 *    12    4 counter       confirmed security counter: the anti-rollback
 *                          floor as this record knows it (the floor area
 *                          below keeps it too; the higher of the two wins)
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
 * No valid record at all (a blank meter, or one whose records were all lost)
 * reads as {sequence 0, active A, confirmed, previous B, counter 0, outcome
 * none} -- with no record, either bank may hold the confirmed image, so a
 * fallback from A may try B; nothing is written
 * until a change. The factory writes the first record with mt_boot_provision
 * so that the factory image's security counter is the floor from day one
 * (in the record and in the floor area).
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
 * Anti-rollback floor area (SPEC section 5). Losing or corrupting records
 * must not lower the floor: with both boot-control sectors erased the blank
 * default says counter 0, and with the newest record corrupt an older one
 * (an older counter) is current. So the confirmed security counter is also
 * kept in the floor area, a partition (MT_PART_FLOOR, one sector) that this
 * code only ever programs and NEVER erases, as OTP or eFuses are on a real
 * meter. It is an array of 16-byte slots, all integers little-endian:
 *
 *   off size field
 *     0    4 magic         "MTFL" (4D 54 46 4C)
 *     4    4 floor         a confirmed security counter
 *     8    4 floor_inv     bitwise NOT of floor
 *    12    4 crc32         CRC-32/ISO-HDLC of bytes 0..11
 *
 * A slot is valid when magic, complement and CRC check; an all-0xFF slot is
 * free. The area's floor is the highest floor among its valid slots (0 when
 * none). A slot is appended (after the last slot that is not erased) only
 * when the floor rises. Programming an erased slot can only clear bits, so a
 * torn write leaves some of the intended clears undone: floor and floor_inv
 * can only have extra 1 bits against the intended pair, and two such values
 * are complements of each other only when neither has any. So a torn slot
 * is either the whole intended slot or invalid (complement, else CRC or
 * magic); it never reads as another value. It is skipped, never reused, and
 * costs a slot. A flipped bit breaks complement, CRC or magic: that slot is
 * ignored and the area reads as its previous slot's floor. The slot is 16
 * bytes so that it is a whole number of write units at every alignment the
 * flash model allows (1 to 16). Capacity: area size / 16 raises (fewer by
 * any torn or stuck slot), 256 with a 4 KiB sector. When the area is full a
 * raise fails (MT_E_TOO_BIG) and the records alone carry the floor above
 * the area's last one.
 *
 * Which wins. mt_boot_load reads both: floor_record is the current record's
 * counter (0 when there is none), floor_otp the area's floor, and floor, the
 * effective floor, the higher of the two. Every validation of bank A or B
 * uses floor (the golden image stays exempt), and every record written
 * carries max(its counter, floor), so once the area won, the records agree
 * again from the next write on.
 *   - area higher: a record lost or rolled back; the area wins.
 *   - record higher: the power was cut between writing a record that raised
 *     the counter and raising the area (below), or raising the area failed.
 *     mt_boot_start raises the area to the record's counter (repair).
 * Ordering: mt_boot_confirm and mt_boot_provision write the record first,
 * then raise the area. The other way round, a cut between the two would
 * leave the trial record current with the area already at the trial image's
 * counter: the unconfirmed image would fix the floor, and its fallback (an
 * older image, a lower counter) would then fail validation. Raising the
 * area never fails the operation or the boot: the record holds the floor.
 * floor_rc says what the last raise came to (a flash fault, MT_E_TOO_BIG
 * for a full area, MT_E_FLASH_POWER for a cut) so the caller can log it; the
 * next mt_boot_start tries again. Only a cut during the repair inside
 * mt_boot_start stops it (MT_E_FLASH_POWER, nothing runs: the power is off).
 *
 * Boot flow (mt_boot_start, at every power-up or reset):
 *   1. Read both areas; the newest valid record is current. Read the floor
 *      area; repair it when the record's counter is higher.
 *   2. Golden active: validate it (CRC + signature; the anti-rollback floor
 *      does not apply to the factory image) and run it, else
 *      MT_E_NO_BOOTABLE.
 *   3. Trial or reverted with attempts >= max_attempts (a boot loop): write
 *      the fallback record (below) and go to 2/4 with it.
 *   4. Validate the active bank (CRC + SHA-256 + signature, security
 *      counter >= the effective floor; cached per bank, see below). If it
 *      fails, write the fallback record and start over with it.
 *   5. Trial or reverted: write the record with attempts + 1 BEFORE running
 *      the image (so a crash is counted), then run it.
 * Fallback record (also what mt_boot_revert writes), counter unchanged,
 * outcome reverted:
 *      trial     -> previous bank, state reverted (golden: confirmed)
 *      reverted  -> golden, confirmed
 *      confirmed -> the record's previous bank when it names the other of
 *                   A/B (the image confirmed before this one, kept there
 *                   since its activation), state reverted; else golden
 * `previous` is set by activation only; every fallback and
 * mt_boot_forget_fallback set it to golden, so a fallback never boots an
 * image that a revert gave up nor a download nobody activated.
 * A revert never raises the counter; only mt_boot_confirm does.
 * Outcome: activate writes none, confirm confirmed, every fallback and
 * mt_boot_golden reverted; boot_ok and the attempt count keep it.
 *
 * Verification cache. Every validation (provision, start, verify,
 * activate) runs mt_image_check on the bank with the bank's cache and its
 * write generation (mt_flash_area_generation, mt_flash.h; policy->gen). When nothing
 * has programmed, erased, torn or faulted the bank since its last check
 * that passed CRC, SHA-256 and signature, and the same trusted key stands
 * behind its key ID, the validation reads the 128-byte header again and
 * checks vendor, hardware revision, size, completeness and the security
 * counter against the current floor, and nothing else: no pass over the
 * image, no ECDSA. Otherwise every step runs (the content key may still
 * spare the image SHA-256 and ECDSA, mt_image.h). The cache is RAM: it
 * lives as long as this struct, across mt_boot_start calls (power-ups of
 * an emulated meter whose bootloader state is kept), and mt_boot_init
 * empties it. A flash device without write generations (none bound) never
 * skips the pass. cache[i].hashed and .verified count, per bank, the
 * validations that read the image and the ECDSA verifications run.
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
 *
 * Files: mt_boot_record.c the record codec and the boot-control areas
 * (load, placement, write), mt_boot.c the boot flow and the operations,
 * mt_boot_floor.c the floor area; mt_boot_impl.h what they share.
 */
#ifndef MT_BOOT_H
#define MT_BOOT_H

#include <stdint.h>

#include "mt_flash.h"
#include "mt_image.h"

#define MT_BOOT_RECORD_SIZE 32u
#define MT_BOOT_MAGIC "MTBC"
#define MT_BOOT_FLOOR_SLOT_SIZE 16u
#define MT_BOOT_FLOOR_MAGIC "MTFL"
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

/* The floor area's slot (layout above). Decode returns MT_E_ARG when the
 * bytes are not a valid slot (magic, complement, CRC); an erased slot is not. */
void mt_boot_floor_encode(uint32_t floor, uint8_t out[MT_BOOT_FLOOR_SLOT_SIZE]);
int mt_boot_floor_decode(uint32_t *out, const uint8_t in[MT_BOOT_FLOOR_SLOT_SIZE]);
/* 1 when fa can hold floor slots: at least one, a whole number, each a whole
 * number of write units. */
int mt_boot_floor_area_ok(const mt_flash_area *fa);
/* The area's floor: the highest valid slot, 0 when none. MT_E_FLASH_POWER
 * with the power off, MT_E_ARG for an unusable area. */
int mt_boot_floor_read(const mt_flash_area *fa, uint32_t *floor);
/* Raises the area's floor to `floor`: nothing when it is already there or
 * higher, else one slot appended (and read back; on a mismatch the next slot
 * is tried once). MT_E_TOO_BIG when the area is full, MT_E_FLASH_WORN when
 * the slots read back wrong, or the flash code (MT_E_FLASH_POWER, ...). */
int mt_boot_floor_raise(const mt_flash_area *fa, uint32_t floor);

/* The meter's flash map and trust. Areas and keys stay caller-owned. */
typedef struct mt_boot_config {
    mt_flash_area bank[3];      /* indexed by enum mt_boot_bank */
    mt_flash_area control[2];   /* the two boot-control areas */
    mt_flash_area floor;        /* the anti-rollback floor area (never erased) */
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
    uint32_t floor;              /* effective anti-rollback floor: max(record, area) */
    uint32_t floor_record;       /* what the current record said at the last load */
    uint32_t floor_otp;          /* what the floor area said at the last load */
    int floor_rc;                /* the last raise of the floor area: 0, or why it failed */
    int8_t sha_impl;             /* mt_sha256_accelerated(), asked once (mt_boot_init) */
    int8_t crc_impl;             /* mt_crc_accelerated(), asked once (mt_boot_init) */
    mt_pkg_header running_header;
    mt_image_cache cache[3];     /* per bank: content key and write generation */
} mt_boot;

/* Binds the state to a config (copied) and asks the CPU once which SHA-256
 * and CRC-32 code the validations use. MT_E_ARG on a bad config: control
 * areas smaller than a record or not a multiple of it, a floor area that
 * fails mt_boot_floor_area_ok, too many keys. */
int mt_boot_init(mt_boot *b, const mt_boot_config *cfg);
/* The same with the CPU's answers from the caller, who asked once for many
 * meters: sha_impl as mt_sha256_accelerated(), crc_impl as
 * mt_crc_accelerated() returned on this CPU (0 for the portable code). No
 * CPUID. */
int mt_boot_init_impl(mt_boot *b, const mt_boot_config *cfg, int sha_impl, int crc_impl);

/* Factory provisioning of a blank meter: validates bank A (the factory
 * image; the floor is the floor area's, 0 on a blank meter) and writes the
 * first record {active A, confirmed, previous golden, counter = A's security
 * counter, outcome none}, then raises the floor area to that counter.
 * MT_E_STATE when a valid record is already on flash (provisioning happens
 * once), an acceptance code when A does not validate, MT_E_SWAP when the
 * record write fails. The floor area's outcome is in floor_rc. */
int mt_boot_provision(mt_boot *b);

/* Adopts the content key of a check the caller ran elsewhere on a package
 * (mt_image_check with `from` as its cache: the factory's check of the
 * package file, before writing it to the banks) for bank `bank`. The next
 * validation of that bank skips the image SHA-256 and ECDSA if, and only
 * if, the bank holds a package with that very content key (mt_image_cache:
 * keyed on every byte the check reads); it still makes its one pass. When
 * `from` was pinned, its reference is taken too: a bank holding those very
 * bytes is then checked by one compare with them, no pass over the image
 * (mt_image_cache, "By reference"; the caller keeps them alive while the
 * bank's cache names them, until the next adopt for that bank). The write
 * generation is the bank's own. MT_E_ARG for a bad bank or a cache without
 * a content key. */
int mt_boot_adopt(mt_boot *b, int bank, const mt_image_cache *from);

/* Reads both boot-control areas into b->rec / b->rec_area and the floor
 * area into floor_record / floor_otp / floor (step 1 of the flow) without
 * booting or writing anything. MT_E_FLASH_POWER with the power off. */
int mt_boot_load(mt_boot *b);
/* Power-up or reset: the boot flow above. 0 with b->running set, or
 * MT_E_NO_BOOTABLE, MT_E_SWAP (a record write failed; see F.03),
 * MT_E_FLASH_POWER (the power was cut, e.g. while repairing the floor area).
 * floor_rc is the repair's outcome (0 when none was needed). */
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
 * effective floor as the lowest acceptable security counter. complete: every
 * fragment in. */
int mt_boot_verify(mt_boot *b, mt_pkg_header *out, int complete);
/* Verify, then write {active: inactive bank, trial, attempts 0, previous:
 * running bank}. The new image runs from the next mt_boot_start. */
int mt_boot_activate(mt_boot *b, int complete);
/* The trial image has its heartbeat: state confirmed, counter raised to the
 * image's security counter; the record first, then the floor area (its
 * outcome in floor_rc; 0 is returned once the record is written).
 * MT_E_STATE unless a trial runs and booted ok. */
int mt_boot_confirm(mt_boot *b);
/* Give up the trial (missed heartbeat) or the reverted image: write the
 * fallback record. MT_E_STATE when the running state is confirmed. Takes
 * effect at the next mt_boot_start. */
int mt_boot_revert(mt_boot *b);
/* A download is about to take the bank the record names as the confirmed
 * image's fallback (`previous`): write the record again with previous =
 * golden, so that a fallback never boots whatever that bank holds next. A
 * no-op when the record names no such bank; MT_E_STATE during a trial (the
 * other bank is the trial's fallback: nothing may be written there). */
int mt_boot_forget_fallback(mt_boot *b);
/* Manual recovery: golden, confirmed. Counter unchanged. */
int mt_boot_golden(mt_boot *b);

#endif
