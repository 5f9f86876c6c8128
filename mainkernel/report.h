/* SPDX-License-Identifier: MIT */
/* The main kernel's console output: its log lines ("main: ...") and the
 * SIDECAR-REPORT line, written piece by piece through one formatter onto
 * the serial console (platform.h). Used by main.c and by every scenario
 * (scenarios/) for its log lines and its part of the report. */
#ifndef MK_REPORT_H
#define MK_REPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Formats (scfree's sc_vsnprintf: at most 511 characters a call) and
 * writes. */
void mk_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A scenario's failure, first one wins: formats into error (size bytes)
 * unless it already holds a message, clears *ok, and returns false (so a
 * check can `return mk_fail(...)`). */
bool mk_fail(bool *ok, char *error, size_t size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same for a result struct with `bool ok` and `char error[]`. */
#define MK_FAIL(r, ...) mk_fail(&(r)->ok, (r)->error, sizeof((r)->error), __VA_ARGS__)

#endif
