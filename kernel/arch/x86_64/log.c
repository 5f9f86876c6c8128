/* Serial logging. Each line is formatted on the caller's stack, then
 * written whole under a spinlock, so lines of different CPUs never
 * interleave. Off unless params.enable_logging. */
#include <stdarg.h>

#include <scfree/scfree.h>
#include <scfree/x86.h>

#include "kernel.h"

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
    while (__atomic_exchange_n(&sk_g.log_lock, 1, __ATOMIC_ACQUIRE))
        cpu_pause();
    serial_write(sk_g.serial_port, line, n);
    __atomic_store_n(&sk_g.log_lock, 0, __ATOMIC_RELEASE);
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
