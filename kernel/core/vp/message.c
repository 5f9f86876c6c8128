/* SPDX-License-Identifier: MIT */
/* TLFS intercept messages built from the ring-3 VP's state, and the
 * classification of a trap out of CPL3 into one of them. */
#include "vp_internal.h"

#define IO_ACCESS_STRING 0x08u
#define IO_ACCESS_REP 0x10u
#define MEMORY_ACCESS_GVA_VALID 0x01u
#define MEMORY_ACCESS_GVA_GPA_VALID 0x02u
#define EXCEPTION_INFO_ERROR_CODE_VALID 0x01u
#define EXCEPTION_INFO_SOFTWARE 0x02u
#define CACHE_TYPE_UC 0u

/* The message starts all zero, with its type and payload size. */
static void start(struct sidecar_hv_message *msg, sidecar_hv_message_type_t type, uint32_t size)
{
    vp_zero(msg, sizeof(*msg));
    msg->header.message_type = type;
    msg->header.payload_size = (uint8_t)size;
}

/* Payload bytes are written through a byte copy of a local struct: the
 * payload is declared as u64[30], so no other lvalue type touches it. */
static void put(struct sidecar_hv_message *msg, const void *payload, uint32_t size)
{
    vp_copy(msg->payload, payload, size);
}

static void header(const struct sk_vp *vp, uint8_t instruction_length, uint8_t access,
                   struct sidecar_hv_x64_intercept_message_header *h)
{
    h->vp_index = vp->vp_index;
    uint8_t cr8 = vp->view ? vp->view->cr8 : 0;
    h->instruction_length_and_cr8 = (uint8_t)((instruction_length & 0x0fu) | (cr8 << 4));
    h->intercept_access_type = access;
    h->execution_state = vp->view ? vp->view->execution_state : SK_VP_EXECUTION_STATE;
    sk_vp_segment(vp, SIDECAR_HV_REGISTER_NAME_CS, &h->cs_segment);
    h->rip = vp->rip;
    h->rflags = vp->rflags;
}

/* Copies up to 16 instruction bytes; returns the count. */
static uint8_t put_bytes(uint8_t dst[16], const uint8_t *bytes, uint32_t nbytes)
{
    if (!bytes)
        return 0;
    uint32_t n = nbytes < SK_INSN_MAX_BYTES ? nbytes : SK_INSN_MAX_BYTES;
    vp_copy(dst, bytes, n);
    return (uint8_t)n;
}

void sk_vp_build_io(const struct sk_vp *vp, const struct sk_vp_io_access *io,
                    const uint8_t *bytes, uint32_t nbytes, struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_io_port_intercept_message m;
    vp_zero(&m, sizeof(m));
    header(vp, io->instruction_length,
           io->write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ, &m.header);
    m.port_number = io->port;
    m.access_info = (uint8_t)((io->size & 7u) | (io->string ? IO_ACCESS_STRING : 0) |
                              (io->rep ? IO_ACCESS_REP : 0));
    m.instruction_byte_count = put_bytes(m.instruction_bytes, bytes, nbytes);
    m.rax = vp->gpr[SK_VP_RAX];
    sk_vp_segment(vp, SIDECAR_HV_REGISTER_NAME_DS, &m.ds_segment);
    sk_vp_segment(vp, SIDECAR_HV_REGISTER_NAME_ES, &m.es_segment);
    m.rcx = vp->gpr[SK_VP_RCX];
    m.rsi = vp->gpr[SK_VP_RSI];
    m.rdi = vp->gpr[SK_VP_RDI];
    start(msg, SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, sizeof(m));
    put(msg, &m, sizeof(m));
}

void sk_vp_build_memory(const struct sk_vp *vp, sidecar_hv_message_type_t type,
                        uint8_t access, uint64_t gva, uint64_t gpa,
                        uint8_t instruction_length, const uint8_t *bytes,
                        uint32_t nbytes, struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_memory_intercept_message m;
    vp_zero(&m, sizeof(m));
    header(vp, instruction_length, access, &m.header);
    m.cache_type = CACHE_TYPE_UC;
    m.instruction_byte_count = put_bytes(m.instruction_bytes, bytes, nbytes);
    m.memory_access_info = MEMORY_ACCESS_GVA_VALID | MEMORY_ACCESS_GVA_GPA_VALID;
    m.guest_virtual_address = gva;
    m.guest_physical_address = gpa;
    start(msg, type, sizeof(m));
    put(msg, &m, sizeof(m));
}

void sk_vp_build_msr(const struct sk_vp *vp, bool write, uint8_t instruction_length,
                     struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_msr_intercept_message m;
    vp_zero(&m, sizeof(m));
    header(vp, instruction_length,
           write ? SIDECAR_INTERCEPT_ACCESS_WRITE : SIDECAR_INTERCEPT_ACCESS_READ, &m.header);
    m.msr_number = (uint32_t)vp->gpr[SK_VP_RCX];
    m.rdx = vp->gpr[SK_VP_RDX];
    m.rax = vp->gpr[SK_VP_RAX];
    start(msg, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, sizeof(m));
    put(msg, &m, sizeof(m));
}

