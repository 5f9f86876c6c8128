/* SPDX-License-Identifier: MIT */
/* The generated validators: valid pages pass; each single-constraint and
 * cross-field violation is rejected with the right code and field path. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/validate.h>

static struct sidecar_params *p;
static struct sidecar_abi_error err;

/* A valid params block: 8 CPUs (CPU 0 main), 2 nodes of 4 and 3 CPUs. */
static void setup(void)
{
    p = aligned_alloc(4096, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->magic = SIDECAR_PARAMS_MAGIC;
    p->abi_major = SIDECAR_ABI_MAJOR;
    p->size = sizeof(*p);
    p->node_count = 2;
    p->cpu_count = 8;
    p->trampoline_page = 0x8000;
    p->ap_timeout_us = 100000;
    p->serial_port = 0x3f8;
    for (uint32_t i = 0; i < 8; i++) {
        p->cpus[i].apic_id = i * 2;
        p->cpus[i].role = i ? SIDECAR_CPU_ROLE_SIDECAR : SIDECAR_CPU_ROLE_MAIN;
    }
    p->nodes[0] = (struct sidecar_params_node){ 0x1000000, 0x100000, 1, 4 };
    p->nodes[1] = (struct sidecar_params_node){ 0x1100000, 0x100000, 5, 3 };
    memset(&err, 0, sizeof(err));
}

static void teardown(void) { free(p); }

TestSuite(params, .init = setup, .fini = teardown);

static void rejects(sidecar_abi_result_t code, const char *message)
{
    sidecar_abi_result_t rc = sidecar_params_validate(p, &err);
    cr_assert_eq(rc, code, "code %u (%s), message \"%s\"", rc, sidecar_abi_result_name(rc), err.message);
    cr_assert_str_eq(err.message, message);
}

Test(params, valid_passes)
{
    sidecar_abi_result_t rc = sidecar_params_validate(p, &err);
    cr_assert_eq(rc, SIDECAR_ABI_OK, "%s", err.message);
}

Test(params, bad_magic) { p->magic = 1; rejects(SIDECAR_ABI_E_MISMATCH, "magic: expected 0x534e524150524353, found 0x1"); }
Test(params, abi_major) { p->abi_major = 9; rejects(SIDECAR_ABI_E_MISMATCH, "abi_major: expected 0x1, found 0x9"); }
Test(params, bool_field) { p->enable_logging = 2; rejects(SIDECAR_ABI_E_BOOL, "enable_logging: not a boolean (0x2)"); }
Test(params, enum_field) { p->apic_mode = 7; rejects(SIDECAR_ABI_E_ENUM, "apic_mode: not a valid apic_mode (0x7)"); }
Test(params, reserved_nonzero) { p->reserved3[5] = 1; rejects(SIDECAR_ABI_E_NOT_ZERO, "reserved3: must be zero (byte 5 is 0x1)"); }
/* Found by the QEMU params corruption (tests/qemu/params_corrupt.py): a
 * reserved field that is a single scalar (not an array) was never checked. */
Test(params, reserved_scalar_nonzero) { p->reserved0 = 1; rejects(SIDECAR_ABI_E_NOT_ZERO, "reserved0: must be zero (0x1)"); }
Test(params, nested_reason) { p->cpus[3].reason = 9; rejects(SIDECAR_ABI_E_ENUM, "cpus[3].reason: not a valid cpu_reason (0x9)"); }
Test(params, test_fault_cpu_range) { p->test_fault_cpu = 5000; rejects(SIDECAR_ABI_E_RANGE, "test_fault_cpu: out of range [0, 2048] (5000)"); }
Test(params, range) { p->node_count = 0; rejects(SIDECAR_ABI_E_RANGE, "node_count: out of range [1, 128] (0)"); }
Test(params, alignment) { p->trampoline_page = 0x8010; rejects(SIDECAR_ABI_E_ALIGN, "trampoline_page: not aligned to 0x1000 (0x8010)"); }
Test(params, nested_alignment) { p->nodes[1].memory_base = 0x1100010; rejects(SIDECAR_ABI_E_ALIGN, "nodes[1].memory_base: not aligned to 0x1000 (0x1100010)"); }
Test(params, nested_role) { p->cpus[3].role = 9; rejects(SIDECAR_ABI_E_ENUM, "cpus[3].role: not a valid cpu_role (0x9)"); }
Test(params, unsorted_nodes)
{
    struct sidecar_params_node t = p->nodes[0];
    p->nodes[0] = p->nodes[1];
    p->nodes[1] = t;
    rejects(SIDECAR_ABI_E_ORDER, "nodes[1].base_cpu: not sorted: 0x1 comes after 0x5 in nodes[0]");
}
Test(params, overlapping_nodes)
{
    p->nodes[1].base_cpu = 4;
    p->nodes[1].cpu_count = 4;
    rejects(SIDECAR_ABI_E_OVERLAP, "nodes[1].base_cpu: 0x4 overlaps nodes[0], which ends at 0x5");
}
Test(params, node_beyond_cpu_count)
{
    p->nodes[1].cpu_count = 4;
    rejects(SIDECAR_ABI_E_LIMIT, "nodes[1].cpu_count: range ends at 9, beyond cpu_count (8)");
}
Test(params, memory_too_small)
{
    p->nodes[0].memory_size = 0x1000;
    rejects(SIDECAR_ABI_E_MEMORY, "nodes[0].memory_size: 0x1000 bytes, but 4 CPUs need 0x2c000");
}
Test(params, duplicate_apic_id)
{
    p->cpus[6].apic_id = p->cpus[2].apic_id;
    rejects(SIDECAR_ABI_E_DUPLICATE, "cpus[6].apic_id: 0x4 duplicates cpus[2]");
}
/* The check is a bitmap below 4096 and pairwise above it; the message is
 * the same either way: the first entry that repeats an earlier one, and
 * the first earlier entry it repeats. */
Test(params, duplicate_apic_id_first_repeat)
{
    p->cpus[5].apic_id = p->cpus[1].apic_id;
    p->cpus[7].apic_id = p->cpus[1].apic_id;
    p->cpus[6].apic_id = p->cpus[3].apic_id;
    rejects(SIDECAR_ABI_E_DUPLICATE, "cpus[5].apic_id: 0x2 duplicates cpus[1]");
}
Test(params, duplicate_apic_id_large)
{
    p->cpus[2].apic_id = 4096;
    p->cpus[4].apic_id = 0xfffffffe;
    p->cpus[6].apic_id = 4096;
    rejects(SIDECAR_ABI_E_DUPLICATE, "cpus[6].apic_id: 0x1000 duplicates cpus[2]");
}
Test(params, duplicate_apic_id_bitmap_edge)
{
    p->cpus[1].apic_id = 4095;
    p->cpus[3].apic_id = 4096;
    p->cpus[7].apic_id = 4095;
    rejects(SIDECAR_ABI_E_DUPLICATE, "cpus[7].apic_id: 0xfff duplicates cpus[1]");
}
Test(params, distinct_large_apic_ids)
{
    for (uint32_t i = 0; i < p->cpu_count; i++)
        p->cpus[i].apic_id = 4094 + i * 0x10000001u;
    cr_assert_eq(sidecar_params_validate(p, &err), SIDECAR_ABI_OK, "%s", err.message);
}
Test(params, bsp_beyond_cpu_count)
{
    p->bsp_cpu = 8;
    rejects(SIDECAR_ABI_E_LIMIT, "bsp_cpu: 8 is not below cpu_count (8)");
}
Test(params, overlapping_memory)
{
    p->guest_ram_base = 0x1000000;
    p->guest_ram_size = 0x200000;
    sidecar_abi_result_t rc = sidecar_params_validate(p, &err);
    cr_assert_eq(rc, SIDECAR_ABI_E_OVERLAP, "%s", err.message);
    cr_assert(strstr(err.message, "overlaps") != NULL, "%s", err.message);
}
Test(params, count_over_capacity)
{
    p->cpu_count = SIDECAR_MAX_CPUS + 1;
    sidecar_abi_result_t rc = sidecar_params_validate(p, &err);
    cr_assert_neq(rc, SIDECAR_ABI_OK);
}

Test(control_page, status_enum_checked_only_within_cpu_count)
{
    struct sidecar_control_page *cp = aligned_alloc(4096, 4096);
    memset(cp, 0, 4096);
    cp->magic = SIDECAR_CONTROL_MAGIC;
    cp->abi_major = SIDECAR_ABI_MAJOR;
    cp->cpu_count = 2;
    cp->cpu_status[5] = 0xee;   /* beyond cpu_count: not read */
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_OK, "%s", err.message);
    cp->cpu_status[1] = 9;
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_E_ENUM, "%s", err.message);
    cr_assert_str_eq(err.message, "cpu_status[1]: not a valid cpu_status (0x9)");
    free(cp);
}

