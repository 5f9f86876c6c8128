/* SPDX-License-Identifier: MIT */
/* libsidecar-host's portable core (no libc, no allocation).
 *
 * Per CPU the host side does: check IDLE, write the command and its request
 * bytes with plain stores, compare-exchange IDLE -> RUN (release: the
 * sidecar's acquire load of the status sees the request), send the request
 * IPI, then wait until the status is IDLE again (acquire: the response is
 * visible). Nothing read from a shared page is trusted. */
#include <stdarg.h>

#include <sidecar/host.h>
#include <sidecar/validate.h>

#include "internal.h"


/* intercept_valid[cpu] bits: the intercept message is valid; a command was
 * started and its end not collected yet (run_command timed out, an async
 * run not claimed). An uncollected command blocks the next command and
 * REMOVE with E_BUSY, so its completion can never be overwritten or lost. */
#define IV_VALID 1u
#define IV_UNCOLLECTED 2u

/* The longest single sleep in the transport's wait hook: a sidecar that
 * forgets to raise attention costs at most this much latency. */
#define WAIT_SLICE_NS 50000000ull

/* Byte loops through volatile pointers so that the compiler emits no calls
 * to memcpy/memset (this file is also built freestanding). */
static void copy_bytes(void *dst, const volatile void *src, uint32_t n)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

static void zero_bytes(volatile void *dst, uint32_t n)
{
    volatile uint8_t *d = dst;
    while (n--)
        *d++ = 0;
}

const char *sidecar_host_version(void)
{
    return SIDECAR_HOST_VERSION_STRING;
}

const char *sidecar_host_strerror(int code)
{
    switch (code) {
    case SIDECAR_HOST_OK: return "success";
    case SIDECAR_HOST_E_INVALID: return "invalid argument";
    case SIDECAR_HOST_E_ABI: return "sidecar ABI mismatch";
    case SIDECAR_HOST_E_BUSY: return "CPU busy (acquired elsewhere or a command in flight)";
    case SIDECAR_HOST_E_TIMEOUT: return "the sidecar did not answer in time";
    case SIDECAR_HOST_E_REMOVED: return "not a sidecar CPU (removed or main)";
    case SIDECAR_HOST_E_STATE: return "impossible CPU status or response";
    case SIDECAR_HOST_E_COMMAND: return "the command failed";
    case SIDECAR_HOST_E_NOT_ACQUIRED: return "CPU not acquired";
    case SIDECAR_HOST_E_HV_STATUS: return "the hypervisor call failed (HvStatus)";
    case SIDECAR_HOST_E_NOTHING: return "nothing to wait for or read";
    case SIDECAR_HOST_E_NOMEM: return "out of memory";
    case SIDECAR_HOST_E_VECTOR: return "IPI not allowed: vector below 32 or broadcast destination";
    case SIDECAR_HOST_E_NO_DEVICE: return "no sidecar device: the sidecar driver is not loaded";
    case SIDECAR_HOST_E_PERMISSION: return "permission denied";
    case SIDECAR_HOST_E_SYSTEM: return "a system call failed";
    default: return "unknown error";
    }
}

/* ---- what failed ------------------------------------------------------- */

/* err->text += s (truncated to fit). */
static void err_put(struct sidecar_host_error *err, uint32_t *len, const char *s)
{
    while (*s && *len + 1 < SIDECAR_HOST_ERROR_TEXT_SIZE)
        err->text[(*len)++] = *s++;
    err->text[*len] = '\0';
}

static void err_put_u64(struct sidecar_host_error *err, uint32_t *len, uint64_t v, uint32_t base)
{
    char digits[24];
    uint32_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    char out[26];
    uint32_t k = 0;
    if (base == 16) {
        out[k++] = '0';
        out[k++] = 'x';
    }
    while (n)
        out[k++] = digits[--n];
    out[k] = '\0';
    err_put(err, len, out);
}

/* Fills err with code and a text from fmt: %s a string, %u an unsigned
 * int, %U a uint64_t in decimal, %X a uint64_t as 0x... (no libc here). */
static int err_set(struct sidecar_host_error *err, int code, const char *fmt, ...)
{
    uint32_t len = 0;
    err->code = code;
    err->sys_errno = 0;
    err->text[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        char one[2] = { *f, '\0' };
        if (*f != '%' || !f[1]) {
            err_put(err, &len, one);
            continue;
        }
        switch (*++f) {
        case 's': err_put(err, &len, va_arg(ap, const char *)); break;
        case 'u': err_put_u64(err, &len, va_arg(ap, unsigned int), 10); break;
        case 'U': err_put_u64(err, &len, va_arg(ap, uint64_t), 10); break;
        case 'X': err_put_u64(err, &len, va_arg(ap, uint64_t), 16); break;
        default: one[0] = *f; err_put(err, &len, one); break;
        }
    }
    va_end(ap);
    return code;
}

#if SIDECAR_HOST_HOSTED
/* The hosted library's per-thread copy of the last failure
 * (sidecar_host_last_error). The freestanding core has no thread-local
 * storage to rely on: it reports through the *_ex out-parameters only. */
static _Thread_local struct sidecar_host_error last_error;

void shl_error_record(const struct sidecar_host_error *err)
{
    copy_bytes(&last_error, err, sizeof(last_error));
}

const char *sidecar_host_last_error(void)
{
    return last_error.text;
}
#endif

/* ---- open, close, enumerate ------------------------------------------ */

/* The request vector a node's control page names: 0 (no IPI) or
 * min_vector..255, never an exception vector. */
static bool request_vector_ok(uint32_t v)
{
    return v == 0 || (v >= SIDECAR_MIN_VECTOR && v <= 0xff);
}

/* A destination this library sends to: never the broadcast ID of the
 * APIC mode the kernel chose (xAPIC 0xff, and nothing above it fits;
 * x2APIC 0xffffffff). */
static bool ipi_dest_ok(bool x2apic, uint32_t apic_id)
{
    return x2apic ? apic_id != 0xffffffffu : apic_id < 0xffu;
}

