/* SPDX-License-Identifier: MIT */
/* libFuzzer: libsidecar-host's reading of what a sidecar writes.
 *
 * A host is opened over a fake transport whose control and command pages
 * start as a healthy 2-node, 8-CPU sidecar would leave them and are then
 * rewritten by the input: before open (so open itself sees bad control
 * pages, and params/output pages with odd fields), between API calls, and whenever the library rings a doorbell or
 * sleeps (the fake "sidecar" answers a command with fuzzer-chosen status
 * bytes, command codes, has_error, error text, responses and intercept
 * messages). The input is a program of API calls on fuzzer-chosen CPUs:
 * status, error text, every typed intercept accessor, ping/run/wait/stop/
 * remove/wait_any with zero or tiny timeouts, register batches, translate.
 *
 * Every shared region is its own exact-size allocation, so any read or
 * write outside a page is an ASan report. Besides the sanitizers, results
 * are checked against the API's contract (codes in range, error text
 * NUL-terminated and shorter than the buffer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/host.h>

#define NODES 2u
#define PER_NODE 4u
#define CPUS (NODES * PER_NODE)
#define PAGE SIDECAR_PAGE_SIZE
#define CONTROL_PA(n) (0x10000000ull + (uint64_t)(n) * 0x100000ull)
#define SHMEM_PA(n) (CONTROL_PA(n) + PAGE)
#define SHMEM_SIZE (2ull * PER_NODE * PAGE)
#define APIC(c) (0x10u + (c))
#include "fuzz_world.h"

/* A broken promise of the API: say which, then crash (libFuzzer keeps the input). */
#define BROKEN(what)                                                        \
    do {                                                                    \
        fprintf(stderr, "fuzz_hostlib.c:%d: contract broken: %s\n", __LINE__, what); \
        abort();                                                            \
    } while (0)

/* ---- the input stream ---------------------------------------------------- */

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t u8(void)
{
    return in_pos < in_len ? in[in_pos++] : 0;
}

static uint16_t u16(void)
{
    uint16_t v = u8();
    return (uint16_t)(v | (uint16_t)u8() << 8);
}

static uint64_t u64(void)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)u8() << (8 * i);
    return v;
}

/* ---- the pages ------------------------------------------------------------ */

static struct sidecar_params *params;
static struct sidecar_output *output;
static uint8_t *control[NODES];
static uint8_t *shmem[NODES];
static struct sidecar_host host;
static uint64_t clock_ns;

static void __attribute__((constructor)) setup(void)
{
    params = aligned_alloc(PAGE, sizeof(*params));
    output = aligned_alloc(PAGE, sizeof(*output));
    for (uint32_t n = 0; n < NODES; n++) {
        control[n] = aligned_alloc(PAGE, PAGE);
        shmem[n] = aligned_alloc(PAGE, SHMEM_SIZE);
    }
    if (!params || !output || !control[0] || !control[1] || !shmem[0] || !shmem[1])
        abort();
}

/* The healthy state: params/output as a shim and kernel leave them (CPUs
 * in main_mask are main-kernel CPUs), control pages with the right magic,
 * sidecar CPUs IDLE, command pages zero. */
static void reset(uint8_t main_mask)
{
    fuzz_world_healthy(params, output, control, shmem, SHMEM_SIZE, APIC(0), main_mask);
}

static struct sidecar_command_page *command_page(uint32_t cpu)
{
    return (void *)(shmem[cpu / PER_NODE] + (uint64_t)(cpu % PER_NODE) * 2 * PAGE);
}

/* Writes input bytes somewhere in the shared pages: the control pages and
 * every command/register page, seen as one byte range. */
static void patch(void)
{
    const uint32_t per = PAGE + (uint32_t)SHMEM_SIZE;
    uint32_t off = (uint32_t)(u16() | (uint32_t)u8() << 16) % (NODES * per);
    uint32_t len = u8() % 64 + 1;
    for (uint32_t k = 0; k < len; k++, off = (off + 1) % (NODES * per)) {
        uint32_t n = off / per, o = off % per;
        uint8_t b = u8();
        if (o < PAGE)
            control[n][o] = b;
        else
            shmem[n][o - PAGE] = b;
    }
}

/* Writes input bytes into params or output before open (both are checked
 * by open: the validators, then the cross-checks against the control
 * pages). */
static void patch_struct(void *base, uint32_t size)
{
    uint32_t off = u16() % size, len = u8() % 16 + 1;
    for (uint32_t k = 0; k < len && off + k < size; k++)
        ((uint8_t *)base)[off + k] = u8();
}

/* What the fake sidecar does when it is woken (a doorbell IPI) or while
 * the library waits: nothing, or a fuzzer-chosen mix of a status byte, the
 * command code, has_error and its text, the RUN_VP answer, and patches. */
