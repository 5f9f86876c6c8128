/* SPDX-License-Identifier: MIT */
/* libsidecar-host's simulator transport (hosted builds on Linux only).
 *
 * sidecar_host_sim_create lays out the pages a booted sidecar kernel would
 * leave behind (params and output pages; per node a control page and the
 * command/register page pairs at i * 8192 of the node's shared region, all
 * initialised as the kernel does after boot) and starts one thread per
 * sidecar CPU. Each thread runs the sidecar kernel's own dispatch loop
 * (kernel/core/dispatch.c) with a simulated arch: parking sleeps on a
 * futex until the request IPI, IPIs are futex wakes, the clock is
 * CLOCK_MONOTONIC. VPs are scripted: each RUN_VP replays the next step of
 * the CPU's script (an intercept, register effects, "run until STOP", a
 * failure); registers live in a per-CPU simulated register file;
 * TRANSLATE_GVA is the identity over the simulated guest RAM.
 *
 * sidecar_host_open_sim then opens a struct sidecar_host over it: the same
 * core as on bare metal, with a transport whose wait hook sleeps until a
 * sidecar CPU raises attention, and an eventfd for event loops.
 *
 * Thread safety: create/destroy are not concurrent with anything on that
 * simulator. Scripts, faults and register peeks may be called from any
 * thread; a script change takes effect at the CPU's next RUN_VP.
 */
#ifndef SIDECAR_HOST_SIM_H
#define SIDECAR_HOST_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>
#include <sidecar/host.h>

