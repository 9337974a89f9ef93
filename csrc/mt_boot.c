/*
 * The boot flow (mt_boot.h): init, provisioning, the power-up decision with
 * its fallbacks, validation of a bank through its verification cache, and
 * activate / confirm / revert / golden. Records are read and written by
 * mt_boot_record.c; the floor area's slots by mt_boot_floor.c.
 *
 * Attacker-controlled: the bank contents (checked by mt_image_check before
 * anything runs).
 */
#include "mt_boot.h"

#include <string.h>

#include "mt_boot_impl.h"
#include "mt_crc.h"
#include "mt_err.h"
#include "mt_sha256.h"

/* The flash model's "cannot say" is the check's (never taken as unchanged). */
typedef char mt_boot_gen_unknown_agrees[MT_FLASH_GEN_UNKNOWN == MT_IMAGE_GEN_UNKNOWN ? 1 : -1];

/* At most: one boot-loop fallback, one validation fallback to the other
 * bank or previous image, one to golden, then golden validates or not. */
#define MT_BOOT_MAX_STEPS 4

int mt_boot_init(mt_boot *b, const mt_boot_config *cfg)
{
    /* Once here, not at every validation: CPUID traps under a hypervisor. */
    return mt_boot_init_impl(b, cfg, mt_sha256_accelerated(), mt_crc_accelerated());
}

int mt_boot_init_impl(mt_boot *b, const mt_boot_config *cfg, int sha_impl, int crc_impl)
{
    int i;

    if (b == NULL || cfg == NULL) return MT_E_ARG;
    if (cfg->key_count > MT_IMAGE_MAX_KEYS || (cfg->keys == NULL && cfg->key_count != 0))
        return MT_E_ARG;
    for (i = 0; i < 3; i++)
        if (cfg->bank[i].dev == NULL || cfg->bank[i].size < MT_PKG_HEADER_SIZE) return MT_E_ARG;
    for (i = 0; i < 2; i++) {
        const mt_flash_area *fa = &cfg->control[i];
        if (fa->dev == NULL || fa->size < MT_BOOT_RECORD_SIZE ||
            fa->size % MT_BOOT_RECORD_SIZE != 0 || MT_BOOT_RECORD_SIZE % mt_flash_align(fa->dev))
            return MT_E_ARG;
    }
    if (!mt_boot_floor_area_ok(&cfg->floor)) return MT_E_ARG;
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    if (b->cfg.max_attempts == 0) b->cfg.max_attempts = MT_BOOT_ATTEMPTS_DEFAULT;
    b->rec_area = -1;
    b->rec.active = MT_BOOT_BANK_A;
    b->rec.previous = MT_BOOT_BANK_B; /* no record: either bank may hold the image */
    b->running = MT_BOOT_NONE;
    b->sha_impl = (int8_t)(sha_impl == 1);
    b->crc_impl = (int8_t)(crc_impl == 1);
    return MT_OK;
}

/* Raises the floor area to the effective floor when it is behind (after a
 * record that raised the counter, or as the repair at power-up). Never fails
 * the caller's operation: the outcome goes to floor_rc. */
static int raise_floor_area(mt_boot *b)
{
    b->floor_rc = mt_boot_floor_raise(&b->cfg.floor, b->floor);
    return b->floor_rc;
}

/* ---- validation ---- */

static int validate(mt_boot *b, uint8_t bank, int complete, mt_pkg_header *out)
{
    const mt_flash_area *fa = &b->cfg.bank[bank];
    const uint8_t *p = mt_flash_area_peek(fa, 0, fa->size);
    mt_image_policy pol;

    if (p == NULL) return MT_E_FLASH_POWER;
    pol.vendor_id = b->cfg.vendor_id;
    pol.hw_revision = b->cfg.hw_revision;
    pol.bank_size = fa->size;
    /* The factory image is the last resort: no anti-rollback floor. */
    pol.installed_counter = bank == MT_BOOT_BANK_GOLDEN ? 0 : b->floor;
    pol.keys = b->cfg.keys;
    pol.key_count = b->cfg.key_count;
    pol.sha_impl = b->sha_impl;
    pol.crc_impl = b->crc_impl;
    /* The bank's write generation: unchanged since the cache's last full
     * check means no pass over the image and no ECDSA (mt_image.h). */
    pol.gen = mt_flash_area_generation(fa);
    return mt_image_check(out, &pol, p, fa->size, complete, &b->cache[bank]);
}

