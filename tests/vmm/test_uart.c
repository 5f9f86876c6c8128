/* SPDX-License-Identifier: MIT */
/* The 16550 emulation (vmm/uart.h): what a polling guest driver, Linux's
 * 8250 probe and the guest firmware see. */
#include <criterion/criterion.h>
#include <string.h>

#include <vmm/uart.h>

#define COM1 0x3f8

static struct vmm_uart u;
static uint8_t sunk[256];
static size_t nsunk;

static void sink(void *ctx, uint8_t b)
{
    cr_assert_eq(ctx, &nsunk);
    if (nsunk < sizeof(sunk))
        sunk[nsunk] = b;
    nsunk++;
}

static void setup(void)
{
    nsunk = 0;
    vmm_uart_init(&u, COM1, sink, &nsunk);
}

static uint8_t rd(uint16_t off)
{
    uint8_t v = 0x5a;
    cr_assert_eq(vmm_uart_read(&u, COM1 + off, &v), VMM_OK);
    return v;
}

static void wr(uint16_t off, uint8_t v) { cr_assert_eq(vmm_uart_write(&u, COM1 + off, v), VMM_OK); }

TestSuite(uart, .init = setup);

Test(uart, polling_driver_transmits)
{
    /* What Linux's early serial console and the firmware do: wait for
     * THRE, write THR; LSR must never make them wait. */
    const char *msg = "Linux version 6.1\r\n";
    for (const char *c = msg; *c; c++) {
        cr_assert(rd(VMM_UART_LSR) & VMM_UART_LSR_THRE);
        cr_assert(rd(VMM_UART_LSR) & VMM_UART_LSR_TEMT);
        wr(VMM_UART_THR, (uint8_t)*c);
    }
    cr_assert_eq(nsunk, strlen(msg));
    cr_assert_eq(memcmp(sunk, msg, nsunk), 0);
    cr_assert_eq(u.tx_count, strlen(msg));
}

Test(uart, divisor_latch)
{
    wr(VMM_UART_IER, 0x05);
    wr(VMM_UART_LCR, 0x80);            /* DLAB */
    cr_assert_eq(rd(VMM_UART_DLL), 1, "reset divisor: 115200 baud");
    wr(VMM_UART_DLL, 0x0c);            /* 9600 baud */
    wr(VMM_UART_DLM, 0x00);
    cr_assert_eq(rd(VMM_UART_DLL), 0x0c);
    cr_assert_eq(rd(VMM_UART_DLM), 0x00);
    cr_assert_eq(nsunk, 0, "a divisor write must not transmit");
    wr(VMM_UART_LCR, 0x03);            /* 8N1, DLAB off */
    cr_assert_eq(rd(VMM_UART_LCR), 0x03);
    cr_assert_eq(rd(VMM_UART_IER), 0x05, "IER kept behind the latch");
    wr(VMM_UART_THR, 'x');
    cr_assert_eq(nsunk, 1);
    cr_assert_eq(u.dll, 0x0c);
}

Test(uart, registers_read_back)
{
    wr(VMM_UART_IER, 0xff);
    cr_assert_eq(rd(VMM_UART_IER), 0x0f, "IER has four bits");
    wr(VMM_UART_MCR, 0xff);
    cr_assert_eq(rd(VMM_UART_MCR), 0x1f, "MCR has five bits");
    wr(VMM_UART_SCR, 0xa5);
    cr_assert_eq(rd(VMM_UART_SCR), 0xa5);
    wr(VMM_UART_LSR, 0x00);            /* read only */
    cr_assert_eq(rd(VMM_UART_LSR) & 0x60, 0x60);
}

Test(uart, iir_no_interrupt_without_ier)
{
    wr(VMM_UART_THR, 'a');
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_NO_INT);
    cr_assert_not(vmm_uart_irq_line(&u));
    wr(VMM_UART_FCR, 0x07);
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_NO_INT | VMM_UART_IIR_FIFO, "16550A FIFO bits");
    wr(VMM_UART_FCR, 0x00);
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_NO_INT);
}

Test(uart, thre_interrupt_rules)
{
    wr(VMM_UART_IER, VMM_UART_IER_THRI);            /* enabling it with THR empty raises it */
    cr_assert_eq(vmm_uart_iir(&u), VMM_UART_IIR_THRI);
    cr_assert_not(vmm_uart_irq_line(&u), "OUT2 clear: line not asserted");
    wr(VMM_UART_MCR, VMM_UART_MCR_OUT2);
    cr_assert(vmm_uart_irq_line(&u));
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_THRI);
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_NO_INT, "reading IIR clears THRE");
    cr_assert_not(vmm_uart_irq_line(&u));
    wr(VMM_UART_THR, 'b');                          /* sent at once: THR empty again */
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_THRI);
    wr(VMM_UART_IER, VMM_UART_IER_THRI);            /* already enabled: no new one */
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_NO_INT);
}