#if defined(__cplusplus)
extern "C" {
#endif

struct sidecar_host_sim;

struct sidecar_host_sim_config {
    uint32_t node_count;       /* 1..SIDECAR_MAX_NODES */
    uint32_t cpus_per_node;    /* CPUs in each node's range; node_count * cpus_per_node <= SIDECAR_MAX_CPUS */
    /* The first CPU of every node belongs to the main kernel (REMOVED in
     * the control page, no thread), as OpenHCL's base VP does. */
    bool main_cpu_per_node;
    /* How long a parked CPU and a waiting host spin before they sleep
     * (0: sleep at once). Spinning trades CPU time for latency. */
    uint64_t spin_ns;
    /* Bytes of simulated guest RAM at GPA 0 (TRANSLATE_GVA succeeds below
     * it); 0 means 1 GiB. */
    uint64_t guest_ram_size;
};

/* Creates and starts a simulator. 0 or a negative SIDECAR_HOST_E_* code
 * (E_INVALID for a bad config, E_NOMEM). */
int sidecar_host_sim_create(const struct sidecar_host_sim_config *config, struct sidecar_host_sim **sim);

/* Stops every simulated CPU (whatever it is doing) and frees everything.
 * Close every struct sidecar_host opened over it first. */
void sidecar_host_sim_destroy(struct sidecar_host_sim *sim);

/* Opens h over the simulator, with the driver's part done as the Linux
 * driver's probe does it: response_cpu and response_vector set in every
 * control page, so completions wake the host. */
int sidecar_host_open_sim(struct sidecar_host *h, struct sidecar_host_sim *sim);

/* An eventfd that becomes readable whenever a sidecar CPU raises attention
 * (read it to reset, then drain with sidecar_host_wait_any and timeout 0).
 * Owned by the simulator; negative code on failure. Any thread. */
int sidecar_host_sim_event_fd(struct sidecar_host_sim *sim);

/* The pages the shim and the kernel would have handed over. */
const struct sidecar_params *sidecar_host_sim_params(const struct sidecar_host_sim *sim);
const struct sidecar_output *sidecar_host_sim_output(const struct sidecar_host_sim *sim);

/* ---- scripts ------------------------------------------------------------ */

enum sidecar_host_sim_step_kind {
    /* Apply the register effects, then end the run with the message. */
    SIDECAR_HOST_SIM_INTERCEPT = 1,
    /* Apply the register effects, then run until the host asks STOP. */
    SIDECAR_HOST_SIM_BLOCK = 2,
    /* Fail the command with the error text. */
    SIDECAR_HOST_SIM_FAIL = 3,
};

#define SIDECAR_HOST_SIM_MAX_STEP_REGS 8

struct sidecar_host_sim_step {
    uint32_t kind;               /* sidecar_host_sim_step_kind */
    /* Times this step is replayed before the next one (0 counts as 1). */
    uint32_t repeat;
    /* INTERCEPT: when true, the x64 intercept header's vp_index, rip,
     * rflags and cs_segment are filled from the VP's registers at the time
     * of the exit (after the register effects). */
    bool fill_header;
    uint32_t reg_count;          /* <= SIDECAR_HOST_SIM_MAX_STEP_REGS */
    struct sidecar_hv_register_assoc regs[SIDECAR_HOST_SIM_MAX_STEP_REGS];
    struct sidecar_hv_message message;
    char error[SIDECAR_ERROR_TEXT_SIZE + 1]; /* FAIL: NUL-terminated text */
};

/* Appends steps to the CPU's script. With an empty script a run ends at
 * once with an x64 HLT intercept (header filled), which is what the
 * stress tests and the benchmark use. 0 or E_INVALID / E_NOMEM. */
int sidecar_host_sim_script(struct sidecar_host_sim *sim, uint32_t cpu,
                            const struct sidecar_host_sim_step *steps, uint32_t count);
/* Drops the rest of the CPU's script. */
void sidecar_host_sim_script_clear(struct sidecar_host_sim *sim, uint32_t cpu);
/* Steps (counting repeats) not yet replayed. */
uint64_t sidecar_host_sim_script_left(struct sidecar_host_sim *sim, uint32_t cpu);

/* Step builders: zero *step, then fill an intercept of that kind with
 * fill_header set (a NULL step is ignored). access_size is 1, 2 or 4. */
void sidecar_host_sim_step_io_port(struct sidecar_host_sim_step *step, uint16_t port,
                                   uint8_t access_size, bool write, uint64_t rax,
                                   uint8_t instruction_length);
void sidecar_host_sim_step_msr(struct sidecar_host_sim_step *step, uint32_t msr, bool write,
                               uint64_t value, uint8_t instruction_length);
void sidecar_host_sim_step_cpuid(struct sidecar_host_sim_step *step, uint32_t leaf, uint32_t subleaf,
                                 uint8_t instruction_length);
void sidecar_host_sim_step_memory(struct sidecar_host_sim_step *step, uint32_t message_type,
                                  uint64_t gpa, bool write, uint8_t instruction_length);
void sidecar_host_sim_step_exception(struct sidecar_host_sim_step *step, uint16_t vector,
                                     uint32_t error_code, uint64_t parameter);
void sidecar_host_sim_step_halt(struct sidecar_host_sim_step *step);
/* Adds a register effect to a step: 0 or E_INVALID when it is full. */
int sidecar_host_sim_step_set(struct sidecar_host_sim_step *step, uint32_t name, uint64_t low, uint64_t high);

/* ---- the simulated VP ------------------------------------------------- */

/* Reads a register of the CPU's simulated register file directly (an
 * HvStatus: 0, or unknown_register_name). Racy while the CPU runs. */
uint16_t sidecar_host_sim_peek_register(struct sidecar_host_sim *sim, uint32_t cpu, uint32_t name,
                                        struct sidecar_hv_register_value *value);

/* Commands the CPU's dispatch loop has handled (the kernel's counter). */
uint64_t sidecar_host_sim_commands(struct sidecar_host_sim *sim, uint32_t cpu);

/* ---- fault injection -------------------------------------------------- */

enum sidecar_host_sim_fault {
    /* The CPU stops answering: it takes no command started after this
     * call until unmuted (the call waits until the CPU is back in its
     * park loop; E_TIMEOUT if it does not get there in 5 s). */
    SIDECAR_HOST_SIM_FAULT_MUTE = 1,
    SIDECAR_HOST_SIM_FAULT_UNMUTE = 2,
    /* Writes value into the CPU's status byte (as a buggy or hostile
     * sidecar would). */
    SIDECAR_HOST_SIM_FAULT_STATUS = 3,
    /* value != 0: the CPU answers but never signals the host (no
     * response IPI); value 0 restores it. */
    SIDECAR_HOST_SIM_FAULT_NO_ATTENTION = 4,
    /* Writes value into the intercept_message payload_size byte of the
     * CPU's command page (after a run, to test the typed accessors). */
    SIDECAR_HOST_SIM_FAULT_PAYLOAD_SIZE = 5,
};

/* Injects a fault into one CPU: 0, or E_INVALID for a CPU without a
 * thread (main, out of range) or an unknown fault. */
int sidecar_host_sim_fault(struct sidecar_host_sim *sim, uint32_t cpu, uint32_t fault, uint32_t value);

#if defined(__cplusplus)
}
#endif

#endif