/* [base, base + size) inside [lo, lo + len), without overflow. */
static bool inside(uint64_t base, uint64_t size, uint64_t lo, uint64_t len)
{
    return base >= lo && size <= len && base - lo <= len - size;
}

/* Why a node's pages (output page) are not where they must be, or NULL. */
static const char *node_pages_problem(const struct sidecar_host_node *hn, const struct sidecar_output_node *on)
{
    uint64_t shmem = (uint64_t)hn->cpu_count * 2 * SIDECAR_PAGE_SIZE;
    if (on->shmem_pages_size != shmem)
        return "shmem_pages_size is not 2 pages per CPU of the node";
    if (!inside(on->control_page, SIDECAR_PAGE_SIZE, hn->memory_base, hn->memory_size))
        return "control_page is outside the node's memory";
    if (!inside(on->shmem_pages_base, shmem, hn->memory_base, hn->memory_size))
        return "shmem_pages_base..+shmem_pages_size is outside the node's memory";
    /* the control page not among the command/register pages */
    if (on->control_page + SIDECAR_PAGE_SIZE <= on->shmem_pages_base ||
        on->shmem_pages_base + shmem <= on->control_page)
        return 0;
    return "control_page lies among the command/register pages";
}

static int open_impl(struct sidecar_host *h, const struct sidecar_host_transport *t,
                     const struct sidecar_params *params, const struct sidecar_output *output,
                     struct sidecar_host_error *err)
{
    if (!h || !t || !params || !output)
        return err_set(err, SIDECAR_HOST_E_INVALID, "open: %s is NULL",
                       !h ? "the handle" : !t ? "the transport" : !params ? "params" : "output");
    if (!t->map || !t->send_ipi || !t->now_ns)
        return err_set(err, SIDECAR_HOST_E_INVALID, "transport: %s is NULL",
                       !t->map ? "map" : !t->send_ipi ? "send_ipi" : "now_ns");
    if ((t->epoch == 0) != (t->wait == 0))
        return err_set(err, SIDECAR_HOST_E_INVALID,
                       "transport: epoch and wait must be both set or both NULL");
    zero_bytes(h, sizeof(*h));
    struct sidecar_abi_error e;
    if (params->magic != SIDECAR_PARAMS_MAGIC)
        return err_set(err, SIDECAR_HOST_E_ABI, "params: magic %X is not the params page's", params->magic);
    if (params->abi_major != SIDECAR_ABI_MAJOR)
        return err_set(err, SIDECAR_HOST_E_ABI, "params: ABI major %u, this library speaks %u",
                       (unsigned)params->abi_major, (unsigned)SIDECAR_ABI_MAJOR);
    if (output->magic != SIDECAR_OUTPUT_MAGIC)
        return err_set(err, SIDECAR_HOST_E_ABI, "output: magic %X is not the output page's", output->magic);
    if (output->abi_major != SIDECAR_ABI_MAJOR)
        return err_set(err, SIDECAR_HOST_E_ABI, "output: ABI major %u, this library speaks %u",
                       (unsigned)output->abi_major, (unsigned)SIDECAR_ABI_MAJOR);
    /* The generated validators' message names the field. */
    if (sidecar_params_validate(params, &e) != SIDECAR_ABI_OK)
        return err_set(err, SIDECAR_HOST_E_INVALID, "params: %s", e.message);
    if (sidecar_output_validate(output, &e) != SIDECAR_ABI_OK)
        return err_set(err, SIDECAR_HOST_E_INVALID, "output: %s", e.message);
    /* From here on only copies are used, and every check the library
     * relies on is made again on the copy: the pages stay writable by
     * whoever handed them over (and the output page by the sidecar), so a
     * value read twice could differ between its check and its use. */
    uint32_t node_count = *(const volatile uint32_t *)&params->node_count;
    uint32_t cpu_count = *(const volatile uint32_t *)&params->cpu_count;
    bool x2apic = *(const volatile sidecar_apic_mode_t *)&output->apic_mode == SIDECAR_APIC_MODE_X2APIC;
    if (node_count == 0 || node_count > SIDECAR_MAX_NODES)
        return err_set(err, SIDECAR_HOST_E_INVALID, "params: node_count %u is not 1..%u",
                       node_count, (unsigned)SIDECAR_MAX_NODES);
    if (cpu_count > SIDECAR_MAX_CPUS)
        return err_set(err, SIDECAR_HOST_E_INVALID, "params: cpu_count %u is above %u",
                       cpu_count, (unsigned)SIDECAR_MAX_CPUS);
    uint32_t out_nodes = *(const volatile uint32_t *)&output->node_count;
    uint32_t out_cpus = *(const volatile uint32_t *)&output->cpu_count;
    if (out_nodes != node_count)
        return err_set(err, SIDECAR_HOST_E_INVALID, "output: node_count %u differs from params' %u",
                       out_nodes, node_count);
    if (out_cpus != cpu_count)
        return err_set(err, SIDECAR_HOST_E_INVALID, "output: cpu_count %u differs from params' %u",
                       out_cpus, cpu_count);
    h->t = *t;
    h->params = params;
    for (uint32_t c = 0; c < cpu_count; c++) {
        struct sidecar_params_cpu pc;
        copy_bytes(&pc, &params->cpus[c], sizeof(pc));
        h->apic_id[c] = pc.apic_id;
        h->role[c] = pc.role;
        if (pc.role == SIDECAR_CPU_ROLE_SIDECAR && !ipi_dest_ok(x2apic, pc.apic_id))
            return err_set(err, SIDECAR_HOST_E_VECTOR,
                           "params: cpus[%u].apic_id %X is the broadcast destination in %s mode (output.apic_mode)",
                           c, (uint64_t)pc.apic_id, x2apic ? "x2APIC" : "xAPIC");
    }
    uint32_t next_cpu = 0;
    for (uint32_t n = 0; n < node_count; n++) {
        struct sidecar_params_node pn;
        copy_bytes(&pn, &params->nodes[n], sizeof(pn));
        struct sidecar_host_node *hn = &h->nodes[n];
        hn->base_cpu = pn.base_cpu;
        hn->cpu_count = pn.cpu_count;
        hn->memory_base = pn.memory_base;
        hn->memory_size = pn.memory_size;
        /* the nodes' CPUs ascending, apart, inside cpu_count; their
         * memories apart from every other node's */
        if (pn.base_cpu < next_cpu || pn.cpu_count > cpu_count || pn.base_cpu > cpu_count - pn.cpu_count)
            return err_set(err, SIDECAR_HOST_E_INVALID,
                           "params: nodes[%u]: CPUs %u..%u overlap an earlier node or exceed cpu_count %u",
                           n, pn.base_cpu, pn.base_cpu + pn.cpu_count, cpu_count);
        next_cpu = pn.base_cpu + pn.cpu_count;
        if (pn.memory_size == 0 || pn.memory_base + pn.memory_size < pn.memory_base)
            return err_set(err, SIDECAR_HOST_E_INVALID,
                           "params: nodes[%u]: memory %X size %X is empty or wraps", n,
                           pn.memory_base, pn.memory_size);
        for (uint32_t k = 0; k < n; k++)
            if (pn.memory_base < h->nodes[k].memory_base + h->nodes[k].memory_size &&
                h->nodes[k].memory_base < pn.memory_base + pn.memory_size)
                return err_set(err, SIDECAR_HOST_E_INVALID,
                               "params: nodes[%u]: memory overlaps nodes[%u]'s", n, k);
    }
    for (uint32_t n = 0; n < node_count; n++) {
        struct sidecar_output_node on;
        copy_bytes(&on, &output->nodes[n], sizeof(on));
        struct sidecar_host_node *hn = &h->nodes[n];
        /* The page addresses are the sidecar's to write: each node's
         * control page and command/register pages must be its own, inside
         * its node memory (kept apart from every other's above) and apart
         * from each other, so no node's pages alias another's. */
        const char *problem = node_pages_problem(hn, &on);
        if (problem)
            return err_set(err, SIDECAR_HOST_E_INVALID, "output: nodes[%u]: %s", n, problem);
        hn->control = t->map(t->ctx, on.control_page, SIDECAR_PAGE_SIZE);
        if (!hn->control)
            return err_set(err, SIDECAR_HOST_E_INVALID,
                           "transport: node %u's control page at %X could not be mapped", n, on.control_page);
        hn->shmem = t->map(t->ctx, on.shmem_pages_base, on.shmem_pages_size);
        if (!hn->shmem)
            return err_set(err, SIDECAR_HOST_E_INVALID,
                           "transport: node %u's command/register pages at %X could not be mapped",
                           n, on.shmem_pages_base);
        /* What the sidecar wrote is checked, not trusted. */
        if (hn->control->magic != SIDECAR_CONTROL_MAGIC)
            return err_set(err, SIDECAR_HOST_E_ABI, "node %u control page: magic %X is not ours",
                           n, hn->control->magic);
        if (hn->control->abi_major != SIDECAR_ABI_MAJOR)
            return err_set(err, SIDECAR_HOST_E_ABI, "node %u control page: ABI major %u, this library speaks %u",
                           n, (unsigned)hn->control->abi_major, (unsigned)SIDECAR_ABI_MAJOR);
        if (hn->control->index != n)
            return err_set(err, SIDECAR_HOST_E_INVALID, "node %u control page: index is %u",
                           n, (unsigned)hn->control->index);
        if (hn->control->base_cpu != hn->base_cpu || hn->control->cpu_count != hn->cpu_count)
            return err_set(err, SIDECAR_HOST_E_INVALID,
                           "node %u control page: CPUs %u+%u, params say %u+%u", n,
                           (unsigned)hn->control->base_cpu, (unsigned)hn->control->cpu_count,
                           hn->base_cpu, hn->cpu_count);
        uint32_t vector = sidecar_control_page_request_vector_load(hn->control);
        if (!request_vector_ok(vector))
            return err_set(err, SIDECAR_HOST_E_VECTOR,
                           "node %u control page: request_vector %u is an exception vector (below %u)",
                           n, vector, (unsigned)SIDECAR_MIN_VECTOR);
    }
    h->node_count = node_count;
    h->cpu_count = cpu_count;
    err->code = SIDECAR_HOST_OK;
    err->sys_errno = 0;
    err->text[0] = '\0';
    return SIDECAR_HOST_OK;
}

