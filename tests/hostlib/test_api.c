/* SPDX-License-Identifier: MIT */
/* libsidecar-host over the simulator: every API call and its error paths.
 * The fixture: 2 nodes of 4 CPUs; CPU 0 of each node is a main-kernel
 * CPU, so CPUs 1-3 and 5-7 are sidecar CPUs. */
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"

static struct fixture *f;
static struct sidecar_host *h;

static void setup(void)
{
    f = fixture_open(2, 4, true);
    h = &f->host;
}

static void teardown(void)
{
    fixture_close(f);
}

TestSuite(hostlib, .init = setup, .fini = teardown, .timeout = 60);

/* ---- library, enumeration ---------------------------------------------- */

Test(hostlib, version_and_every_error_has_text)
{
    cr_assert_str_eq(sidecar_host_version(), SIDECAR_HOST_VERSION_STRING);
    cr_assert_str_eq(sidecar_host_version(), "0.4.0");
    for (int code = SIDECAR_HOST_OK; code >= SIDECAR_HOST_E_SYSTEM; code--)
        cr_assert_str_neq(sidecar_host_strerror(code), "unknown error", "code %d", code);
    cr_assert_str_eq(sidecar_host_strerror(-1000), "unknown error");
}

Test(hostlib, enumerates_nodes_and_cpus)
{
    cr_assert_eq(sidecar_host_node_count(h), 2);
    cr_assert_eq(sidecar_host_cpu_count(h), 8);
    struct sidecar_host_node_info ni;
    cr_assert_eq(sidecar_host_node_info(h, 1, &ni), 0);
    cr_assert_eq(ni.index, 1);
    cr_assert_eq(ni.base_cpu, 4);
    cr_assert_eq(ni.cpu_count, 4);
    cr_assert_eq(ni.sidecar_cpus, 3);
    cr_assert_eq(sidecar_host_node_info(h, 2, &ni), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_node_info(h, 0, NULL), SIDECAR_HOST_E_INVALID);
    for (uint32_t c = 0; c < 8; c++) {
        int want = c % 4 == 0 ? SIDECAR_HOST_E_REMOVED : (int)SIDECAR_CPU_STATUS_IDLE;
        cr_assert_eq(sidecar_host_cpu_status(h, c), want, "CPU %u", c);
    }
    cr_assert_eq(sidecar_host_cpu_status(h, 8), SIDECAR_HOST_E_INVALID);
    uint32_t n, i;
    cr_assert_eq(sidecar_host_locate(h, 6, &n, &i), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(i, 2);
    cr_assert_eq(sidecar_host_locate(h, 4, &n, &i), SIDECAR_HOST_E_REMOVED);
    cr_assert_eq(sidecar_host_node_count(NULL), 0);
    cr_assert_eq(sidecar_host_cpu_count(NULL), 0);
}

Test(hostlib, the_sim_pages_look_like_a_booted_kernel)
{
    const struct sidecar_params *p = sidecar_host_sim_params(f->sim);
    const struct sidecar_output *o = sidecar_host_sim_output(f->sim);
    cr_assert_eq(p->node_count, 2);
    cr_assert_eq(o->ready_count, 6);
    for (uint32_t n = 0; n < 2; n++) {
        const struct sidecar_control_page *cp = h->nodes[n].control;
        cr_assert_eq(cp->index, n);
        cr_assert_eq(cp->base_cpu, 4 * n);
        cr_assert_eq(cp->cpu_count, 4);
        cr_assert_eq(cp->request_vector, SIDECAR_REQUEST_VECTOR);
        cr_assert_eq(cp->magic, SIDECAR_CONTROL_MAGIC);
        cr_assert_neq(cp->response_vector, 0, "the simulated driver asked for completion IPIs");
        cr_assert_eq(cp->cpu_status[0], SIDECAR_CPU_STATUS_REMOVED);
        for (uint32_t i = 1; i < 4; i++)
            cr_assert_eq(cp->cpu_status[i], SIDECAR_CPU_STATUS_IDLE);
        for (uint32_t i = 4; i < SIDECAR_MAX_NODE_CPUS; i++)
            cr_assert_eq(cp->cpu_status[i], SIDECAR_CPU_STATUS_REMOVED);
        /* Command page of CPU i at i * 8192 of the shared region. */
        for (uint32_t i = 1; i < 4; i++)
            cr_assert_eq((uint8_t *)sidecar_host_command_page(h, 4 * n + i),
                         h->nodes[n].shmem + (uint64_t)i * 8192);
    }
}

Test(hostlib, open_refuses_bad_input)
{
    static struct sidecar_host other;
    cr_assert_eq(sidecar_host_open_sim(NULL, f->sim), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_open_sim(&other, NULL), SIDECAR_HOST_E_INVALID);
    struct sidecar_host_transport t = h->t;
    t.map = NULL;
    cr_assert_eq(sidecar_host_open(&other, &t, h->params, sidecar_host_sim_output(f->sim)),
                 SIDECAR_HOST_E_INVALID);
    t = h->t;
    t.wait = NULL;   /* epoch without wait */
    cr_assert_eq(sidecar_host_open(&other, &t, h->params, sidecar_host_sim_output(f->sim)),
                 SIDECAR_HOST_E_INVALID);
    /* A control page whose magic is not ours. */
    struct sidecar_control_page *cp = h->nodes[1].control;
    uint64_t magic = cp->magic;
    cp->magic = 0;
    cr_assert_eq(sidecar_host_open(&other, &h->t, h->params, sidecar_host_sim_output(f->sim)),
                 SIDECAR_HOST_E_ABI);
    cp->magic = magic;
    cr_assert_eq(sidecar_host_open(&other, &h->t, h->params, sidecar_host_sim_output(f->sim)), 0);
    /* A request vector that is an exception vector: never sent. */
    static const uint32_t bad_vectors[] = { 1, 2, 8, 17, 31, 0x100 };
    uint32_t rv = cp->request_vector;
    for (unsigned k = 0; k < sizeof(bad_vectors) / sizeof(bad_vectors[0]); k++) {
        cp->request_vector = bad_vectors[k];
        cr_assert_eq(sidecar_host_open(&other, &h->t, h->params, sidecar_host_sim_output(f->sim)),
                     SIDECAR_HOST_E_VECTOR, "request_vector %u", bad_vectors[k]);
    }
    cp->request_vector = 0;   /* no IPI at all is allowed */
    cr_assert_eq(sidecar_host_open(&other, &h->t, h->params, sidecar_host_sim_output(f->sim)), 0);
    cp->request_vector = rv;
    /* A sidecar CPU at the broadcast APIC ID (x2APIC here; in xAPIC mode
     * 0xff and above): never a destination. */
    struct sidecar_params *pw = (struct sidecar_params *)(uintptr_t)h->params;
    uint32_t id = pw->cpus[1].apic_id;
    pw->cpus[1].apic_id = 0xffffffffu;
    cr_assert_eq(sidecar_host_open(&other, &h->t, h->params, sidecar_host_sim_output(f->sim)),
                 SIDECAR_HOST_E_VECTOR);
    pw->cpus[1].apic_id = id;
    cr_assert_eq(sidecar_host_open(&other, &h->t, h->params, sidecar_host_sim_output(f->sim)), 0);
    struct sidecar_host_sim_config bad = { .node_count = 0, .cpus_per_node = 4 };
    struct sidecar_host_sim *s;
    cr_assert_eq(sidecar_host_sim_create(&bad, &s), SIDECAR_HOST_E_INVALID);
    bad.node_count = 65;
    bad.cpus_per_node = 32;   /* 2080 > SIDECAR_MAX_CPUS */
    cr_assert_eq(sidecar_host_sim_create(&bad, &s), SIDECAR_HOST_E_INVALID);
}

static void (*real_send_ipi)(void *, uint32_t, uint32_t);
static uint32_t sent_to[64], sent_count;

static void recording_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    if (sent_count < 64)
        sent_to[sent_count++] = apic_id;
    real_send_ipi(ctx, apic_id, vector);
}

