/* SPDX-License-Identifier: MIT */
/* The shim command line. Words are separated by spaces; words that are not
 * sidecar options are left for the main kernel. */
#include <shim/core.h>
#include <sidecar_config.h>

#include "util.h"

void shim_options_default(struct shim_options *opt)
{
    shim_zero(opt, sizeof(*opt));
    opt->enabled = true;
    opt->policy = SHIM_POLICY_AUTO;
    opt->log = SIDECAR_CONFIG_DEFAULT_LOGGING;
    opt->node_size = SIDECAR_DEFAULT_NODE_SIZE;
    opt->guest_ram = 64ull << 20;
    opt->ap_timeout_us = 5000000;
    opt->apic_mode = SIDECAR_APIC_MODE_AUTO;
    opt->vp_backend = SIDECAR_VP_BACKEND_AUTO;
}

static bool eq(const char *w, size_t n, const char *s)
{
    size_t k = shim_strlen(s, 64);
    if (k != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (w[i] != s[i])
            return false;
    return true;
}

/* A decimal number; false on anything else or overflow past max. */
static bool number(const char *s, size_t n, uint64_t max, uint64_t *out, size_t *used)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        i++;
    }
    if (i == 0)
        return false;
    *out = v;
    if (used)
        *used = i;
    else if (i != n)
        return false;
    return true;
}

static int bad(char err[SHIM_ERR_SIZE], const char *opt, const char *v, size_t n, const char *why)
{
    char val[48];
    size_t k = n < sizeof(val) - 1 ? n : sizeof(val) - 1;
    shim_copy(val, v, k);
    val[k] = 0;
    shim_fmt(err, SHIM_ERR_SIZE, "%s: \"%s\" %s", opt, val, why);
    return SHIM_E_INVALID;
}

static int parse_list(const char *v, size_t n, struct shim_options *opt, char err[SHIM_ERR_SIZE])
{
    uint32_t count = 0;
    uint32_t list[64];
    size_t i = 0;
    while (i < n) {
        uint64_t a, b;
        size_t used;
        if (!number(v + i, n - i, 0xffffffffu, &a, &used))
            return bad(err, "sidecar.main_cpus", v, n, "is not a list of APIC IDs (e.g. 0,4-7)");
        i += used;
        b = a;
        if (i < n && v[i] == '-') {
            i++;
            if (!number(v + i, n - i, 0xffffffffu, &b, &used) || b < a)
                return bad(err, "sidecar.main_cpus", v, n, "has a bad range");
            i += used;
        }
        for (uint64_t x = a; x <= b; x++) {
            if (count >= 64)
                return bad(err, "sidecar.main_cpus", v, n, "names more than 64 CPUs");
            list[count++] = (uint32_t)x;
        }
        if (i < n && v[i] != ',')
            return bad(err, "sidecar.main_cpus", v, n, "is not a list of APIC IDs (e.g. 0,4-7)");
        if (i < n)
            i++;
    }
    opt->main_cpu_count = count;
    shim_copy(opt->main_cpus, list, sizeof(uint32_t) * count);
    return SHIM_OK;
}