int sidecar_host_open_ex(struct sidecar_host *h, const struct sidecar_host_transport *t,
                         const struct sidecar_params *params, const struct sidecar_output *output,
                         struct sidecar_host_error *err)
{
    struct sidecar_host_error local;
    if (!err)
        err = &local;
    int rc = open_impl(h, t, params, output, err);
#if SIDECAR_HOST_HOSTED
    shl_error_record(err);
#endif
    return rc;
}

int sidecar_host_open(struct sidecar_host *h, const struct sidecar_host_transport *t,
                      const struct sidecar_params *params, const struct sidecar_output *output)
{
    return sidecar_host_open_ex(h, t, params, output, 0);
}

int sidecar_host_open_baremetal(struct sidecar_host *h, const struct sidecar_host_transport *t,
                                const struct sidecar_params *params,
                                const struct sidecar_output *output)
{
    return sidecar_host_open_ex(h, t, params, output, 0);
}

void sidecar_host_close(struct sidecar_host *h)
{
    if (!h)
        return;
    void (*close)(void *) = h->cpu_count ? h->t.close : 0;
    void *ctx = h->t.ctx;
    h->node_count = 0;
    h->cpu_count = 0;
    h->params = 0;
    zero_bytes(&h->t, sizeof(h->t));
    if (close)
        close(ctx);
}

uint32_t sidecar_host_node_count(const struct sidecar_host *h)
{
    return h ? h->node_count : 0;
}

uint32_t sidecar_host_cpu_count(const struct sidecar_host *h)
{
    return h ? h->cpu_count : 0;
}

const char *sidecar_host_vp_backend(const struct sidecar_host *h)
{
    if (!h || !h->node_count)
        return "unknown";
    const struct sidecar_control_page *cp = h->nodes[0].control;
    /* Our kernel says so in its flags; OpenHCL's (no magic) runs VPs by
     * the hypervisor (VTL return) and says nothing. */
    if (*(const volatile uint64_t *)&cp->magic != SIDECAR_CONTROL_MAGIC)
        return "unknown";
    return sidecar_control_page_flags_load(cp) & SIDECAR_CONTROL_FLAG_VP_BACKEND_SVM ? "svm" : "ring3";
}

