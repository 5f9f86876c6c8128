/* SPDX-License-Identifier: MIT */
/* libsidecar-host's linux transport: the core over the sidecar driver
 * (driver/, sidecar.ko) from Linux user space.
 *
 * The driver gives each node a device, /dev/mshv_vtl_sidecar<n>. Through
 * node 0's device the params and output pages are mapped read-only (what
 * sidecar_host_open validates), through each node's device its control page
 * and command/register pages read-write. The core then speaks the protocol
 * itself on the mapped pages; the request IPI is the driver's KICK ioctl
 * (Linux's APIC layer), and completions come from the driver's response-IPI
 * handler as an attention counter (EPOCH / WAIT_EPOCH ioctls) which also
 * makes the device fd pollable. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

#include "../core/internal.h"

/* Messages are truncated to fit struct sidecar_host_error on purpose. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

struct linux_map {
    void *p;
    size_t len;
};

struct linux_ctx {
    int fds[SIDECAR_MAX_NODES];
    uint32_t node_count;
    /* Copies of the params and output pages taken once at open: the core
     * validates these, and this transport reads nothing else afterwards
     * (the pages themselves may change under it: a re-read cpu_count sent
     * lx_send_ipi past the params' CPU array, found by fuzz-hostlinux). */
    const struct sidecar_params *params;
    const struct sidecar_output *output;
    struct sidecar_params params_copy;
    struct sidecar_output output_copy;
    struct linux_map maps[2 * SIDECAR_MAX_NODES + 2];
    uint32_t map_count;
    uint32_t last_cpu;          /* atomic: where the APIC ID lookup starts (a hint) */
    char prefix[208];           /* the devices' path prefix, for messages */
    /* The first mmap that failed while opening (what, errno): the core
     * sees only NULL from lx_map. */
    const char *map_failed;
    uint32_t map_failed_node;
    int map_errno;
};

/* The result a failed system call's errno gives (sidecar_host_open_linux_ex). */
static int lx_errno_code(int e)
{
    switch (e) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return SIDECAR_HOST_E_NO_DEVICE;
    case EACCES:
    case EPERM:
        return SIDECAR_HOST_E_PERMISSION;
    case ENOMEM:
        return SIDECAR_HOST_E_NOMEM;
    case EBUSY:
        return SIDECAR_HOST_E_BUSY;
    default:
        return SIDECAR_HOST_E_SYSTEM;
    }
}

/* Fills err for a failed system call: "<call> <path>: <strerror>[: hint]". */
static int lx_fail_errno(struct sidecar_host_error *err, int code, int e, const char *call,
                         const char *path, const char *hint)
{
    err->code = code;
    err->sys_errno = e;
    snprintf(err->text, sizeof(err->text), "%s %s: %s%s%s", call, path, strerror(e),
             hint ? ": " : "", hint ? hint : "");
    return code;
}

static int lx_fail(struct sidecar_host_error *err, int code, const char *text)
{
    err->code = code;
    err->sys_errno = 0;
    snprintf(err->text, sizeof(err->text), "%s", text);
    return code;
}

/* What a failed open of a device means, for the message. */
static const char *lx_open_hint(int e)
{
    switch (e) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return "the sidecar driver is not loaded (modprobe sidecar, or insmod sidecar.ko)";
    case EACCES:
    case EPERM:
        return "run as root or give this user access to the device";
    default:
        return NULL;
    }
}

static void *lx_mmap(struct linux_ctx *c, int fd, uint64_t off, size_t len, int prot)
{
    if (c->map_count >= sizeof(c->maps) / sizeof(c->maps[0])) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
    if (p == MAP_FAILED)
        return NULL;
    c->maps[c->map_count++] = (struct linux_map){ p, len };
    return p;
}

static void *lx_map(void *ctx, uint64_t pa, uint64_t size)
{
    struct linux_ctx *c = ctx;
    for (uint32_t n = 0; n < c->node_count; n++) {
        const struct sidecar_output_node *on = &c->output->nodes[n];
        const char *what = NULL;
        void *p = NULL;
        if (pa == on->control_page && size == SIDECAR_PAGE_SIZE) {
            what = "control page";
            p = lx_mmap(c, c->fds[n], SIDECAR_DRV_MMAP_CONTROL, size, PROT_READ | PROT_WRITE);
        } else if (pa == on->shmem_pages_base && size == on->shmem_pages_size) {
            what = "command/register pages";
            p = lx_mmap(c, c->fds[n], SIDECAR_DRV_MMAP_SHMEM, size, PROT_READ | PROT_WRITE);
        } else {
            continue;
        }
        if (!p && !c->map_failed) {
            c->map_failed = what;
            c->map_failed_node = n;
            c->map_errno = errno;
        }
        return p;
    }
    return NULL;
}

