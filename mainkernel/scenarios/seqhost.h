/* SPDX-License-Identifier: MIT */
/* Driving the sequence guest (seqguest.asm, seq.h) through
 * libsidecar-host: shared by the fault tests and the soak. */
#ifndef MK_SEQHOST_H
#define MK_SEQHOST_H

#include <stdbool.h>
#include <stdint.h>

#include <sidecar/host.h>

#include "seq.h"

/* Copies the guest to guest RAM; false when guest RAM is too small. */
bool mk_seqg_load(const struct sidecar_params *p);
/* The VP's data block in guest RAM. */
volatile struct mk_seq_data *mk_seqg_data(const struct sidecar_params *p, uint32_t cpu);
/* Resets the data block and sets RIP (the spin loop), RSP, RFLAGS and RBX.
 * The CPU must be acquired and idle. 0 or a sidecar_host code. */
int mk_seqg_setup(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu);
/* A run of the guest ended with result (a SIDECAR_HOST_RUN_* value or a
 * negative code): checks the intercept (an OUT to MK_SEQ_PORT), steps RIP
 * over it and updates v. Returns NULL, or what was wrong (then *vd, when
 * vd is not NULL, says which bookkeeping rule broke, or MK_SEQ_OK when it
 * was something else). */
const char *mk_seqg_completed(struct sidecar_host *h, uint32_t cpu, int result, struct mk_seq_vp *v);
const char *mk_seqg_completed_vd(struct sidecar_host *h, uint32_t cpu, int result, struct mk_seq_vp *v,
                                 enum mk_seq_verdict *vd);
/* The guest address of the OUT (where a run stopped between the INC and
 * the OUT resumes). */
uint64_t mk_seqg_out_rip(const struct sidecar_params *p);

#endif