int sidecar_host_node_info(const struct sidecar_host *h, uint32_t node, struct sidecar_host_node_info *info)
{
    if (!h || !info || node >= h->node_count)
        return SIDECAR_HOST_E_INVALID;
    const struct sidecar_host_node *hn = &h->nodes[node];
    info->index = node;
    info->base_cpu = hn->base_cpu;
    info->cpu_count = hn->cpu_count;
    info->sidecar_cpus = 0;
    for (uint32_t i = 0; i < hn->cpu_count; i++)
        info->sidecar_cpus += h->role[hn->base_cpu + i] == SIDECAR_CPU_ROLE_SIDECAR;
    return SIDECAR_HOST_OK;
}

int sidecar_host_locate(const struct sidecar_host *h, uint32_t cpu, uint32_t *node, uint32_t *index)
{
    if (!h || cpu >= h->cpu_count || !node || !index)
        return SIDECAR_HOST_E_INVALID;
    if (h->role[cpu] != SIDECAR_CPU_ROLE_SIDECAR)
        return SIDECAR_HOST_E_REMOVED;
    for (uint32_t n = 0; n < h->node_count; n++) {
        const struct sidecar_host_node *hn = &h->nodes[n];
        if (cpu >= hn->base_cpu && cpu - hn->base_cpu < hn->cpu_count) {
            *node = n;
            *index = cpu - hn->base_cpu;
            return SIDECAR_HOST_OK;
        }
    }
    return SIDECAR_HOST_E_REMOVED;
}

static uint8_t status_of(const struct sidecar_host *h, uint32_t n, uint32_t i)
{
    return sidecar_control_page_cpu_status_load(h->nodes[n].control, i);
}

int sidecar_host_cpu_status(const struct sidecar_host *h, uint32_t cpu)
{
    uint32_t n, i;
    int rc = sidecar_host_locate(h, cpu, &n, &i);
    if (rc)
        return rc;
    return status_of(h, n, i);
}

/* ---- ownership ------------------------------------------------------- */

int sidecar_host_acquire(struct sidecar_host *h, uint32_t cpu)
{
    uint32_t n, i;
    int rc = sidecar_host_locate(h, cpu, &n, &i);
    if (rc)
        return rc;
    if (__atomic_exchange_n(&h->acquired[cpu], 1, __ATOMIC_ACQUIRE))
        return SIDECAR_HOST_E_BUSY;
    return SIDECAR_HOST_OK;
}

void sidecar_host_release(struct sidecar_host *h, uint32_t cpu)
{
    if (h && cpu < h->cpu_count)
        __atomic_store_n(&h->acquired[cpu], 0, __ATOMIC_RELEASE);
}

struct sidecar_command_page *sidecar_host_command_page(const struct sidecar_host *h, uint32_t cpu)
{
    uint32_t n, i;
    if (sidecar_host_locate(h, cpu, &n, &i))
        return 0;
    return (struct sidecar_command_page *)(h->nodes[n].shmem + (uint64_t)i * 2 * SIDECAR_PAGE_SIZE);
}

/* ---- waiting ----------------------------------------------------------- */

static uint64_t pending_bit(uint32_t cpu)
{
    return 1ull << (cpu % 64);
}

static bool is_pending(const struct sidecar_host *h, uint32_t cpu)
{
    return (__atomic_load_n(&h->async_pending[cpu / 64], __ATOMIC_ACQUIRE) & pending_bit(cpu)) != 0;
}

/* A condition: > 0 met, 0 not yet, < 0 failed with that code. */
typedef int (*wait_check)(struct sidecar_host *h, void *arg);

/* Looks at check until it is met, fails, or timeout_ns passes; sleeps in
 * the transport's wait hook between looks when there is one. */
static int wait_for(struct sidecar_host *h, uint64_t timeout_ns, wait_check check, void *arg)
{
    uint64_t start = h->t.now_ns(h->t.ctx);
    for (;;) {
        /* The epoch is read before the condition: an attention raised after
         * the look changes it, and the wait returns at once. */
        uint32_t epoch = h->t.epoch ? h->t.epoch(h->t.ctx) : 0;
        int r = check(h, arg);
        if (r != 0)
            return r;
        uint64_t elapsed = h->t.now_ns(h->t.ctx) - start;
        if (elapsed >= timeout_ns)
            return SIDECAR_HOST_E_TIMEOUT;
        if (h->t.wait) {
            uint64_t left = timeout_ns - elapsed;
            h->t.wait(h->t.ctx, epoch, left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS);
        } else if (h->t.relax) {
            h->t.relax(h->t.ctx);
        }
    }
}

struct status_wait {
    uint32_t node, index;
    uint8_t done, busy1, busy2;
};

static int check_status(struct sidecar_host *h, void *arg)
{
    const struct status_wait *w = arg;
    uint8_t s = status_of(h, w->node, w->index);
    if (s == w->done)
        return 1;
    if (s == w->busy1 || s == w->busy2)
        return 0;
    /* A CPU that failed while serving leaves as REMOVED (its command page
     * says why). */
    return s == SIDECAR_CPU_STATUS_REMOVED ? SIDECAR_HOST_E_REMOVED : SIDECAR_HOST_E_STATE;
}

/* Waits until the CPU's status is IDLE (the command ended). */
static int wait_idle(struct sidecar_host *h, uint32_t n, uint32_t i, uint64_t timeout_ns)
{
    struct status_wait w = { n, i, SIDECAR_CPU_STATUS_IDLE, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_STOP };
    int rc = wait_for(h, timeout_ns, check_status, &w);
    return rc > 0 ? SIDECAR_HOST_OK : rc;
}

/* ---- commands ---------------------------------------------------------- */

