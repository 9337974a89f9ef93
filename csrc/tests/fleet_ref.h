/* The per-meter path of a broadcast round, written out for the fleet tests:
 * the round as mt_fleet.h specifies it, every heard frame's own bytes
 * through mt_reasm_frames, one frame at a time. */
#ifndef FLEET_REF_H
#define FLEET_REF_H

#include <stdint.h>
#include <string.h>

#include "mt_fleet.h"
#include "mt_reasm.h"

/* Frame k (len bytes at frame) to meter m, as a run of one. */
static void ref_feed(mt_fleet_meter *m, const uint8_t *frame, uint32_t len, uint32_t k)
{
    int8_t outcome = 0;
    uint32_t done = 0;
    int rc = mt_reasm_frames(m->reasm, frame, len, &len, 1, &outcome, &done);
    if (done == 0) {
        m->stop = k;
        m->code = MT_FLEET_BEFORE;
    } else if (rc != 0) {
        m->stop = k;
        m->code = rc;
    } else if (outcome == MT_REASM_DUPLICATE) {
        m->duplicates++;
    } else if (mt_reasm_complete(m->reasm)) {
        m->stop = k;
        m->code = MT_FLEET_COMPLETED;
    } else {
        m->written++;
    }
}

static int hears(uint64_t *x, uint64_t loss)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return ((*x * 0x2545F4914F6CDD1DULL) >> 32) >= loss;
}

/* The round of `frames` frames (lens[k] bytes each, end to end in stream) to
 * `meters` meters. replay 0: draws, its bits into hb (zeroed first); 1:
 * reads hb from m->start on. */
static void ref_round(mt_fleet_meter *ms, uint32_t meters, const uint8_t *stream,
                      const uint32_t *lens, uint32_t frames, int replay, uint8_t *hb)
{
    uint32_t row = (frames + 7u) / 8u;
    if (!replay) memset(hb, 0, (size_t)row * meters);
    for (uint32_t i = 0; i < meters; i++) {
        mt_fleet_meter *m = &ms[i];
        uint32_t off = 0;
        m->stop = frames;
        m->code = MT_FLEET_RAN;
        m->written = m->duplicates = 0;
        for (uint32_t k = 0; k < frames; k++) {
            const uint8_t *frame = stream + off;
            int h;
            off += lens[k];
            if (replay) {
                h = k >= m->start && (((unsigned)hb[i * row + k / 8u] >> (k % 8u)) & 1u) != 0u;
            } else {
                h = hears(&m->rng, m->loss);
                if (h) hb[i * row + k / 8u] |= (uint8_t)(1u << (k % 8u));
            }
            if (h && m->reasm != NULL && m->stop == frames) ref_feed(m, frame, lens[k], k);
        }
    }
}

#endif
