/* SPDX-License-Identifier: MIT */
/* The guest firmware on every sidecar VP at once (mk.svm_firmware; the svm
 * backend): the main kernel is the VMM of one SMP guest whose processors
 * are the sidecar VPs. The firmware (tests/guest/firmware.asm,
 * docs/guest-firmware.md) starts on each VP at the reset vector, goes to
 * long mode with its own tables, takes its own page fault, increments a
 * counter all VPs share with lock xadd, then waits for interrupts with
 * STI; HLT. The VMM answers its IO ports, prints its serial text, and wakes
 * it twice: once the classic way (the VP is halted in the sidecar, a run of
 * it ends only by STOP; then an interrupt is made pending and the VP run
 * again) and once with the interrupt made pending before the guest halts.
 * In the end the counter in guest memory must be N * K. */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include <vmm/uart.h>

#include "../../tests/guest/firmware_ports.h"
#include "arch/x86_64/platform.h"
#include "ping.h"
#include "report.h"
#include "scenarios.h"
#include "svm_vmm.h"

#define N(x) SIDECAR_HV_REGISTER_NAME_##x
#define ITERATIONS 1000u
#define WAKES 2u
#define ACTIVITY_HALTED 0x2ull
#define PI_PENDING 0x1ull
#define HALT_CHECK_TRIES 100u
/* How long all VPs together may go without one intercept: a bound against
 * a hang, not a timing check. Under TCG on a loaded 2-core host, 63 vCPUs
 * that spin in their counter loops can take many seconds each to get a
 * turn (the same bound as the VP test's). */
#define QUIET_TIMEOUT_NS 60000000000ull

extern const uint8_t mk_guest_firmware_start[], mk_guest_firmware_end[];

enum vstate { V_RUNNING, V_WAIT_HALT, V_DONE, V_FAILED };

struct vp {
    uint32_t cpu;
    uint32_t index;
    uint8_t state;
    uint8_t next_event;          /* the events come in order */
    uint32_t wakes;              /* FW_EV_WOKE seen */
    uint32_t interrupts;
    uint64_t counter;            /* FW_EV_COUNTER_DONE's value */
    uint32_t intercepts;
};

static struct vp vps[SIDECAR_MAX_CPUS];

struct result {
    bool ok;
    uint32_t vps, done, intercepts, halted_waits;
    uint64_t counter, max_reported;
    char line[96];               /* the firmware's serial text, last line */
    char error[128];
};
static struct result res;

static uint32_t line_len;
static char line_buf[96];

static void serial_byte(uint8_t b)
{
    if (b == '\n' || line_len + 1 >= sizeof(line_buf)) {
        line_buf[line_len] = 0;
        mk_out("guest: %s\n", line_buf);
        sc_memcpy(res.line, line_buf, line_len + 1);
        line_len = 0;
        if (b == '\n')
            return;
    }
    if (b != '\r')
        line_buf[line_len++] = (char)b;
}

static bool fail(struct vp *v, struct sidecar_host *h, const char *what, uint64_t x)
{
    char text[48] = "";
    sidecar_host_error_text(h, v->cpu, text, sizeof(text));
    if (!res.error[0])
        sc_snprintf(res.error, sizeof(res.error), "VP %u (cpu %u): %s (%lx)%s%s", v->index, v->cpu, what, x,
                    text[0] ? ": " : "", text);
    v->state = V_FAILED;
    return false;
}

/* An event from the firmware: in the documented order. */
static bool event(struct vp *v, struct sidecar_host *h, uint32_t value)
{
    uint32_t code = FW_EV_CODE(value), arg = FW_EV_ARG(value);
    switch (code) {
    case FW_EV_STARTED:
        if (v->next_event != 0 || arg != v->index)
            return fail(v, h, "STARTED out of order or wrong index", value);
        v->next_event = 1;
        return true;
    case FW_EV_LONG_MODE:
        if (v->next_event != 1)
            return fail(v, h, "LONG_MODE out of order", value);
        v->next_event = 2;
        return true;
    case FW_EV_PF_HANDLED:
        if (v->next_event != 2 || arg != (FW_PF_GVA >> 12))
            return fail(v, h, "PF_HANDLED out of order or wrong page", value);
        v->next_event = 3;
        return true;
    case FW_EV_COUNTER_DONE:
        if (v->next_event != 3 || arg < ITERATIONS)
            return fail(v, h, "COUNTER_DONE out of order or too small", value);
        v->counter = arg;
        v->next_event = 4;
        return true;
    case FW_EV_WAITING:
        if (v->next_event != 4 || arg != v->wakes)
            return fail(v, h, "WAITING out of order", value);
        if (v->wakes == 0) {
            /* First wake, the classic way: let it halt in the sidecar. */
            v->state = V_WAIT_HALT;
        } else {
            /* Second: the interrupt is pending before it halts. */
            if (mk_svm_set(h, v->cpu, N(PENDING_INTERRUPTION), PI_PENDING | ((uint64_t)FW_IRQ_VECTOR << 16)))
                return fail(v, h, "set the pending interruption", 0);
        }
        return true;
    case FW_EV_INTERRUPT:
        if ((arg & 0xff) != FW_IRQ_VECTOR)
            return fail(v, h, "interrupt on the wrong vector", value);
        v->interrupts++;
        return true;
    case FW_EV_WOKE:
        if (arg != v->wakes + 1 || v->interrupts != arg)
            return fail(v, h, "WOKE without its interrupt", value);
        v->wakes = arg;
        return true;
    case FW_EV_DONE:
        if (v->wakes != WAKES)
            return fail(v, h, "DONE before its wakes", value);
        v->state = V_DONE;
        return true;
    default:
        return fail(v, h, "the firmware reported a failure", value);
    }
}

