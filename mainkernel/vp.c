/* SPDX-License-Identifier: MIT */
/* The VP test (vp.h): the guest program (guest.asm) runs at CPL3 on each
 * sidecar CPU; every intercept is checked and emulated the way a VMM on
 * Hyper-V does it (look at the message, set registers, move RIP past the
 * instruction by the header's instruction length). */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "vp.h"

extern const uint8_t mk_guest_start[], mk_guest_end[], mk_guest_loop[], mk_guest_ud[], mk_guest_de[];

#define TIMEOUT_NS 10000000000ull   /* a bound against a hang; TCG under load is slow */
/* How long a started guest loop may take to show that it runs: a bound
 * against a hang, not a timing check. All CPUs wait together, and under
 * TCG on a loaded 2-core host 63 spinning vCPUs can take seconds to each
 * get a turn. */
#define RUNNING_TIMEOUT_US 30000000ull
#define UNMAPPED_GPA 0x100000000ull   /* guest RAM is below 4 GiB (shim) */
#define STACK_BYTES 64u               /* per CPU, at the top of guest RAM */
#define IN_VALUE 0xcafef00dull
#define MSR_NUMBER 0x1234u
#define MSR_LOW 0x5678ull
#define MSR_HIGH 0x9abcull
#define R13_VALUE 0x0123456789abcdefull
#define INSN_UD2_LEN 2u               /* 0F 0B */
#define INSN_DIV_LEN 2u               /* F7 F1: div ecx */
#define VALIDATE_READ 1ull            /* TLFS translate flag */
#define MMIO_VALUE 0x5eed0000d00dull  /* what the emulated MMIO read returns */

struct ctx {
    struct sidecar_host *h;
    const struct sidecar_params *p;
    uint32_t cpu;
    uint64_t khz;
    struct mk_vp_result *r;
    bool cpuid_faulting;        /* the kernel's output: CPUID must be intercepted */
    bool acquired, running;
    unsigned step;              /* index in steps[] */
    unsigned stops;
    uint32_t type;              /* the last intercept's message type */
    struct sidecar_hv_x64_intercept_message_header hdr;  /* and its header */
    uint64_t counter_before;
    char err[96];
};

static uint64_t guest_addr(const struct sidecar_params *p, const uint8_t *label)
{
    return p->guest_ram_base + (uint64_t)(label - mk_guest_start);
}

static uint64_t stack_of(const struct sidecar_params *p, uint32_t cpu)
{
    return p->guest_ram_base + p->guest_ram_size - STACK_BYTES * (uint64_t)(cpu + 1);
}

static volatile uint64_t *counter_of(const struct sidecar_params *p, uint32_t cpu)
{
    return (volatile uint64_t *)(uintptr_t)stack_of(p, cpu);
}

static bool fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct ctx *c, const char *fmt, ...)
{
    if (!c->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        sc_vsnprintf(c->err, sizeof(c->err), fmt, ap);
        va_end(ap);
    }
    return false;
}

static uint64_t now_us(uint64_t khz)
{
    uint64_t t = mk_rdtsc();
    return t / khz * 1000 + t % khz * 1000 / khz;
}

bool mk_vp_load_guest(const struct sidecar_params *p)
{
    uint64_t n = (uint64_t)(mk_guest_end - mk_guest_start);
    if (!p->guest_ram_size || n + STACK_BYTES * (uint64_t)p->cpu_count > p->guest_ram_size ||
        p->guest_ram_base + p->guest_ram_size > (1ull << 32))
        return false;
    sc_memcpy((void *)(uintptr_t)p->guest_ram_base, mk_guest_start, n);
    return true;
}

/* ---- registers ---- */

static bool set_reg(struct ctx *c, uint32_t name, uint64_t low)
{
    struct sidecar_hv_register_assoc a;
    sc_memset(&a, 0, sizeof(a));
    a.name = name;
    a.value.low = low;
    struct sidecar_host_hv_error e = { 0, 0 };
    int rc = sidecar_host_set_registers(c->h, c->cpu, 0, &a, 1, TIMEOUT_NS, &e);
    if (rc)
        return fail(c, "set register %x: %s (status %u)", name, sidecar_host_strerror(rc), e.status);
    return true;
}