/* The core names the CPU by APIC ID; the driver by CPU index. */
static void lx_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    struct linux_ctx *c = ctx;
    (void)vector;               /* the driver sends the node's request_vector */
    uint32_t count = c->params->cpu_count;
    uint32_t start = __atomic_load_n(&c->last_cpu, __ATOMIC_RELAXED);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t cpu = (start + k) % count;
        if (c->params->cpus[cpu].apic_id != apic_id)
            continue;
        __atomic_store_n(&c->last_cpu, cpu, __ATOMIC_RELAXED);
        for (uint32_t n = 0; n < c->node_count; n++) {
            const struct sidecar_params_node *pn = &c->params->nodes[n];
            if (cpu >= pn->base_cpu && cpu - pn->base_cpu < pn->cpu_count) {
                if (ioctl(c->fds[n], SIDECAR_DRV_KICK, (unsigned long)cpu) != 0) {
                    /* The command then times out: the cause stays
                     * readable (sidecar_host_last_error). */
                    int e = errno;
                    struct sidecar_host_error err;
                    char what[64];
                    snprintf(what, sizeof(what), "KICK ioctl (CPU %u) on", cpu);
                    char path[224];
                    snprintf(path, sizeof(path), "%s%u", c->prefix, n);
                    lx_fail_errno(&err, lx_errno_code(e), e, what, path, NULL);
                    shl_error_record(&err);
                }
                return;
            }
        }
        return;
    }
}

static uint64_t lx_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t lx_epoch(void *ctx)
{
    struct linux_ctx *c = ctx;
    uint32_t e = 0;
    (void)ioctl(c->fds[0], SIDECAR_DRV_EPOCH, &e);
    return e;
}

static void lx_wait(void *ctx, uint32_t epoch, uint64_t timeout_ns)
{
    struct linux_ctx *c = ctx;
    uint64_t us = timeout_ns / 1000;
    struct sidecar_drv_wait_epoch w = { .epoch = epoch, .timeout_us = us > 1000000u ? 1000000u : (uint32_t)us };
    if (w.timeout_us == 0)
        w.timeout_us = 1;
    (void)ioctl(c->fds[0], SIDECAR_DRV_WAIT_EPOCH, &w);
}

static void lx_free(struct linux_ctx *c)
{
    for (uint32_t i = 0; i < c->map_count; i++)
        munmap(c->maps[i].p, c->maps[i].len);
    for (uint32_t n = 0; n < SIDECAR_MAX_NODES; n++)
        if (c->fds[n] >= 0)
            close(c->fds[n]);
    free(c);
}

static void lx_close(void *ctx)
{
    lx_free(ctx);
}

