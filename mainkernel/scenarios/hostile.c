/* SPDX-License-Identifier: MIT */
/* The hostile guest suite (hostile.h). */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "hostile.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"

#define CODE_OFFSET 0x1a0000ull
#define STACK_OFFSET 0x380000ull    /* 256 bytes per VP */
#define TIMEOUT_NS 5000000000ull
#define KERNEL_VA 0xffffffff80000000ull
#define GOOD_PORT 0x84u
#define FLAGS_PORT 0x85u
#define CPUID_PORT 0x86u
#define LEAK_PORT 0x87u

extern const uint8_t mk_hg_start[], mk_hg_end[], mk_hg_good[];
extern const uint8_t mk_hg_read_kernel[], mk_hg_write_kernel[], mk_hg_exec_kernel[], mk_hg_read_apic[],
    mk_hg_read_at_rsi[], mk_hg_write_at_rsi[], mk_hg_cli[], mk_hg_sti[], mk_hg_hlt[], mk_hg_lgdt[], mk_hg_lidt[], mk_hg_mov_cr3[],
    mk_hg_mov_cr0[], mk_hg_wrmsr[], mk_hg_rdmsr[], mk_hg_in_out[], mk_hg_int3[], mk_hg_int80[], mk_hg_syscall[],
    mk_hg_sysenter[], mk_hg_iretq_cpl0[], mk_hg_ud2[], mk_hg_stack_off_ram[], mk_hg_divide[], mk_hg_popf_iopl[], mk_hg_cpuid[],
    mk_hg_sgdt[], mk_hg_sidt[], mk_hg_smsw[], mk_hg_str[], mk_hg_noncanonical[], mk_hg_swapgs[],
    mk_hg_wrgsbase[], mk_hg_mov_dr7[], mk_hg_single_step[], mk_hg_icebp[], mk_hg_alignment_check[],
    mk_hg_int_df[], mk_hg_int_nmi[], mk_hg_int_mc[], mk_hg_wrmsr_icr[];

enum kind { K_IO, K_MSR, K_HLT, K_MEM, K_EXC, K_CPUID, K_UMIP };

/* Special values of `a` resolved per run. */
#define PAST_RAM 1u
#define BELOW_RAM 2u
#define OWN_PML4 3u         /* the CPU's own PML4 (docs/boot.md section 5) */
#define OWN_COMMAND 4u      /* the CPU's own command page */
#define OTHER_COMMAND 5u    /* the next CPU's command page (its own where the node has one CPU) */
#define CONTROL_PAGE 6u     /* the node's control page */
#define OWN_REGISTER 7u     /* the CPU's own register page */

struct hcase {
    const char *name;
    const uint8_t *entry;
    uint8_t kind;
    uint8_t access;         /* K_MEM, K_MSR: 0 read, 1 write, 2 execute */
    uint16_t vector2;       /* K_EXC: a second acceptable vector (0xffff: none) */
    uint64_t a;             /* K_IO port, K_MSR number, K_EXC vector, K_MEM GPA (or one of the specials above) */
};