static bool get_reg(struct ctx *c, uint32_t name, struct sidecar_hv_register_value *v)
{
    struct sidecar_hv_register_assoc a;
    sc_memset(&a, 0, sizeof(a));
    a.name = name;
    struct sidecar_host_hv_error e = { 0, 0 };
    int rc = sidecar_host_get_registers(c->h, c->cpu, 0, &a, 1, TIMEOUT_NS, &e);
    if (rc)
        return fail(c, "get register %x: %s (status %u)", name, sidecar_host_strerror(rc), e.status);
    *v = a.value;
    return true;
}

/* What a VMM does after emulating: RIP past the instruction. */
static bool advance(struct ctx *c, const struct sidecar_hv_x64_intercept_message_header *hdr, uint32_t len)
{
    if (!len)
        return fail(c, "intercept at %lx without an instruction length", hdr->rip);
    return set_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, hdr->rip + len);
}

/* ---- the intercept sequence, one step per run ----
 *
 * Every CPU walks the same list of steps; a step is one run of the VP that
 * must end in an intercept of the step's type, then the step's handler
 * checks the message and emulates it (registers, RIP past the
 * instruction). The runs of all CPUs are in flight at once
 * (sidecar_host_run_vp_start, sidecar_host_wait_any); a handler's register
 * commands go to its own CPU, which is idle between runs. */

struct step {
    const char *what;
    uint32_t type;              /* expected intercept; 0: the handler decides */
    /* Returns how many steps to move on (1, or 2 to skip one), 0 on failure. */
    unsigned (*handle)(struct ctx *c, const struct step *s);
    uint16_t port;
    uint8_t size;
    bool write;
    int64_t in_value;           /* IN: what the host hands back; -1 none */
    uint8_t access;             /* memory intercepts */
    uint16_t vector;            /* exceptions */
    const uint8_t *label;
    uint32_t len;
};

/* An IN/OUT intercept: port, size, direction, and for OUT the value. */
static unsigned on_io(struct ctx *c, const struct step *s)
{
    struct sidecar_hv_x64_io_port_intercept_message io;
    if (sidecar_host_intercept_io_port(c->h, c->cpu, &io))
        return fail(c, "%s: no IO message", s->what);
    if (io.port_number != s->port || io.access_info != s->size ||
        c->hdr.intercept_access_type != (s->write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ))
        return fail(c, "%s: port %x info %x access %u", s->what, io.port_number, io.access_info,
                    c->hdr.intercept_access_type);
    uint64_t mask = s->size == 4 ? 0xffffffffull : (1ull << (8 * s->size)) - 1;
    if (s->write && (io.rax & mask) != (0x11223344ull & mask))
        return fail(c, "%s: value %lx", s->what, io.rax);
    if (s->in_value >= 0) {
        uint64_t rax = s->size == 4 ? (uint64_t)s->in_value : (io.rax & ~mask) | ((uint64_t)s->in_value & mask);
        if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RAX, rax))
            return 0;
    }
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

/* rep outsb: one intercept for the whole string (the VMM would write RCX
 * bytes at RSI to the port, then clear RCX). */
