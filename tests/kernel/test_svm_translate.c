/* SPDX-License-Identifier: MIT */
/* Unit tests of the SVM backend's TRANSLATE_GVA and guest-memory reads
 * (kernel/core/svm/translate.c, run.c; sidecar/svm.h): paging off
 * (identity, 32-bit), GPA unmapped outside RAM and the reset alias, flag
 * validation; paging on through the guest's tables (sidecar/walk.h); and
 * instruction lengths in the guest's code size. */
#include "test_svm_fake.h"

TestSuite(svm_translate, .init = fake_setup, .fini = fake_teardown);

#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x

static struct sidecar_translate_gva_response tr(uint64_t gvn, uint64_t flags)
{
    struct sidecar_translate_gva_request req = { .gvn = gvn, .control_flags = flags };
    struct sidecar_translate_gva_response resp;
    memset(&resp, 0xee, sizeof(resp));
    sk_svm_translate_gva(&vp, &req, &resp);
    return resp;
}

static void assert_success(uint64_t gvn, uint64_t gpn)
{
    struct sidecar_translate_gva_response r = tr(gvn, SK_TRANSLATE_VALIDATE_READ);
    cr_assert_eq(r.status, SIDECAR_HV_STATUS_SUCCESS, "gvn 0x%llx", (unsigned long long)gvn);
    cr_assert_eq(r.output.translation_result.result_code, R(SUCCESS), "gvn 0x%llx", (unsigned long long)gvn);
    cr_assert_eq(r.output.gpa_page, gpn, "gvn 0x%llx", (unsigned long long)gvn);
    /* WB (paging off), UC while CR0.CD is set (as at reset). */
    cr_assert_eq(r.output.translation_result.cache_type_and_flags & 0xff, vmcb->save.cr0 & (1ull << 30) ? 0 : 6,
                 "cache type");
}

static void assert_unmapped(uint64_t gvn, uint64_t gpn)
{
    struct sidecar_translate_gva_response r = tr(gvn, SK_TRANSLATE_VALIDATE_READ);
    cr_assert_eq(r.status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(r.output.translation_result.result_code, R(GPA_UNMAPPED), "gvn 0x%llx", (unsigned long long)gvn);
    cr_assert_eq(r.output.gpa_page, gpn);
    cr_assert_eq(r.output.translation_result.cache_type_and_flags & 0xff, 0, "UC");
}

Test(svm_translate, paging_off_is_the_identity_over_ram_and_the_alias)
{
    assert_success(0, 0);
    assert_success(0x100, 0x100);
    assert_success((RAM_SIZE >> 12) - 1, (RAM_SIZE >> 12) - 1);
    assert_unmapped(RAM_SIZE >> 12, RAM_SIZE >> 12);
    assert_unmapped(0xfec00, 0xfec00);
    assert_unmapped(0xfee00, 0xfee00);
    assert_unmapped(0xffdff, 0xffdff);
    assert_success(0xffe00, 0xffe00);
    assert_success(0xfffff, 0xfffff);
    /* Paging off: linear addresses are 32 bits. */
    assert_success(0x100001, 1);
    assert_success(0xfffffffffffffull, 0xfffff);
}

Test(svm_translate, protected_mode_without_paging_is_the_identity_too)
{
    set_ok(N(CR0), 0x11);
    assert_success(0x10, 0x10);
    assert_unmapped(0x80000, 0x80000);
}

Test(svm_translate, no_alias_without_two_mib_of_ram)
{
    struct sk_svm_config c = fake_config();
    c.ram_size = 0x100000;
    fake_ram_size = 0x100000;
    sk_svm_init(&vp, VP_INDEX, &c);
    assert_success(0xff, 0xff);
    assert_unmapped(0x100, 0x100);
    assert_unmapped(0xfffff, 0xfffff);
}

Test(svm_translate, flags_validation)
{
    static const uint64_t good[] = {
        0, SK_TRANSLATE_VALIDATE_READ | SK_TRANSLATE_VALIDATE_WRITE | SK_TRANSLATE_VALIDATE_EXECUTE,
        SK_TRANSLATE_PRIVILEGE_EXEMPT | SK_TRANSLATE_SET_PAGE_TABLE_BITS | SK_TRANSLATE_TLB_FLUSH_INHIBIT,
        SK_TRANSLATE_FORCE_SUPERVISOR | SK_TRANSLATE_ENFORCE_SMAP | SK_TRANSLATE_OVERRIDE_SMAP,
        SK_TRANSLATE_FORCE_USER | SK_TRANSLATE_SHADOW_STACK, SK_TRANSLATE_INPUT_VTL_MASK,
    };
    for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sidecar_translate_gva_response r = tr(0x10, good[i]);
        cr_assert_eq(r.status, SIDECAR_HV_STATUS_SUCCESS, "flags 0x%llx", (unsigned long long)good[i]);
    }
    static const uint64_t bad[] = {
        1ull << 11, 1ull << 55, 1ull << 32,
        SK_TRANSLATE_FORCE_SUPERVISOR | SK_TRANSLATE_FORCE_USER,
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sidecar_translate_gva_response r = tr(0x10, bad[i]);
        cr_assert_eq(r.status, SIDECAR_HV_STATUS_INVALID_PARAMETER, "flags 0x%llx", (unsigned long long)bad[i]);
        cr_assert_eq(r.output.gpa_page, 0, "the response is zero apart from the status");
        cr_assert_eq(r.output.translation_result.result_code, 0);
        cr_assert_eq(r.output.translation_result.cache_type_and_flags, 0);
    }
}

