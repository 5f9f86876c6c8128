/* libsidecar-host: drive sidecar CPUs from a main kernel or a VMM.
 *
 * The core speaks the protocol (control and command pages, status
 * transitions with acquire/release atomics, attention); a transport
 * supplies memory, doorbells and time. This version has the portable core
 * and the bare-metal transport (a main kernel that owns the machine maps
 * physical pages and sends IPIs itself). It uses no libc and allocates
 * nothing: the caller owns struct sidecar_host.
 *
 * Thread safety: one struct sidecar_host may be used from several threads
 * for different CPUs at once (acquire is atomic); calls on the same CPU
 * must not overlap.
 */
#ifndef SIDECAR_HOST_H
#define SIDECAR_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/abi.h>

#if defined(__cplusplus)
extern "C" {
#endif

#define SIDECAR_HOST_VERSION_MAJOR 0
#define SIDECAR_HOST_VERSION_MINOR 1
#define SIDECAR_HOST_VERSION_PATCH 0

/* Results: 0 or a negative code. */
enum {
    SIDECAR_HOST_OK = 0,
    SIDECAR_HOST_E_INVALID = -1,     /* bad argument (CPU number, pointer, count) */
    SIDECAR_HOST_E_ABI = -2,         /* a page's magic or ABI major is not ours */
    SIDECAR_HOST_E_BUSY = -3,        /* the CPU is acquired by someone else */
    SIDECAR_HOST_E_TIMEOUT = -4,     /* the sidecar did not answer in time */
    SIDECAR_HOST_E_REMOVED = -5,     /* the CPU is removed (or not a sidecar CPU) */
    SIDECAR_HOST_E_STATE = -6,       /* the status byte holds something impossible */
    SIDECAR_HOST_E_COMMAND = -7,     /* the command failed: see sidecar_host_error_text */
    SIDECAR_HOST_E_NOT_ACQUIRED = -8 /* the CPU must be acquired first */
};

/* What the embedding environment provides. */
struct sidecar_host_transport {
    void *ctx;
    /* A pointer through which [pa, pa + size) can be read and written, or
     * NULL when it cannot be mapped. */
    void *(*map)(void *ctx, uint64_t pa, uint64_t size);
    void (*send_ipi)(void *ctx, uint32_t apic_id, uint32_t vector);
    uint64_t (*now_ns)(void *ctx);
    /* Called while polling (pause, yield). May be NULL. */
    void (*relax)(void *ctx);
};

struct sidecar_host_node {
    struct sidecar_control_page *control;
    uint8_t *shmem;              /* command/register page pairs */
    uint32_t base_cpu;
    uint32_t cpu_count;
};

struct sidecar_host {
    struct sidecar_host_transport t;
    uint32_t node_count;
    uint32_t cpu_count;
    struct sidecar_host_node nodes[SIDECAR_MAX_NODES];
    const struct sidecar_params *params;
    uint8_t acquired[SIDECAR_MAX_CPUS];   /* atomic flags */
};

const char *sidecar_host_version(void);
const char *sidecar_host_strerror(int code);

/* Bare-metal transport: the sidecar description is the params and output
 * pages the shim handed over (validated here; a page whose ABI major
 * differs is refused). */
int sidecar_host_open_baremetal(struct sidecar_host *h, const struct sidecar_host_transport *t,
                                const struct sidecar_params *params,
                                const struct sidecar_output *output);

/* The node and index within it of a CPU; E_REMOVED when it is in no node
 * or is a main-kernel CPU. */
int sidecar_host_locate(const struct sidecar_host *h, uint32_t cpu, uint32_t *node, uint32_t *index);

/* The CPU's status byte (a sidecar_cpu_status value), or a negative code. */
int sidecar_host_cpu_status(const struct sidecar_host *h, uint32_t cpu);

/* Exclusive use of one sidecar CPU. */
int sidecar_host_acquire(struct sidecar_host *h, uint32_t cpu);
void sidecar_host_release(struct sidecar_host *h, uint32_t cpu);

/* The CPU's command page (for request data and results), or NULL. */
struct sidecar_command_page *sidecar_host_command_page(const struct sidecar_host *h, uint32_t cpu);

/* Runs one command synchronously: IDLE -> RUN, IPI, wait until the sidecar
 * sets IDLE again (or timeout_ns passes). E_COMMAND when has_error is set. */
int sidecar_host_run_command(struct sidecar_host *h, uint32_t cpu, uint32_t command,
                             uint64_t timeout_ns);

/* A NONE command: the round trip only. */
int sidecar_host_ping(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns);

/* Converts the CPU: IDLE -> REMOVE, IPI, wait for REMOVED. */
int sidecar_host_remove(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns);

/* The sidecar's error text of the CPU's last command (NUL terminated,
 * truncated to size). Returns its length. */
uint32_t sidecar_host_error_text(const struct sidecar_host *h, uint32_t cpu, char *buf, uint32_t size);

#if defined(__cplusplus)
}
#endif

#endif
