/*
 * Byte-order loads and stores (internal to the core, not public API).
 *
 * Every multi-byte field the core reads from or writes to flash, a frame, a
 * package or a hash block goes through these: bytes are assembled with
 * shifts, never by casting a byte pointer to a wider type, so the code is
 * correct on any host byte order and any alignment. Compilers recognise the
 * patterns and emit a single (byte-swapping where needed) load or store.
 *
 * `le` = least significant byte first (the package, frame, progress and
 * boot-control layouts); `be` = most significant byte first (SHA-256 words,
 * P-256 integers).
 */
#ifndef MT_ENDIAN_H
#define MT_ENDIAN_H

#include <stdint.h>

static inline uint16_t mt_ld16le(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] | ((unsigned)p[1] << 8));
}

static inline uint32_t mt_ld32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t mt_ld64le(const uint8_t *p)
{
    return (uint64_t)mt_ld32le(p) | ((uint64_t)mt_ld32le(p + 4) << 32);
}

static inline void mt_st16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void mt_st32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t mt_ld32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static inline uint64_t mt_ld64be(const uint8_t *p)
{
    return ((uint64_t)mt_ld32be(p) << 32) | (uint64_t)mt_ld32be(p + 4);
}

static inline void mt_st32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void mt_st64be(uint8_t *p, uint64_t v)
{
    mt_st32be(p, (uint32_t)(v >> 32));
    mt_st32be(p + 4, (uint32_t)v);
}

#endif
