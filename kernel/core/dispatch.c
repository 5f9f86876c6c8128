/* SPDX-License-Identifier: MIT */
/* The dispatch loop: one sidecar CPU's status machine and command decoding.
 *
 * Status transitions (single-byte atomics, DESIGN.md section 4):
 *   host IDLE->RUN (+IPI)        we run the command, then RUN->IDLE
 *   host RUN->STOP (+IPI)        we end the run, then STOP->IDLE; a command
 *                                still untaken is run all the same (RUN_VP
 *                                enters nothing, answers intercept = 0)
 *   host IDLE->REMOVE (+IPI)     we quiesce, then REMOVE->REMOVED
 * Every move back to the host raises attention: needs_attention = 1 and,
 * when response_vector is not 0, an IPI to response_cpu.
 * Nothing the host wrote is trusted: command codes, counts and register
 * names are checked before use, and a bad command only sets has_error. */
#include <sidecar/kcore.h>

static void zero(void *p, uint32_t n)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

static uint8_t status_load(const struct sk_cpu *cpu)
{
    return sidecar_control_page_cpu_status_load(cpu->control, cpu->node_cpu);
}

void sk_cpu_init(struct sk_cpu *cpu, struct sidecar_control_page *control,
                 struct sidecar_command_page *command, void *register_page,
                 uint32_t node_cpu, uint32_t cpu_index,
                 const struct sk_arch *arch,
                 const struct sk_vp_backend *backend, void *vp)
{
    zero(cpu, sizeof(*cpu));
    cpu->control = control;
    cpu->command = command;
    cpu->register_page = register_page;
    cpu->node_cpu = node_cpu;
    cpu->cpu_index = cpu_index;
    cpu->arch = arch;
    cpu->backend = backend ? backend : &sk_no_backend;
    cpu->vp = vp;
}

bool sk_stop_requested(const struct sk_cpu *cpu)
{
    return status_load(cpu) == SIDECAR_CPU_STATUS_STOP;
}

void sk_command_fail(struct sk_cpu *cpu, const char *text)
{
    struct sidecar_command_page *c = cpu->command;
    uint32_t n = 0;
    while (text[n] && n < SIDECAR_ERROR_TEXT_SIZE) {
        c->error.buf[n] = (uint8_t)text[n];
        n++;
    }
    c->error.len = (uint8_t)n;
    __atomic_store_n(&c->has_error, 1, __ATOMIC_RELEASE);
    cpu->counters.errors++;
}

static void log_line(struct sk_cpu *cpu, const char *text)
{
    if (cpu->arch && cpu->arch->log)
        cpu->arch->log(cpu->arch->ctx, text);
}

/* needs_attention = 1, then the response IPI if the host asked for one.
 * The host writes response_vector and response_cpu: an exception vector
 * (below min_vector), a vector above 255 or the x2APIC broadcast ID
 * 0xffffffff gets no IPI (needs_attention still says it), counted and
 * logged once. The arch refuses its own mode's broadcast ID (xAPIC 0xff). */
/* response_cpu and response_vector are read as one 8-byte load, so a host
 * that moves its interrupt (a new vector on a new CPU) and writes both as
 * one store is never seen half-way: no IPI of the new vector to the old
 * CPU, where it may belong to another device or to nothing. */
_Static_assert(offsetof(struct sidecar_control_page, response_vector) ==
                       offsetof(struct sidecar_control_page, response_cpu) + 4 &&
                   offsetof(struct sidecar_control_page, response_cpu) % 8 == 0,
               "response_cpu and response_vector form one aligned 8-byte pair");
typedef uint64_t __attribute__((may_alias)) sk_u64_alias;

static void send_response(struct sk_cpu *cpu)
{
    uint64_t pair = __atomic_load_n((const sk_u64_alias *)(const void *)&cpu->control->response_cpu,
                                    __ATOMIC_SEQ_CST);
    uint32_t vector = (uint32_t)(pair >> 32);
    if (vector == 0)
        return;
    uint32_t dest = (uint32_t)pair;   /* little-endian: response_cpu is the low half */
    if (vector < SIDECAR_MIN_VECTOR || vector > 0xff || dest == 0xffffffffu) {
        if (cpu->counters.bad_response++ == 0)
            log_line(cpu, vector < SIDECAR_MIN_VECTOR || vector > 0xff
                              ? "response_vector: not in [32, 255]; no completion IPI"
                              : "response_cpu: the broadcast ID; no completion IPI");
        return;
    }
    if (cpu->arch && cpu->arch->send_ipi)
        cpu->arch->send_ipi(cpu->arch->ctx, dest, vector);
}