void sk_vp_build_cpuid(const struct sk_vp *vp, uint8_t instruction_length,
                       const uint32_t defaults[4], struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_cpuid_intercept_message m;
    vp_zero(&m, sizeof(m));
    header(vp, instruction_length, SIDECAR_INTERCEPT_ACCESS_READ, &m.header);
    m.rax = vp->gpr[SK_VP_RAX];
    m.rcx = vp->gpr[SK_VP_RCX];
    m.rdx = vp->gpr[SK_VP_RDX];
    m.rbx = vp->gpr[SK_VP_RBX];
    if (defaults) {
        m.default_result_rax = defaults[0];
        m.default_result_rbx = defaults[1];
        m.default_result_rcx = defaults[2];
        m.default_result_rdx = defaults[3];
    }
    start(msg, SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT, sizeof(m));
    put(msg, &m, sizeof(m));
}

void sk_vp_build_header_message(const struct sk_vp *vp, sidecar_hv_message_type_t type,
                                uint8_t instruction_length, uint32_t payload_size,
                                struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_intercept_message_header h;
    vp_zero(&h, sizeof(h));
    header(vp, instruction_length, SIDECAR_INTERCEPT_ACCESS_READ, &h);
    if (payload_size < sizeof(h))
        payload_size = sizeof(h);
    if (payload_size > sizeof(msg->payload))
        payload_size = sizeof(msg->payload);
    start(msg, type, payload_size);
    put(msg, &h, sizeof(h));
}

void sk_vp_build_halt(const struct sk_vp *vp, uint8_t instruction_length,
                      struct sidecar_hv_message *msg)
{
    sk_vp_build_header_message(vp, SIDECAR_HV_MESSAGE_TYPE_X64_HALT, instruction_length,
                               sizeof(struct sidecar_hv_x64_intercept_message_header), msg);
}

static uint8_t pf_access(uint32_t error_code)
{
    if (error_code & SK_VP_PF_FETCH)
        return SIDECAR_INTERCEPT_ACCESS_EXECUTE;
    if (error_code & SK_VP_PF_WRITE)
        return SIDECAR_INTERCEPT_ACCESS_WRITE;
    return SIDECAR_INTERCEPT_ACCESS_READ;
}

/* The length of the instruction at RIP when the exception is a fault (RIP
 * is the faulting instruction, so a VMM may skip it); 0 for traps (#DB may
 * be either, #BP and #OF leave RIP after the instruction), aborts (#DF,
 * #MC) and bytes the decoder cannot size. */
static uint8_t fault_length(uint8_t vector, const uint8_t *bytes, uint32_t nbytes)
{
    if (!bytes || !nbytes || vector == 1 || vector == 3 || vector == 4 || vector == 8 || vector == 18)
        return 0;
    uint32_t len = sk_insn_length(bytes, nbytes);
    return len <= 15 ? (uint8_t)len : 0;
}

void sk_vp_build_exception(const struct sk_vp *vp, const struct sk_vp_exit *ex,
                           uint64_t parameter, const uint8_t *bytes, uint32_t nbytes,
                           struct sidecar_hv_message *msg)
{
    struct sidecar_hv_x64_exception_intercept_message m;
    vp_zero(&m, sizeof(m));
    uint8_t access = ex->vector == SK_VP_VECTOR_PF && ex->has_error_code
                         ? pf_access(ex->error_code) : SIDECAR_INTERCEPT_ACCESS_READ;
    header(vp, fault_length(ex->vector, bytes, nbytes), access, &m.header);
    m.exception_vector = ex->vector;
    m.exception_info = (uint8_t)((ex->has_error_code ? EXCEPTION_INFO_ERROR_CODE_VALID : 0) |
                                 (ex->vector == SK_VP_VECTOR_BP || ex->vector == SK_VP_VECTOR_OF
                                      ? EXCEPTION_INFO_SOFTWARE : 0));
    m.error_code = ex->has_error_code ? ex->error_code : 0;
    m.exception_parameter = parameter;
    m.instruction_byte_count = put_bytes(m.instruction_bytes, bytes, nbytes);
    sk_vp_segment(vp, SIDECAR_HV_REGISTER_NAME_DS, &m.ds_segment);
    sk_vp_segment(vp, SIDECAR_HV_REGISTER_NAME_SS, &m.ss_segment);
    m.rax = vp->gpr[SK_VP_RAX];
    m.rcx = vp->gpr[SK_VP_RCX];
    m.rdx = vp->gpr[SK_VP_RDX];
    m.rbx = vp->gpr[SK_VP_RBX];
    m.rsp = vp->gpr[SK_VP_RSP];
    m.rbp = vp->gpr[SK_VP_RBP];
    m.rsi = vp->gpr[SK_VP_RSI];
    m.rdi = vp->gpr[SK_VP_RDI];
    m.r8 = vp->gpr[SK_VP_R8];
    m.r9 = vp->gpr[SK_VP_R9];
    m.r10 = vp->gpr[SK_VP_R10];
    m.r11 = vp->gpr[SK_VP_R11];
    m.r12 = vp->gpr[SK_VP_R12];
    m.r13 = vp->gpr[SK_VP_R13];
    m.r14 = vp->gpr[SK_VP_R14];
    m.r15 = vp->gpr[SK_VP_R15];
    start(msg, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, sizeof(m));
    put(msg, &m, sizeof(m));
}

