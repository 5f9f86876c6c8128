/* SPDX-License-Identifier: MIT */
/* libFuzzer: the bare-metal main kernel's option parser
 * (mainkernel/options.c, mk_options_parse) on any command line (exact-size
 * copies, so any over-read is caught) and any error buffer size from 1 to
 * 256 bytes (its own exact-size allocation).
 *
 * Checks: the error text is terminated inside its buffer and, when the
 * buffer has room, names the option as it is written in the line ("mk.X:
 * unknown main-kernel option" / "mk.X: bad value ..."); every value is
 * within what options.h promises (lists of 1 to MK_LIST_MAX distinct CPU
 * indices below 10^9, convert_node MK_NO_NODE or below 10^9, ranged
 * options within their range or at their default, case masks within their
 * names) whether the parse succeeded or not; and the options written back
 * as a canonical command line parse without error to the same options. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define ERR_MAX 256u

/* The scenarios' case names, from the table. */
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) MK_CASES_##kind(field, cases)
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def)
#define MK_CASES_FLAG(field, cases)
#define MK_CASES_RANGED(field, cases)
#define MK_CASES_CASES(field, cases) static const char *const *const cases_##field = cases;
#include "scenarios/scenarios.def"
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION

static uint32_t name_count(const char *const *names)
{
    uint32_t n = 0;
    while (names[n])
        n++;
    return n;
}

static void check_list(const struct mk_cpu_list *l)
{
    if (l->count > MK_LIST_MAX)
        abort();
    for (uint32_t i = 0; i < l->count; i++) {
        if (l->cpu[i] > 999999999u)
            abort();
        for (uint32_t k = 0; k < i; k++)
            if (l->cpu[k] == l->cpu[i])
                abort();
    }
}

static void check_values(const struct mk_options *o)
{
    check_list(&o->convert);
    check_list(&o->convert_running);
    if (o->convert_node != MK_NO_NODE && o->convert_node > 999999999u)
        abort();
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) CHECK_##kind(field, cases)
#define CHECK_FLAG(field, cases)
#define CHECK_CASES(field, cases) \
    if (o->field >> name_count(cases_##field)) \
        abort();
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def) CHECK_OPT_##kind(field, lo, hi, def)
#define CHECK_OPT_FLAG(field, lo, hi, def)
#define CHECK_OPT_RANGED(field, lo, hi, def) \
    if (o->field != (def) && (o->field < (lo) || o->field > (hi))) \
        abort();
#include "scenarios/scenarios.def"
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION
}

static char canon[64 * 1024];
static size_t canon_len;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(canon + canon_len, sizeof(canon) - canon_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(canon) - canon_len)
        abort();
    canon_len += (size_t)n;
}

static void put_list(const char *name, const struct mk_cpu_list *l)
{
    if (!l->count)
        return;
    put(" %s=", name);
    for (uint32_t i = 0; i < l->count; i++)
        put("%s%u", i ? "," : "", l->cpu[i]);
}

static void put_cases(const char *name, uint32_t mask, const char *const *names)
{
    if (!mask)
        return;
    put(" %s=", name);
    int first = 1;
    for (uint32_t k = 0; names[k]; k++)
        if (mask & (1u << k)) {
            put("%s%s", first ? "" : ",", names[k]);
            first = 0;
        }
}

/* The options as a command line that says each once. */
static void canonical(const struct mk_options *o)
{
    canon_len = 0;
    canon[0] = 0;
    put_list("mk.convert", &o->convert);
    put_list("mk.convert_running", &o->convert_running);
    if (o->convert_node != MK_NO_NODE)
        put(" mk.convert_node=%u", o->convert_node);
    if (o->convert_one_per_node)
        put(" mk.convert_one_per_node");
    if (o->convert_again)
        put(" mk.convert_again");
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) PUT_##kind("mk." #field, field, cases)
#define PUT_FLAG(name, field, cases) \
    if (o->field) \
        put(" %s", name);
#define PUT_CASES(name, field, cases) put_cases(name, o->field, cases_##field);
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def) PUT_OPT_##kind(name, field, def)
#define PUT_OPT_FLAG(name, field, def) \
    if (o->field) \
        put(" %s", name);
#define PUT_OPT_RANGED(name, field, def) \
    if (o->field != (def)) \
        put(" %s=%u", name, o->field);
#include "scenarios/scenarios.def"
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION
}

static struct mk_options a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    unsigned long err_size = 1 + data[0] % ERR_MAX;
    char *line = malloc(size);
    memcpy(line, data + 1, size - 1);
    line[size - 1] = 0;
    char *err = malloc(err_size);
    memset(err, 0x55, err_size);
    bool ok = mk_options_parse(line, &a, err, err_size);
    check_values(&a);
    if (!ok) {
        if (!memchr(err, 0, err_size))
            abort();
        /* "mk.<key>: ..." with the key as the line has it (at most 40
         * characters of it). */
        if (err_size >= 128) {
            const char *colon = strstr(err, ": ");
            if (strncmp(err, "mk.", 3) || !colon || colon - err > 40)
                abort();
            char key[48];
            memcpy(key, err, (size_t)(colon - err));
            key[colon - err] = 0;
            if (!strstr(line, key))
                abort();
            if (strncmp(colon, ": unknown main-kernel option", 28) && strncmp(colon, ": bad value \"", 13))
                abort();
        }
    }
    canonical(&a);
    char err2[128];
    if (!mk_options_parse(canon, &b, err2, sizeof(err2)))
        abort();
    if (memcmp(&a, &b, sizeof(a)))
        abort();
    free(err);
    free(line);
    return 0;
}
