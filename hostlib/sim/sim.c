/* SPDX-License-Identifier: MIT */
/* libsidecar-host's simulator transport: sidecar CPUs as threads that run
 * the sidecar kernel's own dispatch loop (kernel/core/dispatch.c) over
 * pages laid out as the kernel lays them out. Linux only (futex, eventfd).
 *
 * Wake-ups. Each simulated CPU has a doorbell word: the host's request IPI
 * increments it and wakes the CPU if it sleeps; the CPU's park sleeps on
 * it until it changes. The host side has one epoch word: a sidecar CPU's
 * response IPI increments it and wakes the host threads sleeping in the
 * transport's wait hook (and writes the eventfd when one was asked for).
 * Sleepers announce themselves (parked / host_waiters) before their last
 * look, wakers increment before they check for sleepers: both sequentially
 * consistent, so a wake-up is never lost. */
#define _GNU_SOURCE
#include <sidecar/host_sim.h>
#include <sidecar/kcore.h>
#include <sidecar/validate.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SIM_HOST_APIC 0xfffffff0u        /* response_cpu of the simulated driver */
#define SIM_RESPONSE_VECTOR 0xf7u        /* as the newer Linux driver */
#define SIM_APIC_BASE 0x100u             /* APIC ID of CPU c is SIM_APIC_BASE + c */
#define SIM_NODE_PA(n) (0x100000000ull + (uint64_t)(n) * 0x40000000ull)
#define SIM_GUEST_RAM_PA 0x40000000ull
#define SIM_TRAMPOLINE_PA 0x8000ull
#define SIM_MAX_REGS 128
#define SIM_STACK (256 * 1024)

struct sim_reg {
    uint32_t name;
    struct sidecar_hv_register_value value;
};

struct sim_cpu {
    struct sidecar_host_sim *sim;
    uint32_t index;                 /* global CPU number */
    bool has_thread;
    pthread_t thread;
    jmp_buf exit;
    struct sk_cpu sk;
    struct sk_arch arch;
    struct sidecar_command_page *command;

    uint32_t doorbell;              /* futex: request IPIs received */
    uint32_t parked;                /* the thread sleeps (or is about to) on doorbell */
    uint32_t in_park;               /* the thread is inside sim_park */
    uint32_t mute;                  /* fault: take no command */
    uint32_t no_attention;          /* fault: never send the response IPI */

    struct sidecar_host_sim_step halt; /* the run of an empty script */
    pthread_mutex_t lock;           /* script */
    struct sidecar_host_sim_step *steps;
    uint32_t step_count, step_cap, head, used;
    struct sidecar_host_sim_step current;

    uint32_t reg_count;             /* the register file besides cpu_context */
    struct sim_reg regs[SIM_MAX_REGS];
};

struct sidecar_host_sim {
    struct sidecar_host_sim_config config;
    uint32_t cpu_count;
    struct sidecar_params *params;
    struct sidecar_output *output;
    uint8_t *node_mem[SIDECAR_MAX_NODES];   /* control page, then the page pairs */
    uint64_t node_size[SIDECAR_MAX_NODES];
    struct sim_cpu *cpus;

    uint32_t stopping;
    uint32_t epoch;                 /* futex: response IPIs received by the host */
    uint32_t host_waiters;
    int efd;
    uint32_t efd_armed;
    pthread_mutex_t efd_lock;
};

/* ---- helpers ---------------------------------------------------------- */

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
    __builtin_ia32_pause();
}

/* ---- the sidecar side ---------------------------------------------------- */

static void ring_doorbell(struct sim_cpu *c)
{
    __atomic_fetch_add(&c->doorbell, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&c->parked, __ATOMIC_SEQ_CST))
        futex(&c->doorbell, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

static bool stopping(const struct sidecar_host_sim *sim)
{
    return __atomic_load_n(&sim->stopping, __ATOMIC_ACQUIRE) != 0;
}

/* Sleeps until the doorbell differs from seen (or a spurious wake-up).
 * While it spins it also watches *status, when given, and returns as soon
 * as that holds something else than status_seen: like MONITOR/MWAIT on the
 * status byte, the request is seen without waiting for the IPI. */
static void wait_doorbell(struct sim_cpu *c, uint32_t seen, const volatile uint8_t *status, uint8_t status_seen)
{
    uint64_t spin = c->sim->config.spin_ns;
    if (spin) {
        uint64_t start = mono_ns();
        unsigned k = 0;
        while (__atomic_load_n(&c->doorbell, __ATOMIC_ACQUIRE) == seen && !stopping(c->sim)) {
            if (status && __atomic_load_n(status, __ATOMIC_ACQUIRE) != status_seen)
                return;
            cpu_relax();
            if ((++k & 63) == 0 && mono_ns() - start > spin)
                break;
        }
    }
    __atomic_store_n(&c->parked, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&c->doorbell, __ATOMIC_SEQ_CST) == seen && !stopping(c->sim))
        futex(&c->doorbell, FUTEX_WAIT_PRIVATE, seen, NULL);
    __atomic_store_n(&c->parked, 0, __ATOMIC_RELAXED);
}

static void leave_if_stopping(struct sim_cpu *c)
{
    if (stopping(c->sim))
        longjmp(c->exit, 1);
}

