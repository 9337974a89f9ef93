/*
 * The firmware links' shared part: flash map, key, bootloader configuration,
 * the jump into an image (fw_meter.h).
 */
#include "fw_meter.h"

#include "mt_endian.h"
#include "mt_err.h"
#include "mt_pkg.h"

/* The external NOR flash, memory-mapped (meter.ld). */
extern uint8_t fw_nor[];

/* System control block: the vector table offset register. */
#define FW_SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)

/* The vendor's signing key, SEC1 uncompressed. This one is a placeholder;
 * any valid point gives the same footprint. */
static const uint8_t fw_trusted_key[65] = {
    0x04, 0xdc, 0x78, 0x6f, 0x92, 0x8f, 0x65, 0x20, 0x39, 0x6f, 0x94, 0x4a, 0x39,
    0x99, 0x0c, 0x50, 0xc6, 0x08, 0x48, 0x7d, 0x92, 0x4c, 0x8e, 0x1b, 0x2c, 0x41,
    0x84, 0x2e, 0x58, 0x0a, 0xed, 0x69, 0x7c, 0x37, 0x0e, 0xf2, 0x1b, 0xba, 0x7c,
    0xc5, 0x1f, 0xdd, 0x1e, 0x7d, 0xe1, 0x23, 0x72, 0x26, 0x2d, 0x45, 0xce, 0x26,
    0x67, 0xb8, 0x01, 0x88, 0x8e, 0xe8, 0xc1, 0x84, 0x92, 0xcb, 0x47, 0xef, 0xfc,
};

int fw_meter_init(fw_meter *m)
{
    mt_layout_params params;
    mt_boot_config cfg;
    int rc;

    mt_layout_default_params(&params);
    rc = mt_layout_compute(&m->layout, &params, FW_NOR_SIZE);
    if (rc == MT_OK)
        rc = mt_flash_init(&m->flash, fw_nor, FW_NOR_SIZE, m->wear,
                           MT_FLASH_SECTOR_DEFAULT, MT_FLASH_ALIGN_DEFAULT);
    if (rc == MT_OK)
        rc = mt_layout_area(&m->layout, &m->flash, MT_PART_BANK_A, &cfg.bank[MT_BOOT_BANK_A]);
    if (rc == MT_OK)
        rc = mt_layout_area(&m->layout, &m->flash, MT_PART_BANK_B, &cfg.bank[MT_BOOT_BANK_B]);
    if (rc == MT_OK)
        rc = mt_layout_area(&m->layout, &m->flash, MT_PART_GOLDEN,
                            &cfg.bank[MT_BOOT_BANK_GOLDEN]);
    if (rc == MT_OK)
        rc = mt_layout_area(&m->layout, &m->flash, MT_PART_BOOT0, &cfg.control[0]);
    if (rc == MT_OK)
        rc = mt_layout_area(&m->layout, &m->flash, MT_PART_BOOT1, &cfg.control[1]);
    if (rc == MT_OK)
        rc = mt_layout_area(&m->layout, &m->flash, MT_PART_FLOOR, &cfg.floor);
    if (rc == MT_OK)
        rc = mt_image_key_init(&m->key, fw_trusted_key, sizeof fw_trusted_key);
    if (rc != MT_OK)
        return rc;
    cfg.vendor_id = FW_VENDOR_ID;
    cfg.hw_revision = FW_HW_REVISION;
    cfg.max_attempts = MT_BOOT_ATTEMPTS_DEFAULT;
    cfg.keys = &m->key;
    cfg.key_count = 1;
    return mt_boot_init_impl(&m->boot, &cfg, 0, 0);
}

const uint8_t *fw_image(const fw_meter *m, int bank)
{
    return fw_nor + m->boot.cfg.bank[bank].off + MT_PKG_HEADER_SIZE;
}

__attribute__((noinline)) void fw_jump(const uint8_t *image)
{
    /* The image's vector table: word 0 its initial stack pointer, word 1 its
     * reset handler (Thumb bit set). Cortex-M wants the table aligned to its
     * size rounded up to a power of two: 128 bytes (the package header) is
     * enough for up to 16 interrupts; an image with more relocates it. */
    uint32_t sp = mt_ld32le(image), entry = mt_ld32le(image + 4);
    void (*reset)(void) = (void (*)(void))(uintptr_t)entry;
    FW_SCB_VTOR = (uint32_t)(uintptr_t)image;
    __asm__ volatile("msr msp, %0" : : "r"(sp) : "memory");
    reset();
    fw_halt();
}

void fw_halt(void)
{
    for (;;) {
    }
}
