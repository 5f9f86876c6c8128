/* SPDX-License-Identifier: MIT */
/* Unit tests of the ring-3 VP state (kernel/core/vp): reset, the copy to and
 * from cpu_context, segment values, GET/SET by TLFS name. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include <sidecar/vp.h>

static struct sk_vp vp;

static const struct sk_vp_config config = {
    .ram = { .base = 0, .size = 0x200000, .flags = SK_VP_RAM_ALL },
    .cs = 0x2b, .ss = 0x23, .ds = 0x23, .es = 0x23, .fs = 0, .gs = 0,
    .mxcsr_mask = 0xffff,
};

static void setup(void)
{
    memset(&vp, 0xa5, sizeof(vp));
    sk_vp_init(&vp, 7, &config);
}

TestSuite(vp_state, .init = setup);

Test(vp_state, init_resets)
{
    cr_assert_eq(vp.vp_index, 7);
    cr_assert_eq(vp.rflags, 0x202);
    cr_assert_eq(vp.rip, 0);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(vp.gpr[i], 0);
    cr_assert_eq(vp.cr2, 0);
    cr_assert_eq(vp.fx.fcw, 0x37f);
    cr_assert_eq(vp.fx.mxcsr, 0x1f80);
    cr_assert_eq(vp.mxcsr_mask, 0xffff);
    cr_assert_eq(vp.cs, 0x2b);
    cr_assert_eq(vp.ss, 0x23);
    cr_assert_eq(vp.ram.size, 0x200000);
    cr_assert_eq(vp.stats.entries, 0);
    cr_assert_eq(((uintptr_t)&vp.fx) % 16, 0);
}

Test(vp_state, init_without_config_uses_defaults)
{
    sk_vp_init(&vp, 3, NULL);
    cr_assert_eq(vp.mxcsr_mask, 0xffbf);
    cr_assert_eq(vp.ram.size, 0);
    cr_assert_null(vp.ops);
}

Test(vp_state, init_clamps_a_wrapping_ram_range)
{
    struct sk_vp_config c = config;
    c.ram.base = 0xfffffffffff00000ull;
    c.ram.size = 0x200000;
    sk_vp_init(&vp, 0, &c);
    cr_assert_eq(vp.ram.base + vp.ram.size, 0, "ends at 2^64, not wrapped");
}

Test(vp_state, load_context_maps_openhcl_slots)
{
    static struct sidecar_cpu_context ctx;
    memset(&ctx, 0, sizeof(ctx));
    for (int i = 0; i < 16; i++)
        ctx.gps[i] = 0x1000 + (uint64_t)i;
    ctx.fx_state.xmm[3].low = 0x33;
    ctx.fx_state.xmm[3].high = 0x3333;
    ctx.fx_state.mxcsr = 0xffffffff;
    ctx.fx_state.fcw = 0x27f;
    vp.gpr[SK_VP_RSP] = 0x7777;
    sk_vp_load_context(&vp, &ctx);
    cr_assert_eq(vp.gpr[SK_VP_RAX], 0x1000);
    cr_assert_eq(vp.gpr[SK_VP_RCX], 0x1001);
    cr_assert_eq(vp.gpr[SK_VP_RDX], 0x1002);
    cr_assert_eq(vp.gpr[SK_VP_RBX], 0x1003);
    cr_assert_eq(vp.gpr[SK_VP_RSP], 0x7777, "slot 4 is CR2, RSP untouched");
    cr_assert_eq(vp.cr2, 0x1004);
    cr_assert_eq(vp.gpr[SK_VP_RBP], 0x1005);
    cr_assert_eq(vp.gpr[SK_VP_RDI], 0x1007);
    cr_assert_eq(vp.gpr[SK_VP_R8], 0x1008);
    cr_assert_eq(vp.gpr[SK_VP_R15], 0x100f);
    cr_assert_eq(vp.fx.xmm[3].low, 0x33);
    cr_assert_eq(vp.fx.xmm[3].high, 0x3333);
    cr_assert_eq(vp.fx.fcw, 0x27f);
    cr_assert_eq(vp.fx.mxcsr, 0xffff, "MXCSR masked so FXRSTOR cannot fault");
}

Test(vp_state, save_context_round_trips_and_keeps_reserved)
{
    static struct sidecar_cpu_context ctx, back;
    memset(&ctx, 0, sizeof(ctx));
    for (int i = 0; i < 16; i++)
        ctx.gps[i] = 0xabc0 + (uint64_t)i;
    for (int i = 0; i < 16; i++)
        ctx.fx_state.xmm[i].low = (uint64_t)i * 3;
    ctx.fx_state.mxcsr = 0x1f80;
    sk_vp_load_context(&vp, &ctx);
    memset(&back, 0xee, sizeof(back));
    sk_vp_save_context(&vp, &back);
    cr_assert_arr_eq(back.gps, ctx.gps, sizeof(ctx.gps));
    cr_assert_eq(back.fx_state.xmm[15].low, 45);
    cr_assert_eq(back.fx_state.mxcsr, 0x1f80);
    cr_assert_eq(back.reserved[0], 0xee, "reserved bytes left alone");
    cr_assert_eq(back.reserved[383], 0xee);
    vp.gpr[SK_VP_RSP] = 0x5555;
    vp.cr2 = 0x4444;
    sk_vp_save_context(&vp, &back);
    cr_assert_eq(back.gps[4], 0x4444, "slot 4 = CR2");
}

Test(vp_state, rflags_sanitize)
{
    cr_assert_eq(sk_vp_sanitize_rflags(0), 0x202);
    cr_assert_eq(sk_vp_sanitize_rflags(~0ull), 0x202 | 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 |
                                                   0x400 | 0x800 | (1u << 21));
    cr_assert_eq(sk_vp_sanitize_rflags(0x3000), 0x202, "IOPL forced 0");
    cr_assert_eq(sk_vp_sanitize_rflags(1u << 14), 0x202, "NT cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(1u << 16), 0x202, "RF cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(1u << 17), 0x202, "VM cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(1u << 18), 0x202, "AC cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(1u << 19), 0x202, "VIF cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(1u << 20), 0x202, "VIP cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(0x8 | 0x20 | 0x8000), 0x202, "reserved bits cleared");
    cr_assert_eq(sk_vp_sanitize_rflags(0x8c5), 0x2c7 | 0x800, "arithmetic flags kept");
}

Test(vp_state, segments)
{
    struct sidecar_hv_x64_segment_register s;
    cr_assert(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_CS, &s));
    cr_assert_eq(s.selector, 0x2b);
    cr_assert_eq(s.base, 0);
    cr_assert_eq(s.limit, 0xffffffff);
    cr_assert_eq(s.attributes, 0xa0fb, "code, S, DPL3, P, L, G");
    cr_assert(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_SS, &s));
    cr_assert_eq(s.selector, 0x23);
    cr_assert_eq(s.attributes, 0xc0f3, "data RW, S, DPL3, P, D/B, G");
    cr_assert(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_DS, &s));
    cr_assert_eq(s.attributes, 0xc0f3);
    cr_assert(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_ES, &s));
    cr_assert_eq(s.selector, 0x23);
    vp.fs_base = 0x1234000;
    cr_assert(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_FS, &s));
    cr_assert_eq(s.selector, 0);
    cr_assert_eq(s.attributes, 0, "null selector: unusable");
    cr_assert_eq(s.limit, 0);
    cr_assert_eq(s.base, 0x1234000, "FS base survives a null selector");
    cr_assert(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_GS, &s));
    cr_assert_eq(s.selector, 0);
    cr_assert_not(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_LDTR, &s));
    cr_assert_not(sk_vp_segment(&vp, SIDECAR_HV_REGISTER_NAME_RAX, &s));
}

/* ---- GET/SET ---- */

