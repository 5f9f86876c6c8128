/* SPDX-License-Identifier: MIT */
/* libFuzzer: the kernel's dispatch core with the ring-3 VP backend's
 * portable half, compiled natively. Everything the host controls is fuzzer
 * input: the status byte, the whole command page (command code, register
 * requests, cpu_context, translate requests), and what the "hardware" does
 * (the exits the fake enter() reports, the guest bytes at RIP), and what
 * the host writes while the VP runs (STOP or any status byte, bytes of the
 * command page, or a new response CPU and vector). RIP starts inside guest
 * RAM. No input may crash it or make it read or write outside its pages.
 *
 * The response IPI: the sidecar CPU (its index in the node, 0-3) and the
 * response CPU and vector the host wrote (from the input when the first
 * byte's bit 7 is set: any 32-bit values, biased to the interesting ones;
 * else none) vary, and the host may move them while the VP runs. Every
 * completion IPI must go to the pair the control page holds at that moment,
 * with a vector in [32, 255] and never to the x2APIC broadcast ID; a pair
 * that is refused is counted (counters.bad_response) and logged once,
 * naming the field, and nothing is counted while every pair was good. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/kcore.h>
#include <sidecar/vp.h>

#define PAGE 4096
#define MAX_ENTERS 8

static _Alignas(4096) uint8_t control[PAGE], command[PAGE], regpage[PAGE];
static _Alignas(64) struct sk_vp vp;
static const uint8_t *script;
static size_t script_len, script_pos;
static unsigned enters;
static unsigned node_cpu;
static int ever_bad;          /* a refused pair was in the control page at some point */
static unsigned ipis, response_logs;

static uint8_t *control_status(void) { return &((struct sidecar_control_page *)control)->cpu_status[node_cpu]; }

/* Any 32-bit value, but mostly the edges: 0, 31, 32, 255, 256, 0xff,
 * 0xffffffff. */
static uint32_t pick(uint8_t sel, uint32_t raw)
{
    static const uint32_t edges[] = { 0, 1, 2, 31, 32, 0xf7, 0xff, 0x100, 0xfffffffeu, 0xffffffffu };
    return sel & 0x80 ? raw : edges[sel % (sizeof(edges) / sizeof(edges[0]))];
}

static void set_response(uint8_t sel_cpu, uint32_t raw_cpu, uint8_t sel_vec, uint32_t raw_vec)
{
    struct sidecar_control_page *cp = (void *)control;
    cp->response_cpu = pick(sel_cpu, raw_cpu);
    cp->response_vector = pick(sel_vec, raw_vec);
    uint32_t v = cp->response_vector;
    if (v && (v < 32 || v > 255 || cp->response_cpu == 0xffffffffu))
        ever_bad = 1;
}

static uint8_t next(void) { return script_pos < script_len ? script[script_pos++] : 0; }
static uint32_t next32(void) { uint32_t v = 0; for (int i = 0; i < 4; i++) v |= (uint32_t)next() << (8 * i); return v; }

static int f_enter(void *ctx, struct sk_vp *v)
{
    (void)ctx;
    if (++enters > MAX_ENTERS) {
        v->exit = (struct sk_vp_exit){ .vector = 6 };   /* end the run with a #UD */
        return 0;
    }
    if (next() == 0xff)
        return -1;                                       /* the VP cannot run */
    v->exit.vector = next();
    v->exit.has_error_code = next() & 1;
    v->exit.error_code = (uint32_t)next() | (uint32_t)next() << 8;
    uint64_t a = 0;
    for (int i = 0; i < 8; i++)
        a = a << 8 | next();
    v->exit.fault_address = a;
    uint8_t how = next();
    if (how & 1)
        v->rip = a;                                      /* anywhere, even outside RAM */
    /* The host, while the VP runs: asks to stop, writes any status byte,
     * or rewrites a byte of the command page (request, context, message). */
    if (how & 2)
        *control_status() = SIDECAR_CPU_STATUS_STOP;
    if (how & 4)
        *control_status() = next();
    if (how & 8) {
        uint32_t off = ((uint32_t)next() | (uint32_t)next() << 8) % PAGE;
        command[off] = next();
    }
    if (how & 16) {   /* the host moves its interrupt */
        uint8_t a = next(), b = next();
        uint32_t c = next32(), d = next32();
        set_response(a, c, b, d);
    }
    return 0;
}

