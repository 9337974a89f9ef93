/* cdef for cffi: P-256 public keys and ECDSA verification (mirrors csrc/mt_p256.h). */
typedef struct mt_p256_pubkey {
    uint8_t x[32];
    uint8_t y[32];
} mt_p256_pubkey;
int mt_p256_pubkey_parse(mt_p256_pubkey *out, const uint8_t *point, size_t len);
void mt_p256_pubkey_encode(const mt_p256_pubkey *key, uint8_t out[65]);
int mt_ecdsa_sig_from_der(uint8_t rs[64], const uint8_t *der, size_t len);
int mt_ecdsa_verify_raw(const mt_p256_pubkey *key, const uint8_t digest[32], const uint8_t rs[64]);
int mt_ecdsa_verify_der(const mt_p256_pubkey *key, const uint8_t digest[32], const uint8_t *der, size_t len);