static uint16_t get(uint32_t name, struct sidecar_hv_register_value *v)
{
    memset(v, 0xcc, sizeof(*v));
    return sk_vp_get_register(&vp, name, v);
}

static uint16_t set(uint32_t name, uint64_t lo, uint64_t hi)
{
    struct sidecar_hv_register_value v = { .low = lo, .high = hi };
    return sk_vp_set_register(&vp, name, &v);
}

Test(vp_state, gprs_get_set_all_sixteen)
{
    struct sidecar_hv_register_value v;
    for (uint32_t i = 0; i < 16; i++)
        cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RAX + i, 0x1111111100000000ull + i, 0xdead), 0);
    for (uint32_t i = 0; i < 16; i++) {
        cr_assert_eq(vp.gpr[i], 0x1111111100000000ull + i);
        cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_RAX + i, &v), SIDECAR_HV_STATUS_SUCCESS);
        cr_assert_eq(v.low, 0x1111111100000000ull + i);
        cr_assert_eq(v.high, 0, "scalars zero-extended");
    }
    cr_assert_eq(vp.gpr[SK_VP_RSP], 0x1111111100000004ull, "RSP is a real GPR here");
}

Test(vp_state, rip)
{
    struct sidecar_hv_register_value v;
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RIP, 0x401000, 0), 0);
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_RIP, &v), 0);
    cr_assert_eq(v.low, 0x401000);
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RIP, 0x00007fffffffffffull, 0), 0);
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RIP, 0xffff800000000000ull, 0), 0, "canonical high half");
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RIP, 0x0000800000000000ull, 0),
                 SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RIP, 0x8000000000000000ull, 0),
                 SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE);
    cr_assert_eq(vp.rip, 0xffff800000000000ull, "refused values leave RIP alone");
}

