/* SPDX-License-Identifier: MIT */
/* Unit tests of the kernel's portable dispatch core (kernel/core), natively,
 * with a fake arch that records IPIs and parks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/kcore.h>

struct fake {
    int parks, quiesced, ipis;
    uint32_t ipi_dest, ipi_vector;
};

static void f_park(void *ctx, const volatile uint8_t *s) { (void)s; ((struct fake *)ctx)->parks++; }
static void f_ipi(void *ctx, uint32_t dest, uint32_t v)
{
    struct fake *f = ctx;
    f->ipis++;
    f->ipi_dest = dest;
    f->ipi_vector = v;
}
static uint64_t f_now(void *ctx) { (void)ctx; return 0; }
static void f_quiesce(void *ctx) { ((struct fake *)ctx)->quiesced++; }

static struct fake fk;
static struct sk_arch arch = { &fk, f_park, f_ipi, f_now, NULL, f_quiesce };
static struct sidecar_control_page *cp;
static struct sidecar_command_page *cmd;
static struct sk_cpu cpu;

static void setup(void)
{
    memset(&fk, 0, sizeof(fk));
    cp = aligned_alloc(4096, 4096);
    cmd = aligned_alloc(4096, 4096);
    memset(cp, 0, 4096);
    memset(cmd, 0, 4096);
    cp->cpu_count = 4;
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_IDLE;
    sk_cpu_init(&cpu, cp, cmd, NULL, 2, 7, &arch, NULL, NULL);
}

static void teardown(void)
{
    free(cp);
    free(cmd);
}

static void request(uint32_t command)
{
    cmd->command = command;
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_RUN;
}

static char *error_text(void)
{
    static char buf[256];
    memcpy(buf, cmd->error.buf, cmd->error.len);
    buf[cmd->error.len] = 0;
    return buf;
}

TestSuite(dispatch, .init = setup, .fini = teardown);

Test(dispatch, idle_does_nothing)
{
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_NOTHING);
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(cp->needs_attention, 0);
}

Test(dispatch, ping_goes_back_to_idle_with_attention_and_no_ipi)
{
    request(SIDECAR_COMMAND_NONE);
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_COMMAND);
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(cp->needs_attention, 1);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(fk.ipis, 0, "response_vector 0: no IPI");
    cr_assert_eq(cpu.counters.pings, 1);
}

Test(dispatch, response_ipi_goes_to_response_cpu)
{
    cp->response_cpu = 5;
    cp->response_vector = 0xe3;
    request(SIDECAR_COMMAND_NONE);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(fk.ipis, 1);
    cr_assert_eq(fk.ipi_dest, 5);
    cr_assert_eq(fk.ipi_vector, 0xe3);
}

Test(dispatch, out_of_range_response_vector_sends_nothing)
{
    cp->response_vector = 0x1234;
    request(SIDECAR_COMMAND_NONE);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(fk.ipis, 0);
    cr_assert_eq(cp->needs_attention, 1);
}

Test(dispatch, exception_vector_or_broadcast_response_sends_nothing)
{
    static const uint32_t bad[][2] = { { 5, 31 }, { 5, 2 }, { 5, 1 }, { 0xffffffffu, 0xe3 } };
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        cp->response_cpu = bad[k][0];
        cp->response_vector = bad[k][1];
        cp->needs_attention = 0;
        request(SIDECAR_COMMAND_NONE);
        sk_dispatch_poll(&cpu);
        cr_assert_eq(fk.ipis, 0, "cpu %x vector %u", bad[k][0], bad[k][1]);
        cr_assert_eq(cp->needs_attention, 1);
        cr_assert_eq(cpu.counters.bad_response, k + 1);
    }
    cp->response_cpu = 5;
    cp->response_vector = SIDECAR_MIN_VECTOR;   /* the lowest allowed */
    request(SIDECAR_COMMAND_NONE);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(fk.ipis, 1);
    cr_assert_eq(fk.ipi_vector, 32);
}

Test(dispatch, vp_commands_without_backend_fail_cleanly)
{
    const uint32_t cmds[] = { SIDECAR_COMMAND_RUN_VP, SIDECAR_COMMAND_GET_VP_REGISTERS,
                              SIDECAR_COMMAND_SET_VP_REGISTERS, SIDECAR_COMMAND_TRANSLATE_GVA };
    for (unsigned i = 0; i < 4; i++) {
        request(cmds[i]);
        cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_COMMAND);
        cr_assert_eq(cmd->has_error, 1, "command %u", cmds[i]);
        cr_assert_str_eq(error_text(), "not supported by this backend");
        cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_IDLE);
    }
}

Test(dispatch, unknown_command_is_an_error_and_the_cpu_stays_usable)
{
    request(0xdeadbeef);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(cmd->has_error, 1);
    cr_assert_str_eq(error_text(), "unknown command code");
    request(SIDECAR_COMMAND_NONE);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(cmd->has_error, 0, "a later good command clears the error");
}

static uint16_t get_reg(struct sk_cpu *c, void *vp, uint32_t name, struct sidecar_hv_register_value *v)
{
    (void)c;
    (void)vp;
    if (name == 0x99999)
        return SIDECAR_HV_STATUS_INVALID_PARAMETER;
    memset(v, 0, sizeof(*v));
    memcpy(v, &name, sizeof(name));
    return SIDECAR_HV_STATUS_SUCCESS;
}

