/* SPDX-License-Identifier: MIT */
/* Unit tests of the ring-3 backend wired into the dispatch core
 * (kernel/core/vp/run.c): RUN_VP with a scripted fake arch half, STOP,
 * failures, GET/SET_VP_REGISTERS and TRANSLATE_GVA through the command page. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/vp.h>

#define RAM_BASE 0x100000ull
#define RAM_SIZE 0x10000ull

/* One scripted exit: what the guest "did" before trapping. */
struct step {
    uint8_t vector;
    uint8_t has_error_code;
    uint32_t error_code;
    uint64_t fault_address;
    uint64_t rip;
    uint64_t rax;
    bool request_stop;      /* the host sets STOP while the guest runs */
    int fail;               /* enter returns -1 */
    bool fx_write;          /* the guest changes XMM0 (needs its FX state live) */
};

static struct {
    const struct step *steps;
    int nsteps, next;
    uint64_t rax_seen[8];
    uint64_t rflags_seen[8];
    uint32_t mxcsr_seen;
    bool fx_live_seen[8];
    uint64_t xmm1_seen[8];
    int reads, cpuids;
    uint32_t last_read_n;
    uint64_t last_read_gpa;
} fk;

static uint8_t ram[RAM_SIZE];
static struct sidecar_control_page *cp;
static struct sidecar_command_page *cmd;
static struct sk_cpu cpu;
static struct sk_vp vp;

static int f_enter(void *ctx, struct sk_vp *v)
{
    (void)ctx;
    cr_assert(fk.next < fk.nsteps, "entered more often than scripted");
    const struct step *s = &fk.steps[fk.next];
    fk.rax_seen[fk.next] = v->gpr[SK_VP_RAX];
    fk.rflags_seen[fk.next] = v->rflags;
    fk.mxcsr_seen = v->fx.mxcsr;
    fk.fx_live_seen[fk.next] = v->fx_live;
    fk.xmm1_seen[fk.next] = v->fx.xmm[1].low;
    fk.next++;
    if (s->fx_write) {
        cr_assert(v->fx_live, "the guest used the FPU without its state loaded");
        v->fx.xmm[0].low = 0xabc;
    }
    if (s->fail)
        return -1;
    v->rip = s->rip;
    v->gpr[SK_VP_RAX] = s->rax;
    v->rflags |= SK_RFLAGS_RF;           /* as the CPU may leave it */
    v->exit.vector = s->vector;
    v->exit.has_error_code = s->has_error_code;
    v->exit.error_code = s->error_code;
    v->exit.fault_address = s->fault_address;
    if (s->request_stop)
        cp->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
    return 0;
}

static uint32_t f_read(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    cr_assert(gpa >= RAM_BASE && gpa + n <= RAM_BASE + RAM_SIZE, "read outside RAM");
    memcpy(dst, ram + (gpa - RAM_BASE), n);
    fk.reads++;
    fk.last_read_n = n;
    fk.last_read_gpa = gpa;
    return n;
}

static void f_cpuid(void *ctx, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)ctx;
    fk.cpuids++;
    out[0] = leaf + 1;
    out[1] = subleaf + 2;
    out[2] = 0xc;
    out[3] = 0xd;
}

static const struct sk_vp_ops ops = { f_enter, f_read, f_cpuid };
static void f_park(void *ctx, const volatile uint8_t *s) { (void)ctx; (void)s; }
static const struct sk_arch arch = { NULL, f_park, NULL, NULL, NULL, NULL };