Test(vp_state, rflags_set_is_sanitized)
{
    struct sidecar_hv_register_value v;
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RFLAGS, 0x3000 | (1u << 14) | (1u << 17) | (1u << 18) | 0x1, 0), 0);
    cr_assert_eq(vp.rflags, 0x203);
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RFLAGS, 0, 0), 0);
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_RFLAGS, &v), 0);
    cr_assert_eq(v.low, 0x202, "IF forced on, bit 1 set");
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_RFLAGS, 0x100 | (1u << 21), 0), 0);
    cr_assert_eq(vp.rflags, 0x302 | (1u << 21), "TF and ID kept");
}

Test(vp_state, xmm_all_sixteen)
{
    struct sidecar_hv_register_value v;
    for (uint32_t i = 0; i < 16; i++)
        cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_XMM0 + i, i, 0xf000 + i), 0);
    for (uint32_t i = 0; i < 16; i++) {
        cr_assert_eq(vp.fx.xmm[i].low, i);
        cr_assert_eq(vp.fx.xmm[i].high, 0xf000 + i);
        cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_XMM0 + i, &v), 0);
        cr_assert_eq(v.low, i);
        cr_assert_eq(v.high, 0xf000 + i);
    }
}

Test(vp_state, fp_registers)
{
    struct sidecar_hv_register_value v;
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_FP_MMX5, 0x123456789abcdef0ull, 0xffffffffffff4000ull), 0);
    cr_assert_eq(vp.fx.st[5].low, 0x123456789abcdef0ull);
    cr_assert_eq(vp.fx.st[5].high, 0x4000, "80 bits kept");
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_FP_MMX5, &v), 0);
    cr_assert_eq(v.high, 0x4000);

    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_FP_CONTROL_STATUS,
                     0x07ff00a5b0c1027full, 0x400123ull), 0);
    cr_assert_eq(vp.fx.fcw, 0x027f);
    cr_assert_eq(vp.fx.fsw, 0xb0c1);
    cr_assert_eq(vp.fx.ftw, 0xa5);
    cr_assert_eq(vp.fx.fop, 0x07ff);
    cr_assert_eq(vp.fx.fip, 0x400123);
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_FP_CONTROL_STATUS, &v), 0);
    cr_assert_eq(v.low, 0x07ff00a5b0c1027full);
    cr_assert_eq(v.high, 0x400123);

    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_XMM_CONTROL_STATUS, 0x9000, 0x1234500001f80ull), 0);
    cr_assert_eq(vp.fx.fdp, 0x9000);
    cr_assert_eq(vp.fx.mxcsr, 0x1f80);
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_XMM_CONTROL_STATUS, &v), 0);
    cr_assert_eq(v.low, 0x9000);
    cr_assert_eq(v.high, 0x0000ffff00001f80ull, "mask is the CPU's, read-only");
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_XMM_CONTROL_STATUS, 0, 0x10000),
                 SIDECAR_HV_STATUS_INVALID_REGISTER_VALUE, "MXCSR bit outside the mask");
    cr_assert_eq(vp.fx.mxcsr, 0x1f80);
}

