/* SPDX-License-Identifier: MIT */
/* libFuzzer: libsidecar-host's linux transport (hostlib/linux/linux.c)
 * over a fake sidecar.ko: this file includes linux.c with open, close,
 * ioctl, mmap and munmap redirected to the fake below, and links the real
 * core (host.c). What the driver returns is input: whether each node's
 * device opens (and its errno), NODE_INFO (any node count), the params and
 * output pages (a healthy sidecar of 2 nodes x 4 CPUs, changed by patches)
 * and what changes in them afterwards: at every call into the fake the
 * input may rewrite bytes of params, output or a control page, as a buggy
 * kernel or firmware could. After an open that succeeds, a program of
 * pings, RUN_VP starts, stops, waits and status reads with zero or short
 * timeouts, the fake sidecar answering (or not) each kick.
 *
 * Checks: every mapping is an exact-size region (params and output
 * read-only, the rest read-write) at the offsets linux_driver.h names,
 * unmapped once; every fd opened is closed once and no other; every KICK
 * goes to the device of the node that holds the CPU, to the sidecar CPU
 * whose APIC ID the library asked for as the library copied it at open
 * (never one a later rewrite points at); WAIT_EPOCH timeouts are 1 us to
 * 1 s; no ioctl the transport does not use; every command page the library
 * hands out is that CPU's own in the pages mapped from its node's device;
 * result codes are the library's; nothing is left open or mapped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

#define NODES 2u
#define PER_NODE 4u
#define CPUS (NODES * PER_NODE)
#define PAGE SIDECAR_PAGE_SIZE
#define CONTROL_PA(n) (0x10000000ull + (uint64_t)(n) * 0x100000ull)
#define SHMEM_PA(n) (CONTROL_PA(n) + PAGE)
#define SHMEM_SIZE (2ull * PER_NODE * PAGE)
#define APIC(c) (0x10u + (c))
#include "fuzz_world.h"
#define FD0 100
#define PREFIX "/dev/fuzz_sidecar"

int fuzz_open(const char *path, int flags, ...);
int fuzz_close(int fd);
int fuzz_ioctl(int fd, unsigned long request, ...);
void *fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int fuzz_munmap(void *addr, size_t len);

#define open(...) fuzz_open(__VA_ARGS__)
#define close(fd) fuzz_close(fd)
#define ioctl(...) fuzz_ioctl(__VA_ARGS__)
#define mmap(...) fuzz_mmap(__VA_ARGS__)
#define munmap(...) fuzz_munmap(__VA_ARGS__)
#include "../../hostlib/linux/linux.c"
#undef open
#undef close
#undef ioctl
#undef mmap
#undef munmap

/* ---- the input ------------------------------------------------------------ */

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t u8(void) { return in_pos < in_len ? in[in_pos++] : 0; }
static uint64_t un(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)u8() << (8 * i);
    return v;
}

/* ---- the fake driver's memory ---------------------------------------------- */

static struct sidecar_params *params;
static struct sidecar_output *output;
static uint8_t *control[NODES], *shmem[NODES];

static void __attribute__((constructor)) setup(void)
{
    params = aligned_alloc(PAGE, sizeof(*params));
    output = aligned_alloc(PAGE, sizeof(*output));
    for (uint32_t n = 0; n < NODES; n++) {
        control[n] = aligned_alloc(PAGE, PAGE);
        shmem[n] = aligned_alloc(PAGE, SHMEM_SIZE);
    }
}

static void healthy(void)
{
    fuzz_world_healthy(params, output, control, shmem, SHMEM_SIZE, APIC(0), 1u);
}

/* A rewrite: a byte-sized to 8-byte change anywhere in params, output or
 * a control page (op bits 0-1 size, bits 2-3 region, bit 4: the first
 * 4 KiB + 64 CPU entries of params/output rather than anywhere). */
static void rewrite(void)
{
    uint8_t op = u8();
    unsigned size = 1u << (op & 3);
    uint8_t *base;
    size_t len;
    switch ((op >> 2) & 3) {
    case 0: base = (uint8_t *)params; len = sizeof(*params); break;
    case 1: base = (uint8_t *)output; len = sizeof(*output); break;
    default: base = control[(op >> 2) & 1]; len = PAGE; break;
    }
    size_t off = (size_t)un(2);
    off = op & 0x10 && len > 4096 + 512 ? off % (4096 + 512) : off % len;
    if (off > len - size)
        off = len - size;
    uint64_t v = un(size);
    memcpy(base + off, &v, size);
}

/* While the library runs: maybe rewrite something (script byte bit 7). */
static void hostile_moment(void)
{
    if (u8() & 0x80)
        rewrite();
}

