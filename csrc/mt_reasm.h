/*
 * Fragment reassembly straight into the inactive bank (SPEC §6).
 *
 * One reassembler serves both transports: mesh frames (mt_reasm_frame, the
 * wire form in mt_frame.h; mt_reasm_frames takes many at once) and DLMS class-18 image block transfer
 * (mt_reasm_block: the same thing without the frame wrapper).
 *
 * Fragment i holds package bytes [i * fragment_size, (i+1) * fragment_size)
 * and is programmed at that offset of the bank; the last one may be short
 * (it is padded with 0xFF to the write alignment, which programs nothing).
 *
 * Progress partition (one or more sectors), little-endian:
 *
 *   off  size  field
 *     0     4  magic           "MTDL" (4D 54 44 4C)
 *     4     4  session_id
 *     8     4  package_size    header + image + trailer bytes
 *    12     4  fragment_size
 *    16     4  fragment_count
 *    20     4  bank_off        device address of the bank being written
 *    24     4  tag             the caller's label for the session (st->tag at
 *                              its first fragment; the meter: 0 mesh, 1 DLMS)
 *    28     4  crc32           CRC-32/ISO-HDLC of bytes 0..27
 *    32     -  bitmap          bit i (byte 32 + i/8, bit i%8, LSB first):
 *                              1 (erased) = fragment i missing,
 *                              0 (programmed) = received
 *
 * A bit is marked with one aligned program of the write unit that holds it
 * (the unit's current bytes AND the cleared bit: programming 0 over 0 is
 * allowed), so no erase happens per fragment.
 *
 * Flash order, chosen so that a power cut at any operation is safe:
 *   session start (at the first fragment accepted after mt_reasm_begin, not at
 *   begin itself, so a refused header leaves the flash untouched):
 *     1. erase the progress partition (the old record goes first),
 *     2. erase the bank, sector by sector (sectors already blank are skipped),
 *     3. program the record.
 *     A cut before 3 completes leaves no valid record: mt_reasm_resume finds
 *     no session, and the download starts over.
 *   session close (mt_reasm_close: activated, or given up):
 *     program the write unit holding the magic with the magic bytes cleared
 *     to 0 (the rest of the unit programmed with its own value, a no-op).
 *     A closed record keeps its fields and CRC (computed with the magic), so
 *     resume still knows which session it was and that it is over. A torn
 *     close leaves the magic intact (the session is still open, close again)
 *     or partly cleared (neither open nor closed: no session).
 *     This is one program, no erase, and the bitmap stays as it was.
 *   each fragment:
 *     1. program the payload at its offset,
 *     2. mark its bit.
 *     A cut between the two leaves the fragment unmarked: it is received
 *     again and reprogrammed with the same bytes, which NOR allows (a torn
 *     payload holds a subset of the cleared bits).
 *
 * The header check (SPEC §6: "verify it has sufficient storage before
 * beginning the download"): mt_reasm_begin refuses a package_size larger than
 * the bank (MT_E_TOO_BIG, operator 0x9002) before any flash operation. The
 * header itself, the package's first 128 bytes, is checked as soon as the
 * fragments holding it are there (fragment 0 when fragment_size >= 128;
 * smaller header fragments wait in RAM and are written only after the check):
 * mt_pkg_header_parse (mt_image.h: magic, version, CRC, fields), then vendor, hardware
 * revision, size against the bank, and the session's geometry against the
 * header's (mesh frames: package size, fragment size and count; DLMS blocks:
 * the package size only, the block size being the meter's own). A refused header leaves the session refused (MT_E_STATE for every
 * later fragment) and none of the header fragments written.
 *
 * Fragments are dropped, counted and never written when:
 *   the frame is malformed                            MT_E_FRAME   bad_frame
 *   its FCS is wrong                                  MT_E_FRAME   bad_crc
 *   it is for another session (ID or geometry)        MT_E_SESSION bad_session
 *   index >= fragment_count                           MT_E_FRAME   bad_index
 *   the length is not what the index implies          MT_E_FRAME   bad_length
 *   no session, or the session was refused            MT_E_STATE   refused
 *   a duplicate with different content, or the slot   MT_E_CONFLICT conflicts
 *   holds bytes that programming cannot turn into it
 * A duplicate with the same content returns 0 and writes nothing (duplicates).
 *
 * A flash error (power cut, worn sector) is returned as is and puts the
 * reassembler in a fault state: after power-up, mt_reasm_init + resume.
 *
 * The state struct is small (the bitmap lives in flash, not RAM) and caller
 * owned; it keeps pointers to the caller's mt_flash.
 */
