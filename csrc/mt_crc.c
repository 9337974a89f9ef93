/*
 * CRC-32/ISO-HDLC and CRC-16/X-25: table-driven portable code, plus the
 * dispatch to the x86 folding path (mt_crc_x86.c) for large buffers.
 *
 * Both CRCs are reflected: the register's low byte meets the next data byte.
 * Slicing: XOR the register into the first bytes of a block, then every byte
 * of the block indexes the table that pushes it through the zero bytes that
 * follow it in the block, and the lookups XOR together (the CRC is linear).
 */
#include "mt_crc.h"
#include "mt_crc_impl.h"

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Raw CRC-32 register update (no pre/post inversion). */
static uint32_t crc32_tables(uint32_t c, const uint8_t *p, size_t len)
{
    const uint32_t (*t)[256] = mt_crc32_slice;
    while (len >= 16) {
        uint32_t a = c ^ load_le32(p), b = load_le32(p + 4);
        uint32_t d = load_le32(p + 8), e = load_le32(p + 12);
        c = t[15][a & 0xFFu] ^ t[14][(a >> 8) & 0xFFu] ^ t[13][(a >> 16) & 0xFFu] ^ t[12][a >> 24]
          ^ t[11][b & 0xFFu] ^ t[10][(b >> 8) & 0xFFu] ^ t[9][(b >> 16) & 0xFFu] ^ t[8][b >> 24]
          ^ t[7][d & 0xFFu] ^ t[6][(d >> 8) & 0xFFu] ^ t[5][(d >> 16) & 0xFFu] ^ t[4][d >> 24]
          ^ t[3][e & 0xFFu] ^ t[2][(e >> 8) & 0xFFu] ^ t[1][(e >> 16) & 0xFFu] ^ t[0][e >> 24];
        p += 16;
        len -= 16;
    }
    while (len--)
        c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFFu];
    return c;
}

/* Raw CRC-16/X-25 register update; the register sits in the low 16 bits. */
static uint32_t crc16_tables(uint32_t c, const uint8_t *p, size_t len)
{
    const uint16_t (*t)[256] = mt_crc16_x25_slice;
    while (len >= 8) {
        uint32_t a = c ^ load_le32(p), b = load_le32(p + 4);
        c = (uint32_t)(t[7][a & 0xFFu] ^ t[6][(a >> 8) & 0xFFu] ^ t[5][(a >> 16) & 0xFFu]
                     ^ t[4][a >> 24] ^ t[3][b & 0xFFu] ^ t[2][(b >> 8) & 0xFFu]
                     ^ t[1][(b >> 16) & 0xFFu] ^ t[0][b >> 24]);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFFu];
    return c;
}

uint32_t mt_crc32_portable(uint32_t crc, const uint8_t *data, size_t len)
{
    return ~crc32_tables(~crc, data, len);
}

uint16_t mt_crc16_x25_update_portable(uint16_t reg, const uint8_t *data, size_t len)
{
    return (uint16_t)crc16_tables(reg, data, len);
}

uint32_t mt_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
#ifdef MT_CRC_HAVE_X86
    if (len >= MT_CRC_ACCEL_MIN && mt_crc_x86_available()) {
        uint8_t rem[16];
        size_t done = mt_crc_fold_x86(~crc, data, len, mt_crc32_fold, rem);
        return ~crc32_tables(crc32_tables(0, rem, 16), data + done, len - done);
    }
#endif
    return mt_crc32_portable(crc, data, len);
}

uint16_t mt_crc16_x25_update(uint16_t reg, const uint8_t *data, size_t len)
{
#ifdef MT_CRC_HAVE_X86
    if (len >= MT_CRC_ACCEL_MIN && mt_crc_x86_available()) {
        uint8_t rem[16];
        size_t done = mt_crc_fold_x86(reg, data, len, mt_crc16_x25_fold, rem);
        return (uint16_t)crc16_tables(crc16_tables(0, rem, 16), data + done, len - done);
    }
#endif
    return mt_crc16_x25_update_portable(reg, data, len);
}

uint16_t mt_crc16_x25(const uint8_t *data, size_t len)
{
    return (uint16_t)(mt_crc16_x25_update(MT_CRC16_X25_INIT, data, len) ^ 0xFFFFu);
}

int mt_crc_accelerated(void)
{
#ifdef MT_CRC_HAVE_X86
    return mt_crc_x86_available();
#else
    return 0;
#endif
}