static void sidecar_acts(uint32_t cpu)
{
    if (cpu >= CPUS)
        cpu = u8() % CPUS;
    uint8_t a = u8();
    if (!a)
        return;
    struct sidecar_command_page *c = command_page(cpu);
    struct sidecar_control_page *cp = (void *)control[cpu / PER_NODE];
    if (a & 0x01)
        c->command = (a & 0x80) ? u16() : SIDECAR_COMMAND_NONE;
    if (a & 0x02) {
        c->has_error = u8();
        c->error.len = u8();
        for (uint32_t k = 0, n = u8() % 16; k < n; k++)
            c->error.buf[k] = u8();
    }
    if (a & 0x04)
        c->request_data[0] = u8();
    if (a & 0x08) {
        /* A known type by index, or any 32-bit value. */
        static const uint32_t known[] = {
            SIDECAR_HV_MESSAGE_TYPE_NONE, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA,
            SIDECAR_HV_MESSAGE_TYPE_GPA_INTERCEPT, SIDECAR_HV_MESSAGE_TYPE_UNACCEPTED_GPA,
            SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT,
            SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT,
            SIDECAR_HV_MESSAGE_TYPE_X64_HALT,
        };
        uint8_t t = u8();
        c->intercept_message.header.message_type =
            t < sizeof(known) / sizeof(known[0]) ? known[t] : (uint32_t)u16() << 16 | u16();
        c->intercept_message.header.payload_size = u8();
        uint8_t *payload = (uint8_t *)c->intercept_message.payload;
        for (uint32_t k = 0, n = u8() % 32; k < n; k++)
            payload[k] = u8();
    }
    if (a & 0x10)
        patch();
    if (a & 0x20)
        cp->needs_attention = 1;
    /* Last, as a sidecar publishes the end of a command. */
    if (a & 0x40)
        cp->cpu_status[cpu % PER_NODE] = (a & 0x80) ? u8() : SIDECAR_CPU_STATUS_IDLE;
}

/* ---- the fake transport ---------------------------------------------------- */

static void *t_map(void *ctx, uint64_t pa, uint64_t size)
{
    (void)ctx;
    for (uint32_t n = 0; n < NODES; n++) {
        if (pa == CONTROL_PA(n) && size <= PAGE)
            return control[n];
        if (pa == SHMEM_PA(n) && size <= SHMEM_SIZE)
            return shmem[n];
    }
    return NULL;
}

static void t_send_ipi(void *ctx, uint32_t apic_id, uint32_t vector)
{
    (void)ctx;
    if (vector < SIDECAR_MIN_VECTOR || vector > 0xff)
        BROKEN("an IPI with an exception vector (below 32) or above 0xff");
    if (apic_id == 0xffffffffu)
        BROKEN("an IPI to the broadcast ID");
    sidecar_acts(apic_id - APIC(0));
}

static uint64_t t_now(void *ctx)
{
    (void)ctx;
    return clock_ns += 1000000;      /* 1 ms per look: every wait ends */
}

static void t_relax(void *ctx)
{
    (void)ctx;
    sidecar_acts(CPUS);
}

static uint32_t epoch;
static uint32_t t_epoch(void *ctx)
{
    (void)ctx;
    return epoch;
}

static void t_wait(void *ctx, uint32_t e, uint64_t timeout_ns)
{
    (void)ctx;
    (void)e;
    if (timeout_ns > 50000000ull)
        BROKEN("a wait longer than 50 ms");
    epoch++;
    sidecar_acts(CPUS);
}

/* ---- the contract ----------------------------------------------------------- */

static void check_code(int rc)
{
    if (rc < SIDECAR_HOST_E_VECTOR || rc > SIDECAR_HOST_RUN_INTERCEPT)
        BROKEN("a result code out of range");
}

static uint64_t timeout(void)
{
    static const uint64_t t[4] = { 0, 0, 1000000, 5000000 };
    return t[u8() & 3];
}

static void read_intercept(uint32_t cpu)
{
    struct sidecar_hv_message m;
    struct sidecar_hv_x64_intercept_message_header hdr;
    struct sidecar_hv_x64_io_port_intercept_message io;
    struct sidecar_hv_x64_memory_intercept_message mem;
    struct sidecar_hv_x64_msr_intercept_message msr;
    struct sidecar_hv_x64_cpuid_intercept_message cpuid;
    struct sidecar_hv_x64_exception_intercept_message ex;
    uint32_t type;
    check_code(sidecar_host_intercept_message(&host, cpu, &m));
    check_code(sidecar_host_intercept_type(&host, cpu, &type));
    if (sidecar_host_intercept_header(&host, cpu, &hdr) == SIDECAR_HOST_OK &&
        sidecar_host_instruction_length(&hdr) > 15)
        (void)0;                     /* a sidecar may claim anything; the caller checks */
    check_code(sidecar_host_intercept_io_port(&host, cpu, &io));
    check_code(sidecar_host_intercept_memory(&host, cpu, &mem));
    check_code(sidecar_host_intercept_msr(&host, cpu, &msr));
    check_code(sidecar_host_intercept_cpuid(&host, cpu, &cpuid));
    check_code(sidecar_host_intercept_exception(&host, cpu, &ex));
}

