/* SPDX-License-Identifier: MIT */
/* The demo's computation on every sidecar CPU at once (compute.h). */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "compute.h"

extern const uint8_t mk_compute_start[], mk_compute_end[];

#define CODE_OFFSET 0x100000ull     /* guest RAM + 1 MiB (the VP test's code is below) */
#define DATA_OFFSET 0x200000ull     /* 64 KiB of data the VPs hash */
#define STACK_OFFSET 0x300000ull    /* 256 bytes of stack per VP */
#define DATA_BYTES 0x10000ull
#define RANGE_BYTES 0x2000ull       /* each VP hashes 8 KiB ... */
#define RANGE_STEP 64ull            /* ... starting 64 bytes further per index */
#define REPORT_PORT 0x5e0u
#define TIMEOUT_NS 5000000000ull

uint64_t mk_compute_expected(const uint8_t *data, uint64_t bytes, uint32_t index)
{
    uint64_t h = 0xcbf29ce484222325ull ^ index;
    for (uint64_t i = 0; i < bytes; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

struct vp_state {
    uint32_t cpu;
    uint32_t index;
    uint32_t parts;             /* OUTs seen */
    uint64_t value;
    bool done;
};

static struct vp_state vps[SIDECAR_MAX_CPUS];

static void fail(struct mk_compute_result *r, uint32_t cpu, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct mk_compute_result *r, uint32_t cpu, const char *fmt, ...)
{
    r->ok = false;
    if (r->error[0])
        return;
    r->first_failed_cpu = cpu;
    va_list ap;
    va_start(ap, fmt);
    sc_vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

static int set_regs(struct sidecar_host *h, uint32_t cpu, const uint32_t *names, const uint64_t *values,
                    uint32_t n)
{
    struct sidecar_hv_register_assoc a[8];
    sc_memset(a, 0, sizeof(a));
    for (uint32_t i = 0; i < n && i < 8; i++) {
        a[i].name = names[i];
        a[i].value.low = values[i];
    }
    return sidecar_host_set_registers(h, cpu, 0, a, n, TIMEOUT_NS, 0);
}

/* One stop of a VP: an OUT to the report port (keep the dword, step over
 * it, run on), or the final HLT. Returns whether it runs again. */
static bool handle(struct sidecar_host *h, struct vp_state *v, struct mk_compute_result *r)
{
    uint32_t type;
    struct sidecar_hv_x64_intercept_message_header hdr;
    if (sidecar_host_intercept_type(h, v->cpu, &type) || sidecar_host_intercept_header(h, v->cpu, &hdr)) {
        fail(r, v->cpu, "cpu %u: unreadable intercept", v->cpu);
        return false;
    }
    r->intercepts++;
    if (type == SIDECAR_HV_MESSAGE_TYPE_X64_HALT) {
        v->done = true;
        return false;
    }
    struct sidecar_hv_x64_io_port_intercept_message io;
    if (type != SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT || sidecar_host_intercept_io_port(h, v->cpu, &io) ||
        io.port_number != REPORT_PORT || v->parts >= 2) {
        fail(r, v->cpu, "cpu %u: unexpected intercept %x", v->cpu, type);
        return false;
    }
    v->value |= (uint64_t)(uint32_t)io.rax << (32 * v->parts++);
    uint32_t name = SIDECAR_HV_REGISTER_NAME_RIP;
    uint64_t rip = hdr.rip + sidecar_host_instruction_length(&hdr);
    if (set_regs(h, v->cpu, &name, &rip, 1)) {
        fail(r, v->cpu, "cpu %u: cannot step over the OUT", v->cpu);
        return false;
    }
    return true;
}

void mk_compute_all(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                    uint32_t n, uint64_t tsc_khz, struct mk_compute_result *r)
{
    mk_compute_run(h, p, cpus, n, tsc_khz, 0, r);
}

/* wait_any for up to TIMEOUT_NS in slices, calling the poll hook between. */
static int wait_any_polling(struct sidecar_host *h, const struct mk_compute_hooks *hooks,
                            uint64_t tsc_khz, struct sidecar_host_completion *done)
{
    if (!hooks || !hooks->poll)
        return sidecar_host_wait_any(h, TIMEOUT_NS, done);
    uint64_t t0 = mk_rdtsc(), limit = TIMEOUT_NS / 1000000 * tsc_khz;
    for (;;) {
        hooks->poll(hooks->ctx);
        int rc = sidecar_host_wait_any(h, 0, done);
        if (rc != SIDECAR_HOST_E_TIMEOUT || mk_rdtsc() - t0 > limit)
            return rc;
    }
}

void mk_compute_run(struct sidecar_host *h, const struct sidecar_params *p, const uint32_t *cpus,
                    uint32_t n, uint64_t tsc_khz, const struct mk_compute_hooks *hooks,
                    struct mk_compute_result *r)
{
    sc_memset(r, 0, sizeof(*r));
    r->ok = true;
    r->first_failed_cpu = SIDECAR_NO_CPU;
    uint64_t code = (uint64_t)(mk_compute_end - mk_compute_start);
    uint64_t base = p->guest_ram_base;
    if (!p->guest_ram_size || STACK_OFFSET + 256ull * (n + 1) > p->guest_ram_size ||
        base + p->guest_ram_size > (1ull << 32) || n > SIDECAR_MAX_CPUS) {
        fail(r, SIDECAR_NO_CPU, "guest RAM too small or above 4 GiB");
        return;
    }
    sc_memcpy((void *)(uintptr_t)(base + CODE_OFFSET), mk_compute_start, code);
    uint8_t *data = (uint8_t *)(uintptr_t)(base + DATA_OFFSET);
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (uint64_t i = 0; i < DATA_BYTES; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (uint8_t)x;
    }

    uint64_t t0 = mk_rdtsc();
    uint32_t in_flight = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct vp_state *v = &vps[k];
        *v = (struct vp_state){ cpus[k], k, 0, 0, false };
        uint64_t off = (RANGE_STEP * k) % (DATA_BYTES - RANGE_BYTES);
        static const uint32_t names[] = {
            SIDECAR_HV_REGISTER_NAME_RIP, SIDECAR_HV_REGISTER_NAME_RSP, SIDECAR_HV_REGISTER_NAME_RFLAGS,
            SIDECAR_HV_REGISTER_NAME_RDI, SIDECAR_HV_REGISTER_NAME_RSI, SIDECAR_HV_REGISTER_NAME_RCX,
        };
        const uint64_t values[] = { base + CODE_OFFSET, base + STACK_OFFSET + 256ull * (k + 1), 0x2, k,
                                    base + DATA_OFFSET + off, RANGE_BYTES };
        int rc = sidecar_host_acquire(h, v->cpu);
        if (!rc)
            rc = set_regs(h, v->cpu, names, values, 6);
        if (!rc)
            rc = sidecar_host_run_vp_start(h, v->cpu);
        if (rc) {
            fail(r, v->cpu, "cpu %u: cannot start: %s", v->cpu, sidecar_host_strerror(rc));
            sidecar_host_release(h, v->cpu);
            continue;
        }
        r->cpus++;
        in_flight++;
    }
    /* As a VMM's event loop would: whichever VP stops, handle it. */
    while (in_flight) {
        struct sidecar_host_completion done;
        int rc = wait_any_polling(h, hooks, tsc_khz, &done);
        if (rc) {
            fail(r, SIDECAR_NO_CPU, "waiting for VPs: %s (%u still running)", sidecar_host_strerror(rc), in_flight);
            for (uint32_t k = 0; k < n; k++)
                if (!vps[k].done)
                    sidecar_host_stop(h, vps[k].cpu);
            break;
        }
        struct vp_state *v = 0;
        for (uint32_t k = 0; k < n && !v; k++)
            if (vps[k].cpu == done.cpu)
                v = &vps[k];
        if (!v) {
            fail(r, done.cpu, "a completion for cpu %u, which was not started", done.cpu);
            continue;
        }
        bool again = done.result == SIDECAR_HOST_RUN_INTERCEPT && handle(h, v, r);
        if (done.result != SIDECAR_HOST_RUN_INTERCEPT)
            fail(r, v->cpu, "cpu %u: run ended with %d", v->cpu, done.result);
        if (again && hooks && hooks->between)
            hooks->between(hooks->ctx, v->cpu);
        if (again && sidecar_host_run_vp_start(h, v->cpu) == SIDECAR_HOST_OK)
            continue;
        in_flight--;
        sidecar_host_release(h, v->cpu);
    }
    r->us = (mk_rdtsc() - t0) * 1000 / tsc_khz;
    for (uint32_t k = 0; k < n; k++) {
        struct vp_state *v = &vps[k];
        uint64_t off = (RANGE_STEP * k) % (DATA_BYTES - RANGE_BYTES);
        if (v->done && v->parts == 2 && v->value == mk_compute_expected(data + off, RANGE_BYTES, k))
            r->passed++;
        else if (r->cpus)
            fail(r, v->cpu, "cpu %u: reported %lx after %u OUTs, expected %lx", v->cpu, v->value, v->parts,
                 mk_compute_expected(data + off, RANGE_BYTES, k));
    }
    r->ok = r->ok && r->passed == n;
}
