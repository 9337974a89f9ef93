/* mt_fleet_round / mt_fleet_replay check each frame once and hand the parsed
 * frame to every meter that hears it, a meter's run of consecutive frames in
 * one call. This holds them against the per-meter path (fleet_ref.h: every
 * heard frame's own bytes through mt_reasm_frames, one frame at a time, the
 * rule the round documents), in two passes:
 *
 * - hostile rounds: frames with a flipped bit (bad FCS), cut short, of
 *   another session, with an index past the end, a wrong payload length, a
 *   duplicate whose content differs (a conflict), a header that fails its
 *   check, beside valid frames in any order and repeated;
 * - rounds of valid frames, repeats, conflicting duplicates and bad FCSs
 *   with the flash faults armed at random before every round, the same on
 *   both sides: a power cut after n operations with each tear mode, bits
 *   stuck at 0 or 1 (in the bank and in the progress bitmap), a sector worn
 *   out early. Every fault must strike exactly where it strikes one frame at
 *   a time; after a cut both sides are powered up and resumed alike;
 * - the same with the fleet's side vouching for what its runs write
 *   (mt_fleet.h, "Vouching"; no conflicting duplicates, which the caller
 *   of a vouching round rules out): a bit stuck, then cleared, between two
 *   rounds, a torn write, a worn sector must still be found by a compare
 *   exactly where the per-frame side finds it. (Without the write
 *   generations' guard this pass fails.)
 *
 * Both sides get the same stops handled the same way (a BEFORE frame through
 * mt_reasm_frame, then the replay from after it); every call's outputs, the
 * flash, wear, write generations, operation counts, power, counters and
 * phase must be the same. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mt_fleet.h"
#include "mt_frame.h"
#include "mt_reasm.h"
#include "fleet_ref.h"
#include "reasm_fixture.h"

#define FS 128u
#define MAXFRAME (19u + FS + 8u)
#define METERS 6u
#define SLOTS 40u /* frames per round */
#define RUNS_HOSTILE 60u
#define RUNS_FAULTS 80u
#define VOUCHED 2 /* drive(): faults armed, and the fleet side vouching */

typedef struct meter {
    uint8_t mem[DEV];
    uint32_t wear[DEV / SEC];
    uint32_t gen[DEV / SEC];
    mt_flash flash;
    mt_layout layout;
    mt_flash_area bank, progress;
    mt_reasm r;
} meter;

static meter fleet[METERS], twin[METERS];
static uint8_t stream[SLOTS * MAXFRAME];
static uint32_t lens[SLOTS];
static uint8_t heard[METERS * ((SLOTS + 7u) / 8u)];

static void meter_init(meter *m)
{
    layout_init(&m->layout, &m->flash, m->mem, m->wear, 8, 1);
    mt_flash_track(&m->flash, m->gen);
    CHECK_EQ(mt_layout_area(&m->layout, &m->flash, MT_PART_BANK_B, &m->bank), MT_OK);
    CHECK_EQ(mt_layout_area(&m->layout, &m->flash, MT_PART_PROGRESS, &m->progress), MT_OK);
    CHECK_EQ(mt_reasm_init(&m->r, &m->bank, &m->progress, VENDOR, HW), MT_OK);
    CHECK_EQ(mt_reasm_begin(&m->r, SESSION, pkg_size, FS, count_of(FS)), MT_OK);
}

/* One frame of the round, of a kind picked at random (attacker-shaped); with
 * faults armed, only conflicting duplicates and bad FCSs beside valid frames. */
static uint32_t hostile_frame(uint8_t *out, uint32_t *len_out, int faults)
{
    uint32_t n = count_of(FS), i = next_rand() % n, kind = next_rand() % 16u;
    if (faults && kind != 3u && kind != 6u) kind = 15u; /* a valid frame */
    if (faults == VOUCHED && kind == 3u) kind = 15u; /* one frame per fragment's content */
    uint8_t payload[FS];
    mt_frame f;
    size_t len = 0;
    f.session_id = SESSION;
    f.package_size = pkg_size;
    f.fragment_size = (uint16_t)FS;
    f.fragment_index = (uint16_t)i;
    f.fragment_count = (uint16_t)n;
    f.payload_len = (uint16_t)frag_len(i, FS);
    memcpy(payload, pkg + i * FS, f.payload_len);
    f.payload = payload;
    switch (kind) {
    case 0: f.session_id ^= 1u; break;                           /* another session */
    case 1: f.fragment_index = (uint16_t)n; f.payload_len = 16; break; /* past the end */
    case 2: f.payload_len = (uint16_t)(f.payload_len - 8u); break;   /* wrong length */
    case 3: payload[next_rand() % f.payload_len] ^= 0x40; break; /* content differs */
    case 4: f.package_size += FS; break;                         /* other geometry */
    case 5: /* a header whose check fails (another vendor), FCS valid */
        if (i == 0 && next_rand() % 4u == 0) payload[8] ^= 1;
        break;
    default: break;                                              /* a valid frame */
    }
    CHECK_EQ(mt_frame_encode(out, MAXFRAME, &f, &len), MT_OK);
    if (kind == 6) out[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8u)); /* bad FCS */
    if (kind == 7) len -= 1u + next_rand() % 4u;                 /* cut short */
    *len_out = (uint32_t)len;
    return (uint32_t)len;
}

