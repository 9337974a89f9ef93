/* Placeholder bitwise CRCs; replaced by the table-driven implementation. */
#include "mt_crc.h"

uint32_t mt_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    uint32_t c = ~crc;
    for (size_t i = 0; i < len; i++) {
        c ^= data[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

uint16_t mt_crc16_x25_update(uint16_t reg, const uint8_t *data, size_t len)
{
    uint32_t c = reg;
    for (size_t i = 0; i < len; i++) {
        c ^= data[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x8408u & (0u - (c & 1u)));
    }
    return (uint16_t)c;
}

uint16_t mt_crc16_x25(const uint8_t *data, size_t len)
{
    return (uint16_t)(mt_crc16_x25_update(MT_CRC16_X25_INIT, data, len) ^ 0xFFFFu);
}
