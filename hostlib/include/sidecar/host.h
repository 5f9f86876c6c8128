/* SPDX-License-Identifier: MIT */
/* libsidecar-host: drive sidecar CPUs from a main kernel or a VMM.
 *
 * The portable core speaks the protocol (control and command pages, status
 * transitions with acquire/release atomics, attention); a transport supplies
 * memory, doorbells, time and, optionally, a way to sleep until the sidecar
 * raises attention. Transports: bare metal (a main kernel that owns the
 * machine maps physical pages and sends IPIs itself: sidecar_host_open_baremetal)
 * and the simulator (<sidecar/host_sim.h>, hosted builds only). The core uses
 * no libc and allocates nothing: the caller owns struct sidecar_host.
 *
 * Results: every int-returning call gives 0 (or a documented non-negative
 * value) on success and a negative SIDECAR_HOST_E_* code on failure;
 * sidecar_host_strerror names it. The open calls also say what failed and
 * why (the check or the field, the system call and its errno): through
 * struct sidecar_host_error (the *_ex calls, 0.4) and, in hosted builds,
 * sidecar_host_last_error(). Nothing a sidecar writes is trusted: an
 * impossible status byte gives E_STATE, a sidecar that does not answer in
 * time E_TIMEOUT; no call aborts, and none waits longer than its timeout.
 * Timeouts are in nanoseconds; 0 means "look once".
 *
 * Thread safety (each call below repeats what applies to it):
 *   - any thread, any time (after open, before close): the read-only calls
 *     (version, strerror, node/CPU enumeration, cpu_status, locate),
 *     acquire/release, sidecar_host_stop and sidecar_host_wait_any;
 *   - the thread that acquired a CPU (or one it hands the CPU to, with its
 *     own synchronisation): every command on that CPU (ping, run, registers,
 *     translate, remove, wait, error text, intercept accessors). Calls on
 *     one CPU must not overlap; calls on different CPUs may run in
 *     parallel from any number of threads;
 *   - open and close: no other call on the same struct sidecar_host may run
 *     at the same time.
 */
#ifndef SIDECAR_HOST_H
#define SIDECAR_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

