/*
 * NOR flash device model with fault injection.
 *
 * The model is the meter's only view of its flash: every other subsystem
 * reads, programs and erases through this narrow interface (or through an
 * mt_flash_area, the same operations relative to a partition), never by
 * touching the memory directly.
 *
 * Storage is caller memory: `mem` (size bytes) holds the cell contents and
 * `wear` (one uint32_t per sector) the erase counters, so the Python side can
 * back both with a file mapped into memory and a killed process leaves exactly
 * the flash state a power cut would. The mt_flash struct itself holds only
 * geometry, counters and fault state; it is caller-owned, no globals.
 *
 * NOR semantics
 *   - erased cells read 0xFF;
 *   - program stores new = old AND data, and may only clear bits: asking for a
 *     1 where the cell holds 0 is MT_E_FLASH_ONE and nothing is written (the
 *     whole request is checked before the first byte changes);
 *   - program address and length must be multiples of the write alignment
 *     (1, 2, 4, 8 or 16; default 8), else MT_E_FLASH_ALIGN;
 *   - erase works on whole sectors only (default 4 KiB): address and length
 *     must be sector multiples, else MT_E_FLASH_ALIGN;
 *   - anything outside [0, size) is MT_E_FLASH_RANGE;
 *   - each erase adds one to its sector's wear counter. A sector is worn out
 *     once its counter has reached its endurance: from then on program and
 *     erase on it fail with MT_E_FLASH_WORN (nothing changes).
 *
 * Flash operations
 *   A program call is one operation; an erase is one operation per sector it
 *   erases (an erase of 32 sectors is 32 operations, and a power cut can land
 *   between any two of them). Reads are not operations. Calls refused for a
 *   bad argument (RANGE, ALIGN, ONE, WORN) are not operations either: they
 *   never reach the cells. `ops` counts operations since the last power-up,
 *   `ops_total` over the struct's lifetime.
 *
 * Power cut (sticky)
 *   mt_flash_cut_after(f, n) lets n more operations complete; the (n+1)th is
 *   hit by the cut and it and every later program, erase or read fail with
 *   MT_E_FLASH_POWER (mt_flash_peek returns NULL) until mt_flash_power_up.
 *   Reads fail too because the MCU is off; a harness that wants to inspect
 *   the cells after a cut looks at its own `mem` buffer. mt_flash_power_cut
 *   cuts at once. mt_flash_power_up clears the cut, disarms any pending one
 *   and zeroes `ops`.
 *
 *   What the operation hit by the cut leaves behind is the tear mode:
 *     MT_FLASH_TEAR_NONE    nothing: the operation never started.
 *     MT_FLASH_TEAR_PREFIX  program: the first k bytes are programmed;
 *                           erase: the first k bytes of the sector are erased.
 *     MT_FLASH_TEAR_BITS    program: the first k bytes are programmed, then in
 *                           the next write unit only a random subset of the
 *                           bits to clear are cleared;
 *                           erase: the first k bytes are erased, the rest of
 *                           the sector gets random bits set to 1.
 *   k is the tear parameter clamped to the operation's length, or, when the
 *   parameter is MT_FLASH_TEAR_RANDOM, drawn from the struct's xorshift
 *   generator (seed it with mt_flash_seed) in [0, length]. A torn erase still
 *   counts as an erase cycle for wear.
 *
 * Cell faults
 *   mt_flash_flip_bits   XORs a mask into one byte now (a retention error);
 *                        not an operation, works with the power off.
 *   mt_flash_stick_bits  makes bits of one byte stuck at 0 and/or 1 from now
 *                        on: applied at once and after every program or erase
 *                        that covers the byte. Program never reports a stuck
 *                        bit (the hardware does not either — read back to
 *                        find it), and asking for a 1 over a stuck-at-0 bit
 *                        is not MT_E_FLASH_ONE. Up to MT_FLASH_STUCK_MAX bytes.
 *   mt_flash_set_sector_endurance  a sector that wears out early (up to
 *                        MT_FLASH_ENDUR_MAX overrides).
 *
 * Write generations (optional, RAM only)
 *   So that a reader can tell "these cells have not changed since I last
 *   looked" without reading them again, the model can keep a write
 *   generation per sector in caller memory (one uint32_t per sector, as the
 *   wear counters; bound with mt_flash_track). Every call that
 *   can change a cell moves a device-wide counter on by one and stamps the
 *   sectors it touches with the new value: a program (one stamp per call,
 *   for every sector of its range), an erase (one per sector erased), the
 *   operation hit by a power cut whatever its tear mode, mt_flash_flip_bits
 *   and mt_flash_stick_bits (the byte's sector), mt_flash_factory_erase
 *   (every sector). Calls refused before reaching the cells stamp nothing.
 *   Stamps are never 0 (the counter starts at 0 and moves on before each
 *   stamp). The generation of a range (mt_flash_generation,
 *   mt_flash_area_generation) is the newest stamp among its sectors, so it changes whenever any of its
 *   cells may have: a reader that recorded it may skip reading the range
 *   again while it is unchanged. MT_FLASH_GEN_UNKNOWN means "cannot say"
 *   and must never be taken as unchanged: it is the answer without a
 *   generation array, and once the counter has run to the end (2^32 - 1
 *   stamps) every sector stamped from then on says it too, for good.
 *   Stores into `mem` that bypass this interface (a harness writing its own
 *   buffer) are invisible to the generations: such a caller rebinds
 *   (mt_flash_track again), which makes every recorded value stale.
 *
 * Everything is deterministic given the seed and the call sequence.
 *
 * Files: mt_flash.c the NOR semantics (init, read, program, erase, wear,
 * counters), mt_flash_fault.c the power cut, tears and cell faults,
 * mt_flash_gen.c the write generations, mt_flash_area.c the partitions;
 * mt_flash_impl.h what they share.
 */
