/* SPDX-License-Identifier: MIT */
#include <scfree/x86.h>

void serial_init(uint16_t port)
{
    outb(port + 1, 0x00);    /* no interrupts */
    outb(port + 3, 0x80);    /* DLAB */
    outb(port + 0, 0x01);    /* divisor 1: 115200 baud */
    outb(port + 1, 0x00);
    outb(port + 3, 0x03);    /* 8n1 */
    outb(port + 2, 0xc7);    /* FIFOs on, cleared */
    outb(port + 4, 0x03);    /* DTR, RTS */
}

void serial_write(uint16_t port, const char *s, unsigned long len)
{
    for (unsigned long i = 0; i < len; i++) {
        /* Bounded wait for the transmit holding register; a missing UART
         * reads 0xff, which says empty, so this never spins forever. */
        for (unsigned spin = 0; spin < 100000 && !(inb(port + 5) & 0x20); spin++)
            __asm__ volatile("pause");
        outb(port, (uint8_t)s[i]);
    }
}
