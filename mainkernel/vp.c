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

#define TIMEOUT_NS 2000000000ull
#define RUNNING_TIMEOUT_US 3000000ull
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

/* ---- one intercept ---- */

/* Runs until the next intercept, which must be of type `type`; its
 * message goes to *m. */
static bool run_to(struct ctx *c, uint32_t type, const char *what, struct sidecar_hv_message *m,
                   struct sidecar_hv_x64_intercept_message_header *hdr)
{
    int rc = sidecar_host_run_vp(c->h, c->cpu, TIMEOUT_NS);
    if (rc != SIDECAR_HOST_RUN_INTERCEPT) {
        char text[64] = "";
        if (rc == SIDECAR_HOST_E_COMMAND)
            sidecar_host_error_text(c->h, c->cpu, text, sizeof(text));
        return fail(c, "%s: run gave %s %s", what, rc == SIDECAR_HOST_RUN_STOPPED ? "stopped" :
                    sidecar_host_strerror(rc), text);
    }
    c->r->intercepts++;
    uint32_t got = 0;
    if (sidecar_host_intercept_type(c->h, c->cpu, &got) || got != type)
        return fail(c, "%s: intercept type %x, expected %x", what, got, type);
    if (sidecar_host_intercept_message(c->h, c->cpu, m) || sidecar_host_intercept_header(c->h, c->cpu, hdr))
        return fail(c, "%s: no message", what);
    return true;
}

/* What a VMM does after emulating: RIP past the instruction. */
static bool advance(struct ctx *c, const struct sidecar_hv_x64_intercept_message_header *hdr, uint32_t len)
{
    if (!len)
        return fail(c, "intercept at %lx without an instruction length", hdr->rip);
    return set_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, hdr->rip + len);
}

/* An IN/OUT/OUTS intercept: port, size, direction, string/REP, and for OUT
 * the value. in_value >= 0: the IN result the host hands back in RAX. */
static bool io(struct ctx *c, const char *what, uint16_t port, uint8_t size, bool write, bool rep,
               int64_t in_value)
{
    struct sidecar_hv_message m;
    struct sidecar_hv_x64_intercept_message_header hdr;
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, what, &m, &hdr))
        return false;
    struct sidecar_hv_x64_io_port_intercept_message io;
    if (sidecar_host_intercept_io_port(c->h, c->cpu, &io))
        return fail(c, "%s: no IO message", what);
    uint8_t info = (uint8_t)(size | (rep ? 0x18 : 0));
    if (io.port_number != port || io.access_info != info ||
        hdr.intercept_access_type != (write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ))
        return fail(c, "%s: port %x info %x access %u", what, io.port_number, io.access_info,
                    hdr.intercept_access_type);
    uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
    if (write && !rep && (io.rax & mask) != (0x11223344ull & mask))
        return fail(c, "%s: value %lx", what, io.rax);
    if (in_value >= 0) {
        uint64_t rax = size == 4 ? (uint64_t)in_value : (io.rax & ~mask) | ((uint64_t)in_value & mask);
        if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RAX, rax))
            return false;
    }
    return advance(c, &hdr, sidecar_host_instruction_length(&hdr));
}

static bool memory(struct ctx *c, const char *what, uint8_t access)
{
    struct sidecar_hv_message m;
    struct sidecar_hv_x64_intercept_message_header hdr;
    struct sidecar_hv_x64_memory_intercept_message mm;
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, what, &m, &hdr) ||
        sidecar_host_intercept_memory(c->h, c->cpu, &mm))
        return fail(c, "%s: no memory message", what);
    if (mm.guest_physical_address != UNMAPPED_GPA || hdr.intercept_access_type != access)
        return fail(c, "%s: gpa %lx access %u", what, mm.guest_physical_address, hdr.intercept_access_type);
    /* Emulate the MMIO as a VMM would: the read (mov rbx, [rax]) returns
     * MMIO_VALUE in RBX; the write after it (mov [rax], rbx) must store
     * that value, read back from the guest's registers. */
    struct sidecar_hv_register_value v;
    if (access == SIDECAR_INTERCEPT_ACCESS_READ && !set_reg(c, SIDECAR_HV_REGISTER_NAME_RBX, MMIO_VALUE))
        return false;
    if (access == SIDECAR_INTERCEPT_ACCESS_WRITE &&
        (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RBX, &v) || v.low != MMIO_VALUE))
        return fail(c, "%s: the emulated read did not reach the guest", what);
    return advance(c, &hdr, sidecar_host_instruction_length(&hdr));
}