Test(vp_state, read_only_registers)
{
    struct sidecar_hv_register_value v;
    vp.cr2 = 0xfeed;
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_CR2, &v), 0);
    cr_assert_eq(v.low, 0xfeed);
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_CR2, 1, 0), SIDECAR_HV_STATUS_ACCESS_DENIED);
    cr_assert_eq(vp.cr2, 0xfeed);
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_VP_INDEX, &v), 0);
    cr_assert_eq(v.low, 7);
    cr_assert_eq(set(SIDECAR_HV_REGISTER_NAME_VP_INDEX, 1, 0), SIDECAR_HV_STATUS_ACCESS_DENIED);
    cr_assert_eq(vp.vp_index, 7);
    for (uint32_t n = SIDECAR_HV_REGISTER_NAME_ES; n <= SIDECAR_HV_REGISTER_NAME_GS; n++)
        cr_assert_eq(set(n, 0, 0x0000ffff00000000ull), SIDECAR_HV_STATUS_ACCESS_DENIED);
    cr_assert_eq(vp.cs, 0x2b);
}

Test(vp_state, segment_get_packs_tlfs_layout)
{
    struct sidecar_hv_register_value v;
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_CS, &v), 0);
    struct sidecar_hv_x64_segment_register s;
    memcpy(&s, &v, sizeof(s));
    cr_assert_eq(s.base, 0);
    cr_assert_eq(s.limit, 0xffffffff);
    cr_assert_eq(s.selector, 0x2b);
    cr_assert_eq(s.attributes, 0xa0fb);
    cr_assert_eq(get(SIDECAR_HV_REGISTER_NAME_SS, &v), 0);
    memcpy(&s, &v, sizeof(s));
    cr_assert_eq(s.selector, 0x23);
    cr_assert_eq(s.attributes, 0xc0f3);
}

static const uint32_t unsupported[] = {
    SIDECAR_HV_REGISTER_NAME_CR0, SIDECAR_HV_REGISTER_NAME_CR3, SIDECAR_HV_REGISTER_NAME_CR4,
    SIDECAR_HV_REGISTER_NAME_CR8, SIDECAR_HV_REGISTER_NAME_XFEM, SIDECAR_HV_REGISTER_NAME_DR0,
    SIDECAR_HV_REGISTER_NAME_DR7, SIDECAR_HV_REGISTER_NAME_LDTR, SIDECAR_HV_REGISTER_NAME_TR,
    SIDECAR_HV_REGISTER_NAME_IDTR, SIDECAR_HV_REGISTER_NAME_GDTR, SIDECAR_HV_REGISTER_NAME_EFER,
    SIDECAR_HV_REGISTER_NAME_TSC, SIDECAR_HV_REGISTER_NAME_LSTAR, SIDECAR_HV_REGISTER_NAME_TSC_AUX,
    0, 1, 0x1ffff, 0x20012, 0x3001a, 0x90000, 0xffffffff,
};

Test(vp_state, unknown_and_unsupported_names)
{
    struct sidecar_hv_register_value v;
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        cr_assert_eq(get(unsupported[i], &v), SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME,
                     "get 0x%x", unsupported[i]);
        cr_assert_eq(v.low, 0xccccccccccccccccull, "value untouched on failure");
        cr_assert_eq(set(unsupported[i], 1, 1), SIDECAR_HV_STATUS_UNKNOWN_REGISTER_NAME,
                     "set 0x%x", unsupported[i]);
    }
}
