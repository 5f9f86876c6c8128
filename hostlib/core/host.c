/* libsidecar-host's portable core (no libc, no allocation). */
#include <sidecar/host.h>
#include <sidecar/validate.h>

#define STR2(x) #x
#define STR(x) STR2(x)

const char *sidecar_host_version(void)
{
    return STR(SIDECAR_HOST_VERSION_MAJOR) "." STR(SIDECAR_HOST_VERSION_MINOR) "." STR(SIDECAR_HOST_VERSION_PATCH);
}

const char *sidecar_host_strerror(int code)
{
    switch (code) {
    case SIDECAR_HOST_OK: return "success";
    case SIDECAR_HOST_E_INVALID: return "invalid argument";
    case SIDECAR_HOST_E_ABI: return "sidecar ABI mismatch";
    case SIDECAR_HOST_E_BUSY: return "CPU already acquired";
    case SIDECAR_HOST_E_TIMEOUT: return "the sidecar did not answer in time";
    case SIDECAR_HOST_E_REMOVED: return "not a sidecar CPU (removed or main)";
    case SIDECAR_HOST_E_STATE: return "impossible CPU status";
    case SIDECAR_HOST_E_COMMAND: return "the command failed";
    case SIDECAR_HOST_E_NOT_ACQUIRED: return "CPU not acquired";
    default: return "unknown error";
    }
}

int sidecar_host_open_baremetal(struct sidecar_host *h, const struct sidecar_host_transport *t,
                                const struct sidecar_params *params,
                                const struct sidecar_output *output)
{
    if (!h || !t || !t->map || !t->send_ipi || !t->now_ns || !params || !output)
        return SIDECAR_HOST_E_INVALID;
    volatile uint8_t *z = (volatile uint8_t *)h;
    for (uint64_t i = 0; i < sizeof(*h); i++)
        z[i] = 0;
    struct sidecar_abi_error e;
    if (params->magic != SIDECAR_PARAMS_MAGIC || params->abi_major != SIDECAR_ABI_MAJOR ||
        output->magic != SIDECAR_OUTPUT_MAGIC || output->abi_major != SIDECAR_ABI_MAJOR)
        return SIDECAR_HOST_E_ABI;
    if (sidecar_params_validate(params, &e) != SIDECAR_ABI_OK ||
        sidecar_output_validate(output, &e) != SIDECAR_ABI_OK ||
        output->node_count != params->node_count || output->cpu_count != params->cpu_count)
        return SIDECAR_HOST_E_INVALID;
    h->t = *t;
    h->params = params;
    h->cpu_count = params->cpu_count;
    for (uint32_t n = 0; n < params->node_count; n++) {
        const struct sidecar_output_node *on = &output->nodes[n];
        struct sidecar_host_node *hn = &h->nodes[n];
        hn->base_cpu = params->nodes[n].base_cpu;
        hn->cpu_count = params->nodes[n].cpu_count;
        if (on->shmem_pages_size < (uint64_t)hn->cpu_count * 2 * SIDECAR_PAGE_SIZE)
            return SIDECAR_HOST_E_INVALID;
        hn->control = t->map(t->ctx, on->control_page, SIDECAR_PAGE_SIZE);
        hn->shmem = t->map(t->ctx, on->shmem_pages_base, on->shmem_pages_size);
        if (!hn->control || !hn->shmem)
            return SIDECAR_HOST_E_INVALID;
        /* What the sidecar wrote is checked, not trusted. */
        if (hn->control->magic != SIDECAR_CONTROL_MAGIC || hn->control->abi_major != SIDECAR_ABI_MAJOR)
            return SIDECAR_HOST_E_ABI;
        if (hn->control->index != n || hn->control->base_cpu != hn->base_cpu ||
            hn->control->cpu_count != hn->cpu_count)
            return SIDECAR_HOST_E_INVALID;
    }
    h->node_count = params->node_count;
    return SIDECAR_HOST_OK;
}