Test(hostlib, params_changed_after_open_are_not_read_again)
{
    static struct sidecar_host other;
    struct sidecar_host_transport t = h->t;
    real_send_ipi = t.send_ipi;
    t.send_ipi = recording_send_ipi;
    t.close = NULL;
    cr_assert_eq(sidecar_host_open(&other, &t, h->params, sidecar_host_sim_output(f->sim)), 0);
    struct sidecar_params *pw = (struct sidecar_params *)(uintptr_t)h->params;
    uint32_t id = pw->cpus[1].apic_id;
    /* After open, params say CPU 1 is at the broadcast ID and CPU 2 is a
     * main CPU: the handle keeps what it checked. */
    pw->cpus[1].apic_id = 0xffffffffu;
    pw->cpus[2].role = SIDECAR_CPU_ROLE_MAIN;
    pw->nodes[0].cpu_count = 4000;
    sent_count = 0;
    cr_assert_eq(sidecar_host_acquire(&other, 1), 0);
    cr_assert_eq(sidecar_host_ping(&other, 1, T_LONG), 0);
    cr_assert_geq(sent_count, 1);
    for (uint32_t k = 0; k < sent_count; k++)
        cr_assert_eq(sent_to[k], id, "IPI %u went to %#x", k, sent_to[k]);
    uint32_t n, i;
    cr_assert_eq(sidecar_host_locate(&other, 2, &n, &i), 0, "still a sidecar CPU");
    struct sidecar_host_node_info info;
    cr_assert_eq(sidecar_host_node_info(&other, 0, &info), 0);
    cr_assert_eq(info.cpu_count, 4);
    cr_assert_eq(info.sidecar_cpus, 3);
    sidecar_host_release(&other, 1);
    pw->cpus[1].apic_id = id;
    pw->cpus[2].role = SIDECAR_CPU_ROLE_SIDECAR;
    pw->nodes[0].cpu_count = 4;
}

/* A clock that moves only while the library waits (by what it asks to
 * wait), with a short real sleep so the simulated CPU gets to answer. */
static uint64_t virtual_ns;
static uint32_t virtual_epoch;

static uint64_t virtual_now(void *ctx)
{
    (void)ctx;
    return __atomic_load_n(&virtual_ns, __ATOMIC_RELAXED);
}

static uint32_t virtual_epoch_of(void *ctx)
{
    (void)ctx;
    return virtual_epoch;
}

static void virtual_wait(void *ctx, uint32_t epoch, uint64_t timeout_ns)
{
    (void)ctx;
    (void)epoch;
    usleep(300);
    __atomic_add_fetch(&virtual_ns, timeout_ns, __ATOMIC_RELAXED);
}

Test(hostlib, register_batches_share_one_timeout)
{
    static struct sidecar_host other;
    struct sidecar_host_transport t = h->t;
    t.now_ns = virtual_now;
    t.epoch = virtual_epoch_of;
    t.wait = virtual_wait;
    t.close = NULL;
    cr_assert_eq(sidecar_host_open(&other, &t, h->params, sidecar_host_sim_output(f->sim)), 0);
    cr_assert_eq(sidecar_host_acquire(&other, 1), 0);
    /* Four batches of 31; each usually waits one 50 ms slice for its
     * answer. The whole call has 125 ms: it must not take 200. */
    static struct sidecar_hv_register_assoc regs[4 * SIDECAR_MAX_GET_SET_VP_REGISTERS];
    memset(regs, 0, sizeof(regs));
    for (uint32_t k = 0; k < 4 * SIDECAR_MAX_GET_SET_VP_REGISTERS; k++)
        regs[k].name = SIDECAR_HV_REGISTER_NAME_RAX;
    const uint64_t timeout = 125000000ull;
    for (int round = 0; round < 5; round++) {
        uint64_t t0 = virtual_now(NULL);
        int rc = sidecar_host_get_registers(&other, 1, 0, regs, 4 * SIDECAR_MAX_GET_SET_VP_REGISTERS, timeout, NULL);
        uint64_t spent = virtual_now(NULL) - t0;
        cr_assert(rc == 0 || rc == SIDECAR_HOST_E_TIMEOUT, "rc %d", rc);
        cr_assert_leq(spent, timeout, "round %d: %lu ns waited for a %lu ns timeout", round, (unsigned long)spent,
                      (unsigned long)timeout);
        /* A timed-out command may still be in flight: let it end. */
        while (sidecar_host_cpu_status(&other, 1) != SIDECAR_CPU_STATUS_IDLE)
            usleep(100);
        sidecar_host_wait(&other, 1, 0);
    }
    sidecar_host_release(&other, 1);
}

Test(hostlib, close_makes_every_call_fail)
{
    sidecar_host_close(h);
    cr_assert_eq(sidecar_host_node_count(h), 0);
    cr_assert_eq(sidecar_host_cpu_count(h), 0);
    cr_assert_eq(sidecar_host_acquire(h, 1), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_ping(h, 1, T_LONG), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_cpu_status(h, 1), SIDECAR_HOST_E_INVALID);
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(h, 0, &d), SIDECAR_HOST_E_INVALID);
    sidecar_host_close(h);   /* twice is fine */
}

/* ---- ownership ---------------------------------------------------------- */

Test(hostlib, acquire_is_exclusive)
{
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 1), SIDECAR_HOST_E_BUSY);
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    sidecar_host_release(h, 1);
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 0), SIDECAR_HOST_E_REMOVED, "main CPU");
    cr_assert_eq(sidecar_host_acquire(h, 99), SIDECAR_HOST_E_INVALID);
    sidecar_host_release(h, 99);   /* harmless */
}

Test(hostlib, commands_need_acquire)
{
    struct sidecar_hv_register_assoc r = reg(SIDECAR_HV_REGISTER_NAME_RIP, 0);
    struct sidecar_translate_gva_output out;
    cr_assert_eq(sidecar_host_ping(h, 1, T_LONG), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_run_vp(h, 1, T_LONG), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_run_vp_start(h, 1), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_wait(h, 1, T_LONG), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_get_registers(h, 1, 0, &r, 1, T_LONG, NULL), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_set_registers(h, 1, 0, &r, 1, T_LONG, NULL), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_translate_gva(h, 1, 0, 0, T_LONG, &out, NULL), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_remove(h, 1, T_LONG), SIDECAR_HOST_E_NOT_ACQUIRED);
    cr_assert_eq(sidecar_host_cpu_status(h, 1), SIDECAR_CPU_STATUS_IDLE, "nothing was sent");
}

Test(hostlib, bad_cpu_numbers)
{
    const uint32_t bad[] = { 8, 1000, UINT32_MAX };
    struct sidecar_hv_register_assoc r = reg(SIDECAR_HV_REGISTER_NAME_RIP, 0);
    struct sidecar_translate_gva_output out;
    struct sidecar_hv_message m;
    char text[8];
    for (unsigned k = 0; k < 3; k++) {
        uint32_t c = bad[k];
        cr_assert_eq(sidecar_host_ping(h, c, T_LONG), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_run_vp(h, c, T_LONG), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_run_vp_start(h, c), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_wait(h, c, T_LONG), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_stop(h, c), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_remove(h, c, T_LONG), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_get_registers(h, c, 0, &r, 1, T_LONG, NULL), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_set_registers(h, c, 0, &r, 1, T_LONG, NULL), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_translate_gva(h, c, 0, 0, T_LONG, &out, NULL), SIDECAR_HOST_E_INVALID);
        cr_assert_eq(sidecar_host_intercept_message(h, c, &m), SIDECAR_HOST_E_INVALID);
        cr_assert_null(sidecar_host_command_page(h, c));
        cr_assert_eq(sidecar_host_error_text(h, c, text, sizeof(text)), 0);
        cr_assert_str_eq(text, "");
    }
    /* Main-kernel CPUs are not sidecar CPUs. */
    cr_assert_eq(sidecar_host_ping(h, 4, T_LONG), SIDECAR_HOST_E_REMOVED);
    cr_assert_eq(sidecar_host_stop(h, 4), SIDECAR_HOST_E_REMOVED);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 4, SIDECAR_HOST_SIM_FAULT_MUTE, 0), SIDECAR_HOST_E_INVALID);
}

