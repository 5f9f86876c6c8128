/* SPDX-License-Identifier: MIT */
/* The portable parts of the sidecar kernel's boot and trap handling: the
 * checks of the params page beyond the generated validators, and the
 * classification of a trap on an exception vector. The arch half
 * (kernel/arch/x86_64/boot.c, cpu.c) reads the hardware (page tables, the
 * APIC's in-service bits) and acts on the answer. Compiled freestanding
 * into the kernel (with scfree's formatter) and natively for the fuzzer. */
#ifndef SIDECAR_KBOOT_H
#define SIDECAR_KBOOT_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>
#include <sidecar/vp.h>

/* Kernel-error codes in output.status (validator codes are below 0x100). */
#define SK_E_PARAMS_OUTPUT 0x101u
#define SK_E_CONFIG 0x102u
#define SK_E_BSP 0x103u
#define SK_E_X2APIC 0x104u
#define SK_E_IMAGE 0x105u
#define SK_E_NODE 0x106u
#define SK_E_GUEST_RAM 0x107u
#define SK_E_VP_BACKEND 0x108u

/* A refusal: the output.status code and the text for output.error, which
 * names the field ("params.cpus[3].role: ..."). */
struct sk_boot_error {
    uint32_t code;
    char text[SIDECAR_ERROR_TEXT_SIZE + 1];
};

/* Where the kernel finds itself: the params and output pages' physical
 * addresses (page aligned, not 0: the caller checked), the most CPUs it
 * has room for, and the PML4 slot of its own window (guest RAM must not
 * share it). */
struct sk_boot_env {
    uint64_t params_pa;
    uint64_t output_pa;
    uint32_t max_cpus;
    uint32_t kernel_pml4_slot;
};

/* The generated validator, then the kernel's own checks: cpu_count within
 * max_cpus; the output page apart from params and from every node's
 * memory, params apart from node memory; guest RAM below 512 GiB, outside
 * the kernel's PML4 slot and apart from params and output; the BSP a main
 * CPU; every sidecar CPU inside a node. true: all hold; false: *e says
 * which did not. Reads p only. */
bool sk_params_check(const struct sidecar_params *p, const struct sk_boot_env *env, struct sk_boot_error *e);

/* Whether the page at physical address pa is mapped at pa (identity) by
 * the page tables the kernel was given. */
typedef bool (*sk_identity_mapped_fn)(void *ctx, uint64_t pa);

/* For params that passed sk_params_check: no node's memory and no guest
 * RAM overlaps the kernel image [kernel_pa, + kernel_size), and every page
 * of node memory and the trampoline page is identity mapped. */
bool sk_params_check_memory(const struct sidecar_params *p, uint64_t kernel_pa, uint64_t kernel_size,
                            sk_identity_mapped_fn mapped, void *ctx, struct sk_boot_error *e);

/* ---- traps on exception vectors (0-31) -------------------------------------- */

/* The vector word of a trap frame: the vector in bits 0-7, and this bit
 * when the CPU pushed an error code (entry.asm tells by RSP alignment). */
#define SK_TRAP_ERROR_PUSHED 0x100u

enum sk_trap_action {
    SK_TRAP_EXCEPTION = 0,   /* an exception: reported (CPL0) or a guest exit (CPL3) */
    SK_TRAP_TERMINAL,        /* #DF or #MC: the CPU's end, at any CPL */
    SK_TRAP_STRAY,           /* an interrupt on an exception vector: EOI when in service, count, ignore */
    SK_TRAP_NMI,             /* counted, returned from */
    SK_TRAP_DEBUG_RESET,     /* #DB at CPL0: reset DR7/DR6, clear TF, carry on */
};

/* Does the exception on vector v push an error code? */
bool sk_trap_vector_has_error_code(uint8_t v);

/* What a trap on vector_word & 0xff (below 32) taken with code segment cs
 * is. in_service(ctx, v) says whether the local APIC has vector v in
 * service (a STRAY in service needs an EOI); it is called exactly once for
 * a frame without an error code, never for one with (the hot guest exits,
 * #PF and #GP, need no APIC read). */
enum sk_trap_action sk_trap_classify(uint64_t vector_word, uint64_t cs,
                                     bool (*in_service)(void *ctx, uint8_t v), void *ctx);

/* The VP exit of a trap taken at CPL3 that is not handled above (an
 * exception, or an interrupt on vector 32-255): the vector, the error code
 * when the CPU pushed one, and the fault address (cr2 for a #PF, dr6 for a
 * #DB, else 0; the caller reads those registers only for those vectors). */
struct sk_vp_exit sk_trap_vp_exit(uint64_t vector_word, uint64_t error, uint64_t cr2, uint64_t dr6);

#endif
