/* SPDX-License-Identifier: MIT */
/* The main kernel's option parser (mainkernel/options.h), and the bounded
 * formatter's %.*s it uses for messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <scfree/scfree.h>

#include "options.h"

static struct mk_options opt;
static char err[96];

Test(options, defaults_and_foreign_words)
{
    cr_assert(mk_options_parse("console=ttyS0 boot_cpus=0-3 mkfoo quiet", &opt, err, sizeof(err)));
    cr_assert_eq(opt.convert.count, 0);
    cr_assert_eq(opt.convert_node, MK_NO_NODE);
    cr_assert_not(opt.canary || opt.convert_again || opt.touch_sidecar || opt.vp_test);
    cr_assert_eq(opt.convert_running.count, 0);
    cr_assert(mk_options_parse("", &opt, err, sizeof(err)));
}

Test(options, vp_test_and_convert_running)
{
    cr_assert(mk_options_parse("mk.vp_test mk.convert_running=2,4-5 mk.convert=7", &opt, err, sizeof(err)),
              "%s", err);
    uint32_t want[] = { 2, 4, 5 };
    cr_assert(opt.vp_test);
    cr_assert_eq(opt.convert_running.count, 3);
    cr_assert_arr_eq(opt.convert_running.cpu, want, sizeof(want));
    cr_assert_eq(opt.convert.count, 1);
    cr_assert_eq(opt.convert.cpu[0], 7);
    cr_assert_not(mk_options_parse("mk.convert_running", &opt, err, sizeof(err)));
    cr_assert(strncmp(err, "mk.convert_running", 18) == 0, "%s", err);
    cr_assert_not(mk_options_parse("mk.convert_running=3-1", &opt, err, sizeof(err)));
    cr_assert(strncmp(err, "mk.convert_running", 18) == 0, "%s", err);
    cr_assert_not(mk_options_parse("mk.vp_test=1", &opt, err, sizeof(err)));
    cr_assert(strncmp(err, "mk.vp_test", 10) == 0, "%s", err);
}

Test(options, lists_and_flags)
{
    cr_assert(mk_options_parse("a mk.convert=3,5-7,10 mk.convert_node=2 mk.canary mk.convert_again b", &opt, err,
                               sizeof(err)), "%s", err);
    uint32_t want[] = { 3, 5, 6, 7, 10 };
    cr_assert_eq(opt.convert.count, 5);
    cr_assert_arr_eq(opt.convert.cpu, want, sizeof(want));
    cr_assert_eq(opt.convert_node, 2);
    cr_assert(opt.canary && opt.convert_again);
    cr_assert_not(opt.touch_sidecar);
    cr_assert(mk_options_parse("mk.bench_roundtrip", &opt, err, sizeof(err)));
    cr_assert(opt.bench_roundtrip);
    cr_assert(mk_options_parse("mk.vp_hostile", &opt, err, sizeof(err)));
    cr_assert(opt.vp_hostile);
    cr_assert(mk_options_parse("mk.vp_compute", &opt, err, sizeof(err)));
    cr_assert(opt.vp_compute);
    cr_assert(mk_options_parse("mk.convert_one_per_node", &opt, err, sizeof(err)));
    cr_assert(opt.convert_one_per_node);
    cr_assert(mk_options_parse("mk.test_touch_sidecar", &opt, err, sizeof(err)));
    cr_assert(opt.touch_sidecar);
    cr_assert(mk_options_parse("mk.convert=0-255", &opt, err, sizeof(err)));
    cr_assert_eq(opt.convert.count, MK_LIST_MAX);
}

Test(options, bad_values_name_the_option)
{
    static const char *bad[][2] = {
        { "mk.convert=", "mk.convert" },        { "mk.convert=3,", "mk.convert" },
        { "mk.convert=5-3", "mk.convert" },     { "mk.convert=1,1", "mk.convert" },
        { "mk.convert=x", "mk.convert" },       { "mk.convert=1234567890", "mk.convert" },
        { "mk.convert=0-256", "mk.convert" },   { "mk.convert_node=1x", "mk.convert_node" },
        { "mk.convert_node", "mk.convert_node" }, { "mk.canary=1", "mk.canary" },
        { "mk.bogus", "mk.bogus" },
        { "mk.faults=", "mk.faults" },          { "mk.faults=garbage,", "mk.faults" },
        { "mk.faults=nope", "mk.faults" },      { "mk.faults", "mk.faults" },
        { "mk.fault_iters=0", "mk.fault_iters" }, { "mk.fault_iters=100001", "mk.fault_iters" },
        { "mk.soak=1", "mk.soak" },             { "mk.soak_commands=0", "mk.soak_commands" },
        { "mk.soak_commands=12x", "mk.soak_commands" },
        { "mk.stop_take=1", "mk.stop_take" },   { "mk.stop_take_pairs=0", "mk.stop_take_pairs" },
        { "mk.stop_take_pairs=100001", "mk.stop_take_pairs" }, { "mk.stop_take_pairs", "mk.stop_take_pairs" },
        { "mk.vectors=1", "mk.vectors" },
        { "mk.hot_init=1", "mk.hot_init" },     { "mk.cpu_report=1", "mk.cpu_report" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "x %s mk.canary", bad[i][0]);
        err[0] = 0;
        cr_assert_not(mk_options_parse(line, &opt, err, sizeof(err)), "%s accepted", bad[i][0]);
        cr_assert(strncmp(err, bad[i][1], strlen(bad[i][1])) == 0, "%s: message \"%s\"", bad[i][0], err);
        /* the rest of the line still applies; the bad option keeps its default */
        cr_assert(opt.canary, "%s", bad[i][0]);
    }
    cr_assert_not(mk_options_parse("mk.convert=3,x", &opt, err, sizeof(err)));
    cr_assert_eq(opt.convert.count, 0);
}