static bool exception(struct ctx *c, const char *what, uint16_t vector, const uint8_t *label, uint32_t len)
{
    struct sidecar_hv_message m;
    struct sidecar_hv_x64_intercept_message_header hdr;
    struct sidecar_hv_x64_exception_intercept_message ex;
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, what, &m, &hdr) ||
        sidecar_host_intercept_exception(c->h, c->cpu, &ex))
        return fail(c, "%s: no exception message", what);
    if (ex.exception_vector != vector || hdr.rip != guest_addr(c->p, label) || ex.instruction_byte_count < len ||
        sidecar_host_instruction_length(&hdr) != len)
        return fail(c, "%s: vector %u at %lx, length %u", what, ex.exception_vector, hdr.rip,
                    sidecar_host_instruction_length(&hdr));
    /* A fault's header carries the faulting instruction's length: skip it. */
    return advance(c, &hdr, sidecar_host_instruction_length(&hdr));
}

/* ---- STOP ---- */

/* Starts the VP (which must be at the loop), waits until the loop counter
 * passes `after`, stops the run and collects it. */
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
    c->r->stops++;
    struct sidecar_hv_register_value rip;
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, &rip))
        return false;
    uint64_t loop = guest_addr(c->p, mk_guest_loop);
    if (rip.low < loop || rip.low >= loop + 6)
        return fail(c, "%s: stopped at %lx, not in the loop at %lx", what, rip.low, loop);
    return true;
}

static bool start_at_loop(struct ctx *c)
{
    *counter_of(c->p, c->cpu) = 0;
    return set_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, guest_addr(c->p, mk_guest_loop)) &&
           set_reg(c, SIDECAR_HV_REGISTER_NAME_RSP, stack_of(c->p, c->cpu));
}

/* ---- the sequence on one CPU ---- */

