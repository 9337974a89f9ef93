/* One broadcast round to many meters (mt_fleet.h). Simulation only. */
#include "mt_fleet.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_err.h"
#include "mt_frame.h"

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

/*
 * Parse once, deliver to many. The round's frames go in chunks of CHUNK:
 * each frame of a chunk is parsed once (type, lengths, FCS: mt_frame_parse_impl
 * with the CPU's CRC code asked once), then every meter takes the chunk's
 * frames it hears, in order, as mt_reasm_frames would take their bytes
 * (mt_reasm_frames_parsed: the same checks from the session on). A frame
 * that does not parse is one every meter's run stops before (mt_reasm_frames
 * would drop it): MT_FLEET_BEFORE, the caller's per-frame path counts it.
 * Every meter hears the frame's very bytes (the links lose frames, they do
 * not damage them), so the one parse is each meter's.
 *
 * Within a chunk the order is meter by meter; meters share nothing, and each
 * meter still sees its frames in round order and draws once per frame in
 * order, so neither the chunking nor the order across meters changes any
 * result. CHUNK sets the balance: the chunk's frames (about 36 KB of bytes
 * and 6 KB parsed) stay in cache across the meters, and each meter takes a
 * run of up to CHUNK frames at a time -- its bitmap, state and the bank's
 * next 32 KB in cache and read in order -- rather than a few frames per
 * visit (at 32 a 10,000-meter wave spent about 40 % more in these calls).
 */
#define CHUNK 256u

typedef struct chunk {
    mt_frame fr[CHUNK];
    uint8_t ok[CHUNK]; /* 1: parsed */
} chunk;

/* Parses frames k0 .. k0 + cnt - 1, the first at buf + off. */
static void parse_chunk(chunk *c, const uint8_t *buf, size_t off, const uint32_t *lens,
                        uint32_t k0, uint32_t cnt, int crc_impl)
{
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t len = lens[k0 + j];
        /* a payload NULL with bytes (never from a parse) would be MT_E_ARG to
         * mt_reasm_frames_parsed: not taken, as a frame that does not parse */
        c->ok[j] = mt_frame_parse_impl(&c->fr[j], buf + off, len, crc_impl) == MT_OK &&
                   (c->fr[j].payload != NULL || c->fr[j].payload_len == 0);
        off += len;
    }
}

/*
 * Frames k .. k + n - 1 (parsed, all taken by the reassembler's checks so
 * far as parsing goes) to meter m, whose run has not stopped, in one
 * mt_reasm_frames_parsed call: the same frames, in the same order, through
 * the same per-frame path as n calls of one frame each, so the reassembler
 * ends the same. The outcomes are read back into what one-frame calls would
 * have recorded: the run stops before a frame not taken (MT_FLEET_BEFORE),
 * at a frame whose storing failed (its code), or at the frame that
 * completed the download (MT_FLEET_COMPLETED, not counted as written).
 */
static void feed_run(mt_fleet_meter *m, const mt_frame *fr, uint32_t n, uint32_t k, int vouch)
{
    int8_t outcome[CHUNK];
    uint32_t done = 0, written = 0, duplicates = 0;
    int rc = mt_reasm_frames_vouched(m->reasm, fr, n, outcome, &done,
                                     vouch ? m->vouched : NULL, m->vouched_len);

    for (uint32_t t = 0; t < done; t++) {
        if (outcome[t] == MT_REASM_DUPLICATE) {
            duplicates++;
        } else if (outcome[t] == MT_REASM_WRITTEN) {
            uint32_t i = fr[t].fragment_index;
            written++;
            if (vouch && i / 8u < m->vouched_len)
                m->vouched[i / 8u] = (uint8_t)(m->vouched[i / 8u] | (1u << (i % 8u)));
        }
    }
    if (rc != MT_OK && done == 0) { /* refused before any frame (not for parsed frames) */
        m->stop = k;
        m->code = MT_FLEET_BEFORE;
    } else if (rc != MT_OK) {
        m->stop = k + done - 1u;
        m->code = rc;
    } else if (done != 0 && outcome[done - 1u] == MT_REASM_WRITTEN &&
               mt_reasm_complete(m->reasm)) {
        written--;
        m->stop = k + done - 1u;
        m->code = MT_FLEET_COMPLETED;
    } else if (done < n) {
        m->stop = k + done;
        m->code = MT_FLEET_BEFORE;
    }
    m->written += written;
    m->duplicates += duplicates;
}