static void setup(void)
{
    memset(&fk, 0, sizeof(fk));
    memset(ram, 0x90, sizeof(ram));
    cp = aligned_alloc(4096, 4096);
    cmd = aligned_alloc(4096, 4096);
    memset(cp, 0, 4096);
    memset(cmd, 0, 4096);
    cp->cpu_count = 2;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_IDLE;
    struct sk_vp_config c = {
        .ram = { RAM_BASE, RAM_SIZE, SK_VP_RAM_ALL },
        .cs = 0x2b, .ss = 0x23, .ds = 0x23, .es = 0x23,
        .mxcsr_mask = 0xffbf, .ops = &ops,
    };
    sk_vp_init(&vp, 5, &c);
    sk_cpu_init(&cpu, cp, cmd, NULL, 1, 5, &arch, &sk_vp_ring3_backend, &vp);
    /* The host's initial context, as OpenHCL's VMM writes it. */
    cmd->cpu_context.fx_state.fcw = 0x37f;
    cmd->cpu_context.fx_state.mxcsr = 0x1f80;
}

static void teardown(void)
{
    free(cp);
    free(cmd);
}

TestSuite(vp_run, .init = setup, .fini = teardown);

static void script(const struct step *s, int n)
{
    fk.steps = s;
    fk.nsteps = n;
}

static void command(uint32_t c)
{
    cmd->command = c;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_RUN;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_COMMAND);
    cr_assert_eq(cp->cpu_status[1], SIDECAR_CPU_STATUS_IDLE);
}

static uint8_t intercept(void) { return cmd->request_data[0]; }

Test(vp_run, interrupt_then_out_is_an_io_intercept)
{
    const uint8_t out[] = {0xe6, 0x80};
    memcpy(ram + 0x1000, out, sizeof(out));
    const struct step s[] = {
        { .vector = 0x20, .rip = RAM_BASE + 0x800, .rax = 1 },
        { .vector = 13, .has_error_code = 1, .rip = RAM_BASE + 0x1000, .rax = 0x55 },
    };
    script(s, 2);
    cmd->cpu_context.gps[0] = 0x1234;       /* RAX */
    cmd->cpu_context.gps[4] = 0xcafe;       /* CR2 */
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(fk.next, 2);
    cr_assert_eq(fk.rax_seen[0], 0x1234, "cpu_context loaded before entry");
    cr_assert_eq(fk.rflags_seen[1] & SK_RFLAGS_RF, 0, "RFLAGS sanitized before every entry");
    cr_assert_eq(vp.stats.entries, 2);
    cr_assert_eq(vp.stats.interrupts, 1);
    cr_assert_eq(vp.stats.intercepts, 1);
    const struct sidecar_hv_message *m = &cmd->intercept_message;
    cr_assert_eq(m->header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT);
    struct sidecar_hv_x64_io_port_intercept_message io;
    memcpy(&io, m->payload, sizeof(io));
    cr_assert_eq(io.port_number, 0x80);
    cr_assert_eq(io.access_info, 1);
    cr_assert_eq(io.header.rip, RAM_BASE + 0x1000);
    cr_assert_eq(io.header.vp_index, 5);
    cr_assert_eq(io.header.instruction_length_and_cr8, 2);
    cr_assert_eq(io.instruction_byte_count, 16);
    cr_assert_eq(io.rax, 0x55);
    cr_assert_eq(cmd->cpu_context.gps[0], 0x55, "payload RAX == cpu_context RAX");
    cr_assert_eq(cmd->cpu_context.gps[4], 0xcafe, "CR2 kept");
    cr_assert_eq(fk.last_read_gpa, RAM_BASE + 0x1000);
}