static unsigned on_rep_outsb(struct ctx *c, const struct step *s)
{
    struct sidecar_hv_x64_io_port_intercept_message io;
    if (sidecar_host_intercept_io_port(c->h, c->cpu, &io))
        return fail(c, "%s: no IO message", s->what);
    if (io.port_number != 0x3f0 || io.access_info != (1 | 0x08 | 0x10) || io.rcx != 4 ||
        sc_memcmp((const void *)(uintptr_t)io.rsi, "ring", 4))
        return fail(c, "%s: port %x info %x rcx %lx", s->what, io.port_number, io.access_info, io.rcx);
    return set_reg(c, SIDECAR_HV_REGISTER_NAME_RCX, 0) &&
           advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

static unsigned on_hlt(struct ctx *c, const struct step *s)
{
    (void)s;
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

/* RDMSR, answered; then WRMSR of the answer. */
static unsigned on_msr(struct ctx *c, const struct step *s)
{
    struct sidecar_hv_x64_msr_intercept_message msr;
    if (sidecar_host_intercept_msr(c->h, c->cpu, &msr))
        return fail(c, "%s: no MSR message", s->what);
    uint8_t access = s->write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ;
    if (msr.msr_number != MSR_NUMBER || c->hdr.intercept_access_type != access ||
        (s->write && (msr.rax != MSR_LOW || msr.rdx != MSR_HIGH)))
        return fail(c, "%s: msr %x access %u value %lx:%lx", s->what, msr.msr_number,
                    c->hdr.intercept_access_type, msr.rdx, msr.rax);
    if (!s->write && (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RAX, MSR_LOW) ||
                      !set_reg(c, SIDECAR_HV_REGISTER_NAME_RDX, MSR_HIGH)))
        return 0;
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

/* The guest reports CPUID leaf 0's EAX on port 0x82. */
static unsigned on_cpuid_report(struct ctx *c, const struct step *s)
{
    struct sidecar_hv_x64_io_port_intercept_message io;
    if (c->type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT ||
        sidecar_host_intercept_io_port(c->h, c->cpu, &io) || io.port_number != 0x82 || !(uint32_t)io.rax)
        return fail(c, "%s: intercept type %x", s->what, c->type);
    c->r->cpuid_max_leaf = (uint32_t)io.rax;
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

/* CPUID: an intercept exactly when the kernel turned CPUID faulting on
 * (output.cpuid_faulting), native otherwise (then this run already ends
 * at the report on port 0x82, and the report step is skipped). */
static unsigned on_cpuid(struct ctx *c, const struct step *s)
{
    if ((c->type == SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT) != c->cpuid_faulting)
        return fail(c, "%s: intercept type %x with CPUID faulting %s", s->what, c->type,
                    c->cpuid_faulting ? "on" : "off");
    if (c->type != SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT)
        return on_cpuid_report(c, s) ? 2 : 0;
    struct sidecar_hv_x64_cpuid_intercept_message cm;
    if (sidecar_host_intercept_cpuid(c->h, c->cpu, &cm))
        return fail(c, "%s: no message", s->what);
    c->r->cpuid_intercept = true;
    return set_reg(c, SIDECAR_HV_REGISTER_NAME_RAX, cm.default_result_rax) &&
           set_reg(c, SIDECAR_HV_REGISTER_NAME_RBX, cm.default_result_rbx) &&
           set_reg(c, SIDECAR_HV_REGISTER_NAME_RCX, cm.default_result_rcx) &&
           set_reg(c, SIDECAR_HV_REGISTER_NAME_RDX, cm.default_result_rdx) &&
           advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

/* Emulated MMIO, as a VMM does it: the read (mov rbx, [rax]) returns
 * MMIO_VALUE in RBX; the write after it (mov [rax], rbx) must store that
 * value, read back from the guest's registers. */
static unsigned on_memory(struct ctx *c, const struct step *s)
{
    struct sidecar_hv_x64_memory_intercept_message mm;
    if (sidecar_host_intercept_memory(c->h, c->cpu, &mm))
        return fail(c, "%s: no memory message", s->what);
    if (mm.guest_physical_address != UNMAPPED_GPA || c->hdr.intercept_access_type != s->access)
        return fail(c, "%s: gpa %lx access %u", s->what, mm.guest_physical_address, c->hdr.intercept_access_type);
    struct sidecar_hv_register_value v;
    if (s->access == SIDECAR_INTERCEPT_ACCESS_READ && !set_reg(c, SIDECAR_HV_REGISTER_NAME_RBX, MMIO_VALUE))
        return 0;
    if (s->access == SIDECAR_INTERCEPT_ACCESS_WRITE &&
        (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RBX, &v) || v.low != MMIO_VALUE))
        return fail(c, "%s: the emulated read did not reach the guest", s->what);
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

static unsigned on_exception(struct ctx *c, const struct step *s)
{
    struct sidecar_hv_x64_exception_intercept_message ex;
    if (sidecar_host_intercept_exception(c->h, c->cpu, &ex))
        return fail(c, "%s: no exception message", s->what);
    if (ex.exception_vector != s->vector || c->hdr.rip != guest_addr(c->p, s->label) ||
        ex.instruction_byte_count < s->len || sidecar_host_instruction_length(&c->hdr) != s->len)
        return fail(c, "%s: vector %u at %lx, length %u", s->what, ex.exception_vector, c->hdr.rip,
                    sidecar_host_instruction_length(&c->hdr));
    /* A fault's header carries the faulting instruction's length: skip it. */
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

/* At OUT 0x83 the guest has loaded its registers: read them back, try a
 * read-only one, translate addresses in and outside guest RAM. */
static unsigned on_registers(struct ctx *c, const struct step *s)
{
    (void)s;
    struct sidecar_hv_register_value v;
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_R12, &v) || v.low != IN_VALUE)
        return fail(c, "R12 %lx, expected the IN value", v.low);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_R13, &v) || v.low != R13_VALUE)
        return fail(c, "R13 %lx", v.low);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_XMM3, &v) || v.low != R13_VALUE || v.high != R13_VALUE)
        return fail(c, "XMM3 %lx:%lx", v.high, v.low);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, &v) || v.low != c->hdr.rip)
        return fail(c, "RIP %lx, intercept at %lx", v.low, c->hdr.rip);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RFLAGS, &v) || !(v.low & 0x200) || (v.low & 0x3000))
        return fail(c, "RFLAGS %lx", v.low);
    /* A read-only register: refused with an HvStatus. */
    struct sidecar_hv_register_assoc cs;
    sc_memset(&cs, 0, sizeof(cs));
    cs.name = SIDECAR_HV_REGISTER_NAME_CS;
    struct sidecar_host_hv_error e = { 0, 0 };
    int rc = sidecar_host_set_registers(c->h, c->cpu, 0, &cs, 1, TIMEOUT_NS, &e);
    if (rc != SIDECAR_HOST_E_HV_STATUS || e.status != SIDECAR_HV_STATUS_ACCESS_DENIED)
        return fail(c, "set CS: %s, status %u (expected access denied)", sidecar_host_strerror(rc), e.status);
    /* TRANSLATE_GVA inside and outside guest RAM */
    struct sidecar_translate_gva_output tr;
    uint16_t st = 0;
    const struct sidecar_params *p = c->p;
    rc = sidecar_host_translate_gva(c->h, c->cpu, p->guest_ram_base + 0x1234, VALIDATE_READ, TIMEOUT_NS, &tr, &st);
    if (rc || tr.translation_result.result_code != SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS ||
        tr.gpa_page != (p->guest_ram_base >> 12) + 1)
        return fail(c, "translate in RAM: %s result %u page %lx", sidecar_host_strerror(rc),
                    tr.translation_result.result_code, tr.gpa_page);
    rc = sidecar_host_translate_gva(c->h, c->cpu, UNMAPPED_GPA, VALIDATE_READ, TIMEOUT_NS, &tr, &st);
    if (rc || tr.translation_result.result_code != SIDECAR_TRANSLATE_GVA_RESULT_CODE_GPA_UNMAPPED)
        return fail(c, "translate outside RAM: %s result %u", sidecar_host_strerror(rc),
                    tr.translation_result.result_code);
    return advance(c, &c->hdr, sidecar_host_instruction_length(&c->hdr));
}