/* sk_arch.park: sleep until the status asks for something (and the CPU is
 * not muted). An unknown status byte does not wake the CPU: it sleeps
 * until the next request IPI, as a halted CPU would. */
static void sim_park(void *ctx, const volatile uint8_t *status)
{
    struct sim_cpu *c = ctx;
    __atomic_store_n(&c->in_park, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        leave_if_stopping(c);
        uint32_t seen = __atomic_load_n(&c->doorbell, __ATOMIC_SEQ_CST);
        uint8_t s = __atomic_load_n(status, __ATOMIC_ACQUIRE);
        bool muted = __atomic_load_n(&c->mute, __ATOMIC_SEQ_CST);
        if (!muted && (s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_STOP ||
                       s == SIDECAR_CPU_STATUS_REMOVE)) {
            __atomic_store_n(&c->in_park, 0, __ATOMIC_SEQ_CST);
            return;
        }
        wait_doorbell(c, seen, muted ? NULL : status, s);
    }
}

/* Waits (bounded) until the CPU's thread sits in sim_park. */
static bool wait_parked(struct sim_cpu *c)
{
    uint64_t start = mono_ns();
    while (!__atomic_load_n(&c->in_park, __ATOMIC_SEQ_CST)) {
        if (mono_ns() - start > 5000000000ull)
            return false;
        sched_yield();
    }
    return true;
}

static void host_notify(struct sidecar_host_sim *sim)
{
    __atomic_fetch_add(&sim->epoch, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sim->host_waiters, __ATOMIC_SEQ_CST))
        futex(&sim->epoch, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
    if (__atomic_load_n(&sim->efd_armed, __ATOMIC_ACQUIRE)) {
        uint64_t one = 1;
        ssize_t r = write(sim->efd, &one, sizeof(one));
        (void)r;   /* EAGAIN only when the counter is saturated: still readable */
    }
}

/* sk_arch.send_ipi from a sidecar CPU: the response IPI to the host. */
static void sim_cpu_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    struct sim_cpu *c = ctx;
    (void)vector;
    if (__atomic_load_n(&c->no_attention, __ATOMIC_ACQUIRE))
        return;
    if (apic_id == SIM_HOST_APIC)
        host_notify(c->sim);
}

static uint64_t sim_now(void *ctx)
{
    (void)ctx;
    return mono_ns();
}

/* ---- the simulated VP ------------------------------------------------------ */

static bool is_gpr(uint32_t name)
{
    return name >= SIDECAR_HV_REGISTER_NAME_RAX && name <= SIDECAR_HV_REGISTER_NAME_R15 &&
           name != SIDECAR_HV_REGISTER_NAME_RSP;
}

/* Where a register lives in cpu_context, or NULL (the register file). */
static void *context_slot(struct sim_cpu *c, uint32_t name, uint32_t *size)
{
    struct sidecar_cpu_context *ctx = &c->command->cpu_context;
    *size = 8;
    if (is_gpr(name))
        return &ctx->gps[name - SIDECAR_HV_REGISTER_NAME_RAX];
    if (name == SIDECAR_HV_REGISTER_NAME_CR2)
        return &ctx->gps[4];
    *size = 16;
    if (name >= SIDECAR_HV_REGISTER_NAME_XMM0 && name <= SIDECAR_HV_REGISTER_NAME_XMM15)
        return &ctx->fx_state.xmm[name - SIDECAR_HV_REGISTER_NAME_XMM0];
    if (name >= SIDECAR_HV_REGISTER_NAME_FP_MMX0 && name <= SIDECAR_HV_REGISTER_NAME_FP_MMX7)
        return &ctx->fx_state.st[name - SIDECAR_HV_REGISTER_NAME_FP_MMX0];
    return NULL;
}

static struct sim_reg *file_slot(struct sim_cpu *c, uint32_t name)
{
    for (uint32_t k = 0; k < c->reg_count; k++)
        if (c->regs[k].name == name)
            return &c->regs[k];
    if (!sidecar_hv_register_name_is_valid(name) || c->reg_count == SIM_MAX_REGS)
        return NULL;
    struct sim_reg *r = &c->regs[c->reg_count++];
    memset(r, 0, sizeof(*r));
    r->name = name;
    return r;
}

