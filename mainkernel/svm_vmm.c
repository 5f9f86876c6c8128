/* SPDX-License-Identifier: MIT */
/* The main kernel's VMM helpers for hardware VPs (svm_vmm.h). */
#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "svm_vmm.h"

#define N(x) SIDECAR_HV_REGISTER_NAME_##x

int mk_svm_set(struct sidecar_host *h, uint32_t cpu, uint32_t name, uint64_t value)
{
    struct sidecar_hv_register_assoc r;
    sc_memset(&r, 0, sizeof(r));
    r.name = name;
    r.value.low = value;
    return sidecar_host_set_registers(h, cpu, 0, &r, 1, MK_SVM_TIMEOUT_NS, NULL);
}

int mk_svm_get(struct sidecar_host *h, uint32_t cpu, uint32_t name, uint64_t *value)
{
    struct sidecar_hv_register_assoc r;
    sc_memset(&r, 0, sizeof(r));
    r.name = name;
    int rc = sidecar_host_get_registers(h, cpu, 0, &r, 1, MK_SVM_TIMEOUT_NS, NULL);
    if (!rc)
        *value = r.value.low;
    return rc;
}

int mk_svm_skip(struct sidecar_host *h, uint32_t cpu, const struct sidecar_hv_x64_intercept_message_header *hdr)
{
    return mk_svm_set(h, cpu, N(RIP), hdr->rip + sidecar_host_instruction_length(hdr));
}

static void seg(struct sidecar_hv_register_assoc *r, uint32_t name, uint16_t sel, uint64_t base, uint16_t attr)
{
    sc_memset(r, 0, sizeof(*r));
    r->name = name;
    struct sidecar_hv_x64_segment_register s = { .base = base, .limit = 0xffff, .selector = sel, .attributes = attr };
    sc_memcpy(&r->value, &s, sizeof(s));
}

static void val(struct sidecar_hv_register_assoc *r, uint32_t name, uint64_t v)
{
    sc_memset(r, 0, sizeof(*r));
    r->name = name;
    r->value.low = v;
}

int mk_svm_reset_vp(struct sidecar_host *h, uint32_t cpu)
{
    struct sidecar_hv_register_assoc r[24];
    unsigned k = 0;
    /* Order matters where the sidecar checks consistency: leave long mode
     * (EFER after CR0) and drop the segments' long-mode bits first. */
    val(&r[k++], N(CR0), 0x60000010ull);
    val(&r[k++], N(EFER), 0);
    val(&r[k++], N(CR4), 0);
    val(&r[k++], N(CR3), 0);
    seg(&r[k++], N(CS), 0xf000, 0xffff0000ull, 0x009b);
    seg(&r[k++], N(DS), 0, 0, 0x0093);
    seg(&r[k++], N(ES), 0, 0, 0x0093);
    seg(&r[k++], N(FS), 0, 0, 0x0093);
    seg(&r[k++], N(GS), 0, 0, 0x0093);
    seg(&r[k++], N(SS), 0, 0, 0x0093);
    seg(&r[k++], N(LDTR), 0, 0, 0x0082);
    seg(&r[k++], N(TR), 0, 0, 0x008b);
    sc_memset(&r[k], 0, sizeof(r[k]));
    r[k].name = N(GDTR);
    struct sidecar_hv_x64_table_register t = { .limit = 0xffff, .base = 0 };
    sc_memcpy(&r[k++].value, &t, sizeof(t));
    sc_memset(&r[k], 0, sizeof(r[k]));
    r[k].name = N(IDTR);
    sc_memcpy(&r[k++].value, &t, sizeof(t));
    val(&r[k++], N(RIP), 0xfff0);
    val(&r[k++], N(RFLAGS), 0x2);
    val(&r[k++], N(RSP), 0);
    val(&r[k++], N(DR7), 0x400);
    val(&r[k++], N(DR6), 0xffff0ff0ull);
    val(&r[k++], N(PENDING_INTERRUPTION), 0);
    val(&r[k++], N(INTERRUPT_STATE), 0);
    val(&r[k++], N(INTERNAL_ACTIVITY_STATE), 0);
    val(&r[k++], N(DELIVERABILITY_NOTIFICATIONS), 0);
    return sidecar_host_set_registers(h, cpu, 0, r, k, MK_SVM_TIMEOUT_NS, NULL);
}