/* The record that replaces r when its image cannot run (mt_boot.h). */
static mt_boot_record fallback(const mt_boot_record *r)
{
    mt_boot_record n = *r;
    uint8_t target;

    if (r->state == MT_BOOT_TRIAL)
        target = r->previous == r->active ? (uint8_t)MT_BOOT_BANK_GOLDEN : r->previous;
    else if (r->state == MT_BOOT_REVERTED || r->active == MT_BOOT_BANK_GOLDEN)
        target = MT_BOOT_BANK_GOLDEN;
    else if (r->previous <= MT_BOOT_BANK_B && r->previous != r->active)
        /* confirmed: back to the image confirmed before it, while the record
         * still names it (mt_boot_forget_fallback drops it when a download
         * takes that bank, a revert never sets it) */
        target = r->previous;
    else
        target = MT_BOOT_BANK_GOLDEN;
    n.active = target;
    n.state = target == MT_BOOT_BANK_GOLDEN ? (uint8_t)MT_BOOT_CONFIRMED : (uint8_t)MT_BOOT_REVERTED;
    n.attempts = 0;
    n.previous = MT_BOOT_BANK_GOLDEN;
    n.outcome = MT_BOOT_OUTCOME_REVERTED;
    return n; /* counter unchanged: a revert never raises it */
}

/* ---- operations ---- */

int mt_boot_provision(mt_boot *b)
{
    mt_boot_record n;
    mt_pkg_header h;
    int rc;

    if (b == NULL) return MT_E_ARG;
    rc = mt_boot_load(b);
    if (rc != MT_OK) return rc;
    if (b->rec_area >= 0) return MT_E_STATE;
    /* b->floor is the floor area's: 0 on a blank meter, so the factory image
     * meets no floor; a board whose records were wiped keeps its floor. */
    rc = validate(b, MT_BOOT_BANK_A, 1, &h);
    if (rc != MT_OK) return rc;
    n = b->rec;
    n.previous = MT_BOOT_BANK_GOLDEN; /* bank B holds nothing yet */
    n.counter = h.security_counter; /* write_record raises it to the floor */
    rc = mt_boot_write_record(b, &n);
    if (rc != MT_OK) return rc;
    raise_floor_area(b); /* record first, then the area (mt_boot.h) */
    return MT_OK;
}

int mt_boot_adopt(mt_boot *b, int bank, const mt_image_cache *from)
{
    if (b == NULL || from == NULL || bank < 0 || bank > MT_BOOT_BANK_GOLDEN || !from->valid)
        return MT_E_ARG;
    memcpy(b->cache[bank].digest, from->digest, sizeof from->digest);
    b->cache[bank].valid = 1;
    /* and the reference, if the check was pinned (NULL otherwise): the bank's
     * cache never pins, so only an adopt ever names a reference there */
    b->cache[bank].ref = from->ref;
    b->cache[bank].ref_len = from->ref_len;
    b->cache[bank].ref_signer = from->ref_signer;
    return MT_OK;
}

int mt_boot_start(mt_boot *b)
{
    int step, rc;

    if (b == NULL) return MT_E_ARG;
    b->running = MT_BOOT_NONE;
    b->booted_ok = 0;
    b->fault = 0;
    b->floor_rc = MT_OK;
    rc = mt_boot_load(b);
    if (rc != MT_OK) return rc;
    /* Repair: the record's counter above the area's (a cut between writing
     * the record and raising the area, or a raise that failed). Anything but
     * a power cut leaves the boot to go on: the record holds the floor. */
    if (b->floor_otp < b->floor && raise_floor_area(b) == MT_E_FLASH_POWER)
        return MT_E_FLASH_POWER;

    for (step = 0; step < MT_BOOT_MAX_STEPS; step++) {
        mt_boot_record r = b->rec;
        mt_pkg_header h;

        if (r.active == MT_BOOT_BANK_GOLDEN) {
            if (validate(b, MT_BOOT_BANK_GOLDEN, 1, &h) != MT_OK) return MT_E_NO_BOOTABLE;
            b->running = MT_BOOT_BANK_GOLDEN;
            b->running_header = h;
            return MT_OK;
        }
        if (r.state != MT_BOOT_CONFIRMED && r.attempts >= b->cfg.max_attempts) {
            mt_boot_record n = fallback(&r); /* boot loop */
            rc = mt_boot_write_record(b, &n);
            if (rc != MT_OK) return rc;
            continue;
        }
        rc = validate(b, r.active, 1, &h);
        if (rc == MT_E_FLASH_POWER) return rc;
        if (rc != MT_OK) {
            mt_boot_record n = fallback(&r); /* never run what fails */
            rc = mt_boot_write_record(b, &n);
            if (rc != MT_OK) return rc;
            continue;
        }
        if (r.state != MT_BOOT_CONFIRMED) {
            /* Count the attempt before running the image, so that a crash
             * is counted even if it comes before anything else is written.
             * attempts < max_attempts <= 255 here, so no wrap. */
            r.attempts = (uint8_t)(r.attempts + 1u);
            rc = mt_boot_write_record(b, &r);
            if (rc != MT_OK) return rc;
        }
        b->running = r.active;
        b->running_header = h;
        return MT_OK;
    }
    return MT_E_NO_BOOTABLE;
}

