/* Mesh fragment frame codec (see mt_frame.h). */
#include "mt_frame.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"

int mt_frame_well_formed(const uint8_t *buf, size_t len)
{
    if (buf == NULL || len < MT_FRAME_OVERHEAD) return 0;
    if (buf[0] != MT_FRAME_TYPE_FRAGMENT) return 0;
    /* payload_len is attacker-controlled: compare against what is left after
     * the fixed overhead (len >= MT_FRAME_OVERHEAD, so no wrap). */
    return (size_t)mt_ld16le(buf + 15) == len - MT_FRAME_OVERHEAD;
}

/* crc_impl < 0: mt_crc16_x25, which asks the CPU for long frames. */
static int parse(mt_frame *out, const uint8_t *buf, size_t len, int crc_impl)
{
    size_t n;
    uint16_t fcs;
    if (out == NULL || buf == NULL) return MT_E_ARG;
    if (!mt_frame_well_formed(buf, len)) return MT_E_FRAME;
    n = len - MT_FRAME_OVERHEAD;
    fcs = crc_impl < 0 ? mt_crc16_x25(buf, MT_FRAME_HEAD + n)
                       : mt_crc16_x25_impl(buf, MT_FRAME_HEAD + n, crc_impl);
    if (fcs != mt_ld16le(buf + MT_FRAME_HEAD + n)) return MT_E_FRAME;
    out->session_id = mt_ld32le(buf + 1);
    out->package_size = mt_ld32le(buf + 5);
    out->fragment_size = mt_ld16le(buf + 9);
    out->fragment_index = mt_ld16le(buf + 11);
    out->fragment_count = mt_ld16le(buf + 13);
    out->payload_len = (uint16_t)n;
    out->payload = buf + MT_FRAME_HEAD;
    return MT_OK;
}

int mt_frame_parse(mt_frame *out, const uint8_t *buf, size_t len)
{
    return parse(out, buf, len, -1);
}

int mt_frame_parse_impl(mt_frame *out, const uint8_t *buf, size_t len, int crc_impl)
{
    return parse(out, buf, len, crc_impl < 0 ? 0 : crc_impl);
}

int mt_frame_encode(uint8_t *out, size_t cap, const mt_frame *f, size_t *written)
{
    size_t n;
    if (out == NULL || f == NULL || written == NULL) return MT_E_ARG;
    if (f->payload == NULL && f->payload_len != 0) return MT_E_ARG;
    n = f->payload_len; /* <= 65535, so the sum cannot wrap */
    if (cap < MT_FRAME_OVERHEAD || n > cap - MT_FRAME_OVERHEAD) return MT_E_LENGTH;
    out[0] = MT_FRAME_TYPE_FRAGMENT;
    mt_st32le(out + 1, f->session_id);
    mt_st32le(out + 5, f->package_size);
    mt_st16le(out + 9, f->fragment_size);
    mt_st16le(out + 11, f->fragment_index);
    mt_st16le(out + 13, f->fragment_count);
    mt_st16le(out + 15, f->payload_len);
    if (n != 0) memmove(out + MT_FRAME_HEAD, f->payload, n);
    mt_st16le(out + MT_FRAME_HEAD + n, mt_crc16_x25(out, MT_FRAME_HEAD + n));
    *written = MT_FRAME_OVERHEAD + n;
    return MT_OK;
}