static int lx_open(struct sidecar_host *h, const char *device_prefix, struct sidecar_host_error *err)
{
    if (!h)
        return lx_fail(err, SIDECAR_HOST_E_INVALID, "open: the handle is NULL");
    memset(h, 0, sizeof(*h));
    if (!device_prefix)
        device_prefix = SIDECAR_DRV_DEVICE_PREFIX;
    if (strlen(device_prefix) > 200)
        return lx_fail(err, SIDECAR_HOST_E_INVALID, "open: the device prefix is longer than 200 bytes");
    struct linux_ctx *c = aligned_alloc(_Alignof(struct linux_ctx), sizeof(*c));   /* params: page aligned */
    if (!c)
        return lx_fail_errno(err, SIDECAR_HOST_E_NOMEM, ENOMEM, "allocating the transport for", device_prefix, NULL);
    memset(c, 0, sizeof(*c));
    for (uint32_t n = 0; n < SIDECAR_MAX_NODES; n++)
        c->fds[n] = -1;
    snprintf(c->prefix, sizeof(c->prefix), "%s", device_prefix);
    char path[256];
    snprintf(path, sizeof(path), "%s0", device_prefix);
    c->fds[0] = open(path, O_RDWR | O_CLOEXEC);
    if (c->fds[0] < 0) {
        int e = errno;
        lx_free(c);
        return lx_fail_errno(err, lx_errno_code(e), e, "open", path, lx_open_hint(e));
    }
    struct sidecar_drv_node_info ni;
    if (ioctl(c->fds[0], SIDECAR_DRV_NODE_INFO, &ni) != 0) {
        int e = errno;
        lx_free(c);
        /* ENOTTY, EINVAL: some other device or a plain file. */
        return lx_fail_errno(err, e == EACCES || e == EPERM ? SIDECAR_HOST_E_PERMISSION : SIDECAR_HOST_E_INVALID,
                             e, "NODE_INFO ioctl on", path, "not the sidecar driver's device?");
    }
    if (ni.node_count == 0 || ni.node_count > SIDECAR_MAX_NODES) {
        lx_free(c);
        snprintf(err->text, sizeof(err->text), "NODE_INFO ioctl on %s: node_count %u is not 1..%u",
                 path, ni.node_count, (unsigned)SIDECAR_MAX_NODES);
        err->code = SIDECAR_HOST_E_INVALID;
        err->sys_errno = 0;
        return err->code;
    }
    c->node_count = ni.node_count;
    /* Our EPOCH ioctl also makes this fd pollable by attention (the
     * driver's default poll() is OpenHCL's: ended async commands only). */
    uint32_t e0;
    (void)ioctl(c->fds[0], SIDECAR_DRV_EPOCH, &e0);
    for (uint32_t n = 1; n < c->node_count; n++) {
        snprintf(path, sizeof(path), "%s%u", device_prefix, n);
        c->fds[n] = open(path, O_RDWR | O_CLOEXEC);
        if (c->fds[n] < 0) {
            int e = errno;
            lx_free(c);
            return lx_fail_errno(err, lx_errno_code(e), e, "open", path, lx_open_hint(e));
        }
    }
    snprintf(path, sizeof(path), "%s0", device_prefix);
    const struct sidecar_params *live_params =
        lx_mmap(c, c->fds[0], SIDECAR_DRV_MMAP_PARAMS, sizeof(struct sidecar_params), PROT_READ);
    if (!live_params) {
        int e = errno;
        lx_free(c);
        return lx_fail_errno(err, lx_errno_code(e), e, "mmap of the params page of", path, NULL);
    }
    const struct sidecar_output *live_output =
        lx_mmap(c, c->fds[0], SIDECAR_DRV_MMAP_OUTPUT, sizeof(struct sidecar_output), PROT_READ);
    if (!live_output) {
        int e = errno;
        lx_free(c);
        return lx_fail_errno(err, lx_errno_code(e), e, "mmap of the output page of", path, NULL);
    }
    memcpy(&c->params_copy, live_params, sizeof(c->params_copy));
    memcpy(&c->output_copy, live_output, sizeof(c->output_copy));
    c->params = &c->params_copy;
    c->output = &c->output_copy;
    /* The core checks node_count against the params it validates; the
     * map callback must not look beyond what it allows. */
    if (c->output->node_count < c->node_count) {
        uint32_t have = c->output->node_count;
        lx_free(c);
        snprintf(err->text, sizeof(err->text), "output page of %s: node_count %u, the driver has %u devices",
                 path, have, ni.node_count);
        err->code = SIDECAR_HOST_E_INVALID;
        err->sys_errno = 0;
        return err->code;
    }
    struct sidecar_host_transport t = {
        .ctx = c,
        .map = lx_map,
        .send_ipi = lx_send_ipi,
        .now_ns = lx_now_ns,
        .epoch = lx_epoch,
        .wait = lx_wait,
        .close = lx_close,
    };
    int rc = sidecar_host_open_ex(h, &t, c->params, c->output, err);
    if (rc) {
        if (c->map_failed) {
            /* The core saw NULL from the map hook: the errno says why. */
            char what[96];
            snprintf(what, sizeof(what), "mmap of node %u's %s of", c->map_failed_node, c->map_failed);
            snprintf(path, sizeof(path), "%s%u", device_prefix, c->map_failed_node);
            rc = lx_fail_errno(err, lx_errno_code(c->map_errno), c->map_errno, what, path, NULL);
        }
        lx_free(c);
        memset(h, 0, sizeof(*h));
    }
    return rc;
}

int sidecar_host_open_linux_ex(struct sidecar_host *h, const char *device_prefix,
                               struct sidecar_host_error *err)
{
    struct sidecar_host_error local;
    if (!err)
        err = &local;
    int rc = lx_open(h, device_prefix, err);
    shl_error_record(err);
    return rc;
}

/* 0.3's results: no device E_NOTHING, other system call failures
 * E_INVALID (the text, sidecar_host_last_error, keeps the cause). */
int sidecar_host_open_linux(struct sidecar_host *h, const char *device_prefix)
{
    int rc = sidecar_host_open_linux_ex(h, device_prefix, NULL);
    switch (rc) {
    case SIDECAR_HOST_E_NO_DEVICE:
        return SIDECAR_HOST_E_NOTHING;
    case SIDECAR_HOST_E_PERMISSION:
    case SIDECAR_HOST_E_SYSTEM:
        return SIDECAR_HOST_E_INVALID;
    default:
        return rc;
    }
}

int sidecar_host_linux_fd(const struct sidecar_host *h)
{
    if (!h || !h->cpu_count || h->t.close != lx_close)
        return SIDECAR_HOST_E_INVALID;
    return ((const struct linux_ctx *)h->t.ctx)->fds[0];
}

int sidecar_host_linux_device_fd(const struct sidecar_host *h, uint32_t node)
{
    if (!h || !h->cpu_count || h->t.close != lx_close || node >= h->node_count)
        return SIDECAR_HOST_E_INVALID;
    return ((const struct linux_ctx *)h->t.ctx)->fds[node];
}
