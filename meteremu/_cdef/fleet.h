/* cdef for cffi: one broadcast round to many meters (mirrors csrc/sim/mt_fleet.h). */
#define MT_FLEET_RAN 0
#define MT_FLEET_BEFORE 1
#define MT_FLEET_COMPLETED 2
typedef struct mt_fleet_meter {
    mt_reasm *reasm;
    uint64_t rng;
    uint64_t loss;
    uint32_t start;
    uint32_t stop;
    int32_t code;
    uint32_t written;
    uint32_t duplicates;
    uint8_t *vouched;
    uint32_t vouched_len;
    uint32_t *marks;
    uint32_t marks_len;
} mt_fleet_meter;
size_t mt_fleet_heard_bytes(uint32_t n, uint32_t frames);
int mt_fleet_round(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                   const uint32_t *lens, uint32_t frames, uint8_t *heard, size_t heard_len);
int mt_fleet_replay(mt_fleet_meter *meters, uint32_t n, const uint8_t *buf, size_t buf_len,
                    const uint32_t *lens, uint32_t frames, const uint8_t *heard,
                    size_t heard_len);
int mt_fleet_pages_equal(const uint8_t *a, const uint8_t *b, size_t len, size_t page,
                         uint8_t *same, size_t same_len);