static uint16_t reg_get(struct sim_cpu *c, uint32_t name, struct sidecar_hv_register_value *v)
{
    uint32_t size;
    void *slot = context_slot(c, name, &size);
    memset(v, 0, sizeof(*v));
    if (slot) {
        memcpy(v, slot, size);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    if (!sidecar_hv_register_name_is_valid(name))
        return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
    struct sim_reg *r = file_slot(c, name);
    if (!r)
        return SIDECAR_HV_STATUS_INSUFFICIENT_MEMORY;
    *v = r->value;
    return SIDECAR_HV_STATUS_SUCCESS;
}

/* force: a script effect, which may write anything the file holds. */
static uint16_t reg_set(struct sim_cpu *c, uint32_t name, const struct sidecar_hv_register_value *v, bool force)
{
    uint32_t size;
    void *slot = context_slot(c, name, &size);
    if (slot) {
        memcpy(slot, v, size);
        return SIDECAR_HV_STATUS_SUCCESS;
    }
    if (!sidecar_hv_register_name_is_valid(name))
        return SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME;
    if (name == SIDECAR_HV_REGISTER_NAME_VP_INDEX && !force)
        return SIDECAR_HV_STATUS_INVALID_PARAMETER;   /* read-only */
    struct sim_reg *r = file_slot(c, name);
    if (!r)
        return SIDECAR_HV_STATUS_INSUFFICIENT_MEMORY;
    r->value = *v;
    if (name == SIDECAR_HV_REGISTER_NAME_RFLAGS && !force) {
        /* As the ring-3 backend: IOPL stays 0, IF and bit 1 stay set. */
        r->value.low = (r->value.low & ~0x3000ull) | 0x202ull;
        r->value.high = 0;
    }
    return SIDECAR_HV_STATUS_SUCCESS;
}

static uint64_t reg_low(struct sim_cpu *c, uint32_t name)
{
    struct sidecar_hv_register_value v;
    reg_get(c, name, &v);
    return v.low;
}

static void fill_header(struct sim_cpu *c, struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_intercept_message_header *h = (void *)msg->payload;
    struct sidecar_hv_register_value cs;
    h->vp_index = c->index;
    h->rip = reg_low(c, SIDECAR_HV_REGISTER_NAME_RIP);
    h->rflags = reg_low(c, SIDECAR_HV_REGISTER_NAME_RFLAGS);
    reg_get(c, SIDECAR_HV_REGISTER_NAME_CS, &cs);
    memcpy(&h->cs_segment, &cs, sizeof(h->cs_segment));
    h->execution_state = 3 | (1u << 2) | (1u << 4);   /* CPL 3, CR0.PE, EFER.LMA */
}

/* Takes the next step of the script into c->current; false when empty. */
static bool next_step(struct sim_cpu *c)
{
    bool got = false;
    /* Fast path for an empty script (head and step_count are written
     * under the lock with atomic stores). */
    if (__atomic_load_n(&c->head, __ATOMIC_ACQUIRE) >= __atomic_load_n(&c->step_count, __ATOMIC_ACQUIRE))
        return false;
    pthread_mutex_lock(&c->lock);
    if (c->head < c->step_count) {
        c->current = c->steps[c->head];
        uint32_t times = c->current.repeat ? c->current.repeat : 1;
        if (++c->used >= times) {
            __atomic_store_n(&c->head, c->head + 1, __ATOMIC_RELEASE);
            c->used = 0;
        }
        got = true;
    }
    pthread_mutex_unlock(&c->lock);
    return got;
}

static void apply_effects(struct sim_cpu *c, const struct sidecar_host_sim_step *s)
{
    uint32_t n = s->reg_count < SIDECAR_HOST_SIM_MAX_STEP_REGS ? s->reg_count : SIDECAR_HOST_SIM_MAX_STEP_REGS;
    for (uint32_t k = 0; k < n; k++)
        reg_set(c, s->regs[k].name, &s->regs[k].value, true);
}

static int vp_run(struct sk_cpu *cpu, void *vp, struct sidecar_hv_message *msg)
{
    struct sim_cpu *c = vp;
    /* A STOP seen before the VP runs ends the run at once (OpenHCL: the
     * loop checks for STOP before each entry). */
    if (sk_stop_requested(cpu))
        return 0;
    const struct sidecar_host_sim_step *s = next_step(c) ? &c->current : &c->halt;
    switch (s->kind) {
    case SIDECAR_HOST_SIM_INTERCEPT:
        apply_effects(c, s);
        memcpy(msg, &s->message, sizeof(*msg));
        if (s->fill_header)
            fill_header(c, msg);
        return 1;
    case SIDECAR_HOST_SIM_BLOCK:
        apply_effects(c, s);
        for (;;) {
            uint32_t seen = __atomic_load_n(&c->doorbell, __ATOMIC_SEQ_CST);
            if (sk_stop_requested(cpu))
                return 0;
            leave_if_stopping(c);
            wait_doorbell(c, seen, &cpu->control->cpu_status[cpu->node_cpu], SIDECAR_CPU_STATUS_RUN);
        }
    case SIDECAR_HOST_SIM_FAIL:
        sk_command_fail(cpu, s->error[0] ? s->error : "simulated failure");
        return -1;
    default:
        sk_command_fail(cpu, "sim: bad script step kind");
        return -1;
    }
}

static uint16_t vp_get(struct sk_cpu *cpu, void *vp, uint32_t name, struct sidecar_hv_register_value *v)
{
    (void)cpu;
    return reg_get(vp, name, v);
}

static uint16_t vp_set(struct sk_cpu *cpu, void *vp, uint32_t name, const struct sidecar_hv_register_value *v)
{
    (void)cpu;
    return reg_set(vp, name, v, false);
}

static int vp_translate(struct sk_cpu *cpu, void *vp, const struct sidecar_translate_gva_request *req,
                        struct sidecar_translate_gva_response *resp)
{
    struct sim_cpu *c = vp;
    (void)cpu;
    resp->status = SIDECAR_HV_STATUS_SUCCESS;
    /* Identity over guest RAM, as the ring-3 backend maps it. */
    if (req->gvn < c->sim->config.guest_ram_size / SIDECAR_PAGE_SIZE) {
        resp->output.translation_result.result_code = SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS;
        resp->output.translation_result.cache_type_and_flags = 6;   /* WB */
        resp->output.gpa_page = req->gvn;
    } else {
        resp->output.translation_result.result_code = SIDECAR_TRANSLATE_GVA_RESULT_CODE_PAGE_NOT_PRESENT;
    }
    return 0;
}

static const struct sk_vp_backend sim_backend = {
    .name = "sim",
    .run = vp_run,
    .get_register = vp_get,
    .set_register = vp_set,
    .translate_gva = vp_translate,
};

static void *cpu_main(void *arg)
{
    struct sim_cpu *c = arg;
    if (setjmp(c->exit) == 0)
        sk_dispatch_loop(&c->sk);
    /* REMOVED (or the simulator is going away): the thread ends. */
    return NULL;
}

static void init_registers(struct sim_cpu *c)
{
    struct sidecar_hv_register_value v;
    memset(&v, 0, sizeof(v));
    v.low = c->index;
    reg_set(c, SIDECAR_HV_REGISTER_NAME_VP_INDEX, &v, true);
    v.low = 0x202;
    reg_set(c, SIDECAR_HV_REGISTER_NAME_RFLAGS, &v, true);
    v.low = 0x1000;
    reg_set(c, SIDECAR_HV_REGISTER_NAME_RIP, &v, true);
    /* CS: flat 64-bit ring-3 code segment. */
    struct sidecar_hv_x64_segment_register cs = { 0, 0xffffffffu, 0x33, 0xa0fb };
    memcpy(&v, &cs, sizeof(cs));
    reg_set(c, SIDECAR_HV_REGISTER_NAME_CS, &v, true);
    memset(&v, 0, sizeof(v));
    v.low = 0xd01;   /* SCE, LME, LMA, NXE */
    reg_set(c, SIDECAR_HV_REGISTER_NAME_EFER, &v, true);
}

/* ---- the host side (the transport) ------------------------------------- */

static void *t_map(void *ctx, uint64_t pa, uint64_t size)
{
    struct sidecar_host_sim *sim = ctx;
    for (uint32_t n = 0; n < sim->config.node_count; n++) {
        uint64_t base = SIM_NODE_PA(n);
        if (pa >= base && size <= sim->node_size[n] && pa - base <= sim->node_size[n] - size)
            return sim->node_mem[n] + (pa - base);
    }
    return NULL;
}

static void t_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    struct sidecar_host_sim *sim = ctx;
    (void)vector;
    uint32_t cpu = apic_id - SIM_APIC_BASE;
    if (apic_id >= SIM_APIC_BASE && cpu < sim->cpu_count && sim->cpus[cpu].has_thread)
        ring_doorbell(&sim->cpus[cpu]);
}

