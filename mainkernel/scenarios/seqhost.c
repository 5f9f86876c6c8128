/* SPDX-License-Identifier: MIT */
/* Driving the sequence guest (seqhost.h). */
#include <scfree/scfree.h>

#include "seqhost.h"

extern const uint8_t mk_seq_start[], mk_seq_out[], mk_seq_spin[], mk_seq_end[];

#define CODE_OFFSET 0x380000ull     /* above the compute guest's stacks */
#define DATA_OFFSET 0x390000ull     /* one 64-byte block per CPU index */
#define TIMEOUT_NS 2000000000ull

_Static_assert(sizeof(struct mk_seq_data) == 64, "one block per CPU");

static uint64_t gaddr(const struct sidecar_params *p, const uint8_t *label)
{
    return p->guest_ram_base + CODE_OFFSET + (uint64_t)(label - mk_seq_start);
}

bool mk_seqg_load(const struct sidecar_params *p)
{
    if (p->guest_ram_size < DATA_OFFSET + 64ull * p->cpu_count ||
        p->guest_ram_base + p->guest_ram_size > (1ull << 32))
        return false;
    sc_memcpy((void *)(uintptr_t)(p->guest_ram_base + CODE_OFFSET), mk_seq_start,
              (uint64_t)(mk_seq_end - mk_seq_start));
    return true;
}

volatile struct mk_seq_data *mk_seqg_data(const struct sidecar_params *p, uint32_t cpu)
{
    return (volatile struct mk_seq_data *)(uintptr_t)(p->guest_ram_base + DATA_OFFSET + 64ull * cpu);
}

uint64_t mk_seqg_out_rip(const struct sidecar_params *p) { return gaddr(p, mk_seq_out); }

int mk_seqg_setup(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu)
{
    volatile struct mk_seq_data *d = mk_seqg_data(p, cpu);
    d->seq = 0;
    d->mode = MK_SEQ_EXIT;
    d->spins = 0;
    struct sidecar_hv_register_assoc a[4];
    sc_memset(a, 0, sizeof(a));
    a[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
    a[0].value.low = gaddr(p, mk_seq_spin);
    a[1].name = SIDECAR_HV_REGISTER_NAME_RSP;
    a[1].value.low = (uint64_t)(uintptr_t)d + 64;
    a[2].name = SIDECAR_HV_REGISTER_NAME_RFLAGS;
    a[2].value.low = 0x2;
    a[3].name = SIDECAR_HV_REGISTER_NAME_RBX;
    a[3].value.low = (uint64_t)(uintptr_t)d;
    return sidecar_host_set_registers(h, cpu, 0, a, 4, TIMEOUT_NS, 0);
}

const char *mk_seqg_completed(struct sidecar_host *h, uint32_t cpu, int result, struct mk_seq_vp *v)
{
    return mk_seqg_completed_vd(h, cpu, result, v, 0);
}

const char *mk_seqg_completed_vd(struct sidecar_host *h, uint32_t cpu, int result, struct mk_seq_vp *v,
                                 enum mk_seq_verdict *out)
{
    static char why[96];
    enum mk_seq_verdict vd = MK_SEQ_OK;
    if (out)
        *out = MK_SEQ_OK;
    if (result == SIDECAR_HOST_RUN_STOPPED) {
        vd = mk_seq_completed(v, false, 0, true);
    } else if (result == SIDECAR_HOST_RUN_INTERCEPT) {
        struct sidecar_hv_x64_io_port_intercept_message io;
        if (sidecar_host_intercept_io_port(h, cpu, &io) || io.port_number != MK_SEQ_PORT ||
            io.header.intercept_access_type != SIDECAR_INTERCEPT_ACCESS_WRITE) {
            sc_snprintf(why, sizeof(why), "cpu %u: not the guest's OUT", cpu);
            return why;
        }
        vd = mk_seq_completed(v, true, (uint32_t)io.rax, false);
        struct sidecar_hv_register_assoc a;
        sc_memset(&a, 0, sizeof(a));
        a.name = SIDECAR_HV_REGISTER_NAME_RIP;
        a.value.low = io.header.rip + sidecar_host_instruction_length(&io.header);
        int rc = sidecar_host_set_registers(h, cpu, 0, &a, 1, TIMEOUT_NS, 0);
        if (rc && vd == MK_SEQ_OK) {
            sc_snprintf(why, sizeof(why), "cpu %u: stepping over the OUT: %s", cpu, sidecar_host_strerror(rc));
            return why;
        }
    } else {
        sc_snprintf(why, sizeof(why), "cpu %u: run ended with %s", cpu, sidecar_host_strerror(result));
        return why;
    }
    if (vd != MK_SEQ_OK) {
        if (out)
            *out = vd;
        sc_snprintf(why, sizeof(why), "cpu %u: %s (seen %lu)", cpu, mk_seq_verdict_name(vd), v->seen);
        return why;
    }
    return 0;
}
