/*
 * Package header and trailer parsing (layout: mt_pkg.h; interface:
 * mt_image.h). The acceptance check that uses them is mt_image.c.
 *
 * Every byte of the package is attacker-controlled: the header fields, the
 * trailer's TLV types and lengths, the signature. Lengths are compared
 * subtract-first against the bytes left, so no sum of attacker values is ever
 * formed in a type it could wrap; where a sum is formed its bound is stated.
 */
#include "mt_image.h"

#include <string.h>

#include "mt_crc.h"
#include "mt_endian.h"
#include "mt_err.h"

int mt_pkg_header_parse(mt_pkg_header *out, const uint8_t *buf, size_t len)
{
    mt_pkg_header h;
    uint64_t package_size;
    uint32_t expect_count;
    size_t i;

    if (out == NULL || buf == NULL) return MT_E_ARG;
    if (len < MT_PKG_HEADER_SIZE) return MT_E_LENGTH;

    /* 1. Identity: magic, format version, header size. */
    if (memcmp(buf, MT_PKG_MAGIC, 4) != 0) return MT_E_HDR_MAGIC;
    h.format_version = mt_ld16le(buf + 4);
    h.header_size = mt_ld16le(buf + 6);
    if (h.format_version != MT_PKG_FORMAT_VERSION || h.header_size != MT_PKG_HEADER_SIZE)
        return MT_E_HDR_MAGIC;

    /* 2. Header checksum over bytes 0..123. */
    h.header_crc32 = mt_ld32le(buf + 124);
    if (mt_crc32(0, buf, 124) != h.header_crc32) return MT_E_HDR_CRC;

    h.vendor_id = mt_ld32le(buf + 8);
    h.hw_revision = mt_ld16le(buf + 12);
    h.flags = mt_ld16le(buf + 14);
    h.behaviour = (uint8_t)(h.flags & 0x0Fu);
    h.version_major = buf[16];
    h.version_minor = buf[17];
    h.version_patch = mt_ld16le(buf + 18);
    h.version_build = mt_ld32le(buf + 20);
    h.security_counter = mt_ld32le(buf + 24);
    h.image_size = mt_ld32le(buf + 28);
    h.fragment_size = mt_ld16le(buf + 32);
    h.trailer_size = mt_ld16le(buf + 34);
    h.fragment_count = mt_ld32le(buf + 36);
    h.image_crc32 = mt_ld32le(buf + 40);
    memcpy(h.image_sha256, buf + 44, 32);
    memcpy(h.key_id, buf + 76, MT_PKG_KEY_ID_LEN);

    /* 3. Field ranges. */
    if ((h.flags & 0xFFF0u) != 0 || h.behaviour > MT_BEHAVIOUR_SLOW_BOOT) return MT_E_HDR_FIELD;
    if (h.fragment_size < MT_PKG_FRAGMENT_MIN || h.fragment_size > MT_PKG_FRAGMENT_MAX ||
        h.fragment_size % MT_PKG_FRAGMENT_ALIGN != 0)
        return MT_E_HDR_FIELD;
    if (h.trailer_size > MT_PKG_TRAILER_MAX) return MT_E_HDR_FIELD;
    if (h.image_size < 1) return MT_E_HDR_FIELD;
    for (i = 84; i < 124; i++)
        if (buf[i] != 0) return MT_E_HDR_FIELD;

    /* 4. Geometry. image_size < 2^32 and header + trailer <= 128 + 1024, so the
     * 64-bit sum cannot wrap; the package size must also fit 32 bits, which
     * makes every later offset computation in size_t safe on 32-bit hosts. */
    package_size = (uint64_t)h.header_size + h.image_size + h.trailer_size;
    if (package_size > 0xFFFFFFFFu) return MT_E_HDR_FIELD;
    h.package_size = (uint32_t)package_size;
    /* ceil(package_size / fragment_size) in 32 bits (a 64-bit division
     * would pull a software divide into a 32-bit target's image); the
     * quotient plus one cannot wrap, fragment_size being >= 16. */
    expect_count = h.package_size / h.fragment_size + (h.package_size % h.fragment_size != 0);
    if (expect_count != h.fragment_count) return MT_E_HDR_FIELD;

    *out = h;
    return MT_OK;
}

int mt_pkg_trailer_parse(mt_pkg_signature *out, const uint8_t *trailer, size_t len)
{
    size_t off = 0;
    int found = 0;

    if (out == NULL || (trailer == NULL && len != 0)) return MT_E_ARG;
    while (off < len) {
        unsigned type = trailer[off];
        size_t vlen;

        if (type == MT_PKG_TLV_PAD) {
            /* Padding: every byte from here to the end must be 0xFF. */
            for (; off < len; off++)
                if (trailer[off] != 0xFFu) return MT_E_TRAILER;
            break;
        }
        /* type + 2-byte length must fit in what is left (off < len here). */
        if (len - off < 3) return MT_E_TRAILER;
        vlen = mt_ld16le(trailer + off + 1); /* attacker-controlled, <= 65535 */
        off += 3;
        if (vlen > len - off) return MT_E_TRAILER;
        if (type == MT_PKG_TLV_SIG_DER) {
            if (vlen < 8 || vlen > MT_PKG_SIG_MAX) return MT_E_TRAILER;
        } else if (type == MT_PKG_TLV_SIG_RAW) {
            if (vlen != 64) return MT_E_TRAILER;
        } else {
            return MT_E_TRAILER;
        }
        if (found) return MT_E_TRAILER; /* exactly one signature */
        found = 1;
        out->type = (uint8_t)type;
        out->len = (uint8_t)vlen;    /* <= 72 by the checks above */
        memcpy(out->sig, trailer + off, vlen);
        off += vlen;                  /* <= len by the check above */
    }
    return found ? MT_OK : MT_E_NO_SIGNATURE;
}