static uint64_t t_now(void *ctx)
{
    (void)ctx;
    return mono_ns();
}

static void t_relax(void *ctx)
{
    (void)ctx;
    sched_yield();
}

static uint32_t t_epoch(void *ctx)
{
    struct sidecar_host_sim *sim = ctx;
    return __atomic_load_n(&sim->epoch, __ATOMIC_SEQ_CST);
}

/* The host thread's current spin: since when it waits for this epoch. */
static _Thread_local struct sidecar_host_sim *spin_sim;
static _Thread_local uint32_t spin_epoch;
static _Thread_local uint64_t spin_start;

static void t_wait(void *ctx, uint32_t epoch, uint64_t timeout_ns)
{
    struct sidecar_host_sim *sim = ctx;
    if (sim->config.spin_ns) {
        /* Spin in short slices and return to the core between them, so
         * that it looks at the status byte itself (one cache line less on
         * the way back than waiting for the epoch), until spin_ns have
         * passed without the epoch changing; then sleep. */
        uint64_t now = mono_ns();
        if (spin_sim != sim || spin_epoch != epoch) {
            spin_sim = sim;
            spin_epoch = epoch;
            spin_start = now;
        }
        if (now - spin_start < sim->config.spin_ns) {
            for (int k = 0; k < 16; k++) {
                if (__atomic_load_n(&sim->epoch, __ATOMIC_ACQUIRE) != epoch)
                    return;
                cpu_relax();
            }
            return;
        }
    }
    struct timespec ts = { (time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull) };
    __atomic_fetch_add(&sim->host_waiters, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sim->epoch, __ATOMIC_SEQ_CST) == epoch)
        futex(&sim->epoch, FUTEX_WAIT_PRIVATE, epoch, &ts);
    __atomic_fetch_sub(&sim->host_waiters, 1, __ATOMIC_SEQ_CST);
}

int sidecar_host_open_sim(struct sidecar_host *h, struct sidecar_host_sim *sim)
{
    if (!h || !sim)
        return SIDECAR_HOST_E_INVALID;
    for (uint32_t n = 0; n < sim->config.node_count; n++) {
        struct sidecar_control_page *cp = (void *)sim->node_mem[n];
        sidecar_control_page_response_cpu_store(cp, SIM_HOST_APIC);
        sidecar_control_page_response_vector_store(cp, SIM_RESPONSE_VECTOR);
    }
    const struct sidecar_host_transport t = {
        .ctx = sim, .map = t_map, .send_ipi = t_send_ipi, .now_ns = t_now, .relax = t_relax,
        .epoch = t_epoch, .wait = t_wait, .close = NULL,
    };
    return sidecar_host_open(h, &t, sim->params, sim->output);
}