#define IO_OUT(w, p, sz) { w, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, on_io, p, sz, true, -1, 0, 0, 0, 0 }
#define IO_IN(w, p, sz, v) { w, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, on_io, p, sz, false, v, 0, 0, 0, 0 }

/* The guest program's exits, in order (guest.asm). */
static const struct step steps[] = {
    IO_OUT("out imm8 al", 0x80, 1), IO_OUT("out imm8 ax", 0x80, 2), IO_OUT("out imm8 eax", 0x80, 4),
    IO_OUT("out dx al", 0x3f0, 1), IO_OUT("out dx ax", 0x3f0, 2), IO_OUT("out dx eax", 0x3f0, 4),
    IO_IN("in imm8 al", 0x81, 1, 0x5a), IO_IN("in dx eax", 0x3f0, 4, (int64_t)IN_VALUE),
    { "rep outsb", SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, on_rep_outsb, 0, 0, false, -1, 0, 0, 0, 0 },
    { "hlt", SIDECAR_HV_MESSAGE_TYPE_X64_HALT, on_hlt, 0, 0, false, -1, 0, 0, 0, 0 },
    { "rdmsr", SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, on_msr, 0, 0, false, -1, 0, 0, 0, 0 },
    { "wrmsr", SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, on_msr, 0, 0, true, -1, 0, 0, 0, 0 },
    { "cpuid", 0, on_cpuid, 0, 0, false, -1, 0, 0, 0, 0 },
    { "out 0x82 after cpuid", 0, on_cpuid_report, 0, 0, false, -1, 0, 0, 0, 0 },
    { "unmapped read", SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, on_memory, 0, 0, false, -1,
      SIDECAR_INTERCEPT_ACCESS_READ, 0, 0, 0 },
    { "unmapped write", SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, on_memory, 0, 0, false, -1,
      SIDECAR_INTERCEPT_ACCESS_WRITE, 0, 0, 0 },
    { "ud2", SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, on_exception, 0, 0, false, -1, 0, 6, mk_guest_ud,
      INSN_UD2_LEN },
    { "div by 0", SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, on_exception, 0, 0, false, -1, 0, 0, mk_guest_de,
      INSN_DIV_LEN },
    { "out 0x83", SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, on_registers, 0, 0, false, -1, 0, 0, 0, 0 },
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

/* A finished run of c's current step: check it, emulate, move on. */
static void step_done(struct ctx *c, int result)
{
    const struct step *s = &steps[c->step];
    if (result != SIDECAR_HOST_RUN_INTERCEPT) {
        char text[64] = "";
        if (result == SIDECAR_HOST_E_COMMAND)
            sidecar_host_error_text(c->h, c->cpu, text, sizeof(text));
        fail(c, "%s: run gave %s %s", s->what, result == SIDECAR_HOST_RUN_STOPPED ? "stopped" :
             sidecar_host_strerror(result), text);
        return;
    }
    c->r->intercepts++;
    c->type = 0;
    if (sidecar_host_intercept_type(c->h, c->cpu, &c->type) ||
        sidecar_host_intercept_header(c->h, c->cpu, &c->hdr)) {
        fail(c, "%s: no intercept message", s->what);
        return;
    }
    if (s->type && c->type != s->type) {
        fail(c, "%s: intercept type %x, expected %x", s->what, c->type, s->type);
        return;
    }
    unsigned adv = s->handle(c, s);
    if (adv)
        c->step += adv;
}

static struct ctx ctxs[SIDECAR_MAX_CPUS];

static struct ctx *ctx_of(uint32_t n, uint32_t cpu)
{
    for (uint32_t k = 0; k < n; k++)
        if (ctxs[k].cpu == cpu)
            return &ctxs[k];
    return 0;
}

/* Collects `in_flight` async runs; each goes to on_done. A wait that
 * times out stops every CPU still running and fails them. */
static void collect(struct sidecar_host *h, uint32_t n, uint32_t in_flight, bool restart,
                    void (*on_done)(struct ctx *c, int result))
{
    while (in_flight) {
        struct sidecar_host_completion done;
        int rc = sidecar_host_wait_any(h, TIMEOUT_NS, &done);
        if (rc) {
            for (uint32_t k = 0; k < n; k++)
                if (ctxs[k].running) {
                    sidecar_host_stop(h, ctxs[k].cpu);
                    fail(&ctxs[k], "waiting: %s", sidecar_host_strerror(rc));
                }
            return;
        }
        struct ctx *c = ctx_of(n, done.cpu);
        if (!c || !c->running)
            continue;
        c->running = false;
        in_flight--;
        on_done(c, done.result);
        if (restart && !c->err[0] && c->step < NSTEPS) {
            rc = sidecar_host_run_vp_start(h, c->cpu);
            if (rc) {
                fail(c, "%s: start: %s", steps[c->step].what, sidecar_host_strerror(rc));
                continue;
            }
            c->running = true;
            in_flight++;
        }
    }
}

/* The end of a run that STOP asked for: stopped inside the loop. */
static void stop_done(struct ctx *c, int result)
{
    if (result != SIDECAR_HOST_RUN_STOPPED) {
        fail(c, "stop %u: the run ended with %d, not stopped", c->stops, result);
        return;
    }
    c->r->stops++;
    c->stops++;
    struct sidecar_hv_register_value rip;
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, &rip))
        return;
    uint64_t loop = guest_addr(c->p, mk_guest_loop);
    if (rip.low < loop || rip.low >= loop + 6)
        fail(c, "stop %u: stopped at %lx, not in the loop at %lx", c->stops, rip.low, loop);
}