/* Request and completion vectors: 0 (no IPI) or min_vector..255, never an
 * exception vector. */
Test(control_page, vectors_below_32_refused)
{
    struct sidecar_control_page *cp = aligned_alloc(4096, 4096);
    memset(cp, 0, 4096);
    cp->magic = SIDECAR_CONTROL_MAGIC;
    cp->abi_major = SIDECAR_ABI_MAJOR;
    cp->cpu_count = 1;
    cp->cpu_status[0] = SIDECAR_CPU_STATUS_IDLE;
    cr_assert_eq(SIDECAR_MIN_VECTOR, 32);
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_OK, "0 (no IPI): %s", err.message);
    cp->request_vector = 32;
    cp->response_vector = 0xff;
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_OK, "%s", err.message);
    cp->request_vector = 31;
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_E_RANGE, "%s", err.message);
    cr_assert_str_eq(err.message, "request_vector: neither 0 nor in [32, 255] (31)");
    cp->request_vector = 0x20;
    cp->response_vector = 2;
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_E_RANGE, "%s", err.message);
    cr_assert_str_eq(err.message, "response_vector: neither 0 nor in [32, 255] (2)");
    cp->response_vector = 0x100;
    cr_assert_eq(sidecar_control_page_validate(cp, &err), SIDECAR_ABI_E_RANGE, "%s", err.message);
    free(cp);
}

