/* SPDX-License-Identifier: MIT */
/* Converting sidecar CPUs into main-kernel CPUs (convert.h). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "convert.h"

struct mk_ap mk_aps[MK_MAX_APS];

#define REMOVE_TIMEOUT_NS 2000000000ull
#define ONLINE_TIMEOUT_US 3000000ull
#define WORK_TIMEOUT_US 3000000ull
#define RESEND_SIPI_US 10000ull
#define MEMORY_TYPE_USABLE 1u

static uint64_t load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static uint32_t load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

uint64_t mk_work(uint64_t arg, uint32_t apic_id)
{
    /* 4096 rounds of xorshift64*, seeded by the argument and the APIC ID:
     * cheap, but no CPU gets it right without running it. */
    uint64_t x = arg ^ ((uint64_t)apic_id << 32) ^ 0x9e3779b97f4a7c15ull;
    if (!x)
        x = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < 4096; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        acc += x * 0x2545f4914f6cdd1dull;
    }
    return acc;
}

/* ---- on the converted CPU ---- */

static __attribute__((noreturn)) void ap_main(uint32_t slot, uint32_t apic_id)
{
    struct mk_ap *ap = &mk_aps[slot];
    ap->apic_id = apic_id;
    __atomic_store_n(&ap->online, 1, __ATOMIC_RELEASE);
    uint32_t done = 0;
    for (;;) {
        uint32_t seq = load32(&ap->work_seq);
        if (seq != done) {
            if (!load32(&ap->echo))
                ap->result = mk_work(load64(&ap->work_arg), apic_id);
            done = seq;
            __atomic_store_n(&ap->done_seq, seq, __ATOMIC_RELEASE);
            continue;
        }
        mk_ap_wait(&ap->work_seq, done);
    }
}

static void ap_fault(uint32_t slot, uint32_t vector, uint64_t error, uint64_t rip)
{
    if (slot >= MK_MAX_APS)
        return;
    struct mk_ap *ap = &mk_aps[slot];
    ap->fault_vector = vector;
    ap->fault_error = error;
    ap->fault_rip = rip;
    __atomic_store_n(&ap->faulted, 1, __ATOMIC_RELEASE);
}

/* ---- on the BSP ---- */

static const struct mk_ap_hooks ap_hooks = { ap_main, ap_fault };

bool mk_convert_install(const struct mk_convert_env *env)
{
    return env->trampoline_pa && mk_ap_install(env->trampoline_pa, &ap_hooks);
}

static uint64_t now_us(const struct mk_convert_env *env)
{
    uint64_t t = mk_rdtsc();
    return t / env->tsc_khz * 1000 + t % env->tsc_khz * 1000 / env->tsc_khz;
}

static struct mk_ap *find_ap(uint32_t apic_id)
{
    for (uint32_t s = 0; s < MK_MAX_APS; s++)
        if (load32(&mk_aps[s].online) && mk_aps[s].apic_id == apic_id)
            return &mk_aps[s];
    return 0;
}

/* Posts work to an online CPU, wakes it, waits for the result. */
static bool give_work(const struct mk_convert_env *env, struct mk_ap *ap, uint64_t arg)
{
    uint32_t seq = load32(&ap->work_seq) + 1;
    __atomic_store_n(&ap->work_arg, arg, __ATOMIC_RELAXED);
    __atomic_store_n(&ap->work_seq, seq, __ATOMIC_RELEASE);
    mk_send_ipi(ap->apic_id, MK_WAKE_VECTOR);
    uint64_t start = now_us(env);
    while (load32(&ap->done_seq) != seq) {
        if (now_us(env) - start > WORK_TIMEOUT_US || load32(&ap->faulted))
            return false;
        mk_pause();
    }
    return ap->result == mk_work(arg, ap->apic_id);
}

uint64_t mk_converted_echo(const struct mk_convert_env *env, uint32_t apic_id)
{
    struct mk_ap *ap = find_ap(apic_id);
    if (!ap)
        return 0;
    __atomic_store_n(&ap->echo, 1, __ATOMIC_RELAXED);
    uint32_t seq = load32(&ap->work_seq) + 1;
    uint64_t t0 = mk_rdtsc();
    __atomic_store_n(&ap->work_seq, seq, __ATOMIC_RELEASE);
    /* Woken the way a sidecar CPU is: by the IPI when it waits in HLT, by
     * the store alone when it waits in MWAIT on the word (as sidecar CPUs
     * that advertise control_flag_wake_on_status_write are). */
    if (!mk_ap_mwait())
        mk_send_ipi(ap->apic_id, MK_WAKE_VECTOR);
    uint64_t start = now_us(env);
    while (load32(&ap->done_seq) != seq) {
        if (now_us(env) - start > WORK_TIMEOUT_US || load32(&ap->faulted)) {
            __atomic_store_n(&ap->echo, 0, __ATOMIC_RELAXED);
            return 0;
        }
        mk_pause();
    }
    uint64_t t = mk_rdtsc() - t0;
    __atomic_store_n(&ap->echo, 0, __ATOMIC_RELAXED);
    return t ? t : 1;
}

