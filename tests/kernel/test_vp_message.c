/* SPDX-License-Identifier: MIT */
/* Unit tests of the ring-3 VP's TLFS intercept messages
 * (kernel/core/vp/message.c): every builder, checked both through the
 * generated structs and at the raw TLFS offsets, and the classification of
 * traps into messages. */
#include <criterion/criterion.h>
#include <string.h>

#include <sidecar/vp.h>

static struct sk_vp vp;
static struct sidecar_hv_message msg;

static const struct sk_vp_config config = {
    .ram = { .base = 0x100000, .size = 0x400000, .flags = SK_VP_RAM_ALL },
    .cs = 0x2b, .ss = 0x23, .ds = 0x23, .es = 0x23,
};

static void setup(void)
{
    sk_vp_init(&vp, 42, &config);
    for (int i = 0; i < 16; i++)
        vp.gpr[i] = 0x1000000000000000ull * (uint64_t)(i + 1) + (uint64_t)i;
    vp.gpr[SK_VP_RDX] = 0x1122334455660cf8ull;   /* DX = 0x0cf8 */
    vp.gpr[SK_VP_RCX] = 0xaaaaaaaa000001b0ull;   /* ECX = 0x1b0 */
    vp.rip = 0x101234;
    vp.rflags = 0x246;
    memset(&msg, 0xee, sizeof(msg));
}

TestSuite(vp_message, .init = setup);

/* Raw payload reads at TLFS offsets (from the payload start). */
static const uint8_t *pl(void) { return (const uint8_t *)&msg + 16; }
static uint8_t r8(unsigned off) { return pl()[off]; }
static uint16_t r16(unsigned off) { uint16_t v; memcpy(&v, pl() + off, 2); return v; }
static uint32_t r32(unsigned off) { uint32_t v; memcpy(&v, pl() + off, 4); return v; }
static uint64_t r64(unsigned off) { uint64_t v; memcpy(&v, pl() + off, 8); return v; }

static void check_header(uint32_t type, uint8_t size, uint8_t len, uint8_t access)
{
    const uint8_t *raw = (const uint8_t *)&msg;
    uint32_t t;
    memcpy(&t, raw, 4);
    cr_assert_eq(t, type, "type 0x%x", t);
    cr_assert_eq(msg.header.message_type, type);
    cr_assert_eq(raw[4], size, "payload size %u", raw[4]);
    cr_assert_eq(raw[5], 0, "flags");
    for (int i = 6; i < 16; i++)
        cr_assert_eq(raw[i], 0, "header byte %d", i);
    /* x64 intercept header */
    cr_assert_eq(r32(0), 42, "vp_index");
    cr_assert_eq(r8(4), len, "instruction length (CR8 0): %u", r8(4));
    cr_assert_eq(r8(5), access, "access type");
    cr_assert_eq(r16(6), 0x17, "CPL3 | PE | LMA");
    cr_assert_eq(r64(8), 0, "CS base");
    cr_assert_eq(r32(16), 0xffffffff, "CS limit");
    cr_assert_eq(r16(20), 0x2b, "CS selector");
    cr_assert_eq(r16(22), 0xa0fb, "CS attributes");
    cr_assert_eq(r64(24), 0x101234, "RIP");
    cr_assert_eq(r64(32), 0x246, "RFLAGS");
    /* everything past the payload is zero */
    for (unsigned i = size; i < 240; i++)
        cr_assert_eq(r8(i), 0, "payload byte %u beyond the size", i);
}