static bool test_cpu(struct ctx *c)
{
    const struct sidecar_params *p = c->p;
    *counter_of(p, c->cpu) = 0;
    if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, p->guest_ram_base) ||
        !set_reg(c, SIDECAR_HV_REGISTER_NAME_RSP, stack_of(p, c->cpu)) ||
        !set_reg(c, SIDECAR_HV_REGISTER_NAME_RFLAGS, 0x2))
        return false;
    if (!io(c, "out imm8 al", 0x80, 1, true, false, -1) || !io(c, "out imm8 ax", 0x80, 2, true, false, -1) ||
        !io(c, "out imm8 eax", 0x80, 4, true, false, -1) || !io(c, "out dx al", 0x3f0, 1, true, false, -1) ||
        !io(c, "out dx ax", 0x3f0, 2, true, false, -1) || !io(c, "out dx eax", 0x3f0, 4, true, false, -1) ||
        !io(c, "in imm8 al", 0x81, 1, false, false, 0x5a) ||
        !io(c, "in dx eax", 0x3f0, 4, false, false, (int64_t)IN_VALUE))
        return false;
    /* rep outsb: one intercept for the whole string (the VMM would write
     * RCX bytes at RSI to the port, then clear RCX). */
    struct sidecar_hv_message m;
    struct sidecar_hv_x64_intercept_message_header hdr;
    struct sidecar_hv_x64_io_port_intercept_message iom;
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, "rep outsb", &m, &hdr) ||
        sidecar_host_intercept_io_port(c->h, c->cpu, &iom))
        return false;
    if (iom.port_number != 0x3f0 || iom.access_info != (1 | 0x08 | 0x10) || iom.rcx != 4 ||
        sc_memcmp((const void *)(uintptr_t)iom.rsi, "ring", 4))
        return fail(c, "rep outsb: port %x info %x rcx %lx", iom.port_number, iom.access_info, iom.rcx);
    if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RCX, 0) || !advance(c, &hdr, sidecar_host_instruction_length(&hdr)))
        return false;
    /* HLT */
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_X64_HALT, "hlt", &m, &hdr) || !advance(c, &hdr, sidecar_host_instruction_length(&hdr)))
        return false;
    /* RDMSR, answered; WRMSR of the answer */
    struct sidecar_hv_x64_msr_intercept_message msr;
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, "rdmsr", &m, &hdr) ||
        sidecar_host_intercept_msr(c->h, c->cpu, &msr))
        return false;
    if (msr.msr_number != MSR_NUMBER || hdr.intercept_access_type != SIDECAR_INTERCEPT_ACCESS_READ)
        return fail(c, "rdmsr: msr %x access %u", msr.msr_number, hdr.intercept_access_type);
    if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RAX, MSR_LOW) || !set_reg(c, SIDECAR_HV_REGISTER_NAME_RDX, MSR_HIGH) ||
        !advance(c, &hdr, sidecar_host_instruction_length(&hdr)))
        return false;
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, "wrmsr", &m, &hdr) ||
        sidecar_host_intercept_msr(c->h, c->cpu, &msr))
        return false;
    if (msr.msr_number != MSR_NUMBER || hdr.intercept_access_type != SIDECAR_INTERCEPT_ACCESS_WRITE ||
        msr.rax != MSR_LOW || msr.rdx != MSR_HIGH)
        return fail(c, "wrmsr: msr %x access %u value %lx:%lx", msr.msr_number, hdr.intercept_access_type,
                    msr.rdx, msr.rax);
    if (!advance(c, &hdr, sidecar_host_instruction_length(&hdr)))
        return false;
    /* CPUID: an intercept exactly when the kernel turned CPUID faulting on
     * (output.cpuid_faulting), native otherwise; the guest then reports
     * leaf 0's EAX on port 0x82. */
    int rc = sidecar_host_run_vp(c->h, c->cpu, TIMEOUT_NS);
    uint32_t type = 0;
    if (rc != SIDECAR_HOST_RUN_INTERCEPT || sidecar_host_intercept_type(c->h, c->cpu, &type))
        return fail(c, "cpuid: run gave %d", rc);
    c->r->intercepts++;
    if ((type == SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT) != c->cpuid_faulting)
        return fail(c, "cpuid: intercept type %x with CPUID faulting %s", type, c->cpuid_faulting ? "on" : "off");
    if (type == SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT) {
        struct sidecar_hv_x64_cpuid_intercept_message cm;
        if (sidecar_host_intercept_cpuid(c->h, c->cpu, &cm) || sidecar_host_intercept_header(c->h, c->cpu, &hdr))
            return fail(c, "cpuid: no message");
        c->r->cpuid_intercept = true;
        if (!set_reg(c, SIDECAR_HV_REGISTER_NAME_RAX, cm.default_result_rax) ||
            !set_reg(c, SIDECAR_HV_REGISTER_NAME_RBX, cm.default_result_rbx) ||
            !set_reg(c, SIDECAR_HV_REGISTER_NAME_RCX, cm.default_result_rcx) ||
            !set_reg(c, SIDECAR_HV_REGISTER_NAME_RDX, cm.default_result_rdx) ||
            !advance(c, &hdr, sidecar_host_instruction_length(&hdr)) ||
            !run_to(c, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, "out after cpuid", &m, &hdr))
            return false;
    } else if (type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT ||
               sidecar_host_intercept_header(c->h, c->cpu, &hdr)) {
        return fail(c, "cpuid: intercept type %x", type);
    }
    if (sidecar_host_intercept_io_port(c->h, c->cpu, &iom) || iom.port_number != 0x82 || !(uint32_t)iom.rax)
        return fail(c, "out 0x82: port %x eax %lx", iom.port_number, iom.rax);
    c->r->cpuid_max_leaf = (uint32_t)iom.rax;
    if (!advance(c, &hdr, sidecar_host_instruction_length(&hdr)))
        return false;
    /* Unmapped GPA, exceptions */
    if (!memory(c, "unmapped read", SIDECAR_INTERCEPT_ACCESS_READ) ||
        !memory(c, "unmapped write", SIDECAR_INTERCEPT_ACCESS_WRITE) ||
        !exception(c, "ud2", 6, mk_guest_ud, INSN_UD2_LEN) ||
        !exception(c, "div by 0", 0, mk_guest_de, INSN_DIV_LEN))
        return false;
    /* Registers at out 0x83 */
    if (!run_to(c, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, "out 0x83", &m, &hdr))
        return false;
    struct sidecar_hv_register_value v;
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_R12, &v) || v.low != IN_VALUE)
        return fail(c, "R12 %lx, expected the IN value", v.low);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_R13, &v) || v.low != R13_VALUE)
        return fail(c, "R13 %lx", v.low);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_XMM3, &v) || v.low != R13_VALUE || v.high != R13_VALUE)
        return fail(c, "XMM3 %lx:%lx", v.high, v.low);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RIP, &v) || v.low != hdr.rip)
        return fail(c, "RIP %lx, intercept at %lx", v.low, hdr.rip);
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_RFLAGS, &v) || !(v.low & 0x200) || (v.low & 0x3000))
        return fail(c, "RFLAGS %lx", v.low);
    /* A read-only register: refused with an HvStatus. */
    struct sidecar_hv_register_assoc cs;
    sc_memset(&cs, 0, sizeof(cs));
    cs.name = SIDECAR_HV_REGISTER_NAME_CS;
    struct sidecar_host_hv_error e = { 0, 0 };
    rc = sidecar_host_set_registers(c->h, c->cpu, 0, &cs, 1, TIMEOUT_NS, &e);
    if (rc != SIDECAR_HOST_E_HV_STATUS || e.status != SIDECAR_HV_STATUS_ACCESS_DENIED)
        return fail(c, "set CS: %s, status %u (expected access denied)", sidecar_host_strerror(rc), e.status);
    /* TRANSLATE_GVA inside and outside guest RAM */
    struct sidecar_translate_gva_output tr;
    uint16_t st = 0;
    rc = sidecar_host_translate_gva(c->h, c->cpu, p->guest_ram_base + 0x1234, VALIDATE_READ, TIMEOUT_NS, &tr, &st);
    if (rc || tr.translation_result.result_code != SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS ||
        tr.gpa_page != (p->guest_ram_base >> 12) + 1)
        return fail(c, "translate in RAM: %s result %u page %lx", sidecar_host_strerror(rc),
                    tr.translation_result.result_code, tr.gpa_page);
    rc = sidecar_host_translate_gva(c->h, c->cpu, UNMAPPED_GPA, VALIDATE_READ, TIMEOUT_NS, &tr, &st);
    if (rc || tr.translation_result.result_code != SIDECAR_TRANSLATE_GVA_RESULT_CODE_GPA_UNMAPPED)
        return fail(c, "translate outside RAM: %s result %u", sidecar_host_strerror(rc),
                    tr.translation_result.result_code);
    if (!advance(c, &hdr, sidecar_host_instruction_length(&hdr)))
        return false;
    /* STOP an endless loop, RUN resumes it, STOP again; the context stays. */
    if (!start_and_stop(c, "first stop") || !start_and_stop(c, "second stop"))
        return false;
    if (!get_reg(c, SIDECAR_HV_REGISTER_NAME_R13, &v) || v.low != R13_VALUE)
        return fail(c, "R13 %lx after the stops", v.low);
    return true;
}

