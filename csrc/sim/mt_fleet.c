/* One broadcast round to many meters (mt_fleet.h). Simulation only. */
#include "mt_fleet.h"

#include <string.h>

#include "mt_err.h"

#define LOSS_ALL ((uint64_t)1 << 32)

size_t mt_fleet_heard_bytes(uint32_t n, uint32_t frames)
{
    size_t row = ((size_t)frames + 7u) / 8u;
    /* row <= 2^29; the product overflows only on 32-bit size_t: checked */
    if (n != 0 && row > SIZE_MAX / n) return 0;
    return row * n;
}

static uint64_t draw(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Checks shared by round and replay: buffers, lengths, heard's size. */
static int check_args(const mt_fleet_meter *meters, uint32_t n, const uint8_t *buf,
                      size_t buf_len, const uint32_t *lens, uint32_t frames,
                      const uint8_t *heard, size_t heard_len)
{
    if (meters == NULL || heard == NULL || (frames != 0 && (buf == NULL || lens == NULL)))
        return MT_E_ARG;
    size_t need = mt_fleet_heard_bytes(n, frames);
    if ((need == 0 && n != 0 && frames != 0) || heard_len < need) return MT_E_LENGTH;
    size_t left = buf_len;
    for (uint32_t k = 0; k < frames; k++) { /* subtract-first: no wrap */
        if (lens[k] > left) return MT_E_LENGTH;
        left -= lens[k];
    }
    return MT_OK;
}

static void reset(mt_fleet_meter *meters, uint32_t n, uint32_t frames)
{
    for (uint32_t i = 0; i < n; i++) {
        meters[i].stop = frames;
        meters[i].code = MT_FLEET_RAN;
        meters[i].written = 0;
        meters[i].duplicates = 0;
    }
}

/* Frame k (len bytes) to meter m, whose run has not stopped. */
static void feed(mt_fleet_meter *m, const uint8_t *frame, uint32_t len, uint32_t k)
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

int mt_fleet_round(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                   const uint32_t *lens, uint32_t frames, uint8_t *heard, size_t heard_len)
{
    int rc = check_args(meters, n, buf, buf_len, lens, frames, heard, heard_len);
    if (rc != MT_OK) return rc;
    for (uint32_t i = 0; i < n; i++)
        if (meters[i].rng == 0 || meters[i].loss > LOSS_ALL) return MT_E_ARG;

    size_t row = ((size_t)frames + 7u) / 8u;
    memset(heard, 0, row * n);
    reset(meters, n, frames);
    /* Meter by meter, each over the whole round: a meter's state, its bitmap
     * and bank stay in cache while the round's frames (some 150 KB) stay in
     * the cache of the next meters. Meters share nothing, so the order of the
     * (meter, frame) pairs across meters changes no result. */
    for (uint32_t i = 0; i < n; i++) {
        mt_fleet_meter *m = &meters[i];
        uint8_t *mine = heard + (size_t)i * row;
        size_t off = 0;
        for (uint32_t k = 0; k < frames; k++) {
            uint32_t len = lens[k];
            const uint8_t *frame = buf + off;
            off += len;
            if ((draw(&m->rng) >> 32) < m->loss) continue;
            mine[k / 8u] |= (uint8_t)(1u << (k % 8u));
            if (m->reasm != NULL && m->stop == frames) feed(m, frame, len, k);
        }
    }
    return MT_OK;
}

int mt_fleet_replay(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                    const uint32_t *lens, uint32_t frames, const uint8_t *heard,
                    size_t heard_len)
{
    int rc = check_args(meters, n, buf, buf_len, lens, frames, heard, heard_len);
    if (rc != MT_OK) return rc;
    for (uint32_t i = 0; i < n; i++)
        if (meters[i].start > frames) return MT_E_ARG;

    size_t row = ((size_t)frames + 7u) / 8u;
    reset(meters, n, frames);
    for (uint32_t i = 0; i < n; i++) {
        mt_fleet_meter *m = &meters[i];
        if (m->reasm == NULL) continue;
        const uint8_t *mine = heard + (size_t)i * row;
        size_t off = 0;
        for (uint32_t k = 0; k < frames && m->stop == frames; k++) {
            uint32_t len = lens[k];
            const uint8_t *frame = buf + off;
            off += len;
            if (k >= m->start && ((unsigned)mine[k / 8u] >> (k % 8u) & 1u) != 0u)
                feed(m, frame, len, k);
        }
    }
    return MT_OK;
}