/* Every healthy CPU enters (or resumes) the guest's endless loop at once;
 * once each loop counter moved, all are stopped and collected. */
static void stop_round(struct sidecar_host *h, uint32_t n)
{
    uint32_t in_flight = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct ctx *c = &ctxs[k];
        if (c->err[0])
            continue;
        c->counter_before = *counter_of(c->p, c->cpu);
        int rc = sidecar_host_run_vp_start(h, c->cpu);
        if (rc) {
            fail(c, "stop %u: start: %s", c->stops + 1, sidecar_host_strerror(rc));
            continue;
        }
        c->running = true;
        in_flight++;
    }
    if (!in_flight)
        return;
    uint64_t t0 = now_us(ctxs[0].khz);
    for (uint32_t k = 0; k < n; k++) {
        struct ctx *c = &ctxs[k];
        while (c->running && *counter_of(c->p, c->cpu) == c->counter_before &&
               now_us(c->khz) - t0 < RUNNING_TIMEOUT_US)
            mk_pause();
        if (c->running && *counter_of(c->p, c->cpu) == c->counter_before)
            fail(c, "stop %u: the guest loop never ran", c->stops + 1);
        if (c->running)
            sidecar_host_stop(h, c->cpu);
    }
    collect(h, n, in_flight, false, stop_done);
}