#ifndef MT_FLASH_H
#define MT_FLASH_H

#include <stdint.h>

#define MT_FLASH_SECTOR_DEFAULT 4096u
#define MT_FLASH_ALIGN_DEFAULT 8u
#define MT_FLASH_SECTOR_MIN 16u          /* smallest sector (tests use small ones) */
#define MT_FLASH_SECTOR_MAX 65536u
#define MT_FLASH_ENDURANCE_DEFAULT 100000u
#define MT_FLASH_ENDURANCE_UNLIMITED 0xFFFFFFFFu
#define MT_FLASH_STUCK_MAX 8u
#define MT_FLASH_ENDUR_MAX 4u
/* A write generation that says nothing: never equal to a recorded one. */
#define MT_FLASH_GEN_UNKNOWN 0xFFFFFFFFu

/* Number of wear counters the caller must provide. */
#define MT_FLASH_SECTORS(size, sector_size) ((size) / (sector_size))

enum mt_flash_tear {
    MT_FLASH_TEAR_NONE = 0,
    MT_FLASH_TEAR_PREFIX = 1,
    MT_FLASH_TEAR_BITS = 2
};
#define MT_FLASH_TEAR_RANDOM 0xFFFFFFFFu

typedef struct mt_flash_stuck {
    uint32_t addr;
    uint8_t zero; /* bits stuck at 0 */
    uint8_t one;  /* bits stuck at 1 */
} mt_flash_stuck;

typedef struct mt_flash_endur {
    uint32_t sector;
    uint32_t endurance;
} mt_flash_endur;

typedef struct mt_flash {
    uint8_t *mem;      /* size bytes, caller memory */
    uint32_t *wear;    /* sector_count erase counters, caller memory */
    uint32_t *gen;     /* sector_count write generations, caller memory, or NULL */
    uint32_t size;
    uint32_t sector_size;
    uint32_t sector_count;
    uint32_t align;
    uint32_t endurance; /* default for every sector */
    uint32_t ops;       /* operations since power-up */
    uint32_t ops_total; /* operations over the struct's lifetime */
    uint32_t cut_left;  /* operations still allowed while a cut is armed */
    uint32_t tear_param;
    uint32_t rng;       /* xorshift32 state, never 0 */
    uint32_t gen_now;   /* the newest write generation stamped (with gen bound) */
    uint8_t cut_armed;
    uint8_t powered;
    uint8_t tear_mode;
    uint8_t n_stuck;
    uint8_t n_endur;
    uint8_t sector_shift; /* log2(sector_size): a sector index is addr >> sector_shift */
    mt_flash_stuck stuck[MT_FLASH_STUCK_MAX];
    mt_flash_endur endur[MT_FLASH_ENDUR_MAX];
} mt_flash;

/*
 * Binds the model to caller memory. Does not touch mem or wear (they may hold
 * a previous run's state); no write generations (mt_flash_track); size must be a non-zero multiple of sector_size,
 * sector_size a power of two in [MT_FLASH_SECTOR_MIN, MT_FLASH_SECTOR_MAX],
 * align one of 1, 2, 4, 8, 16. Powered up, no faults, endurance default.
 * MT_E_ARG on bad geometry.
 */
int mt_flash_init(mt_flash *f, uint8_t *mem, uint32_t size, uint32_t *wear,
                  uint32_t sector_size, uint32_t align);
