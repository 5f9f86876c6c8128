/* SPDX-License-Identifier: MIT */
/* Native unit tests of the local APIC ICR encoding (kernel/arch/x86_64/apic_icr.h). */
#include <criterion/criterion.h>

#include "apic_icr.h"

Test(icr, init_is_level_triggered_assert)
{
    uint32_t low = icr_low(ICR_INIT, 0);
    cr_assert_eq(low, 0x0000c500u, "INIT low dword %#x", low);
}

Test(icr, startup_carries_the_page_number)
{
    uint8_t v = 0;
    cr_assert(icr_sipi_vector(0x8000, &v));
    cr_assert_eq(v, 0x08);
    cr_assert_eq(icr_low(ICR_STARTUP, v), 0x00004608u);
}

Test(icr, startup_rejects_bad_trampolines)
{
    uint8_t v = 0x55;
    cr_assert_not(icr_sipi_vector(0, &v));
    cr_assert_not(icr_sipi_vector(0x8010, &v));
    cr_assert_not(icr_sipi_vector(0x100000, &v));
    cr_assert_eq(v, 0x55, "vector untouched on failure");
}

Test(icr, fixed_ipi)
{
    cr_assert_eq(icr_low(ICR_FIXED, 0x20), 0x00004020u);
    cr_assert_eq(icr_low(ICR_NMI, 0), 0x00004400u);
}

Test(icr, xapic_destination_in_high_byte)
{
    uint32_t high = 0;
    cr_assert(icr_xapic_high(0xfe, &high));
    cr_assert_eq(high, 0xfe000000u);
    cr_assert(icr_xapic_high(0, &high));
    cr_assert_eq(high, 0);
}

Test(icr, xapic_refuses_ids_above_255)
{
    uint32_t high = 7;
    cr_assert_not(icr_xapic_high(0xff, &high), "0xff is the broadcast ID");
    cr_assert_not(icr_xapic_high(256, &high));
    cr_assert_not(icr_xapic_high(0x12345, &high));
    cr_assert_eq(high, 7);
}

Test(icr, x2apic_refuses_the_broadcast_id)
{
    cr_assert_not(icr_x2apic_dest_ok(0xffffffffu));
    cr_assert(icr_x2apic_dest_ok(0xfffffffeu));
    cr_assert(icr_x2apic_dest_ok(0xff), "0xff is an ordinary x2APIC ID");
}

Test(icr, x2apic_destination_in_upper_half)
{
    uint64_t v = icr_x2apic(0x1234, icr_low(ICR_FIXED, 0x20));
    cr_assert_eq(v, 0x0000123400004020ull);
    v = icr_x2apic(0xfffffffeu, icr_low(ICR_INIT, 0));
    cr_assert_eq(v >> 32, 0xfffffffeull);
    cr_assert_eq((uint32_t)v, 0x0000c500u);
}