Test(vp_message, io_out_dx_with_bytes)
{
    const uint8_t bytes[] = {0x66, 0xef, 0x90, 0x90};
    struct sk_vp_io_access io = { .port = 0xcf8, .size = 2, .write = true,
                                  .instruction_length = 2 };
    sk_vp_build_io(&vp, &io, bytes, sizeof(bytes), &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, 128, 2,
                 SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(r16(40), 0xcf8);
    cr_assert_eq(r8(42), 2, "size 2, not string, no rep");
    cr_assert_eq(r8(43), 4, "instruction byte count");
    cr_assert_eq(r32(44), 0);
    cr_assert_eq(r64(48), vp.gpr[SK_VP_RAX], "RAX = cpu_context RAX");
    cr_assert_arr_eq(pl() + 56, bytes, sizeof(bytes));
    cr_assert_eq(r8(56 + 4), 0);
    cr_assert_eq(r16(72 + 12), 0x23, "DS selector");
    cr_assert_eq(r16(72 + 14), 0xc0f3, "DS attributes");
    cr_assert_eq(r16(88 + 12), 0x23, "ES selector");
    cr_assert_eq(r64(104), vp.gpr[SK_VP_RCX]);
    cr_assert_eq(r64(112), vp.gpr[SK_VP_RSI]);
    cr_assert_eq(r64(120), vp.gpr[SK_VP_RDI]);
    /* and through the generated struct */
    struct sidecar_hv_x64_io_port_intercept_message m;
    memcpy(&m, msg.payload, sizeof(m));
    cr_assert_eq(m.port_number, 0xcf8);
    cr_assert_eq(m.header.intercept_access_type, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(m.header.vp_index, 42);
    cr_assert_eq(m.rdi, vp.gpr[SK_VP_RDI]);
}

Test(vp_message, io_access_info_bits)
{
    struct sk_vp_io_access io = { .port = 0x3f8, .size = 1, .write = false,
                                  .string = true, .rep = true, .instruction_length = 2 };
    sk_vp_build_io(&vp, &io, NULL, 0, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, 128, 2,
                 SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r8(42), 1 | 0x08 | 0x10);
    cr_assert_eq(r8(43), 0, "no bytes given");
    io.size = 4;
    io.rep = false;
    sk_vp_build_io(&vp, &io, NULL, 0, &msg);
    cr_assert_eq(r8(42), 4 | 0x08);
}

Test(vp_message, instruction_bytes_capped_at_16)
{
    uint8_t bytes[20];
    for (int i = 0; i < 20; i++)
        bytes[i] = (uint8_t)(i + 1);
    struct sk_vp_io_access io = { .port = 1, .size = 1, .instruction_length = 1 };
    sk_vp_build_io(&vp, &io, bytes, sizeof(bytes), &msg);
    cr_assert_eq(r8(43), 16);
    cr_assert_arr_eq(pl() + 56, bytes, 16);
    cr_assert_eq(r16(72 + 12), 0x23, "DS not overwritten");
}

Test(vp_message, memory_unmapped_gpa)
{
    const uint8_t bytes[] = {0x89, 0x08, 0xc3};
    sk_vp_build_memory(&vp, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, SIDECAR_INTERCEPT_ACCESS_WRITE,
                       0xfee00030, 0xfee00030, 2, bytes, sizeof(bytes), &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, 80, 2, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(r32(40), 0, "cache type UC");
    cr_assert_eq(r8(44), 3, "instruction byte count");
    cr_assert_eq(r8(45), 3, "GVA valid, GVA/GPA valid");
    cr_assert_eq(r8(46), 0, "TPR");
    cr_assert_eq(r64(48), 0xfee00030);
    cr_assert_eq(r64(56), 0xfee00030);
    cr_assert_arr_eq(pl() + 64, bytes, sizeof(bytes));
    struct sidecar_hv_x64_memory_intercept_message m;
    memcpy(&m, msg.payload, sizeof(m));
    cr_assert_eq(m.guest_physical_address, 0xfee00030);
    cr_assert_eq(m.instruction_byte_count, 3);
}

Test(vp_message, msr_read_and_write)
{
    sk_vp_build_msr(&vp, false, 2, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, 64, 2, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r32(40), 0x1b0, "MSR = ECX");
    cr_assert_eq(r32(44), 0);
    cr_assert_eq(r64(48), vp.gpr[SK_VP_RDX]);
    cr_assert_eq(r64(56), vp.gpr[SK_VP_RAX]);
    sk_vp_build_msr(&vp, true, 3, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, 64, 3, SIDECAR_INTERCEPT_ACCESS_WRITE);
}

Test(vp_message, cpuid)
{
    const uint32_t def[4] = {0xa, 0xb, 0xc, 0xd};
    sk_vp_build_cpuid(&vp, 2, def, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT, 104, 2, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r64(40), vp.gpr[SK_VP_RAX]);
    cr_assert_eq(r64(48), vp.gpr[SK_VP_RCX]);
    cr_assert_eq(r64(56), vp.gpr[SK_VP_RDX]);
    cr_assert_eq(r64(64), vp.gpr[SK_VP_RBX]);
    cr_assert_eq(r64(72), 0xa, "default RAX");
    cr_assert_eq(r64(80), 0xc, "default RCX");
    cr_assert_eq(r64(88), 0xd, "default RDX");
    cr_assert_eq(r64(96), 0xb, "default RBX");
    sk_vp_build_cpuid(&vp, 2, NULL, &msg);
    cr_assert_eq(r64(72), 0);
    cr_assert_eq(r64(96), 0);
}

Test(vp_message, halt)
{
    sk_vp_build_halt(&vp, 1, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_HALT, 40, 1, SIDECAR_INTERCEPT_ACCESS_READ);
}

Test(vp_message, exception_with_error_code)
{
    struct sk_vp_exit ex = { .vector = 14, .has_error_code = 1, .error_code = 0x7,
                             .fault_address = 0x5000 };
    const uint8_t bytes[] = {0x8b, 0x00};
    sk_vp_build_exception(&vp, &ex, 0x5000, bytes, 2, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, 240, 2,
                 SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(r16(40), 14);
    cr_assert_eq(r8(42), 1, "error code valid");
    cr_assert_eq(r8(43), 2);
    cr_assert_eq(r32(44), 7);
    cr_assert_eq(r64(48), 0x5000, "parameter = CR2");
    cr_assert_eq(r64(56), 0);
    cr_assert_arr_eq(pl() + 64, bytes, 2);
    cr_assert_eq(r16(80 + 12), 0x23, "DS");
    cr_assert_eq(r16(96 + 12), 0x23, "SS");
    cr_assert_eq(r16(96 + 14), 0xc0f3);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(r64(112 + 8 * (unsigned)i), vp.gpr[i], "GPR %d in TLFS order", i);
    struct sidecar_hv_x64_exception_intercept_message m;
    memcpy(&m, msg.payload, sizeof(m));
    cr_assert_eq(m.rsp, vp.gpr[SK_VP_RSP]);
    cr_assert_eq(m.r15, vp.gpr[SK_VP_R15]);
    cr_assert_eq(m.exception_parameter, 0x5000);
}

Test(vp_message, exception_software_and_no_error_code)
{
    struct sk_vp_exit ex = { .vector = 3 };
    sk_vp_build_exception(&vp, &ex, 0, NULL, 0, &msg);
    check_header(SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, 240, 0, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r8(42), 2, "software, no error code");
    ex.vector = 6;
    ex.error_code = 0x55;    /* not valid: must not be reported */
    sk_vp_build_exception(&vp, &ex, 0, NULL, 0, &msg);
    cr_assert_eq(r8(42), 0);
    cr_assert_eq(r32(44), 0);
}

/* ---- classification ---- */

static enum sk_vp_exit_action exit_with(uint8_t vector, int has_ec, uint32_t ec, uint64_t addr,
                                        const uint8_t *bytes, uint32_t n)
{
    vp.exit.vector = vector;
    vp.exit.has_error_code = (uint8_t)has_ec;
    vp.exit.error_code = ec;
    vp.exit.fault_address = addr;
    static const uint32_t def[4] = {1, 2, 3, 4};
    return sk_vp_handle_exit(&vp, bytes, n, def, &msg);
}

Test(vp_message, classify_interrupts_and_nmi_resume)
{
    const uint8_t b[] = {0x90};
    cr_assert_eq(exit_with(32, 0, 0, 0, b, 1), SK_VP_EXIT_RESUME);
    cr_assert_eq(exit_with(0x20, 0, 0, 0, b, 1), SK_VP_EXIT_RESUME);
    cr_assert_eq(exit_with(255, 0, 0, 0, b, 1), SK_VP_EXIT_RESUME);
    cr_assert_eq(exit_with(2, 0, 0, 0, b, 1), SK_VP_EXIT_RESUME);
    cr_assert_eq(vp.stats.intercepts, 0);
    cr_assert_eq(r8(0), 0xee, "message untouched");
}

Test(vp_message, classify_gp_io)
{
    const uint8_t out_dx[] = {0xee, 0x90, 0x90};
    cr_assert_eq(exit_with(13, 1, 0, 0, out_dx, 3), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, 128, 1,
                 SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(r16(40), 0x0cf8, "port from DX");
    cr_assert_eq(r8(42), 1);
    cr_assert_eq(r8(43), 3, "all fetched bytes");
    cr_assert_eq(vp.stats.intercepts, 1);
    cr_assert_eq(vp.rip, 0x101234, "RIP not advanced");

    const uint8_t in_imm[] = {0x66, 0xe5, 0x71};
    cr_assert_eq(exit_with(13, 1, 0, 0, in_imm, 3), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT, 128, 3,
                 SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r16(40), 0x71);
    cr_assert_eq(r8(42), 2);

    const uint8_t rep_outsb[] = {0xf3, 0x6e};
    cr_assert_eq(exit_with(13, 1, 0, 0, rep_outsb, 2), SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(r8(42), 1 | 0x08 | 0x10);
    cr_assert_eq(r8(5), SIDECAR_INTERCEPT_ACCESS_WRITE);

    const uint8_t insd[] = {0x6d};
    cr_assert_eq(exit_with(13, 1, 0, 0, insd, 1), SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(r8(42), 4 | 0x08);
    cr_assert_eq(r8(5), SIDECAR_INTERCEPT_ACCESS_READ);
}

Test(vp_message, classify_gp_hlt_msr_cpuid)
{
    const uint8_t hlt[] = {0xf4};
    cr_assert_eq(exit_with(13, 1, 0, 0, hlt, 1), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_HALT, 40, 1, SIDECAR_INTERCEPT_ACCESS_READ);
    const uint8_t rdmsr[] = {0x0f, 0x32};
    cr_assert_eq(exit_with(13, 1, 0, 0, rdmsr, 2), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, 64, 2, SIDECAR_INTERCEPT_ACCESS_READ);
    const uint8_t wrmsr[] = {0x0f, 0x30};
    cr_assert_eq(exit_with(13, 1, 0, 0, wrmsr, 2), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT, 64, 2, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(r32(40), 0x1b0);
    const uint8_t cpuid[] = {0x0f, 0xa2};
    cr_assert_eq(exit_with(13, 1, 0, 0, cpuid, 2), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT, 104, 2,
                 SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r64(72), 1);
    cr_assert_eq(r64(96), 2);
}

Test(vp_message, classify_gp_other_is_an_exception)
{
    const uint8_t cli[] = {0xfa};
    cr_assert_eq(exit_with(13, 1, 0, 0, cli, 1), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, 240, 1,
                 SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r16(40), 13);
    cr_assert_eq(r8(42), 1);
    cr_assert_eq(r8(43), 1);
    /* #GP with a selector error code is never an IO intercept */
    const uint8_t out[] = {0xee};
    cr_assert_eq(exit_with(13, 1, 0x102, 0, out, 1), SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(msg.header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
    cr_assert_eq(r32(44), 0x102);
    /* no bytes (unreadable RIP): exception */
    cr_assert_eq(exit_with(13, 1, 0, 0, NULL, 5), SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(msg.header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
    cr_assert_eq(r8(43), 0);
    /* truncated IN: exception */
    const uint8_t cut[] = {0xe4};
    cr_assert_eq(exit_with(13, 1, 0, 0, cut, 1), SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(msg.header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
}

Test(vp_message, classify_pf_outside_ram_is_unmapped_gpa)
{
    const uint8_t store[] = {0x89, 0x08, 0x90};
    cr_assert_eq(exit_with(14, 1, SK_VP_PF_USER | SK_VP_PF_WRITE, 0xfec00000, store, 3),
                 SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, 80, 2, SIDECAR_INTERCEPT_ACCESS_WRITE);
    cr_assert_eq(r64(48), 0xfec00000, "GVA");
    cr_assert_eq(r64(56), 0xfec00000, "GPA = GVA");
    cr_assert_eq(r8(44), 3);
    cr_assert_eq(r8(45), 3);

    const uint8_t load[] = {0x8b, 0x00};
    cr_assert_eq(exit_with(14, 1, SK_VP_PF_USER, 0x500000, load, 2), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, 80, 2, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r64(56), 0x500000, "first byte past RAM");

    cr_assert_eq(exit_with(14, 1, SK_VP_PF_USER, 0xfffff, load, 2), SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(msg.header.message_type, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, "below RAM");

    /* an undecodable instruction: length 0, bytes still there */
    const uint8_t junk[] = {0x06};
    cr_assert_eq(exit_with(14, 1, SK_VP_PF_USER, 0x0, junk, 1), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA, 80, 0, SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r8(44), 1);
}

Test(vp_message, classify_pf_fetch_has_no_bytes)
{
    vp.rip = 0x9000000;
    const uint8_t bytes[] = {0x90};
    cr_assert_eq(exit_with(14, 1, SK_VP_PF_USER | SK_VP_PF_FETCH, 0x9000000, bytes, 1),
                 SK_VP_EXIT_INTERCEPT);
    cr_assert_eq(msg.header.message_type, SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA);
    cr_assert_eq(r8(5), SIDECAR_INTERCEPT_ACCESS_EXECUTE);
    cr_assert_eq(r8(4), 0);
    cr_assert_eq(r8(44), 0);
    cr_assert_eq(r64(56), 0x9000000);
}

Test(vp_message, classify_pf_inside_ram_is_an_exception)
{
    const uint8_t load[] = {0x8b, 0x00};
    cr_assert_eq(exit_with(14, 1, SK_VP_PF_USER | SK_VP_PF_PRESENT | SK_VP_PF_RSVD, 0x200000,
                           load, 2), SK_VP_EXIT_INTERCEPT);
    check_header(SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT, 240, 2,
                 SIDECAR_INTERCEPT_ACCESS_READ);
    cr_assert_eq(r16(40), 14);
    cr_assert_eq(r32(44), 0xd);
    cr_assert_eq(r64(48), 0x200000, "parameter = CR2");
    cr_assert_eq(vp.cr2, 0, "the guest's CR2 is not changed");
}

Test(vp_message, classify_other_exceptions)
{
    const uint8_t ud[] = {0x0f, 0x0b};
    const uint8_t vectors[] = {0, 1, 3, 4, 5, 6, 7, 16, 17, 18, 19, 21};
    for (size_t i = 0; i < sizeof(vectors); i++) {
        uint64_t dr6 = vectors[i] == 1 ? 0xffff4ff0 : 0;
        cr_assert_eq(exit_with(vectors[i], vectors[i] == 17, 0, dr6, ud, 2), SK_VP_EXIT_INTERCEPT);
        cr_assert_eq(msg.header.message_type, SIDECAR_HV_MESSAGE_TYPE_EXCEPTION_INTERCEPT);
        cr_assert_eq(r16(40), vectors[i]);
        cr_assert_eq(r64(48), dr6, "vector %u parameter", vectors[i]);
        cr_assert_eq(r8(42) & 1, vectors[i] == 17);
        /* faults: the length of ud2, so a VMM can skip it; traps: 0 */
        bool trap = vectors[i] == 1 || vectors[i] == 3 || vectors[i] == 4 || vectors[i] == 18;
        cr_assert_eq(r8(4) & 0xf, trap ? 0 : 2, "vector %u length %u", vectors[i], r8(4));
    }
    cr_assert_eq(vp.stats.intercepts, sizeof(vectors));
}

Test(vp_message, fetch_limit)
{
    cr_assert_eq(sk_vp_fetch_limit(&vp, 0x100000), 16);
    cr_assert_eq(sk_vp_fetch_limit(&vp, 0x4ffff0), 16);
    cr_assert_eq(sk_vp_fetch_limit(&vp, 0x4ffff1), 15);
    cr_assert_eq(sk_vp_fetch_limit(&vp, 0x4fffff), 1);
    cr_assert_eq(sk_vp_fetch_limit(&vp, 0x500000), 0);
    cr_assert_eq(sk_vp_fetch_limit(&vp, 0xfffff), 0);
    cr_assert_eq(sk_vp_fetch_limit(&vp, ~0ull), 0);
}
