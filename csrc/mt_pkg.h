/*
 * The firmware package (.pkg) as the meter sees it in a bank:
 *
 *   header (MT_PKG_HEADER_SIZE bytes) | image (image_size) | trailer (trailer_size)
 *
 * The signature covers header || image (the "unsigned package" file, which is
 * exactly what `openssl dgst -sha256 -sign` signs). The trailer is a run of
 * TLV records, then 0xFF padding up to trailer_size.
 *
 * Header, format version 1, all integers little-endian:
 *
 *   off size field
 *     0    4 magic               "MTRP" (4D 54 52 50)
 *     4    2 format_version      1
 *     6    2 header_size         128
 *     8    4 vendor_id
 *    12    2 hw_revision         target hardware revision
 *    14    2 flags               bits 0-3 emulation behaviour (0 normal, 1 no-heartbeat,
 *                                2 crash-on-boot, 3 slow-boot); bits 4-15 must be 0
 *    16    1 version_major
 *    17    1 version_minor
 *    18    2 version_patch
 *    20    4 version_build
 *    24    4 security_counter    anti-rollback counter
 *    28    4 image_size          bytes of image after the header, >= 1
 *    32    2 fragment_size       transport fragment payload size, 16..1024, a multiple
 *                                of 16 (the largest flash write unit), so that every
 *                                fragment starts on a write unit of the bank
 *    34    2 trailer_size        bytes reserved after the image for the trailer, 0..1024
 *    36    4 fragment_count      ceil((header_size + image_size + trailer_size) / fragment_size)
 *    40    4 image_crc32         CRC-32/ISO-HDLC of the image
 *    44   32 image_sha256        SHA-256 of the image
 *    76    8 key_id              first 8 bytes of SHA-256(uncompressed SEC1 signer key, 65 bytes)
 *    84   40 reserved            must be 0
 *   124    4 header_crc32        CRC-32/ISO-HDLC of bytes 0..123
 *
 * Trailer TLV: type (1 byte), length (2 bytes, little-endian), value.
 *   type 0x01  ECDSA P-256 signature, strict DER (8..72 bytes)
 *   type 0x02  ECDSA P-256 signature, raw r || s (64 bytes)
 *   type 0xFF  not a record: the first 0xFF type byte starts the padding,
 *              and every byte from there to trailer_size must be 0xFF.
 * Exactly one signature record; unknown types are MT_E_TRAILER. Lengths are
 * attacker-controlled and checked subtract-first against the bytes left.
 */
#ifndef MT_PKG_H
#define MT_PKG_H

#include <stdint.h>

#define MT_PKG_MAGIC "MTRP"
#define MT_PKG_FORMAT_VERSION 1u
#define MT_PKG_HEADER_SIZE 128u
#define MT_PKG_KEY_ID_LEN 8u
#define MT_PKG_FRAGMENT_MIN 16u
#define MT_PKG_FRAGMENT_MAX 1024u
#define MT_PKG_FRAGMENT_ALIGN 16u
#define MT_PKG_TRAILER_MAX 1024u
#define MT_PKG_TRAILER_DEFAULT 128u

#define MT_PKG_TLV_SIG_DER 0x01u
#define MT_PKG_TLV_SIG_RAW 0x02u
#define MT_PKG_TLV_PAD 0xFFu

enum mt_behaviour {
    MT_BEHAVIOUR_NORMAL = 0,
    MT_BEHAVIOUR_NO_HEARTBEAT = 1,
    MT_BEHAVIOUR_CRASH_ON_BOOT = 2,
    MT_BEHAVIOUR_SLOW_BOOT = 3
};

#endif
