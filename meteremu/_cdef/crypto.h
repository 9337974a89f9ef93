/* cdef for cffi: CRC, SHA-256, P-256 (mirrors csrc/mt_crc.h, mt_sha256.h, mt_p256.h). */
uint32_t mt_crc32(uint32_t crc, const uint8_t *data, size_t len);
uint16_t mt_crc16_x25_update(uint16_t reg, const uint8_t *data, size_t len);
uint16_t mt_crc16_x25(const uint8_t *data, size_t len);
uint32_t mt_crc32_portable(uint32_t crc, const uint8_t *data, size_t len);
uint16_t mt_crc16_x25_update_portable(uint16_t reg, const uint8_t *data, size_t len);
int mt_crc_accelerated(void);
uint32_t mt_crc32_impl(uint32_t crc, const uint8_t *data, size_t len, int impl);
uint16_t mt_crc16_x25_update_impl(uint16_t reg, const uint8_t *data, size_t len, int impl);
uint16_t mt_crc16_x25_impl(const uint8_t *data, size_t len, int impl);

typedef struct mt_sha256_ctx {
    uint32_t state[8];
    uint64_t total;
    uint8_t buf[64];
    uint32_t buflen;
    uint32_t impl;
} mt_sha256_ctx;
void mt_sha256_init(mt_sha256_ctx *ctx);
void mt_sha256_init_impl(mt_sha256_ctx *ctx, int impl);
void mt_sha256_init_portable(mt_sha256_ctx *ctx);
void mt_sha256_update(mt_sha256_ctx *ctx, const uint8_t *data, size_t len);
void mt_sha256_final(mt_sha256_ctx *ctx, uint8_t out[32]);
void mt_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
void mt_sha256_impl(const uint8_t *data, size_t len, uint8_t out[32], int impl);
int mt_sha256_accelerated(void);