static int busy_code(uint8_t status)
{
    if (status == SIDECAR_CPU_STATUS_REMOVED)
        return SIDECAR_HOST_E_REMOVED;
    if (status == SIDECAR_CPU_STATUS_RUN || status == SIDECAR_CPU_STATUS_STOP ||
        status == SIDECAR_CPU_STATUS_REMOVE)
        return SIDECAR_HOST_E_BUSY;
    return SIDECAR_HOST_E_STATE;
}

/* The request IPI after a status write. wake: the write only has to wake
 * an idle CPU (RUN, REMOVE); a node whose CPUs park with MWAIT on their
 * status byte says so in its flags, and the write alone wakes them then.
 * STOP always rings: it must interrupt a running VP. */
static void ring(struct sidecar_host *h, uint32_t cpu, uint32_t n, bool wake)
{
    const struct sidecar_control_page *cp = h->nodes[n].control;
    if (wake && (sidecar_control_page_flags_load(cp) & SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE))
        return;
    uint32_t vector = sidecar_control_page_request_vector_load(cp);
    /* Checked at open, with the destinations; the control page is the
     * sidecar's to write, so the vector is checked again, never trusted. */
    if (vector != 0 && request_vector_ok(vector))
        h->t.send_ipi(h->t.ctx, h->apic_id[cpu], vector);
}

/* Locates an acquired CPU with no command in flight. */
static int owner_cpu(struct sidecar_host *h, uint32_t cpu, uint32_t *n, uint32_t *i)
{
    int rc = sidecar_host_locate(h, cpu, n, i);
    if (rc)
        return rc;
    if (!__atomic_load_n(&h->acquired[cpu], __ATOMIC_ACQUIRE))
        return SIDECAR_HOST_E_NOT_ACQUIRED;
    return SIDECAR_HOST_OK;
}

/* Writes the command, then IDLE -> RUN and the request IPI. The caller has
 * written the request bytes. */
static int start(struct sidecar_host *h, uint32_t cpu, uint32_t n, uint32_t i, uint32_t command)
{
    struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    if (is_pending(h, cpu))
        return SIDECAR_HOST_E_BUSY;
    uint8_t s = status_of(h, n, i);
    if (s != SIDECAR_CPU_STATUS_IDLE)
        return busy_code(s);
    if (h->intercept_valid[cpu] & IV_UNCOLLECTED)
        return SIDECAR_HOST_E_BUSY;
    __atomic_store_n(&c->command, command, __ATOMIC_RELAXED);
    if (command == SIDECAR_COMMAND_RUN_VP)
        c->request_data[0] = 0xff;   /* not a valid answer: the sidecar must write it */
    h->last_command[cpu] = command > 0xff ? 0xff : (uint8_t)command;
    h->intercept_valid[cpu] = IV_UNCOLLECTED;
    sidecar_cpu_status_t expected = SIDECAR_CPU_STATUS_IDLE;
    if (!sidecar_control_page_cpu_status_compare_exchange(h->nodes[n].control, i, &expected,
                                                          SIDECAR_CPU_STATUS_RUN)) {
        h->intercept_valid[cpu] = 0;
        return busy_code(expected);
    }
    ring(h, cpu, n, true);
    return SIDECAR_HOST_OK;
}

/* The result of the CPU's last command, once it is IDLE. */
static int finish(struct sidecar_host *h, uint32_t cpu)
{
    struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    h->intercept_valid[cpu] = 0;   /* collected */
    if (h->last_command[cpu] != SIDECAR_COMMAND_NONE &&
        __atomic_load_n(&c->command, __ATOMIC_ACQUIRE) != SIDECAR_COMMAND_NONE) {
        /* The sidecar went back to IDLE without taking the command (it
         * replaces it with NONE when it does). The protocol (OpenHCL's,
         * and ours) runs every command it finds in RUN or STOP, so this is
         * a broken sidecar: has_error and the response are not this
         * command's. */
        __atomic_store_n(&c->command, SIDECAR_COMMAND_NONE, __ATOMIC_RELAXED);
        return SIDECAR_HOST_E_STATE;
    }
    if (__atomic_load_n(&c->has_error, __ATOMIC_ACQUIRE))
        return SIDECAR_HOST_E_COMMAND;
    if (h->last_command[cpu] != SIDECAR_COMMAND_RUN_VP)
        return SIDECAR_HOST_OK;
    uint8_t intercept = *(const volatile uint8_t *)&c->request_data[0];
    if (intercept == 1) {
        h->intercept_valid[cpu] = IV_VALID;
        return SIDECAR_HOST_RUN_INTERCEPT;
    }
    return intercept == 0 ? SIDECAR_HOST_RUN_STOPPED : SIDECAR_HOST_E_STATE;
}

int sidecar_host_run_command(struct sidecar_host *h, uint32_t cpu, uint32_t command, uint64_t timeout_ns)
{
    uint32_t n, i;
    int rc = owner_cpu(h, cpu, &n, &i);
    if (!rc)
        rc = start(h, cpu, n, i, command);
    if (!rc) {
        rc = wait_idle(h, n, i, timeout_ns);
        if (rc && rc != SIDECAR_HOST_E_TIMEOUT)
            h->intercept_valid[cpu] = 0;   /* ended, badly: collected */
        return rc ? rc : finish(h, cpu);
    }
    return rc;
}

int sidecar_host_ping(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns)
{
    return sidecar_host_run_command(h, cpu, SIDECAR_COMMAND_NONE, timeout_ns);
}

int sidecar_host_run_vp(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns)
{
    return sidecar_host_run_command(h, cpu, SIDECAR_COMMAND_RUN_VP, timeout_ns);
}

int sidecar_host_run_vp_start(struct sidecar_host *h, uint32_t cpu)
{
    uint32_t n, i;
    int rc = owner_cpu(h, cpu, &n, &i);
    if (!rc)
        rc = start(h, cpu, n, i, SIDECAR_COMMAND_RUN_VP);
    if (rc)
        return rc;
    /* Only after RUN is published: a waiter that sees the bit and IDLE
     * sees the end of this run, never the IDLE before it. */
    __atomic_fetch_or(&h->async_pending[cpu / 64], pending_bit(cpu), __ATOMIC_RELEASE);
    return SIDECAR_HOST_OK;
}