/* ---- ping, run ------------------------------------------------------------- */

Test(hostlib, ping_round_trip)
{
    cr_assert_eq(sidecar_host_acquire(h, 3), 0);
    uint64_t before = sidecar_host_sim_commands(f->sim, 3);
    for (int k = 0; k < 100; k++)
        cr_assert_eq(sidecar_host_ping(h, 3, T_LONG), 0);
    cr_assert_eq(sidecar_host_sim_commands(f->sim, 3), before + 100);
    cr_assert_eq(sidecar_host_cpu_status(h, 3), SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(sidecar_host_command_page(h, 3)->command, SIDECAR_COMMAND_NONE);
}

Test(hostlib, run_with_empty_script_halts)
{
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 2, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    uint32_t type;
    cr_assert_eq(sidecar_host_intercept_type(h, 2, &type), 0);
    cr_assert_eq(type, SIDECAR_HV_MESSAGE_TYPE_X64_HALT);
    struct sidecar_hv_x64_intercept_message_header hdr;
    cr_assert_eq(sidecar_host_intercept_header(h, 2, &hdr), 0);
    cr_assert_eq(hdr.vp_index, 2);
    cr_assert_eq(hdr.rip, 0x1000, "the sim's initial RIP");
    cr_assert_eq(sidecar_host_instruction_length(&hdr), 1);
    struct sidecar_hv_x64_io_port_intercept_message io;
    cr_assert_eq(sidecar_host_intercept_io_port(h, 2, &io), SIDECAR_HOST_E_NOTHING, "a halt is not IO");
}

Test(hostlib, intercept_accessors_by_type)
{
    struct sidecar_host_sim_step s[8];
    sidecar_host_sim_step_io_port(&s[0], 0x60, 1, false, 0, 2);
    sidecar_host_sim_step_msr(&s[1], 0xc0000080, true, 0x1122334455667788ull, 2);
    sidecar_host_sim_step_cpuid(&s[2], 0x40000000, 3, 2);
    sidecar_host_sim_step_memory(&s[3], SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, 0xfee00000, true, 6);
    sidecar_host_sim_step_memory(&s[4], SIDECAR_HV_MESSAGE_TYPE_GPA_INTERCEPT, 0x1000, false, 3);
    sidecar_host_sim_step_memory(&s[5], SIDECAR_HV_MESSAGE_TYPE_UNACCEPTED_GPA, 0x2000, false, 3);
    sidecar_host_sim_step_exception(&s[6], 14, 6, 0xdead000);
    sidecar_host_sim_step_halt(&s[7]);
    cr_assert_eq(sidecar_host_sim_script(f->sim, 5, s, 8), 0);
    cr_assert_eq(sidecar_host_acquire(h, 5), 0);

    struct sidecar_hv_x64_io_port_intercept_message io;
    struct sidecar_hv_x64_msr_intercept_message msr;
    struct sidecar_hv_x64_cpuid_intercept_message cpuid;
    struct sidecar_hv_x64_memory_intercept_message mem;
    struct sidecar_hv_x64_exception_intercept_message ex;

    cr_assert_eq(sidecar_host_run_vp(h, 5, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_intercept_io_port(h, 5, &io), 0);
    cr_assert_eq(io.port_number, 0x60);
    cr_assert_eq(io.access_info & 7, 1);
    cr_assert_eq(io.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(io.header.vp_index, 5);
    cr_assert_eq(sidecar_host_intercept_msr(h, 5, &msr), SIDECAR_HOST_E_NOTHING);

    cr_assert_eq(sidecar_host_run_vp(h, 5, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_intercept_msr(h, 5, &msr), 0);
    cr_assert_eq(msr.msr_number, 0xc0000080);
    cr_assert_eq(msr.rdx, 0x11223344);
    cr_assert_eq(msr.rax, 0x55667788);
    cr_assert_eq(msr.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_WRITE);

    cr_assert_eq(sidecar_host_run_vp(h, 5, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_intercept_cpuid(h, 5, &cpuid), 0);
    cr_assert_eq(cpuid.rax, 0x40000000);
    cr_assert_eq(cpuid.rcx, 3);

    const uint32_t mem_types[] = { SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, SIDECAR_HV_MESSAGE_TYPE_GPA_INTERCEPT,
                                   SIDECAR_HV_MESSAGE_TYPE_UNACCEPTED_GPA };
    const uint64_t gpas[] = { 0xfee00000, 0x1000, 0x2000 };
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(sidecar_host_run_vp(h, 5, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
        uint32_t type;
        cr_assert_eq(sidecar_host_intercept_type(h, 5, &type), 0);
        cr_assert_eq(type, mem_types[k]);
        cr_assert_eq(sidecar_host_intercept_memory(h, 5, &mem), 0);
        cr_assert_eq(mem.guest_physical_address, gpas[k]);
    }
    cr_assert_eq(sidecar_host_instruction_length(&mem.header), 3);

    cr_assert_eq(sidecar_host_run_vp(h, 5, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_intercept_exception(h, 5, &ex), 0);
    cr_assert_eq(ex.exception_vector, 14);
    cr_assert_eq(ex.error_code, 6);
    cr_assert_eq(ex.exception_parameter, 0xdead000);
    cr_assert_eq(sidecar_host_intercept_cpuid(h, 5, &cpuid), SIDECAR_HOST_E_NOTHING);

    cr_assert_eq(sidecar_host_run_vp(h, 5, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    struct sidecar_hv_message m;
    cr_assert_eq(sidecar_host_intercept_message(h, 5, &m), 0);
    cr_assert_eq(m.header.message_type, SIDECAR_HV_MESSAGE_TYPE_X64_HALT);
    cr_assert_eq(sidecar_host_intercept_exception(h, 5, &ex), SIDECAR_HOST_E_NOTHING);
    cr_assert_eq(sidecar_host_sim_script_left(f->sim, 5), 0);
}

Test(hostlib, intercept_is_valid_only_after_an_intercept)
{
    struct sidecar_hv_message m;
    uint32_t type;
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_intercept_message(h, 1, &m), SIDECAR_HOST_E_NOTHING, "no run yet");
    cr_assert_eq(sidecar_host_run_vp(h, 1, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_intercept_type(h, 1, &type), 0);
    cr_assert_eq(sidecar_host_ping(h, 1, T_LONG), 0);
    cr_assert_eq(sidecar_host_intercept_type(h, 1, &type), SIDECAR_HOST_E_NOTHING, "a new command started");
    cr_assert_eq(sidecar_host_intercept_type(h, 1, NULL), SIDECAR_HOST_E_INVALID);
}

Test(hostlib, intercept_with_a_short_payload_is_refused)
{
    struct sidecar_host_sim_step s;
    sidecar_host_sim_step_io_port(&s, 0x60, 1, false, 0, 2);
    cr_assert_eq(sidecar_host_sim_script(f->sim, 1, &s, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 1, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 1, SIDECAR_HOST_SIM_FAULT_PAYLOAD_SIZE, 100), 0);
    struct sidecar_hv_x64_io_port_intercept_message io;
    cr_assert_eq(sidecar_host_intercept_io_port(h, 1, &io), SIDECAR_HOST_E_STATE);
    struct sidecar_hv_x64_intercept_message_header hdr;
    cr_assert_eq(sidecar_host_intercept_header(h, 1, &hdr), 0, "the header still fits");
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 1, SIDECAR_HOST_SIM_FAULT_PAYLOAD_SIZE, 241), 0);
    cr_assert_eq(sidecar_host_intercept_header(h, 1, &hdr), SIDECAR_HOST_E_STATE, "more than 240 bytes");
}

Test(hostlib, intercept_fields_out_of_protocol_range_are_refused)
{
    struct sidecar_host_sim_step s;
    sidecar_host_sim_step_io_port(&s, 0x60, 1, false, 0, 2);
    cr_assert_eq(sidecar_host_sim_script(f->sim, 1, &s, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 1, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    struct sidecar_hv_x64_io_port_intercept_message io;
    cr_assert_eq(sidecar_host_intercept_io_port(h, 1, &io), 0);
    cr_assert_eq(io.port_number, 0x60);
    /* The sidecar writes a byte count the 16-byte array cannot hold. */
    struct sidecar_command_page *cp = sidecar_host_command_page(h, 1);
    struct sidecar_hv_x64_io_port_intercept_message *shared = (void *)cp->intercept_message.payload;
    shared->instruction_byte_count = 200;
    memset(&io, 0x5a, sizeof(io));
    cr_assert_eq(sidecar_host_intercept_io_port(h, 1, &io), SIDECAR_HOST_E_STATE);
    cr_assert_eq(io.instruction_byte_count, 0, "the refused copy is zeroed, not half-used");
    cr_assert_eq(io.port_number, 0);
    shared->instruction_byte_count = 16;
    cr_assert_eq(sidecar_host_intercept_io_port(h, 1, &io), 0, "16 is the protocol's limit");
    /* An access type that is none of read, write, execute. */
    shared->header.intercept_access_type = 7;
    struct sidecar_hv_x64_intercept_message_header hdr;
    cr_assert_eq(sidecar_host_intercept_header(h, 1, &hdr), SIDECAR_HOST_E_STATE);
    cr_assert_eq(sidecar_host_intercept_io_port(h, 1, &io), SIDECAR_HOST_E_STATE);
    shared->header.intercept_access_type = 0;
    /* A message type the protocol does not name. */
    struct sidecar_hv_message m;
    cp->intercept_message.header.message_type = 0x12345678;
    cr_assert_eq(sidecar_host_intercept_message(h, 1, &m), SIDECAR_HOST_E_STATE);
}

Test(hostlib, failing_run_reports_the_sidecar_text)
{
    struct sidecar_host_sim_step s;
    memset(&s, 0, sizeof(s));
    s.kind = SIDECAR_HOST_SIM_FAIL;
    strcpy(s.error, "unexpected entry reason 42");
    cr_assert_eq(sidecar_host_sim_script(f->sim, 6, &s, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 6), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 6, T_LONG), SIDECAR_HOST_E_COMMAND);
    char text[300];
    cr_assert_eq(sidecar_host_error_text(h, 6, text, sizeof(text)), strlen("unexpected entry reason 42"));
    cr_assert_str_eq(text, "unexpected entry reason 42");
    cr_assert_eq(sidecar_host_error_text(h, 6, text, 5), 4, "truncated to the buffer");
    cr_assert_str_eq(text, "unex");
    /* An unknown command code: the kernel's own error. */
    cr_assert_eq(sidecar_host_run_command(h, 6, 0x1234, T_LONG), SIDECAR_HOST_E_COMMAND);
    sidecar_host_error_text(h, 6, text, sizeof(text));
    cr_assert_str_eq(text, "unknown command code");
    /* The next command clears it. */
    cr_assert_eq(sidecar_host_ping(h, 6, T_LONG), 0);
    cr_assert_eq(sidecar_host_error_text(h, 6, text, sizeof(text)), 0);
}

/* ---- async runs, stop --------------------------------------------------- */

Test(hostlib, async_run_and_wait_any)
{
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(h, T_LONG, &d), SIDECAR_HOST_E_NOTHING, "nothing in flight");
    const uint32_t cpus[] = { 1, 2, 3, 5, 6, 7 };
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(sidecar_host_acquire(h, cpus[k]), 0);
        cr_assert_eq(sidecar_host_run_vp_start(h, cpus[k]), 0);
    }
    cr_assert_eq(sidecar_host_run_vp_start(h, 1), SIDECAR_HOST_E_BUSY, "a run is in flight");
    cr_assert_eq(sidecar_host_ping(h, 1, T_LONG), SIDECAR_HOST_E_BUSY);
    uint32_t seen = 0;
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(sidecar_host_wait_any(h, T_LONG, &d), 0);
        cr_assert_eq(d.command, SIDECAR_COMMAND_RUN_VP);
        cr_assert_eq(d.result, SIDECAR_HOST_RUN_INTERCEPT);
        cr_assert(!(seen & (1u << d.cpu)), "CPU %u reported twice", d.cpu);
        seen |= 1u << d.cpu;
    }
    cr_assert_eq(seen, 0xee);
    cr_assert_eq(sidecar_host_wait_any(h, 0, &d), SIDECAR_HOST_E_NOTHING);
    cr_assert_eq(sidecar_host_wait_any(h, 0, NULL), SIDECAR_HOST_E_INVALID);
}

Test(hostlib, async_run_collected_with_wait)
{
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    cr_assert_eq(sidecar_host_run_vp_start(h, 2), 0);
    cr_assert_eq(sidecar_host_wait(h, 2, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(h, 0, &d), SIDECAR_HOST_E_NOTHING, "wait collected it");
    cr_assert_eq(sidecar_host_wait(h, 2, 0), SIDECAR_HOST_RUN_INTERCEPT, "the last result again");
}

Test(hostlib, stop_a_blocked_run)
{
    struct sidecar_host_sim_step s;
    memset(&s, 0, sizeof(s));
    s.kind = SIDECAR_HOST_SIM_BLOCK;
    cr_assert_eq(sidecar_host_sim_script(f->sim, 7, &s, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 7), 0);
    cr_assert_eq(sidecar_host_run_vp_start(h, 7), 0);
    wait_script_used(f->sim, 7);
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(h, T_SHORT, &d), SIDECAR_HOST_E_TIMEOUT, "the VP runs on");
    cr_assert_eq(sidecar_host_cpu_status(h, 7), SIDECAR_CPU_STATUS_RUN);
    cr_assert_eq(sidecar_host_stop(h, 7), 0);
    cr_assert_eq(sidecar_host_stop(h, 7), 0, "twice is fine");
    cr_assert_eq(sidecar_host_wait_any(h, T_LONG, &d), 0);
    cr_assert_eq(d.cpu, 7);
    cr_assert_eq(d.result, SIDECAR_HOST_RUN_STOPPED);
    struct sidecar_hv_message m;
    cr_assert_eq(sidecar_host_intercept_message(h, 7, &m), SIDECAR_HOST_E_NOTHING, "stopped: no message");
    cr_assert_eq(sidecar_host_stop(h, 7), 0, "stopping an idle CPU does nothing");
    cr_assert_eq(sidecar_host_cpu_status(h, 7), SIDECAR_CPU_STATUS_IDLE);
    /* The script is used up: the next run halts. */
    cr_assert_eq(sidecar_host_run_vp(h, 7, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
}

Test(hostlib, sync_run_timeout_then_stop_and_wait)
{
    struct sidecar_host_sim_step s;
    memset(&s, 0, sizeof(s));
    s.kind = SIDECAR_HOST_SIM_BLOCK;
    sidecar_host_sim_step_set(&s, SIDECAR_HV_REGISTER_NAME_RBX, 77, 0);
    cr_assert_eq(sidecar_host_sim_script(f->sim, 3, &s, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 3), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 3, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    wait_script_used(f->sim, 3);
    cr_assert_eq(sidecar_host_ping(h, 3, T_LONG), SIDECAR_HOST_E_BUSY, "still running");
    cr_assert_eq(sidecar_host_wait(h, 3, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    cr_assert_eq(sidecar_host_stop(h, 3), 0);
    cr_assert_eq(sidecar_host_wait(h, 3, T_LONG), SIDECAR_HOST_RUN_STOPPED);
    struct sidecar_hv_register_assoc r = reg(SIDECAR_HV_REGISTER_NAME_RBX, 0);
    cr_assert_eq(sidecar_host_get_registers(h, 3, 0, &r, 1, T_LONG, NULL), 0);
    cr_assert_eq(r.value.low, 77, "the step's register effect");
}

Test(hostlib, event_fd_becomes_readable)
{
    int fd = sidecar_host_sim_event_fd(f->sim);
    cr_assert_geq(fd, 0);
    cr_assert_eq(sidecar_host_sim_event_fd(f->sim), fd, "one fd per simulator");
    uint64_t v;
    while (read(fd, &v, sizeof(v)) == sizeof(v))
        ;
    cr_assert_eq(sidecar_host_acquire(h, 5), 0);
    cr_assert_eq(sidecar_host_acquire(h, 6), 0);
    cr_assert_eq(sidecar_host_run_vp_start(h, 5), 0);
    cr_assert_eq(sidecar_host_run_vp_start(h, 6), 0);
    int got = 0;
    while (got < 2) {
        struct pollfd p = { fd, POLLIN, 0 };
        cr_assert_eq(poll(&p, 1, 10000), 1, "readable");
        cr_assert_eq(read(fd, &v, sizeof(v)), sizeof(v));
        struct sidecar_host_completion d;
        while (sidecar_host_wait_any(h, 0, &d) == 0) {
            cr_assert_eq(d.result, SIDECAR_HOST_RUN_INTERCEPT);
            got++;
        }
    }
    cr_assert_eq(got, 2);
}

/* ---- registers ---------------------------------------------------------- */

Test(hostlib, set_and_get_registers)
{
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    struct sidecar_hv_register_assoc set[5] = {
        reg(SIDECAR_HV_REGISTER_NAME_RIP, 0xffff800000001000ull),
        reg(SIDECAR_HV_REGISTER_NAME_RAX, 0x1234),
        reg(SIDECAR_HV_REGISTER_NAME_RSP, 0x7000),
        reg(SIDECAR_HV_REGISTER_NAME_XMM3, 0x5555),
        reg(SIDECAR_HV_REGISTER_NAME_RFLAGS, 0x3000),
    };
    set[3].value.high = 0xaaaa;
    struct sidecar_host_hv_error err;
    cr_assert_eq(sidecar_host_set_registers(h, 1, 0, set, 5, T_LONG, &err), 0);
    cr_assert_eq(err.status, 0);
    struct sidecar_hv_register_assoc get[5];
    for (int k = 0; k < 5; k++)
        get[k] = reg(set[k].name, 0xdeadbeef);
    cr_assert_eq(sidecar_host_get_registers(h, 1, 0, get, 5, T_LONG, &err), 0);
    cr_assert_eq(get[0].value.low, 0xffff800000001000ull);
    cr_assert_eq(get[1].value.low, 0x1234);
    cr_assert_eq(get[2].value.low, 0x7000);
    cr_assert_eq(get[3].value.low, 0x5555);
    cr_assert_eq(get[3].value.high, 0xaaaa);
    cr_assert_eq(get[4].value.low, 0x202, "RFLAGS sanitized: IOPL 0, IF 1");
    /* RAX is the cpu_context slot the host can also read directly. */
    cr_assert_eq(sidecar_host_command_page(h, 1)->cpu_context.gps[0], 0x1234);
    struct sidecar_hv_register_value v;
    cr_assert_eq(sidecar_host_sim_peek_register(f->sim, 1, SIDECAR_HV_REGISTER_NAME_RSP, &v), 0);
    cr_assert_eq(v.low, 0x7000);
    /* vp_index reads back the CPU number. */
    get[0] = reg(SIDECAR_HV_REGISTER_NAME_VP_INDEX, 0);
    cr_assert_eq(sidecar_host_get_registers(h, 1, 0, get, 1, T_LONG, &err), 0);
    cr_assert_eq(get[0].value.low, 1);
    /* Zero registers is a no-op; NULL with a count is not. */
    cr_assert_eq(sidecar_host_get_registers(h, 1, 0, NULL, 0, T_LONG, &err), 0);
    cr_assert_eq(sidecar_host_get_registers(h, 1, 0, NULL, 3, T_LONG, &err), SIDECAR_HOST_E_INVALID);
}

Test(hostlib, unknown_and_read_only_registers_report_status_and_index)
{
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    struct sidecar_hv_register_assoc r[4] = {
        reg(SIDECAR_HV_REGISTER_NAME_RBX, 1),
        reg(SIDECAR_HV_REGISTER_NAME_RCX, 2),
        reg(0x12345678, 3),
        reg(SIDECAR_HV_REGISTER_NAME_RDX, 4),
    };
    struct sidecar_host_hv_error err;
    cr_assert_eq(sidecar_host_set_registers(h, 2, 0, r, 4, T_LONG, &err), SIDECAR_HOST_E_HV_STATUS);
    cr_assert_eq(err.status, SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME);
    cr_assert_eq(err.index, 2);
    struct sidecar_hv_register_value v;
    sidecar_host_sim_peek_register(f->sim, 2, SIDECAR_HV_REGISTER_NAME_RCX, &v);
    cr_assert_eq(v.low, 2, "registers before the failing one are set");
    sidecar_host_sim_peek_register(f->sim, 2, SIDECAR_HV_REGISTER_NAME_RDX, &v);
    cr_assert_eq(v.low, 0, "registers after it are not");

    r[0] = reg(SIDECAR_HV_REGISTER_NAME_VP_INDEX, 9);
    cr_assert_eq(sidecar_host_set_registers(h, 2, 0, r, 1, T_LONG, &err), SIDECAR_HOST_E_HV_STATUS);
    cr_assert_eq(err.status, SIDECAR_HV_STATUS_INVALID_PARAMETER, "read-only");
    cr_assert_eq(err.index, 0);
    /* err may be NULL. */
    cr_assert_eq(sidecar_host_set_registers(h, 2, 0, r, 1, T_LONG, NULL), SIDECAR_HOST_E_HV_STATUS);

    /* GET: values before the failing register are read, later ones left. */
    struct sidecar_hv_register_assoc g[3] = {
        reg(SIDECAR_HV_REGISTER_NAME_RCX, 0), reg(0xabcdef, 0), reg(SIDECAR_HV_REGISTER_NAME_RBX, 0x99),
    };
    cr_assert_eq(sidecar_host_get_registers(h, 2, 0, g, 3, T_LONG, &err), SIDECAR_HOST_E_HV_STATUS);
    cr_assert_eq(err.index, 1);
    cr_assert_eq(err.status, SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME);
    cr_assert_eq(g[0].value.low, 2);
    cr_assert_eq(g[2].value.low, 0x99);
}

/* GPRs and XMM registers cycle through 31 distinct names. */
static uint32_t nth_name(uint32_t k)
{
    static const uint32_t names[] = {
        SIDECAR_HV_REGISTER_NAME_RAX, SIDECAR_HV_REGISTER_NAME_RCX, SIDECAR_HV_REGISTER_NAME_RDX,
        SIDECAR_HV_REGISTER_NAME_RBX, SIDECAR_HV_REGISTER_NAME_RBP, SIDECAR_HV_REGISTER_NAME_RSI,
        SIDECAR_HV_REGISTER_NAME_RDI, SIDECAR_HV_REGISTER_NAME_R8, SIDECAR_HV_REGISTER_NAME_R9,
        SIDECAR_HV_REGISTER_NAME_R10, SIDECAR_HV_REGISTER_NAME_R11, SIDECAR_HV_REGISTER_NAME_R12,
        SIDECAR_HV_REGISTER_NAME_R13, SIDECAR_HV_REGISTER_NAME_R14, SIDECAR_HV_REGISTER_NAME_R15,
    };
    if (k % 31 < 15)
        return names[k % 31];
    return SIDECAR_HV_REGISTER_NAME_XMM0 + (k % 31 - 15);
}

Test(hostlib, oversize_batch_is_split)
{
    cr_assert_eq(sidecar_host_acquire(h, 5), 0);
    enum { N = 100 };
    struct sidecar_hv_register_assoc r[N];
    for (uint32_t k = 0; k < N; k++)
        r[k] = reg(nth_name(k), 1000 + k);
    struct sidecar_host_hv_error err;
    uint64_t before = sidecar_host_sim_commands(f->sim, 5);
    cr_assert_eq(sidecar_host_set_registers(h, 5, 0, r, N, T_LONG, &err), 0);
    cr_assert_eq(sidecar_host_sim_commands(f->sim, 5) - before, 4, "31 + 31 + 31 + 7");
    /* The last write of each name wins: names repeat every 31. */
    for (uint32_t k = N - 31; k < N; k++) {
        struct sidecar_hv_register_value v;
        cr_assert_eq(sidecar_host_sim_peek_register(f->sim, 5, nth_name(k), &v), 0);
        cr_assert_eq(v.low, 1000 + k, "register %u", k);
    }
    for (uint32_t k = 0; k < N; k++)
        r[k].value.low = 0;
    cr_assert_eq(sidecar_host_get_registers(h, 5, 0, r, N, T_LONG, &err), 0);
    for (uint32_t k = 0; k < N; k++) {
        /* The last index in [N - 31, N) with the same name. */
        uint32_t last = N - 31 + ((k + 31 * 4 - (N - 31)) % 31);
        cr_assert_eq(r[k].value.low, 1000 + last, "get %u", k);
    }
}

Test(hostlib, oversize_batch_failing_in_the_third_chunk)
{
    cr_assert_eq(sidecar_host_acquire(h, 6), 0);
    enum { N = 100, BAD = 70 };
    struct sidecar_hv_register_assoc r[N];
    for (uint32_t k = 0; k < N; k++)
        r[k] = reg(SIDECAR_HV_REGISTER_NAME_R8 + k % 8, k);
    r[BAD].name = 0x7777777;
    struct sidecar_host_hv_error err;
    uint64_t before = sidecar_host_sim_commands(f->sim, 6);
    cr_assert_eq(sidecar_host_set_registers(h, 6, 0, r, N, T_LONG, &err), SIDECAR_HOST_E_HV_STATUS);
    cr_assert_eq(err.index, BAD);
    cr_assert_eq(err.status, SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME);
    /* Chunks [0,31) and [31,62) pass, [62,93) fails, then 62..70 one by
     * one to find the failing register; [93,100) is never sent. */
    cr_assert_eq(sidecar_host_sim_commands(f->sim, 6) - before, 3 + (BAD - 62 + 1));
    struct sidecar_hv_register_value v;
    sidecar_host_sim_peek_register(f->sim, 6, SIDECAR_HV_REGISTER_NAME_R8 + (BAD - 1) % 8, &v);
    cr_assert_eq(v.low, BAD - 1, "the register before the failing one is set");
    sidecar_host_sim_peek_register(f->sim, 6, SIDECAR_HV_REGISTER_NAME_R8 + (BAD + 1) % 8, &v);
    cr_assert_eq(v.low, BAD + 1 - 8, "the one after it keeps its earlier value");
}

/* ---- translate ------------------------------------------------------------ */

Test(hostlib, translate_gva)
{
    cr_assert_eq(sidecar_host_acquire(h, 7), 0);
    struct sidecar_translate_gva_output out;
    uint16_t st = 0xffff;
    cr_assert_eq(sidecar_host_translate_gva(h, 7, 0x12345678, 1, T_LONG, &out, &st), 0);
    cr_assert_eq(st, 0);
    cr_assert_eq(out.translation_result.result_code, SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS);
    cr_assert_eq(out.gpa_page, 0x12345);
    cr_assert_eq(sidecar_host_translate_gva(h, 7, 0x80000000ull, 1, T_LONG, &out, &st), 0);
    cr_assert_eq(out.translation_result.result_code, SIDECAR_TRANSLATE_GVA_RESULT_CODE_PAGE_NOT_PRESENT,
                 "beyond the 1 GiB of guest RAM");
    cr_assert_eq(sidecar_host_translate_gva(h, 7, 0, 0, T_LONG, NULL, &st), SIDECAR_HOST_E_INVALID);
}

/* ---- remove ------------------------------------------------------------------ */

Test(hostlib, remove_idle_cpu)
{
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_remove(h, 1, T_LONG), 0);
    cr_assert_eq(sidecar_host_cpu_status(h, 1), SIDECAR_CPU_STATUS_REMOVED);
    cr_assert_eq(sidecar_host_ping(h, 1, T_LONG), SIDECAR_HOST_E_REMOVED);
    cr_assert_eq(sidecar_host_run_vp_start(h, 1), SIDECAR_HOST_E_REMOVED);
    cr_assert_eq(sidecar_host_remove(h, 1, T_LONG), SIDECAR_HOST_E_REMOVED);
    cr_assert_eq(sidecar_host_stop(h, 1), SIDECAR_HOST_E_REMOVED);
    /* The other CPUs carry on. */
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    cr_assert_eq(sidecar_host_ping(h, 2, T_LONG), 0);
}

Test(hostlib, remove_running_cpu_after_stop)
{
    struct sidecar_host_sim_step s;
    memset(&s, 0, sizeof(s));
    s.kind = SIDECAR_HOST_SIM_BLOCK;
    cr_assert_eq(sidecar_host_sim_script(f->sim, 5, &s, 1), 0);
    cr_assert_eq(sidecar_host_acquire(h, 5), 0);
    cr_assert_eq(sidecar_host_run_vp_start(h, 5), 0);
    wait_script_used(f->sim, 5);
    cr_assert_eq(sidecar_host_remove(h, 5, T_LONG), SIDECAR_HOST_E_BUSY, "running");
    cr_assert_eq(sidecar_host_stop(h, 5), 0);
    /* Not collected yet: still busy, even once the run has ended. */
    cr_assert_eq(sidecar_host_remove(h, 5, T_LONG), SIDECAR_HOST_E_BUSY);
    cr_assert_eq(sidecar_host_wait(h, 5, T_LONG), SIDECAR_HOST_RUN_STOPPED);
    cr_assert_eq(sidecar_host_remove(h, 5, T_LONG), 0);
    cr_assert_eq(sidecar_host_cpu_status(h, 5), SIDECAR_CPU_STATUS_REMOVED);
}

/* ---- a misbehaving sidecar -------------------------------------------------- */

Test(hostlib, mute_cpu_times_out_then_answers)
{
    cr_assert_eq(sidecar_host_acquire(h, 3), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 3, SIDECAR_HOST_SIM_FAULT_MUTE, 0), 0);
    cr_assert_eq(sidecar_host_ping(h, 3, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    cr_assert_eq(sidecar_host_ping(h, 3, 0), SIDECAR_HOST_E_BUSY, "the ping is still pending");
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 3, SIDECAR_HOST_SIM_FAULT_UNMUTE, 0), 0);
    cr_assert_eq(sidecar_host_wait(h, 3, T_LONG), 0, "answered late");
    cr_assert_eq(sidecar_host_ping(h, 3, T_LONG), 0);
    /* Remove times out the same way. */
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 3, SIDECAR_HOST_SIM_FAULT_MUTE, 0), 0);
    cr_assert_eq(sidecar_host_remove(h, 3, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    cr_assert_eq(sidecar_host_cpu_status(h, 3), SIDECAR_CPU_STATUS_REMOVE);
}

/* Found by the QEMU fault tests (remove_race): a command that timed out
 * and then ended in the sidecar was not collected, yet REMOVE (or the next
 * command) went ahead and its completion was lost. Now both wait. */
Test(hostlib, uncollected_command_blocks_next_and_remove)
{
    cr_assert_eq(sidecar_host_acquire(h, 3), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 3, SIDECAR_HOST_SIM_FAULT_MUTE, 0), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 3, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 3, SIDECAR_HOST_SIM_FAULT_UNMUTE, 0), 0);
    for (int k = 0; k < 200000 && sidecar_host_cpu_status(h, 3) != SIDECAR_CPU_STATUS_IDLE; k++)
        sched_yield();
    cr_assert_eq(sidecar_host_cpu_status(h, 3), SIDECAR_CPU_STATUS_IDLE, "the sidecar finished the run");
    cr_assert_eq(sidecar_host_ping(h, 3, T_LONG), SIDECAR_HOST_E_BUSY, "not collected yet");
    cr_assert_eq(sidecar_host_run_vp_start(h, 3), SIDECAR_HOST_E_BUSY);
    cr_assert_eq(sidecar_host_remove(h, 3, T_LONG), SIDECAR_HOST_E_BUSY);
    int rc = sidecar_host_wait(h, 3, T_LONG);
    cr_assert(rc == SIDECAR_HOST_RUN_INTERCEPT || rc == SIDECAR_HOST_RUN_STOPPED, "collected: %d", rc);
    cr_assert_eq(sidecar_host_ping(h, 3, T_LONG), 0);
    cr_assert_eq(sidecar_host_remove(h, 3, T_LONG), 0);
}

Test(hostlib, corrupted_status_byte)
{
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 2, SIDECAR_HOST_SIM_FAULT_STATUS, 0x77), 0);
    cr_assert_eq(sidecar_host_cpu_status(h, 2), 0x77);
    cr_assert_eq(sidecar_host_ping(h, 2, T_LONG), SIDECAR_HOST_E_STATE);
    cr_assert_eq(sidecar_host_run_vp_start(h, 2), SIDECAR_HOST_E_STATE);
    cr_assert_eq(sidecar_host_stop(h, 2), SIDECAR_HOST_E_STATE);
    cr_assert_eq(sidecar_host_remove(h, 2, T_LONG), SIDECAR_HOST_E_STATE);
    cr_assert_eq(sidecar_host_wait(h, 2, T_LONG), SIDECAR_HOST_E_STATE);
    /* Back to IDLE: usable again. */
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 2, SIDECAR_HOST_SIM_FAULT_STATUS, SIDECAR_CPU_STATUS_IDLE), 0);
    cr_assert_eq(sidecar_host_ping(h, 2, T_LONG), 0);
}

Test(hostlib, status_corrupted_during_a_command)
{
    cr_assert_eq(sidecar_host_acquire(h, 6), 0);
    cr_assert_eq(sidecar_host_acquire(h, 7), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 6, SIDECAR_HOST_SIM_FAULT_MUTE, 0), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 7, SIDECAR_HOST_SIM_FAULT_MUTE, 0), 0);
    cr_assert_eq(sidecar_host_ping(h, 6, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 6, SIDECAR_HOST_SIM_FAULT_STATUS, 0xee), 0);
    cr_assert_eq(sidecar_host_wait(h, 6, T_LONG), SIDECAR_HOST_E_STATE);
    /* An async run whose status turns impossible is reported once. */
    cr_assert_eq(sidecar_host_run_vp_start(h, 7), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 7, SIDECAR_HOST_SIM_FAULT_STATUS, 9), 0);
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(h, T_LONG, &d), 0);
    cr_assert_eq(d.cpu, 7);
    cr_assert_eq(d.result, SIDECAR_HOST_E_STATE);
    cr_assert_eq(sidecar_host_wait_any(h, 0, &d), SIDECAR_HOST_E_NOTHING);
}