Test(vp_run, instruction_fetch_clamped_at_ram_end)
{
    ram[RAM_SIZE - 1] = 0xf4;                /* HLT in the last byte */
    const struct step s[] = {
        { .vector = 13, .has_error_code = 1, .rip = RAM_BASE + RAM_SIZE - 1 },
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(intercept(), 1);
    cr_assert_eq(fk.last_read_n, 1);
    cr_assert_eq(cmd->intercept_message.header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_HALT);
    cr_assert_eq(cmd->intercept_message.header.payload_size, 40);
}

Test(vp_run, rip_outside_ram_reads_nothing)
{
    const struct step s[] = {
        { .vector = 14, .has_error_code = 1, .error_code = SK_VP_PF_USER | SK_VP_PF_FETCH,
          .fault_address = 0xfffff000, .rip = 0xfffff000 },
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.reads, 0);
    cr_assert_eq(cmd->intercept_message.header.message_type, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA);
}

Test(vp_run, cpuid_defaults_from_the_arch)
{
    const uint8_t cpuid[] = {0x0f, 0xa2};
    memcpy(ram, cpuid, sizeof(cpuid));
    const struct step s[] = { { .vector = 13, .has_error_code = 1, .rip = RAM_BASE, .rax = 7 } };
    script(s, 1);
    cmd->cpu_context.gps[1] = 3;             /* RCX: subleaf */
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.cpuids, 1);
    struct sidecar_hv_x64_cpuid_intercept_message c;
    memcpy(&c, cmd->intercept_message.payload, sizeof(c));
    cr_assert_eq(cmd->intercept_message.header.message_type,
                 SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT);
    cr_assert_eq(c.rax, 7);
    cr_assert_eq(c.rcx, 3);
    cr_assert_eq(c.default_result_rax, 8);
    cr_assert_eq(c.default_result_rbx, 5);
    cr_assert_eq(c.default_result_rcx, 0xc);
    cr_assert_eq(c.default_result_rdx, 0xd);
}

Test(vp_run, stop_before_entry)
{
    /* The host moved RUN->STOP before this CPU looked: the command is
     * taken and answered (OpenHCL: intercept = 0), the guest never enters,
     * and a stale error from before is cleared. */
    script(NULL, 0);
    cmd->command = SIDECAR_COMMAND_RUN_VP;
    cmd->request_data[0] = 0xff;
    cmd->has_error = 1;
    cmd->error.len = 3;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_STOPPED);
    cr_assert_eq(fk.next, 0);
    cr_assert_eq(cp->cpu_status[1], SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(cmd->command, SIDECAR_COMMAND_NONE);
    cr_assert_eq(cmd->request_data[0], 0, "RUN_VP answered intercept = 0");
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(cmd->error.len, 0);
    /* STOP seen by the run itself, before its first entry. */
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
    cmd->cpu_context.gps[2] = 0x22;
    cr_assert_eq(sk_vp_run(&cpu, &vp, &cmd->intercept_message), 0);
    cr_assert_eq(fk.next, 0);
    cr_assert_eq(vp.stats.entries, 0);
    cr_assert_eq(cmd->cpu_context.gps[2], 0x22, "context round-trips unchanged");
}

Test(vp_run, stop_during_the_run_ends_without_intercept)
{
    const struct step s[] = {
        { .vector = 0x20, .rip = RAM_BASE, .rax = 9, .request_stop = true },
    };
    script(s, 1);
    cmd->command = SIDECAR_COMMAND_RUN_VP;
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_RUN;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_COMMAND);
    cr_assert_eq(cp->cpu_status[1], SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(intercept(), 0);
    cr_assert_eq(fk.next, 1);
    cr_assert_eq(cmd->cpu_context.gps[0], 9, "context stored on stop");
    cr_assert_eq(vp.rip, RAM_BASE, "RIP kept for the next run");
}

Test(vp_run, enter_failure_sets_error)
{
    const struct step s[] = { { .fail = 1 } };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 1);
    cr_assert_eq(cmd->error.len, strlen("run_vp: the VP could not be entered"));
}

Test(vp_run, no_arch_half_sets_error)
{
    vp.ops = NULL;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->has_error, 1);
    cr_assert(memcmp(cmd->error.buf, "run_vp: the ring-3 backend", 26) == 0);
}