int sidecar_host_wait(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns)
{
    uint32_t n, i;
    int rc = owner_cpu(h, cpu, &n, &i);
    if (rc)
        return rc;
    rc = wait_idle(h, n, i, timeout_ns);
    if (rc == SIDECAR_HOST_E_TIMEOUT)
        return rc;
    __atomic_fetch_and(&h->async_pending[cpu / 64], ~pending_bit(cpu), __ATOMIC_ACQ_REL);
    if (rc)
        h->intercept_valid[cpu] = 0;
    return rc ? rc : finish(h, cpu);
}

struct any_wait {
    struct sidecar_host_completion *done;
};

static int check_any(struct sidecar_host *h, void *arg)
{
    struct any_wait *w = arg;
    uint32_t words = (h->cpu_count + 63) / 64;
    uint32_t first = __atomic_load_n(&h->scan_start, __ATOMIC_RELAXED) % (words * 64);
    uint32_t w0 = first / 64, b0 = first % 64;
    bool any = false;
    /* words + 1 looks: the first word from bit b0, the others whole, the
     * first word again below b0. */
    for (uint32_t k = 0; k <= words; k++) {
        uint32_t wi = (w0 + k) % words;
        uint64_t bits = __atomic_load_n(&h->async_pending[wi], __ATOMIC_ACQUIRE);
        if (k == 0)
            bits &= ~0ull << b0;
        else if (k == words)
            bits &= b0 ? (1ull << b0) - 1 : 0;
        while (bits) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            uint32_t cpu = wi * 64 + b, n, i;
            any = true;
            if (sidecar_host_locate(h, cpu, &n, &i))
                continue;   /* cannot happen: only started CPUs have a bit */
            uint8_t s = status_of(h, n, i);
            if (s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_STOP)
                continue;
            uint64_t old = __atomic_fetch_and(&h->async_pending[wi], ~pending_bit(cpu), __ATOMIC_ACQ_REL);
            if (!(old & pending_bit(cpu)))
                continue;   /* another waiter claimed it */
            /* The status looked at above may be the IDLE before a run that
             * has started since (its owner collected the previous one and
             * started again). Looked at after the claim, which comes after
             * the start's RUN, it is this run's. */
            s = status_of(h, n, i);
            if (s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_STOP) {
                __atomic_fetch_or(&h->async_pending[wi], pending_bit(cpu), __ATOMIC_RELEASE);
                continue;
            }
            __atomic_store_n(&h->scan_start, cpu + 1, __ATOMIC_RELAXED);
            w->done->cpu = cpu;
            w->done->command = SIDECAR_COMMAND_RUN_VP;
            if (s != SIDECAR_CPU_STATUS_IDLE)
                h->intercept_valid[cpu] = 0;
            w->done->result = s == SIDECAR_CPU_STATUS_IDLE      ? finish(h, cpu)
                              : s == SIDECAR_CPU_STATUS_REMOVED ? SIDECAR_HOST_E_REMOVED
                                                                : SIDECAR_HOST_E_STATE;
            return 1;
        }
    }
    return any ? 0 : SIDECAR_HOST_E_NOTHING;
}

int sidecar_host_wait_any(struct sidecar_host *h, uint64_t timeout_ns, struct sidecar_host_completion *done)
{
    if (!h || !done || !h->cpu_count)
        return SIDECAR_HOST_E_INVALID;
    struct any_wait w = { done };
    int rc = wait_for(h, timeout_ns, check_any, &w);
    return rc > 0 ? SIDECAR_HOST_OK : rc;
}

int sidecar_host_stop(struct sidecar_host *h, uint32_t cpu)
{
    uint32_t n, i;
    int rc = sidecar_host_locate(h, cpu, &n, &i);
    if (rc)
        return rc;
    sidecar_cpu_status_t expected = SIDECAR_CPU_STATUS_RUN;
    if (sidecar_control_page_cpu_status_compare_exchange(h->nodes[n].control, i, &expected,
                                                         SIDECAR_CPU_STATUS_STOP)) {
        ring(h, cpu, n, false);
        return SIDECAR_HOST_OK;
    }
    if (expected == SIDECAR_CPU_STATUS_IDLE || expected == SIDECAR_CPU_STATUS_STOP)
        return SIDECAR_HOST_OK;
    return busy_code(expected);
}

int sidecar_host_remove(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns)
{
    uint32_t n, i;
    int rc = owner_cpu(h, cpu, &n, &i);
    if (rc)
        return rc;
    if (is_pending(h, cpu) || (h->intercept_valid[cpu] & IV_UNCOLLECTED))
        return SIDECAR_HOST_E_BUSY;
    sidecar_cpu_status_t expected = SIDECAR_CPU_STATUS_IDLE;
    if (!sidecar_control_page_cpu_status_compare_exchange(h->nodes[n].control, i, &expected,
                                                          SIDECAR_CPU_STATUS_REMOVE))
        return busy_code(expected);
    h->intercept_valid[cpu] = 0;
    ring(h, cpu, n, true);
    struct status_wait w = { n, i, SIDECAR_CPU_STATUS_REMOVED, SIDECAR_CPU_STATUS_REMOVE,
                             SIDECAR_CPU_STATUS_REMOVE };
    rc = wait_for(h, timeout_ns, check_status, &w);
    return rc > 0 ? SIDECAR_HOST_OK : rc;
}

uint32_t sidecar_host_error_text(const struct sidecar_host *h, uint32_t cpu, char *buf, uint32_t size)
{
    const struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    if (!buf || !size)
        return 0;
    uint32_t n = 0;
    if (c && __atomic_load_n(&c->has_error, __ATOMIC_ACQUIRE)) {
        n = *(const volatile uint8_t *)&c->error.len;
        if (n > SIDECAR_ERROR_TEXT_SIZE)
            n = SIDECAR_ERROR_TEXT_SIZE;
        if (n > size - 1)
            n = size - 1;
        copy_bytes(buf, c->error.buf, n);
    }
    buf[n] = 0;
    return n;
}

/* ---- registers, translation ------------------------------------------ */

