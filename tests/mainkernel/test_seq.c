/* SPDX-License-Identifier: MIT */
/* The sequence guest's bookkeeping and the random generator (mainkernel/scenarios/seq.c). */
#include <criterion/criterion.h>

#include "seq.h"

Test(seq, in_order_runs_are_consistent)
{
    struct mk_seq_vp v = { 0 };
    for (uint32_t k = 1; k <= 1000; k++) {
        cr_assert_eq(mk_seq_started(&v), MK_SEQ_OK);
        cr_assert_eq(mk_seq_completed(&v, k % 3 != 0, k % 3 ? (uint32_t)v.seen + 1 : 0, k % 3 == 0), MK_SEQ_OK);
    }
    cr_assert(mk_seq_consistent(&v, v.seen));
    cr_assert_not(mk_seq_consistent(&v, v.seen + 1), "the guest ran once more than reported: one lost");
    cr_assert_eq(v.starts, 1000);
    cr_assert_eq(v.stopped, 333);
}

Test(seq, lost_duplicated_and_unstarted)
{
    struct mk_seq_vp v = { 0 };
    mk_seq_started(&v);
    cr_assert_eq(mk_seq_completed(&v, true, 1, false), MK_SEQ_OK);
    cr_assert_eq(mk_seq_completed(&v, true, 2, false), MK_SEQ_NOT_STARTED, "no run in flight");
    mk_seq_started(&v);
    cr_assert_eq(mk_seq_started(&v), MK_SEQ_ALREADY_RUNNING);
    cr_assert_eq(mk_seq_completed(&v, true, 1, false), MK_SEQ_DUPLICATE);
    mk_seq_started(&v);
    cr_assert_eq(mk_seq_completed(&v, true, 3, false), MK_SEQ_GAP);
    mk_seq_started(&v);
    cr_assert_eq(mk_seq_completed(&v, false, 0, false), MK_SEQ_BAD_RESULT);
    mk_seq_started(&v);
    cr_assert_eq(mk_seq_completed(&v, true, 2, true), MK_SEQ_BAD_RESULT);
    cr_assert_str_eq(mk_seq_verdict_name(MK_SEQ_GAP), "a completed run lost");
}

Test(seq, wraps_at_32_bits)
{
    struct mk_seq_vp v = { .seen = 0xffffffffull, .outs = 0xffffffffull };
    mk_seq_started(&v);
    cr_assert_eq(mk_seq_completed(&v, true, 0, false), MK_SEQ_OK);
    cr_assert_eq(v.seen, 0x100000000ull);
}

Test(rand, fixed_and_bounded)
{
    uint64_t a = 42, b = 42;
    for (int k = 0; k < 100; k++)
        cr_assert_eq(mk_rand(&a), mk_rand(&b));
    uint32_t hist[7] = { 0 };
    for (int k = 0; k < 70000; k++) {
        uint32_t r = mk_rand_below(&a, 7);
        cr_assert_lt(r, 7);
        hist[r]++;
    }
    for (int k = 0; k < 7; k++)
        cr_assert(hist[k] > 9000 && hist[k] < 11000, "bucket %d: %u", k, hist[k]);
    uint64_t z = 0;
    cr_assert_neq(mk_rand(&z), 0, "a zero seed still moves");
    cr_assert_eq(mk_rand_below(&z, 0), 0);
}

Test(soak, mix_follows_the_weights)
{
    static const uint32_t weight[MK_SOAK_KINDS] = { 25, 25, 5, 5, 15, 15, 10 };
    uint32_t n[MK_SOAK_KINDS] = { 0 };
    uint64_t r = 7;
    for (int k = 0; k < 100000; k++) {
        enum mk_soak_kind kind = mk_soak_pick(&r);
        cr_assert_lt((unsigned)kind, MK_SOAK_KINDS);
        n[kind]++;
    }
    for (int k = 0; k < MK_SOAK_KINDS; k++)
        cr_assert(n[k] > weight[k] * 900 && n[k] < weight[k] * 1100, "kind %d: %u", k, n[k]);
}
