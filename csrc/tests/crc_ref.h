/* Bit-at-a-time CRC references for the CRC tests (tests/ and tests/<profile>/). */
#ifndef CRC_REF_H
#define CRC_REF_H

#include <stddef.h>
#include <stdint.h>

/* Bit-at-a-time reference register update, reflected poly. */
static inline uint32_t ref_update(uint32_t c, uint32_t rpoly, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (rpoly & (0u - (c & 1u)));
    }
    return c;
}

static inline uint32_t ref_crc32(const uint8_t *p, size_t len)
{
    return ~ref_update(0xFFFFFFFFu, 0xEDB88320u, p, len);
}

static inline unsigned ref_x25(const uint8_t *p, size_t len)
{
    return ref_update(0xFFFFu, 0x8408u, p, len) ^ 0xFFFFu;
}

#endif
