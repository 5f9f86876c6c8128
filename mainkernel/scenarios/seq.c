/* SPDX-License-Identifier: MIT */
/* The sequence guest's bookkeeping (seq.h). */
#include "seq.h"

const char *mk_seq_verdict_name(enum mk_seq_verdict v)
{
    switch (v) {
    case MK_SEQ_OK: return "ok";
    case MK_SEQ_NOT_STARTED: return "a completion without a run in flight";
    case MK_SEQ_DUPLICATE: return "a completed run reported twice";
    case MK_SEQ_GAP: return "a completed run lost";
    case MK_SEQ_BAD_RESULT: return "a run ended neither in its intercept nor stopped";
    case MK_SEQ_ALREADY_RUNNING: return "a run started while one is in flight";
    }
    return "?";
}

enum mk_seq_verdict mk_seq_started(struct mk_seq_vp *v)
{
    if (v->in_flight)
        return MK_SEQ_ALREADY_RUNNING;
    v->in_flight = true;
    v->starts++;
    return MK_SEQ_OK;
}

enum mk_seq_verdict mk_seq_completed(struct mk_seq_vp *v, bool out, uint32_t value, bool stopped)
{
    if (!v->in_flight)
        return MK_SEQ_NOT_STARTED;
    v->in_flight = false;
    v->completions++;
    if (out == stopped)
        return MK_SEQ_BAD_RESULT;
    if (stopped) {
        v->stopped++;
        return MK_SEQ_OK;
    }
    uint32_t want = (uint32_t)(v->seen + 1);
    if (value != want)
        return (uint32_t)(value - want) > 0x80000000u ? MK_SEQ_DUPLICATE : MK_SEQ_GAP;
    v->seen++;
    v->outs++;
    return MK_SEQ_OK;
}

bool mk_seq_consistent(const struct mk_seq_vp *v, uint64_t guest_seq)
{
    return !v->in_flight && v->starts == v->completions && v->completions == v->outs + v->stopped &&
           guest_seq == v->seen && v->outs == v->seen;
}

enum mk_soak_kind mk_soak_pick(uint64_t *state)
{
    static const uint8_t upto[MK_SOAK_KINDS] = { 25, 50, 55, 60, 75, 90, 100 };
    uint32_t r = mk_rand_below(state, 100);
    for (unsigned k = 0; k < MK_SOAK_KINDS; k++)
        if (r < upto[k])
            return (enum mk_soak_kind)k;
    return MK_SOAK_NONE;
}