#ifndef MT_REASM_H
#define MT_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "mt_flash.h"
#include "mt_frame.h"
#include "mt_pkg.h"

#define MT_REASM_MAGIC "MTDL"
#define MT_REASM_RECORD_SIZE 32u
/* Header fragments held in RAM when fragment_size < 128: at most
 * ceil(128 / 16) = 8 fragments, < 128 + fragment_size <= 256 bytes. */
#define MT_REASM_HDR_BUF 256u

enum mt_reasm_phase {
    MT_REASM_IDLE = 0,    /* no session */
    MT_REASM_ARMED = 1,   /* begun; nothing on flash yet */
    MT_REASM_ACTIVE = 2,  /* record on flash, fragments arriving */
    MT_REASM_REFUSED = 3, /* header check failed (see error) */
    MT_REASM_FAULT = 4,   /* flash error: power up, init, resume */
    MT_REASM_CLOSED = 5   /* session over (mt_reasm_close); its fields still say which */
};

typedef struct mt_reasm_stats {
    uint32_t accepted;    /* fragments newly written and marked */
    uint32_t duplicates;  /* same content again: nothing written */
    uint32_t conflicts;   /* MT_E_CONFLICT */
    uint32_t bad_frame;   /* frame type / length fields wrong */
    uint32_t bad_crc;     /* frame FCS wrong */
    uint32_t bad_session; /* another session ID or geometry */
    uint32_t bad_index;   /* index >= fragment_count */
    uint32_t bad_length;  /* payload length does not match the index */
    uint32_t refused;     /* no session / session refused, or the header check failed */
    uint32_t flash_errors;
} mt_reasm_stats;

typedef struct mt_reasm {
    mt_flash_area bank;     /* the inactive bank */
    mt_flash_area progress; /* the download-progress partition */
    uint32_t vendor_id;     /* the meter's, for the header check */
    uint16_t hw_revision;
    uint8_t phase;          /* enum mt_reasm_phase */
    uint8_t hdr_ok;         /* header checked and accepted */
    uint8_t hdr_frags;      /* fragments the 128-byte header spans */
    uint8_t hdr_held;       /* bitmask: header fragments waiting in hdr_buf */
    int16_t error;          /* code that refused the session, 0 otherwise */
    uint32_t session_id;
    uint32_t package_size;
    uint32_t fragment_size;
    uint32_t fragment_count;
    uint32_t received;      /* fragments marked in the bitmap */
    uint32_t tag;           /* caller's session label, stored in the record */
    mt_reasm_stats stats;
    uint8_t hdr_buf[MT_REASM_HDR_BUF];
    int8_t crc_impl;        /* frame FCS code (mt_reasm_init_impl); -1: ask per frame */
} mt_reasm;

/* Bytes of progress partition a session of fragment_count fragments needs:
 * the record and the bitmap, rounded up to the 16-byte largest write unit. */
uint32_t mt_reasm_progress_bytes(uint32_t fragment_count);

/* Binds the reassembler to its bank and progress partition (both on the same
 * device) and the meter identity the header must match. Touches no flash;
 * phase IDLE. MT_E_ARG on NULL or areas on different devices. */
int mt_reasm_init(mt_reasm *st, const mt_flash_area *bank, const mt_flash_area *progress,
                  uint32_t vendor_id, uint16_t hw_revision);

