/* SPDX-License-Identifier: MIT */
/* The main kernel's console output (report.h). */
#include <stdarg.h>

#include <scfree/scfree.h>

#include "arch/x86_64/platform.h"
#include "report.h"

static char line[512];

void mk_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = sc_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mk_write(line, n);
}

bool mk_fail(bool *ok, char *error, size_t size, const char *fmt, ...)
{
    if (!error[0]) {
        va_list ap;
        va_start(ap, fmt);
        sc_vsnprintf(error, size, fmt, ap);
        va_end(ap);
    }
    *ok = false;
    return false;
}