Test(uart, receive_and_rdi)
{
    cr_assert_eq(rd(VMM_UART_LSR) & VMM_UART_LSR_DR, 0);
    cr_assert(vmm_uart_receive(&u, 'k'));
    cr_assert_not(vmm_uart_receive(&u, 'l'), "one byte held; the caller keeps the next");
    cr_assert(rd(VMM_UART_LSR) & VMM_UART_LSR_DR);
    wr(VMM_UART_IER, VMM_UART_IER_RDI | VMM_UART_IER_THRI);
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_RDI, "received data outranks THRE");
    cr_assert_eq(rd(VMM_UART_RBR), 'k');
    cr_assert_eq(rd(VMM_UART_LSR) & VMM_UART_LSR_DR, 0);
    cr_assert_eq(rd(VMM_UART_IIR), VMM_UART_IIR_THRI);
    cr_assert(vmm_uart_receive(&u, 'l'));
    wr(VMM_UART_FCR, VMM_UART_FCR_ENABLE | VMM_UART_FCR_CLEAR_RX);
    cr_assert_eq(rd(VMM_UART_LSR) & VMM_UART_LSR_DR, 0, "FCR clears the receiver");
}

Test(uart, loopback_as_linux_probes_it)
{
    /* serial8250's autoconfig: MCR = LOOP | OUT2 | RTS, then MSR's top
     * nibble must be DCD | CTS (0x90). */
    wr(VMM_UART_MCR, VMM_UART_MCR_LOOP | 0x0a);
    cr_assert_eq(rd(VMM_UART_MSR) & 0xf0, 0x90);
    wr(VMM_UART_MCR, VMM_UART_MCR_LOOP | 0x05);
    cr_assert_eq(rd(VMM_UART_MSR) & 0xf0, 0x60);
    wr(VMM_UART_THR, 0x42);
    cr_assert_eq(nsunk, 0, "loopback does not transmit");
    wr(VMM_UART_THR, 0x43);
    uint8_t lsr = rd(VMM_UART_LSR);
    cr_assert(lsr & VMM_UART_LSR_DR);
    cr_assert(lsr & VMM_UART_LSR_OE, "second byte overran the first");
    cr_assert_eq(rd(VMM_UART_LSR) & VMM_UART_LSR_OE, 0, "OE is reported once");
    cr_assert_eq(rd(VMM_UART_RBR), 0x43);
    wr(VMM_UART_MCR, 0);
    cr_assert_eq(rd(VMM_UART_MSR), 0xb0, "a peer with carrier, ready");
}

Test(uart, other_ports_are_not_mine)
{
    uint8_t v = 0x77;
    cr_assert_eq(vmm_uart_read(&u, COM1 - 1, &v), VMM_E_NOT_MINE);
    cr_assert_eq(vmm_uart_read(&u, COM1 + 8, &v), VMM_E_NOT_MINE);
    cr_assert_eq(v, 0x77);
    cr_assert_eq(vmm_uart_write(&u, COM1 + 8, 'z'), VMM_E_NOT_MINE);
    cr_assert_eq(nsunk, 0);
    cr_assert(vmm_uart_owns(&u, COM1 + 7));
    cr_assert_not(vmm_uart_owns(&u, COM1 + 8));
}

Test(uart, top_of_port_space)
{
    vmm_uart_init(&u, 0xfffc, NULL, NULL);
    cr_assert(vmm_uart_owns(&u, 0xffff));
    uint32_t d = 0;
    cr_assert_eq(vmm_uart_io(&u, 0xfffe, 4, false, &d), VMM_OK, "the bytes past 0xffff are nobody's");
    cr_assert_eq(d >> 16, 0xffff);
    d = 'q';
    cr_assert_eq(vmm_uart_io(&u, 0xfffc, 1, true, &d), VMM_OK, "no sink: dropped");
    cr_assert_eq(u.tx_count, 1);
}

Test(uart, wide_accesses)
{
    uint32_t d = 0;
    cr_assert_eq(vmm_uart_io(&u, COM1 + 4, 2, false, &d), VMM_OK);   /* MCR, LSR */
    cr_assert_eq(d, (uint32_t)(VMM_UART_LSR_THRE | VMM_UART_LSR_TEMT) << 8);
    d = 'A' | ('B' << 8);                                           /* THR, IER */
    cr_assert_eq(vmm_uart_io(&u, COM1, 2, true, &d), VMM_OK);
    cr_assert_eq(nsunk, 1);
    cr_assert_eq(sunk[0], 'A');
    cr_assert_eq(rd(VMM_UART_IER), 'B' & 0x0f);
    d = 0;
    cr_assert_eq(vmm_uart_io(&u, COM1 + 6, 4, false, &d), VMM_OK, "straddles the last port");
    cr_assert_eq(d, 0xffff0000u | 0xb0u);
    cr_assert_eq(vmm_uart_io(&u, COM1 + 8, 4, false, &d), VMM_E_NOT_MINE);
    cr_assert_eq(vmm_uart_io(&u, COM1, 3, false, &d), VMM_E_INVALID);
    cr_assert_eq(vmm_uart_io(&u, COM1, 0, true, &d), VMM_E_INVALID);
}
