/*
 * Startup of the firmware links: the Cortex-M vector table and the reset
 * handler, which prepares RAM as C expects (.data copied from flash, .bss
 * zeroed; the symbols come from meter.ld) and calls main. Every other
 * exception stops in Default_Handler: the bootloader enables no interrupt,
 * so only a fault can land there.
 */
#include <stdint.h>

#include "fw_meter.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

void Reset_Handler(void);
void Default_Handler(void);

/* The architecture's 16 words: the initial stack pointer, then reset, NMI,
 * HardFault, MemManage, BusFault, UsageFault, 4 reserved, SVCall,
 * DebugMonitor, reserved, PendSV, SysTick. */
typedef struct fw_vector_table {
    uint32_t *initial_sp;
    void (*handler[15])(void);
} fw_vector_table;

__attribute__((section(".isr_vector"), used))
const fw_vector_table fw_vectors = {
    _estack,
    {Reset_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
     Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
     Default_Handler},
};

void Reset_Handler(void)
{
    uint32_t *src = _sidata, *dst = _sdata;
    while (dst < _edata)
        *dst++ = *src++;
    for (dst = _sbss; dst < _ebss; dst++)
        *dst = 0;
    (void)main();
    fw_halt();
}

void Default_Handler(void)
{
    fw_halt();
}
