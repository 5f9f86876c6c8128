/* SPDX-License-Identifier: MIT */
/* The guest firmware's port protocol and memory layout, for C (the VMM).
 * tests/guest/firmware_ports.inc holds the same names and values for NASM;
 * the test guest-ports-agree (check_ports.py) fails when the two differ.
 * docs/guest-firmware.md describes every entry. */
#ifndef SIDECAR_FIRMWARE_PORTS_H
#define SIDECAR_FIRMWARE_PORTS_H

/* IO ports (32-bit accesses) */
#define FW_PORT_INDEX 0x0e00u           /* IN: VP index; all ones = no VMM (plain QEMU) */
#define FW_PORT_EVENT 0x0e04u           /* OUT: event, code in bits 0-7, argument in bits 8-31 */
#define FW_PORT_ITERATIONS 0x0e08u      /* IN: counter increments per VP; all ones = default */
#define FW_PORT_WAKES 0x0e0cu           /* IN: wakes to take before done; all ones = default */
#define FW_PORT_CONTROL 0x0e10u         /* IN after each wake: FW_CONTROL_FINISH = done now */
#define FW_PORT_SERIAL 0x03f8u          /* 16550 base (text, VP 0 only) */
#define FW_PORT_QEMU_EXIT 0x00f4u       /* isa-debug-exit, written in no-VMM mode only */

/* Event codes (bits 0-7 of an FW_PORT_EVENT write) */
#define FW_EV_STARTED 0x01u             /* arg: VP index */
#define FW_EV_LONG_MODE 0x02u           /* arg: VP index */
#define FW_EV_PF_HANDLED 0x03u          /* arg: page number (GVA >> 12) the #PF handler mapped */
#define FW_EV_COUNTER_DONE 0x04u        /* arg: shared counter value after this VP's last increment */
#define FW_EV_WAITING 0x05u             /* arg: wakes so far; the VP is about to STI; HLT */
#define FW_EV_INTERRUPT 0x06u           /* arg: vector (bits 0-7), interrupts taken (bits 8-23) */
#define FW_EV_WOKE 0x07u                /* arg: wakes so far (including this one) */
#define FW_EV_DONE 0x08u                /* arg: wakes taken; the VP halts forever (CLI; HLT) */
#define FW_EV_ERROR 0x80u               /* arg: FW_ERR_* ; the VP halts forever */
#define FW_EV_EXCEPTION 0x81u           /* arg: vector (bits 0-7), error code bits 0-15 (bits 8-23); halts */
#define FW_EV_UNEXPECTED_IRQ 0x82u      /* arg: vector of an interrupt nobody asked for; it continues */

#define FW_EV_CODE_MASK 0xffu
#define FW_EV_ARG_SHIFT 8u
#define FW_EV_ARG_MAX 0xffffffu

/* FW_EV_ERROR arguments */
#define FW_ERR_INDEX 0x01u              /* FW_PORT_INDEX answered >= FW_MAX_VPS */
#define FW_ERR_ITERATIONS 0x02u         /* FW_PORT_ITERATIONS answered 0 or > FW_MAX_ITERATIONS */
#define FW_ERR_PF 0x03u                 /* the page-fault test read back a wrong value or fault count */
#define FW_ERR_COUNTER 0x04u            /* no-VMM mode: the counter is not FW_DEFAULT_ITERATIONS */
#define FW_ERR_WAKES 0x05u              /* FW_PORT_WAKES answered > FW_MAX_WAKES */

#define FW_CONTROL_FINISH 0x01u

/* Limits and defaults */
#define FW_MAX_VPS 256u
#define FW_MAX_ITERATIONS 65535u
#define FW_DEFAULT_ITERATIONS 1000u
#define FW_MAX_WAKES 0xffffu
#define FW_DEFAULT_WAKES 3u             /* no-VMM mode: from the local APIC timer; VMM: injected */
#define FW_IRQ_VECTOR 0x30u             /* the wake-up interrupt */

/* isa-debug-exit values (QEMU exits with status value * 2 + 1) */
#define FW_QEMU_EXIT_OK 0x10u           /* status 33 */
#define FW_QEMU_EXIT_FAIL 0x11u         /* status 35 */

/* Image and memory layout (guest physical addresses; paging is identity) */
#define FW_IMAGE_SIZE 0x10000u          /* the image ends at 4 GiB (the reset vector is its last 16 bytes) */
#define FW_SHARED_GPA 0x1000u           /* shared page: must be zero at reset */
#define FW_COUNTER_GPA 0x1000u          /* 64-bit shared counter (lock xadd) */
#define FW_VP_REGION_GPA 0x200000u      /* VP i owns [FW_VP_REGION_GPA + i * FW_VP_REGION_SIZE, +FW_VP_REGION_SIZE) */
#define FW_VP_REGION_SIZE 0x10000u
#define FW_PF_GVA 0x1ff000u             /* left not present; the #PF handler maps it */
#define FW_PF_REGION_OFFSET 0x5000u     /* ... to this page of the VP's region */
#define FW_MIN_RAM 0x1400000u           /* 20 MiB: the 256 VP regions end at 18 MiB, the image is the last 64 KiB */

/* An FW_PORT_EVENT value split into its code and argument. */
#define FW_EV_CODE(v) ((v) & FW_EV_CODE_MASK)
#define FW_EV_ARG(v) ((v) >> FW_EV_ARG_SHIFT)

#endif