/*
 * Vouching (mt_fleet.h): whether meter m may vouch now -- a bitmap and
 * marks given, its reassembler ACTIVE on a session, its flash keeping
 * write generations (not saturated) and no bit stuck anywhere (the cells
 * take a written payload exactly), its bank within the marks.
 */
static int vouch_ok(const mt_fleet_meter *m)
{
    const mt_reasm *r = m->reasm;
    const mt_flash *f = r->bank.dev;
    if (m->vouched == NULL || m->marks == NULL || f == NULL || f->gen == NULL) return 0;
    if (f->gen_now == MT_FLASH_GEN_UNKNOWN || f->n_stuck != 0) return 0;
    if (r->phase != MT_REASM_ACTIVE || r->fragment_size == 0) return 0;
    return (r->bank.size >> f->sector_shift) <= m->marks_len;
}

/* Before the meter's runs of a chunk: a bank sector whose write generation
 * moved since its runs last left it (marks) was written, erased or struck
 * by a fault from outside them, so the fragments in it lose their vouches. */
static void vouch_begin(mt_fleet_meter *m)
{
    const mt_reasm *r = m->reasm;
    const mt_flash *f = r->bank.dev;
    uint32_t shift = f->sector_shift, first = r->bank.off >> shift;
    uint32_t sectors = r->bank.size >> shift, fs = r->fragment_size;
    for (uint32_t s = 0; s < sectors; s++) {
        uint32_t g = f->gen[first + s];
        if (g == m->marks[s] && g != MT_FLASH_GEN_UNKNOWN) continue;
        m->marks[s] = g;
        /* the fragments with a byte in [s << shift, (s + 1) << shift) of the bank */
        for (uint32_t i = (s << shift) / fs; i <= (((s + 1u) << shift) - 1u) / fs; i++) {
            if (i / 8u >= m->vouched_len) break;
            m->vouched[i / 8u] = (uint8_t)(m->vouched[i / 8u] & ~(1u << (i % 8u)));
        }
    }
}

/* After them: what moved the generations since vouch_begin was the runs. */
static void vouch_end(mt_fleet_meter *m)
{
    const mt_reasm *r = m->reasm;
    const mt_flash *f = r->bank.dev;
    uint32_t shift = f->sector_shift, first = r->bank.off >> shift;
    for (uint32_t s = 0; s < (r->bank.size >> shift); s++) m->marks[s] = f->gen[first + s];
}

/*
 * The frames of chunk c (frames k0 .. k0 + cnt - 1) meter m hears (hear[j]
 * nonzero), to its reassembler while its run goes on: each run of
 * consecutive frames heard and parsed goes in one call (feed_run); a frame
 * heard that did not parse stops the run before it, as mt_reasm_frames
 * would drop it.
 */
static void feed_chunk(mt_fleet_meter *m, const chunk *c, const uint8_t *hear, uint32_t k0,
                       uint32_t cnt, uint32_t frames)
{
    uint32_t j = 0;
    int vouch = vouch_ok(m);
    if (vouch) vouch_begin(m);
    while (j < cnt && m->stop == frames) {
        uint32_t e;
        if (!hear[j]) {
            j++;
            continue;
        }
        if (!c->ok[j]) {
            m->stop = k0 + j;
            m->code = MT_FLEET_BEFORE;
            break;
        }
        for (e = j + 1u; e < cnt && hear[e] && c->ok[e]; e++) continue;
        feed_run(m, &c->fr[j], e - j, k0 + j, vouch);
        j = e;
    }
    if (vouch) vouch_end(m);
}