int sidecar_host_sim_event_fd(struct sidecar_host_sim *sim)
{
    if (!sim)
        return SIDECAR_HOST_E_INVALID;
    pthread_mutex_lock(&sim->efd_lock);
    if (sim->efd < 0) {
        sim->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (sim->efd >= 0)
            __atomic_store_n(&sim->efd_armed, 1, __ATOMIC_RELEASE);
    }
    int fd = sim->efd;
    pthread_mutex_unlock(&sim->efd_lock);
    return fd >= 0 ? fd : SIDECAR_HOST_E_NOMEM;
}

/* ---- create, destroy ---------------------------------------------------- */

const struct sidecar_params *sidecar_host_sim_params(const struct sidecar_host_sim *sim)
{
    return sim ? sim->params : NULL;
}

const struct sidecar_output *sidecar_host_sim_output(const struct sidecar_host_sim *sim)
{
    return sim ? sim->output : NULL;
}

static void *page_alloc(size_t size)
{
    size = (size + SIDECAR_PAGE_SIZE - 1) & ~(size_t)(SIDECAR_PAGE_SIZE - 1);
    void *p = aligned_alloc(SIDECAR_PAGE_SIZE, size);
    if (p)
        memset(p, 0, size);
    return p;
}

static int build_pages(struct sidecar_host_sim *sim)
{
    const struct sidecar_host_sim_config *cfg = &sim->config;
    struct sidecar_params *p = sim->params;
    struct sidecar_output *o = sim->output;
    p->magic = SIDECAR_PARAMS_MAGIC;
    p->abi_major = SIDECAR_ABI_MAJOR;
    p->abi_minor = SIDECAR_ABI_MINOR;
    p->size = sizeof(*p);
    p->apic_mode = SIDECAR_APIC_MODE_X2APIC;
    p->node_count = cfg->node_count;
    p->cpu_count = sim->cpu_count;
    p->bsp_cpu = 0;
    p->trampoline_page = SIM_TRAMPOLINE_PA;
    p->guest_ram_base = SIM_GUEST_RAM_PA;
    p->guest_ram_size = cfg->guest_ram_size;
    p->ap_timeout_us = 1000000;
    p->serial_port = 0x3f8;
    o->magic = SIDECAR_OUTPUT_MAGIC;
    o->abi_major = SIDECAR_ABI_MAJOR;
    o->abi_minor = SIDECAR_ABI_MINOR;
    o->tsc_khz = 1000000;
    o->node_count = cfg->node_count;
    o->cpu_count = sim->cpu_count;
    o->apic_mode = SIDECAR_APIC_MODE_X2APIC;
    o->pages_per_cpu = SIDECAR_CPU_PAGES;
    for (uint32_t n = 0; n < cfg->node_count; n++) {
        uint32_t count = cfg->cpus_per_node, base = n * count;
        struct sidecar_params_node *pn = &p->nodes[n];
        pn->memory_base = SIM_NODE_PA(n);
        pn->memory_size = ((uint64_t)SIDECAR_NODE_FIXED_PAGES + (uint64_t)SIDECAR_CPU_PAGES * count) *
                          SIDECAR_PAGE_SIZE;
        pn->base_cpu = base;
        pn->cpu_count = count;
        /* The node's shared memory as the kernel lays it out: the control
         * page, then CPU i's command page at 1 + 2i and register page at
         * 2 + 2i (pages from the node base). */
        sim->node_size[n] = (1 + 2ull * count) * SIDECAR_PAGE_SIZE;
        sim->node_mem[n] = page_alloc(sim->node_size[n]);
        if (!sim->node_mem[n])
            return SIDECAR_HOST_E_NOMEM;
        struct sidecar_control_page *cp = (void *)sim->node_mem[n];
        cp->index = n;
        cp->base_cpu = base;
        cp->cpu_count = count;
        cp->request_vector = SIDECAR_REQUEST_VECTOR;
        cp->magic = SIDECAR_CONTROL_MAGIC;
        cp->abi_major = SIDECAR_ABI_MAJOR;
        cp->abi_minor = SIDECAR_ABI_MINOR;
        o->nodes[n].control_page = SIM_NODE_PA(n);
        o->nodes[n].shmem_pages_base = SIM_NODE_PA(n) + SIDECAR_PAGE_SIZE;
        o->nodes[n].shmem_pages_size = 2ull * count * SIDECAR_PAGE_SIZE;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t c = base + i;
            bool main = cfg->main_cpu_per_node && i == 0;
            p->cpus[c].apic_id = SIM_APIC_BASE + c;
            p->cpus[c].role = main ? SIDECAR_CPU_ROLE_MAIN : SIDECAR_CPU_ROLE_SIDECAR;
            p->cpus[c].reason = main ? SIDECAR_CPU_REASON_NUMA_FIRST : SIDECAR_CPU_REASON_SIDECAR_NODE;
            p->cpus[c].numa_node = (uint16_t)n;
            o->cpus[c].apic_id = SIM_APIC_BASE + c;
            o->cpus[c].status = main ? SIDECAR_CPU_STATUS_REMOVED : SIDECAR_CPU_STATUS_IDLE;
            o->cpus[c].failure = SIDECAR_CPU_FAILURE_NONE;
            o->cpus[c].started_by = main ? SIDECAR_NO_CPU : 0;
            o->cpus[c].node = main ? SIDECAR_NO_CPU : n;
            o->cpus[c].round = main ? 0 : 1;
            if (!main) {
                o->ready_count++;
                /* What a sidecar CPU stores when it is ready. */
                sidecar_control_page_cpu_status_store(cp, i, SIDECAR_CPU_STATUS_IDLE);
            }
        }
    }
    struct sidecar_abi_error e;
    if (sidecar_params_validate(p, &e) != SIDECAR_ABI_OK || sidecar_output_validate(o, &e) != SIDECAR_ABI_OK)
        return SIDECAR_HOST_E_INVALID;
    return SIDECAR_HOST_OK;
}