/* One intercept of a VP's run: answer it and say whether to run again. */
static struct vmm_uart uart;

static void uart_sink(void *ctx, uint8_t b)
{
    (void)ctx;
    serial_byte(b);
}

static bool intercept(struct vp *v, struct sidecar_host *h)
{
    v->intercepts++;
    res.intercepts++;
    uint32_t type = 0;
    sidecar_host_intercept_type(h, v->cpu, &type);
    if (type == SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT) {
        struct sidecar_hv_x64_cpuid_intercept_message m;
        sidecar_host_intercept_cpuid(h, v->cpu, &m);
        struct sidecar_hv_register_assoc r[4] = {
            { .name = N(RAX), .value = { m.default_result_rax, 0 } },
            { .name = N(RBX), .value = { m.default_result_rbx, 0 } },
            { .name = N(RCX), .value = { m.default_result_rcx, 0 } },
            { .name = N(RDX), .value = { m.default_result_rdx, 0 } },
        };
        if (sidecar_host_set_registers(h, v->cpu, 0, r, 4, MK_SVM_TIMEOUT_NS, NULL) || mk_svm_skip(h, v->cpu, &m.header))
            return fail(v, h, "answer CPUID", 0);
        return true;
    }
    struct sidecar_hv_x64_io_port_intercept_message io;
    if (sidecar_host_intercept_io_port(h, v->cpu, &io))
        return fail(v, h, "an intercept the firmware never causes, type", type);
    bool write = io.header.intercept_access_type == SIDECAR_INTERCEPT_ACCESS_WRITE;
    uint32_t value = (uint32_t)io.rax;
    uint64_t answer = 0;
    bool has_answer = !write;
    switch (io.port_number) {
    case FW_PORT_INDEX: answer = v->index; break;
    case FW_PORT_ITERATIONS: answer = ITERATIONS; break;
    case FW_PORT_WAKES: answer = WAKES; break;
    case FW_PORT_CONTROL: answer = 0; break;
    case FW_PORT_EVENT:
        if (!write || !event(v, h, value))
            return v->state == V_FAILED ? false : fail(v, h, "read of the event port", 0);
        break;
    default:
        if (vmm_uart_owns(&uart, io.port_number)) {
            uint32_t data = value;
            if (vmm_uart_io(&uart, io.port_number, io.access_info & 7u, write, &data))
                return fail(v, h, "UART access", io.port_number);
            answer = data;
            break;
        }
        return fail(v, h, "IO to an unknown port", io.port_number);
    }
    if (has_answer && mk_svm_set(h, v->cpu, N(RAX), mk_in_result(io.rax, io.access_info & 7u, (uint32_t)answer)))
        return fail(v, h, "answer IN", io.port_number);
    if (mk_svm_skip(h, v->cpu, &io.header))
        return fail(v, h, "move RIP", 0);
    return true;
}

/* A VP that reported WAITING for its first wake: run it until the sidecar
 * holds it halted (a run then ends only by STOP), then make the interrupt
 * pending. */
static bool wake_halted(struct vp *v, struct sidecar_host *h, uint64_t khz)
{
    for (unsigned i = 0; i < HALT_CHECK_TRIES; i++) {
        if (sidecar_host_run_vp_start(h, v->cpu))
            return fail(v, h, "run start", 0);
        uint64_t until = mk_rdtsc() + khz / 2;   /* 0.5 ms: time to reach HLT */
        while (mk_rdtsc() < until)
            mk_pause();
        sidecar_host_stop(h, v->cpu);
        int rc = sidecar_host_wait(h, v->cpu, MK_SVM_TIMEOUT_NS);
        if (rc == SIDECAR_HOST_RUN_INTERCEPT)
            return fail(v, h, "an intercept while it should halt", 0);
        if (rc != SIDECAR_HOST_RUN_STOPPED)
            return fail(v, h, "stop", (uint64_t)rc);
        uint64_t act = 0;
        if (mk_svm_get(h, v->cpu, N(INTERNAL_ACTIVITY_STATE), &act))
            return fail(v, h, "get the activity state", 0);
        if (act & ACTIVITY_HALTED) {
            res.halted_waits++;
            v->state = V_RUNNING;
            return mk_svm_set(h, v->cpu, N(PENDING_INTERRUPTION), PI_PENDING | ((uint64_t)FW_IRQ_VECTOR << 16))
                       ? fail(v, h, "set the pending interruption", 0) : true;
        }
    }
    return fail(v, h, "never halted", 0);
}