int sidecar_host_locate(const struct sidecar_host *h, uint32_t cpu, uint32_t *node, uint32_t *index)
{
    if (!h || cpu >= h->cpu_count)
        return SIDECAR_HOST_E_INVALID;
    if (h->params->cpus[cpu].role != SIDECAR_CPU_ROLE_SIDECAR)
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

int sidecar_host_cpu_status(const struct sidecar_host *h, uint32_t cpu)
{
    uint32_t n, i;
    int rc = sidecar_host_locate(h, cpu, &n, &i);
    if (rc)
        return rc;
    return sidecar_control_page_cpu_status_load(h->nodes[n].control, i);
}

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

/* Moves IDLE -> to, rings the doorbell, waits until the status leaves
 * `to` for `done`. */
static int transact(struct sidecar_host *h, uint32_t cpu, uint8_t to, uint8_t done, uint64_t timeout_ns)
{
    uint32_t n, i;
    int rc = sidecar_host_locate(h, cpu, &n, &i);
    if (rc)
        return rc;
    if (!__atomic_load_n(&h->acquired[cpu], __ATOMIC_ACQUIRE))
        return SIDECAR_HOST_E_NOT_ACQUIRED;
    struct sidecar_control_page *cp = h->nodes[n].control;
    sidecar_cpu_status_t expected = SIDECAR_CPU_STATUS_IDLE;
    if (!sidecar_control_page_cpu_status_compare_exchange(cp, i, &expected, to)) {
        if (expected == SIDECAR_CPU_STATUS_REMOVED)
            return SIDECAR_HOST_E_REMOVED;
        return expected > SIDECAR_CPU_STATUS_REMOVE ? SIDECAR_HOST_E_STATE : SIDECAR_HOST_E_BUSY;
    }
    uint32_t vector = sidecar_control_page_request_vector_load(cp);
    if (vector)
        h->t.send_ipi(h->t.ctx, h->params->cpus[cpu].apic_id, vector);
    uint64_t start = h->t.now_ns(h->t.ctx);
    for (;;) {
        uint8_t s = sidecar_control_page_cpu_status_load(cp, i);
        if (s == done)
            return SIDECAR_HOST_OK;
        if (s != to && s != SIDECAR_CPU_STATUS_STOP)
            return SIDECAR_HOST_E_STATE;
        if (h->t.now_ns(h->t.ctx) - start > timeout_ns)
            return SIDECAR_HOST_E_TIMEOUT;
        if (h->t.relax)
            h->t.relax(h->t.ctx);
    }
}

int sidecar_host_run_command(struct sidecar_host *h, uint32_t cpu, uint32_t command, uint64_t timeout_ns)
{
    struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    if (!c)
        return h && cpu < h->cpu_count ? SIDECAR_HOST_E_REMOVED : SIDECAR_HOST_E_INVALID;
    if (sidecar_host_cpu_status(h, cpu) != SIDECAR_CPU_STATUS_IDLE)
        return sidecar_host_cpu_status(h, cpu) == SIDECAR_CPU_STATUS_REMOVED ? SIDECAR_HOST_E_REMOVED
                                                                             : SIDECAR_HOST_E_BUSY;
    __atomic_store_n(&c->command, command, __ATOMIC_RELAXED);
    int rc = transact(h, cpu, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_IDLE, timeout_ns);
    if (rc == SIDECAR_HOST_OK && __atomic_load_n(&c->has_error, __ATOMIC_ACQUIRE))
        return SIDECAR_HOST_E_COMMAND;
    return rc;
}

int sidecar_host_ping(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns)
{
    return sidecar_host_run_command(h, cpu, SIDECAR_COMMAND_NONE, timeout_ns);
}

int sidecar_host_remove(struct sidecar_host *h, uint32_t cpu, uint64_t timeout_ns)
{
    return transact(h, cpu, SIDECAR_CPU_STATUS_REMOVE, SIDECAR_CPU_STATUS_REMOVED, timeout_ns);
}

uint32_t sidecar_host_error_text(const struct sidecar_host *h, uint32_t cpu, char *buf, uint32_t size)
{
    const struct sidecar_command_page *c = sidecar_host_command_page(h, cpu);
    if (!buf || !size)
        return 0;
    uint32_t n = 0;
    if (c && c->has_error) {
        n = c->error.len;
        if (n > SIDECAR_ERROR_TEXT_SIZE)
            n = SIDECAR_ERROR_TEXT_SIZE;
        if (n > size - 1)
            n = size - 1;
        for (uint32_t i = 0; i < n; i++)
            buf[i] = (char)c->error.buf[i];
    }
    buf[n] = 0;
    return n;
}
