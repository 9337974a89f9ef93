/*
 * The whole core on the meter, in one link so that one figure covers it: the
 * bootloader's decision (boot_main.c), then the update path the running
 * firmware serves: mesh fragment frames from the radio into the inactive bank
 * (mt_reasm, the progress partition), the head-end's missing-fragment report,
 * DLMS class-18 image blocks, verification and activation, the heartbeat's
 * confirmation and a revert. A real meter splits this into the bootloader
 * and its application; the application's share is this link minus boot's.
 *
 * The radio and the DLMS side are stand-ins: one memory-mapped mailbox
 * (command, index, length, data) that a driver would fill. The core does
 * everything else.
 */
#include <stddef.h>

#include "fw_meter.h"

#include "mt_err.h"
#include "mt_frame.h"
#include "mt_reasm.h"

/* The mailbox: a command and its arguments, then the frame or block bytes. */
typedef struct fw_mailbox {
    uint32_t command;   /* enum fw_command; the firmware writes 0 when done */
    uint32_t index;     /* FW_BLOCK: block number */
    uint32_t len;       /* bytes in data */
    int32_t result;     /* written back: 0 or an mt_err code */
    uint8_t data[MT_FRAME_OVERHEAD + MT_PKG_FRAGMENT_MAX];
} fw_mailbox;

#define FW_MAILBOX ((volatile fw_mailbox *)0x40010000u)
/* System control block: application interrupt and reset control. */
#define FW_SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
#define FW_AIRCR_SYSRESET 0x05FA0004u

enum fw_command {
    FW_IDLE = 0,
    FW_FRAME = 1,      /* a mesh frame from the radio */
    FW_BLOCK = 2,      /* a class-18 image block (session begun by FW_FRAME's geometry) */
    FW_MISSING = 3,    /* the missing-fragment bitmap, into data */
    FW_ACTIVATE = 4,   /* verify the download, activate it, reset into it */
    FW_CONFIRM = 5,    /* the heartbeat came: confirm the trial image */
    FW_REVERT = 6      /* the heartbeat did not come: fall back */
};

typedef struct fw_app {
    fw_meter meter;
    mt_reasm reasm;
    uint8_t buf[MT_FRAME_OVERHEAD + MT_PKG_FRAGMENT_MAX]; /* a frame, or the bitmap */
} fw_app;

static fw_app app;

/* Binds the reassembler to the bank a download may use and picks up a
 * download the power interrupted. */
static int fw_reasm_start(fw_app *a)
{
    mt_flash_area bank, progress;
    int inactive = mt_boot_inactive(&a->meter.boot);
    if (inactive < 0)
        return inactive; /* a trial runs: its fallback bank stays as it is */
    int rc = mt_layout_area(&a->meter.layout, &a->meter.flash, MT_PART_PROGRESS, &progress);
    if (rc != MT_OK)
        return rc;
    bank = a->meter.boot.cfg.bank[inactive];
    rc = mt_reasm_init(&a->reasm, &bank, &progress, FW_VENDOR_ID, FW_HW_REVISION);
    if (rc == MT_OK)
        (void)mt_reasm_resume(&a->reasm); /* nothing to resume is fine */
    return rc;
}

/* A mesh frame: begin its session when it names a new one, then store it. */
static int fw_frame(fw_app *a, const uint8_t *frame, size_t len)
{
    mt_frame f;
    int rc = mt_frame_parse(&f, frame, len);
    if (rc != MT_OK)
        return rc;
    if (a->reasm.phase != MT_REASM_ACTIVE || f.session_id != a->reasm.session_id) {
        rc = mt_reasm_begin(&a->reasm, f.session_id, f.package_size, f.fragment_size,
                            f.fragment_count);
        if (rc != MT_OK)
            return rc;
    }
    return mt_reasm_frame(&a->reasm, frame, len);
}

static int fw_missing(fw_app *a, size_t *written)
{
    return mt_reasm_missing(&a->reasm, a->buf, sizeof a->buf, written);
}

static int fw_activate(fw_app *a)
{
    int rc = mt_boot_activate(&a->meter.boot, mt_reasm_complete(&a->reasm));
    if (rc != MT_OK)
        return rc;
    (void)mt_reasm_close(&a->reasm); /* the session is over either way */
    FW_SCB_AIRCR = FW_AIRCR_SYSRESET; /* the new image runs from the next boot */
    fw_halt();
}

static int32_t fw_serve(fw_app *a, uint32_t command)
{
    volatile fw_mailbox *mb = FW_MAILBOX;
    size_t len = mb->len < sizeof a->buf ? mb->len : sizeof a->buf;
    for (size_t i = 0; i < len; i++)
        a->buf[i] = mb->data[i];
    switch (command) {
    case FW_FRAME:
        return fw_frame(a, a->buf, len);
    case FW_BLOCK:
        return mt_reasm_block(&a->reasm, mb->index, a->buf, len);
    case FW_MISSING: {
        size_t written = 0;
        int rc = fw_missing(a, &written);
        for (size_t i = 0; i < written; i++)
            mb->data[i] = a->buf[i];
        mb->len = (uint32_t)written;
        return rc;
    }
    case FW_ACTIVATE:
        return fw_activate(a);
    case FW_CONFIRM:
        return mt_boot_confirm(&a->meter.boot);
    case FW_REVERT:
        return mt_boot_revert(&a->meter.boot);
    default:
        return MT_E_ARG;
    }
}

int main(void)
{
    if (fw_meter_init(&app.meter) != MT_OK || mt_boot_start(&app.meter.boot) != MT_OK)
        fw_halt();
    /* In this one-binary meter the image that came up is this program. */
    (void)mt_boot_boot_ok(&app.meter.boot);
    int ready = fw_reasm_start(&app) == MT_OK;
    for (;;) {
        uint32_t command = FW_MAILBOX->command;
        if (command == FW_IDLE)
            continue;
        FW_MAILBOX->result = (ready || command >= FW_CONFIRM) ? fw_serve(&app, command) : MT_E_STATE;
        FW_MAILBOX->command = FW_IDLE;
    }
}
