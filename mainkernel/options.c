/* SPDX-License-Identifier: MIT */
/* Parsing the bare-metal main kernel's options (options.h). */
#include <stddef.h>

#include <scfree/scfree.h>

#include "options.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

/* A decimal number of at most 9 digits at *s; advances *s. */
static bool number(const char **s, const char *end, uint32_t *v)
{
    const char *p = *s;
    uint32_t n = 0;
    unsigned digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 10) {
        n = n * 10 + (uint32_t)(*p++ - '0');
        digits++;
    }
    if (!digits || digits > 9)
        return false;
    *v = n;
    *s = p;
    return true;
}

/* "3,5-9": numbers and ascending ranges, at most MK_LIST_MAX entries, no
 * duplicates. */
static bool parse_list(const char *s, const char *end, struct mk_cpu_list *l)
{
    struct mk_cpu_list out = { 0, { 0 } };
    while (s < end) {
        uint32_t a, b;
        if (!number(&s, end, &a))
            return false;
        b = a;
        if (s < end && *s == '-') {
            s++;
            if (!number(&s, end, &b) || b < a)
                return false;
        }
        for (uint32_t v = a; v <= b; v++) {
            if (out.count >= MK_LIST_MAX)
                return false;
            for (uint32_t k = 0; k < out.count; k++)
                if (out.cpu[k] == v)
                    return false;
            out.cpu[out.count++] = v;
        }
        if (s < end && *s != ',')
            return false;
        if (s < end && ++s == end)
            return false;   /* trailing comma */
    }
    if (!out.count)
        return false;
    *l = out;
    return true;
}

/* "garbage,ipi" or "all": names from the null-terminated names[] into a
 * bit mask (bit i: names[i]). */
static bool parse_cases(const char *s, const char *end, const char *const *names, uint32_t *mask)
{
    uint32_t count = 0;
    while (names[count] && count < 32)
        count++;
    uint32_t m = 0;
    while (s < end) {
        const char *w = s;
        while (s < end && *s != ',')
            s++;
        unsigned long n = (unsigned long)(s - w);
        bool known = false;
        if (n == 3 && !sc_strncmp(w, "all", 3)) {
            m |= count < 32 ? (1u << count) - 1 : 0xffffffffu;
            known = true;
        }
        for (uint32_t k = 0; k < count; k++) {
            if (n == sc_strnlen(names[k], 32) && !sc_strncmp(w, names[k], n)) {
                m |= 1u << k;
                known = true;
            }
        }
        if (!known)
            return false;
        if (s < end && ++s == end)
            return false;   /* trailing comma */
    }
    if (!m)
        return false;
    *mask = m;
    return true;
}

/* A decimal number in [lo, hi] filling [v, end). */
static bool ranged(const char *v, const char *end, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint32_t n;
    const char *p = v;
    if (!number(&p, end, &n) || p != end || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

static bool word_is(const char *w, unsigned long n, const char *name)
{
    unsigned long k = sc_strnlen(name, 64);
    return n == k && !sc_strncmp(w, name, k);
}

/* Every option: the main kernel's own, then the scenarios' from their
 * table (scenarios/scenarios.def). */
enum kind { FLAG, LIST, RANGED, CASES };

struct option {
    const char *name;
    enum kind kind;
    unsigned long offset;           /* of its value in struct mk_options */
    uint32_t lo, hi, def;           /* RANGED */
    const char *const *cases;       /* CASES */
};

#define FIELD(f) ((unsigned long)offsetof(struct mk_options, f))

static const struct option options[] = {
    { "mk.convert", LIST, FIELD(convert), 0, 0, 0, 0 },
    { "mk.convert_running", LIST, FIELD(convert_running), 0, 0, 0, 0 },
    { "mk.convert_node", RANGED, FIELD(convert_node), 0, 999999999, MK_NO_NODE, 0 },
    { "mk.convert_one_per_node", FLAG, FIELD(convert_one_per_node), 0, 0, 0, 0 },
    { "mk.convert_again", FLAG, FIELD(convert_again), 0, 0, 0, 0 },
#define MK_SCENARIO(field, key, kind, cases, phase, run, report) \
    { "mk." #field, kind, FIELD(field), 0, 0, 0, cases },
#define MK_SCENARIO_OPTION(field, name, kind, lo, hi, def) { name, kind, FIELD(field), lo, hi, def, 0 },
#include "scenarios/scenarios.def"
#undef MK_SCENARIO
#undef MK_SCENARIO_OPTION
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

/* The value [v, end) (v NULL: none given) into its field. */
static bool set(const struct option *o, struct mk_options *opt, const char *v, const char *end)
{
    void *at = (char *)opt + o->offset;
    switch (o->kind) {
    case FLAG:
        *(bool *)at = true;
        return true;
    case LIST:
        return parse_list(v, end, at);
    case RANGED:
        return ranged(v, end, o->lo, o->hi, at);
    case CASES:
        return parse_cases(v, end, o->cases, at);
    }
    return false;
}

bool mk_options_parse(const char *cmdline, struct mk_options *opt, char *err, unsigned long err_size)
{
    sc_memset(opt, 0, sizeof(*opt));
    for (unsigned long i = 0; i < OPTION_COUNT; i++)
        if (options[i].kind == RANGED)
            *(uint32_t *)(void *)((char *)opt + options[i].offset) = options[i].def;
    bool ok = true;
    const char *s = cmdline;
    while (s && *s) {
        while (is_space(*s))
            s++;
        const char *w = s;
        while (*s && !is_space(*s))
            s++;
        unsigned long n = (unsigned long)(s - w);
        if (n < 3 || sc_strncmp(w, "mk.", 3))
            continue;
        const char *eq = w;
        while (eq < s && *eq != '=')
            eq++;
        unsigned long key = (unsigned long)(eq - w);
        const char *v = eq < s ? eq + 1 : 0;
        /* A flag takes no value, every other kind needs one. */
        const struct option *o = 0;
        for (unsigned long i = 0; i < OPTION_COUNT && !o; i++)
            if (word_is(w, key, options[i].name) && (options[i].kind == FLAG) == !v)
                o = &options[i];
        if (!o) {
            if (ok)
                sc_snprintf(err, err_size, "%.*s: unknown main-kernel option", (int)(key < 40 ? key : 40), w);
            ok = false;
            continue;
        }
        bool good = set(o, opt, v, s);
        if (!good && ok)
            sc_snprintf(err, err_size, "%.*s: bad value \"%.*s\"", (int)(key < 40 ? key : 40), w,
                        (int)((unsigned long)(s - v) < 40 ? s - v : 40), v);
        ok = ok && good;
    }
    return ok;
}