Test(request, register_count_over_capacity)
{
    struct sidecar_get_set_vp_registers_request r;
    memset(&r, 0, sizeof(r));
    r.count = 32;
    sidecar_abi_result_t rc = sidecar_get_set_vp_registers_request_validate(&r, &err);
    cr_assert_eq(rc, SIDECAR_ABI_E_RANGE, "%s", err.message);
    cr_assert_str_eq(err.message, "count: out of range [0, 31] (32)");
}

Test(handoff, valid_then_unsorted_map_and_count)
{
    struct sidecar_handoff *h = aligned_alloc(4096, sizeof(*h));
    memset(h, 0, sizeof(*h));
    h->magic = SIDECAR_HANDOFF_MAGIC;
    h->abi_major = SIDECAR_ABI_MAJOR;
    h->sidecar_enabled = 1;
    h->params_pa = 0x200000;
    h->output_pa = 0x300000;
    h->memory_range_count = 2;
    h->memory_map[0] = (struct sidecar_memory_range){ 0, 0x9f000, 1, 0 };
    h->memory_map[1] = (struct sidecar_memory_range){ 0x100000, 0x1000000, 1, 0 };
    cr_assert_eq(sidecar_handoff_validate(h, &err), SIDECAR_ABI_OK, "%s", err.message);

    h->memory_map[1].base = 0x9e000;
    cr_assert_eq(sidecar_handoff_validate(h, &err), SIDECAR_ABI_E_OVERLAP, "%s", err.message);
    cr_assert_str_eq(err.message, "memory_map[1].base: 0x9e000 overlaps memory_map[0], which ends at 0x9f000");

    h->memory_map[1].base = 0x100000;
    h->memory_range_count = SIDECAR_MAX_MEMORY_RANGES + 1;
    cr_assert_eq(sidecar_handoff_validate(h, &err), SIDECAR_ABI_E_COUNT, "%s", err.message);
    cr_assert(strstr(err.message, "memory_range_count") == err.message, "%s", err.message);

    h->memory_range_count = 2;
    h->output_pa = 0x300010;
    cr_assert_eq(sidecar_handoff_validate(h, &err), SIDECAR_ABI_E_ALIGN, "%s", err.message);
    cr_assert_str_eq(err.message, "output_pa: not aligned to 0x1000 (0x300010)");
    free(h);
}

Test(output, valid_then_bad_magic_and_status)
{
    struct sidecar_output *o = aligned_alloc(4096, sizeof(*o));
    memset(o, 0, sizeof(*o));
    o->magic = SIDECAR_OUTPUT_MAGIC;
    o->abi_major = SIDECAR_ABI_MAJOR;
    o->node_count = 1;
    o->cpu_count = 2;
    o->apic_mode = SIDECAR_APIC_MODE_XAPIC;
    o->nodes[0] = (struct sidecar_output_node){ 0x1000000, 0x1001000, 0x4000 };
    o->cpus[1].status = SIDECAR_CPU_STATUS_IDLE;
    cr_assert_eq(sidecar_output_validate(o, &err), SIDECAR_ABI_OK, "%s", err.message);
    o->cpus[1].status = 0x42;
    cr_assert_eq(sidecar_output_validate(o, &err), SIDECAR_ABI_E_ENUM, "%s", err.message);
    cr_assert_str_eq(err.message, "cpus[1].status: not a valid cpu_status (0x42)");
    o->cpus[1].status = SIDECAR_CPU_STATUS_IDLE;
    o->nodes[0].control_page = 0x1000800;
    cr_assert_eq(sidecar_output_validate(o, &err), SIDECAR_ABI_E_ALIGN, "%s", err.message);
    cr_assert_str_eq(err.message, "nodes[0].control_page: not aligned to 0x1000 (0x1000800)");
    o->nodes[0].control_page = 0x1000000;
    o->magic = 0;
    cr_assert_eq(sidecar_output_validate(o, &err), SIDECAR_ABI_E_MISMATCH, "%s", err.message);
    free(o);
}

Test(command_page, valid_then_bad_fields)
{
    struct sidecar_command_page *c = aligned_alloc(4096, sizeof(*c));
    memset(c, 0, sizeof(*c));
    cr_assert_eq(sidecar_command_page_validate(c, &err), SIDECAR_ABI_OK, "%s", err.message);
    c->command = 77;
    cr_assert_eq(sidecar_command_page_validate(c, &err), SIDECAR_ABI_E_ENUM, "%s", err.message);
    cr_assert_str_eq(err.message, "command: not a valid command (0x4d)");
    c->command = SIDECAR_COMMAND_NONE;
    c->has_error = 3;
    cr_assert_eq(sidecar_command_page_validate(c, &err), SIDECAR_ABI_E_BOOL, "%s", err.message);
    cr_assert_str_eq(err.message, "has_error: not a boolean (0x3)");
    free(c);
}
