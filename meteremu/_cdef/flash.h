/* cdef for cffi: NOR flash model and partition map (mirrors csrc/mt_flash.h, mt_layout.h). */
typedef struct mt_flash { ...; } mt_flash;
typedef struct mt_flash_area {
    mt_flash *dev;
    uint32_t off;
    uint32_t size;
} mt_flash_area;

int mt_flash_init(mt_flash *f, uint8_t *mem, uint32_t size, uint32_t *wear,
                  uint32_t sector_size, uint32_t align);
void mt_flash_factory_erase(mt_flash *f);
uint32_t mt_flash_size(const mt_flash *f);
uint32_t mt_flash_sector_size(const mt_flash *f);
uint32_t mt_flash_align(const mt_flash *f);
int mt_flash_read(const mt_flash *f, uint32_t addr, uint8_t *out, uint32_t len);
const uint8_t *mt_flash_peek(const mt_flash *f, uint32_t addr, uint32_t len);
int mt_flash_program(mt_flash *f, uint32_t addr, const uint8_t *data, uint32_t len);
int mt_flash_erase(mt_flash *f, uint32_t addr, uint32_t len);
uint32_t mt_flash_ops(const mt_flash *f);
uint32_t mt_flash_ops_total(const mt_flash *f);
uint32_t mt_flash_wear(const mt_flash *f, uint32_t addr);
void mt_flash_seed(mt_flash *f, uint32_t seed);
void mt_flash_cut_after(mt_flash *f, uint32_t n);
void mt_flash_cut_disarm(mt_flash *f);
void mt_flash_power_cut(mt_flash *f);
void mt_flash_power_up(mt_flash *f);
int mt_flash_powered(const mt_flash *f);
int mt_flash_set_tear(mt_flash *f, unsigned mode, uint32_t param);
int mt_flash_flip_bits(mt_flash *f, uint32_t addr, uint8_t mask);
int mt_flash_stick_bits(mt_flash *f, uint32_t addr, uint8_t stuck0, uint8_t stuck1);
void mt_flash_set_endurance(mt_flash *f, uint32_t endurance);
int mt_flash_set_sector_endurance(mt_flash *f, uint32_t addr, uint32_t endurance);
void mt_flash_clear_faults(mt_flash *f);
void mt_flash_track(mt_flash *f, uint32_t *gen);
uint32_t mt_flash_generation(const mt_flash *f, uint32_t addr, uint32_t len);
int mt_flash_area_init(mt_flash_area *fa, mt_flash *dev, uint32_t off, uint32_t size);
uint32_t mt_flash_area_generation(const mt_flash_area *fa);

typedef struct mt_layout_params {
    uint32_t sector_size;
    uint32_t bank_size;
    uint32_t golden_size;
    uint32_t boot_sectors;
    uint32_t progress_sectors;
    uint32_t metrology_sectors;
    uint32_t audit_sectors;
    uint32_t floor_sectors;
    uint32_t session_sectors;
} mt_layout_params;
typedef struct mt_part {
    uint32_t off;
    uint32_t size;
} mt_part;
typedef struct mt_layout {
    uint32_t sector_size;
    uint32_t used;
    mt_part part[10];
} mt_layout;
void mt_layout_default_params(mt_layout_params *p);
int mt_layout_compute(mt_layout *l, const mt_layout_params *p, uint32_t device_size);
