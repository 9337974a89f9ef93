/* cdef for cffi: the bootloader (mirrors csrc/mt_boot.h).
 * Needs flash.h (mt_flash_area) and image.h earlier in order.txt. */
typedef struct mt_boot_record {
    uint32_t sequence;
    uint32_t counter;
    uint8_t active;
    uint8_t state;
    uint8_t attempts;
    uint8_t previous;
    uint8_t outcome;
} mt_boot_record;
void mt_boot_record_encode(const mt_boot_record *rec, uint8_t out[32]);
int mt_boot_record_decode(mt_boot_record *out, const uint8_t in[32]);

void mt_boot_floor_encode(uint32_t floor, uint8_t out[16]);
int mt_boot_floor_decode(uint32_t *out, const uint8_t in[16]);
int mt_boot_floor_area_ok(const mt_flash_area *fa);
int mt_boot_floor_read(const mt_flash_area *fa, uint32_t *floor);
int mt_boot_floor_raise(const mt_flash_area *fa, uint32_t floor);

typedef struct mt_boot_config {
    mt_flash_area bank[3];
    mt_flash_area control[2];
    mt_flash_area floor;
    uint32_t vendor_id;
    uint16_t hw_revision;
    uint8_t max_attempts;
    const mt_image_key *keys;
    uint32_t key_count;
} mt_boot_config;

typedef struct mt_boot {
    mt_boot_record rec;
    int8_t rec_area;
    uint8_t running;
    uint8_t booted_ok;
    uint8_t fault;
    uint32_t writes;
    uint32_t floor;
    uint32_t floor_record;
    uint32_t floor_otp;
    int floor_rc;
    mt_pkg_header running_header;
    mt_image_cache cache[3];
    ...;
} mt_boot;

int mt_boot_init(mt_boot *b, const mt_boot_config *cfg);
int mt_boot_init_impl(mt_boot *b, const mt_boot_config *cfg, int sha_impl, int crc_impl);
int mt_boot_provision(mt_boot *b);
int mt_boot_adopt(mt_boot *b, int bank, const mt_image_cache *from);
int mt_boot_load(mt_boot *b);
int mt_boot_start(mt_boot *b);
int mt_boot_boot_ok(mt_boot *b);
int mt_boot_boot_failed(mt_boot *b);
int mt_boot_inactive(const mt_boot *b);
int mt_boot_verify(mt_boot *b, mt_pkg_header *out, int complete);
int mt_boot_activate(mt_boot *b, int complete);
int mt_boot_confirm(mt_boot *b);
int mt_boot_revert(mt_boot *b);
int mt_boot_forget_fallback(mt_boot *b);
int mt_boot_golden(mt_boot *b);
