/* SPDX-License-Identifier: GPL-2.0-only */
/* sidecar-ping: every sidecar CPU the driver offers answers a NONE command
 * sent from Linux user space through libsidecar-host's linux transport.
 *
 * usage: sidecar-ping [--expect N] [--list NODE] [--numbering]
 *   --expect N   exactly N CPUs must answer (default: every CPU that is
 *                not REMOVED, at least one)
 *   --list NODE  print the Linux CPU numbers of NODE's sidecar CPUs that
 *                are still in sidecar (for the onlining tests), and exit
 *   --numbering  check that every sidecar CPU's Linux CPU number equals its
 *                index (the ioctls' CPU argument), that the nodes' INFO
 *                ranges tile every CPU from 0 and that each base_cpu is an
 *                online Linux CPU (what OpenHCL's client needs), print
 *                "sidecar-ping: numbering same=S of=T tiled=0|1
 *                bases_online=B of=N" and exit (0 when all hold)
 * Prints one line "sidecar-ping: answered=A of=T removed=R irqs=I vector=V"
 * and exits 0 when every CPU asked answered (and A == N with --expect)
 * and the answers came by the response IPI (the driver counted IRQs). */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

#define TIMEOUT_NS 10000000000ull

static struct sidecar_host h;

int main(int argc, char **argv)
{
    long expect = -1, list = -1;
    bool numbering = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--expect") && i + 1 < argc)
            expect = strtol(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--list") && i + 1 < argc)
            list = strtol(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--numbering"))
            numbering = true;
        else {
            fprintf(stderr, "usage: sidecar-ping [--expect N] [--list NODE] [--numbering]\n");
            return 2;
        }
    }
    int rc = sidecar_host_open_linux(&h, NULL);
    if (rc) {
        printf("sidecar-ping: open: %s\n", sidecar_host_strerror(rc));
        return 1;
    }
    if (numbering) {
        uint32_t same = 0, total = 0;
        for (uint32_t n = 0; n < sidecar_host_node_count(&h); n++) {
            struct sidecar_host_node_info info;
            sidecar_host_node_info(&h, n, &info);
            int fd = sidecar_host_linux_device_fd(&h, n);
            for (uint32_t cpu = info.base_cpu; cpu < info.base_cpu + info.cpu_count; cpu++) {
                struct sidecar_drv_cpu_info ci = { .cpu = cpu };
                if (ioctl(fd, SIDECAR_DRV_CPU_INFO, &ci) != 0 || ci.role != SIDECAR_CPU_ROLE_SIDECAR)
                    continue;
                total++;
                if (ci.linux_cpu == (int32_t)cpu)
                    same++;
                else
                    printf("sidecar-ping: CPU %u is Linux CPU %d\n", cpu, ci.linux_cpu);
            }
        }
        /* OpenHCL's client: INFO ranges tile every CPU from 0 (it asserts
         * each node starts where the previous ended) and each node's
         * base_cpu is an online Linux CPU (it runs the node's poller). */
        uint32_t expected_base = 0, bases_online = 0, nodes = sidecar_host_node_count(&h);
        bool tiled = true;
        for (uint32_t n = 0; n < nodes; n++) {
            struct mshv_vtl_sidecar_info oi;
            int fd = sidecar_host_linux_device_fd(&h, n);
            if (ioctl(fd, MSHV_VTL_SIDECAR_INFO, &oi) != 0 || oi.base_cpu != expected_base) {
                printf("sidecar-ping: node %u INFO base_cpu %u, expected %u\n", n, oi.base_cpu, expected_base);
                tiled = false;
                break;
            }
            expected_base = oi.base_cpu + oi.cpu_count;
            char path[96], c = 0;
            snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/online", oi.base_cpu);
            FILE *f = fopen(path, "r");
            if (oi.base_cpu == 0 || (f && fread(&c, 1, 1, f) == 1 && c == '1'))
                bases_online++;
            if (f)
                fclose(f);
        }
        printf("sidecar-ping: numbering same=%u of=%u tiled=%d bases_online=%u of=%u\n", same, total, tiled,
               bases_online, nodes);
        sidecar_host_close(&h);
        return same == total && total && tiled && bases_online == nodes ? 0 : 1;
    }
    uint32_t answered = 0, asked = 0, removed = 0, failed = 0;
    static uint64_t node_irqs[SIDECAR_MAX_NODES];
    static uint32_t node_asked[SIDECAR_MAX_NODES];
    uint32_t vector = 0;
    for (uint32_t n = 0; n < sidecar_host_node_count(&h); n++) {
        struct sidecar_drv_node_info ni;
        if (ioctl(sidecar_host_linux_device_fd(&h, n), SIDECAR_DRV_NODE_INFO, &ni) == 0) {
            node_irqs[n] = ni.attention_irqs;
            vector = ni.response_vector;
        }
    }
    for (uint32_t n = 0; n < sidecar_host_node_count(&h); n++) {
        struct sidecar_host_node_info info;
        sidecar_host_node_info(&h, n, &info);
        int fd = sidecar_host_linux_device_fd(&h, n);
        if (list >= 0 && (uint32_t)list != n)
            continue;
        for (uint32_t cpu = info.base_cpu; cpu < info.base_cpu + info.cpu_count; cpu++) {
            struct sidecar_drv_cpu_info ci = { .cpu = cpu };
            if (ioctl(fd, SIDECAR_DRV_CPU_INFO, &ci) != 0) {
                printf("sidecar-ping: CPU_INFO %u failed\n", cpu);
                return 1;
            }
            if (ci.role != SIDECAR_CPU_ROLE_SIDECAR)
                continue;
            if (ci.status == SIDECAR_CPU_STATUS_REMOVED) {
                removed++;
                continue;
            }
            if (list >= 0) {
                printf("%d\n", ci.linux_cpu);
                continue;
            }
            asked++;
            node_asked[n]++;
            rc = sidecar_host_acquire(&h, cpu);
            if (!rc)
                rc = sidecar_host_ping(&h, cpu, TIMEOUT_NS);
            sidecar_host_release(&h, cpu);
            if (rc) {
                failed++;
                printf("sidecar-ping: CPU %u (APIC ID %u, Linux CPU %d): %s\n", cpu, ci.apic_id, ci.linux_cpu,
                       sidecar_host_strerror(rc));
            } else {
                answered++;
            }
        }
    }
    if (list >= 0) {
        sidecar_host_close(&h);
        return 0;
    }
    /* Every node that answered must have raised its response IPI (the
     * driver counts them per node). A sidecar CPU stores IDLE before it
     * sends the IPI, and under TCG the IPI (an APIC MMIO write) can lag
     * the store by a lot, so the library may have seen the answer first
     * (it re-checks every 50 ms): wait for each node's first IPI, bounded
     * generously (a liveness bound, not a timing check). */
    uint64_t irqs = 0;
    bool ipi_ok = true;
    for (uint32_t n = 0; n < sidecar_host_node_count(&h); n++) {
        struct sidecar_drv_node_info ni;
        int fd = sidecar_host_linux_device_fd(&h, n);
        if (ioctl(fd, SIDECAR_DRV_NODE_INFO, &ni) != 0)
            continue;
        for (int tries = 0; tries < 2000 && node_asked[n] && ni.response_vector &&
                            ni.attention_irqs == node_irqs[n]; tries++) {
            usleep(10000);
            if (ioctl(fd, SIDECAR_DRV_NODE_INFO, &ni) != 0)
                break;
        }
        uint64_t d = ni.attention_irqs - node_irqs[n];
        irqs += d;
        if (node_asked[n] && ni.response_vector && d == 0) {
            printf("sidecar-ping: node %u: no response IPI arrived (vector 0x%x to APIC ID %u)\n", n,
                   ni.response_vector, ni.response_apic_id);
            ipi_ok = false;
        }
    }
    printf("sidecar-ping: answered=%u of=%u removed=%u nodes=%u irqs=%llu vector=0x%x\n", answered, asked, removed,
           sidecar_host_node_count(&h), (unsigned long long)irqs, vector);
    sidecar_host_close(&h);
    bool ok = failed == 0 && answered > 0 && (expect < 0 || answered == (uint32_t)expect);
    ok = ok && ipi_ok;
    return ok ? 0 : 1;
}
