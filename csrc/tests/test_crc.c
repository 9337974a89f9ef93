/* CRC catalogue check values (CRC RevEng) and incremental == one-shot. */
#include "mt_crc.h"
#include "mt_test.h"

int main(void)
{
    const uint8_t check[] = "123456789";
    CHECK_EQ(mt_crc32(0, check, 9), 0xCBF43926u);
    CHECK_EQ(mt_crc32(0, check, 0), 0u);
    CHECK_EQ(mt_crc16_x25(check, 9), 0x906Eu);

    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7u + 3u);
    uint32_t whole = mt_crc32(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
        uint32_t part = mt_crc32(mt_crc32(0, buf, cut), buf + cut, sizeof buf - cut);
        CHECK_EQ(part, whole);
        uint16_t r = mt_crc16_x25_update(MT_CRC16_X25_INIT, buf, cut);
        r = mt_crc16_x25_update(r, buf + cut, sizeof buf - cut);
        unsigned joined = (unsigned)r ^ 0xFFFFu, oneshot = mt_crc16_x25(buf, sizeof buf);
        CHECK_EQ(joined, oneshot);
    }
    /* residue: CRC over data followed by its little-endian CRC */
    uint8_t cw[11];
    memcpy(cw, check, 9);
    uint16_t fcs = mt_crc16_x25(check, 9);
    cw[9] = (uint8_t)(fcs & 0xFFu);
    cw[10] = (uint8_t)(fcs >> 8);
    CHECK_EQ(mt_crc16_x25_update(MT_CRC16_X25_INIT, cw, 11), 0xF0B8u);
    return mt_test_done("test_crc");
}
