/*
 * The bootloader alone: at every reset, bind the flash, run the boot decision
 * (mt_boot_start: boot-control records, trial and rollback, image check with
 * CRC, SHA-256 and ECDSA P-256, anti-rollback floor) and jump into the image
 * it chose. The image reports back (boot ok, confirm) through the same
 * records; that code is the application's, in core_main.c's link.
 */
#include "fw_meter.h"

#include "mt_err.h"

static fw_meter meter;

int main(void)
{
    if (fw_meter_init(&meter) != MT_OK || mt_boot_start(&meter.boot) != MT_OK)
        fw_halt(); /* no bootable image (MT_E_NO_BOOTABLE), or the flash failed */
    fw_jump(fw_image(&meter, meter.boot.running));
}
