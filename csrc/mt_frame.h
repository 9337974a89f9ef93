/*
 * Mesh fragment frame (SPEC §6): one fragment of a package on the radio.
 *
 * All integers little-endian:
 *
 *   off  size  field
 *     0     1  type            0xF1: fragment frame, version 1
 *     1     4  session_id      download session / image ID chosen by the head-end
 *     5     4  package_size    bytes of the whole package (header + image + trailer)
 *     9     2  fragment_size   payload bytes of every fragment but the last
 *    11     2  fragment_index  0-based
 *    13     2  fragment_count
 *    15     2  payload_len     n
 *    17     n  payload
 *  17+n     2  fcs             CRC-16/X-25 over bytes 0 .. 16+n
 *
 * Besides the fields SPEC §6 names, every frame repeats the session geometry
 * (package_size, fragment_size) so that a meter that joins a broadcast late,
 * or lost its RAM in a power cut before its first write, can begin the
 * session from any frame it hears (mt_reasm_begin).
 *
 * Every byte is attacker-controlled. mt_frame_parse checks only the wire
 * form: type, payload_len against the bytes present (subtract-first), and the
 * FCS. Whether index, count and lengths make sense for a session is the
 * reassembler's job.
 */
#ifndef MT_FRAME_H
#define MT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define MT_FRAME_TYPE_FRAGMENT 0xF1u
#define MT_FRAME_HEAD 17u     /* bytes before the payload */
#define MT_FRAME_OVERHEAD 19u /* head + FCS */

typedef struct mt_frame {
    uint32_t session_id;
    uint32_t package_size;
    uint16_t fragment_size;
    uint16_t fragment_index;
    uint16_t fragment_count;
    uint16_t payload_len;
    const uint8_t *payload; /* into the parsed buffer; ignored by encode's header fields */
} mt_frame;

/* 1 when buf has the frame's shape (type, length fields) regardless of the FCS. */
int mt_frame_well_formed(const uint8_t *buf, size_t len);

/* MT_E_FRAME for a wrong type, a length mismatch or a bad FCS; MT_E_ARG on
 * NULL. out is written only on success; out->payload points into buf. */
int mt_frame_parse(mt_frame *out, const uint8_t *buf, size_t len);
/* The same with the FCS computed by the code the caller chose once
 * (mt_crc16_x25_impl: crc_impl is what mt_crc_accelerated() returned), so a
 * frame costs no CPUID and a short one may fold. Same results. */
int mt_frame_parse_impl(mt_frame *out, const uint8_t *buf, size_t len, int crc_impl);

/* Writes the frame for f (payload from f->payload, f->payload_len bytes) into
 * out; *written = MT_FRAME_OVERHEAD + payload_len. MT_E_LENGTH when cap is too
 * small, MT_E_ARG on NULL. */
int mt_frame_encode(uint8_t *out, size_t cap, const mt_frame *f, size_t *written);

#endif