/* The same with the CPU's answer from the caller, who asked once for many
 * meters: crc_impl as mt_crc_accelerated() returned (0 for the table code),
 * used for every frame's FCS (mt_frame_parse_impl). mt_reasm_init leaves
 * each frame to mt_frame_parse, which asks the CPU for long frames only.
 * Same results either way. */
int mt_reasm_init_impl(mt_reasm *st, const mt_flash_area *bank, const mt_flash_area *progress,
                       uint32_t vendor_id, uint16_t hw_revision, int crc_impl);

/*
 * Rebuilds the state from the progress partition after a power-up: reads the
 * record (magic, CRC, bank address, geometry) and counts the received bits.
 * 0 and phase ACTIVE when a download was in progress; MT_E_STATE and phase
 * CLOSED when the record is a closed one (session fields and tag restored,
 * received counted), MT_E_STATE and phase IDLE when there is none (no or
 * torn record, or one for another bank); a flash error as is.
 * No flash operation (reads only).
 */
int mt_reasm_resume(mt_reasm *st);

/*
 * Starts (arms) a session; flash is touched only when its first fragment is
 * accepted. Checks, before anything else: fragment_size in 16..1024 and a
 * multiple of the write alignment, package_size > 128, fragment_count ==
 * ceil(package_size / fragment_size) (MT_E_HDR_FIELD); package_size <= bank
 * and the bitmap fits the progress partition (MT_E_TOO_BIG).
 * Beginning the session already in progress (same four values) keeps its
 * progress and returns 0; any other values replace it.
 */
int mt_reasm_begin(mt_reasm *st, uint32_t session_id, uint32_t package_size,
                   uint32_t fragment_size, uint32_t fragment_count);

/*
 * Ends the session: the download was activated, or the caller gives it up.
 * If the progress partition holds a valid open record, closes it on flash
 * (one program, see "session close" above); then phase CLOSED. Every later
 * fragment is MT_E_STATE; mt_reasm_begin starts a new session (even with the
 * same values). A flash error as is (phase FAULT).
 */
int mt_reasm_close(mt_reasm *st);

/*
 * The header check a session runs on its first 128 bytes, on its own and
 * without side effects: a caller may ask it of another session's header
 * before letting that session replace the current one. hdr holds len bytes
 * of the header; package_size, fragment_size and fragment_count are the
 * geometry the session announces (fragment_size 0: compare the package size
 * only). Uses the reassembler's vendor, hardware revision and bank size.
 * 0 or the first failing check's code (MT_E_HDR_*, MT_E_VENDOR,
 * MT_E_HW_REV, MT_E_TOO_BIG).
 */
int mt_reasm_header_check(const mt_reasm *st, const uint8_t *hdr, size_t len,
                          uint32_t package_size, uint32_t fragment_size, uint32_t fragment_count);

/* One mesh frame (mt_frame.h): must match the session's ID and geometry. */
int mt_reasm_frame(mt_reasm *st, const uint8_t *frame, size_t len);

/* mt_reasm_frame, telling what it did in the return value: 1 when the frame
 * brought a new fragment onto flash (received grew), 0 for a duplicate or a
 * header fragment held in RAM, else mt_reasm_frame's (negative) code. One
 * call per frame for a binding that would otherwise ask for received twice. */
int mt_reasm_frame_new(mt_reasm *st, const uint8_t *frame, size_t len);

/* A frame already parsed (mt_frame_parse or _impl succeeded on its bytes: type,
 * lengths and FCS checked), as mt_reasm_frame_new would take those bytes:
 * the same session, index and length checks and counters from there on, the
 * same return values. For a caller that hands one received frame to many
 * reassemblers and checks its FCS once. fr->payload must hold
 * fr->payload_len bytes. */
int mt_reasm_frame_parsed(mt_reasm *st, const mt_frame *fr);

/* One DLMS block: fragment `index` of the current session, len payload bytes. */
int mt_reasm_block(mt_reasm *st, uint32_t index, const uint8_t *payload, size_t len);