static void same_meter(const meter *a, const meter *b)
{
    CHECK_MEM(a->mem, b->mem, DEV);
    CHECK_MEM(a->wear, b->wear, sizeof a->wear);
    CHECK_MEM(a->gen, b->gen, sizeof a->gen);
    CHECK_EQ(mt_flash_ops(&a->flash), mt_flash_ops(&b->flash));
    CHECK_EQ(mt_flash_powered(&a->flash), mt_flash_powered(&b->flash));
    CHECK_EQ(mt_reasm_received(&a->r), mt_reasm_received(&b->r));
    CHECK_MEM(&a->r.stats, &b->r.stats, sizeof a->r.stats);
    CHECK_EQ(a->r.phase, b->r.phase);
    CHECK_EQ(a->r.hdr_ok, b->r.hdr_ok);
}

static void same_out(const mt_fleet_meter *a, const mt_fleet_meter *b)
{
    for (uint32_t i = 0; i < METERS; i++) {
        CHECK_EQ(a[i].stop, b[i].stop);
        CHECK_EQ(a[i].code, b[i].code);
        CHECK_EQ(a[i].written, b[i].written);
        CHECK_EQ(a[i].duplicates, b[i].duplicates);
        CHECK_EQ(a[i].rng, b[i].rng);
    }
}

/* The same faults, drawn at random, on both meters' flash. */
static uint32_t cuts_armed;
static void arm_faults(meter *a, meter *b)
{
    uint32_t what = next_rand() % 8u, bank_off = a->bank.off;
    uint32_t at = bank_off + next_rand() % a->bank.size, n = next_rand() % 40u;
    uint32_t mode = next_rand() % 3u, param = next_rand() % 3u == 0 ? MT_FLASH_TEAR_RANDOM
                                                                     : next_rand() % 200u;
    uint8_t s0 = (uint8_t)next_rand(), s1 = (uint8_t)(next_rand() & ~(uint32_t)s0);
    uint32_t seed = next_rand(), bit = a->progress.off + 32u + next_rand() % 8u;
    meter *both[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        mt_flash *f = &both[k]->flash;
        mt_flash_seed(f, seed);
        if (what == 0 || what == 5) { /* a cut n operations on, with a tear mode */
            CHECK_EQ(mt_flash_set_tear(f, mode, param), MT_OK);
            mt_flash_cut_after(f, n);
            cuts_armed += k == 0;
        }
        if (what == 1) (void)mt_flash_stick_bits(f, at, s0, (uint8_t)(s1 & 0x0Fu));
        if (what == 2) (void)mt_flash_stick_bits(f, bit, 0, 0x01); /* in the progress bitmap */
        if (what == 3) /* a bank sector worn out now, or after one more erase */
            (void)mt_flash_set_sector_endurance(f, at, mt_flash_wear(f, at) + (n & 1u));
        if (what == 4) mt_flash_clear_faults(f);
    }
}

typedef struct tally {
    uint32_t stops, conflicts, bad, completed, cut, worn, one;
} tally;

/* RUNS runs of four rounds; faults: armed before every round; VOUCHED: armed
 * too, and the fleet's meters vouch for what their runs write (mt_fleet.h,
 * "Vouching": the frames of one fragment all carry its content), the
 * per-frame side compares every duplicate. */
