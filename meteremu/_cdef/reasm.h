/* cdef for cffi: mesh fragment frames and reassembly (mirrors csrc/mt_frame.h, mt_reasm.h). */
typedef struct mt_frame {
    uint32_t session_id;
    uint32_t package_size;
    uint16_t fragment_size;
    uint16_t fragment_index;
    uint16_t fragment_count;
    uint16_t payload_len;
    const uint8_t *payload;
} mt_frame;
int mt_frame_parse(mt_frame *out, const uint8_t *buf, size_t len);
int mt_frame_parse_impl(mt_frame *out, const uint8_t *buf, size_t len, int crc_impl);
int mt_frame_encode(uint8_t *out, size_t cap, const mt_frame *f, size_t *written);

typedef struct mt_reasm_stats {
    uint32_t accepted;
    uint32_t duplicates;
    uint32_t conflicts;
    uint32_t bad_frame;
    uint32_t bad_crc;
    uint32_t bad_session;
    uint32_t bad_index;
    uint32_t bad_length;
    uint32_t refused;
    uint32_t flash_errors;
} mt_reasm_stats;
typedef struct mt_reasm {
    uint8_t phase;
    uint8_t hdr_ok;
    uint8_t hdr_frags;
    int16_t error;
    uint32_t session_id;
    uint32_t package_size;
    uint32_t fragment_size;
    uint32_t fragment_count;
    mt_reasm_stats stats;
    uint32_t tag;
    ...;
} mt_reasm;
uint32_t mt_reasm_progress_bytes(uint32_t fragment_count);
int mt_reasm_init(mt_reasm *st, const mt_flash_area *bank, const mt_flash_area *progress,
                  uint32_t vendor_id, uint16_t hw_revision);
int mt_reasm_init_impl(mt_reasm *st, const mt_flash_area *bank, const mt_flash_area *progress,
                       uint32_t vendor_id, uint16_t hw_revision, int crc_impl);
int mt_reasm_resume(mt_reasm *st);
int mt_reasm_begin(mt_reasm *st, uint32_t session_id, uint32_t package_size,
                   uint32_t fragment_size, uint32_t fragment_count);
int mt_reasm_close(mt_reasm *st);
int mt_reasm_header_check(const mt_reasm *st, const uint8_t *hdr, size_t len,
                          uint32_t package_size, uint32_t fragment_size, uint32_t fragment_count);
int mt_reasm_frame(mt_reasm *st, const uint8_t *frame, size_t len);
int mt_reasm_frame_new(mt_reasm *st, const uint8_t *frame, size_t len);
int mt_reasm_frame_parsed(mt_reasm *st, const mt_frame *fr);
int mt_reasm_block(mt_reasm *st, uint32_t index, const uint8_t *payload, size_t len);
enum mt_reasm_outcome { MT_REASM_WRITTEN = ..., MT_REASM_DUPLICATE = ... };
int mt_reasm_frames(mt_reasm *st, const uint8_t *buf, size_t buf_len, const uint32_t *lens,
                    uint32_t n, int8_t *outcome, uint32_t *done);
uint32_t mt_reasm_received(const mt_reasm *st);
int mt_reasm_complete(const mt_reasm *st);
uint32_t mt_reasm_next_missing(const mt_reasm *st, uint32_t from);
int mt_reasm_missing(const mt_reasm *st, uint8_t *out, size_t cap, size_t *written);