static const struct sk_vp_backend regs_backend = { .name = "test", .get_register = get_reg };

Test(dispatch, get_registers_through_the_backend)
{
    sk_cpu_init(&cpu, cp, cmd, NULL, 2, 7, &arch, &regs_backend, NULL);
    struct sidecar_get_set_vp_registers_request *req = (void *)cmd->request_data;
    req->count = 3;
    req->regs[0].name = 0x20000;
    req->regs[1].name = 0x20001;
    req->regs[2].name = 0x99999;
    request(SIDECAR_COMMAND_GET_VP_REGISTERS);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(req->status, SIDECAR_HV_STATUS_INVALID_PARAMETER);
    cr_assert_eq(req->count, 3, "count is left as the host wrote it");
    cr_assert_eq(cmd->command, SIDECAR_COMMAND_NONE, "the command is replaced with NONE when taken");
    uint32_t got;
    memcpy(&got, &req->regs[1].value, sizeof(got));
    cr_assert_eq(got, 0x20001);
}

Test(dispatch, oversize_register_batch_is_refused)
{
    sk_cpu_init(&cpu, cp, cmd, NULL, 2, 7, &arch, &regs_backend, NULL);
    struct sidecar_get_set_vp_registers_request *req = (void *)cmd->request_data;
    req->count = SIDECAR_MAX_GET_SET_VP_REGISTERS + 1;
    request(SIDECAR_COMMAND_GET_VP_REGISTERS);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(cmd->has_error, 1);
    cr_assert_eq(req->status, SIDECAR_HV_STATUS_INVALID_PARAMETER);
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_IDLE);
}

Test(dispatch, stop_goes_to_idle)
{
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_STOP;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_STOPPED);
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(cp->needs_attention, 1);
}

/* OpenHCL's rule: a command found in STOP (the host stopped it before this
 * CPU took it) is executed all the same, so has_error, the error text and
 * the response are this command's, never an earlier one's. */
Test(dispatch, stop_before_take_still_runs_the_command)
{
    /* Stale leftovers of an earlier failed command. */
    cmd->has_error = 1;
    cmd->error.len = 5;
    memcpy(cmd->error.buf, "stale", 5);
    cmd->command = 0x7777;   /* unknown code: must fail with its own text */
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_STOP;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_STOPPED);
    cr_assert_eq(cmd->command, SIDECAR_COMMAND_NONE, "the command was taken");
    cr_assert_eq(cmd->has_error, 1);
    cr_assert_str_eq(error_text(), "unknown command code");
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_IDLE);
    /* A good command found in STOP clears the error. */
    cmd->command = SIDECAR_COMMAND_NONE;
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_STOP;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_STOPPED);
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(cmd->error.len, 0);
    cr_assert_eq(cpu.counters.commands, 2);
    cr_assert_eq(cpu.counters.pings, 1);
}

Test(dispatch, remove_quiesces_then_removed)
{
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_REMOVE;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_REMOVED);
    cr_assert_eq(fk.quiesced, 1);
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_REMOVED);
    cr_assert_eq(cp->needs_attention, 1);
}

Test(dispatch, loop_parks_until_removed)
{
    cp->cpu_status[2] = SIDECAR_CPU_STATUS_REMOVE;
    sk_dispatch_loop(&cpu);
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_REMOVED);
}

Test(dispatch, unknown_status_byte_is_left_alone_and_counted)
{
    cp->cpu_status[2] = 0x77;
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_NOTHING);
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_NOTHING);
    cr_assert_eq(cp->cpu_status[2], 0x77);
    cr_assert_eq(cpu.counters.unknown_status, 2);
    cr_assert_eq(cp->needs_attention, 0);
}

Test(dispatch, other_cpus_status_untouched)
{
    cp->cpu_status[1] = SIDECAR_CPU_STATUS_RUN;
    cp->cpu_status[3] = SIDECAR_CPU_STATUS_REMOVE;
    request(SIDECAR_COMMAND_NONE);
    sk_dispatch_poll(&cpu);
    cr_assert_eq(cp->cpu_status[1], SIDECAR_CPU_STATUS_RUN);
    cr_assert_eq(cp->cpu_status[3], SIDECAR_CPU_STATUS_REMOVE);
}

/* A CPU that faults while serving (or waiting for) a command leaves as if
 * removed, with the reason in its command page, and tells the host. */
Test(dispatch, failed_cpu_reports_and_becomes_removed)
{
    cp->response_vector = 0xf7;
    cp->response_cpu = 3;
    request(SIDECAR_COMMAND_RUN_VP);
    sk_cpu_failed(&cpu, "exception #GP at rip 1234");
    cr_assert_eq(cp->cpu_status[2], SIDECAR_CPU_STATUS_REMOVED);
    cr_assert_eq(cmd->has_error, 1);
    cr_assert_str_eq(error_text(), "exception #GP at rip 1234");
    cr_assert_eq(fk.quiesced, 1);
    cr_assert_eq(cp->needs_attention, 1);
    cr_assert_eq(fk.ipis, 1);
    cr_assert_eq(fk.ipi_dest, 3);
    cr_assert_eq(cp->cpu_status[1], 0);
    cr_assert_eq(cp->cpu_status[3], 0);
    /* nothing more happens for it */
    cr_assert_eq(sk_dispatch_poll(&cpu), SK_STEP_NOTHING);
}