/* responses_in_flight (ABI 1.5) counts the CPUs between the read of the
 * pair and the IPI: the add is a locked read-modify-write, so it is seen
 * before the read of the pair; a host that writes vector 0 and then reads
 * 0 here knows that every CPU either read its 0 or has sent its IPI
 * (sidecar.ko waits so before it frees its vector: docs/linux-driver.md,
 * "Unloading"). */
static void raise_attention(struct sk_cpu *cpu)
{
    sidecar_control_page_needs_attention_store(cpu->control, 1);
    __atomic_fetch_add(&cpu->control->responses_in_flight, 1, __ATOMIC_SEQ_CST);
    send_response(cpu);
    __atomic_fetch_sub(&cpu->control->responses_in_flight, 1, __ATOMIC_SEQ_CST);
}

/* Moves from one of our expected states to next. Fails (and leaves the
 * byte alone) when the host changed it meanwhile to something else. */
static bool transition(struct sk_cpu *cpu, uint8_t from, uint8_t to)
{
    sidecar_cpu_status_t expected = from;
    return sidecar_control_page_cpu_status_compare_exchange(cpu->control, cpu->node_cpu,
                                                            &expected, to);
}

static void not_supported(struct sk_cpu *cpu)
{
    sk_command_fail(cpu, "not supported by this backend");
}

static void run_vp(struct sk_cpu *cpu)
{
    struct sidecar_run_vp_response *resp = (void *)cpu->command->request_data;
    if (!cpu->backend->run) {
        not_supported(cpu);
        return;
    }
    int rc = cpu->backend->run(cpu, cpu->vp, &cpu->command->intercept_message);
    if (rc < 0) {
        if (!cpu->command->has_error)
            sk_command_fail(cpu, "run_vp: the VP backend failed");
        return;
    }
    resp->intercept = rc > 0 ? 1 : 0;
}

static void get_set_registers(struct sk_cpu *cpu, bool set)
{
    struct sidecar_get_set_vp_registers_request *req = (void *)cpu->command->request_data;
    uint16_t count = req->count;
    if (count > SIDECAR_MAX_GET_SET_VP_REGISTERS) {
        req->status = SIDECAR_HV_STATUS_INVALID_PARAMETER;
        sk_command_fail(cpu, set ? "set_vp_registers: count exceeds the request capacity"
                                 : "get_vp_registers: count exceeds the request capacity");
        return;
    }
    if (set ? !cpu->backend->set_register : !cpu->backend->get_register) {
        req->status = SIDECAR_HV_STATUS_FEATURE_UNAVAILABLE;
        not_supported(cpu);
        return;
    }
    req->status = SIDECAR_HV_STATUS_SUCCESS;
    for (uint16_t i = 0; i < count; i++) {
        struct sidecar_hv_register_assoc *r = &req->regs[i];
        uint16_t st = set ? cpu->backend->set_register(cpu, cpu->vp, r->name, &r->value)
                          : cpu->backend->get_register(cpu, cpu->vp, r->name, &r->value);
        if (st != SIDECAR_HV_STATUS_SUCCESS) {
            /* The first failing register ends the batch; the ones before it
             * are done, later ones untouched (count is left as written). */
            req->status = st;
            return;
        }
    }
}

static void translate(struct sk_cpu *cpu)
{
    /* Request in, response out, in the same request_data bytes. */
    struct sidecar_translate_gva_request req;
    const uint8_t *src = cpu->command->request_data;
    uint8_t *dst = (uint8_t *)&req;
    for (uint32_t i = 0; i < sizeof(req); i++)
        dst[i] = src[i];
    struct sidecar_translate_gva_response *resp = (void *)cpu->command->request_data;
    if (!cpu->backend->translate_gva) {
        not_supported(cpu);
        return;
    }
    zero(resp, sizeof(*resp));
    if (cpu->backend->translate_gva(cpu, cpu->vp, &req, resp) < 0 && !cpu->command->has_error)
        sk_command_fail(cpu, "translate_gva: the VP backend failed");
}

/* REMOVE: the VP's state outside cpu_context into the command page's
 * removed_state, as a GET_VP_REGISTERS answer (sk_vp_backend.saved_names).
 * request_data keeps the last command's answer, which the host may not
 * have read yet. */
static void save_vp_state(struct sk_cpu *cpu)
{
    const struct sk_vp_backend *b = cpu->backend;
    struct sidecar_get_set_vp_registers_request *req = &cpu->command->removed_state;
    zero(req, sizeof(*req));
    if (!b->get_register || !b->saved_names)
        return;
    uint32_t n = b->saved_count < SIDECAR_MAX_GET_SET_VP_REGISTERS ? b->saved_count
                                                                    : SIDECAR_MAX_GET_SET_VP_REGISTERS;
    req->status = SIDECAR_HV_STATUS_SUCCESS;
    for (uint32_t i = 0; i < n; i++) {
        struct sidecar_hv_register_assoc *r = &req->regs[i];
        r->name = b->saved_names[i];
        uint16_t st = b->get_register(cpu, cpu->vp, r->name, &r->value);
        if (st != SIDECAR_HV_STATUS_SUCCESS) {
            req->status = st;
            break;
        }
        req->count = (uint16_t)(i + 1);
    }
}

