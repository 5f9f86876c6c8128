/* libFuzzer: the kernel's dispatch core with the ring-3 VP backend's
 * portable half, compiled natively. Everything the host controls is fuzzer
 * input: the status byte, the whole command page (command code, register
 * requests, cpu_context, translate requests), and what the "hardware" does
 * (the exits the fake enter() reports, the guest bytes at RIP), and what
 * the host writes while the VP runs (STOP or any status byte, bytes of the
 * command page). RIP starts inside guest RAM. No input may crash it or
 * make it read or write outside its pages. */
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

static uint8_t next(void) { return script_pos < script_len ? script[script_pos++] : 0; }

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
        ((struct sidecar_control_page *)control)->cpu_status[1] = SIDECAR_CPU_STATUS_STOP;
    if (how & 4)
        ((struct sidecar_control_page *)control)->cpu_status[1] = next();
    if (how & 8) {
        uint32_t off = ((uint32_t)next() | (uint32_t)next() << 8) % PAGE;
        command[off] = next();
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
static void ipi(void *ctx, uint32_t id, uint32_t vector) { (void)ctx; (void)id; (void)vector; }
static uint64_t now(void *ctx) { (void)ctx; return 0; }
static void quiesce(void *ctx) { (void)ctx; }
static const struct sk_arch arch = { NULL, park, ipi, now, NULL, quiesce };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    memset(control, 0, PAGE);
    memset(regpage, 0, PAGE);
    size_t n = size - 1 < PAGE ? size - 1 : PAGE;
    memset(command, 0, PAGE);
    memcpy(command, data + 1, n);
    script = data + 1 + n;
    script_len = size - 1 - n;
    script_pos = 0;
    enters = 0;
    struct sidecar_control_page *cp = (void *)control;
    cp->cpu_count = 4;
    cp->response_vector = data[0] & 0x80 ? 0xf7 : 0;
    const struct sk_vp_config cfg = {
        .ram = { 0x100000, 0x400000, SK_VP_RAM_ALL },
        .cs = 0x2b, .ss = 0x23, .ds = 0x23, .es = 0x23,
        .ops = &ops,
    };
    sk_vp_init(&vp, 1, &cfg);
    vp.rip = cfg.ram.base;   /* in guest RAM, so exits fetch instruction bytes (the script's) */
    struct sk_cpu cpu;
    sk_cpu_init(&cpu, cp, (struct sidecar_command_page *)command, regpage, 1, 1, &arch,
                &sk_vp_ring3_backend, &vp);
    /* The status byte: RUN, STOP, REMOVE, or anything. */
    cp->cpu_status[1] = data[0] & 0x7f;
    for (int i = 0; i < 3; i++)
        sk_dispatch_poll(&cpu);
    return 0;
}
