/*
 * What the firmware links share: the meter's flash map over the memory-mapped
 * NOR flash (meter.ld), the trusted key, the bootloader's configuration, and
 * the jump into an image.
 *
 * The C core reaches the NOR only through its flash model (mt_flash.h) bound
 * to the memory map: reads are the device's own, programs and erases follow
 * NOR rules on the same bytes. A port to a real part keeps that interface
 * and replaces mt_flash.c's program/erase with the part's flash controller;
 * the footprint measured here includes the model's fault-injection hooks,
 * which such a port would drop.
 */
#ifndef FW_METER_H
#define FW_METER_H

#include <stdint.h>

#include "mt_boot.h"
#include "mt_flash.h"
#include "mt_layout.h"

/* The meter's identity, as the packages it accepts must name it (the
 * emulator's default: "METE", hardware revision 3). */
#define FW_VENDOR_ID 0x4D455445u
#define FW_HW_REVISION 3u

#define FW_NOR_SIZE MT_LAYOUT_DEFAULT_DEVICE_SIZE
#define FW_SECTORS MT_FLASH_SECTORS(FW_NOR_SIZE, MT_FLASH_SECTOR_DEFAULT)

/* Everything the bootloader keeps in RAM. One of them, in .bss. */
typedef struct fw_meter {
    mt_flash flash;
    uint32_t wear[FW_SECTORS];   /* the model's erase counters */
    mt_layout layout;
    mt_image_key key;            /* the trusted signer */
    mt_boot boot;
} fw_meter;

/* Binds the flash model to the NOR, computes the partitions, parses the
 * trusted key and initialises the bootloader (no CPU to ask: the portable
 * code). 0 or the first failure's code. */
int fw_meter_init(fw_meter *m);

/* The first byte of the image in bank `bank` (after the package header),
 * in the memory map: the image's vector table. */
const uint8_t *fw_image(const fw_meter *m, int bank);

/* Starts the image: its vector table becomes the CPU's, its initial stack
 * pointer the main stack, and its reset handler runs. Never returns; the
 * image's stack is its own, so nothing of this program's stack stays in use. */
__attribute__((noreturn)) void fw_jump(const uint8_t *image);

/* Nothing to run: wait for the watchdog or a service visit. */
__attribute__((noreturn)) void fw_halt(void);

int main(void);

#endif