Test(options, faults_and_soak)
{
    cr_assert(mk_options_parse("mk.canary", &opt, err, sizeof(err)));
    cr_assert_eq(opt.faults, 0);
    cr_assert_eq(opt.fault_iters, MK_FAULT_ITERS_DEFAULT);
    cr_assert_eq(opt.soak_commands, MK_SOAK_COMMANDS_DEFAULT);
    cr_assert_not(opt.soak);
    cr_assert(mk_options_parse("mk.faults=garbage,ipi mk.fault_iters=7", &opt, err, sizeof(err)));
    cr_assert_eq(opt.faults, (1u << 0) | (1u << 2));
    cr_assert_eq(opt.fault_iters, 7);
    cr_assert(mk_options_parse("mk.faults=remove_race,status", &opt, err, sizeof(err)));
    cr_assert_eq(opt.faults, (1u << 5) | (1u << 1));
    cr_assert(mk_options_parse("mk.faults=all", &opt, err, sizeof(err)));
    cr_assert_eq(opt.faults, 0x3f);
    cr_assert(mk_options_parse("mk.soak mk.soak_commands=2000", &opt, err, sizeof(err)));
    cr_assert(opt.soak);
    cr_assert_eq(opt.soak_commands, 2000);
    cr_assert_not(opt.stop_take);
    cr_assert_eq(opt.stop_take_pairs, 10000);
    cr_assert(mk_options_parse("mk.stop_take mk.stop_take_pairs=500", &opt, err, sizeof(err)));
    cr_assert(opt.stop_take);
    cr_assert_eq(opt.stop_take_pairs, 500);
    cr_assert_not(opt.vectors);
    cr_assert(mk_options_parse("mk.vectors", &opt, err, sizeof(err)));
    cr_assert(opt.vectors);
    cr_assert_not(opt.hot_init);
    cr_assert(mk_options_parse("mk.hot_init", &opt, err, sizeof(err)));
    cr_assert(opt.hot_init);
    cr_assert_not(opt.cpu_report);
    cr_assert(mk_options_parse("mk.cpu_report", &opt, err, sizeof(err)));
    cr_assert(opt.cpu_report);
}

Test(fmt, precision)
{
    char b[32];
    sc_snprintf(b, sizeof(b), "[%.*s]", 3, "abcdef");
    cr_assert_str_eq(b, "[abc]");
    sc_snprintf(b, sizeof(b), "[%.2s|%s]", "xyz", "q");
    cr_assert_str_eq(b, "[xy|q]");
    sc_snprintf(b, sizeof(b), "[%.*s]", -1, "all");
    cr_assert_str_eq(b, "[all]");
    sc_snprintf(b, sizeof(b), "[%.*s]", 0, "none");
    cr_assert_str_eq(b, "[]");
}