Test(vp_run, mxcsr_from_the_host_is_masked)
{
    /* The FX state is loaded at the guest's first FPU use (#NM). */
    const struct step s[] = { { .vector = 7, .rip = RAM_BASE }, { .vector = 6, .rip = RAM_BASE } };
    script(s, 2);
    cmd->cpu_context.fx_state.mxcsr = 0xffffffff;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.mxcsr_seen, 0xffbf);
    cr_assert_eq(cmd->intercept_message.header.message_type,
                 SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
}

/* ---- the lazy FX state ---- */

Test(vp_run, a_run_without_fpu_use_leaves_the_fx_state_alone)
{
    const struct step s[] = { { .vector = 6, .rip = RAM_BASE } };
    script(s, 1);
    cmd->cpu_context.fx_state.xmm[1].low = 7;
    vp.fx.xmm[1].low = 99;                     /* stale: from an earlier run */
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_not(fk.fx_live_seen[0], "entered with the FX state live");
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[1].low, 7, "the page's FX state was overwritten");
    cr_assert_eq(vp.stats.fx_loads, 0);
    cr_assert_not(vp.fx_live);
}

Test(vp_run, the_first_fpu_use_loads_the_fx_state_and_the_run_stores_it)
{
    const struct step s[] = {
        { .vector = 7, .rip = RAM_BASE },                      /* #NM: first FPU use */
        { .vector = 6, .rip = RAM_BASE, .fx_write = true },    /* runs with it, then #UD */
    };
    script(s, 2);
    cmd->cpu_context.fx_state.xmm[1].low = 7;
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert(fk.fx_live_seen[1]);
    cr_assert_eq(fk.xmm1_seen[1], 7, "the FX state came from cpu_context");
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[0].low, 0xabc, "the guest's change was stored back");
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[1].low, 7);
    cr_assert_eq(vp.stats.fx_loads, 1);
    cr_assert_eq(cmd->intercept_message.header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
    cr_assert_not(vp.fx_live, "the next run starts lazy again");
}