static void error_text(uint32_t cpu)
{
    uint32_t size = u8() % 300;
    char *buf = malloc(size ? size : 1);
    uint32_t n = sidecar_host_error_text(&host, cpu, size ? buf : NULL, size);
    /* (A sidecar may put NULs inside its text: then strlen(buf) < n.) */
    if (size && (n >= size || buf[n] != 0))
        BROKEN("error text not NUL-terminated at its length inside the buffer");
    if (!size && n)
        BROKEN("error text into a zero-size buffer");
    free(buf);
}

static void registers(uint32_t cpu, int set)
{
    uint32_t count = u8() % (2 * SIDECAR_MAX_GET_SET_VP_REGISTERS + 2);
    struct sidecar_hv_register_assoc *regs = calloc(count ? count : 1, sizeof(*regs));
    for (uint32_t k = 0; k < count; k++) {
        regs[k].name = u8() & 1 ? SIDECAR_HV_REGISTER_NAME_RAX + k : u16();
        regs[k].value.low = k;
    }
    struct sidecar_host_hv_error err = { 0, 0 };
    int rc = set ? sidecar_host_set_registers(&host, cpu, 0, regs, count, timeout(), &err)
                 : sidecar_host_get_registers(&host, cpu, 0, regs, count, timeout(), &err);
    check_code(rc);
    if (rc == SIDECAR_HOST_E_HV_STATUS && (err.index >= count || err.status == SIDECAR_HV_STATUS_SUCCESS))
        BROKEN("E_HV_STATUS without a failing register");
    free(regs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_len = size;
    in_pos = 0;
    clock_ns = 0;
    epoch = 0;
    uint8_t main_mask = u8();
    uint8_t flags = u8();
    reset(main_mask);
    for (uint32_t k = 0, n = flags & 3; k < n; k++)
        patch();                     /* what open sees */
    if (flags & 8)
        patch_struct(params, sizeof(*params));
    if (flags & 16)
        patch_struct(output, sizeof(*output));
    struct sidecar_host_transport t = {
        .map = t_map, .send_ipi = t_send_ipi, .now_ns = t_now, .relax = t_relax,
    };
    if (flags & 4) {
        t.epoch = t_epoch;
        t.wait = t_wait;
    }
    int rc = sidecar_host_open(&host, &t, params, output);
    check_code(rc);
    if (rc != SIDECAR_HOST_OK)
        return 0;
    if (sidecar_host_cpu_count(&host) != CPUS || sidecar_host_node_count(&host) != NODES)
        BROKEN("counts after open");
    for (uint32_t steps = 0; in_pos < in_len && steps < 64; steps++) {
        uint8_t op = u8();
        uint32_t cpu = u8() % (CPUS + 1);  /* CPUS: out of range */
        switch (op % 20) {
        case 0: {
            int s = sidecar_host_cpu_status(&host, cpu);
            if (s > 0xff || s < SIDECAR_HOST_E_VECTOR)
                BROKEN("cpu_status out of range");
            break;
        }
        case 1:
            error_text(cpu);
            break;
        case 2:
            read_intercept(cpu);
            break;
        case 3:
            check_code(sidecar_host_acquire(&host, cpu));
            break;
        case 4:
            sidecar_host_release(&host, cpu);
            break;
        case 5:
            check_code(sidecar_host_ping(&host, cpu, timeout()));
            break;
        case 6:
            check_code(sidecar_host_run_vp(&host, cpu, timeout()));
            break;
        case 7:
            check_code(sidecar_host_run_vp_start(&host, cpu));
            break;
        case 8:
            check_code(sidecar_host_wait(&host, cpu, timeout()));
            break;
        case 9: {
            struct sidecar_host_completion done;
            rc = sidecar_host_wait_any(&host, timeout(), &done);
            check_code(rc);
            if (rc == SIDECAR_HOST_OK) {
                check_code(done.result);
                if (done.cpu >= CPUS)
                    BROKEN("wait_any completed a CPU that does not exist");
            }
            break;
        }
        case 10:
            check_code(sidecar_host_stop(&host, cpu));
            break;
        case 11:
            check_code(sidecar_host_remove(&host, cpu, timeout()));
            break;
        case 12:
            registers(cpu, 0);
            break;
        case 13:
            registers(cpu, 1);
            break;
        case 14: {
            struct sidecar_translate_gva_output out;
            uint16_t st;
            check_code(sidecar_host_translate_gva(&host, cpu, u64(), u64(), timeout(), &out, &st));
            break;
        }
        case 15: {
            struct sidecar_host_node_info info;
            uint32_t node, index;
            check_code(sidecar_host_node_info(&host, cpu % (NODES + 1), &info));
            rc = sidecar_host_locate(&host, cpu, &node, &index);
            check_code(rc);
            if (rc == SIDECAR_HOST_OK && (node >= NODES || index >= PER_NODE))
                BROKEN("locate out of range");
            struct sidecar_command_page *c = sidecar_host_command_page(&host, cpu);
            if (c && c != command_page(cpu))
                BROKEN("the wrong command page");
            break;
        }
        case 16:
            sidecar_acts(cpu);       /* the sidecar writes at any time */
            break;
        default:
            patch();
            break;
        }
    }
    sidecar_host_close(&host);
    return 0;
}