static uint32_t f_read(void *ctx, uint64_t gpa, void *dst, uint32_t n)
{
    (void)ctx;
    (void)gpa;
    uint8_t *d = dst;
    for (uint32_t i = 0; i < n; i++)
        d[i] = next();
    return n;
}

static void f_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    (void)ctx;
    out[0] = leaf;
    out[1] = sub;
    out[2] = 0x1234;
    out[3] = 0x5678;
}

static const struct sk_vp_ops ops = { f_enter, f_read, f_cpuid };

static void park(void *ctx, const volatile uint8_t *s) { (void)ctx; (void)s; }
static void ipi(void *ctx, uint32_t id, uint32_t vector)
{
    (void)ctx;
    const struct sidecar_control_page *cp = (const void *)control;
    if (vector < 32 || vector > 255 || id == 0xffffffffu || id != cp->response_cpu || vector != cp->response_vector)
        abort();
    ipis++;
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    if (!strncmp(line, "response_", 9)) {
        /* The refusal names its field. */
        if (strncmp(line, "response_vector: ", 17) && strncmp(line, "response_cpu: ", 14))
            abort();
        response_logs++;
    }
}
static uint64_t now(void *ctx) { (void)ctx; return 0; }
static void quiesce(void *ctx) { (void)ctx; }
static const struct sk_arch arch = { NULL, park, ipi, now, log_line, quiesce };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* data[0]: the status byte (bits 0-6), bit 7: 10 bytes of response
     * pair and sidecar CPU follow. */
    size_t head = data[0] & 0x80 ? 11 : 1;
    if (size < head)
        return 0;
    memset(control, 0, PAGE);
    memset(regpage, 0, PAGE);
    size_t n = size - head < PAGE ? size - head : PAGE;
    memset(command, 0, PAGE);
    memcpy(command, data + head, n);
    script = data + head + n;
    script_len = size - head - n;
    script_pos = 0;
    enters = 0;
    ever_bad = 0;
    ipis = response_logs = 0;
    struct sidecar_control_page *cp = (void *)control;
    cp->cpu_count = 4;
    node_cpu = 1;
    if (data[0] & 0x80) {
        uint32_t c, v;
        memcpy(&c, data + 3, 4);
        memcpy(&v, data + 7, 4);
        set_response(data[1], c, data[2], v);
        node_cpu = data[10] & 3;
    }
    const struct sk_vp_config cfg = {
        .ram = { 0x100000, 0x400000, SK_VP_RAM_ALL },
        .cs = 0x2b, .ss = 0x23, .ds = 0x23, .es = 0x23,
        .ops = &ops,
    };
    sk_vp_init(&vp, node_cpu, &cfg);
    vp.rip = cfg.ram.base;   /* in guest RAM, so exits fetch instruction bytes (the script's) */
    struct sk_cpu cpu;
    sk_cpu_init(&cpu, cp, (struct sidecar_command_page *)command, regpage, node_cpu, 5 + node_cpu, &arch,
                &sk_vp_ring3_backend, &vp);
    /* The status byte: RUN, STOP, REMOVE, or anything. */
    *control_status() = data[0] & 0x7f;
    for (int i = 0; i < 3; i++)
        sk_dispatch_poll(&cpu);
    /* Only a refused pair is counted, and the first refusal is logged
     * (once). */
    if (cpu.counters.bad_response && !ever_bad)
        abort();
    if (response_logs != (cpu.counters.bad_response ? 1u : 0u))
        abort();
    /* The other CPUs' status bytes are never touched. */
    for (unsigned k = 0; k < 4; k++)
        if (k != node_cpu && cp->cpu_status[k])
            abort();
    return 0;
}