int mt_boot_boot_ok(mt_boot *b)
{
    mt_boot_record n;

    if (b == NULL) return MT_E_ARG;
    if (b->running == MT_BOOT_NONE) return MT_E_STATE;
    if (b->fault) return MT_E_SWAP;
    b->booted_ok = 1;
    if (b->rec.state != MT_BOOT_REVERTED || b->rec.active != b->running) return MT_OK;
    n = b->rec;
    n.state = MT_BOOT_CONFIRMED;
    n.attempts = 0;
    return mt_boot_write_record(b, &n);
}

int mt_boot_boot_failed(mt_boot *b)
{
    if (b == NULL) return MT_E_ARG;
    if (b->running == MT_BOOT_NONE) return MT_E_STATE;
    return mt_boot_start(b);
}

int mt_boot_inactive(const mt_boot *b)
{
    if (b == NULL) return MT_E_ARG;
    if (b->running == MT_BOOT_NONE || b->rec.state == MT_BOOT_TRIAL) return MT_E_STATE;
    return b->running == MT_BOOT_BANK_A ? MT_BOOT_BANK_B : MT_BOOT_BANK_A;
}

int mt_boot_verify(mt_boot *b, mt_pkg_header *out, int complete)
{
    int bank = mt_boot_inactive(b);

    if (bank < 0) return bank;
    return validate(b, (uint8_t)bank, complete, out);
}

int mt_boot_activate(mt_boot *b, int complete)
{
    mt_boot_record n;
    int bank, rc;

    if (b == NULL) return MT_E_ARG;
    if (b->fault) return MT_E_SWAP;
    bank = mt_boot_inactive(b);
    if (bank < 0) return bank;
    rc = validate(b, (uint8_t)bank, complete, NULL);
    if (rc != MT_OK) return rc;
    n = b->rec;
    n.active = (uint8_t)bank;
    n.state = MT_BOOT_TRIAL;
    n.attempts = 0;
    n.previous = b->running;
    n.outcome = MT_BOOT_OUTCOME_NONE;
    return mt_boot_write_record(b, &n);
}

int mt_boot_confirm(mt_boot *b)
{
    mt_boot_record n;
    int rc;

    if (b == NULL) return MT_E_ARG;
    if (b->fault) return MT_E_SWAP;
    if (b->running == MT_BOOT_NONE || b->rec.state != MT_BOOT_TRIAL ||
        b->rec.active != b->running || !b->booted_ok)
        return MT_E_STATE;
    n = b->rec;
    n.state = MT_BOOT_CONFIRMED;
    n.attempts = 0;
    n.outcome = MT_BOOT_OUTCOME_CONFIRMED;
    if (b->running_header.security_counter > n.counter)
        n.counter = b->running_header.security_counter;
    rc = mt_boot_write_record(b, &n);
    if (rc != MT_OK) return rc;
    /* The record is the commit; then the area (never before: mt_boot.h). */
    raise_floor_area(b);
    return MT_OK;
}

int mt_boot_revert(mt_boot *b)
{
    mt_boot_record n;

    if (b == NULL) return MT_E_ARG;
    if (b->fault) return MT_E_SWAP;
    if (b->running == MT_BOOT_NONE || b->rec.state == MT_BOOT_CONFIRMED) return MT_E_STATE;
    n = fallback(&b->rec);
    return mt_boot_write_record(b, &n);
}

int mt_boot_forget_fallback(mt_boot *b)
{
    mt_boot_record n;

    if (b == NULL) return MT_E_ARG;
    if (b->fault) return MT_E_SWAP;
    if (b->rec.state == MT_BOOT_TRIAL) return MT_E_STATE; /* the trial's fallback stays */
    if (b->rec.previous > MT_BOOT_BANK_B || b->rec.previous == b->rec.active) return MT_OK;
    n = b->rec;
    n.previous = MT_BOOT_BANK_GOLDEN;
    return mt_boot_write_record(b, &n);
}

int mt_boot_golden(mt_boot *b)
{
    mt_boot_record n;

    if (b == NULL) return MT_E_ARG;
    if (b->fault) return MT_E_SWAP;
    if (b->rec.active == MT_BOOT_BANK_GOLDEN && b->rec.state == MT_BOOT_CONFIRMED) return MT_OK;
    n = b->rec;
    n.active = MT_BOOT_BANK_GOLDEN;
    n.state = MT_BOOT_CONFIRMED;
    n.attempts = 0;
    n.previous = MT_BOOT_BANK_GOLDEN;
    n.outcome = MT_BOOT_OUTCOME_REVERTED;
    return mt_boot_write_record(b, &n);
}