Test(hostlib, lost_attention_costs_latency_not_a_hang)
{
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 1, SIDECAR_HOST_SIM_FAULT_NO_ATTENTION, 1), 0);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(sidecar_host_run_vp(h, 1, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_run_vp_start(h, 1), 0);
    struct sidecar_host_completion d;
    cr_assert_eq(sidecar_host_wait_any(h, T_LONG, &d), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 1, SIDECAR_HOST_SIM_FAULT_NO_ATTENTION, 0), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 1, 999, 0), SIDECAR_HOST_E_INVALID);
}

Test(hostlib, scripts_are_checked_and_counted)
{
    struct sidecar_host_sim_step s;
    sidecar_host_sim_step_halt(&s);
    s.repeat = 5;
    cr_assert_eq(sidecar_host_sim_script(f->sim, 1, &s, 1), 0);
    cr_assert_eq(sidecar_host_sim_script_left(f->sim, 1), 5);
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 1, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(sidecar_host_sim_script_left(f->sim, 1), 4);
    sidecar_host_sim_script_clear(f->sim, 1);
    cr_assert_eq(sidecar_host_sim_script_left(f->sim, 1), 0);
    s.kind = 99;
    cr_assert_eq(sidecar_host_sim_script(f->sim, 1, &s, 1), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_sim_script(f->sim, 0, &s, 0), SIDECAR_HOST_E_INVALID, "main CPU");
    sidecar_host_sim_step_halt(&s);
    for (int k = 0; k < SIDECAR_HOST_SIM_MAX_STEP_REGS; k++)
        cr_assert_eq(sidecar_host_sim_step_set(&s, SIDECAR_HV_REGISTER_NAME_R8, k, 0), 0);
    cr_assert_eq(sidecar_host_sim_step_set(&s, SIDECAR_HV_REGISTER_NAME_R8, 0, 0), SIDECAR_HOST_E_INVALID);
}