static int option(const char *k, size_t kn, const char *v, size_t vn, bool has_v,
                  struct shim_options *opt, char err[SHIM_ERR_SIZE])
{
    uint64_t x;
    if (eq(k, kn, "sidecar")) {
        if (has_v && eq(v, vn, "on"))
            opt->enabled = true;
        else if (has_v && eq(v, vn, "off"))
            opt->enabled = false;
        else
            return bad(err, "sidecar", v, vn, "is not on or off");
    } else if (eq(k, kn, "sidecar.log") || eq(k, kn, "sidecar.mwait")) {
        bool *flag = eq(k, kn, "sidecar.log") ? &opt->log : &opt->mwait;
        if (!has_v || eq(v, vn, "1") || eq(v, vn, "on"))
            *flag = true;
        else if (eq(v, vn, "0") || eq(v, vn, "off"))
            *flag = false;
        else
            return bad(err, flag == &opt->log ? "sidecar.log" : "sidecar.mwait", v, vn, "is not 0 or 1");
    } else if (eq(k, kn, "sidecar.node_size")) {
        if (!has_v || !number(v, vn, SIDECAR_MAX_NODE_CPUS, &x, NULL) || x == 0)
            return bad(err, "sidecar.node_size", v, vn, "is not a number from 1 to 4032");
        opt->node_size = (uint32_t)x;
    } else if (eq(k, kn, "sidecar.ap_timeout_us")) {
        if (!has_v || !number(v, vn, 60000000, &x, NULL) || x < 1000)
            return bad(err, "sidecar.ap_timeout_us", v, vn, "is not a number from 1000 to 60000000");
        opt->ap_timeout_us = (uint32_t)x;
    } else if (eq(k, kn, "sidecar.guest_ram")) {
        size_t used;
        if (!has_v || !number(v, vn, 1ull << 40, &x, &used))
            return bad(err, "sidecar.guest_ram", v, vn, "is not a size (e.g. 64M)");
        if (used + 1 == vn) {
            char c = v[used];
            unsigned shift = c == 'K' || c == 'k' ? 10 : c == 'M' || c == 'm' ? 20 : c == 'G' || c == 'g' ? 30 : 0;
            if (!shift)
                return bad(err, "sidecar.guest_ram", v, vn, "has an unknown suffix (K, M or G)");
            if (x > (SIDECAR_MAX_GUEST_RAM >> shift))
                return bad(err, "sidecar.guest_ram", v, vn, "is not a multiple of 2M up to 1G");
            x <<= shift;
        } else if (used != vn) {
            return bad(err, "sidecar.guest_ram", v, vn, "is not a size (e.g. 64M)");
        }
        if (x % SIDECAR_LARGE_PAGE_SIZE || x > SIDECAR_MAX_GUEST_RAM)
            return bad(err, "sidecar.guest_ram", v, vn, "is not a multiple of 2M up to 1G");
        opt->guest_ram = x;
    } else if (eq(k, kn, "sidecar.main_cpus")) {
        if (!has_v || vn == 0)
            return bad(err, "sidecar.main_cpus", v, vn, "needs a list");
        return parse_list(v, vn, opt, err);
    } else if (eq(k, kn, "sidecar.policy")) {
        if (has_v && eq(v, vn, "auto"))
            opt->policy = SHIM_POLICY_AUTO;
        else if (has_v && eq(v, vn, "openhcl"))
            opt->policy = SHIM_POLICY_OPENHCL;
        else if (has_v && eq(v, vn, "numa"))
            opt->policy = SHIM_POLICY_NUMA;
        else
            return bad(err, "sidecar.policy", v, vn, "is not auto, openhcl or numa");
    } else if (eq(k, kn, "sidecar.linux_numbering")) {
        if (has_v && eq(v, vn, "auto"))
            opt->linux_numbering = SHIM_LINUX_NUMBERING_AUTO;
        else if (has_v && eq(v, vn, "vp"))
            opt->linux_numbering = SHIM_LINUX_NUMBERING_VP;
        else if (has_v && eq(v, vn, "main_first"))
            opt->linux_numbering = SHIM_LINUX_NUMBERING_MAIN_FIRST;
        else
            return bad(err, "sidecar.linux_numbering", v, vn, "is not auto, vp or main_first");
    } else if (eq(k, kn, "OPENHCL_SIDECAR")) {
        /* OpenHCL's own switch, read as its boot shim reads it: values
         * separated by commas, each applied in turn (off, on = enabled
         * without logging, log = enabled with logging), anything else
         * ignored. The word stays on the main kernel's command line, as in
         * OpenHCL. */
        size_t i = 0;
        while (has_v && i <= vn) {
            size_t j = i;
            while (j < vn && v[j] != ',')
                j++;
            if (eq(v + i, j - i, "off")) {
                opt->enabled = false;
            } else if (eq(v + i, j - i, "on")) {
                opt->enabled = true;
                opt->log = false;
            } else if (eq(v + i, j - i, "log")) {
                opt->enabled = true;
                opt->log = true;
            }
            i = j + 1;
        }
    } else if (eq(k, kn, "sidecar.apic")) {
        if (has_v && eq(v, vn, "auto"))
            opt->apic_mode = SIDECAR_APIC_MODE_AUTO;
        else if (has_v && eq(v, vn, "xapic"))
            opt->apic_mode = SIDECAR_APIC_MODE_XAPIC;
        else if (has_v && eq(v, vn, "x2apic"))
            opt->apic_mode = SIDECAR_APIC_MODE_X2APIC;
        else
            return bad(err, "sidecar.apic", v, vn, "is not auto, xapic or x2apic");
    } else if (eq(k, kn, "sidecar.vp_backend")) {
        if (has_v && eq(v, vn, "auto"))
            opt->vp_backend = SIDECAR_VP_BACKEND_AUTO;
        else if (has_v && eq(v, vn, "ring3"))
            opt->vp_backend = SIDECAR_VP_BACKEND_RING3;
        else if (has_v && eq(v, vn, "svm"))
            opt->vp_backend = SIDECAR_VP_BACKEND_SVM;
        else
            return bad(err, "sidecar.vp_backend", v, vn, "is not auto, ring3 or svm");
    }
    /* Anything else (including sidecar.test_* hooks) is not ours here. */
    return SHIM_OK;
}

int shim_cmdline_parse(const char *cmdline, struct shim_options *opt, char err[SHIM_ERR_SIZE])
{
    int first_error = SHIM_OK;
    size_t len = shim_strlen(cmdline, SIDECAR_CMDLINE_SIZE);
    size_t i = 0;
    while (i < len) {
        while (i < len && cmdline[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && cmdline[i] != ' ')
            i++;
        if (i == start)
            break;
        const char *w = cmdline + start;
        size_t n = i - start, k = 0;
        while (k < n && w[k] != '=')
            k++;
        char e[SHIM_ERR_SIZE];
        int rc = option(w, k, w + k + (k < n), k < n ? n - k - 1 : 0, k < n, opt, e);
        if (rc != SHIM_OK && first_error == SHIM_OK) {
            first_error = rc;
            shim_copy(err, e, SHIM_ERR_SIZE);
        }
    }
    return first_error;
}