#if defined(__cplusplus)
extern "C" {
#endif

/* SIDECAR_HOST_VERSION_MAJOR, _MINOR, _PATCH and _STRING, generated from
 * the project version. */
#include <sidecar/host_version.h>

/* Results: 0 or a negative code. */
enum {
    SIDECAR_HOST_OK = 0,
    SIDECAR_HOST_E_INVALID = -1,      /* bad argument (CPU number, pointer, count) */
    SIDECAR_HOST_E_ABI = -2,          /* a page's magic or ABI major is not ours */
    SIDECAR_HOST_E_BUSY = -3,         /* acquired by someone else, or a command is in flight */
    SIDECAR_HOST_E_TIMEOUT = -4,      /* the sidecar did not answer in time */
    SIDECAR_HOST_E_REMOVED = -5,      /* the CPU is removed (or not a sidecar CPU) */
    SIDECAR_HOST_E_STATE = -6,        /* the sidecar wrote something impossible */
    SIDECAR_HOST_E_COMMAND = -7,      /* the command failed: see sidecar_host_error_text */
    SIDECAR_HOST_E_NOT_ACQUIRED = -8, /* the CPU must be acquired first */
    SIDECAR_HOST_E_HV_STATUS = -9,    /* the hypervisor-level call failed: see the HvStatus */
    SIDECAR_HOST_E_NOTHING = -10,     /* nothing to wait for / no such intercept message */
    SIDECAR_HOST_E_NOMEM = -11,       /* out of memory (hosted transports only) */
    SIDECAR_HOST_E_VECTOR = -12,      /* an IPI the pages ask for is not allowed: a vector below 32
                                         (an exception vector) or a broadcast destination */
    /* 0.4: what sidecar_host_open_linux_ex reports for a failed system
     * call (sidecar_host_open_linux keeps its 0.3 results). */
    SIDECAR_HOST_E_NO_DEVICE = -13,   /* no such device: the sidecar driver is not loaded */
    SIDECAR_HOST_E_PERMISSION = -14,  /* permission denied (the device's mode, a security module) */
    SIDECAR_HOST_E_SYSTEM = -15       /* another system call failed: see sys_errno */
};

/* 0.4: what failed and why, filled by the *_ex calls. */
#define SIDECAR_HOST_ERROR_TEXT_SIZE 256u
struct sidecar_host_error {
    int code;         /* what the call returned (0: success, text "") */
    int sys_errno;    /* the errno of the system call that failed (linux transport), else 0 */
    /* "what: why", NUL terminated, truncated to fit. A failed validation
     * names the page and the field, as the generated validator words it
     * ("params: cpus[3].role: ..."); a failed system call the call, the
     * device and strerror(sys_errno). */
    char text[SIDECAR_HOST_ERROR_TEXT_SIZE];
};

/* What a run returned (sidecar_host_run_vp, completions of async runs). */
enum {
    SIDECAR_HOST_RUN_STOPPED = 0,     /* ended by sidecar_host_stop, no intercept */
    SIDECAR_HOST_RUN_INTERCEPT = 1    /* the intercept message is valid */
};

/* What the embedding environment provides. Members after relax were added
 * in 0.2 and may be left zero. Use designated initialisers: a positional
 * one written for 0.1 still means the same (the new members are zero), but
 * gcc -Wextra warns about it (missing-field-initializers). */
struct sidecar_host_transport {
    void *ctx;
    /* A pointer through which [pa, pa + size) can be read and written, or
     * NULL when it cannot be mapped. */
    void *(*map)(void *ctx, uint64_t pa, uint64_t size);
    void (*send_ipi)(void *ctx, uint32_t apic_id, uint32_t vector);
    uint64_t (*now_ns)(void *ctx);
    /* Called while polling (pause, yield). May be NULL. */
    void (*relax)(void *ctx);
    /* Optional blocking. epoch() returns a counter the transport changes
     * whenever a sidecar raises attention (the response IPI); wait()
     * returns once the counter differs from `epoch`, or after timeout_ns,
     * or earlier (spurious returns are fine). Both NULL: the core polls,
     * calling relax between looks. The core never sleeps longer than
     * 50 ms at a time, so a lost attention costs latency, not a hang. */
    uint32_t (*epoch)(void *ctx);
    void (*wait)(void *ctx, uint32_t epoch, uint64_t timeout_ns);
    /* Called by sidecar_host_close. May be NULL. */
    void (*close)(void *ctx);
};

struct sidecar_host_node {
    struct sidecar_control_page *control;
    uint8_t *shmem;              /* command/register page pairs */
    uint32_t base_cpu;
    uint32_t cpu_count;
    uint64_t memory_base;        /* the node memory params gave */
    uint64_t memory_size;
};

/* One handle per set of sidecar nodes. Treat the members as private: use
 * the calls below. */
struct sidecar_host {
    struct sidecar_host_transport t;
    uint32_t node_count;
    uint32_t cpu_count;
    struct sidecar_host_node nodes[SIDECAR_MAX_NODES];
    const struct sidecar_params *params;   /* as given to open; the library reads only its copies */
    uint32_t apic_id[SIDECAR_MAX_CPUS];    /* copied from params at open */
    uint8_t role[SIDECAR_MAX_CPUS];        /* copied from params at open */
    uint8_t acquired[SIDECAR_MAX_CPUS];     /* atomic flags */
    /* 0.2: per-CPU command bookkeeping. */
    uint8_t last_command[SIDECAR_MAX_CPUS]; /* command code of the last command started */
    uint8_t intercept_valid[SIDECAR_MAX_CPUS];
    uint64_t async_pending[SIDECAR_MAX_CPUS / 64]; /* atomic bitmap of uncollected async runs */
    uint32_t scan_start;                    /* atomic: where wait_any starts looking */
};

/* ---- library ---------------------------------------------------------- */

/* "major.minor.patch" of this library. Any thread. */
const char *sidecar_host_version(void);
/* A constant English text for a result code. Any thread. */
const char *sidecar_host_strerror(int code);
/* 0.4, hosted builds (not the freestanding core library): the text of
 * this thread's last failed open (any transport, every open call sets it,
 * to "" on success) or failed linux-transport system call (e.g. the KICK
 * ioctl behind a command that then times out). Never NULL; valid until
 * this thread's next library call. */
const char *sidecar_host_last_error(void);

/* ---- open, close, enumerate ------------------------------------------ */

/* Opens the sidecar described by the params and output pages the shim
 * handed over (validated here; a page whose ABI major differs is refused),
 * over transport t (copied). Not concurrent with any other call on h. */
int sidecar_host_open(struct sidecar_host *h, const struct sidecar_host_transport *t,
                      const struct sidecar_params *params, const struct sidecar_output *output);
/* The same (the name bare-metal main kernels use). */
int sidecar_host_open_baremetal(struct sidecar_host *h, const struct sidecar_host_transport *t,
                                const struct sidecar_params *params,
                                const struct sidecar_output *output);
/* 0.4: sidecar_host_open that also fills err (which may be NULL) with the
 * result and what failed: the page and field a validator refused, which
 * node's page is out of place, ... Freestanding builds too. */
int sidecar_host_open_ex(struct sidecar_host *h, const struct sidecar_host_transport *t,
                         const struct sidecar_params *params, const struct sidecar_output *output,
                         struct sidecar_host_error *err);

/* The linux transport (hosted Linux builds, over the driver sidecar.ko):
 * opens <device_prefix>0, 1, ... (NULL: "/dev/mshv_vtl_sidecar", the
 * driver's devices, one per node), maps the params and output pages
 * read-only and each node's control and command pages through them, and
 * opens the core over them. Request IPIs are the driver's KICK ioctl,
 * completions its response-IPI handler. E_NOTHING when there is no such
 * device (the driver is not loaded), E_INVALID when the device is not the
 * sidecar driver's or what it maps fails validation, E_NOMEM, E_BUSY; any
 * other failed system call (permission denied included) also gives
 * E_INVALID: sidecar_host_last_error() and sidecar_host_open_linux_ex tell
 * them apart. The handle owns the descriptors and mappings until
 * sidecar_host_close. Not concurrent with any other call on h. */
int sidecar_host_open_linux(struct sidecar_host *h, const char *device_prefix);
/* 0.4: the same, with a result per cause and err (which may be NULL)
 * filled: E_NO_DEVICE (ENOENT, ENODEV, ENXIO: the driver is not loaded),
 * E_PERMISSION (EACCES, EPERM), E_NOMEM, E_BUSY, E_SYSTEM (any other
 * errno), E_INVALID (a bad argument; a device that is not the sidecar
 * driver's: sys_errno is the NODE_INFO ioctl's, e.g. ENOTTY; pages that
 * fail validation: the text names the field), E_ABI. */
int sidecar_host_open_linux_ex(struct sidecar_host *h, const char *device_prefix,
                               struct sidecar_host_error *err);
/* A descriptor that polls readable (POLLIN) when a sidecar CPU raised
 * attention since the last sidecar_host_wait_any/wait/command looked (the
 * driver's attention counter): poll it, then drain with
 * sidecar_host_wait_any(h, 0, &done). E_INVALID when h is not open over
 * the linux transport. Any thread. */
int sidecar_host_linux_fd(const struct sidecar_host *h);
/* The descriptor of node's device (for the driver's own ioctls, e.g.
 * SIDECAR_DRV_CPU_INFO in <sidecar/linux_driver.h>), or E_INVALID. */
int sidecar_host_linux_device_fd(const struct sidecar_host *h, uint32_t node);

/* Forgets every node and calls the transport's close hook. Commands still
 * running on sidecar CPUs are not stopped (stop and wait for them first).
 * Afterwards every call on h fails with E_INVALID until it is opened
 * again. Not concurrent with any other call on h. */
void sidecar_host_close(struct sidecar_host *h);

/* Sidecar nodes, and all CPUs of the machine (CPU numbers are
 * 0..cpu_count-1; main-kernel CPUs among them answer E_REMOVED). 0 when h
 * is NULL or closed. Any thread. */
uint32_t sidecar_host_node_count(const struct sidecar_host *h);
uint32_t sidecar_host_cpu_count(const struct sidecar_host *h);
/* How the sidecar runs VPs: "svm" (a hardware-virtualized guest, AMD SVM
 * with nested paging), "ring3" (deprivileged at CPL3), or "unknown" (not
 * our kernel, e.g. OpenHCL's, or no node). From node 0's control page. */
const char *sidecar_host_vp_backend(const struct sidecar_host *h);

struct sidecar_host_node_info {
    uint32_t index;
    uint32_t base_cpu;    /* the node's first CPU number */
    uint32_t cpu_count;   /* CPUs in its range, main-kernel ones included */
    uint32_t sidecar_cpus;/* of which sidecar CPUs (per the params) */
};
/* One node's description. Any thread. */
int sidecar_host_node_info(const struct sidecar_host *h, uint32_t node,
                           struct sidecar_host_node_info *info);

/* The node and index within it of a CPU; E_INVALID for a CPU number out of
 * range, E_REMOVED when it is in no node or is a main-kernel CPU. Any
 * thread. */
int sidecar_host_locate(const struct sidecar_host *h, uint32_t cpu, uint32_t *node, uint32_t *index);

/* The CPU's status byte (a sidecar_cpu_status value, possibly one the
 * protocol does not allow: compare with SIDECAR_CPU_STATUS_REMOVE), or a
 * negative code. Any thread. */
int sidecar_host_cpu_status(const struct sidecar_host *h, uint32_t cpu);

/* ---- ownership ------------------------------------------------------- */

/* Exclusive use of one sidecar CPU: E_BUSY when it is acquired already.
 * Any thread; release is by whoever owns it. */
int sidecar_host_acquire(struct sidecar_host *h, uint32_t cpu);
void sidecar_host_release(struct sidecar_host *h, uint32_t cpu);

/* ---- commands (the CPU's owner) -------------------------------------- */

/* The CPU's command page (for request data and results), or NULL. Owner. */
struct sidecar_command_page *sidecar_host_command_page(const struct sidecar_host *h, uint32_t cpu);

/* Runs one command synchronously: IDLE -> RUN, IPI, wait until the sidecar
 * sets IDLE again (or timeout_ns passes). E_COMMAND when has_error is set;
 * for RUN_VP the SIDECAR_HOST_RUN_* value. On E_TIMEOUT the command stays
 * in flight: stop it and/or collect it with sidecar_host_wait. Until it is
 * collected, the next command and REMOVE answer E_BUSY (even once the
 * sidecar is IDLE again), so its result is never overwritten. Owner. */
int sidecar_host_run_command(struct sidecar_host *h, uint32_t cpu, uint32_t command,
                             uint64_t timeout_ns);

/* A NONE command: the round trip only. Owner. */
int sidecar_host_ping(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns);

/* Runs the VP until an intercept or a stop: SIDECAR_HOST_RUN_INTERCEPT
 * (read the message with the sidecar_host_intercept_* calls),
 * SIDECAR_HOST_RUN_STOPPED, or a negative code. On E_TIMEOUT the VP keeps
 * running: call sidecar_host_stop, then sidecar_host_wait. Owner. */
int sidecar_host_run_vp(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns);

/* Starts a run and returns at once. Collect its end with
 * sidecar_host_wait_any (any thread) or sidecar_host_wait (owner), not
 * both for the same run. Owner. */
int sidecar_host_run_vp_start(struct sidecar_host *h, uint32_t cpu);

/* Waits for the CPU's command in flight (an async run, or a synchronous
 * command that timed out) and returns its result as the synchronous call
 * would have. When nothing is in flight, returns the result of the last
 * command again. Owner. */
int sidecar_host_wait(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns);

struct sidecar_host_completion {
    uint32_t cpu;
    uint32_t command;     /* SIDECAR_COMMAND_RUN_VP */
    int result;           /* as sidecar_host_run_vp returns */
};
/* Waits until any async run started with sidecar_host_run_vp_start ends,
 * and claims it: each end is reported exactly once, to one caller, however
 * many threads wait. E_NOTHING when no async run is in flight (with several
 * threads collecting and restarting at once, also possible for a moment
 * while another thread is between the two), E_TIMEOUT when none ended in
 * time. Any thread, several at once. */
int sidecar_host_wait_any(struct sidecar_host *h, uint64_t timeout_ns,
                          struct sidecar_host_completion *done);

/* Asks a running command to end (RUN -> STOP, then the request IPI) and
 * returns at once; the run then ends with SIDECAR_HOST_RUN_STOPPED, or
 * with an intercept that won the race. OK also when the CPU is IDLE (the
 * run already ended) or already asked to stop. Any thread, no acquire. */
int sidecar_host_stop(struct sidecar_host *h, uint32_t cpu);

/* Converts the CPU: IDLE -> REMOVE, IPI, wait for REMOVED. A running CPU,
 * or one whose last command's end was not collected yet (an async run not
 * claimed, a synchronous command that timed out), answers E_BUSY: stop it
 * and wait first. Owner. */
int sidecar_host_remove(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns);

/* The sidecar's error text of the CPU's last command (NUL terminated,
 * truncated to size). Returns its length. Owner. */
uint32_t sidecar_host_error_text(const struct sidecar_host *h, uint32_t cpu, char *buf, uint32_t size);

/* ---- registers, translation (the CPU's owner) ------------------------ */

/* Where a batch failed: the HvStatus the sidecar reported and the index
 * (into the caller's array) of the first register that failed. */
struct sidecar_host_hv_error {
    uint16_t status;
    uint32_t index;
};

/* Gets or sets count registers by TLFS name (regs[i].name; for set also
 * regs[i].value). Batches larger than SIDECAR_MAX_GET_SET_VP_REGISTERS are
 * split transparently, in order. On the first failing register: returns
 * E_HV_STATUS with err filled; the registers before it are done (their
 * values read), later ones untouched. The protocol reports a batch's
 * status but not which register failed, so the library then repeats that
 * batch one register at a time to find it (for set, the registers before
 * the failing one are written again with the same values). target_vtl is
 * the HvInputVtl byte (0: the VP's current VTL). err may be NULL. Owner. */
int sidecar_host_get_registers(struct sidecar_host *h, uint32_t cpu, uint8_t target_vtl,
                               struct sidecar_hv_register_assoc *regs, uint32_t count,
                               uint64_t timeout_ns, struct sidecar_host_hv_error *err);
int sidecar_host_set_registers(struct sidecar_host *h, uint32_t cpu, uint8_t target_vtl,
                               const struct sidecar_hv_register_assoc *regs, uint32_t count,
                               uint64_t timeout_ns, struct sidecar_host_hv_error *err);

/* Translates gva with the TLFS control flags (bits 0-2 validate
 * read/write/execute, ..., 56-63 input VTL). OK fills out (check
 * out->translation_result.result_code); a failing call gives E_HV_STATUS
 * with *hv_status set (hv_status may be NULL). Owner. */
int sidecar_host_translate_gva(struct sidecar_host *h, uint32_t cpu, uint64_t gva,
                               uint64_t control_flags, uint64_t timeout_ns,
                               struct sidecar_translate_gva_output *out, uint16_t *hv_status);

/* ---- the last intercept (the CPU's owner) ---------------------------- */

/* Valid after a run of this CPU returned SIDECAR_HOST_RUN_INTERCEPT and
 * until the next command starts; otherwise E_NOTHING. Each call copies
 * out of the shared page and checks the message type and payload size:
 * asking for a type the message is not gives E_NOTHING, a payload too
 * short for its type E_STATE. */
int sidecar_host_intercept_message(const struct sidecar_host *h, uint32_t cpu,
                                   struct sidecar_hv_message *out);
/* The message type (an hv_message_type value). */
int sidecar_host_intercept_type(const struct sidecar_host *h, uint32_t cpu, uint32_t *type);
/* The common x64 header of any intercept (rip, instruction length, ...). */
int sidecar_host_intercept_header(const struct sidecar_host *h, uint32_t cpu,
                                  struct sidecar_hv_x64_intercept_message_header *out);
int sidecar_host_intercept_io_port(const struct sidecar_host *h, uint32_t cpu,
                                   struct sidecar_hv_x64_io_port_intercept_message *out);
/* unmapped_gpa, gpa_intercept and unaccepted_gpa messages. */
int sidecar_host_intercept_memory(const struct sidecar_host *h, uint32_t cpu,
                                  struct sidecar_hv_x64_memory_intercept_message *out);
int sidecar_host_intercept_msr(const struct sidecar_host *h, uint32_t cpu,
                               struct sidecar_hv_x64_msr_intercept_message *out);
int sidecar_host_intercept_cpuid(const struct sidecar_host *h, uint32_t cpu,
                                 struct sidecar_hv_x64_cpuid_intercept_message *out);
int sidecar_host_intercept_exception(const struct sidecar_host *h, uint32_t cpu,
                                     struct sidecar_hv_x64_exception_intercept_message *out);

/* The instruction length (bits 0-3 of instruction_length_and_cr8) of an
 * intercept header. */
static inline uint32_t sidecar_host_instruction_length(const struct sidecar_hv_x64_intercept_message_header *hdr)
{
    return hdr->instruction_length_and_cr8 & 0xfu;
}

#if defined(__cplusplus)
}
#endif

#endif