static int start_cpus(struct sidecar_host_sim *sim)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr))
        return SIDECAR_HOST_E_NOMEM;
    pthread_attr_setstacksize(&attr, SIM_STACK);
    int rc = SIDECAR_HOST_OK;
    for (uint32_t cpu = 0; cpu < sim->cpu_count && !rc; cpu++) {
        struct sim_cpu *c = &sim->cpus[cpu];
        if (sim->params->cpus[cpu].role != SIDECAR_CPU_ROLE_SIDECAR)
            continue;
        uint32_t n = cpu / sim->config.cpus_per_node, i = cpu % sim->config.cpus_per_node;
        struct sidecar_control_page *cp = (void *)sim->node_mem[n];
        c->command = (void *)(sim->node_mem[n] + (1 + 2ull * i) * SIDECAR_PAGE_SIZE);
        void *reg_page = sim->node_mem[n] + (2 + 2ull * i) * SIDECAR_PAGE_SIZE;
        c->arch = (struct sk_arch){ c, sim_park, sim_cpu_send_ipi, sim_now, NULL, NULL };
        init_registers(c);
        sidecar_host_sim_step_halt(&c->halt);
        sk_cpu_init(&c->sk, cp, c->command, reg_page, i, cpu, &c->arch, &sim_backend, c);
        if (pthread_create(&c->thread, &attr, cpu_main, c))
            rc = SIDECAR_HOST_E_NOMEM;
        else
            c->has_thread = true;
    }
    pthread_attr_destroy(&attr);
    /* As the kernel's BSP waits for every AP to be ready: each thread
     * reaches its park loop before create returns. */
    for (uint32_t cpu = 0; cpu < sim->cpu_count && !rc; cpu++)
        if (sim->cpus[cpu].has_thread && !wait_parked(&sim->cpus[cpu]))
            rc = SIDECAR_HOST_E_TIMEOUT;
    return rc;
}

int sidecar_host_sim_create(const struct sidecar_host_sim_config *config, struct sidecar_host_sim **out)
{
    if (!config || !out)
        return SIDECAR_HOST_E_INVALID;
    *out = NULL;
    if (config->node_count < 1 || config->node_count > SIDECAR_MAX_NODES || config->cpus_per_node < 1 ||
        config->cpus_per_node > SIDECAR_MAX_NODE_CPUS ||
        (uint64_t)config->node_count * config->cpus_per_node > SIDECAR_MAX_CPUS ||
        config->guest_ram_size > SIDECAR_MAX_GUEST_RAM ||
        config->guest_ram_size % SIDECAR_LARGE_PAGE_SIZE)
        return SIDECAR_HOST_E_INVALID;
    struct sidecar_host_sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return SIDECAR_HOST_E_NOMEM;
    sim->config = *config;
    if (!sim->config.guest_ram_size)
        sim->config.guest_ram_size = SIDECAR_MAX_GUEST_RAM;
    sim->cpu_count = config->node_count * config->cpus_per_node;
    sim->efd = -1;
    pthread_mutex_init(&sim->efd_lock, NULL);
    sim->params = page_alloc(sizeof(*sim->params));
    sim->output = page_alloc(sizeof(*sim->output));
    sim->cpus = calloc(sim->cpu_count, sizeof(*sim->cpus));
    int rc = sim->params && sim->output && sim->cpus ? SIDECAR_HOST_OK : SIDECAR_HOST_E_NOMEM;
    if (sim->cpus) {
        for (uint32_t c = 0; c < sim->cpu_count; c++) {
            sim->cpus[c].sim = sim;
            sim->cpus[c].index = c;
            pthread_mutex_init(&sim->cpus[c].lock, NULL);
        }
    }
    if (!rc)
        rc = build_pages(sim);
    if (!rc)
        rc = start_cpus(sim);
    if (rc) {
        sidecar_host_sim_destroy(sim);
        return rc;
    }
    *out = sim;
    return SIDECAR_HOST_OK;
}