Test(svm_translate, through_the_command_page)
{
    struct sidecar_translate_gva_request req = { .gvn = 0xffff0, .control_flags = SK_TRANSLATE_VALIDATE_EXECUTE };
    memcpy(cmd->request_data, &req, sizeof(req));
    command(SIDECAR_COMMAND_TRANSLATE_GVA);
    struct sidecar_translate_gva_response resp;
    memcpy(&resp, cmd->request_data, sizeof(resp));
    cr_assert_eq(cmd->has_error, 0);
    cr_assert_eq(resp.status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(resp.output.translation_result.result_code, R(SUCCESS), "the reset vector's page");
    cr_assert_eq(resp.output.gpa_page, 0xffff0);
}

/* ---- sk_svm_read_gva ---- */

Test(svm_translate, read_gva_real_mode_through_the_alias_and_ram)
{
    ram[ALIAS_RAM + 0x1ffff0] = 0xea;                   /* the reset vector's first byte */
    uint8_t b[32];
    cr_assert_eq(sk_svm_read_gva(&vp, 0xfffffff0, b, 16, true), 16);
    cr_assert_eq(b[0], 0xea);
    /* A read running past 4 GiB wraps to GPA 0 (32-bit linear addresses). */
    ram[0] = 0x42;
    cr_assert_eq(sk_svm_read_gva(&vp, 0xfffffff0, b, 32, false), 32);
    cr_assert_eq(b[16], 0x42);
    /* A read running off the end of RAM stops there. */
    cr_assert_eq(sk_svm_read_gva(&vp, RAM_SIZE - 3, b, 16, false), 3);
    cr_assert_eq(sk_svm_read_gva(&vp, RAM_SIZE, b, 16, false), 0);
    cr_assert_eq(sk_svm_read_gva(&vp, 0xfec00000, b, 16, false), 0);
    /* No arch half: nothing read. */
    vp.ops = NULL;
    cr_assert_eq(sk_svm_read_gva(&vp, 0, b, 16, false), 0);
}

/* ---- paging on ---- */

/* Identity-maps the first 4 MiB with 4 KiB pages in long mode: PML4 at
 * 0x10000, PDPT 0x11000, PD 0x12000, PTs 0x13000-0x14fff. */
static void long_mode_identity_tables(void)
{
    uint64_t *pml4 = (uint64_t *)(ram + 0x10000), *pdpt = (uint64_t *)(ram + 0x11000);
    uint64_t *pd = (uint64_t *)(ram + 0x12000);
    memset(ram + 0x10000, 0, 0x5000);
    pml4[0] = 0x11000 | 7;
    pdpt[0] = 0x12000 | 7;
    for (unsigned t = 0; t < 2; t++) {
        pd[t] = (0x13000 + 0x1000 * t) | 7;
        uint64_t *pt = (uint64_t *)(ram + 0x13000 + 0x1000 * t);
        for (unsigned i = 0; i < 512; i++)
            pt[i] = ((uint64_t)(t * 512 + i) << 12) | 7;
    }
    set_ok(N(CR3), 0x10000);
    long_mode();
}

/* Paging on: the guest's own tables translate (instruction bytes for
 * messages, MOV DR emulation and TRANSLATE_GVA depend on it). */
Test(svm_translate, paging_on_walks_the_guests_tables)
{
    long_mode_identity_tables();
    assert_success(0x100, 0x100);
    uint8_t b[4];
    ram[0x100123] = 0x77;
    cr_assert_eq(sk_svm_read_gva(&vp, 0x100123, b, 1, false), 1);
    cr_assert_eq(b[0], 0x77);
    struct sidecar_translate_gva_response r = tr(0x400, SK_TRANSLATE_VALIDATE_READ);
    cr_assert_eq(r.output.translation_result.result_code, R(PAGE_NOT_PRESENT));
}

Test(svm_translate, paging_on_without_tables_is_page_not_present)
{
    /* Holds with the stub and with a walker: CR3 points at zeroed RAM. */
    memset(ram + 0x10000, 0, 0x1000);
    set_ok(N(CR3), 0x10000);
    long_mode();
    struct sidecar_translate_gva_response r = tr(0x100, SK_TRANSLATE_VALIDATE_READ);
    cr_assert_eq(r.status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(r.output.translation_result.result_code, R(PAGE_NOT_PRESENT));
}

/* ---- instruction lengths in the guest's code size ---- */

/* In real mode "mov ax, [0x1234]" is A1 34 12 (3 bytes), in 32-bit code
 * "mov eax, [0xfed00040]" is A1 + 4 bytes (5); a 64-bit decoder would read
 * a moffs64 and say 9. */
Test(svm_translate, mmio_instruction_length_in_16_and_32_bit_code)
{
    const uint8_t mov16[] = { 0xa1, 0x34, 0x12, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90 };
    memcpy(ram + ALIAS_RAM + 0x1ffff0, mov16, sizeof(mov16));
    const struct step s[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_FINAL, .info2 = 0xffff1234),
    };
    script(s, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, m);
    cr_assert_eq(m.header.instruction_length_and_cr8 & 0xf, 3, "16-bit moffs");

    set_ok(N(CR0), 0x11);
    cr_assert_eq(set_seg(N(CS), 0, 0xffffffff, 0x08, 0xc09b), SIDECAR_HV_STATUS_SUCCESS);
    set_ok(N(RIP), 0x1000);
    const uint8_t mov32[] = { 0xa1, 0x40, 0x00, 0xd0, 0xfe, 0x90, 0x90, 0x90, 0x90, 0x90 };
    memcpy(ram + 0x1000, mov32, sizeof(mov32));
    const struct step s2[] = {
        STEP(SK_SVM_EXIT_NPF, .info1 = SK_SVM_NPF_P | SK_SVM_NPF_FINAL, .info2 = 0xfed00040),
    };
    script(s2, 1);
    command(SIDECAR_COMMAND_RUN_VP);
    PAYLOAD(struct sidecar_hv_x64_memory_intercept_message, m2);
    cr_assert_eq(m2.header.instruction_length_and_cr8 & 0xf, 5, "32-bit moffs");
}

Test(svm_translate, long_mode_exits_fetch_through_the_tables)
{
    long_mode_identity_tables();
    set_ok(N(RIP), 0x1000);
    const uint8_t movs[] = { 0x0f, 0x23, 0xc3, 0x0f, 0xa2 };   /* mov dr0, rbx; cpuid */
    memcpy(ram + 0x1000, movs, sizeof(movs));
    cmd->cpu_context.gps[3] = 0xffffffff80001234ull;
    const struct step s[] = { STEP(SK_SVM_EXIT_DR0_WRITE), STEP(SK_SVM_EXIT_CPUID) };
    script(s, 2);
    command(SIDECAR_COMMAND_RUN_VP);
    cr_assert_eq(fk.event_inj[1], 0, "MOV DR emulated, not #UD");
    cr_assert_eq(get(N(DR0)), 0xffffffff80001234ull, "64-bit code writes 64 bits");
    cr_assert_eq(fk.rip[1], 0x1003);
    PAYLOAD(struct sidecar_hv_x64_cpuid_intercept_message, c);
    cr_assert_eq(c.header.instruction_length_and_cr8 & 0xf, 2);
    cr_assert_eq(c.header.execution_state & (1u << 4), 1u << 4, "EFER.LMA");
}
