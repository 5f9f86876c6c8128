/* SPDX-License-Identifier: MIT */
/* The boot shim's portable core: ACPI topology, the shim command line, the
 * CPU/memory policy, and the hand-off. No libc, no allocation; compiled
 * freestanding into the shim and natively for the unit tests. Every input
 * (ACPI tables, command line, memory map) is untrusted and validated. */
#ifndef SHIM_CORE_H
#define SHIM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sidecar/abi.h>

#define SHIM_MAX_CPUS SIDECAR_MAX_CPUS
#define SHIM_MAX_NUMA 64
#define SHIM_MAX_MEM_AFFINITY 64
#define SHIM_MAX_RANGES 128
#define SHIM_ERR_SIZE 160

/* Result codes (negative on failure). */
enum {
    SHIM_OK = 0,
    SHIM_E_NOT_FOUND = -1,   /* no RSDP / no MADT */
    SHIM_E_CHECKSUM = -2,
    SHIM_E_MALFORMED = -3,   /* truncated table, bad lengths, bad entries */
    SHIM_E_LIMIT = -4,       /* more CPUs / ranges than we support */
    SHIM_E_INVALID = -5,     /* bad command line value, bad topology */
    SHIM_E_MEMORY = -6,      /* not enough memory */
};

/* Physical memory access: returns NULL when [pa, pa+len) is not readable. */
struct shim_mem {
    const void *(*map)(void *ctx, uint64_t pa, uint64_t len);
    void *ctx;
};

/* Logging: one line per call, no trailing newline. May be NULL. */
struct shim_log {
    void (*write)(void *ctx, const char *line);
    void *ctx;
};

struct shim_cpu {
    uint32_t apic_id;
    uint32_t acpi_uid;
    uint32_t numa_node;      /* index into shim_topology.numa (dense, 0-based) */
};

struct shim_mem_affinity {
    uint64_t base, size;
    uint32_t numa_node;      /* dense index */
};

struct shim_topology {
    uint32_t cpu_count;                 /* enabled CPUs, MADT order */
    /* Online-capable but not enabled (ACPI 6.3+): not present at boot, so
     * never started as sidecar CPUs (each would only run into the AP
     * start timeout); left to the main kernel to hot-add. */
    uint32_t online_capable;
    struct shim_cpu cpus[SHIM_MAX_CPUS];
    uint32_t numa_count;                /* >= 1 */
    uint32_t numa_domain[SHIM_MAX_NUMA];/* SRAT proximity domain of each dense node */
    uint32_t mem_affinity_count;
    struct shim_mem_affinity mem_affinity[SHIM_MAX_MEM_AFFINITY];
    bool has_srat;
    bool no_x2apic;                     /* the boot CPU lacks x2APIC (CPUID.1:ECX[21]; set by the arch) */
};

/* E820-style range (type 1 = usable). */
struct shim_range {
    uint64_t base, size;
    uint32_t type;
};

struct shim_memmap {
    uint32_t count;
    struct shim_range ranges[SHIM_MAX_RANGES];
};

/* sidecar.policy: how CPUs are split between the main kernel and sidecar
 * nodes (docs/shim.md). */
enum shim_policy {
    SHIM_POLICY_AUTO = 0,        /* default: openhcl where the boot CPU has x2APIC (where OpenHCL runs
                                  * its sidecar), numa elsewhere (where OpenHCL would run none) */
    SHIM_POLICY_OPENHCL = 1,     /* OpenHCL's boot shim: VP-order runs of one NUMA node in chunks of
                                  * at most node_size VPs, each chunk's first VP a main CPU */
    SHIM_POLICY_NUMA = 2,        /* ours: one main CPU per NUMA node, the rest in nodes of node_size */
};

/* sidecar.linux_numbering: the order of the MADT copy a Linux main kernel
 * gets (docs/linux.md). */
enum shim_linux_numbering {
    SHIM_LINUX_NUMBERING_AUTO = 0,       /* default: vp under the openhcl policy, else main_first */
    SHIM_LINUX_NUMBERING_VP = 1,         /* params order: Linux CPU = params index; maxcpus=1 */
    SHIM_LINUX_NUMBERING_MAIN_FIRST = 2, /* main CPUs first: Linux boots them all; maxcpus=<main CPUs> */
};

struct shim_options {
    bool enabled;                /* sidecar=on|off, OPENHCL_SIDECAR=on|off|log (default on) */
    uint32_t policy;             /* sidecar.policy=auto|openhcl|numa (enum shim_policy) */
    uint32_t linux_numbering;    /* sidecar.linux_numbering=auto|vp|main_first (enum shim_linux_numbering) */
    bool log;                    /* sidecar.log (default SIDECAR_CONFIG_DEFAULT_LOGGING) */
    bool mwait;                  /* sidecar.mwait: park with MONITOR/MWAIT where the CPU has it (default off) */
    uint32_t node_size;          /* sidecar.node_size=N (1..SIDECAR_MAX_NODE_CPUS, default 32) */
    uint64_t guest_ram;          /* sidecar.guest_ram=SIZE (K/M/G; 0 = none; default 64M) */
    uint32_t ap_timeout_us;      /* sidecar.ap_timeout_us=N (1000..60000000, default 5000000) */
    uint32_t main_cpu_count;     /* sidecar.main_cpus=LIST: APIC IDs, ranges a-b */
    uint32_t main_cpus[64];
    uint32_t apic_mode;          /* sidecar.apic=auto|xapic|x2apic */
    uint32_t vp_backend;         /* sidecar.vp_backend=auto|ring3|svm */
};

