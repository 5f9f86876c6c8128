/* SPDX-License-Identifier: GPL-2.0-only */
/* sidecar-vp: the bare-metal main kernel's VP test (mainkernel/vp.c with
 * its guest program mainkernel/guest.asm) from Linux user space: the guest
 * runs at CPL3 on sidecar CPUs, and every IO-port, MSR, CPUID, HLT, MMIO
 * (unmapped GPA read and write) and exception intercept is emulated here,
 * through libsidecar-host's linux transport.
 *
 * Guest RAM is mapped from the driver (SIDECAR_DRV_MMAP_GUEST_RAM) at the
 * virtual address equal to its physical address, which is how vp.c (written
 * for an identity-mapped main kernel) reaches it.
 *
 * usage: sidecar-vp [--cpus N] [--online-busy]
 *   --cpus N        test the first N sidecar CPUs (default 4; 0 = all)
 *   --online-busy   afterwards, start the guest's endless loop on the last
 *                   tested CPU and online it in Linux while it runs: the
 *                   driver's hotplug callback must stop the run (it ends
 *                   STOPPED), remove the CPU, and Linux must start it
 * Prints "sidecar-vp: ..." lines; exit 0 when everything passed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

#include "vp.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static struct sidecar_host h;

static int online(int linux_cpu)
{
    char path[96];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", linux_cpu);
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -errno;
    int rc = write(fd, "1", 1) == 1 ? 0 : -errno;
    close(fd);
    return rc;
}

/* The CPU was converted right after its run ended, so the library reports
 * E_REMOVED for the wait: the command page tells how the run ended (the
 * sidecar took the RUN_VP, answered 0 = stopped, no error). */
static bool stopped_cleanly(const struct sidecar_host *hh, uint32_t cpu)
{
    const struct sidecar_command_page *cp = sidecar_host_command_page(hh, cpu);
    return cp && cp->command == SIDECAR_COMMAND_NONE && !cp->has_error && cp->request_data[0] == 0;
}

int main(int argc, char **argv)
{
    long want = 4;
    bool online_busy = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpus") && i + 1 < argc)
            want = strtol(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--online-busy"))
            online_busy = true;
        else {
            fprintf(stderr, "usage: sidecar-vp [--cpus N] [--online-busy]\n");
            return 2;
        }
    }
    int rc = sidecar_host_open_linux(&h, NULL);
    if (rc) {
        printf("sidecar-vp: open: %s\n", sidecar_host_strerror(rc));
        return 1;
    }
    int fd0 = sidecar_host_linux_device_fd(&h, 0);
    struct sidecar_drv_node_info ni;
    if (ioctl(fd0, SIDECAR_DRV_NODE_INFO, &ni) != 0 || !ni.guest_ram_size) {
        printf("sidecar-vp: no guest RAM\n");
        return 1;
    }
    void *ram = mmap((void *)(uintptr_t)ni.guest_ram_base, ni.guest_ram_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED_NOREPLACE, fd0, (off_t)SIDECAR_DRV_MMAP_GUEST_RAM);
    if (ram != (void *)(uintptr_t)ni.guest_ram_base) {
        printf("sidecar-vp: cannot map guest RAM at 0x%llx (%s)\n", (unsigned long long)ni.guest_ram_base,
               strerror(errno));
        return 1;
    }
    const struct sidecar_output *out = mmap(NULL, sizeof(*out), PROT_READ, MAP_SHARED, fd0,
                                            (off_t)SIDECAR_DRV_MMAP_OUTPUT);
    if (out == MAP_FAILED) {
        printf("sidecar-vp: cannot map the output pages\n");
        return 1;
    }
    static uint32_t cpus[SIDECAR_MAX_CPUS];
    static int linux_cpus[SIDECAR_MAX_CPUS];
    uint32_t n = 0;
    for (uint32_t cpu = 0; cpu < sidecar_host_cpu_count(&h) && (want == 0 || n < (uint32_t)want); cpu++) {
        uint32_t node, index;
        if (sidecar_host_locate(&h, cpu, &node, &index) || sidecar_host_cpu_status(&h, cpu) != SIDECAR_CPU_STATUS_IDLE)
            continue;
        struct sidecar_drv_cpu_info ci = { .cpu = cpu };
        ioctl(sidecar_host_linux_device_fd(&h, node), SIDECAR_DRV_CPU_INFO, &ci);
        linux_cpus[n] = ci.linux_cpu;
        cpus[n++] = cpu;
    }
    if (!n) {
        printf("sidecar-vp: no idle sidecar CPU\n");
        return 1;
    }
    static struct mk_vp_result r;
    mk_vp_test(&h, h.params, cpus, n, out->tsc_khz, out->cpuid_faulting, &r);
    printf("sidecar-vp: ok=%d cpus=%u passed=%u intercepts=%u stops=%u cpuid_intercept=%d error=\"%s\"\n", r.ok,
           r.cpus, r.passed, r.intercepts, r.stops, r.cpuid_intercept, r.error);
    bool ok = r.ok && r.passed == n && r.intercepts > 0;
    if (ok && online_busy) {
        uint32_t cpu = cpus[n - 1];
        const char *why = "";
        /* Start the endless loop and leave it running. */
        rc = sidecar_host_acquire(&h, cpu);
        struct sidecar_hv_register_assoc regs[2] = { 0 };
        regs[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
        regs[0].value.low = ni.guest_ram_base + 0x1000;
        regs[1].name = SIDECAR_HV_REGISTER_NAME_RFLAGS;
        regs[1].value.low = 2;
        /* jmp $ at guest RAM + 0x1000, past the test program. */
        memcpy((uint8_t *)ram + 0x1000, "\xeb\xfe", 2);
        if (!rc)
            rc = sidecar_host_set_registers(&h, cpu, 0, regs, 2, 5000000000ull, NULL);
        if (!rc)
            rc = sidecar_host_run_vp_start(&h, cpu);
        if (rc) {
            why = "could not start the loop";
        } else {
            int orc = online(linux_cpus[n - 1]);
            int wrc = sidecar_host_wait(&h, cpu, 10000000000ull);
            int st = sidecar_host_cpu_status(&h, cpu);
            printf("sidecar-vp: online-busy: CPU %u = Linux CPU %d: online %d, the run ended %d (%s), status %d\n",
                   cpu, linux_cpus[n - 1], orc, wrc, wrc < 0 ? sidecar_host_strerror(wrc) : "stopped=0",
                   st);
            if (orc)
                why = "onlining failed";
            else if (wrc != SIDECAR_HOST_RUN_STOPPED && wrc != SIDECAR_HOST_RUN_INTERCEPT &&
                     !(wrc == SIDECAR_HOST_E_REMOVED && stopped_cleanly(&h, cpu)))
                why = "the run did not end cleanly";
            else if (st != SIDECAR_CPU_STATUS_REMOVED)
                why = "the CPU is not REMOVED";
        }
        sidecar_host_release(&h, cpu);
        printf("sidecar-vp: online-busy: %s\n", *why ? why : "ok");
        ok = !*why;
    }
    sidecar_host_close(&h);
    return ok ? 0 : 1;
}