/* One GET/SET command of n <= SIDECAR_MAX_GET_SET_VP_REGISTERS registers.
 * OK with *status the batch's HvStatus; GET copies every value back only
 * when the batch succeeded. */
static int register_batch(struct sidecar_host *h, uint32_t cpu, bool set, uint8_t vtl,
                          struct sidecar_hv_register_assoc *regs, uint32_t n,
                          uint64_t timeout_ns, uint16_t *status)
{
    struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    struct sidecar_get_set_vp_registers_request *req = (void *)c->request_data;
    zero_bytes(req, 16 + n * (uint32_t)sizeof(req->regs[0]));
    req->count = (uint16_t)n;
    req->target_vtl = vtl;
    req->status = SIDECAR_HV_STATUS_SUCCESS;
    for (uint32_t k = 0; k < n; k++) {
        req->regs[k].name = regs[k].name;
        if (set)
            copy_bytes(&req->regs[k].value, &regs[k].value, sizeof(regs[k].value));
    }
    int rc = sidecar_host_run_command(h, cpu, set ? SIDECAR_COMMAND_SET_VP_REGISTERS
                                                  : SIDECAR_COMMAND_GET_VP_REGISTERS, timeout_ns);
    if (rc)
        return rc;
    *status = *(volatile uint16_t *)&req->status;
    if (!set && *status == SIDECAR_HV_STATUS_SUCCESS) {
        for (uint32_t k = 0; k < n; k++)
            copy_bytes(&regs[k].value, &req->regs[k].value, sizeof(regs[k].value));
    }
    return SIDECAR_HOST_OK;
}

/* What is left of a timeout that started at start_ns: the batches and the
 * retries of one call share it, so the call never waits longer than its
 * timeout in all (0 left: each further command is looked at once). */
static uint64_t time_left(struct sidecar_host *h, uint64_t start_ns, uint64_t timeout_ns)
{
    uint64_t spent = h->t.now_ns(h->t.ctx) - start_ns;
    return spent >= timeout_ns ? 0 : timeout_ns - spent;
}

static int get_set(struct sidecar_host *h, uint32_t cpu, bool set, uint8_t vtl,
                   struct sidecar_hv_register_assoc *regs, uint32_t count,
                   uint64_t timeout_ns, struct sidecar_host_hv_error *err)
{
    struct sidecar_host_hv_error dummy;
    if (!err)
        err = &dummy;
    err->status = SIDECAR_HV_STATUS_SUCCESS;
    err->index = 0;
    uint32_t n, i;
    int rc = owner_cpu(h, cpu, &n, &i);
    if (rc)
        return rc;
    if (!regs && count)
        return SIDECAR_HOST_E_INVALID;
    uint64_t start_ns = h->t.now_ns(h->t.ctx);
    for (uint32_t off = 0; off < count;) {
        uint32_t chunk = count - off;
        if (chunk > SIDECAR_MAX_GET_SET_VP_REGISTERS)
            chunk = SIDECAR_MAX_GET_SET_VP_REGISTERS;
        uint16_t st = 0;
        err->index = off;
        rc = register_batch(h, cpu, set, vtl, regs + off, chunk, time_left(h, start_ns, timeout_ns), &st);
        if (rc)
            return rc;
        if (st == SIDECAR_HV_STATUS_SUCCESS) {
            off += chunk;
            continue;
        }
        /* Which one failed: the batch again, one register at a time. */
        uint32_t bad = 0;
        uint16_t bad_st = st;
        if (chunk > 1) {
            for (uint32_t k = 0; k < chunk; k++) {
                uint16_t one = 0;
                err->index = off + k;
                rc = register_batch(h, cpu, set, vtl, regs + off + k, 1, time_left(h, start_ns, timeout_ns), &one);
                if (rc)
                    return rc;
                if (one != SIDECAR_HV_STATUS_SUCCESS) {
                    bad = k;
                    bad_st = one;
                    break;
                }
            }
        }
        err->status = bad_st;
        err->index = off + bad;
        return SIDECAR_HOST_E_HV_STATUS;
    }
    return SIDECAR_HOST_OK;
}

int sidecar_host_get_registers(struct sidecar_host *h, uint32_t cpu, uint8_t target_vtl,
                               struct sidecar_hv_register_assoc *regs, uint32_t count,
                               uint64_t timeout_ns, struct sidecar_host_hv_error *err)
{
    return get_set(h, cpu, false, target_vtl, regs, count, timeout_ns, err);
}

int sidecar_host_set_registers(struct sidecar_host *h, uint32_t cpu, uint8_t target_vtl,
                               const struct sidecar_hv_register_assoc *regs, uint32_t count,
                               uint64_t timeout_ns, struct sidecar_host_hv_error *err)
{
    /* SET never writes into regs. */
    return get_set(h, cpu, true, target_vtl, (struct sidecar_hv_register_assoc *)(uintptr_t)regs,
                   count, timeout_ns, err);
}

int sidecar_host_translate_gva(struct sidecar_host *h, uint32_t cpu, uint64_t gva,
                               uint64_t control_flags, uint64_t timeout_ns,
                               struct sidecar_translate_gva_output *out, uint16_t *hv_status)
{
    uint32_t n, i;
    int rc = owner_cpu(h, cpu, &n, &i);
    if (rc)
        return rc;
    if (!out)
        return SIDECAR_HOST_E_INVALID;
    struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    struct sidecar_translate_gva_request *req = (void *)c->request_data;
    zero_bytes(c->request_data, sizeof(struct sidecar_translate_gva_response));
    req->gvn = gva >> 12;
    req->control_flags = control_flags;
    rc = sidecar_host_run_command(h, cpu, SIDECAR_COMMAND_TRANSLATE_GVA, timeout_ns);
    if (rc)
        return rc;
    const struct sidecar_translate_gva_response *resp = (const void *)c->request_data;
    uint16_t st = *(const volatile uint16_t *)&resp->status;
    if (hv_status)
        *hv_status = st;
    if (st != SIDECAR_HV_STATUS_SUCCESS)
        return SIDECAR_HOST_E_HV_STATUS;
    copy_bytes(out, &resp->output, sizeof(*out));
    return SIDECAR_HOST_OK;
}

