/*
 * CRC-32/ISO-HDLC (the zlib / PKZIP CRC) and CRC-16/X-25 (the HDLC FCS).
 *
 * Both are incremental: pass the previous return value back in as `crc`
 * (start from 0 for CRC-32, as zlib.crc32 does; from MT_CRC16_X25_INIT for
 * the 16-bit one and finish with mt_crc16_x25_final).
 */
#ifndef MT_CRC_H
#define MT_CRC_H

#include <stddef.h>
#include <stdint.h>

/* zlib-compatible: crc = mt_crc32(0, a, n); crc = mt_crc32(crc, b, m). */
uint32_t mt_crc32(uint32_t crc, const uint8_t *data, size_t len);

#define MT_CRC16_X25_INIT 0xFFFFu
/* Raw register update (reflected poly 0x8408, no final xor applied). */
uint16_t mt_crc16_x25_update(uint16_t reg, const uint8_t *data, size_t len);
/* One-shot CRC-16/X-25 (init 0xFFFF, xorout 0xFFFF); check("123456789") = 0x906E. */
uint16_t mt_crc16_x25(const uint8_t *data, size_t len);

/*
 * The three above choose their code per call: a buffer of 32 KiB or more
 * asks the CPU whether it can fold (one CPUID, which a hypervisor may trap:
 * about 4 us), a shorter one takes the tables without asking. A caller that
 * asks once (mt_crc_accelerated) passes the answer as `impl` here instead:
 * 1 folds every buffer long enough for folding to win (it faults on a CPU
 * without PCLMULQDQ), 0 takes the tables; any other value, and every value
 * on a build without the folding path, takes the tables. No CPUID. Same
 * results as the entry points above, on every path.
 */
uint32_t mt_crc32_impl(uint32_t crc, const uint8_t *data, size_t len, int impl);
uint16_t mt_crc16_x25_update_impl(uint16_t reg, const uint8_t *data, size_t len, int impl);
uint16_t mt_crc16_x25_impl(const uint8_t *data, size_t len, int impl);

/*
 * The table-driven code alone, on every CPU. mt_crc32 and
 * mt_crc16_x25_update return the same values; on x86-64 they fold large
 * buffers with PCLMULQDQ when the CPU has it (fast profile; the small one
 * has the byte-table code alone, and mt_crc_accelerated() is 0 there:
 * mt_crc_impl.h). Tests compare the two paths.
 */
uint32_t mt_crc32_portable(uint32_t crc, const uint8_t *data, size_t len);
uint16_t mt_crc16_x25_update_portable(uint16_t reg, const uint8_t *data, size_t len);
/* 1 when large buffers take the carry-less-multiply path on this CPU, else 0
 * (asks the CPU on every call; nothing is cached). */
int mt_crc_accelerated(void);

#endif