/* ---- the fake syscalls ------------------------------------------------------- */

static uint32_t node_info_count;
static int fail_open_node = -1, fail_errno;
static uint8_t fds_open[SIDECAR_MAX_NODES];
static int is_open;   /* open succeeded: the library's view is fixed */

struct mapping {
    void *p;
    size_t len;
};
static struct mapping maps[64];
static unsigned map_count, unmap_count;
static uint32_t epoch;
static struct sidecar_host host;
static uint32_t asked_apic;

/* The library's IPI, seen before the transport turns it into a KICK. */
static void spy_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    asked_apic = apic_id;
    lx_send_ipi(ctx, apic_id, vector);
}

int fuzz_open(const char *path, int flags, ...)
{
    if (strncmp(path, PREFIX, strlen(PREFIX)) || (flags & O_ACCMODE) != O_RDWR || !(flags & O_CLOEXEC))
        abort();
    char *end;
    unsigned long n = strtoul(path + strlen(PREFIX), &end, 10);
    if (*end || n >= SIDECAR_MAX_NODES)
        abort();
    if ((int)n == fail_open_node) {
        errno = fail_errno;
        return -1;
    }
    if (fds_open[n])
        abort();   /* a node's device opened twice */
    fds_open[n] = 1;
    return FD0 + (int)n;
}

int fuzz_close(int fd)
{
    if (fd < FD0 || fd >= FD0 + (int)SIDECAR_MAX_NODES || !fds_open[fd - FD0])
        abort();   /* not ours, or closed twice */
    fds_open[fd - FD0] = 0;
    return 0;
}

static unsigned node_of_fd(int fd)
{
    if (fd < FD0 || fd >= FD0 + (int)SIDECAR_MAX_NODES || !fds_open[fd - FD0])
        abort();
    return (unsigned)(fd - FD0);
}

int fuzz_ioctl(int fd, unsigned long request, ...)
{
    unsigned n = node_of_fd(fd);
    va_list ap;
    va_start(ap, request);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    hostile_moment();
    switch (request) {
    case SIDECAR_DRV_NODE_INFO: {
        struct sidecar_drv_node_info *ni = (void *)arg;
        memset(ni, 0, sizeof(*ni));
        ni->index = n;
        ni->node_count = node_info_count;
        return 0;
    }
    case SIDECAR_DRV_EPOCH:
        if (n != 0)
            abort();
        *(uint32_t *)arg = epoch;
        return 0;
    case SIDECAR_DRV_WAIT_EPOCH: {
        const struct sidecar_drv_wait_epoch *w = (const void *)arg;
        if (n != 0 || w->timeout_us < 1 || w->timeout_us > 1000000)
            abort();
        if (u8() & 1)
            epoch++;
        return 0;
    }
    case SIDECAR_DRV_KICK: {
        if (!is_open)
            abort();   /* nothing to kick before open succeeded */
        uint32_t cpu = (uint32_t)arg, node, index;
        /* the CPU the library meant (its APIC ID as the library copied it
         * at open), in the node whose device is kicked */
        if (cpu >= CPUS || sidecar_host_locate(&host, cpu, &node, &index) != SIDECAR_HOST_OK || node != n ||
            host.apic_id[cpu] != asked_apic || host.role[cpu] != SIDECAR_CPU_ROLE_SIDECAR)
            abort();
        /* the sidecar answers (or not): the command done, attention raised */
        uint8_t a = u8();
        struct sidecar_control_page *cp = (void *)control[n];
        if (a & 1) {
            uint8_t *st = &cp->cpu_status[index];
            if (*st == SIDECAR_CPU_STATUS_RUN || *st == SIDECAR_CPU_STATUS_STOP)
                *st = a & 2 ? SIDECAR_CPU_STATUS_IDLE : u8();
            cp->needs_attention = 1;
            epoch++;
        }
        return 0;
    }
    default:
        abort();   /* an ioctl the transport does not use */
    }
}

void *fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    unsigned n = node_of_fd(fd);
    if (addr || flags != MAP_SHARED)
        abort();
    hostile_moment();
    if (u8() == 0xff)
        return MAP_FAILED;   /* the driver refuses */
    void *p;
    int ro = 0;
    switch ((uint64_t)off) {
    case SIDECAR_DRV_MMAP_PARAMS:
        if (n != 0 || len != sizeof(struct sidecar_params))
            abort();
        p = params, ro = 1;
        break;
    case SIDECAR_DRV_MMAP_OUTPUT:
        if (n != 0 || len != sizeof(struct sidecar_output))
            abort();
        p = output, ro = 1;
        break;
    case SIDECAR_DRV_MMAP_CONTROL:
        if (len != PAGE || n >= NODES)
            return MAP_FAILED;   /* the driver maps only its nodes' pages */
        p = control[n];
        break;
    case SIDECAR_DRV_MMAP_SHMEM:
        if (len != SHMEM_SIZE || n >= NODES)
            return MAP_FAILED;   /* the driver: exactly the node's pages */
        p = shmem[n];
        break;
    default:
        abort();
    }
    if (prot != (ro ? PROT_READ : (PROT_READ | PROT_WRITE)))
        abort();
    if (map_count >= sizeof(maps) / sizeof(maps[0]))
        abort();
    maps[map_count++] = (struct mapping){ p, len };
    return p;
}