Test(hostlib, null_arguments_never_crash)
{
    sidecar_host_sim_step_io_port(NULL, 0, 1, false, 0, 1);
    sidecar_host_sim_step_msr(NULL, 0, false, 0, 1);
    sidecar_host_sim_step_cpuid(NULL, 0, 0, 1);
    sidecar_host_sim_step_memory(NULL, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, 0, false, 1);
    sidecar_host_sim_step_exception(NULL, 0, 0, 0);
    sidecar_host_sim_step_halt(NULL);
    cr_assert_eq(sidecar_host_sim_step_set(NULL, 0, 0, 0), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_sim_create(NULL, NULL), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_sim_event_fd(NULL), SIDECAR_HOST_E_INVALID);
    cr_assert_null(sidecar_host_sim_params(NULL));
    cr_assert_eq(sidecar_host_sim_script_left(NULL, 1), 0);
    cr_assert_eq(sidecar_host_sim_commands(NULL, 1), 0);
    sidecar_host_sim_script_clear(NULL, 1);
    sidecar_host_sim_destroy(NULL);
    struct sidecar_hv_register_value v;
    cr_assert_neq(sidecar_host_sim_peek_register(f->sim, 1, SIDECAR_HV_REGISTER_NAME_RIP, NULL), 0);
    cr_assert_neq(sidecar_host_sim_peek_register(NULL, 1, SIDECAR_HV_REGISTER_NAME_RIP, &v), 0);
    uint32_t n, i;
    cr_assert_eq(sidecar_host_locate(NULL, 1, &n, &i), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_locate(h, 1, NULL, &i), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_cpu_status(NULL, 1), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_acquire(NULL, 1), SIDECAR_HOST_E_INVALID);
    sidecar_host_release(NULL, 1);
    cr_assert_null(sidecar_host_command_page(NULL, 1));
    cr_assert_eq(sidecar_host_stop(NULL, 1), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_ping(NULL, 1, 0), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_wait(NULL, 1, 0), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_error_text(NULL, 1, NULL, 0), 0);
    cr_assert_eq(sidecar_host_acquire(h, 1), 0);
    struct sidecar_hv_x64_io_port_intercept_message *io = NULL;
    cr_assert_eq(sidecar_host_intercept_io_port(h, 1, io), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_intercept_header(NULL, 1, NULL), SIDECAR_HOST_E_INVALID);
    sidecar_host_close(NULL);
}