static void run_all(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus, uint32_t n,
                    uint64_t khz)
{
    uint64_t image = (uint64_t)(mk_guest_firmware_end - mk_guest_firmware_start);
    if (image != FW_IMAGE_SIZE || p->guest_ram_size < FW_MIN_RAM) {
        sc_snprintf(res.error, sizeof(res.error), "firmware image %lu bytes, guest RAM %lu: need %u and %u",
                    image, p->guest_ram_size, FW_IMAGE_SIZE, FW_MIN_RAM);
        return;
    }
    if (n > FW_MAX_VPS)
        n = FW_MAX_VPS;
    /* The image at the end of guest RAM (the reset alias), the shared page
     * zero. */
    uint8_t *ram = (uint8_t *)(uintptr_t)p->guest_ram_base;
    sc_memcpy(ram + p->guest_ram_size - FW_IMAGE_SIZE, mk_guest_firmware_start, FW_IMAGE_SIZE);
    sc_memset(ram + FW_SHARED_GPA, 0, 4096);
    res.vps = n;
    line_len = 0;
    vmm_uart_init(&uart, FW_PORT_SERIAL, uart_sink, NULL);
    uint32_t started = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct vp *v = &vps[k];
        sc_memset(v, 0, sizeof(*v));
        v->cpu = cpus[k];
        v->index = k;
        if (sidecar_host_acquire(h, v->cpu) || mk_svm_reset_vp(h, v->cpu) || sidecar_host_run_vp_start(h, v->cpu)) {
            fail(v, h, "acquire, reset or start", 0);
            break;
        }
        started++;
    }
    /* Every VP's runs, collected as they end. */
    uint32_t active = started;
    while (active && !res.error[0]) {
        struct sidecar_host_completion done;
        int rc = sidecar_host_wait_any(h, QUIET_TIMEOUT_NS, &done);
        if (rc) {
            sc_snprintf(res.error, sizeof(res.error), "wait_any: %s", sidecar_host_strerror(rc));
            break;
        }
        struct vp *v = NULL;
        for (uint32_t k = 0; k < started && !v; k++)
            if (vps[k].cpu == done.cpu)
                v = &vps[k];
        if (!v)
            continue;
        if (done.result != SIDECAR_HOST_RUN_INTERCEPT)
            fail(v, h, "run ended without an intercept", (uint64_t)done.result);
        else if (intercept(v, h) && v->state == V_WAIT_HALT)
            wake_halted(v, h, khz);
        if (v->state == V_DONE || v->state == V_FAILED) {
            active--;
            continue;
        }
        if (sidecar_host_run_vp_start(h, v->cpu))
            fail(v, h, "run start", 0);
    }
    for (uint32_t k = 0; k < started; k++) {
        struct vp *v = &vps[k];
        if (v->state != V_DONE && v->state != V_FAILED) {
            sidecar_host_stop(h, v->cpu);
            sidecar_host_wait(h, v->cpu, MK_SVM_TIMEOUT_NS);
        }
        res.done += v->state == V_DONE;
        if (v->counter > res.max_reported)
            res.max_reported = v->counter;
        sidecar_host_release(h, v->cpu);
    }
    res.counter = *(volatile uint64_t *)(uintptr_t)(p->guest_ram_base + FW_COUNTER_GPA);
    if (!res.error[0] && res.counter != (uint64_t)n * ITERATIONS)
        sc_snprintf(res.error, sizeof(res.error), "shared counter %lu, expected %lu", res.counter,
                    (uint64_t)n * ITERATIONS);
    res.ok = !res.error[0] && res.done == n && res.max_reported == res.counter && n > 0;
}

bool mk_svm_firmware_run(struct mk_ctx *ctx)
{
    const struct sidecar_output *o = ctx->output;
    uint32_t n = mk_ready_cpus(ctx->params, o, ctx->converted, ctx->cpus);
    sc_memset(&res, 0, sizeof(res));
    if (o->vp_backend != SIDECAR_VP_BACKEND_SVM)
        sc_snprintf(res.error, sizeof(res.error), "mk.svm_firmware needs the svm backend");
    else
        run_all(ctx->host, ctx->params, ctx->cpus, n, ctx->tsc_khz);
    mk_out("main: guest firmware on %u VPs at once: %s; %u done, shared counter %lu (%u x %u), "
           "%u woken from a halt, %u intercepts%s%s\n", res.vps, res.ok ? "ok" : "FAILED", res.done, res.counter,
           res.vps, ITERATIONS, res.halted_waits, res.intercepts, res.error[0] ? ": " : "", res.error);
    return res.ok;
}

void mk_svm_firmware_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"vps\":%u,\"done\":%u,\"counter\":%lu,\"iterations\":%u,\"wakes\":%u,"
           "\"halted_waits\":%u,\"intercepts\":%u,\"error\":\"%s\"}",
           res.ok ? "true" : "false", res.vps, res.done, res.counter, ITERATIONS, WAKES, res.halted_waits,
           res.intercepts, res.error);
}
