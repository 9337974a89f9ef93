/*
 * Simulation only (not part of any firmware profile): one broadcast round
 * delivered to many emulated meters in one call.
 *
 * A concentrator broadcasts `frames` mesh frames (mt_frame.h), laid end to
 * end in buf. Each meter has its own link: a xorshift64* generator and a
 * Bernoulli loss threshold. For every frame, in order, every meter draws
 * (the call goes meter by meter, each over the whole round, for the cache's
 * sake; meters share nothing, so that order changes no result)
 *
 *     x ^= x >> 12; x ^= x << 25; x ^= x >> 27;  rng = x;
 *     r = x * 0x2545F4914F6CDD1D;          heard when (r >> 32) >= loss
 *
 * (loss = p * 2^32; 0 hears everything, 2^32 nothing), and the frame's bit
 * in the meter's row of `heard` is set when it hears it. The draws go on for
 * every frame whatever the meter does with it, so a meter's fate on its link
 * never depends on the others or on what it did with earlier frames.
 *
 * A heard frame goes to the meter's reassembler as mt_reasm_frames takes a
 * run of one frame (each frame's type, lengths and FCS are checked once per
 * call, for every meter that hears it: the links lose frames, never damage
 * them, so every meter that hears a frame has its very bytes; the meter
 * takes the parsed frame through mt_reasm_frames_parsed, with the same
 * results), and the meter stays in the run while each frame is
 * plainly written or a duplicate. Its run stops (stop = the frame's index,
 * code says why) at the first frame that needs more than a count, the same
 * rule as mt_reasm_frames:
 *   MT_FLEET_BEFORE     the reassembler did not take the frame (it would
 *                       refuse it, or it is a header fragment still to be
 *                       checked): nothing counted or written for it;
 *   MT_FLEET_COMPLETED  the frame was written and completed the download;
 *   a negative code     the frame was taken and its storing failed
 *                       (MT_E_CONFLICT, a flash error).
 * After the stop the meter's link still draws (its `heard` bits are set) but
 * nothing more reaches its reassembler: the caller takes that frame and the
 * rest of the meter's round the per-frame way. A meter with reasm NULL is
 * only drawn for (its whole round is the caller's).
 *
 * written and duplicates count the frames of the run before the stop (a
 * completing frame is not in written). Each caller-owned mt_fleet_meter is
 * read (reasm, rng, loss, start) and written (rng, stop, code, written,
 * duplicates); the reassemblers change as mt_reasm_frames changes them.
 *
 * Vouching. A caller that sends one session's frames round after round,
 * the frame for fragment i the same bytes each time, may give a meter a
 * bitmap over the session's fragment indexes (vouched, zeroed when the
 * broadcast begins, kept across its rounds) and a word per bank sector
 * (marks, zeroed with it): each fragment its runs write while its flash has
 * no stuck bit -- so the cells took the payload exactly -- is marked in the
 * bitmap, and a later duplicate of a marked fragment is counted without
 * reading the bank back (mt_reasm_frames_vouched). The marks keep each bank
 * sector's write generation (mt_flash_track) as the meter's runs last left
 * it: before its next runs, a sector whose generation moved -- written,
 * erased or struck by a fault from outside the runs, between rounds or
 * between a stop and its replay -- loses the marks of the fragments in it.
 * So only fragments this runner wrote, untouched since, are spared the
 * compare; one stored any other way (the caller's per-frame path, an
 * earlier broadcast) is compared as before, and so is every fragment of a
 * meter with a stuck bit anywhere, without generations, or with a bank of
 * more sectors than marks_len.
 *
 * Replay (mt_fleet_replay): the same round again from where each meter's run
 * stopped, once the caller has handled that frame: no draws, `heard` is
 * read (the first call's), and meter i is fed the frames it heard from
 * meters[i].start on (reasm NULL: not fed). The outputs are as above.
 */
#ifndef MT_FLEET_H
#define MT_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "mt_reasm.h"

#define MT_FLEET_RAN 0        /* the meter's run took every frame it heard */
#define MT_FLEET_BEFORE 1     /* stopped before frame `stop` (not taken) */
#define MT_FLEET_COMPLETED 2  /* stopped after frame `stop`, which completed the download */

typedef struct mt_fleet_meter {
    mt_reasm *reasm;     /* NULL: the meter is drawn for, not fed */
    uint64_t rng;        /* xorshift64* state; never 0 */
    uint64_t loss;       /* Bernoulli loss threshold, 0 .. 2^32 */
    uint32_t start;      /* mt_fleet_replay: the first frame fed */
    uint32_t stop;       /* out: the frame the run stopped at; `frames` when it did not */
    int32_t code;        /* out: MT_FLEET_RAN, MT_FLEET_BEFORE, MT_FLEET_COMPLETED or an error */
    uint32_t written;    /* out: frames newly written before the stop */
    uint32_t duplicates; /* out: same-content duplicates before the stop */
    uint8_t *vouched;    /* NULL, or vouched_len bytes the runs keep (Vouching below) */
    uint32_t vouched_len;
    uint32_t *marks;     /* with vouched: marks_len words, one per bank sector */
    uint32_t marks_len;
} mt_fleet_meter;

/* Bytes of `heard` one round needs: n rows of ceil(frames / 8) bytes, frame k of
 * meter i at byte i * row + k / 8, bit k % 8 (LSB first). 0 when that overflows. */
size_t mt_fleet_heard_bytes(uint32_t n, uint32_t frames);

/*
 * One round: frames frames (frame k lens[k] bytes, end to end in buf, buf_len
 * bytes) to n meters. heard (heard_len bytes, at least
 * mt_fleet_heard_bytes(n, frames)) is zeroed, then filled. Returns 0;
 * MT_E_ARG on NULL (buf and lens may be NULL when frames is 0), a zero rng or
 * a loss above 2^32; MT_E_LENGTH when the lengths run past buf_len or heard is
 * short. On an error nothing is drawn or fed.
 */
int mt_fleet_round(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                   const uint32_t *lens, uint32_t frames, uint8_t *heard, size_t heard_len);

/*
 * The round again without drawing (see Replay above): heard as the round left
 * it. Same arguments and checks, except that rng and loss are not looked at
 * and a start past `frames` of a meter it feeds is MT_E_ARG (a meter with
 * reasm NULL is skipped whole, its start unread).
 */
int mt_fleet_replay(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                    const uint32_t *lens, uint32_t frames, const uint8_t *heard,
                    size_t heard_len);

/*
 * Page by page, whether a and b (len bytes each) hold the same bytes: bit p
 * (LSB first) of `same` is set when page p -- bytes [p * page, (p + 1) * page),
 * the last page possibly shorter -- is equal in both, cleared otherwise.
 * same_len must be at least ceil(ceil(len / page) / 8). Used to find what a
 * fleet meter's flash shares with a common base. Returns 0; MT_E_ARG on NULL
 * or a page of 0 bytes, MT_E_LENGTH when `same` is too short.
 */
int mt_fleet_pages_equal(const uint8_t *a, const uint8_t *b, size_t len, size_t page,
                         uint8_t *same, size_t same_len);

#endif
