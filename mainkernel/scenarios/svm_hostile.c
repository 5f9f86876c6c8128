/* SPDX-License-Identifier: MIT */
/* The SVM backend's hostile guest suite (svm_hostile.h). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "svm_hostile.h"

#define TIMEOUT_NS 10000000000ull
#define N(x) SIDECAR_HV_REGISTER_NAME_##x
#define CODE_GPA 0x10000ull
#define STACK_GPA 0x30000ull
#define REPORT_PORT 0xe0u
#define SK_SVM_REG_INTERCEPT_CONTROL 0x7f000001u   /* docs/svm.md */
#define MAGIC 0x5a17e5a1u
#define APIC_ICR 0xfee00300ull

extern const uint8_t mk_sh_start[], mk_sh_end[], mk_sh_good[];
extern const uint8_t mk_sh_handler_6[], mk_sh_handler_8[], mk_sh_handler_13[], mk_sh_handler_14[],
    mk_sh_handler_other[];
#define IDT_GPA 0x20000ull
#define GDT_GPA 0x21000ull
#define IDT_LIMIT (32u * 8u - 1u)
#define REPORT_UD 0xe006u
#define REPORT_GP 0xe00du
#define REPORT_PF 0xe00eu
extern const uint8_t mk_sh_vmrun[], mk_sh_vmload[], mk_sh_vmsave[], mk_sh_stgi[], mk_sh_clgi[],
    mk_sh_skinit[], mk_sh_invlpga[], mk_sh_vmmcall[], mk_sh_monitor[], mk_sh_mwait[], mk_sh_efer_clear[],
    mk_sh_efer_reserved[], mk_sh_wrmsr_hsave[], mk_sh_rdmsr_vmcr[], mk_sh_read_ebx[], mk_sh_write_ebx[],
    mk_sh_cr3_ebx[], mk_sh_out_exit_port[], mk_sh_out_pci[], mk_sh_triple_fault[], mk_sh_cli_hlt[],
    mk_sh_cli_loop[], mk_sh_invd[], mk_sh_rdpmc[], mk_sh_debug_regs[], mk_sh_read_dr0[];

/* K_WRITE: the write lands in guest RAM (a report follows) or, past guest
 * RAM, is a memory intercept; either way the host's memory at that
 * physical address is unchanged. K_PAGING: paging through tables at that
 * address: a #PF in the guest or a memory intercept for the table. */
enum kind { K_EXC, K_MSR, K_MEM, K_IO, K_REPORT, K_SHUTDOWN, K_STOP, K_WRITE, K_PAGING };

/* Parameters that depend on the machine. */
#define PAST_RAM 1ull          /* the first GPA past guest RAM */
#define SIDECAR_MEM 2ull       /* node 0's memory: a host physical address, here a GPA */

struct hcase {
    const char *name;
    const uint8_t *entry;
    uint8_t kind;
    uint8_t access;            /* K_MEM, K_MSR: 0 read, 1 write */
    uint64_t a;                /* K_EXC vector, K_MSR number, K_MEM GPA, K_IO port, K_REPORT value */
    uint64_t ebx;              /* the snippet's parameter (or PAST_RAM / SIDECAR_MEM) */
};