void mk_vp_test(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                uint32_t n, uint64_t tsc_khz, bool cpuid_faulting, struct mk_vp_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->first_failed_cpu = SIDECAR_NO_CPU;
    if (!mk_vp_load_guest(p)) {
        sc_snprintf(r->error, sizeof(r->error), "no usable guest RAM (%lx bytes at %lx)",
                    p->guest_ram_size, p->guest_ram_base);
        return;
    }
    for (uint32_t k = 0; k < n; k++) {
        struct ctx c;
        sc_memset(&c, 0, sizeof(c));
        c.h = h;
        c.p = p;
        c.cpu = cpus[k];
        c.khz = tsc_khz;
        c.r = r;
        c.cpuid_faulting = cpuid_faulting;
        r->cpus++;
        int rc = sidecar_host_acquire(h, c.cpu);
        bool ok = !rc && test_cpu(&c);
        if (rc)
            fail(&c, "acquire: %s", sidecar_host_strerror(rc));
        if (!rc)
            sidecar_host_release(h, c.cpu);
        if (ok) {
            r->passed++;
        } else if (r->first_failed_cpu == SIDECAR_NO_CPU) {
            r->first_failed_cpu = c.cpu;
            sc_snprintf(r->error, sizeof(r->error), "cpu %u: %s", c.cpu, c.err);
        }
    }
    r->ok = n && r->passed == n;
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
    bool ok = start_at_loop(&c) && start_and_stop(&c, "stop before convert");
    sidecar_host_release(h, cpu);
    if (ok)
        return 0;
    sc_snprintf(text, sizeof(text), "%s", c.err);
    *why = text;
    return SIDECAR_HOST_E_STATE;
}
