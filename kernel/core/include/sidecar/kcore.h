/* SPDX-License-Identifier: MIT */
/* The sidecar kernel's portable core: the dispatch loop, command decoding
 * and error reporting, behind a small arch interface. Compiled freestanding
 * into the kernel, and natively for unit tests and libsidecar-host's
 * simulator. No libc. */
#ifndef SIDECAR_KCORE_H
#define SIDECAR_KCORE_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

/* What the core needs from the CPU it runs on. */
struct sk_arch {
    void *ctx;
    /* Sleep until an interrupt or a write to *status; may return early. */
    void (*park)(void *ctx, const volatile uint8_t *status);
    /* Send a fixed interrupt. */
    void (*send_ipi)(void *ctx, uint32_t apic_id, uint32_t vector);
    uint64_t (*now_ns)(void *ctx);
    /* One line, no newline. May be NULL. */
    void (*log)(void *ctx, const char *line);
    /* REMOVE: make the CPU quiet (APIC off, interrupts off) before REMOVED
     * is published. May be NULL. */
    void (*quiesce)(void *ctx);
};

struct sk_cpu;

/* How a CPU runs a VP. Every op may be NULL (then "not supported by this
 * backend"). An op that fails writes its reason with sk_command_fail. */
struct sk_vp_backend {
    const char *name;
    /* Run until an intercept (return 1; msg filled) or a stop (return 0).
     * Negative: failed (error already set). */
    int (*run)(struct sk_cpu *cpu, void *vp, struct sidecar_hv_message *msg);
    /* Per register: an HvStatus code (0 = success). */
    uint16_t (*get_register)(struct sk_cpu *cpu, void *vp, uint32_t name,
                             struct sidecar_hv_register_value *value);
    uint16_t (*set_register)(struct sk_cpu *cpu, void *vp, uint32_t name,
                             const struct sidecar_hv_register_value *value);
    /* 0 success; negative failed (error already set). */
    int (*translate_gva)(struct sk_cpu *cpu, void *vp,
                         const struct sidecar_translate_gva_request *req,
                         struct sidecar_translate_gva_response *resp);
    /* The VP's state that is not in cpu_context, by TLFS name: on REMOVE
     * the core reads these with get_register into the command page's
     * removed_state (the get_set_vp_registers_request layout: count,
     * status, regs), so that a
     * VMM can read the VP's whole state after the CPU left and continue it
     * elsewhere with SET_VP_REGISTERS (docs/svm.md). At most
     * max_get_set_vp_registers names. */
    const uint32_t *saved_names;
    uint32_t saved_count;
};

struct sk_counters {
    uint64_t commands;
    uint64_t pings;
    uint64_t errors;
    uint64_t wakeups;
    uint64_t unknown_status;
    uint64_t bad_response;   /* completion IPIs not sent: a vector below min_vector or above 255, a broadcast destination */
};

struct sk_cpu {
    struct sidecar_control_page *control;
    struct sidecar_command_page *command;
    void *register_page;                 /* may be NULL */
    uint32_t node_cpu;                   /* index into control->cpu_status */
    uint32_t cpu_index;                  /* global CPU index */
    const struct sk_arch *arch;
    const struct sk_vp_backend *backend;
    void *vp;
    struct sk_counters counters;
};

/* What one dispatch step did. */
enum sk_step {
    SK_STEP_NOTHING = 0,     /* status IDLE/REMOVED/unknown: nothing to do */
    SK_STEP_COMMAND,         /* ran a command, now IDLE */
    SK_STEP_STOPPED,         /* ran the command found in STOP, now IDLE */
    SK_STEP_REMOVED,         /* handled REMOVE, now REMOVED */
};

void sk_cpu_init(struct sk_cpu *cpu, struct sidecar_control_page *control,
                 struct sidecar_command_page *command, void *register_page,
                 uint32_t node_cpu, uint32_t cpu_index,
                 const struct sk_arch *arch,
                 const struct sk_vp_backend *backend, void *vp);

/* One step, without parking. */
enum sk_step sk_dispatch_poll(struct sk_cpu *cpu);

/* Park/poll until the CPU is REMOVED, then return (the arch parks the CPU
 * so that INIT-SIPI-SIPI restarts it). */
void sk_dispatch_loop(struct sk_cpu *cpu);

/* For a backend's run loop: the host asked to stop this run. */
bool sk_stop_requested(const struct sk_cpu *cpu);

/* After an unexpected exception on a CPU in its dispatch loop: the error
 * text goes to the command page (has_error = 1), the CPU is quiesced and
 * its status becomes REMOVED whatever it was, and attention is raised. The
 * host then sees a removed CPU instead of one that never answers, and the
 * main kernel may restart it with INIT-SIPI-SIPI like any removed CPU. The
 * caller then parks the CPU with interrupts off. */
void sk_cpu_failed(struct sk_cpu *cpu, const char *text);

/* Sets has_error and the error text of the current command. */
void sk_command_fail(struct sk_cpu *cpu, const char *text);

/* The backend used when none is configured: every VP command answers
 * "not supported by this backend". */
extern const struct sk_vp_backend sk_no_backend;

#endif
