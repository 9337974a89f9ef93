/*
 * CRC-32/ISO-HDLC and CRC-16/X-25, the small profile: one table lookup per
 * byte (mt_crc_small_tables.c, 1 KiB for CRC-32 and 512 bytes for X-25, in
 * place of the fast profile's 33 KiB), no accelerated path.
 *
 * Both CRCs are reflected: the register's low byte meets the next data byte,
 * and table[v] is the register after byte v from register 0, so
 * reg' = (reg >> 8) ^ table[(reg ^ byte) & 0xFF].
 *
 * The whole of mt_crc.h, with the fast profile's results: the _impl entry
 * points ignore the caller's answer (there is nothing to choose between) and
 * mt_crc_accelerated is 0.
 */
#include "mt_crc.h"
#include "mt_crc_impl.h"

uint32_t mt_crc32_portable(uint32_t crc, const uint8_t *data, size_t len)
{
    uint32_t c = ~crc;
    while (len--)
        c = (c >> 8) ^ mt_crc32_table[(c ^ *data++) & 0xFFu];
    return ~c;
}

uint16_t mt_crc16_x25_update_portable(uint16_t reg, const uint8_t *data, size_t len)
{
    while (len--)
        reg = (uint16_t)((reg >> 8) ^ mt_crc16_x25_table[(reg ^ *data++) & 0xFFu]);
    return reg;
}

uint32_t mt_crc32_impl(uint32_t crc, const uint8_t *data, size_t len, int impl)
{
    (void)impl;
    return mt_crc32_portable(crc, data, len);
}

uint16_t mt_crc16_x25_update_impl(uint16_t reg, const uint8_t *data, size_t len, int impl)
{
    (void)impl;
    return mt_crc16_x25_update_portable(reg, data, len);
}

uint16_t mt_crc16_x25_impl(const uint8_t *data, size_t len, int impl)
{
    (void)impl;
    return (uint16_t)(mt_crc16_x25_update_portable(MT_CRC16_X25_INIT, data, len) ^ 0xFFFFu);
}

uint32_t mt_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    return mt_crc32_portable(crc, data, len);
}

uint16_t mt_crc16_x25_update(uint16_t reg, const uint8_t *data, size_t len)
{
    return mt_crc16_x25_update_portable(reg, data, len);
}

uint16_t mt_crc16_x25(const uint8_t *data, size_t len)
{
    return mt_crc16_x25_impl(data, len, 0);
}

int mt_crc_accelerated(void)
{
    return 0;
}
