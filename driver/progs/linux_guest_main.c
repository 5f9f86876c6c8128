/* SPDX-License-Identifier: GPL-2.0-only */
/* sidecar-linux-guest: a Linux kernel as a guest on a sidecar VP, driven
 * from Linux user space through sidecar.ko and libsidecar-host's linux
 * transport, by the same VMM code the bare-metal main kernel uses
 * (mainkernel/linux_vmm.c; docs/svm.md). Needs the svm backend.
 *
 *   sidecar-linux-guest BZIMAGE [INITRD]
 *
 * Prints the guest's console as "linux: " lines and one result line
 * "sidecar-linux-guest: ok=... banner=... cmdline=... e820=... lines=N
 * intercepts=N end=..." (driver/tests/drv-linux-guest.sh reads it).
 * Exit status 0 when the guest printed its banner, memory map and command
 * line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

#include "arch/x86_64/fwcfg.h"
#include "linux_vmm.h"
#include "report.h"

static struct sidecar_host h;
static const char *files[2];     /* "opt/sidecar/guest-kernel", ".../guest-initrd" */

/* The VMM's output: the console as it comes. */
void mk_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* The VMM's files: in the main kernel they come through QEMU's fw_cfg,
 * here from the paths on the command line. */
bool mk_fwcfg_find(const char *name, struct mk_fwcfg_file *f)
{
    int k = !strcmp(name, "opt/sidecar/guest-kernel") ? 0 : !strcmp(name, "opt/sidecar/guest-initrd") ? 1 : -1;
    struct stat st;
    if (k < 0 || !files[k] || stat(files[k], &st) != 0 || st.st_size <= 0 || st.st_size > 0x7fffffff)
        return false;
    f->size = (uint32_t)st.st_size;
    f->select = (uint16_t)k;
    return true;
}

bool mk_fwcfg_read(const struct mk_fwcfg_file *f, uint64_t pa, uint32_t n)
{
    if (f->select > 1 || n > f->size)
        return false;
    FILE *fh = fopen(files[f->select], "rb");
    if (!fh)
        return false;
    /* Guest RAM is mapped at its physical address (below). */
    size_t got = fread((void *)(uintptr_t)pa, 1, n, fh);
    fclose(fh);
    return got == n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: sidecar-linux-guest BZIMAGE [INITRD]\n");
        return 2;
    }
    files[0] = argv[1];
    files[1] = argc > 2 ? argv[2] : NULL;
    int rc = sidecar_host_open_linux(&h, NULL);
    if (rc) {
        printf("sidecar-linux-guest: open: %s\n", sidecar_host_strerror(rc));
        return 1;
    }
    if (strcmp(sidecar_host_vp_backend(&h), "svm") != 0) {
        printf("sidecar-linux-guest: the sidecar runs VPs with %s, not svm (sidecar.vp_backend=svm)\n",
               sidecar_host_vp_backend(&h));
        return 1;
    }
    int fd0 = sidecar_host_linux_device_fd(&h, 0);
    struct sidecar_drv_node_info ni;
    if (ioctl(fd0, SIDECAR_DRV_NODE_INFO, &ni) != 0 || !ni.guest_ram_size) {
        printf("sidecar-linux-guest: no guest RAM\n");
        return 1;
    }
    void *ram = mmap((void *)(uintptr_t)ni.guest_ram_base, ni.guest_ram_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED_NOREPLACE, fd0, (off_t)SIDECAR_DRV_MMAP_GUEST_RAM);
    const struct sidecar_output *out = mmap(NULL, sizeof(*out), PROT_READ, MAP_SHARED, fd0,
                                            (off_t)SIDECAR_DRV_MMAP_OUTPUT);
    if (ram != (void *)(uintptr_t)ni.guest_ram_base || out == MAP_FAILED) {
        printf("sidecar-linux-guest: cannot map guest RAM at 0x%llx or the output pages (%s)\n",
               (unsigned long long)ni.guest_ram_base, strerror(errno));
        return 1;
    }
    uint32_t cpu = SIDECAR_NO_CPU;
    for (uint32_t c = 0; c < sidecar_host_cpu_count(&h) && cpu == SIDECAR_NO_CPU; c++) {
        uint32_t node, index;
        if (!sidecar_host_locate(&h, c, &node, &index) && sidecar_host_cpu_status(&h, c) == SIDECAR_CPU_STATUS_IDLE)
            cpu = c;
    }
    if (cpu == SIDECAR_NO_CPU) {
        printf("sidecar-linux-guest: no idle sidecar CPU\n");
        return 1;
    }
    static struct mk_linux_guest_result r;
    mk_linux_guest_boot(&h, h.params, cpu, out->tsc_khz ? out->tsc_khz : 1, &r);
    printf("sidecar-linux-guest: ok=%d cpu=%u banner=%d cmdline=%d e820=%d lines=%u intercepts=%u io=%u "
           "cpuid=%u msr=%u mmio=%u end=\"%s\" error=\"%s\"\n", r.ok, r.cpu, r.banner, r.cmdline, r.e820, r.lines,
           r.intercepts, r.io, r.cpuid, r.msr, r.mmio, r.end, r.error);
    return r.ok ? 0 : 1;
}
