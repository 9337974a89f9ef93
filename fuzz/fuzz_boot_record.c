/*
 * libFuzzer harness: the 32-byte boot-control record (mt_boot_record_decode,
 * mt_boot_record_encode; layout in mt_boot.h).
 *
 * The record sits in a flash slot that a torn write, a stuck bit or anyone
 * with a flash programmer may have filled with anything: every byte of it is
 * attacker-controlled. Invariant: every input is accepted (MT_OK) or rejected
 * with MT_E_ARG, and nothing else. Checked here, abort() when broken:
 *   - decode reads the 32 bytes and no more (they sit in a heap block of
 *     exactly 32 bytes, so ASan sees a read past it) and returns MT_OK or
 *     MT_E_ARG;
 *   - an accepted record's fields hold their documented ranges: active and
 *     previous a bank (A, B, golden), state confirmed/trial/reverted,
 *     outcome none/confirmed/reverted;
 *   - an accepted record encodes back to the same 32 bytes (one encoding per
 *     record: magic, CRC and reserved bytes leave no freedom);
 *   - bytes with the magic, a matching CRC, in-range fields and zero reserved
 *     bytes are accepted (decode refuses only what the header says it does);
 *   - a record built from in-range fields encodes to bytes that decode back
 *     to the same fields;
 *   - no crash, no undefined behaviour (ASan + UBSan).
 *
 * Input: bytes 0..31 are the record (zero-padded when the input is shorter).
 * Byte 32, when present, steers the fuzzer past the cheap gates: bit 0 writes
 * the magic, bit 1 recomputes the CRC (after the magic), so the field and
 * reserved-byte checks are reached without the fuzzer having to find a
 * CRC-32.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt_boot.h"
#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"

#define N MT_BOOT_RECORD_SIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok) abort();
}

static int in_range(const mt_boot_record *r)
{
    return r->active <= MT_BOOT_BANK_GOLDEN && r->previous <= MT_BOOT_BANK_GOLDEN &&
           r->state <= MT_BOOT_REVERTED && r->outcome <= MT_BOOT_OUTCOME_REVERTED;
}

static int same(const mt_boot_record *a, const mt_boot_record *b)
{
    return a->sequence == b->sequence && a->counter == b->counter && a->active == b->active &&
           a->state == b->state && a->attempts == b->attempts && a->previous == b->previous &&
           a->outcome == b->outcome;
}

/* What mt_boot.h documents as a valid record, written out independently. */
static int documented_valid(const uint8_t *in)
{
    if (memcmp(in, MT_BOOT_MAGIC, 4) != 0) return 0;
    if (mt_crc32(0, in, 28) != mt_ld32le(in + 28)) return 0;
    if (in[8] > MT_BOOT_BANK_GOLDEN || in[9] > MT_BOOT_REVERTED || in[11] > MT_BOOT_BANK_GOLDEN ||
        in[16] > MT_BOOT_OUTCOME_REVERTED)
        return 0;
    for (size_t i = 17; i < 28; i++)
        if (in[i] != 0) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = malloc(N), *out = malloc(N);
    mt_boot_record rec, again, built;
    int rc;

    require(in != NULL && out != NULL);
    memset(in, 0, N);
    memcpy(in, data, size < N ? size : N);
    if (size > N) {
        if (data[N] & 1u) memcpy(in, MT_BOOT_MAGIC, 4);
        if (data[N] & 2u) mt_st32le(in + 28, mt_crc32(0, in, 28));
    }

    memset(&rec, 0xA5, sizeof rec);
    rc = mt_boot_record_decode(&rec, in);
    require(rc == MT_OK || rc == MT_E_ARG);
    if (documented_valid(in)) require(rc == MT_OK);
    if (rc == MT_OK) {
        require(in_range(&rec));
        memset(out, 0xEE, N);
        mt_boot_record_encode(&rec, out);
        require(memcmp(out, in, N) == 0);
        require(mt_boot_record_decode(&again, out) == MT_OK && same(&again, &rec));
    }

    /* The other way round: fields from the input, folded into their ranges. */
    memset(&built, 0, sizeof built);
    built.sequence = mt_ld32le(in + 4);
    built.counter = mt_ld32le(in + 12);
    built.active = (uint8_t)(in[8] % 3u);
    built.state = (uint8_t)(in[9] % 3u);
    built.attempts = in[10];
    built.previous = (uint8_t)(in[11] % 3u);
    built.outcome = (uint8_t)(in[16] % 3u);
    mt_boot_record_encode(&built, out);
    require(documented_valid(out));
    require(mt_boot_record_decode(&again, out) == MT_OK && same(&again, &built));

    free(in);
    free(out);
    return 0;
}
