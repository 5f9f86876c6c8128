/* SPDX-License-Identifier: MIT */
/* Unit tests of the ring-3 VP's TRANSLATE_GVA (kernel/core/vp/translate.c). */
#include <criterion/criterion.h>
#include <string.h>

#include <sidecar/vp.h>

#define R(x) SIDECAR_TRANSLATE_GVA_RESULT_CODE_##x
#define T(x) SK_TRANSLATE_##x

static struct sk_vp vp;
static struct sidecar_translate_gva_response resp;

static void setup(void)
{
    struct sk_vp_config c = {
        .ram = { .base = 0x200000, .size = 0x400000, .flags = SK_VP_RAM_ALL },
        .cs = 0x2b, .ss = 0x23,
    };
    sk_vp_init(&vp, 1, &c);
}

TestSuite(vp_translate, .init = setup);

static uint32_t translate(uint64_t gvn, uint64_t flags)
{
    struct sidecar_translate_gva_request req = { .gvn = gvn, .control_flags = flags };
    memset(&resp, 0xcc, sizeof(resp));
    sk_vp_translate_gva(&vp, &req, &resp);
    return resp.output.translation_result.result_code;
}

static void check_zero_tail(void)
{
    cr_assert_eq(resp.output.reserved0, 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(resp.output.event_info[i], 0);
    cr_assert_eq(resp.output.reserved1, 0);
    for (int i = 0; i < 7; i++)
        cr_assert_eq(resp.reserved[i], 0);
}

Test(vp_translate, identity_inside_ram)
{
    const uint64_t flags[] = {
        0, T(VALIDATE_READ), T(VALIDATE_WRITE), T(VALIDATE_EXECUTE),
        T(VALIDATE_READ) | T(VALIDATE_WRITE) | T(VALIDATE_EXECUTE),
        T(VALIDATE_READ) | T(FORCE_USER), T(VALIDATE_WRITE) | T(SET_PAGE_TABLE_BITS),
        T(TLB_FLUSH_INHIBIT), T(VALIDATE_READ) | (0x10ull << 56) /* input VTL ignored */,
        T(VALIDATE_EXECUTE) | T(FORCE_SUPERVISOR),
        T(VALIDATE_READ) | T(FORCE_SUPERVISOR),
        T(VALIDATE_READ) | T(FORCE_SUPERVISOR) | T(ENFORCE_SMAP) | T(OVERRIDE_SMAP),
        T(VALIDATE_WRITE) | T(FORCE_SUPERVISOR) | T(ENFORCE_SMAP) | T(PRIVILEGE_EXEMPT),
    };
    const uint64_t pages[] = {0x200, 0x201, 0x3ff, 0x5ff};
    for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
            cr_assert_eq(translate(pages[p], flags[f]), R(SUCCESS),
                         "page 0x%llx flags 0x%llx", (unsigned long long)pages[p],
                         (unsigned long long)flags[f]);
            cr_assert_eq(resp.status, SIDECAR_HV_STATUS_SUCCESS);
            cr_assert_eq(resp.output.gpa_page, pages[p]);
            cr_assert_eq(resp.output.translation_result.cache_type_and_flags, 6, "WB");
            check_zero_tail();
        }
    }
}

Test(vp_translate, outside_ram_is_gpa_unmapped)
{
    const uint64_t pages[] = {0, 0x1ff, 0x600, 0xfee00, 0x7ffffffff};
    for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
        cr_assert_eq(translate(pages[p], T(VALIDATE_READ)), R(GPA_UNMAPPED),
                     "page 0x%llx", (unsigned long long)pages[p]);
        cr_assert_eq(resp.status, SIDECAR_HV_STATUS_SUCCESS);
        cr_assert_eq(resp.output.gpa_page, pages[p], "identity GPA reported");
        cr_assert_eq(resp.output.translation_result.cache_type_and_flags, 0);
        check_zero_tail();
    }
}

Test(vp_translate, higher_half_and_non_canonical_not_present)
{
    const uint64_t pages[] = {0x800000000ull, 0xfffffffffull, 0xffff800000000ull, 0xfffffffffffffull,
                              0x10000000000000ull, ~0ull};
    for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
        cr_assert_eq(translate(pages[p], 0), R(PAGE_NOT_PRESENT),
                     "page 0x%llx", (unsigned long long)pages[p]);
        cr_assert_eq(resp.status, SIDECAR_HV_STATUS_SUCCESS);
        cr_assert_eq(resp.output.gpa_page, 0);
    }
}

