/*
 * meteremu C core: the one error enum.
 *
 * Every public function returns 0 (MT_OK) on success or one of these negative
 * values. The Python binding maps them to exceptions and to the operator error
 * codes of the FOTA error table (meteremu/errors.py); keep the two in step.
 */
#ifndef MT_ERR_H
#define MT_ERR_H

enum mt_err {
    MT_OK = 0,

    /* generic misuse: the caller broke the API contract */
    MT_E_ARG = -1,           /* NULL pointer, bad parameter value */
    MT_E_LENGTH = -2,        /* buffer length wrong for the operation */

    /* crypto */
    MT_E_ENCODING = -10,     /* malformed DER / SEC1 encoding */
    MT_E_PUBKEY = -11,       /* point not on the curve, coordinate out of range, infinity */
    MT_E_SIGNATURE = -12,    /* signature does not verify (or r, s out of range) */

    /* flash model */
    MT_E_FLASH_RANGE = -20,  /* address/length outside the device */
    MT_E_FLASH_ALIGN = -21,  /* program address or length not write-aligned, erase not on a sector */
    MT_E_FLASH_ONE = -22,    /* program asks to turn a 0 bit back into 1 (needs an erase) */
    MT_E_FLASH_POWER = -23,  /* power is cut (sticky until power-up) */
    MT_E_FLASH_WORN = -24,   /* sector past its erase endurance */

    /* package header / trailer */
    MT_E_HDR_MAGIC = -30,    /* not a meteremu package (magic, format version, header size) */
    MT_E_HDR_CRC = -31,      /* header checksum mismatch */
    MT_E_HDR_FIELD = -32,    /* header field out of range (flags, fragment geometry, reserved) */
    MT_E_VENDOR = -33,       /* vendor ID differs from the meter's */
    MT_E_HW_REV = -34,       /* hardware revision differs from the meter's */
    MT_E_TOO_BIG = -35,      /* package does not fit the bank; an append-only area is full */
    MT_E_TRAILER = -36,      /* malformed trailer TLVs */
    MT_E_NO_SIGNATURE = -37, /* trailer carries no signature */

    /* image acceptance */
    MT_E_INCOMPLETE = -40,   /* fragments missing */
    MT_E_IMAGE_CRC = -41,    /* image CRC-32 mismatch */
    MT_E_IMAGE_SHA = -42,    /* image SHA-256 mismatch */
    MT_E_UNKNOWN_KEY = -43,  /* key ID not among the trusted keys */
    MT_E_DOWNGRADE = -44,    /* security counter lower than the installed one */

    /* reassembly */
    MT_E_FRAME = -50,        /* frame malformed: bad CRC, wrong length, bad index */
    MT_E_SESSION = -51,      /* frame belongs to another session/image */
    MT_E_CONFLICT = -52,     /* duplicate fragment with different content */
    MT_E_STATE = -53,        /* operation not valid in the current state */

    /* bootloader */
    MT_E_NO_BOOTABLE = -60,  /* no bank (nor golden) validates */
    MT_E_SWAP = -61          /* bank swap could not complete (LCD F.03) */
};

#endif
