/* SPDX-License-Identifier: MIT */
/* Portable bookkeeping shared by the fault tests (faults.c) and the soak
 * (soak.c): a small random generator, and per-VP accounting of the
 * sequence guest (seqguest.asm), which proves that every run started got
 * exactly one completion and that no completed run was lost or reported
 * twice. Unit-tested natively (tests/mainkernel/test_seq.c). */
#ifndef MK_SEQ_H
#define MK_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* xorshift64*: a fixed seed gives a fixed sequence on every machine. */
static inline uint64_t mk_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A value in [0, n) (0 when n is 0). */
static inline uint32_t mk_rand_below(uint64_t *state, uint32_t n)
{
    return n ? (uint32_t)((mk_rand(state) >> 32) * n >> 32) : 0;
}

/* The guest's data block, in guest RAM (one per VP). */
struct mk_seq_data {
    uint64_t seq;       /* the guest bumps it before every OUT */
    uint64_t mode;      /* MK_SEQ_EXIT or MK_SEQ_SPIN, written by the host */
    uint64_t spins;     /* moves while the guest spins */
    uint64_t pad[5];
};
#define MK_SEQ_EXIT 0u
#define MK_SEQ_SPIN 1u
#define MK_SEQ_PORT 0xe1u

/* What the host knows about one VP. */
struct mk_seq_vp {
    uint64_t seen;          /* the last seq an OUT reported */
    uint64_t starts;        /* runs started */
    uint64_t completions;   /* runs that ended (each exactly once) */
    uint64_t outs;          /* of which ended in the OUT */
    uint64_t stopped;       /* of which ended by STOP */
    bool in_flight;
};

enum mk_seq_verdict {
    MK_SEQ_OK = 0,
    MK_SEQ_NOT_STARTED,     /* a completion with no run in flight: a duplicate */
    MK_SEQ_DUPLICATE,       /* an OUT repeated a seq already seen */
    MK_SEQ_GAP,             /* an OUT skipped a seq: a completion was lost */
    MK_SEQ_BAD_RESULT,      /* neither an intercept nor stopped */
    MK_SEQ_ALREADY_RUNNING  /* a start while one is in flight */
};

const char *mk_seq_verdict_name(enum mk_seq_verdict v);

/* A run was started. */
enum mk_seq_verdict mk_seq_started(struct mk_seq_vp *v);
/* A run ended: out is true when it ended in the guest's OUT with value
 * (EAX, the low 32 bits of seq); stopped when it ended by STOP. */
enum mk_seq_verdict mk_seq_completed(struct mk_seq_vp *v, bool out, uint32_t value, bool stopped);
/* At the end, with nothing in flight and the last run ended in an OUT:
 * the guest's own count must equal what the host saw, and every start
 * must have had its completion. */
bool mk_seq_consistent(const struct mk_seq_vp *v, uint64_t guest_seq);

/* The soak's command mix (soak.c): what a CPU does next. */
enum mk_soak_kind {
    MK_SOAK_NONE,           /* a ping, asynchronously */
    MK_SOAK_RUN_EXIT,       /* a run that ends at once (the guest's OUT) */
    MK_SOAK_RUN_EXIT_STOP,  /* the same with a STOP right behind it (a race) */
    MK_SOAK_RUN_SPIN,       /* a run that spins until STOPped */
    MK_SOAK_GET,            /* GET_VP_REGISTERS (R12 and RIP) */
    MK_SOAK_SET,            /* SET_VP_REGISTERS (R12 to a random value) */
    MK_SOAK_TRANSLATE,      /* TRANSLATE_GVA of a random address in guest RAM */
    MK_SOAK_KINDS
};

/* Weights out of 100: 25 NONE, 25 RUN_EXIT, 5 RUN_EXIT_STOP, 5 RUN_SPIN,
 * 15 GET, 15 SET, 10 TRANSLATE. */
enum mk_soak_kind mk_soak_pick(uint64_t *state);

#endif