static bool in_ram(const struct sk_vp *vp, uint64_t a)
{
    return a >= vp->ram.base && a - vp->ram.base < vp->ram.size;
}

uint32_t sk_vp_fetch_limit(const struct sk_vp *vp, uint64_t rip)
{
    if (!in_ram(vp, rip))
        return 0;
    uint64_t left = vp->ram.size - (rip - vp->ram.base);
    return left < SK_INSN_MAX_BYTES ? (uint32_t)left : SK_INSN_MAX_BYTES;
}

/* #GP(0) on an instruction a ring-3 VP may not run: which intercept. */
static bool privileged_instruction(struct sk_vp *vp, const uint8_t *bytes, uint32_t nbytes,
                                   const uint32_t cpuid_defaults[4],
                                   struct sidecar_hv_message *msg)
{
    struct sk_insn insn;
    switch (sk_insn_decode(bytes, nbytes, &insn)) {
    case SK_INSN_IN:
    case SK_INSN_OUT:
    case SK_INSN_INS:
    case SK_INSN_OUTS: {
        struct sk_vp_io_access io = {
            .port = sk_insn_port(&insn, vp->gpr[SK_VP_RDX]),
            .size = insn.size,
            .write = insn.kind == SK_INSN_OUT || insn.kind == SK_INSN_OUTS,
            .string = (insn.flags & SK_INSN_F_STRING) != 0,
            .rep = (insn.flags & SK_INSN_F_REP) != 0,
            .instruction_length = insn.len,
        };
        sk_vp_build_io(vp, &io, bytes, nbytes, msg);
        return true;
    }
    case SK_INSN_HLT:
        sk_vp_build_halt(vp, insn.len, msg);
        return true;
    case SK_INSN_RDMSR:
    case SK_INSN_WRMSR:
        sk_vp_build_msr(vp, insn.kind == SK_INSN_WRMSR, insn.len, msg);
        return true;
    case SK_INSN_CPUID:
        sk_vp_build_cpuid(vp, insn.len, cpuid_defaults, msg);
        return true;
    default:
        return false;
    }
}

enum sk_vp_exit_action sk_vp_handle_exit(struct sk_vp *vp, const uint8_t *bytes, uint32_t nbytes,
                                         const uint32_t cpuid_defaults[4],
                                         struct sidecar_hv_message *msg)
{
    const struct sk_vp_exit *ex = &vp->exit;
    if (ex->vector >= SK_VP_FIRST_INTERRUPT || ex->vector == SK_VP_VECTOR_NMI)
        return SK_VP_EXIT_RESUME;
    if (!bytes)
        nbytes = 0;
    if (ex->vector == SK_VP_VECTOR_GP && ex->has_error_code && ex->error_code == 0 &&
        privileged_instruction(vp, bytes, nbytes, cpuid_defaults, msg)) {
        vp->stats.intercepts++;
        return SK_VP_EXIT_INTERCEPT;
    }
    if (ex->vector == SK_VP_VECTOR_PF && !in_ram(vp, ex->fault_address)) {
        /* GVA == GPA: an access outside guest RAM (MMIO). */
        uint8_t access = pf_access(ex->error_code);
        uint32_t len = 0;
        if (access == SIDECAR_INTERCEPT_ACCESS_EXECUTE)
            nbytes = 0;          /* nothing to fetch at RIP */
        else
            len = sk_insn_length(bytes, nbytes);
        sk_vp_build_memory(vp, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, access,
                           ex->fault_address, ex->fault_address, (uint8_t)len,
                           bytes, nbytes, msg);
        vp->stats.intercepts++;
        return SK_VP_EXIT_INTERCEPT;
    }
    uint64_t parameter = ex->vector == SK_VP_VECTOR_PF || ex->vector == SK_VP_VECTOR_DB
                             ? ex->fault_address : 0;
    sk_vp_build_exception(vp, ex, parameter, bytes, nbytes, msg);
    vp->stats.intercepts++;
    return SK_VP_EXIT_INTERCEPT;
}
