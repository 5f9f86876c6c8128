/* SPDX-License-Identifier: MIT */
/* The log lock (kernel/arch/x86_64/loglock.h): free, nested, a holder that
 * never lets go (taken over after the timeout, and its late release frees
 * nothing), and a lock that keeps changing hands (never taken over). A fake
 * clock: relax() advances it and may play the other CPUs. */
#include <criterion/criterion.h>

#include "loglock.h"

struct fake {
    uint64_t t;
    uint64_t step;              /* ticks per relax */
    uint64_t *lock;
    unsigned relaxes;
    unsigned handover_every;    /* 0: nobody else moves; else every N relaxes another CPU re-takes it */
    unsigned free_after;        /* 0: never; else the other CPUs free it after N relaxes */
};

static uint64_t fake_now(void *ctx) { return ((struct fake *)ctx)->t; }

static void fake_relax(void *ctx)
{
    struct fake *f = ctx;
    f->t += f->step;
    f->relaxes++;
    if (f->free_after && f->relaxes == f->free_after) {
        *f->lock = 0;
    } else if (f->handover_every && f->relaxes % f->handover_every == 0) {
        *f->lock = ((uint64_t)f->relaxes << 32) | (1 + f->relaxes % 7);   /* CPUs 0-6 take turns */
    }
}

Test(loglock, free_lock_is_taken_and_released)
{
    uint64_t lock = 0, held, prev;
    struct fake f = { 0, 1, &lock, 0, 0, 0 };
    struct sk_loglock_clock clk = { fake_now, fake_relax, &f };
    cr_assert_eq(sk_loglock_acquire(&lock, 4, 1, 100, &clk, &held, &prev), SK_LOGLOCK_TAKEN);
    cr_assert_eq(sk_loglock_holder(lock), 5);
    cr_assert_eq(lock >> 32, 1);
    sk_loglock_release(&lock, held);
    cr_assert_eq(lock, 0, "free is 0 again");
    cr_assert_eq(sk_loglock_acquire(&lock, 4, 2, 100, &clk, &held, &prev), SK_LOGLOCK_TAKEN);
    cr_assert_eq(lock >> 32, 2, "every holding has its own word");
    cr_assert_eq(f.relaxes, 0);
}

Test(loglock, nested_on_the_same_cpu_does_not_wait)
{
    uint64_t lock = 0, outer, inner, prev;
    struct fake f = { 0, 1, &lock, 0, 0, 0 };
    struct sk_loglock_clock clk = { fake_now, fake_relax, &f };
    cr_assert_eq(sk_loglock_acquire(&lock, 2, 1, 100, &clk, &outer, &prev), SK_LOGLOCK_TAKEN);
    cr_assert_eq(sk_loglock_acquire(&lock, 2, 2, 100, &clk, &inner, &prev), SK_LOGLOCK_NESTED);
    cr_assert_eq(inner, 0);
    sk_loglock_release(&lock, inner);
    cr_assert_eq(sk_loglock_holder(lock), 3, "the inner release frees nothing");
    sk_loglock_release(&lock, outer);
    cr_assert_eq(sk_loglock_holder(lock), 0);
    cr_assert_eq(f.relaxes, 0);
}

Test(loglock, dead_holder_is_taken_over_after_the_timeout)
{
    uint64_t lock = (7ull << 32) | (9 + 1);   /* CPU 9 got INIT while it held it */
    uint64_t held, prev;
    struct fake f = { 1000, 10, &lock, 0, 0, 0 };
    struct sk_loglock_clock clk = { fake_now, fake_relax, &f };
    cr_assert_eq(sk_loglock_acquire(&lock, 0, 1, 500, &clk, &held, &prev), SK_LOGLOCK_TAKEN_OVER);
    cr_assert_eq(sk_loglock_holder(prev), 10);
    cr_assert_geq(f.relaxes, 50, "not before the timeout (%u relaxes)", f.relaxes);
    cr_assert_leq(f.relaxes, 51);
    cr_assert_eq(sk_loglock_holder(lock), 1);
    cr_assert_eq(lock >> 32, 1);
    /* The old holder comes back and releases its holding: nothing happens. */
    sk_loglock_release(&lock, (7ull << 32) | 10);
    cr_assert_eq(sk_loglock_holder(lock), 1);
    sk_loglock_release(&lock, held);
    cr_assert_eq(lock, 0);
}

Test(loglock, a_lock_that_changes_hands_is_never_taken_over)
{
    uint64_t lock = (1ull << 32) | 3, held, prev;
    /* Another CPU takes it every 40 ticks (4 relaxes), far more than the
     * 100-tick timeout in all, but never one holding for 100 ticks; freed
     * after 1000 relaxes. */
    struct fake f = { 0, 10, &lock, 0, 4, 1000 };
    struct sk_loglock_clock clk = { fake_now, fake_relax, &f };
    cr_assert_eq(sk_loglock_acquire(&lock, 20, 1, 100, &clk, &held, &prev), SK_LOGLOCK_TAKEN);
    cr_assert_eq(f.relaxes, 1000);
    cr_assert_eq(sk_loglock_holder(lock), 21);
}