/* What the sidecar left in the command page at REMOVE (removed_state): the
 * VP's registers outside cpu_context, as a GET_VP_REGISTERS answer
 * (docs/svm.md). The page is the host's to read but was written by the
 * sidecar: the count is checked before use. */
static void read_saved_state(const struct mk_convert_env *env, struct mk_conversion *c)
{
    const struct sidecar_command_page *cp = sidecar_host_command_page(env->host, c->cpu);
    if (!cp)
        return;
    const struct sidecar_get_set_vp_registers_request *req = &cp->removed_state;
    uint32_t n = req->count;
    if (n > SIDECAR_MAX_GET_SET_VP_REGISTERS || req->status != SIDECAR_HV_STATUS_SUCCESS)
        return;
    c->saved_count = n;
    for (uint32_t i = 0; i < n; i++)
        if (req->regs[i].name == SIDECAR_HV_REGISTER_NAME_RIP)
            c->saved_rip = req->regs[i].value.low;
}

uint32_t mk_convert_batch(const struct mk_convert_env *env, const uint32_t *cpus, uint32_t n,
                          struct mk_conversion *out)
{
    const struct sidecar_params *p = env->params;
    /* 1. REMOVE through the host library. */
    for (uint32_t k = 0; k < n; k++) {
        struct mk_conversion *c = &out[k];
        *c = (struct mk_conversion){ cpus[k], SIDECAR_NO_CPU, SIDECAR_NO_CPU, 0, false, false, "", 0, 0 };
        if (cpus[k] >= p->cpu_count) {
            c->remove_rc = SIDECAR_HOST_E_INVALID;
            c->error = "no such CPU";
            continue;
        }
        c->apic_id = p->cpus[cpus[k]].apic_id;
        int rc = sidecar_host_acquire(env->host, cpus[k]);
        if (!rc) {
            rc = sidecar_host_remove(env->host, cpus[k], REMOVE_TIMEOUT_NS);
            sidecar_host_release(env->host, cpus[k]);
        }
        c->remove_rc = rc;
        if (rc)
            c->error = sidecar_host_strerror(rc);
        else
            read_saved_state(env, c);
    }
    /* 2. INIT to every removed CPU, then SIPI: they restart together. */
    for (uint32_t k = 0; k < n; k++)
        if (!out[k].remove_rc)
            mk_send_init(out[k].apic_id);
    uint32_t delay = p->init_delay_us;
    for (uint64_t t0 = now_us(env); now_us(env) - t0 < delay;)
        mk_pause();
    for (uint32_t k = 0; k < n; k++)
        if (!out[k].remove_rc)
            mk_send_sipi(out[k].apic_id, env->trampoline_pa);
    /* 3. Wait for each to check in (a second SIPI for late ones). */
    uint64_t start = now_us(env);
    bool resent = false;
    for (;;) {
        uint32_t waiting = 0;
        for (uint32_t k = 0; k < n; k++) {
            if (out[k].remove_rc || out[k].online)
                continue;
            struct mk_ap *ap = find_ap(out[k].apic_id);
            if (ap) {
                out[k].online = true;
                out[k].reported_apic_id = ap->apic_id;
            } else {
                waiting++;
            }
        }
        uint64_t elapsed = now_us(env) - start;
        if (!waiting || elapsed > ONLINE_TIMEOUT_US)
            break;
        if (!resent && elapsed > RESEND_SIPI_US) {
            for (uint32_t k = 0; k < n; k++)
                if (!out[k].remove_rc && !out[k].online)
                    mk_send_sipi(out[k].apic_id, env->trampoline_pa);
            resent = true;
        }
        mk_pause();
    }
    /* 4. Work for each. */
    uint32_t good = 0;
    for (uint32_t k = 0; k < n; k++) {
        struct mk_conversion *c = &out[k];
        if (c->remove_rc)
            continue;
        if (!c->online) {
            c->error = "removed, but never came up in the main kernel";
            continue;
        }
        c->work_ok = give_work(env, find_ap(c->apic_id), mk_rdtsc() ^ c->cpu);
        if (!c->work_ok)
            c->error = "came up, but its work result is missing or wrong";
        else
            good++;
    }
    return good;
}

bool mk_converted_work_all(const struct mk_convert_env *env, uint32_t *count)
{
    bool ok = true;
    *count = 0;
    for (uint32_t s = 0; s < MK_MAX_APS; s++) {
        if (!load32(&mk_aps[s].online))
            continue;
        (*count)++;
        ok = give_work(env, &mk_aps[s], mk_rdtsc() + s) && ok;
    }
    return ok;
}

uint64_t mk_low_page(const struct sidecar_handoff *h)
{
    for (uint32_t i = 0; i < h->memory_range_count; i++) {
        const struct sidecar_memory_range *r = &h->memory_map[i];
        if (r->type != MEMORY_TYPE_USABLE)
            continue;
        uint64_t page = (r->base + 0xfff) & ~0xfffull;
        if (page < 0x1000)
            page = 0x1000;
        if (page + 0x1000 <= r->base + r->size && page + 0x1000 <= 0xa0000)
            return page;
    }
    return 0;
}