/* The test plays a misbehaving sidecar on a muted CPU: it answers by
 * writing the command page and the status byte itself. */
static void answer_as_sidecar(uint32_t cpu, uint8_t response_byte, uint8_t status)
{
    struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    __atomic_store_n(&c->command, SIDECAR_COMMAND_NONE, __ATOMIC_RELAXED);
    c->has_error = 0;
    c->request_data[0] = response_byte;
    cr_assert_eq(sidecar_host_sim_fault(f->sim, cpu, SIDECAR_HOST_SIM_FAULT_STATUS, status), 0);
}

Test(hostlib, impossible_or_missing_run_answer)
{
    cr_assert_eq(sidecar_host_acquire(h, 2), 0);
    cr_assert_eq(sidecar_host_sim_fault(f->sim, 2, SIDECAR_HOST_SIM_FAULT_MUTE, 0), 0);
    cr_assert_eq(sidecar_host_run_vp(h, 2, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    answer_as_sidecar(2, 7, SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(sidecar_host_wait(h, 2, T_LONG), SIDECAR_HOST_E_STATE, "intercept byte 7");
    cr_assert_eq(sidecar_host_run_vp(h, 2, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    answer_as_sidecar(2, 0xff, SIDECAR_CPU_STATUS_IDLE);   /* never wrote the byte */
    cr_assert_eq(sidecar_host_wait(h, 2, T_LONG), SIDECAR_HOST_E_STATE, "no answer written");
    cr_assert_eq(sidecar_host_run_vp(h, 2, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    answer_as_sidecar(2, 0, SIDECAR_CPU_STATUS_IDLE);
    cr_assert_eq(sidecar_host_wait(h, 2, T_LONG), SIDECAR_HOST_RUN_STOPPED, "a valid answer");
    /* A CPU that fails while serving leaves as REMOVED. */
    cr_assert_eq(sidecar_host_ping(h, 2, T_SHORT), SIDECAR_HOST_E_TIMEOUT);
    answer_as_sidecar(2, 0, SIDECAR_CPU_STATUS_REMOVED);
    cr_assert_eq(sidecar_host_wait(h, 2, T_LONG), SIDECAR_HOST_E_REMOVED);
}

/* ---- control_flag_wake_on_status_write: no request IPI for RUN/REMOVE ---- */

/* A transport around the simulator's that counts the request IPIs the
 * library sends. Without epoch/wait the core polls and calls relax, where
 * the simulated CPUs "notice the store by themselves" (as a CPU parked
 * with MWAIT on its status byte does): each one whose status asks for
 * work is kicked through the simulator's own doorbell, uncounted. */
static struct {
    struct sidecar_host_transport inner;
    const struct sidecar_params *params;
    struct sidecar_host *h;
    int ipis;
} wk;

static void wk_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    (void)ctx;
    wk.ipis++;
    wk.inner.send_ipi(wk.inner.ctx, apic_id, vector);
}

static void wk_relax(void *ctx)
{
    (void)ctx;
    for (uint32_t c = 0; c < wk.params->cpu_count; c++) {
        int s = sidecar_host_cpu_status(wk.h, c);
        if (s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_REMOVE)
            wk.inner.send_ipi(wk.inner.ctx, wk.params->cpus[c].apic_id, SIDECAR_REQUEST_VECTOR);
    }
    if (wk.inner.relax)
        wk.inner.relax(wk.inner.ctx);
}

static void wk_flags(struct sidecar_host *h, uint32_t flags)
{
    for (uint32_t n = 0; n < sidecar_host_node_count(h); n++)
        sidecar_control_page_flags_store(h->nodes[n].control, flags);
}

Test(api, wake_on_status_write_skips_the_request_ipi_but_not_for_stop)
{
    struct fixture *f = fixture_open(1, 4, true);
    static struct sidecar_host h2;
    wk.inner = f->host.t;
    wk.params = f->host.params;
    wk.h = &h2;
    wk.ipis = 0;
    struct sidecar_host_transport t = f->host.t;
    t.send_ipi = wk_send_ipi;
    t.relax = wk_relax;
    t.epoch = NULL;
    t.wait = NULL;
    cr_assert_eq(sidecar_host_open(&h2, &t, f->host.params, sidecar_host_sim_output(f->sim)), 0);
    const uint32_t cpu = 1;
    cr_assert_eq(sidecar_host_acquire(&h2, cpu), 0);

    /* Without the flag every command rings. */
    cr_assert_eq(sidecar_host_ping(&h2, cpu, T_LONG), 0);
    cr_assert_eq(wk.ipis, 1);

    wk_flags(&h2, SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE);
    cr_assert_eq(sidecar_host_ping(&h2, cpu, T_LONG), 0);
    struct sidecar_host_sim_step steps[2];
    memset(steps, 0, sizeof(steps));
    sidecar_host_sim_step_halt(&steps[0]);
    steps[1].kind = SIDECAR_HOST_SIM_BLOCK;
    cr_assert_eq(sidecar_host_sim_script(f->sim, cpu, steps, 2), 0);
    cr_assert_eq(sidecar_host_run_vp(&h2, cpu, T_LONG), SIDECAR_HOST_RUN_INTERCEPT);
    cr_assert_eq(wk.ipis, 1, "RUN rang although the node wakes on the status write");

    /* STOP must interrupt the running VP: it rings whatever the flags. */
    cr_assert_eq(sidecar_host_run_vp_start(&h2, cpu), 0);
    for (int k = 0; k < 10000 && sidecar_host_sim_script_left(f->sim, cpu); k++) {
        wk_relax(NULL);   /* nobody polls through the library meanwhile */
        usleep(1000);
    }
    cr_assert_eq(sidecar_host_sim_script_left(f->sim, cpu), 0);
    cr_assert_eq(sidecar_host_stop(&h2, cpu), 0);
    cr_assert_eq(wk.ipis, 2);
    cr_assert_eq(sidecar_host_wait(&h2, cpu, T_LONG), SIDECAR_HOST_RUN_STOPPED);

    /* REMOVE only has to wake an idle CPU. Unknown flag bits are ignored. */
    wk_flags(&h2, SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE | 0x80000000u);
    cr_assert_eq(sidecar_host_remove(&h2, cpu, T_LONG), 0);
    cr_assert_eq(wk.ipis, 2, "REMOVE rang although the node wakes on the status write");
    sidecar_host_release(&h2, cpu);
    sidecar_host_close(&h2);
    fixture_close(f);
}

/* The VP backend from node 0's control page: ring3 or svm from our kernel's
 * flags, unknown where the page has no control_magic (OpenHCL's). */
Test(api, vp_backend_from_the_control_page_flags)
{
    struct fixture *f = fixture_open(1, 4, true);
    struct sidecar_host *h = &f->host;
    cr_assert_str_eq(sidecar_host_vp_backend(NULL), "unknown");
    struct sidecar_control_page *cp = h->nodes[0].control;
    uint64_t magic = cp->magic;
    sidecar_control_page_flags_store(cp, 0);
    cr_assert_str_eq(sidecar_host_vp_backend(h), magic == SIDECAR_CONTROL_MAGIC ? "ring3" : "unknown");
    cp->magic = SIDECAR_CONTROL_MAGIC;
    sidecar_control_page_flags_store(cp, SIDECAR_CONTROL_FLAG_VP_BACKEND_SVM | SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE);
    cr_assert_str_eq(sidecar_host_vp_backend(h), "svm");
    sidecar_control_page_flags_store(cp, SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE);
    cr_assert_str_eq(sidecar_host_vp_backend(h), "ring3");
    cp->magic = 0;
    sidecar_control_page_flags_store(cp, SIDECAR_CONTROL_FLAG_VP_BACKEND_SVM);
    cr_assert_str_eq(sidecar_host_vp_backend(h), "unknown", "not our kernel: nothing to say");
    cp->magic = magic;
    sidecar_control_page_flags_store(cp, 0);
}

/* The page addresses in the output page are the sidecar's to write: a node
 * whose control or command pages alias another node's, lie outside its
 * node memory, or whose size is not cpu_count * 8192, is refused at open
 * (the hostlib fuzzer once found node 0's command pages aliasing node 1's). */
Test(api, open_refuses_output_pages_that_alias_or_stray)
{
    struct fixture *f = fixture_open(2, 4, true);
    const struct sidecar_output *good = sidecar_host_sim_output(f->sim);
    static struct sidecar_output out;
    static struct sidecar_host h2;
    struct sidecar_host_transport t = f->host.t;
    memcpy(&out, good, sizeof(out));
    cr_assert_eq(sidecar_host_open(&h2, &t, f->host.params, &out), 0, "the sim's own output opens");
    uint64_t cases[][3] = {
        /* node, field (0 control, 1 shmem base, 2 shmem size), value */
        { 1, 1, good->nodes[0].shmem_pages_base },          /* node 1's pages are node 0's */
        { 1, 0, good->nodes[0].control_page },               /* node 1's control page is node 0's */
        { 0, 0, good->nodes[0].shmem_pages_base },           /* the control page among the command pages */
        { 0, 1, good->nodes[0].shmem_pages_base + 4096 * 4096ull }, /* outside node memory */
        { 0, 2, good->nodes[0].shmem_pages_size + 8192 },    /* bigger than cpu_count * 8192 */
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(&out, good, sizeof(out));
        struct sidecar_output_node *on = &out.nodes[cases[i][0]];
        uint64_t *field = cases[i][1] == 0 ? &on->control_page : cases[i][1] == 1 ? &on->shmem_pages_base
                                                                                  : &on->shmem_pages_size;
        *field = cases[i][2];
        cr_assert_eq(sidecar_host_open(&h2, &t, f->host.params, &out), SIDECAR_HOST_E_INVALID, "case %u", i);
    }
}
