/* SPDX-License-Identifier: MIT */
/* The shim command line. */
#include <criterion/criterion.h>
#include <string.h>

#include <shim/core.h>
#include <sidecar_config.h>

static char err[SHIM_ERR_SIZE];
static struct shim_options o;

static void setup(void) { shim_options_default(&o); }
TestSuite(cmdline, .init = setup);

Test(cmdline, defaults)
{
    cr_assert(o.enabled);
    cr_assert_eq(o.log, SIDECAR_CONFIG_DEFAULT_LOGGING);
    cr_assert_eq(o.node_size, 32);
    cr_assert_eq(o.guest_ram, 64ull << 20);
    cr_assert_eq(o.ap_timeout_us, 5000000);
    cr_assert_eq(o.apic_mode, SIDECAR_APIC_MODE_AUTO);
    cr_assert_eq(o.main_cpu_count, 0);
    cr_assert_eq(shim_cmdline_parse("", &o, err), SHIM_OK);
    cr_assert_eq(shim_cmdline_parse("   console=ttyS0   quiet ", &o, err), SHIM_OK);
    cr_assert_eq(o.node_size, 32);
    cr_assert_not(o.mwait);
}

Test(cmdline, every_option)
{
    cr_assert_eq(shim_cmdline_parse("/shim.elf console=ttyS0 sidecar.node_size=8 sidecar.guest_ram=128M "
                                    "sidecar.main_cpus=0,4-6 sidecar.apic=xapic sidecar.log=0 "
                                    "sidecar.ap_timeout_us=1000", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.node_size, 8);
    cr_assert_eq(o.guest_ram, 128ull << 20);
    cr_assert_eq(o.main_cpu_count, 4);
    cr_assert_eq(o.main_cpus[0], 0);
    cr_assert_eq(o.main_cpus[1], 4);
    cr_assert_eq(o.main_cpus[3], 6);
    cr_assert_eq(o.apic_mode, SIDECAR_APIC_MODE_XAPIC);
    cr_assert_not(o.log);
    cr_assert_eq(o.ap_timeout_us, 1000);
    cr_assert_eq(shim_cmdline_parse("sidecar.log sidecar.apic=x2apic sidecar=off sidecar.guest_ram=0 "
                                    "sidecar.ap_timeout_us=60000000", &o, err), SHIM_OK, "%s", err);
    cr_assert(o.log);
    cr_assert_eq(o.apic_mode, SIDECAR_APIC_MODE_X2APIC);
    cr_assert_not(o.enabled);
    cr_assert_eq(o.guest_ram, 0);
    cr_assert_eq(o.ap_timeout_us, 60000000);
    cr_assert_eq(shim_cmdline_parse("sidecar=on sidecar.log=1 sidecar.apic=auto sidecar.guest_ram=1G "
                                    "sidecar.guest_ram=2048k", &o, err), SHIM_OK, "%s", err);
    cr_assert(o.enabled);
    cr_assert_eq(o.guest_ram, 2ull << 20);
    cr_assert_eq(o.apic_mode, SIDECAR_APIC_MODE_AUTO);
    cr_assert_eq(shim_cmdline_parse("sidecar.mwait", &o, err), SHIM_OK, "%s", err);
    cr_assert(o.mwait);
    cr_assert_eq(shim_cmdline_parse("sidecar.mwait=off", &o, err), SHIM_OK, "%s", err);
    cr_assert_not(o.mwait);
    cr_assert_eq(o.vp_backend, SIDECAR_VP_BACKEND_AUTO);
    cr_assert_eq(shim_cmdline_parse("sidecar.vp_backend=svm", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.vp_backend, SIDECAR_VP_BACKEND_SVM);
    cr_assert_eq(shim_cmdline_parse("sidecar.vp_backend=ring3", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.vp_backend, SIDECAR_VP_BACKEND_RING3);
}

Test(cmdline, unknown_words_ignored)
{
    cr_assert_eq(shim_cmdline_parse("sidecarx=1 sidecar.test_hook=3 foo=sidecar.node_size=0", &o, err), SHIM_OK);
    cr_assert_eq(o.node_size, 32);
}

static void rejected(const char *line, const char *prefix)
{
    shim_options_default(&o);
    struct shim_options before = o;
    cr_assert_eq(shim_cmdline_parse(line, &o, err), SHIM_E_INVALID, "%s accepted", line);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "%s: %s", line, err);
    cr_assert(memcmp(&before, &o, sizeof(o)) == 0, "%s changed options", line);
}

Test(cmdline, bad_values_name_the_option_and_keep_defaults)
{
    rejected("sidecar.node_size=abc", "sidecar.node_size: \"abc\" is not a number");
    rejected("sidecar.node_size=0", "sidecar.node_size:");
    rejected("sidecar.node_size=4033", "sidecar.node_size:");
    rejected("sidecar.node_size", "sidecar.node_size:");
    rejected("sidecar.node_size=99999999999999999999999", "sidecar.node_size:");
    rejected("sidecar.node_size=8x", "sidecar.node_size:");
    rejected("sidecar=maybe", "sidecar:");
    rejected("sidecar", "sidecar:");
    rejected("sidecar.log=2", "sidecar.log:");
    rejected("sidecar.mwait=yes", "sidecar.mwait:");
    rejected("sidecar.guest_ram=3M", "sidecar.guest_ram:");
    rejected("sidecar.guest_ram=2T", "sidecar.guest_ram:");
    rejected("sidecar.guest_ram=2G", "sidecar.guest_ram:");
    rejected("sidecar.guest_ram=M", "sidecar.guest_ram:");
    rejected("sidecar.guest_ram=4MM", "sidecar.guest_ram:");
    rejected("sidecar.guest_ram=99999999999999999999G", "sidecar.guest_ram:");
    rejected("sidecar.guest_ram=17179869184G", "sidecar.guest_ram:");   /* 2^34 G wraps to 0 */
    rejected("sidecar.guest_ram=1099511627776K", "sidecar.guest_ram:");
    rejected("sidecar.ap_timeout_us=999", "sidecar.ap_timeout_us:");
    rejected("sidecar.ap_timeout_us=60000001", "sidecar.ap_timeout_us:");
    rejected("sidecar.ap_timeout_us=-5", "sidecar.ap_timeout_us:");
    rejected("sidecar.apic=x3apic", "sidecar.apic:");
    rejected("sidecar.vp_backend=vmx", "sidecar.vp_backend:");
    rejected("sidecar.main_cpus=3-1", "sidecar.main_cpus:");
    rejected("sidecar.main_cpus=", "sidecar.main_cpus:");
    rejected("sidecar.main_cpus=1,,2", "sidecar.main_cpus:");
    rejected("sidecar.main_cpus=a", "sidecar.main_cpus:");
    rejected("sidecar.main_cpus=0-64", "sidecar.main_cpus:");
    rejected("sidecar.main_cpus=0-4294967295", "sidecar.main_cpus:");
}

Test(cmdline, parsing_goes_on_after_a_bad_value)
{
    cr_assert_eq(shim_cmdline_parse("sidecar.node_size=x sidecar.log=0 sidecar.apic=no sidecar=off", &o, err),
                 SHIM_E_INVALID);
    cr_assert(strncmp(err, "sidecar.node_size:", 18) == 0, "first error reported: %s", err);
    cr_assert_eq(o.node_size, 32);
    cr_assert_not(o.log);
    cr_assert_not(o.enabled);
}

Test(cmdline, policy)
{
    cr_assert_eq(o.policy, SHIM_POLICY_AUTO, "OpenHCL's split where x2APIC is, by default");
    cr_assert_eq(shim_cmdline_parse("sidecar.policy=numa", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.policy, SHIM_POLICY_NUMA);
    cr_assert_eq(shim_cmdline_parse("sidecar.policy=openhcl", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.policy, SHIM_POLICY_OPENHCL);
    cr_assert_eq(shim_cmdline_parse("sidecar.policy=linux sidecar.node_size=4", &o, err), SHIM_E_INVALID);
    cr_assert_str_eq(err, "sidecar.policy: \"linux\" is not auto, openhcl or numa");
    cr_assert_eq(o.policy, SHIM_POLICY_OPENHCL, "a bad value keeps the previous one");
    cr_assert_eq(o.node_size, 4, "parsing went on");
    cr_assert_eq(shim_cmdline_parse("sidecar.policy", &o, err), SHIM_E_INVALID);
    cr_assert_eq(shim_cmdline_parse("sidecar.policy=auto", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.policy, SHIM_POLICY_AUTO);
    cr_assert_eq(o.linux_numbering, SHIM_LINUX_NUMBERING_AUTO);
    cr_assert_eq(shim_cmdline_parse("sidecar.linux_numbering=vp", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.linux_numbering, SHIM_LINUX_NUMBERING_VP);
    cr_assert_eq(shim_cmdline_parse("sidecar.linux_numbering=main_first", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.linux_numbering, SHIM_LINUX_NUMBERING_MAIN_FIRST);
    cr_assert_eq(shim_cmdline_parse("sidecar.linux_numbering=auto", &o, err), SHIM_OK, "%s", err);
    cr_assert_eq(o.linux_numbering, SHIM_LINUX_NUMBERING_AUTO);
    cr_assert_eq(shim_cmdline_parse("sidecar.linux_numbering=x", &o, err), SHIM_E_INVALID);
    cr_assert_str_eq(err, "sidecar.linux_numbering: \"x\" is not auto, vp or main_first");
}

/* OpenHCL's OPENHCL_SIDECAR=, with the cases of its boot shim's own test:
 * values applied in turn, unknown ones ignored, never an error. */
Test(cmdline, openhcl_sidecar)
{
    static const struct {
        const char *line;
        bool enabled, log;
    } cases[] = {
        { "OPENHCL_SIDECAR=on", true, false },     { "OPENHCL_SIDECAR=off", false, false },
        { "OPENHCL_SIDECAR=on,off", false, false }, { "OPENHCL_SIDECAR=on,log", true, true },
        { "OPENHCL_SIDECAR=log", true, true },      { "OPENHCL_SIDECAR=off,on", true, false },
        { "OPENHCL_SIDECAR=bogus", true, false },   { "OPENHCL_SIDECAR=", true, false },
        { "OPENHCL_SIDECAR", true, false },         { "OPENHCL_SIDECAR=log,,x", true, true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        shim_options_default(&o);
        o.log = false;
        cr_assert_eq(shim_cmdline_parse(cases[i].line, &o, err), SHIM_OK, "%s", cases[i].line);
        cr_assert_eq(o.enabled, cases[i].enabled, "%s", cases[i].line);
        cr_assert_eq(o.log, cases[i].log, "%s", cases[i].line);
    }
    /* Our own switch and OpenHCL's: the later word wins. */
    shim_options_default(&o);
    cr_assert_eq(shim_cmdline_parse("OPENHCL_SIDECAR=off sidecar=on", &o, err), SHIM_OK);
    cr_assert(o.enabled);
    cr_assert_eq(shim_cmdline_parse("sidecar=on OPENHCL_SIDECAR=off", &o, err), SHIM_OK);
    cr_assert_not(o.enabled);
}
