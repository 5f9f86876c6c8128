/* SPDX-License-Identifier: MIT */
/* A 16550 UART for a guest: the eight registers at a base port (COM1:
 * 0x3f8), as a guest driver sees them. What the guest writes to THR goes
 * to a byte sink at once, so the transmitter is always idle: LSR always
 * reports THR empty and transmitter empty, and a polling driver (Linux's
 * earlyprintk=serial, console=ttyS0, the guest firmware) never waits.
 * Bytes for the guest come in through vmm_uart_receive (one byte held,
 * as a 16450 without FIFO would).
 *
 * Interrupts are computed honestly but not delivered: IIR reports the
 * highest-priority pending source among those IER enables (received
 * data, THR empty) or "no interrupt"; vmm_uart_irq_line says whether the
 * IRQ line would be asserted (a source pending and MCR.OUT2 set) for a
 * VMM that wants to inject one. No line-status errors and no modem-status
 * changes ever happen. Loopback (MCR bit 4) sends THR to RBR and the MCR
 * outputs to the MSR inputs, as Linux's port probe expects.
 *
 * Registers (offset from the base; DLAB is LCR bit 7):
 *   0  DLAB=0: read RBR, write THR; DLAB=1: divisor latch low (DLL)
 *   1  DLAB=0: IER (bits 0-3);       DLAB=1: divisor latch high (DLM)
 *   2  read IIR, write FCR
 *   3  LCR   4  MCR (bits 0-4)   5  LSR (read only)   6  MSR (read only)
 *   7  SCR (scratch) */
#ifndef VMM_UART_H
#define VMM_UART_H

#include <vmm/vmm.h>

#define VMM_UART_PORTS 8u

/* Register offsets. */
#define VMM_UART_RBR 0u
#define VMM_UART_THR 0u
#define VMM_UART_DLL 0u
#define VMM_UART_IER 1u
#define VMM_UART_DLM 1u
#define VMM_UART_IIR 2u
#define VMM_UART_FCR 2u
#define VMM_UART_LCR 3u
#define VMM_UART_MCR 4u
#define VMM_UART_LSR 5u
#define VMM_UART_MSR 6u
#define VMM_UART_SCR 7u

/* Bits. */
#define VMM_UART_IER_RDI 0x01u       /* received data available */
#define VMM_UART_IER_THRI 0x02u      /* THR empty */
#define VMM_UART_IIR_NO_INT 0x01u
#define VMM_UART_IIR_THRI 0x02u
#define VMM_UART_IIR_RDI 0x04u
#define VMM_UART_IIR_FIFO 0xc0u      /* FIFOs enabled (FCR bit 0) */
#define VMM_UART_FCR_ENABLE 0x01u
#define VMM_UART_FCR_CLEAR_RX 0x02u
#define VMM_UART_LCR_DLAB 0x80u
#define VMM_UART_MCR_OUT2 0x08u
#define VMM_UART_MCR_LOOP 0x10u
#define VMM_UART_LSR_DR 0x01u        /* data ready */
#define VMM_UART_LSR_OE 0x02u        /* overrun (loopback only) */
#define VMM_UART_LSR_THRE 0x20u
#define VMM_UART_LSR_TEMT 0x40u
#define VMM_UART_MSR_CTS 0x10u
#define VMM_UART_MSR_DSR 0x20u
#define VMM_UART_MSR_DCD 0x80u

typedef void vmm_uart_sink(void *ctx, uint8_t byte);

struct vmm_uart {
    uint16_t base;
    vmm_uart_sink *sink;     /* NULL: transmitted bytes are dropped */
    void *ctx;
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t rbr;
    bool rx_full;            /* rbr holds a byte the guest has not read */
    bool overrun;            /* a byte was lost (reported once in LSR) */
    bool thre_pending;       /* THR-empty interrupt condition (16550 rules) */
    uint64_t tx_count;       /* bytes the guest transmitted (loopback excluded) */
};

/* A UART at base (base .. base + 7) in its reset state: divisor 1 (115200
 * baud), 8N1 left to the guest, everything else 0. */
void vmm_uart_init(struct vmm_uart *u, uint16_t base, vmm_uart_sink *sink, void *ctx);

/* True when port is one of the UART's eight. */
bool vmm_uart_owns(const struct vmm_uart *u, uint16_t port);

/* One byte-wide register access. VMM_E_NOT_MINE when port is not the
 * UART's (nothing changes, *value untouched). */
int vmm_uart_read(struct vmm_uart *u, uint16_t port, uint8_t *value);
int vmm_uart_write(struct vmm_uart *u, uint16_t port, uint8_t value);

/* An IO intercept of size 1, 2 or 4 bytes at port, as a PC decodes it: byte
 * i goes to port + i; bytes on ports that are not the UART's read as 0xff
 * and their writes are dropped. VMM_E_INVALID for another size,
 * VMM_E_NOT_MINE when no byte is the UART's. *data: the value written, or
 * the value read (zero-extended). */
int vmm_uart_io(struct vmm_uart *u, uint16_t port, uint8_t size, bool write, uint32_t *data);

/* Hands one byte to the guest (RBR). false when the guest has not read the
 * previous one yet (the caller keeps it). */
bool vmm_uart_receive(struct vmm_uart *u, uint8_t byte);

/* The IIR value the guest would read now (reading IIR may clear THRE; this
 * does not). */
uint8_t vmm_uart_iir(const struct vmm_uart *u);

/* True when the UART's IRQ line is asserted: an enabled source pending and
 * MCR.OUT2 set (on PCs OUT2 gates the line). */
bool vmm_uart_irq_line(const struct vmm_uart *u);

#endif