void sidecar_host_sim_destroy(struct sidecar_host_sim *sim)
{
    if (!sim)
        return;
    __atomic_store_n(&sim->stopping, 1, __ATOMIC_SEQ_CST);
    if (sim->cpus) {
        for (uint32_t c = 0; c < sim->cpu_count; c++)
            if (sim->cpus[c].has_thread)
                ring_doorbell(&sim->cpus[c]);
        for (uint32_t c = 0; c < sim->cpu_count; c++) {
            struct sim_cpu *sc = &sim->cpus[c];
            if (sc->has_thread)
                pthread_join(sc->thread, NULL);
            free(sc->steps);
            pthread_mutex_destroy(&sc->lock);
        }
        free(sim->cpus);
    }
    for (uint32_t n = 0; n < SIDECAR_MAX_NODES; n++)
        free(sim->node_mem[n]);
    if (sim->efd >= 0)
        close(sim->efd);
    pthread_mutex_destroy(&sim->efd_lock);
    free(sim->params);
    free(sim->output);
    free(sim);
}

/* ---- scripts, peeks, faults ------------------------------------------------ */

static struct sim_cpu *sim_cpu(struct sidecar_host_sim *sim, uint32_t cpu)
{
    if (!sim || cpu >= sim->cpu_count || !sim->cpus[cpu].has_thread)
        return NULL;
    return &sim->cpus[cpu];
}