static const struct hcase cases[] = {
    { "vmrun", mk_sh_vmrun, K_REPORT, 0, REPORT_UD, 0 },
    { "vmload", mk_sh_vmload, K_REPORT, 0, REPORT_UD, 0 },
    { "vmsave", mk_sh_vmsave, K_REPORT, 0, REPORT_UD, 0 },
    { "stgi", mk_sh_stgi, K_REPORT, 0, REPORT_UD, 0 },
    { "clgi", mk_sh_clgi, K_REPORT, 0, REPORT_UD, 0 },
    { "skinit", mk_sh_skinit, K_REPORT, 0, REPORT_UD, 0 },
    { "invlpga", mk_sh_invlpga, K_REPORT, 0, REPORT_UD, 0 },
    { "vmmcall", mk_sh_vmmcall, K_REPORT, 0, REPORT_UD, 0 },
    { "monitor", mk_sh_monitor, K_REPORT, 0, REPORT_UD, 0 },
    { "mwait", mk_sh_mwait, K_REPORT, 0, REPORT_UD, 0 },
    { "clear EFER.SVME", mk_sh_efer_clear, K_REPORT, 0, 0, 0 },
    { "EFER reserved bit", mk_sh_efer_reserved, K_REPORT, 0, REPORT_GP, 0 },
    { "write VM_HSAVE_PA", mk_sh_wrmsr_hsave, K_MSR, 1, 0xc0010117u, 0 },
    { "read VM_CR", mk_sh_rdmsr_vmcr, K_MSR, 0, 0xc0010114u, 0 },
    { "read past guest RAM", mk_sh_read_ebx, K_MEM, 0, PAST_RAM, PAST_RAM },
    { "write where sidecar memory is", mk_sh_write_ebx, K_WRITE, 1, SIDECAR_MEM, SIDECAR_MEM },
    { "write past guest RAM", mk_sh_write_ebx, K_WRITE, 1, PAST_RAM, PAST_RAM },
    { "write the local APIC's ICR", mk_sh_write_ebx, K_MEM, 1, APIC_ICR, APIC_ICR },
    { "page tables where sidecar memory is", mk_sh_cr3_ebx, K_PAGING, 0, SIDECAR_MEM, SIDECAR_MEM },
    { "QEMU exit port", mk_sh_out_exit_port, K_IO, 1, 0xf4, 0 },
    { "PCI configuration port", mk_sh_out_pci, K_IO, 1, 0xcf8, 0 },
    { "triple fault", mk_sh_triple_fault, K_SHUTDOWN, 0, 0, 0 },
    { "cli; hlt", mk_sh_cli_hlt, K_STOP, 0, 0, 0 },
    { "cli; spin", mk_sh_cli_loop, K_STOP, 0, 0, 0 },
    { "invd", mk_sh_invd, K_REPORT, 0, 0x1d, 0 },
    { "rdpmc", mk_sh_rdpmc, K_REPORT, 0, REPORT_GP, 0 },
    { "debug registers and a kernel FS base", mk_sh_debug_regs, K_REPORT, 0, 0xdb, 0 },
    { "read the emulated DR0", mk_sh_read_dr0, K_REPORT, 0, 0x80000000u, 0 },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct ctx {
    struct sidecar_host *h;
    const struct sidecar_params *p;
    uint64_t khz;
    uint32_t cpu;
    struct mk_svm_hostile_result *r;
};

static bool fail(struct ctx *c, const char *name, const char *what, uint64_t v)
{
    char text[48];
    sidecar_host_error_text(c->h, c->cpu, text, sizeof(text));
    sc_snprintf(c->r->error, sizeof(c->r->error), "cpu %u, %s: %s (%lx)%s%s", c->cpu, name, what, v,
                text[0] ? ": " : "", text);
    return false;
}

static uint64_t param(const struct ctx *c, uint64_t v)
{
    if (v == PAST_RAM)
        return c->p->guest_ram_size;
    if (v == SIDECAR_MEM)
        return c->p->nodes[0].memory_base;
    return v;
}

static bool set_regs(struct ctx *c, const char *name, struct sidecar_hv_register_assoc *regs, uint32_t n)
{
    struct sidecar_host_hv_error e = { 0, 0 };
    int rc = sidecar_host_set_registers(c->h, c->cpu, 0, regs, n, TIMEOUT_NS, &e);
    return rc ? fail(c, name, "set registers", ((uint64_t)e.index << 16) | e.status) : true;
}

static void reg(struct sidecar_hv_register_assoc *r, uint32_t name, uint64_t v)
{
    sc_memset(r, 0, sizeof(*r));
    r->name = name;
    r->value.low = v;
}

static void seg(struct sidecar_hv_register_assoc *r, uint32_t name, uint16_t sel, uint16_t attributes)
{
    sc_memset(r, 0, sizeof(*r));
    r->name = name;
    struct sidecar_hv_x64_segment_register s = { .base = 0, .limit = 0xffffffffu, .selector = sel,
                                                 .attributes = attributes };
    sc_memcpy(&r->value, &s, sizeof(s));
}

/* 32-bit flat protected mode at entry, EBX = ebx, interrupts off, no
 * paging, the exceptions #UD and #GP sent to the VMM. */
static bool start_at(struct ctx *c, const char *name, const uint8_t *entry, uint64_t ebx, uint64_t eax)
{
    struct sidecar_hv_register_assoc r[19];
    unsigned k = 0;
    reg(&r[k++], N(CR0), 0x11);
    reg(&r[k++], N(CR3), 0);
    reg(&r[k++], N(CR4), 0);
    reg(&r[k++], N(EFER), 0);
    seg(&r[k++], N(CS), 0x08, 0xc09b);
    seg(&r[k++], N(SS), 0x10, 0xc093);
    seg(&r[k++], N(DS), 0x10, 0xc093);
    seg(&r[k++], N(ES), 0x10, 0xc093);
    reg(&r[k++], N(RIP), CODE_GPA + (uint64_t)(entry - mk_sh_start));
    reg(&r[k++], N(RSP), STACK_GPA + 0x100ull * c->cpu);
    reg(&r[k++], N(RFLAGS), 0x2);
    reg(&r[k++], N(RBX), ebx);
    reg(&r[k++], N(RAX), eax);
    reg(&r[k++], N(DR7), 0x400);
    sc_memset(&r[k], 0, sizeof(r[k]));
    r[k].name = N(IDTR);
    struct sidecar_hv_x64_table_register idtr = { .limit = IDT_LIMIT, .base = IDT_GPA };
    sc_memcpy(&r[k++].value, &idtr, sizeof(idtr));
    sc_memset(&r[k], 0, sizeof(r[k]));
    r[k].name = N(GDTR);
    struct sidecar_hv_x64_table_register gdtr = { .limit = 3 * 8 - 1, .base = GDT_GPA };
    sc_memcpy(&r[k++].value, &gdtr, sizeof(gdtr));
    reg(&r[k++], SK_SVM_REG_INTERCEPT_CONTROL, 0);
    reg(&r[k++], N(INTERNAL_ACTIVITY_STATE), 0);
    reg(&r[k++], N(PENDING_INTERRUPTION), 0);
    return set_regs(c, name, r, k);
}

static bool expect(struct ctx *c, const struct hcase *hc)
{
    c->r->runs++;
    if (hc->kind == K_STOP) {
        int rc = sidecar_host_run_vp_start(c->h, c->cpu);
        if (rc)
            return fail(c, hc->name, "run start", (uint64_t)rc);
        uint64_t until = mk_rdtsc() + c->khz * 20;   /* 20 ms: it must still be running */
        while (mk_rdtsc() < until)
            mk_pause();
        sidecar_host_stop(c->h, c->cpu);
        rc = sidecar_host_wait(c->h, c->cpu, TIMEOUT_NS);
        return rc == SIDECAR_HOST_RUN_STOPPED ? true : fail(c, hc->name, "did not end by STOP", (uint64_t)rc);
    }
    int rc = sidecar_host_run_vp(c->h, c->cpu, TIMEOUT_NS);
    if (rc != SIDECAR_HOST_RUN_INTERCEPT)
        return fail(c, hc->name, "no intercept", (uint64_t)rc);
    uint32_t type = 0;
    sidecar_host_intercept_type(c->h, c->cpu, &type);
    switch (hc->kind) {
    case K_EXC: {
        struct sidecar_hv_x64_exception_intercept_message m;
        if (sidecar_host_intercept_exception(c->h, c->cpu, &m) || m.exception_vector != hc->a)
            return fail(c, hc->name, "expected an exception intercept, got type", type);
        return true;
    }
    case K_MSR: {
        struct sidecar_hv_x64_msr_intercept_message m;
        if (sidecar_host_intercept_msr(c->h, c->cpu, &m) || m.msr_number != hc->a ||
            (m.header.intercept_access_type == SIDECAR_INTERCEPT_ACCESS_WRITE) != hc->access)
            return fail(c, hc->name, "expected an MSR intercept, got type", type);
        return true;
    }
    case K_MEM: {
        struct sidecar_hv_x64_memory_intercept_message m;
        uint64_t gpa = param(c, hc->a);
        if (sidecar_host_intercept_memory(c->h, c->cpu, &m) || (m.guest_physical_address & ~0xfffull) != (gpa & ~0xfffull) ||
            (m.header.intercept_access_type == SIDECAR_INTERCEPT_ACCESS_WRITE) != hc->access)
            return fail(c, hc->name, "expected a memory intercept at the GPA, got type", type);
        return true;
    }
    case K_IO:
    case K_REPORT: {
        struct sidecar_hv_x64_io_port_intercept_message m;
        if (sidecar_host_intercept_io_port(c->h, c->cpu, &m))
            return fail(c, hc->name, "expected an IO intercept, got type", type);
        if (hc->kind == K_IO && m.port_number != hc->a)
            return fail(c, hc->name, "IO intercept on the wrong port", m.port_number);
        if (hc->kind == K_REPORT && (m.port_number != REPORT_PORT || (uint32_t)m.rax != hc->a))
            return fail(c, hc->name, "wrong report", m.rax);
        return true;
    }
    case K_WRITE: {
        uint64_t gpa = param(c, hc->a);
        if (gpa + 4 <= c->p->guest_ram_size) {
            struct sidecar_hv_x64_io_port_intercept_message m;
            if (sidecar_host_intercept_io_port(c->h, c->cpu, &m) || (uint32_t)m.rax != MAGIC)
                return fail(c, hc->name, "the write inside guest RAM did not go on, type", type);
            if (*(volatile uint32_t *)(uintptr_t)(c->p->guest_ram_base + gpa) != MAGIC)
                return fail(c, hc->name, "the write did not land in guest RAM", gpa);
            return true;
        }
        struct sidecar_hv_x64_memory_intercept_message m;
        if (sidecar_host_intercept_memory(c->h, c->cpu, &m) || m.guest_physical_address != gpa ||
            m.header.intercept_access_type != SIDECAR_INTERCEPT_ACCESS_WRITE)
            return fail(c, hc->name, "expected a memory intercept, got type", type);
        return true;
    }
    case K_PAGING: {
        /* Tables of garbage in guest RAM: the guest's #PF (or, when even
         * its handler cannot be fetched, a triple fault); tables past guest
         * RAM: a memory intercept for the table. */
        struct sidecar_hv_x64_io_port_intercept_message io;
        struct sidecar_hv_x64_memory_intercept_message m;
        if (!sidecar_host_intercept_io_port(c->h, c->cpu, &io) && (uint32_t)io.rax == REPORT_PF)
            return true;
        if (!sidecar_host_intercept_memory(c->h, c->cpu, &m) || type == SIDECAR_HV_MESSAGE_TYPE_UNRECOVERABLE_EXCEPTION)
            return true;
        return fail(c, hc->name, "expected a #PF, a memory intercept or a triple fault, got type", type);
    }
    case K_SHUTDOWN:
        return type == SIDECAR_HV_MESSAGE_TYPE_UNRECOVERABLE_EXCEPTION ? true
               : fail(c, hc->name, "expected a triple fault, got type", type);
    default:
        return fail(c, hc->name, "bad case", hc->kind);
    }
}

/* The known-good snippet right after: the CPU carries on. */
static bool good(struct ctx *c, const char *after, uint32_t k)
{
    if (!start_at(c, after, mk_sh_good, k + 1, 0))
        return false;
    c->r->runs++;
    int rc = sidecar_host_run_vp(c->h, c->cpu, TIMEOUT_NS);
    struct sidecar_hv_x64_io_port_intercept_message m;
    if (rc != SIDECAR_HOST_RUN_INTERCEPT || sidecar_host_intercept_io_port(c->h, c->cpu, &m) ||
        (uint32_t)m.rax != 3 * (k + 1))
        return fail(c, after, "the known-good run after it failed", (uint64_t)rc);
    return true;
}

static bool one_cpu(struct ctx *c)
{
    volatile uint64_t *node0 = (volatile uint64_t *)(uintptr_t)c->p->nodes[0].memory_base;
    for (uint32_t k = 0; k < NCASES; k++) {
        const struct hcase *hc = &cases[k];
        uint64_t before = *node0;    /* node 0's control page: index and base CPU */
        /* RAX 0 (an SVM instruction with RAX not page aligned is a #GP
         * before it is an intercept); the value written by the write cases. */
        uint64_t eax = hc->kind == K_WRITE ? MAGIC : 0;
        if (!start_at(c, hc->name, hc->entry, param(c, hc->ebx), eax) || !expect(c, hc) || !good(c, hc->name, k))
            return false;
        if (*node0 != before)
            return fail(c, hc->name, "sidecar memory changed", *node0);
        if (hc->entry == mk_sh_efer_clear) {
            struct sidecar_hv_register_assoc e = { .name = N(EFER) };
            if (sidecar_host_get_registers(c->h, c->cpu, 0, &e, 1, TIMEOUT_NS, NULL) || e.value.low & (1ull << 12))
                return fail(c, hc->name, "EFER.SVME visible to the guest", e.value.low);
        }
    }
    return sidecar_host_ping(c->h, c->cpu, TIMEOUT_NS) == 0 ? true : fail(c, "ping", "no answer after the suite", 0);
}

void mk_svm_hostile(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                    uint32_t n, uint64_t tsc_khz, struct mk_svm_hostile_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->cpus = n;
    r->cases = NCASES;
    uint64_t size = (uint64_t)(mk_sh_end - mk_sh_start);
    if (p->guest_ram_size < STACK_GPA + 0x100ull * 256) {
        sc_snprintf(r->error, sizeof(r->error), "guest RAM too small");
        return;
    }
    sc_memcpy((void *)(uintptr_t)(p->guest_ram_base + CODE_GPA), mk_sh_start, size);
    /* The guest's GDT (flat 32-bit code 0x08, data 0x10) and IDT (32-bit
     * interrupt gates to its handlers). */
    volatile uint64_t *gdt = (volatile uint64_t *)(uintptr_t)(p->guest_ram_base + GDT_GPA);
    gdt[0] = 0;
    gdt[1] = 0x00cf9a000000ffffull;
    gdt[2] = 0x00cf92000000ffffull;
    volatile uint64_t *idt = (volatile uint64_t *)(uintptr_t)(p->guest_ram_base + IDT_GPA);
    for (unsigned v = 0; v < 32; v++) {
        const uint8_t *hnd = v == 6 ? mk_sh_handler_6 : v == 8 ? mk_sh_handler_8 : v == 13 ? mk_sh_handler_13
                           : v == 14 ? mk_sh_handler_14 : mk_sh_handler_other;
        uint64_t off = CODE_GPA + (uint64_t)(hnd - mk_sh_start);
        idt[v] = (off & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((off >> 16) << 48);
    }
    for (uint32_t k = 0; k < n; k++) {
        struct ctx c = { .h = h, .p = p, .khz = tsc_khz, .cpu = cpus[k], .r = r };
        int rc = sidecar_host_acquire(h, cpus[k]);
        if (rc) {
            fail(&c, "acquire", "refused", (uint64_t)rc);
            return;
        }
        bool ok = one_cpu(&c);
        sidecar_host_release(h, cpus[k]);
        if (!ok)
            return;
        r->passed++;
    }
    r->ok = n > 0 && r->passed == n;
}

/* ---- the scenario (mk.svm_hostile; scenarios.def) ---- */

static struct mk_svm_hostile_result shr;

bool mk_svm_hostile_run(struct mk_ctx *ctx)
{
    const struct sidecar_output *o = ctx->output;
    uint32_t n = mk_ready_cpus(ctx->params, o, ctx->converted, ctx->cpus);
    if (o->vp_backend != SIDECAR_VP_BACKEND_SVM)
        sc_snprintf(shr.error, sizeof(shr.error), "mk.svm_hostile needs the svm backend");
    else
        mk_svm_hostile(ctx->host, ctx->params, ctx->cpus, n, ctx->tsc_khz, &shr);
    mk_out("main: svm hostile guests: %s; %u/%u CPUs held all %u cases, %u runs%s%s\n", shr.ok ? "ok" : "FAILED",
           shr.passed, n, shr.cases, shr.runs, shr.error[0] ? ": " : "", shr.error);
    return shr.ok;
}

void mk_svm_hostile_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cpus\":%u,\"passed\":%u,\"cases\":%u,\"runs\":%u,\"error\":\"%s\"}",
           shr.ok ? "true" : "false", shr.cpus, shr.passed, shr.cases, shr.runs, shr.error);
}