/* ---- the last intercept ---------------------------------------------- */

/* The verdict of the generated validator on the caller's copy (checked
 * after the copy, so the sidecar cannot change it between check and use):
 * a field out of its protocol range (an instruction_byte_count above 16,
 * an access type that is none) gives E_STATE and a zeroed copy. */
static int checked(int rc, sidecar_abi_result_t verdict, void *out, uint32_t size)
{
    if (rc)
        return rc;
    if (verdict == SIDECAR_ABI_OK)
        return SIDECAR_HOST_OK;
    zero_bytes(out, size);
    return SIDECAR_HOST_E_STATE;
}

static int intercept_of(const struct sidecar_host *h, uint32_t cpu, const struct sidecar_hv_message **m)
{
    uint32_t n, i;
    int rc = sidecar_host_locate(h, cpu, &n, &i);
    if (rc)
        return rc;
    if (!(h->intercept_valid[cpu] & IV_VALID) || status_of(h, n, i) != SIDECAR_CPU_STATUS_IDLE)
        return SIDECAR_HOST_E_NOTHING;
    *m = &sidecar_host_command_page(h, cpu)->intercept_message;
    return SIDECAR_HOST_OK;
}

int sidecar_host_intercept_message(const struct sidecar_host *h, uint32_t cpu, struct sidecar_hv_message *out)
{
    const struct sidecar_hv_message *m;
    if (!out)
        return SIDECAR_HOST_E_INVALID;
    int rc = intercept_of(h, cpu, &m);
    if (rc)
        return rc;
    copy_bytes(out, m, sizeof(*out));
    return checked(0, sidecar_hv_message_validate(out, 0), out, sizeof(*out));
}

int sidecar_host_intercept_type(const struct sidecar_host *h, uint32_t cpu, uint32_t *type)
{
    const struct sidecar_hv_message *m;
    if (!type)
        return SIDECAR_HOST_E_INVALID;
    int rc = intercept_of(h, cpu, &m);
    if (rc)
        return rc;
    *type = *(const volatile uint32_t *)&m->header.message_type;
    return SIDECAR_HOST_OK;
}

/* Copies a payload of `size` bytes when the message type is one of
 * types[0..ntypes) (ntypes 0: any type but none). */
static int typed(const struct sidecar_host *h, uint32_t cpu, const uint32_t *types, uint32_t ntypes,
                 void *out, uint32_t size)
{
    const struct sidecar_hv_message *m;
    if (!out)
        return SIDECAR_HOST_E_INVALID;
    int rc = intercept_of(h, cpu, &m);
    if (rc)
        return rc;
    uint32_t type = *(const volatile uint32_t *)&m->header.message_type;
    uint8_t payload = *(const volatile uint8_t *)&m->header.payload_size;
    bool match = ntypes == 0 && type != SIDECAR_HV_MESSAGE_TYPE_NONE;
    for (uint32_t k = 0; k < ntypes; k++)
        match = match || type == types[k];
    if (!match)
        return SIDECAR_HOST_E_NOTHING;
    if (payload < size || payload > sizeof(m->payload))
        return SIDECAR_HOST_E_STATE;
    copy_bytes(out, m->payload, size);
    return SIDECAR_HOST_OK;
}

int sidecar_host_intercept_header(const struct sidecar_host *h, uint32_t cpu,
                                  struct sidecar_hv_x64_intercept_message_header *out)
{
    int rc = typed(h, cpu, 0, 0, out, sizeof(*out));
    return checked(rc, rc ? SIDECAR_ABI_OK : sidecar_hv_x64_intercept_message_header_validate(out, 0), out, sizeof(*out));
}

int sidecar_host_intercept_io_port(const struct sidecar_host *h, uint32_t cpu,
                                   struct sidecar_hv_x64_io_port_intercept_message *out)
{
    static const uint32_t t[] = { SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT };
    int rc = typed(h, cpu, t, 1, out, sizeof(*out));
    return checked(rc, rc ? SIDECAR_ABI_OK : sidecar_hv_x64_io_port_intercept_message_validate(out, 0), out, sizeof(*out));
}

int sidecar_host_intercept_memory(const struct sidecar_host *h, uint32_t cpu,
                                  struct sidecar_hv_x64_memory_intercept_message *out)
{
    static const uint32_t t[] = { SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, SIDECAR_HV_MESSAGE_TYPE_GPA_INTERCEPT,
                                  SIDECAR_HV_MESSAGE_TYPE_UNACCEPTED_GPA };
    int rc = typed(h, cpu, t, 3, out, sizeof(*out));
    return checked(rc, rc ? SIDECAR_ABI_OK : sidecar_hv_x64_memory_intercept_message_validate(out, 0), out, sizeof(*out));
}

int sidecar_host_intercept_msr(const struct sidecar_host *h, uint32_t cpu,
                               struct sidecar_hv_x64_msr_intercept_message *out)
{
    static const uint32_t t[] = { SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT };
    int rc = typed(h, cpu, t, 1, out, sizeof(*out));
    return checked(rc, rc ? SIDECAR_ABI_OK : sidecar_hv_x64_msr_intercept_message_validate(out, 0), out, sizeof(*out));
}

int sidecar_host_intercept_cpuid(const struct sidecar_host *h, uint32_t cpu,
                                 struct sidecar_hv_x64_cpuid_intercept_message *out)
{
    static const uint32_t t[] = { SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT };
    int rc = typed(h, cpu, t, 1, out, sizeof(*out));
    return checked(rc, rc ? SIDECAR_ABI_OK : sidecar_hv_x64_cpuid_intercept_message_validate(out, 0), out, sizeof(*out));
}

int sidecar_host_intercept_exception(const struct sidecar_host *h, uint32_t cpu,
                                     struct sidecar_hv_x64_exception_intercept_message *out)
{
    static const uint32_t t[] = { SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT };
    int rc = typed(h, cpu, t, 1, out, sizeof(*out));
    return checked(rc, rc ? SIDECAR_ABI_OK : sidecar_hv_x64_exception_intercept_message_validate(out, 0), out, sizeof(*out));
}