int sidecar_host_sim_script(struct sidecar_host_sim *sim, uint32_t cpu,
                            const struct sidecar_host_sim_step *steps, uint32_t count)
{
    struct sim_cpu *c = sim_cpu(sim, cpu);
    if (!c || (!steps && count))
        return SIDECAR_HOST_E_INVALID;
    for (uint32_t k = 0; k < count; k++)
        if (steps[k].kind < SIDECAR_HOST_SIM_INTERCEPT || steps[k].kind > SIDECAR_HOST_SIM_FAIL ||
            steps[k].reg_count > SIDECAR_HOST_SIM_MAX_STEP_REGS)
            return SIDECAR_HOST_E_INVALID;
    int rc = SIDECAR_HOST_OK;
    pthread_mutex_lock(&c->lock);
    if (c->step_count + (uint64_t)count > c->step_cap) {
        uint64_t cap = c->step_cap ? c->step_cap : 16;
        while (cap < c->step_count + (uint64_t)count)
            cap *= 2;
        void *p = cap > UINT32_MAX ? NULL : realloc(c->steps, cap * sizeof(*c->steps));
        if (p) {
            c->steps = p;
            c->step_cap = (uint32_t)cap;
        } else {
            rc = SIDECAR_HOST_E_NOMEM;
        }
    }
    if (!rc) {
        if (count)
            memcpy(c->steps + c->step_count, steps, count * sizeof(*steps));
        __atomic_store_n(&c->step_count, c->step_count + count, __ATOMIC_RELEASE);
        for (uint32_t k = 0; k < count; k++)
            c->steps[c->step_count - count + k].error[SIDECAR_ERROR_TEXT_SIZE] = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void sidecar_host_sim_script_clear(struct sidecar_host_sim *sim, uint32_t cpu)
{
    struct sim_cpu *c = sim_cpu(sim, cpu);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    __atomic_store_n(&c->step_count, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&c->head, 0, __ATOMIC_RELEASE);
    c->used = 0;
    pthread_mutex_unlock(&c->lock);
}

uint64_t sidecar_host_sim_script_left(struct sidecar_host_sim *sim, uint32_t cpu)
{
    struct sim_cpu *c = sim_cpu(sim, cpu);
    uint64_t left = 0;
    if (!c)
        return 0;
    pthread_mutex_lock(&c->lock);
    for (uint32_t k = c->head; k < c->step_count; k++)
        left += c->steps[k].repeat ? c->steps[k].repeat : 1;
    left -= c->head < c->step_count ? c->used : 0;
    pthread_mutex_unlock(&c->lock);
    return left;
}

static struct sidecar_hv_x64_intercept_message_header *begin(struct sidecar_host_sim_step *s, uint32_t type,
                                                             uint32_t payload, uint8_t len, uint8_t access)
{
    memset(s, 0, sizeof(*s));
    s->kind = SIDECAR_HOST_SIM_INTERCEPT;
    s->fill_header = true;
    s->message.header.message_type = type;
    s->message.header.payload_size = (uint8_t)payload;
    struct sidecar_hv_x64_intercept_message_header *h = (void *)s->message.payload;
    h->instruction_length_and_cr8 = len & 0xf;
    h->intercept_access_type = access;
    return h;
}

void sidecar_host_sim_step_io_port(struct sidecar_host_sim_step *step, uint16_t port, uint8_t access_size,
                                   bool write, uint64_t rax, uint8_t instruction_length)
{
    if (!step)
        return;
    begin(step, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, sizeof(struct sidecar_hv_x64_io_port_intercept_message),
          instruction_length, write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ);
    struct sidecar_hv_x64_io_port_intercept_message *m = (void *)step->message.payload;
    m->port_number = port;
    m->access_info = access_size & 7;
    m->rax = rax;
}

void sidecar_host_sim_step_msr(struct sidecar_host_sim_step *step, uint32_t msr, bool write, uint64_t value,
                               uint8_t instruction_length)
{
    if (!step)
        return;
    begin(step, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, sizeof(struct sidecar_hv_x64_msr_intercept_message),
          instruction_length, write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ);
    struct sidecar_hv_x64_msr_intercept_message *m = (void *)step->message.payload;
    m->msr_number = msr;
    m->rdx = value >> 32;
    m->rax = value & 0xffffffffu;
}

void sidecar_host_sim_step_cpuid(struct sidecar_host_sim_step *step, uint32_t leaf, uint32_t subleaf,
                                 uint8_t instruction_length)
{
    if (!step)
        return;
    begin(step, SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT, sizeof(struct sidecar_hv_x64_cpuid_intercept_message),
          instruction_length, SIDECAR_INTERCEPT_ACCESS_EXECUTE);
    struct sidecar_hv_x64_cpuid_intercept_message *m = (void *)step->message.payload;
    m->rax = leaf;
    m->rcx = subleaf;
}

void sidecar_host_sim_step_memory(struct sidecar_host_sim_step *step, uint32_t message_type, uint64_t gpa,
                                  bool write, uint8_t instruction_length)
{
    if (!step)
        return;
    begin(step, message_type, sizeof(struct sidecar_hv_x64_memory_intercept_message), instruction_length,
          write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ);
    struct sidecar_hv_x64_memory_intercept_message *m = (void *)step->message.payload;
    m->cache_type = 6;
    m->memory_access_info = 3;   /* GVA valid, GVA/GPA valid */
    m->guest_virtual_address = gpa;
    m->guest_physical_address = gpa;
}

void sidecar_host_sim_step_exception(struct sidecar_host_sim_step *step, uint16_t vector, uint32_t error_code,
                                     uint64_t parameter)
{
    if (!step)
        return;
    begin(step, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT,
          sizeof(struct sidecar_hv_x64_exception_intercept_message), 0, SIDECAR_INTERCEPT_ACCESS_EXECUTE);
    struct sidecar_hv_x64_exception_intercept_message *m = (void *)step->message.payload;
    m->exception_vector = vector;
    m->exception_info = 1;   /* error code valid */
    m->error_code = error_code;
    m->exception_parameter = parameter;
}

void sidecar_host_sim_step_halt(struct sidecar_host_sim_step *step)
{
    if (!step)
        return;
    begin(step, SIDECAR_HV_MESSAGE_TYPE_X64_HALT, sizeof(struct sidecar_hv_x64_intercept_message_header), 1,
          SIDECAR_INTERCEPT_ACCESS_EXECUTE);
}

int sidecar_host_sim_step_set(struct sidecar_host_sim_step *step, uint32_t name, uint64_t low, uint64_t high)
{
    if (!step || step->reg_count >= SIDECAR_HOST_SIM_MAX_STEP_REGS)
        return SIDECAR_HOST_E_INVALID;
    struct sidecar_hv_register_assoc *r = &step->regs[step->reg_count++];
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->value.low = low;
    r->value.high = high;
    return SIDECAR_HOST_OK;
}

uint16_t sidecar_host_sim_peek_register(struct sidecar_host_sim *sim, uint32_t cpu, uint32_t name,
                                        struct sidecar_hv_register_value *value)
{
    struct sim_cpu *c = sim_cpu(sim, cpu);
    if (!c || !value)
        return SIDECAR_HV_STATUS_INVALID_VP_INDEX;
    return reg_get(c, name, value);
}

uint64_t sidecar_host_sim_commands(struct sidecar_host_sim *sim, uint32_t cpu)
{
    struct sim_cpu *c = sim_cpu(sim, cpu);
    return c ? __atomic_load_n(&c->sk.counters.commands, __ATOMIC_RELAXED) : 0;
}

int sidecar_host_sim_fault(struct sidecar_host_sim *sim, uint32_t cpu, uint32_t fault, uint32_t value)
{
    struct sim_cpu *c = sim_cpu(sim, cpu);
    if (!c)
        return SIDECAR_HOST_E_INVALID;
    switch (fault) {
    case SIDECAR_HOST_SIM_FAULT_MUTE:
        /* Effective at once: the CPU is idle in its park loop (or gets
         * there after the command it runs), and leaves it no more. */
        __atomic_store_n(&c->mute, 1, __ATOMIC_SEQ_CST);
        return wait_parked(c) ? SIDECAR_HOST_OK : SIDECAR_HOST_E_TIMEOUT;
    case SIDECAR_HOST_SIM_FAULT_UNMUTE:
        __atomic_store_n(&c->mute, 0, __ATOMIC_SEQ_CST);
        ring_doorbell(c);
        return SIDECAR_HOST_OK;
    case SIDECAR_HOST_SIM_FAULT_STATUS:
        if (value > 0xff)
            return SIDECAR_HOST_E_INVALID;
        sidecar_control_page_cpu_status_store(c->sk.control, c->sk.node_cpu, (uint8_t)value);
        return SIDECAR_HOST_OK;
    case SIDECAR_HOST_SIM_FAULT_NO_ATTENTION:
        __atomic_store_n(&c->no_attention, value != 0, __ATOMIC_SEQ_CST);
        return SIDECAR_HOST_OK;
    case SIDECAR_HOST_SIM_FAULT_PAYLOAD_SIZE:
        if (value > 0xff)
            return SIDECAR_HOST_E_INVALID;
        __atomic_store_n(&c->command->intercept_message.header.payload_size, (uint8_t)value, __ATOMIC_RELEASE);
        return SIDECAR_HOST_OK;
    default:
        return SIDECAR_HOST_E_INVALID;
    }
}