static void drive(uint32_t runs, int faults, tally *c, uint32_t *refused)
{
    const uint64_t loss[METERS] = {0, (uint64_t)1 << 30, (uint64_t)1 << 31, 0, 1, 3u << 30};
    static uint8_t vouched[METERS][8];
    static uint32_t marks[METERS][BANK / SEC];
    for (uint32_t run = 0; run < runs; run++) {
        mt_fleet_meter m[METERS], t[METERS];
        CHECK(count_of(FS) <= 8u * sizeof vouched[0]);
        memset(vouched, 0, sizeof vouched);
        memset(marks, 0, sizeof marks);
        for (uint32_t i = 0; i < METERS; i++) {
            meter_init(&fleet[i]);
            meter_init(&twin[i]);
            memset(&m[i], 0, sizeof m[i]);
            m[i].reasm = &fleet[i].r;
            m[i].rng = 0x9E3779B97F4A7C15ULL * (run + 1u) + i;
            m[i].loss = loss[i];
            t[i] = m[i];
            t[i].reasm = &twin[i].r;
            if (faults == VOUCHED) {
                m[i].vouched = vouched[i];
                m[i].vouched_len = (uint32_t)sizeof vouched[i];
                m[i].marks = marks[i];
                m[i].marks_len = BANK / SEC;
            }
        }
        for (int round = 0; round < 4; round++) {
            uint32_t total = 0, frames = SLOTS;
            uint8_t heard_ref[sizeof heard];
            if (faults)
                for (uint32_t i = 0; i < METERS; i++) arm_faults(&fleet[i], &twin[i]);
            for (uint32_t k = 0; k < frames; k++)
                total += hostile_frame(stream + total, &lens[k], faults);
            CHECK_EQ(mt_fleet_round(m, METERS, stream, total, lens, frames, heard, sizeof heard),
                     MT_OK);
            ref_round(t, METERS, stream, lens, frames, 0, heard_ref);
            CHECK_MEM(heard, heard_ref, sizeof heard);
            same_out(m, t);
            for (;;) {
                int any = 0;
                for (uint32_t i = 0; i < METERS; i++) {
                    if (m[i].code == MT_FLEET_RAN) {
                        m[i].reasm = t[i].reasm = NULL;
                        continue;
                    }
                    uint32_t k = m[i].stop, off = 0;
                    any = 1;
                    c->stops++;
                    for (uint32_t j = 0; j < k; j++) off += lens[j];
                    if (m[i].code == MT_FLEET_BEFORE) { /* the per-frame way, on both */
                        int a = mt_reasm_frame(&fleet[i].r, stream + off, lens[k]);
                        CHECK_EQ(a, mt_reasm_frame(&twin[i].r, stream + off, lens[k]));
                        c->bad += a != MT_OK;
                    }
                    c->conflicts += m[i].code == MT_E_CONFLICT;
                    c->cut += m[i].code == MT_E_FLASH_POWER;
                    c->worn += m[i].code == MT_E_FLASH_WORN;
                    c->one += m[i].code == MT_E_FLASH_ONE;
                    c->completed += m[i].code == MT_FLEET_COMPLETED;
                    m[i].reasm = &fleet[i].r;
                    t[i].reasm = &twin[i].r;
                    m[i].start = t[i].start = k + 1;
                }
                if (!any) break;
                int rc = mt_fleet_replay(m, METERS, stream, total, lens, frames, heard,
                                         sizeof heard);
                CHECK_EQ(rc, MT_OK);
                if (rc != MT_OK) break; /* no endless loop */
                CHECK_MEM(heard, heard_ref, sizeof heard);
                ref_round(t, METERS, stream, lens, frames, 1, heard_ref);
                same_out(m, t);
            }
            for (uint32_t i = 0; i < METERS; i++) {
                same_meter(&fleet[i], &twin[i]);
                m[i].reasm = &fleet[i].r;
                t[i].reasm = &twin[i].r;
                if (!mt_flash_powered(&fleet[i].flash)) { /* after a cut: both back alike */
                    mt_flash_power_up(&fleet[i].flash);
                    mt_flash_power_up(&twin[i].flash);
                    CHECK_EQ(mt_reasm_resume(&fleet[i].r), mt_reasm_resume(&twin[i].r));
                    if (fleet[i].r.phase != MT_REASM_ACTIVE) {
                        CHECK_EQ(mt_reasm_begin(&fleet[i].r, SESSION, pkg_size, FS, count_of(FS)),
                                 MT_OK);
                        CHECK_EQ(mt_reasm_begin(&twin[i].r, SESSION, pkg_size, FS, count_of(FS)),
                                 MT_OK);
                    }
                    same_meter(&fleet[i], &twin[i]);
                }
            }
        }
        for (uint32_t i = 0; i < METERS; i++) *refused += fleet[i].r.phase == MT_REASM_REFUSED;
    }
}

int main(void)
{
    tally h = {0}, f = {0};
    uint32_t refused = 0, refused_f = 0;
    make_pkg(2048u - 128u - 64u, FS, 64u, VENDOR, HW);
    drive(RUNS_HOSTILE, 0, &h, &refused);
    /* the hostile kinds were all met, and the valid ones made progress */
    CHECK(h.stops > 100 && h.conflicts > 0 && refused > 0 && h.bad > 0 && h.completed > 0);
    drive(RUNS_FAULTS, 1, &f, &refused_f);
    /* every fault struck somewhere, and the valid frames made progress */
    printf("fleet with faults: %u stops, %u cuts armed, %u hit a run, %u worn, %u stuck-bit "
           "refusals, %u conflicts, %u completed\n",
           (unsigned)f.stops, (unsigned)cuts_armed, (unsigned)f.cut, (unsigned)f.worn,
           (unsigned)f.one, (unsigned)f.conflicts, (unsigned)f.completed);
    CHECK(f.stops > 100 && f.conflicts > 0 && f.bad > 0 && f.completed > 0 && f.cut > 0 &&
          f.worn > 0);
    tally v = {0};
    uint32_t refused_v = 0;
    drive(RUNS_FAULTS, VOUCHED, &v, &refused_v);
    printf("fleet vouching, with faults: %u stops, %u cut, %u worn, %u stuck-bit refusals, "
           "%u conflicts, %u completed\n", (unsigned)v.stops, (unsigned)v.cut,
           (unsigned)v.worn, (unsigned)v.one, (unsigned)v.conflicts, (unsigned)v.completed);
    CHECK(v.stops > 100 && v.completed > 0 && v.cut > 0 && v.worn > 0);
    return mt_test_done("test_fleet_hostile");
}
