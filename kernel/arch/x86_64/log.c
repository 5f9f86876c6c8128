/* SPDX-License-Identifier: MIT */
/* Serial logging. Each line is formatted on the caller's stack, then
 * written whole under the log lock (loglock.h), so lines of different CPUs
 * never interleave. A CPU that stops while it holds the lock (INIT, or a
 * crash in the middle of a line) does not stop everybody else's logging:
 * a waiter takes the lock over after a second without progress and says
 * so; a CPU that logs from inside its own line (an NMI, an exception)
 * writes at once. Off unless params.enable_logging. */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <scfree/x86.h>

#include "kernel.h"
#include "loglock.h"

static uint64_t clock_now(void *ctx)
{
    (void)ctx;
    return rdtsc();
}

static void clock_relax(void *ctx)
{
    (void)ctx;
    cpu_pause();
}

/* Which CPU runs this, and its count of log lines (loglock.h): the BSP is
 * on the shim's page tables and has no per-CPU page. */
static uint32_t bsp_log_seq;
static uint32_t self_id(uint32_t *seq)
{
    if (read_cr3() == sk_g.shim_cr3) {
        *seq = ++bsp_log_seq;
        return sk_g.bsp_cpu;
    }
    struct sk_percpu *pc = this_cpu();
    *seq = ++pc->log_seq;
    return pc->cpu_index;
}

static void emit(const char *prefix_fmt, uint32_t cpu, const char *fmt, va_list ap)
{
    char line[160];
    size_t n = sc_snprintf(line, sizeof(line), prefix_fmt, cpu);
    n += sc_vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (n + 1 < sizeof(line)) {
        line[n++] = '\n';
        line[n] = '\0';
    } else {
        line[sizeof(line) - 2] = '\n';
        n = sizeof(line) - 1;
    }
    static const struct sk_loglock_clock clk = { clock_now, clock_relax, 0 };
    uint64_t timeout = sk_g.tsc_khz ? sk_g.tsc_khz * 1000 : 1ull << 31;   /* 1 s; before calibration ~1 s at 2 GHz */
    uint64_t held, before;
    uint32_t seq, id = self_id(&seq);
    enum sk_loglock_how how = sk_loglock_acquire(&sk_g.log_lock, id, seq, timeout, &clk, &held, &before);
    if (how == SK_LOGLOCK_TAKEN_OVER) {
        char note[80];
        size_t m = sc_snprintf(note, sizeof(note), "\nsidecar[cpu %u]: log lock taken over from cpu %u\n", id,
                               sk_loglock_holder(before) - 1);
        serial_write(sk_g.serial_port, note, m);
    }
    serial_write(sk_g.serial_port, line, n);
    sk_loglock_release(&sk_g.log_lock, held);
}

void klog(const char *fmt, ...)
{
    if (!sk_g.logging)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("sidecar: ", 0, fmt, ap);
    va_end(ap);
}

void klog_cpu(uint32_t cpu, const char *fmt, ...)
{
    if (!sk_g.logging)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit("sidecar[cpu %u]: ", cpu, fmt, ap);
    va_end(ap);
}
