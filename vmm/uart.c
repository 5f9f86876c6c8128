/* SPDX-License-Identifier: MIT */
/* A 16550 UART for a guest (vmm/uart.h). Register behaviour from the
 * National Semiconductor PC16550D data sheet (facts only). */
#include <vmm/uart.h>

void vmm_uart_init(struct vmm_uart *u, uint16_t base, vmm_uart_sink *sink, void *ctx)
{
    *u = (struct vmm_uart){ .base = base, .sink = sink, .ctx = ctx, .dll = 1 };
}

bool vmm_uart_owns(const struct vmm_uart *u, uint16_t port)
{
    return port >= u->base && (uint32_t)port < (uint32_t)u->base + VMM_UART_PORTS;
}

/* The interrupt source IIR reports, by 16550 priority: line status
 * (overrun), received data, THR empty. Modem-status changes never happen. */
static uint8_t pending_source(const struct vmm_uart *u)
{
    if ((u->ier & 0x04) && u->overrun)
        return 0x06;
    if ((u->ier & VMM_UART_IER_RDI) && u->rx_full)
        return VMM_UART_IIR_RDI;
    if ((u->ier & VMM_UART_IER_THRI) && u->thre_pending)
        return VMM_UART_IIR_THRI;
    return VMM_UART_IIR_NO_INT;
}

uint8_t vmm_uart_iir(const struct vmm_uart *u)
{
    return (uint8_t)(pending_source(u) | ((u->fcr & VMM_UART_FCR_ENABLE) ? VMM_UART_IIR_FIFO : 0));
}

bool vmm_uart_irq_line(const struct vmm_uart *u)
{
    return pending_source(u) != VMM_UART_IIR_NO_INT && (u->mcr & VMM_UART_MCR_OUT2);
}

static uint8_t msr(const struct vmm_uart *u)
{
    if (!(u->mcr & VMM_UART_MCR_LOOP))
        return VMM_UART_MSR_CTS | VMM_UART_MSR_DSR | VMM_UART_MSR_DCD;   /* a peer is always there */
    /* Loopback: DTR -> DSR, RTS -> CTS, OUT1 -> RI, OUT2 -> DCD. */
    return (uint8_t)(((u->mcr & 0x01) ? VMM_UART_MSR_DSR : 0) | ((u->mcr & 0x02) ? VMM_UART_MSR_CTS : 0) |
                     ((u->mcr & 0x04) ? 0x40 : 0) | ((u->mcr & 0x08) ? VMM_UART_MSR_DCD : 0));
}

int vmm_uart_read(struct vmm_uart *u, uint16_t port, uint8_t *value)
{
    if (!vmm_uart_owns(u, port))
        return VMM_E_NOT_MINE;
    bool dlab = u->lcr & VMM_UART_LCR_DLAB;
    uint8_t v = 0;
    switch (port - u->base) {
    case 0:
        if (dlab) {
            v = u->dll;
        } else {
            v = u->rbr;
            u->rx_full = false;
        }
        break;
    case 1:
        v = dlab ? u->dlm : u->ier;
        break;
    case 2:
        v = vmm_uart_iir(u);
        if ((v & 0x0f) == VMM_UART_IIR_THRI)
            u->thre_pending = false;   /* reading IIR with THRE as the source clears it */
        break;
    case 3:
        v = u->lcr;
        break;
    case 4:
        v = u->mcr;
        break;
    case 5:
        v = VMM_UART_LSR_THRE | VMM_UART_LSR_TEMT | (u->rx_full ? VMM_UART_LSR_DR : 0) |
            (u->overrun ? VMM_UART_LSR_OE : 0);
        u->overrun = false;
        break;
    case 6:
        v = msr(u);
        break;
    default:
        v = u->scr;
        break;
    }
    *value = v;
    return VMM_OK;
}

static void transmit(struct vmm_uart *u, uint8_t value)
{
    if (u->mcr & VMM_UART_MCR_LOOP) {
        if (u->rx_full)
            u->overrun = true;
        u->rbr = value;
        u->rx_full = true;
    } else {
        u->tx_count++;
        if (u->sink)
            u->sink(u->ctx, value);
    }
    u->thre_pending = true;            /* sent at once: THR is empty again */
}

int vmm_uart_write(struct vmm_uart *u, uint16_t port, uint8_t value)
{
    if (!vmm_uart_owns(u, port))
        return VMM_E_NOT_MINE;
    bool dlab = u->lcr & VMM_UART_LCR_DLAB;
    switch (port - u->base) {
    case 0:
        if (dlab)
            u->dll = value;
        else
            transmit(u, value);
        break;
    case 1:
        if (dlab) {
            u->dlm = value;
        } else {
            /* Enabling the THRE interrupt while THR is empty (always)
             * raises it, as on a 16550. */
            if ((value & VMM_UART_IER_THRI) && !(u->ier & VMM_UART_IER_THRI))
                u->thre_pending = true;
            u->ier = value & 0x0f;
        }
        break;
    case 2:
        if (value & VMM_UART_FCR_CLEAR_RX)
            u->rx_full = false;
        u->fcr = value & 0xc9;         /* enable, DMA mode, trigger level */
        break;
    case 3:
        u->lcr = value;
        break;
    case 4:
        u->mcr = value & 0x1f;
        break;
    case 7:
        u->scr = value;
        break;
    default:
        break;                          /* LSR, MSR: read only */
    }
    return VMM_OK;
}

int vmm_uart_io(struct vmm_uart *u, uint16_t port, uint8_t size, bool write, uint32_t *data)
{
    if (size != 1 && size != 2 && size != 4)
        return VMM_E_INVALID;
    bool any = false;
    uint32_t in = 0;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t p = (uint32_t)port + i;
        if (p > 0xffff || !vmm_uart_owns(u, (uint16_t)p)) {
            in |= 0xffu << (8 * i);
            continue;
        }
        any = true;
        if (write) {
            vmm_uart_write(u, (uint16_t)p, (uint8_t)(*data >> (8 * i)));
        } else {
            uint8_t b = 0;
            vmm_uart_read(u, (uint16_t)p, &b);
            in |= (uint32_t)b << (8 * i);
        }
    }
    if (!any)
        return VMM_E_NOT_MINE;
    if (!write)
        *data = in;
    return VMM_OK;
}

bool vmm_uart_receive(struct vmm_uart *u, uint8_t byte)
{
    if (u->rx_full)
        return false;
    u->rbr = byte;
    u->rx_full = true;
    return true;
}
