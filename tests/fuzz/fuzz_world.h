/* SPDX-License-Identifier: MIT */
/* The healthy sidecar world the host-side and kernel fuzz targets start
 * each input from: params (and output and control pages) as a shim and
 * kernel leave them, NODES nodes of PER_NODE CPUs, node n's memory at
 * CONTROL_PA(n), its control page first, then its command/register pages.
 * The includer defines NODES, PER_NODE, CPUS, PAGE and CONTROL_PA(n) and
 * has the generated ABI header (<sidecar/abi.h>, through host.h or kcore.h)
 * and <string.h>. */
#ifndef SIDECAR_FUZZ_WORLD_H
#define SIDECAR_FUZZ_WORLD_H

#define FUZZ_NODE_SIZE (((uint64_t)SIDECAR_NODE_FIXED_PAGES + (uint64_t)SIDECAR_CPU_PAGES * PER_NODE) * PAGE)

/* The params header and node table; the CPU table is the caller's. */
static inline void fuzz_params_healthy(struct sidecar_params *params)
{
    memset(params, 0, sizeof(*params));
    params->magic = SIDECAR_PARAMS_MAGIC;
    params->abi_major = SIDECAR_ABI_MAJOR;
    params->abi_minor = SIDECAR_ABI_MINOR;
    params->size = sizeof(*params);
    params->apic_mode = SIDECAR_APIC_MODE_X2APIC;
    params->node_count = NODES;
    params->cpu_count = CPUS;
    params->trampoline_page = 0x8000;
    params->guest_ram_base = 0x40000000;
    params->guest_ram_size = 0x200000;
    params->ap_timeout_us = 1000;
    params->serial_port = 0x3f8;
    for (uint32_t n = 0; n < NODES; n++) {
        struct sidecar_params_node *pn = &params->nodes[n];
        pn->memory_base = CONTROL_PA(n);
        pn->memory_size = FUZZ_NODE_SIZE;
        pn->base_cpu = n * PER_NODE;
        pn->cpu_count = PER_NODE;
    }
}

/* The whole world after a good bring-up, as the host sees it: params with
 * CPU c at APIC ID apic_base + c, a main CPU where bit c of main_mask is
 * set (REMOVED in its control page), every other CPU IDLE; the output page
 * to match; control pages with their identity fields; command pages zero
 * (shmem[n]: shmem_size bytes of node n's pages after its control page). */
static inline void fuzz_world_healthy(struct sidecar_params *params, struct sidecar_output *output,
                                      uint8_t *const *control, uint8_t *const *shmem, uint64_t shmem_size,
                                      uint32_t apic_base, uint32_t main_mask)
{
    fuzz_params_healthy(params);
    memset(output, 0, sizeof(*output));
    output->magic = SIDECAR_OUTPUT_MAGIC;
    output->abi_major = SIDECAR_ABI_MAJOR;
    output->abi_minor = SIDECAR_ABI_MINOR;
    output->node_count = NODES;
    output->cpu_count = CPUS;
    output->apic_mode = SIDECAR_APIC_MODE_X2APIC;
    output->pages_per_cpu = SIDECAR_CPU_PAGES;
    for (uint32_t n = 0; n < NODES; n++) {
        output->nodes[n].control_page = CONTROL_PA(n);
        output->nodes[n].shmem_pages_base = CONTROL_PA(n) + PAGE;
        output->nodes[n].shmem_pages_size = shmem_size;
        memset(control[n], 0, PAGE);
        memset(shmem[n], 0, shmem_size);
        struct sidecar_control_page *cp = (void *)control[n];
        cp->index = n;
        cp->base_cpu = n * PER_NODE;
        cp->cpu_count = PER_NODE;
        cp->request_vector = SIDECAR_REQUEST_VECTOR;
        cp->magic = SIDECAR_CONTROL_MAGIC;
        cp->abi_major = SIDECAR_ABI_MAJOR;
        cp->abi_minor = SIDECAR_ABI_MINOR;
        for (uint32_t i = 0; i < PER_NODE; i++) {
            uint32_t c = n * PER_NODE + i;
            int main = (main_mask >> c) & 1;
            params->cpus[c].apic_id = apic_base + c;
            params->cpus[c].role = main ? SIDECAR_CPU_ROLE_MAIN : SIDECAR_CPU_ROLE_SIDECAR;
            params->cpus[c].reason = main ? SIDECAR_CPU_REASON_NUMA_FIRST : SIDECAR_CPU_REASON_SIDECAR_NODE;
            params->cpus[c].numa_node = (uint16_t)n;
            output->cpus[c].apic_id = apic_base + c;
            output->cpus[c].status = main ? SIDECAR_CPU_STATUS_REMOVED : SIDECAR_CPU_STATUS_IDLE;
            output->cpus[c].started_by = main ? SIDECAR_NO_CPU : 0;
            output->cpus[c].node = main ? SIDECAR_NO_CPU : n;
            output->cpus[c].round = main ? 0 : 1;
            output->ready_count += !main;
            cp->cpu_status[i] = main ? SIDECAR_CPU_STATUS_REMOVED : SIDECAR_CPU_STATUS_IDLE;
        }
    }
}

#endif