/* What mt_reasm_frames did with each frame it consumed (a failed one: its code). */
enum mt_reasm_outcome {
    MT_REASM_WRITTEN = 0,  /* a new fragment, written and marked */
    MT_REASM_DUPLICATE = 1 /* the same content again: nothing written */
};

/*
 * Many mesh frames in one call, for a download in full swing: n frames laid
 * end to end in buf (buf_len bytes), frame k lens[k] bytes long. Each frame
 * goes the way mt_reasm_frame would take it, until the first one that is
 * more than written or a duplicate:
 *   - a frame mt_reasm_frame would drop (malformed, bad FCS, no open
 *     session, another session, bad index or length), or a header fragment
 *     while the header is not yet accepted: not consumed, nothing counted or
 *     written; the run stops before it;
 *   - a frame whose storing fails (MT_E_CONFLICT, a flash error): consumed,
 *     outcome[k] = its code, and the code is returned;
 *   - the frame that completes the download: consumed (MT_REASM_WRITTEN),
 *     and the run stops after it.
 * *done = the frames consumed, outcome[0 .. *done - 1] (n entries of room)
 * what each did. Returns 0 unless the last consumed frame failed;
 * MT_E_LENGTH, with nothing consumed, when the lengths run past buf_len;
 * MT_E_ARG on NULL. The state after the call is the state after the
 * consumed frames through mt_reasm_frame one by one.
 */
int mt_reasm_frames(mt_reasm *st, const uint8_t *buf, size_t buf_len, const uint32_t *lens,
                    uint32_t n, int8_t *outcome, uint32_t *done);

/*
 * mt_reasm_frames over frames already parsed (mt_frame_parse or _impl
 * succeeded on each one's bytes: type, lengths and FCS checked), for a
 * caller that hands one received frame to many reassemblers and checks its
 * FCS once: the same run rule, outcomes, return values and state after the
 * call as mt_reasm_frames on those frames' bytes. Each frs[k].payload must
 * hold frs[k].payload_len bytes; MT_E_ARG, nothing consumed, on NULL.
 */
int mt_reasm_frames_parsed(mt_reasm *st, const mt_frame *frs, uint32_t n, int8_t *outcome,
                           uint32_t *done);

/*
 * mt_reasm_frames_parsed for a simulator that stored the fragments itself
 * (csrc/sim/mt_fleet.c): vouched (vouched_len bytes; NULL for none) is a
 * bitmap over the session's fragment indexes, bit i % 8 of byte i / 8. A
 * set bit is the caller's word that the bank holds, byte for byte, the
 * payload of every frame it passes for fragment i -- it wrote them from
 * those very bytes and knows the cells took them exactly (no bit stuck).
 * A duplicate of a vouched fragment is then counted without reading the
 * bank back; anything else, and a fragment not vouched for, goes exactly as
 * in mt_reasm_frames_parsed. A meter's own firmware passes nothing: it
 * reads what it holds.
 */
int mt_reasm_frames_vouched(mt_reasm *st, const mt_frame *frs, uint32_t n, int8_t *outcome,
                            uint32_t *done, const uint8_t *vouched, uint32_t vouched_len);

/* Queries. */
uint32_t mt_reasm_received(const mt_reasm *st);
int mt_reasm_complete(const mt_reasm *st); /* 1 when every fragment is marked */
/* The lowest index not yet received, from `from` on; fragment_count when none.
 * Here and in mt_reasm_missing, header fragments held in RAM (waiting for the
 * rest of the header, fragment_size < 128) count as received: the head-end
 * need not send them again unless the power goes before they are written. */
uint32_t mt_reasm_next_missing(const mt_reasm *st, uint32_t from);
/*
 * Missing bitmap for the head-end's retransmission round: bit i (byte i/8,
 * LSB first) is 1 when fragment i is missing; bits past fragment_count are 0.
 * Needs ceil(fragment_count / 8) bytes (*written); MT_E_LENGTH when cap is
 * too small, MT_E_STATE without a session, a flash error as is.
 */
int mt_reasm_missing(const mt_reasm *st, uint8_t *out, size_t cap, size_t *written);

#endif