int mt_fleet_round(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                   const uint32_t *lens, uint32_t frames, uint8_t *heard, size_t heard_len)
{
    chunk c;
    uint8_t hear[CHUNK];
    size_t row, off = 0;
    int crc_impl;
    int rc = check_args(meters, n, buf, buf_len, lens, frames, heard, heard_len);
    if (rc != MT_OK) return rc;
    for (uint32_t i = 0; i < n; i++)
        if (meters[i].rng == 0 || meters[i].loss > LOSS_ALL) return MT_E_ARG;

    row = ((size_t)frames + 7u) / 8u;
    memset(heard, 0, row * n);
    reset(meters, n, frames);
    crc_impl = mt_crc_accelerated();
    for (uint32_t k0 = 0; k0 < frames; k0 += CHUNK) {
        uint32_t cnt = frames - k0 < CHUNK ? frames - k0 : CHUNK;
        parse_chunk(&c, buf, off, lens, k0, cnt, crc_impl);
        for (uint32_t j = 0; j < cnt; j++) off += lens[k0 + j];
        for (uint32_t i = 0; i < n; i++) {
            mt_fleet_meter *m = &meters[i];
            uint8_t *mine = heard + (size_t)i * row;
            /* every draw first (a meter's draws never depend on its feeding) */
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t k = k0 + j;
                hear[j] = (draw(&m->rng) >> 32) >= m->loss;
                mine[k / 8u] |= (uint8_t)((unsigned)hear[j] << (k % 8u));
            }
            if (m->reasm != NULL) feed_chunk(m, &c, hear, k0, cnt, frames);
        }
    }
    return MT_OK;
}

int mt_fleet_replay(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                    const uint32_t *lens, uint32_t frames, const uint8_t *heard,
                    size_t heard_len)
{
    chunk c;
    uint8_t hear[CHUNK];
    size_t row, off = 0;
    int crc_impl;
    int rc = check_args(meters, n, buf, buf_len, lens, frames, heard, heard_len);
    if (rc != MT_OK) return rc;
    for (uint32_t i = 0; i < n; i++) /* a meter not fed (reasm NULL) has no start */
        if (meters[i].reasm != NULL && meters[i].start > frames) return MT_E_ARG;

    row = ((size_t)frames + 7u) / 8u;
    reset(meters, n, frames);
    crc_impl = mt_crc_accelerated();
    for (uint32_t k0 = 0; k0 < frames; k0 += CHUNK) {
        uint32_t cnt = frames - k0 < CHUNK ? frames - k0 : CHUNK;
        int parsed = 0;
        for (uint32_t i = 0; i < n; i++) {
            mt_fleet_meter *m = &meters[i];
            const uint8_t *mine = heard + (size_t)i * row;
            if (m->reasm == NULL || m->stop != frames || m->start >= k0 + cnt) continue;
            if (!parsed) { /* only chunks some meter is fed from */
                parse_chunk(&c, buf, off, lens, k0, cnt, crc_impl);
                parsed = 1;
            }
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t k = k0 + j;
                hear[j] = (uint8_t)(k >= m->start && ((unsigned)mine[k / 8u] >> (k % 8u) & 1u) != 0u);
            }
            feed_chunk(m, &c, hear, k0, cnt, frames);
        }
        for (uint32_t j = 0; j < cnt; j++) off += lens[k0 + j];
    }
    return MT_OK;
}

int mt_fleet_pages_equal(const uint8_t *a, const uint8_t *b, size_t len, size_t page,
                         uint8_t *same, size_t same_len)
{
    size_t pages, p, off = 0;
    if (a == NULL || b == NULL || same == NULL || page == 0) return MT_E_ARG;
    pages = len / page + (len % page != 0);
    if (same_len < pages / 8u + (pages % 8u != 0)) return MT_E_LENGTH;
    memset(same, 0, pages / 8u + (pages % 8u != 0));
    for (p = 0; p < pages; p++) {
        size_t n = len - off < page ? len - off : page; /* off < len here */
        if (memcmp(a + off, b + off, n) == 0) same[p / 8u] |= (uint8_t)(1u << (p % 8u));
        off += n;
    }
    return MT_OK;
}
