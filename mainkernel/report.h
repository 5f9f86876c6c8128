/* The main kernel's console output: its log lines ("main: ...") and the
 * SIDECAR-REPORT line, written piece by piece through one formatter onto
 * the serial console (platform.h). Used by main.c and by every scenario
 * (scenarios/) for its log lines and its part of the report. */
#ifndef MK_REPORT_H
#define MK_REPORT_H

/* Formats (scfree's sc_vsnprintf: at most 511 characters a call) and
 * writes. */
void mk_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
