/* Parsing the bare-metal main kernel's options (options.h). */
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

/* "garbage,ipi" or "all": fault case names (faults.h) into a bit mask. */
static bool parse_faults(const char *s, const char *end, uint32_t *mask)
{
    static const char *const names[] = { "garbage", "status", "ipi", "stop_race", "reconnect", "remove_race" };
    uint32_t m = 0;
    while (s < end) {
        const char *w = s;
        while (s < end && *s != ',')
            s++;
        unsigned long n = (unsigned long)(s - w);
        bool known = false;
        if (n == 3 && !sc_strncmp(w, "all", 3)) {
            m |= (1u << (sizeof(names) / sizeof(names[0]))) - 1;
            known = true;
        }
        for (uint32_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
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

bool mk_options_parse(const char *cmdline, struct mk_options *opt, char *err, unsigned long err_size)
{
    sc_memset(opt, 0, sizeof(*opt));
    opt->convert_node = MK_NO_NODE;
    opt->fault_iters = MK_FAULT_ITERS_DEFAULT;
    opt->soak_commands = MK_SOAK_COMMANDS_DEFAULT;
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
        bool good = true;
        if (word_is(w, key, "mk.convert") && v) {
            good = parse_list(v, s, &opt->convert);
        } else if (word_is(w, key, "mk.convert_running") && v) {
            good = parse_list(v, s, &opt->convert_running);
        } else if (word_is(w, key, "mk.convert_one_per_node") && !v) {
            opt->convert_one_per_node = true;
        } else if (word_is(w, key, "mk.bench_roundtrip") && !v) {
            opt->bench_roundtrip = true;
        } else if (word_is(w, key, "mk.vp_hostile") && !v) {
            opt->vp_hostile = true;
        } else if (word_is(w, key, "mk.vp_compute") && !v) {
            opt->vp_compute = true;
        } else if (word_is(w, key, "mk.vp_test") && !v) {
            opt->vp_test = true;
        } else if (word_is(w, key, "mk.convert_node") && v) {
            uint32_t node;
            const char *p = v;
            good = number(&p, s, &node) && p == s;
            if (good)
                opt->convert_node = node;
        } else if (word_is(w, key, "mk.convert_again") && !v) {
            opt->convert_again = true;
        } else if (word_is(w, key, "mk.canary") && !v) {
            opt->canary = true;
        } else if (word_is(w, key, "mk.test_touch_sidecar") && !v) {
            opt->touch_sidecar = true;
        } else if (word_is(w, key, "mk.faults") && v) {
            good = parse_faults(v, s, &opt->faults);
        } else if (word_is(w, key, "mk.fault_iters") && v) {
            good = ranged(v, s, 1, 100000, &opt->fault_iters);
        } else if (word_is(w, key, "mk.soak") && !v) {
            opt->soak = true;
        } else if (word_is(w, key, "mk.soak_commands") && v) {
            good = ranged(v, s, 1, 10000000, &opt->soak_commands);
        } else if (word_is(w, key, "mk.vectors") && !v) {
            opt->vectors = true;
        } else if (word_is(w, key, "mk.hot_init") && !v) {
            opt->hot_init = true;
        } else if (word_is(w, key, "mk.cpu_report") && !v) {
            opt->cpu_report = true;
        } else {
            if (ok)
                sc_snprintf(err, err_size, "%.*s: unknown main-kernel option", (int)(key < 40 ? key : 40), w);
            ok = false;
            continue;
        }
        if (!good && ok)
            sc_snprintf(err, err_size, "%.*s: bad value \"%.*s\"", (int)(key < 40 ? key : 40), w,
                        (int)((unsigned long)(s - v) < 40 ? s - v : 40), v);
        ok = ok && good;
    }
    return ok;
}