Test(vp_translate, permissions)
{
    vp.ram.flags = SK_VP_RAM_USER;   /* read-only, no execute */
    cr_assert_eq(translate(0x300, T(VALIDATE_READ)), R(SUCCESS));
    cr_assert_eq(translate(0x300, T(VALIDATE_WRITE)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(resp.output.gpa_page, 0, "no GPA on failure");
    cr_assert_eq(translate(0x300, T(VALIDATE_EXECUTE)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(0x300, T(VALIDATE_WRITE) | T(PRIVILEGE_EXEMPT)),
                 R(PRIVILEGE_VIOLATION), "exempt is about user/supervisor only");
    vp.ram.flags = SK_VP_RAM_WRITE | SK_VP_RAM_EXEC;   /* supervisor-only RAM */
    cr_assert_eq(translate(0x300, T(VALIDATE_READ)), R(PRIVILEGE_VIOLATION), "the VP is CPL3");
    cr_assert_eq(translate(0x300, T(VALIDATE_READ) | T(FORCE_USER)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(0x300, T(VALIDATE_READ) | T(PRIVILEGE_EXEMPT)), R(SUCCESS));
    cr_assert_eq(translate(0x300, T(VALIDATE_WRITE) | T(FORCE_SUPERVISOR)), R(SUCCESS));
    vp.ram.flags = SK_VP_RAM_ALL;
    cr_assert_eq(translate(0x300, T(VALIDATE_READ) | T(FORCE_SUPERVISOR) | T(ENFORCE_SMAP)),
                 R(PRIVILEGE_VIOLATION), "SMAP");
    cr_assert_eq(translate(0x300, T(VALIDATE_WRITE) | T(FORCE_SUPERVISOR) | T(ENFORCE_SMAP)),
                 R(PRIVILEGE_VIOLATION), "SMAP");
    cr_assert_eq(translate(0x300, T(VALIDATE_EXECUTE) | T(FORCE_SUPERVISOR) | T(ENFORCE_SMAP)),
                 R(SUCCESS), "SMAP is about data");
    cr_assert_eq(translate(0x300, T(VALIDATE_READ) | T(ENFORCE_SMAP)), R(SUCCESS),
                 "SMAP does not apply to user accesses");
    cr_assert_eq(translate(0x300, T(VALIDATE_WRITE) | T(SHADOW_STACK)), R(PRIVILEGE_VIOLATION));
    cr_assert_eq(translate(0x700, T(VALIDATE_WRITE) | T(SHADOW_STACK)), R(GPA_UNMAPPED),
                 "outside RAM the GPA answer comes first");
}

Test(vp_translate, bad_flags_are_invalid_parameter)
{
    const uint64_t bad[] = {1ull << 11, 1ull << 20, 1ull << 55,
                            T(FORCE_SUPERVISOR) | T(FORCE_USER)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(translate(0x300, bad[i]), 0);
        cr_assert_eq(resp.status, SIDECAR_HV_STATUS_INVALID_PARAMETER, "flags 0x%llx",
                     (unsigned long long)bad[i]);
        cr_assert_eq(resp.output.gpa_page, 0);
        check_zero_tail();
    }
}

Test(vp_translate, partial_pages_at_ram_edges)
{
    vp.ram.base = 0x200800;     /* not page aligned */
    vp.ram.size = 0x2000;
    cr_assert_eq(translate(0x200, 0), R(GPA_UNMAPPED), "starts before RAM");
    cr_assert_eq(translate(0x201, 0), R(SUCCESS));
    cr_assert_eq(translate(0x202, 0), R(GPA_UNMAPPED), "ends after RAM");
    vp.ram.size = 0;
    cr_assert_eq(translate(0x200, 0), R(GPA_UNMAPPED), "no RAM");
}

Test(vp_translate, request_and_response_may_overlap)
{
    /* As in the command page: the response overwrites the request bytes. */
    union { struct sidecar_translate_gva_request req; struct sidecar_translate_gva_response resp; } u;
    memset(&u, 0, sizeof(u));
    u.req.gvn = 0x250;
    u.req.control_flags = T(VALIDATE_WRITE);
    sk_vp_translate_gva(&vp, &u.req, &u.resp);
    cr_assert_eq(u.resp.status, SIDECAR_HV_STATUS_SUCCESS);
    cr_assert_eq(u.resp.output.translation_result.result_code, R(SUCCESS));
    cr_assert_eq(u.resp.output.gpa_page, 0x250);
}