/* What each snippet must become (docs/boot.md, "The hostile guest suite"). */
static const struct hcase cases[] = {
    { "read a kernel address", mk_hg_read_kernel, K_MEM, 0, 0xffff, KERNEL_VA },
    { "write a kernel address", mk_hg_write_kernel, K_MEM, 1, 0xffff, KERNEL_VA + 0x1000 },
    { "execute kernel code", mk_hg_exec_kernel, K_MEM, 2, 0xffff, KERNEL_VA },
    { "read the local APIC", mk_hg_read_apic, K_MEM, 0, 0xffff, 0xfee00020 },
    { "read past guest RAM", mk_hg_read_at_rsi, K_MEM, 0, 0xffff, PAST_RAM },
    { "read its own page tables", mk_hg_read_at_rsi, K_MEM, 0, 0xffff, OWN_PML4 },
    { "write its own page tables", mk_hg_write_at_rsi, K_MEM, 1, 0xffff, OWN_PML4 },
    { "write its own command page", mk_hg_write_at_rsi, K_MEM, 1, 0xffff, OWN_COMMAND },
    { "write another CPU's command page", mk_hg_write_at_rsi, K_MEM, 1, 0xffff, OTHER_COMMAND },
    { "write the node's control page", mk_hg_write_at_rsi, K_MEM, 1, 0xffff, CONTROL_PAGE },
    { "read its own register page", mk_hg_read_at_rsi, K_MEM, 0, 0xffff, OWN_REGISTER },
    { "cli", mk_hg_cli, K_EXC, 0, 0xffff, 13 },
    { "sti", mk_hg_sti, K_EXC, 0, 0xffff, 13 },
    { "hlt", mk_hg_hlt, K_HLT, 0, 0xffff, 0 },
    { "lgdt", mk_hg_lgdt, K_EXC, 0, 0xffff, 13 },
    { "lidt", mk_hg_lidt, K_EXC, 0, 0xffff, 13 },
    { "mov cr3", mk_hg_mov_cr3, K_EXC, 0, 0xffff, 13 },
    { "mov cr0", mk_hg_mov_cr0, K_EXC, 0, 0xffff, 13 },
    { "wrmsr EFER", mk_hg_wrmsr, K_MSR, 1, 0xffff, 0xc0000080 },
    { "rdmsr APIC base", mk_hg_rdmsr, K_MSR, 0, 0xffff, 0x1b },
    { "out to PCI config", mk_hg_in_out, K_IO, 1, 0xffff, 0xcf8 },
    { "int3", mk_hg_int3, K_EXC, 0, 0xffff, 3 },
    { "int 0x80", mk_hg_int80, K_EXC, 0, 0xffff, 13 },
    /* The handlers of #DF, NMI and #MC (the kernel's IST paths) through
     * INT n: their gates are DPL 0, so #GP at the INT. */
    { "int 8 (#DF's gate)", mk_hg_int_df, K_EXC, 0, 0xffff, 13 },
    { "int 2 (the NMI gate)", mk_hg_int_nmi, K_EXC, 0, 0xffff, 13 },
    { "int 0x12 (#MC's gate)", mk_hg_int_mc, K_EXC, 0, 0xffff, 13 },
    /* IPIs from a guest: INIT to all but self through the x2APIC ICR, and
     * a write to the xAPIC page's ICR (not mapped for the guest). */
    { "wrmsr x2APIC ICR (INIT to all)", mk_hg_wrmsr_icr, K_MSR, 1, 0xffff, 0x830 },
    { "write the local APIC's ICR", mk_hg_write_at_rsi, K_MEM, 1, 0xffff, 0xfee00300 },
    { "syscall", mk_hg_syscall, K_EXC, 0, 0xffff, 6 },
    { "sysenter", mk_hg_sysenter, K_EXC, 0, 6, 13 },      /* #GP (Intel) or #UD (AMD) */
    /* #GP(0x08) on hardware; QEMU TCG reads the IRET frame with supervisor
     * accesses, which SMAP turns into a #PF on the user stack. */
    { "iretq into ring 0", mk_hg_iretq_cpl0, K_EXC, 0, 14, 13 },
    { "ud2", mk_hg_ud2, K_EXC, 0, 0xffff, 6 },
    { "stack off guest RAM", mk_hg_stack_off_ram, K_MEM, 1, 0xffff, BELOW_RAM },
    { "divide by zero", mk_hg_divide, K_EXC, 0, 0xffff, 0 },
    { "popf raising IOPL", mk_hg_popf_iopl, K_IO, 1, 0xffff, FLAGS_PORT },
    /* A CPUID intercept for leaf 0 where the kernel turned CPUID faulting
     * on (output.cpuid_faulting); otherwise CPUID runs and the guest's
     * OUT reports leaf 0's EAX. */
    { "cpuid", mk_hg_cpuid, K_CPUID, 0, 0xffff, 0 },
    /* #GP where the CPU has UMIP (the kernel turns it on); without it the
     * instruction runs and the guest's OUT reports what it read. */
    { "sgdt", mk_hg_sgdt, K_UMIP, 0, 0xffff, 13 },
    { "sidt", mk_hg_sidt, K_UMIP, 0, 0xffff, 13 },
    { "smsw", mk_hg_smsw, K_UMIP, 0, 0xffff, 13 },
    { "str", mk_hg_str, K_UMIP, 0, 0xffff, 13 },
    { "read a non-canonical address", mk_hg_noncanonical, K_EXC, 0, 0xffff, 13 },
    { "swapgs", mk_hg_swapgs, K_EXC, 0, 0xffff, 13 },
    { "wrgsbase", mk_hg_wrgsbase, K_EXC, 0, 0xffff, 6 },
    { "mov dr7", mk_hg_mov_dr7, K_EXC, 0, 0xffff, 13 },
    { "single-step (RFLAGS.TF)", mk_hg_single_step, K_EXC, 0, 0xffff, 1 },
    /* #DB on hardware; QEMU 7.2 TCG does not decode F1 and raises #UD. */
    { "icebp (INT1)", mk_hg_icebp, K_EXC, 0, 6, 1 },
    /* CR0.AM is off, so AC changes nothing for the guest; the kernel
     * clears it on every entry, so SMAP still holds for the kernel. */
    { "RFLAGS.AC and a misaligned read", mk_hg_alignment_check, K_HLT, 0, 0xffff, 0 },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct vp {
    uint32_t cpu;
    uint32_t index;
    uint32_t step;          /* 2 * case (+1: the good run after it) */
    bool failed;
};

static struct vp vps[SIDECAR_MAX_CPUS];
static bool cpuid_faulting;     /* mk_hostile_all's argument */
static bool umip;               /* the CPU has UMIP (the sidecar kernel turns it on) */

static void fail(struct mk_hostile_result *r, struct vp *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct mk_hostile_result *r, struct vp *v, const char *fmt, ...)
{
    v->failed = true;
    r->ok = false;
    if (r->error[0])
        return;
    r->first_failed_cpu = v->cpu;
    size_t n = sc_snprintf(r->error, sizeof(r->error), "cpu %u, %s: ", v->cpu,
                           v->step & 1 ? "the run after it" : cases[v->step / 2].name);
    va_list ap;
    va_start(ap, fmt);
    sc_vsnprintf(r->error + n, sizeof(r->error) - n, fmt, ap);
    va_end(ap);
}

/* The GPA a K_MEM case touches (RSI for the *_at_rsi snippets). The
 * CPU's pages are sidecar memory, outside guest RAM: node memory holds the
 * control page, two shared pages per CPU, three shared guest-RAM tables,
 * then five private pages per CPU, the PML4 first. */
static uint64_t case_gpa(const struct sidecar_params *p, const struct vp *v, uint64_t a)
{
    if (a == PAST_RAM)
        return p->guest_ram_base + p->guest_ram_size;
    if (a == BELOW_RAM)
        return p->guest_ram_base - 8;
    if (a < OWN_PML4 || a > OWN_REGISTER)
        return a;
    for (uint32_t n = 0; n < p->node_count; n++) {
        const struct sidecar_params_node *nd = &p->nodes[n];
        if (v->cpu < nd->base_cpu || v->cpu - nd->base_cpu >= nd->cpu_count)
            continue;
        uint64_t i = v->cpu - nd->base_cpu, c = nd->cpu_count;
        switch (a) {
        case OWN_COMMAND: return nd->memory_base + SIDECAR_PAGE_SIZE * (1 + 2 * i);
        case OTHER_COMMAND: return nd->memory_base + SIDECAR_PAGE_SIZE * (1 + 2 * ((i + 1) % c));
        case CONTROL_PAGE: return nd->memory_base;
        case OWN_REGISTER: return nd->memory_base + SIDECAR_PAGE_SIZE * (2 + 2 * i);
        default: return nd->memory_base + SIDECAR_PAGE_SIZE * (4 + 2 * c + SIDECAR_CPU_PRIVATE_PAGES * i);
        }
    }
    return 0;
}

static int start(struct sidecar_host *h, const struct sidecar_params *p, struct vp *v)
{
    const uint8_t *entry = v->step & 1 ? mk_hg_good : cases[v->step / 2].entry;
    uint64_t base = p->guest_ram_base;
    uint64_t rsp = entry == mk_hg_stack_off_ram ? base : base + STACK_OFFSET + 256ull * (v->index + 1);
    static const uint32_t names[] = {
        SIDECAR_HV_REGISTER_NAME_RIP, SIDECAR_HV_REGISTER_NAME_RSP, SIDECAR_HV_REGISTER_NAME_RFLAGS,
        SIDECAR_HV_REGISTER_NAME_RDI, SIDECAR_HV_REGISTER_NAME_RSI,
    };
    const uint64_t values[] = { base + CODE_OFFSET + (uint64_t)(entry - mk_hg_start), rsp, 0x2, v->index,
                                v->step & 1 ? 0 : case_gpa(p, v, cases[v->step / 2].a) };
    struct sidecar_hv_register_assoc a[5];
    sc_memset(a, 0, sizeof(a));
    for (unsigned i = 0; i < 5; i++) {
        a[i].name = names[i];
        a[i].value.low = values[i];
    }
    int rc = sidecar_host_set_registers(h, v->cpu, 0, a, 5, TIMEOUT_NS, 0);
    return rc ? rc : sidecar_host_run_vp_start(h, v->cpu);
}

/* Checks the intercept of the run that just ended. */
static void check(struct sidecar_host *h, const struct sidecar_params *p, struct vp *v, struct mk_hostile_result *r)
{
    uint32_t type = 0;
    if (sidecar_host_intercept_type(h, v->cpu, &type)) {
        fail(r, v, "no intercept");
        return;
    }
    if (v->step & 1) {
        struct sidecar_hv_x64_io_port_intercept_message io;
        if (type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT || sidecar_host_intercept_io_port(h, v->cpu, &io) ||
            io.port_number != GOOD_PORT || (uint32_t)io.rax != 3 * v->index)
            fail(r, v, "intercept %x instead of OUT 0x84 = %u", type, 3 * v->index);
        return;
    }
    const struct hcase *c = &cases[v->step / 2];
    switch (c->kind) {
    case K_HLT:
        if (type != SIDECAR_HV_MESSAGE_TYPE_X64_HALT)
            fail(r, v, "intercept %x, expected HLT", type);
        return;
    case K_IO: {
        struct sidecar_hv_x64_io_port_intercept_message io;
        if (type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT || sidecar_host_intercept_io_port(h, v->cpu, &io) ||
            io.port_number != c->a) {
            fail(r, v, "intercept %x, expected IO port %lx", type, c->a);
        } else if (c->a == FLAGS_PORT && ((io.rax >> 12) & 3 || !(io.rax & (1u << 9)))) {
            fail(r, v, "RFLAGS %lx after popf: IOPL must stay 0 and IF 1", io.rax);
        }
        return;
    }
    case K_MSR: {
        struct sidecar_hv_x64_msr_intercept_message m;
        if (type != SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT || sidecar_host_intercept_msr(h, v->cpu, &m) ||
            m.msr_number != c->a || m.header.intercept_access_type != c->access)
            fail(r, v, "intercept %x, expected MSR %lx access %u", type, c->a, c->access);
        return;
    }
    case K_MEM: {
        uint64_t gpa = case_gpa(p, v, c->a);
        if (!gpa) {
            fail(r, v, "the CPU is in no node");
            return;
        }
        struct sidecar_hv_x64_memory_intercept_message m;
        if (type != SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA || sidecar_host_intercept_memory(h, v->cpu, &m))
            fail(r, v, "intercept %x, expected unmapped GPA %lx", type, gpa);
        else if (m.guest_physical_address != gpa || m.header.intercept_access_type != c->access)
            fail(r, v, "unmapped GPA %lx access %u, expected %lx access %u", m.guest_physical_address,
                 m.header.intercept_access_type, gpa, c->access);
        return;
    }
    case K_CPUID: {
        struct sidecar_hv_x64_cpuid_intercept_message m;
        struct sidecar_hv_x64_io_port_intercept_message io;
        if (cpuid_faulting) {
            if (type != SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT || sidecar_host_intercept_cpuid(h, v->cpu, &m) ||
                m.rax != 0 || m.rcx != 0)
                fail(r, v, "intercept %x, expected CPUID leaf 0 (CPUID faulting is on)", type);
        } else if (type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT ||
                   sidecar_host_intercept_io_port(h, v->cpu, &io) || io.port_number != CPUID_PORT ||
                   !(uint32_t)io.rax) {
            fail(r, v, "intercept %x, expected CPUID to run natively and OUT %x (no CPUID faulting)", type,
                 CPUID_PORT);
        }
        return;
    }
    case K_UMIP:
        if (!umip) {
            struct sidecar_hv_x64_io_port_intercept_message io;
            if (type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT ||
                sidecar_host_intercept_io_port(h, v->cpu, &io) || io.port_number != LEAK_PORT)
                fail(r, v, "intercept %x, expected the instruction to run and OUT %x (no UMIP)", type, LEAK_PORT);
            return;
        }
        __attribute__((fallthrough));   /* UMIP makes it a #GP */
    case K_EXC: {
        struct sidecar_hv_x64_exception_intercept_message e;
        if (type != SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT || sidecar_host_intercept_exception(h, v->cpu, &e))
            fail(r, v, "intercept %x, expected exception %lu", type, c->a);
        else if (e.exception_vector != c->a && e.exception_vector != c->vector2)
            fail(r, v, "exception %u (error %x, parameter %lx, rip %lx), expected %lu", e.exception_vector,
                 e.error_code, e.exception_parameter, e.header.rip, c->a);
        return;
    }
    }
}

void mk_hostile_all(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                    bool cpuid_faulting_on, struct mk_hostile_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    cpuid_faulting = cpuid_faulting_on;
    umip = mk_cpu_has_umip();
    r->ok = true;
    r->cases = NCASES;
    r->first_failed_cpu = SIDECAR_NO_CPU;
    uint64_t base = p->guest_ram_base;
    if (!p->guest_ram_size || STACK_OFFSET + 256ull * (n + 1) > p->guest_ram_size ||
        base + p->guest_ram_size > (1ull << 32) || n > SIDECAR_MAX_CPUS || base < 0x1000) {
        r->ok = false;
        sc_snprintf(r->error, sizeof(r->error), "guest RAM too small or above 4 GiB");
        return;
    }
    sc_memcpy((void *)(uintptr_t)(base + CODE_OFFSET), mk_hg_start, (uint64_t)(mk_hg_end - mk_hg_start));
    uint32_t in_flight = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct vp *v = &vps[k];
        *v = (struct vp){ cpus[k], k, 0, false };
        int rc = sidecar_host_acquire(h, v->cpu);
        if (!rc && (rc = start(h, p, v)) != 0)
            sidecar_host_release(h, v->cpu);
        if (rc) {
            fail(r, v, "cannot start: %s", sidecar_host_strerror(rc));
            continue;
        }
        r->cpus++;
        in_flight++;
    }
    while (in_flight) {
        struct sidecar_host_completion done;
        int rc = sidecar_host_wait_any(h, TIMEOUT_NS, &done);
        if (rc) {
            r->ok = false;
            if (!r->error[0])
                sc_snprintf(r->error, sizeof(r->error), "waiting: %s (%u VPs still running)",
                            sidecar_host_strerror(rc), in_flight);
            for (uint32_t k = 0; k < n; k++)
                sidecar_host_stop(h, vps[k].cpu);
            break;
        }
        struct vp *v = 0;
        for (uint32_t k = 0; k < n && !v; k++)
            if (vps[k].cpu == done.cpu)
                v = &vps[k];
        if (!v)
            continue;
        r->runs++;
        if (done.result == SIDECAR_HOST_RUN_INTERCEPT)
            check(h, p, v, r);
        else
            fail(r, v, "run ended with %d", done.result);
        if (++v->step < 2 * NCASES) {
            rc = start(h, p, v);
            if (!rc)
                continue;
            fail(r, v, "cannot start: %s", sidecar_host_strerror(rc));
        }
        in_flight--;
        sidecar_host_release(h, v->cpu);
        if (!v->failed && v->step == 2 * NCASES)
            r->passed++;
    }
    r->ok = r->ok && r->passed == n;
}