void mk_vp_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                uint32_t n, uint64_t tsc_khz, bool cpuid_faulting, struct mk_vp_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->first_failed_cpu = SIDECAR_NO_CPU;
    if (!mk_vp_load_guest(p) || n > SIDECAR_MAX_CPUS) {
        sc_snprintf(r->error, sizeof(r->error), "no usable guest RAM (%lx bytes at %lx)",
                    p->guest_ram_size, p->guest_ram_base);
        return;
    }
    /* Start the first run everywhere. */
    uint32_t in_flight = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct ctx *c = &ctxs[k];
        sc_memset(c, 0, sizeof(*c));
        c->h = h;
        c->p = p;
        c->cpu = cpus[k];
        c->khz = tsc_khz;
        c->r = r;
        c->cpuid_faulting = cpuid_faulting;
        r->cpus++;
        *counter_of(p, c->cpu) = 0;
        int rc = sidecar_host_acquire(h, c->cpu);
        if (rc) {
            fail(c, "acquire: %s", sidecar_host_strerror(rc));
            continue;
        }
        c->acquired = true;
        if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, p->guest_ram_base) ||
            !set_reg(c, SIDECAR_HV_REGISTER_NAME_RSP, stack_of(p, c->cpu)) ||
            !set_reg(c, SIDECAR_HV_REGISTER_NAME_RFLAGS, 0x2))
            continue;
        if ((rc = sidecar_host_run_vp_start(h, c->cpu)) != 0) {
            fail(c, "start: %s", sidecar_host_strerror(rc));
            continue;
        }
        c->running = true;
        in_flight++;
    }
    /* Every intercept of the program, all CPUs at once. */
    collect(h, n, in_flight, true, step_done);
    for (uint32_t k = 0; k < n; k++)
        if (!ctxs[k].err[0] && ctxs[k].step != NSTEPS)
            fail(&ctxs[k], "stopped at step %u of %u", ctxs[k].step, (unsigned)NSTEPS);
    /* STOP the endless loop, RUN resumes it, STOP again; the context stays. */
    stop_round(h, n);
    stop_round(h, n);
    for (uint32_t k = 0; k < n; k++) {
        struct ctx *c = &ctxs[k];
        struct sidecar_hv_register_value v;
        if (!c->err[0] && (!get_reg(c, SIDECAR_HV_REGISTER_NAME_R13, &v) || v.low != R13_VALUE))
            fail(c, "R13 %lx after the stops", v.low);
        if (c->acquired)
            sidecar_host_release(h, c->cpu);
        if (!c->err[0]) {
            r->passed++;
        } else if (r->first_failed_cpu == SIDECAR_NO_CPU) {
            r->first_failed_cpu = c->cpu;
            sc_snprintf(r->error, sizeof(r->error), "cpu %u: %s", c->cpu, c->err);
        }
    }
    r->ok = n && r->passed == n;
}