Test(vp_run, a_device_not_available_with_the_state_live_is_the_guests)
{
    const struct step s[] = { { .vector = 7, .rip = RAM_BASE }, { .vector = 7, .rip = RAM_BASE } };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(cmd->intercept_message.header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
    cr_assert_eq(fk.next, 2);
}

/* ---- GET/SET/TRANSLATE through the command page ---- */

static struct sidecar_get_set_vp_registers_request *regs(void)
{
    return (void *)cmd->request_data;
}

static void reg(int i, uint32_t name, uint64_t lo, uint64_t hi)
{
    regs()->regs[i].name = name;
    regs()->regs[i].value.low = lo;
    regs()->regs[i].value.high = hi;
}

Test(vp_run, get_reads_cpu_context_and_vp_state)
{
    cmd->cpu_context.gps[0] = 0x11;
    cmd->cpu_context.gps[4] = 0x44;           /* CR2 */
    cmd->cpu_context.gps[15] = 0xff;
    cmd->cpu_context.fx_state.xmm[2].high = 0x22;
    vp.gpr[SK_VP_RSP] = 0x7000;
    vp.rip = 0x101000;
    regs()->count = 7;
    reg(0, SIDECAR_HV_REGISTER_NAME_RAX, 0, 0);
    reg(1, SIDECAR_HV_REGISTER_NAME_R15, 0, 0);
    reg(2, SIDECAR_HV_REGISTER_NAME_RSP, 0, 0);
    reg(3, SIDECAR_HV_REGISTER_NAME_RIP, 0, 0);
    reg(4, SIDECAR_HV_REGISTER_NAME_CR2, 0, 0);
    reg(5, SIDECAR_HV_REGISTER_NAME_XMM2, 0, 0);
    reg(6, SIDECAR_HV_REGISTER_NAME_CS, 0, 0);
    command(SIDECAR_COMMAND_GET_VP_REGISTERS);
    cr_assert_eq(regs()->status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(regs()->regs[0].value.low, 0x11);
    cr_assert_eq(regs()->regs[1].value.low, 0xff);
    cr_assert_eq(regs()->regs[2].value.low, 0x7000);
    cr_assert_eq(regs()->regs[3].value.low, 0x101000);
    cr_assert_eq(regs()->regs[4].value.low, 0x44);
    cr_assert_eq(regs()->regs[5].value.high, 0x22);
    cr_assert_eq(regs()->regs[6].value.high >> 32 & 0xffff, 0x2b);
}

Test(vp_run, set_writes_cpu_context_and_stops_at_first_failure)
{
    regs()->count = 5;
    reg(0, SIDECAR_HV_REGISTER_NAME_RBX, 0xb0b, 0);
    reg(1, SIDECAR_HV_REGISTER_NAME_RFLAGS, 0x3202 | SK_RFLAGS_AC, 0);
    reg(2, SIDECAR_HV_REGISTER_NAME_XMM15, 1, 2);
    reg(3, SIDECAR_HV_REGISTER_NAME_CR2, 5, 0);
    reg(4, SIDECAR_HV_REGISTER_NAME_RCX, 0xc0c, 0);
    command(SIDECAR_COMMAND_SET_VP_REGISTERS);
    cr_assert_eq(regs()->status, SIDECAR_HV_STATUS_ACCESS_DENIED);
    cr_assert_eq(cmd->has_error, 0, "a register status is not a command error");
    cr_assert_eq(cmd->cpu_context.gps[3], 0xb0b);
    cr_assert_eq(vp.rflags, 0x202);
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[15].low, 1);
    cr_assert_eq(cmd->cpu_context.fx_state.xmm[15].high, 2);
    cr_assert_eq(cmd->cpu_context.gps[4], 0, "CR2 refused");
    cr_assert_eq(cmd->cpu_context.gps[1], 0, "registers after the failure untouched");

    regs()->count = 1;
    reg(0, SIDECAR_HV_REGISTER_NAME_DR7, 0, 0);
    command(SIDECAR_COMMAND_GET_VP_REGISTERS);
    cr_assert_eq(regs()->status, SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME);
}

Test(vp_run, host_writes_to_cpu_context_win_over_stale_vp_copies)
{
    vp.gpr[SK_VP_RAX] = 0xdead;              /* stale copy from an earlier run */
    cmd->cpu_context.gps[0] = 0x600d;
    regs()->count = 1;
    reg(0, SIDECAR_HV_REGISTER_NAME_RSI, 6, 0);
    command(SIDECAR_COMMAND_SET_VP_REGISTERS);
    cr_assert_eq(cmd->cpu_context.gps[0], 0x600d, "SET of RSI does not clobber RAX");
    cr_assert_eq(cmd->cpu_context.gps[6], 6);
}

Test(vp_run, translate_through_the_command_page)
{
    struct sidecar_translate_gva_request req = { .gvn = (RAM_BASE >> 12) + 3,
                                                 .control_flags = SK_TRANSLATE_VALIDATE_WRITE };
    memcpy(cmd->request_data, &req, sizeof(req));
    command(SIDECAR_COMMAND_TRANSLATE_GVA);
    struct sidecar_translate_gva_response resp;
    memcpy(&resp, cmd->request_data, sizeof(resp));
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(resp.status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(resp.output.translation_result.result_code,
                 SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS);
    cr_assert_eq(resp.output.gpa_page, (RAM_BASE >> 12) + 3);

    req.gvn = 0xfee00;
    memcpy(cmd->request_data, &req, sizeof(req));
    command(SIDECAR_COMMAND_TRANSLATE_GVA);
    memcpy(&resp, cmd->request_data, sizeof(resp));
    cr_assert_eq(resp.output.translation_result.result_code,
                 SIDECAR_TRANSLATE_GVA_RESULT_CODE_GPA_UNMAPPED);
    cr_assert_eq(resp.output.gpa_page, 0xfee00);
}