/* Factory state: every byte 0xFF, every wear counter 0. Not an operation
 * (every sector's write generation moves on). */
void mt_flash_factory_erase(mt_flash *f);

uint32_t mt_flash_size(const mt_flash *f);
uint32_t mt_flash_sector_size(const mt_flash *f);
uint32_t mt_flash_align(const mt_flash *f);

/* Copies len bytes at addr into out. MT_E_FLASH_POWER, MT_E_FLASH_RANGE. */
int mt_flash_read(const mt_flash *f, uint32_t addr, uint8_t *out, uint32_t len);
/* Direct read-only view of [addr, addr+len) for in-place hashing; NULL when
 * out of range or the power is cut. Valid until the next program/erase. */
const uint8_t *mt_flash_peek(const mt_flash *f, uint32_t addr, uint32_t len);
/* One operation. MT_E_FLASH_POWER, _RANGE, _ALIGN, _ONE, _WORN. */
int mt_flash_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len);
/* One operation per sector, in address order; stops at the first failure.
 * All sectors are checked (range, alignment, wear) before the first erase. */
int mt_flash_erase(mt_flash *f, uint32_t addr, uint32_t len);

/* Binds the per-sector write generations: sector_count uint32_t of caller
 * memory (any content), every one stamped here with a generation newer than
 * any the device handed out before, so nothing a reader recorded earlier
 * matches; NULL unbinds. Not an operation. */
void mt_flash_track(mt_flash *f, uint32_t *gen);
/* The write generation of [addr, addr + len): the newest stamp among the
 * sectors it touches (len 0: the sector holding addr). MT_FLASH_GEN_UNKNOWN
 * without a generation array, out of range, or after the counter ran out. */
uint32_t mt_flash_generation(const mt_flash *f, uint32_t addr, uint32_t len);

/* Counters. */
uint32_t mt_flash_ops(const mt_flash *f);
uint32_t mt_flash_ops_total(const mt_flash *f);
/* Erase count of the sector holding addr (0 when out of range). */
uint32_t mt_flash_wear(const mt_flash *f, uint32_t addr);

/* Power and fault injection. */
void mt_flash_seed(mt_flash *f, uint32_t seed);
void mt_flash_cut_after(mt_flash *f, uint32_t n);
void mt_flash_cut_disarm(mt_flash *f);
void mt_flash_power_cut(mt_flash *f);
void mt_flash_power_up(mt_flash *f);
int mt_flash_powered(const mt_flash *f);
/* mode: enum mt_flash_tear; param: k, or MT_FLASH_TEAR_RANDOM. MT_E_ARG on a bad mode. */
int mt_flash_set_tear(mt_flash *f, unsigned mode, uint32_t param);
int mt_flash_flip_bits(mt_flash *f, uint32_t addr, uint8_t mask);
/* Adds to the byte's entry if it exists. MT_E_LENGTH when the table is full. */
int mt_flash_stick_bits(mt_flash *f, uint32_t addr, uint8_t stuck0, uint8_t stuck1);
/* Endurance for every sector without an override. */
void mt_flash_set_endurance(mt_flash *f, uint32_t endurance);
/* Override for the sector holding addr. MT_E_LENGTH when the table is full. */
int mt_flash_set_sector_endurance(mt_flash *f, uint32_t addr, uint32_t endurance);
/* Removes stuck bits and endurance overrides, disarms the cut, tear NONE. */
void mt_flash_clear_faults(mt_flash *f);

/*
 * A partition: the same operations with addresses relative to [off, off+size)
 * of the device. Anything reaching outside the partition is MT_E_FLASH_RANGE.
 */
typedef struct mt_flash_area {
    mt_flash *dev;
    uint32_t off;
    uint32_t size;
} mt_flash_area;

/* MT_E_ARG unless off and size are sector multiples inside the device, size > 0. */
int mt_flash_area_init(mt_flash_area *fa, mt_flash *dev, uint32_t off, uint32_t size);
int mt_flash_area_read(const mt_flash_area *fa, uint32_t off, uint8_t *out, uint32_t len);
const uint8_t *mt_flash_area_peek(const mt_flash_area *fa, uint32_t off, uint32_t len);
int mt_flash_area_program(const mt_flash_area *fa, uint32_t off, const uint8_t *data,
                          uint32_t len);
int mt_flash_area_erase(const mt_flash_area *fa, uint32_t off, uint32_t len);
/* The write generation of the whole partition (mt_flash_generation). */
uint32_t mt_flash_area_generation(const mt_flash_area *fa);

#endif