/* ---- one CPU, synchronously (before a conversion) ---- */

/* Starts the VP (which must be at the loop), waits until the loop counter
 * moves, stops the run and collects it. */
static bool start_and_stop(struct ctx *c, const char *what)
{
    volatile uint64_t *counter = counter_of(c->p, c->cpu);
    uint64_t before = *counter;
    int rc = sidecar_host_run_vp_start(c->h, c->cpu);
    if (rc)
        return fail(c, "%s: start: %s", what, sidecar_host_strerror(rc));
    uint64_t t0 = now_us(c->khz);
    while (*counter == before && now_us(c->khz) - t0 < RUNNING_TIMEOUT_US)
        mk_pause();
    bool ran = *counter != before;
    sidecar_host_stop(c->h, c->cpu);
    rc = sidecar_host_wait(c->h, c->cpu, TIMEOUT_NS);
    if (!ran)
        return fail(c, "%s: the guest loop never ran", what);
    if (rc != SIDECAR_HOST_RUN_STOPPED)
        return fail(c, "%s: the run ended with %d, not stopped", what, rc);
    return true;
}

int mk_vp_run_and_stop(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu,
                       uint64_t tsc_khz, const char **why)
{
    static char text[96];
    struct mk_vp_result r;
    sc_memset(&r, 0, sizeof(r));
    struct ctx c;
    sc_memset(&c, 0, sizeof(c));
    c.h = h;
    c.p = p;
    c.cpu = cpu;
    c.khz = tsc_khz;
    c.r = &r;
    *why = "";
    int rc = sidecar_host_acquire(h, cpu);
    if (rc) {
        *why = sidecar_host_strerror(rc);
        return rc;
    }
    *counter_of(p, cpu) = 0;
    bool ok = set_reg(&c, SIDECAR_HV_REGISTER_NAME_RIP, guest_addr(p, mk_guest_loop)) &&
              set_reg(&c, SIDECAR_HV_REGISTER_NAME_RSP, stack_of(p, cpu)) &&
              start_and_stop(&c, "stop before convert");
    sidecar_host_release(h, cpu);
    if (ok)
        return 0;
    sc_snprintf(text, sizeof(text), "%s", c.err);
    *why = text;
    return SIDECAR_HOST_E_STATE;
}