/* The RSDP: from the BIOS areas (EBDA, 0xE0000-0xFFFFF). */
int shim_acpi_find_rsdp(const struct shim_mem *m, uint64_t *rsdp_pa);
/* RSDT/XSDT, MADT (local APIC + x2APIC entries; enabled ones, online-capable counted apart),
 * SRAT (CPU and memory affinity). Checksums verified. On failure topo is
 * undefined and err names the table and field. */
int shim_acpi_parse(const struct shim_mem *m, uint64_t rsdp_pa,
                    struct shim_topology *topo, char err[SHIM_ERR_SIZE]);

/* Defaults, then every option found in cmdline. Unknown words are left
 * for the main kernel. Bad values: error naming the option; opt keeps the
 * defaults for that option. Parsing goes on after a bad value (the other
 * options still apply); the return code and err are those of the first
 * bad value. */
void shim_options_default(struct shim_options *opt);
int shim_cmdline_parse(const char *cmdline, struct shim_options *opt,
                       char err[SHIM_ERR_SIZE]);

struct shim_plan {
    bool enabled;                     /* false: everything to the main kernel */
    char reason[SHIM_ERR_SIZE];       /* why disabled (enabled: first fallback taken, or empty) */
    uint32_t policy;                  /* the policy applied: SHIM_POLICY_OPENHCL or SHIM_POLICY_NUMA */
    uint32_t cpu_count;               /* CPUs in the topology, set even when disabled (0: not read) */
    uint32_t main_cpu_count;
    uint32_t sidecar_cpu_count;
    /* Memory the sidecar owns from now on: node memory, the trampoline
     * page and guest RAM (shim_plan_build), then the sidecar kernel image,
     * which the caller appends with shim_plan_reserve (it runs on every
     * sidecar CPU, so the main kernel must never reuse it), and for a
     * Linux main kernel the ACPI copy and the hand-off block. */
    uint32_t reserved_count;
    struct shim_range reserved[SIDECAR_MAX_NODES + 5];
};

/* Chooses main CPUs and sidecar nodes and allocates node memory, the
 * trampoline page and guest RAM from usable memory in map, avoiding the
 * in_use ranges; fills params (which then passes sidecar_params_validate).
 * bsp_apic_id is the CPU running the shim (always a main CPU).
 *
 * Policy openhcl (OpenHCL's openhcl_boot): CPU indices are the topology
 * (MADT) order, i.e. VP indices; each run of consecutive CPUs of one NUMA
 * node is cut into ceil(len / node_size) chunks of ceil(len / chunks) CPUs
 * (the last one smaller); each chunk is a node (so node ranges tile
 * every VP from 0, as OpenHCL's client requires) whose first CPU is a main
 * CPU (reason node_first, or numa_first for a run's first chunk) with a
 * REMOVED slot; a chunk of one CPU is a node without sidecar CPU. Disabled as OpenHCL disables it: off on
 * the command line, every chunk of one CPU, memory short. Without x2APIC
 * (where OpenHCL runs no sidecar) policy auto takes numa, and an explicit
 * openhcl runs all the same (our kernel speaks xAPIC) and logs it.
 *
 * Policy numa (ours): CPU indices (params.cpus order) run NUMA node by NUMA
 * node, topology (MADT) order inside each, so every sidecar node is one
 * index range even when the MADT interleaves NUMA nodes. Main CPUs: the
 * BSP, the first CPU of each NUMA node, the APIC IDs in opt->main_cpus.
 *
 * Both: params.cpus[i].apic_id names the CPU. Under numa a node's range
 * starts and ends with sidecar CPUs; under either it may contain main CPUs
 * named by sidecar.main_cpus or the BSP (role main).
 *
 * Returns SHIM_OK with plan->enabled false and plan->reason set when
 * sidecar cannot or should not run (params is then unused). */
int shim_plan_build(const struct shim_topology *topo,
                    const struct shim_options *opt,
                    const struct shim_memmap *map,
                    const struct shim_range *in_use, uint32_t in_use_count,
                    uint32_t bsp_apic_id,
                    struct sidecar_params *params, struct shim_plan *plan,
                    const struct shim_log *log);

/* The hand-off block for the main kernel: the memory map with every
 * sidecar range reserved (plan->reserved plus the params and output
 * pages; type 0x5344), the command line less the leading image path and
 * the sidecar options plus boot_cpus=<APIC IDs, ascending, runs as a-b>,
 * addresses of params and output. When the plan is disabled: no reserved
 * ranges, no boot_cpus=, params_pa = output_pa = 0, disabled_reason =
 * plan->reason. SHIM_E_INVALID (err says which) when the map or the
 * command line does not fit. */
/* Appends [base, base + size) to plan->reserved; false when full. */
bool shim_plan_reserve(struct shim_plan *plan, uint64_t base, uint64_t size);

int shim_handoff_build(const struct shim_memmap *map,
                       const struct shim_plan *plan,
                       const struct sidecar_params *params,
                       uint64_t params_pa, uint64_t output_pa,
                       const char *cmdline,
                       struct sidecar_handoff *handoff,
                       char err[SHIM_ERR_SIZE]);

#endif
