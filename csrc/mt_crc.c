/*
 * CRC-32/ISO-HDLC and CRC-16/X-25: table-driven portable code, plus the
 * dispatch to the x86 folding path (mt_crc_x86.c): by the caller's word
 * (the _impl entry points), or by asking the CPU for large buffers.
 *
 * Both CRCs are reflected: the register's low byte meets the next data byte,
 * and a register value R after some prefix equals R XORed into the first
 * bytes of what follows, from register 0. The tables rest on that and on
 * linearity: slice[k][v] is where byte v lands after k more zero bytes.
 *
 * Slicing by 8: XOR the register into an 8-byte word; each byte b of it
 * indexes slice[7 - b]; the eight lookups XOR into the next register.
 *
 * Braiding: one register chain is bound by load latency, so the data is dealt
 * to MT_CRC_BRAIDS streams, word j of each round to stream j. Stream j pushes
 * its word through the 8*(BRAIDS-1) bytes of the other streams with the braid
 * tables, which lands its register exactly at stream j's word of the next
 * round; the streams are independent chains the CPU runs side by side. The
 * last round is sliced in order, each stream's register XORed into its word,
 * which joins the streams back into one register.
 */
#include "mt_crc.h"
#include "mt_crc_impl.h"
#include "mt_endian.h"

#define ROUND_BYTES (8u * MT_CRC_BRAIDS)

/* Register c through the 8-byte word at p, then 8*k zero bytes (t = slice or braid). */
#define LOOKUP8(t, x)                                                                   \
    ((uint32_t)(t[7][(x) & 0xFFu] ^ t[6][((x) >> 8) & 0xFFu] ^ t[5][((x) >> 16) & 0xFFu] \
              ^ t[4][((x) >> 24) & 0xFFu] ^ t[3][((x) >> 32) & 0xFFu]                    \
              ^ t[2][((x) >> 40) & 0xFFu] ^ t[1][((x) >> 48) & 0xFFu] ^ t[0][(x) >> 56]))

/*
 * Raw register update of a reflected CRC of width <= 32 (no pre/post
 * inversion) with its slice and braid tables; a narrower register sits in
 * the low bits and its tables keep the upper bits zero.
 */
static uint32_t crc_tables(uint32_t c, const uint8_t *p, size_t len,
                           const uint32_t slice[8][256], const uint32_t braid[8][256])
{
    if (len >= 2 * ROUND_BYTES) {
        uint32_t s[MT_CRC_BRAIDS] = {0};
        s[0] = c;
        /* keep one round back for the join: len >= ROUND_BYTES after the loop */
        while (len >= 2 * ROUND_BYTES) {
            for (unsigned j = 0; j < MT_CRC_BRAIDS; j++) {
                uint64_t x = mt_ld64le(p + 8 * j) ^ s[j];
                s[j] = LOOKUP8(braid, x);
            }
            p += ROUND_BYTES;
            len -= ROUND_BYTES;
        }
        c = 0;
        for (unsigned j = 0; j < MT_CRC_BRAIDS; j++) {
            uint64_t x = mt_ld64le(p + 8 * j) ^ c ^ s[j];
            c = LOOKUP8(slice, x);
        }
        p += ROUND_BYTES;
        len -= ROUND_BYTES;
    }
    while (len >= 8) {
        uint64_t x = mt_ld64le(p) ^ c;
        c = LOOKUP8(slice, x);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ slice[0][(c ^ *p++) & 0xFFu];
    return c;
}

static uint32_t crc32_tables(uint32_t c, const uint8_t *p, size_t len)
{
    return crc_tables(c, p, len, mt_crc32_slice, mt_crc32_braid);
}

static uint32_t crc16_tables(uint32_t c, const uint8_t *p, size_t len)
{
    return crc_tables(c, p, len, mt_crc16_x25_slice, mt_crc16_x25_braid);
}

uint32_t mt_crc32_portable(uint32_t crc, const uint8_t *data, size_t len)
{
    return ~crc32_tables(~crc, data, len);
}

uint16_t mt_crc16_x25_update_portable(uint16_t reg, const uint8_t *data, size_t len)
{
    return (uint16_t)crc16_tables(reg, data, len);
}

uint32_t mt_crc32_impl(uint32_t crc, const uint8_t *data, size_t len, int impl)
{
#ifdef MT_CRC_HAVE_X86
    if (impl == 1 && len >= MT_CRC_FOLD_MIN) {
        uint8_t rem[16];
        size_t done = mt_crc_fold_x86(~crc, data, len, mt_crc32_fold, rem);
        return ~crc32_tables(crc32_tables(0, rem, 16), data + done, len - done);
    }
#else
    (void)impl;
#endif
    return mt_crc32_portable(crc, data, len);
}

uint16_t mt_crc16_x25_update_impl(uint16_t reg, const uint8_t *data, size_t len, int impl)
{
#ifdef MT_CRC_HAVE_X86
    if (impl == 1 && len >= MT_CRC_FOLD_MIN) {
        uint8_t rem[16];
        size_t done = mt_crc_fold_x86(reg, data, len, mt_crc16_x25_fold, rem);
        return (uint16_t)crc16_tables(crc16_tables(0, rem, 16), data + done, len - done);
    }
#else
    (void)impl;
#endif
    return mt_crc16_x25_update_portable(reg, data, len);
}

uint16_t mt_crc16_x25_impl(const uint8_t *data, size_t len, int impl)
{
    return (uint16_t)(mt_crc16_x25_update_impl(MT_CRC16_X25_INIT, data, len, impl) ^ 0xFFFFu);
}

/* The entry points that ask: only where the answer pays for its CPUID. */
static int ask(size_t len)
{
    return len >= MT_CRC_ACCEL_MIN ? mt_crc_accelerated() : 0;
}

uint32_t mt_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    return mt_crc32_impl(crc, data, len, ask(len));
}

uint16_t mt_crc16_x25_update(uint16_t reg, const uint8_t *data, size_t len)
{
    return mt_crc16_x25_update_impl(reg, data, len, ask(len));
}

uint16_t mt_crc16_x25(const uint8_t *data, size_t len)
{
    return mt_crc16_x25_impl(data, len, ask(len));
}

int mt_crc_accelerated(void)
{
#ifdef MT_CRC_HAVE_X86
    return mt_crc_x86_available();
#else
    return 0;
#endif
}