int fuzz_munmap(void *addr, size_t len)
{
    for (unsigned i = 0; i < map_count; i++)
        if (maps[i].p == addr && maps[i].len == len) {
            maps[i].p = NULL;   /* once */
            unmap_count++;
            return 0;
        }
    abort();
}

/* ---- the run ------------------------------------------------------------------- */

static int code_ok(int rc) { return rc <= 0 && rc >= SIDECAR_HOST_E_VECTOR; }

/* The command page the library hands out is that CPU's own, in the pages
 * mapped from its node's device (never another node's: no aliasing,
 * whatever the pages said). */
static void check_pages(void)
{
    for (uint32_t c = 0; c < CPUS; c++) {
        struct sidecar_command_page *cpg = sidecar_host_command_page(&host, c);
        uint32_t node, index;
        if (!cpg)
            continue;
        if (sidecar_host_locate(&host, c, &node, &index) != SIDECAR_HOST_OK || node >= NODES ||
            (uint8_t *)cpg != shmem[node] + (size_t)index * 2 * PAGE)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    healthy();
    uint8_t how = u8();
    node_info_count = how & 1 ? (uint32_t)un(4) : NODES;
    fail_open_node = how & 2 ? u8() % 3 : -1;
    static const int errnos[] = { ENOENT, ENODEV, ENXIO, ENOMEM, EBUSY, EACCES, EINVAL };
    fail_errno = errnos[u8() % 7];
    unsigned patches = u8() % 8;
    for (unsigned i = 0; i < patches; i++)
        rewrite();
    memset(fds_open, 0, sizeof(fds_open));
    map_count = unmap_count = 0;
    is_open = 0;
    epoch = 0;

    memset(&host, 0x5a, sizeof(host));
    int rc = sidecar_host_open_linux(&host, PREFIX);
    if (!code_ok(rc))
        abort();
    if (rc != SIDECAR_HOST_OK) {
        /* Nothing left behind. */
        for (unsigned n = 0; n < SIDECAR_MAX_NODES; n++)
            if (fds_open[n])
                abort();
        if (unmap_count != map_count)
            abort();
        return 0;
    }
    is_open = 1;
    host.t.send_ipi = spy_send_ipi;
    for (uint32_t c = 0; c < CPUS; c++)
        if (host.role[c] == SIDECAR_CPU_ROLE_SIDECAR && sidecar_host_acquire(&host, c) != SIDECAR_HOST_OK)
            abort();
    if (sidecar_host_node_count(&host) != NODES || sidecar_host_cpu_count(&host) != CPUS ||
        sidecar_host_linux_fd(&host) != FD0)
        abort();
    check_pages();
    unsigned steps = u8() % 16;
    for (unsigned s = 0; s < steps; s++) {
        uint8_t op = u8();
        uint32_t cpu = u8() % (CPUS + 1);
        uint64_t timeout = op & 0x80 ? 100000 : 0;
        switch (op & 7) {
        case 0: rc = sidecar_host_ping(&host, cpu, timeout); break;
        case 1: rc = sidecar_host_run_vp_start(&host, cpu); break;
        case 2: rc = sidecar_host_stop(&host, cpu); break;
        case 3: rc = sidecar_host_wait(&host, cpu, timeout); break;
        case 4: rc = sidecar_host_cpu_status(&host, cpu); rc = rc < 0 ? rc : 0; break;
        case 5: {
            struct sidecar_host_completion got;
            rc = sidecar_host_wait_any(&host, timeout, &got);
            break;
        }
        case 6: rc = sidecar_host_remove(&host, cpu, timeout); break;
        default: rewrite(); rc = 0; break;
        }
        if (!code_ok(rc))
            abort();
        check_pages();
    }
    sidecar_host_close(&host);
    for (unsigned n = 0; n < SIDECAR_MAX_NODES; n++)
        if (fds_open[n])
            abort();   /* a device left open */
    if (unmap_count != map_count)
        abort();       /* a mapping left behind */
    return 0;
}

