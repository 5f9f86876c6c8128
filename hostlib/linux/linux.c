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
};

static void *lx_mmap(struct linux_ctx *c, int fd, uint64_t off, size_t len, int prot)
{
    if (c->map_count >= sizeof(c->maps) / sizeof(c->maps[0]))
        return NULL;
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
        if (pa == on->control_page && size == SIDECAR_PAGE_SIZE)
            return lx_mmap(c, c->fds[n], SIDECAR_DRV_MMAP_CONTROL, size, PROT_READ | PROT_WRITE);
        if (pa == on->shmem_pages_base && size == on->shmem_pages_size)
            return lx_mmap(c, c->fds[n], SIDECAR_DRV_MMAP_SHMEM, size, PROT_READ | PROT_WRITE);
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
                (void)ioctl(c->fds[n], SIDECAR_DRV_KICK, (unsigned long)cpu);
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

static int lx_errno_code(int e)
{
    switch (e) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return SIDECAR_HOST_E_NOTHING;
    case ENOMEM:
        return SIDECAR_HOST_E_NOMEM;
    case EBUSY:
        return SIDECAR_HOST_E_BUSY;
    default:
        return SIDECAR_HOST_E_INVALID;
    }
}

int sidecar_host_open_linux(struct sidecar_host *h, const char *device_prefix)
{
    if (!h)
        return SIDECAR_HOST_E_INVALID;
    memset(h, 0, sizeof(*h));
    if (!device_prefix)
        device_prefix = SIDECAR_DRV_DEVICE_PREFIX;
    if (strlen(device_prefix) > 200)
        return SIDECAR_HOST_E_INVALID;
    struct linux_ctx *c = aligned_alloc(_Alignof(struct linux_ctx), sizeof(*c));   /* params: page aligned */
    if (!c)
        return SIDECAR_HOST_E_NOMEM;
    memset(c, 0, sizeof(*c));
    for (uint32_t n = 0; n < SIDECAR_MAX_NODES; n++)
        c->fds[n] = -1;
    char path[256];
    snprintf(path, sizeof(path), "%s0", device_prefix);
    c->fds[0] = open(path, O_RDWR | O_CLOEXEC);
    if (c->fds[0] < 0) {
        int rc = lx_errno_code(errno);
        lx_free(c);
        return rc;
    }
    struct sidecar_drv_node_info ni;
    if (ioctl(c->fds[0], SIDECAR_DRV_NODE_INFO, &ni) != 0 || ni.node_count == 0 ||
        ni.node_count > SIDECAR_MAX_NODES) {
        lx_free(c);
        return SIDECAR_HOST_E_INVALID;    /* not our driver */
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
            int rc = lx_errno_code(errno);
            lx_free(c);
            return rc;
        }
    }
    const struct sidecar_params *live_params =
        lx_mmap(c, c->fds[0], SIDECAR_DRV_MMAP_PARAMS, sizeof(struct sidecar_params), PROT_READ);
    const struct sidecar_output *live_output =
        lx_mmap(c, c->fds[0], SIDECAR_DRV_MMAP_OUTPUT, sizeof(struct sidecar_output), PROT_READ);
    if (!live_params || !live_output) {
        lx_free(c);
        return SIDECAR_HOST_E_INVALID;
    }
    memcpy(&c->params_copy, live_params, sizeof(c->params_copy));
    memcpy(&c->output_copy, live_output, sizeof(c->output_copy));
    c->params = &c->params_copy;
    c->output = &c->output_copy;
    /* The core checks node_count against the params it validates; the
     * map callback must not look beyond what it allows. */
    if (c->output->node_count < c->node_count) {
        lx_free(c);
        return SIDECAR_HOST_E_INVALID;
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
    int rc = sidecar_host_open(h, &t, c->params, c->output);
    if (rc) {
        lx_free(c);
        memset(h, 0, sizeof(*h));
    }
    return rc;
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