static void run_command(struct sk_cpu *cpu)
{
    struct sidecar_command_page *c = cpu->command;
    uint32_t command = __atomic_load_n(&c->command, __ATOMIC_ACQUIRE);
    /* As OpenHCL's sidecar does: the command is replaced with NONE when it
     * is taken, and has_error is cleared at the start of every command. */
    __atomic_store_n(&c->command, SIDECAR_COMMAND_NONE, __ATOMIC_RELAXED);
    __atomic_store_n(&c->has_error, 0, __ATOMIC_RELAXED);
    c->error.len = 0;
    cpu->counters.commands++;
    switch (command) {
    case SIDECAR_COMMAND_NONE:
        cpu->counters.pings++;
        break;
    case SIDECAR_COMMAND_RUN_VP:
        run_vp(cpu);
        break;
    case SIDECAR_COMMAND_GET_VP_REGISTERS:
        get_set_registers(cpu, false);
        break;
    case SIDECAR_COMMAND_SET_VP_REGISTERS:
        get_set_registers(cpu, true);
        break;
    case SIDECAR_COMMAND_TRANSLATE_GVA:
        translate(cpu);
        break;
    default:
        sk_command_fail(cpu, "unknown command code");
        break;
    }
}

enum sk_step sk_dispatch_poll(struct sk_cpu *cpu)
{
    uint8_t s = status_load(cpu);
    switch (s) {
    case SIDECAR_CPU_STATUS_RUN:
    case SIDECAR_CPU_STATUS_STOP:
        /* As OpenHCL's sidecar does: a command found in RUN or in STOP is
         * executed, so its result, has_error and error text are always
         * those of this command (a STOP cannot say "cancelled before it
         * ran"). RUN_VP with a STOP pending enters nothing and answers
         * intercept = 0. A STOP that comes during the command ends it the
         * same way. */
        run_command(cpu);
        if (transition(cpu, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_IDLE) ||
            transition(cpu, SIDECAR_CPU_STATUS_STOP, SIDECAR_CPU_STATUS_IDLE)) {
            raise_attention(cpu);
            return s == SIDECAR_CPU_STATUS_STOP ? SK_STEP_STOPPED : SK_STEP_COMMAND;
        }
        cpu->counters.unknown_status++;
        return SK_STEP_NOTHING;
    case SIDECAR_CPU_STATUS_REMOVE:
        save_vp_state(cpu);
        if (cpu->arch && cpu->arch->quiesce)
            cpu->arch->quiesce(cpu->arch->ctx);
        if (transition(cpu, SIDECAR_CPU_STATUS_REMOVE, SIDECAR_CPU_STATUS_REMOVED)) {
            raise_attention(cpu);
            return SK_STEP_REMOVED;
        }
        return SK_STEP_NOTHING;
    case SIDECAR_CPU_STATUS_IDLE:
    case SIDECAR_CPU_STATUS_REMOVED:
        return SK_STEP_NOTHING;
    default:
        /* Not a status the host may write: leave it, count it, carry on. */
        if (cpu->counters.unknown_status++ == 0)
            log_line(cpu, "ignoring an unknown status byte");
        return SK_STEP_NOTHING;
    }
}

void sk_cpu_failed(struct sk_cpu *cpu, const char *text)
{
    sk_command_fail(cpu, text);
    if (cpu->arch && cpu->arch->quiesce)
        cpu->arch->quiesce(cpu->arch->ctx);
    sidecar_control_page_cpu_status_store(cpu->control, cpu->node_cpu, SIDECAR_CPU_STATUS_REMOVED);
    raise_attention(cpu);
}

void sk_dispatch_loop(struct sk_cpu *cpu)
{
    for (;;) {
        enum sk_step step = sk_dispatch_poll(cpu);
        if (step == SK_STEP_REMOVED)
            return;
        if (step == SK_STEP_NOTHING) {
            cpu->counters.wakeups++;
            cpu->arch->park(cpu->arch->ctx, &cpu->control->cpu_status[cpu->node_cpu]);
        }
    }
}

const struct sk_vp_backend sk_no_backend = {
    .name = "none",
    .run = 0,
    .get_register = 0,
    .set_register = 0,
    .translate_gva = 0,
};