/* ---- the scenario (mk.vp_hostile; scenarios.def) ---- */

static struct mk_hostile_result hr;

/* The hostile guest suite on every sidecar CPU at once. */
bool mk_hostile_run(struct mk_ctx *ctx)
{
    uint64_t khz = ctx->tsc_khz;
    uint32_t *cpu_list = ctx->cpus;
    uint32_t n = mk_ready_cpus(ctx->params, ctx->output, ctx->converted, cpu_list);
    uint64_t t0 = mk_rdtsc();
    mk_hostile_all(ctx->host, ctx->params, cpu_list, n, ctx->output->cpuid_faulting, &hr);
    mk_out("main: hostile guests on %u VPs at once: %s; %u/%u CPUs held all %u cases (UMIP %s), %u runs, %lu us%s%s\n",
           hr.cpus, hr.ok ? "ok" : "FAILED", hr.passed, hr.cpus, hr.cases, umip ? "on" : "absent", hr.runs,
           (mk_rdtsc() - t0) * 1000 / khz, hr.error[0] ? ": " : "", hr.error);
    return hr.ok;
}

void mk_hostile_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"cases\":%u,\"runs\":%u,\"umip\":%s,\"error\":\"%s\"}",
           hr.ok ? "true" : "false", hr.cpus, hr.passed, hr.cases, hr.runs, umip ? "true" : "false", hr.error);
}
