/* SPDX-License-Identifier: MIT */
/* The serial log lock: tagged with its holder, with a bounded wait that
 * takes over a lock whose holder stopped in the middle of a line (a CPU
 * that got INIT, or crashed, while it held it), and that lets a CPU which
 * already holds it (an NMI or exception inside its own log line) write
 * without waiting for itself. Pure functions over a 64-bit word, unit-tested
 * natively (tests/arch).
 *
 * The word: 0 when free; held, bits 31-0 are the holder's id + 1 and bits
 * 63-32 the holder's own count of its acquisitions (so every holding has
 * its own word, and a free lock is 0 again: the kernel image's data is
 * the same before and after a log line, which the fault tests' memory
 * guard relies on). A waiter that sees the same word for `timeout` clock
 * ticks takes the lock over; any change restarts its wait. Release only
 * frees the holding it got, so a holder whose lock was taken over frees
 * nothing when it comes back. */
#ifndef SK_LOGLOCK_H
#define SK_LOGLOCK_H

#include <stdbool.h>
#include <stdint.h>

enum sk_loglock_how {
    SK_LOGLOCK_TAKEN,      /* the lock was free */
    SK_LOGLOCK_TAKEN_OVER, /* its holder kept it for `timeout`: taken over */
    SK_LOGLOCK_NESTED,     /* this id holds it already: write, release nothing */
};

struct sk_loglock_clock {
    uint64_t (*now)(void *ctx);
    void (*relax)(void *ctx);
    void *ctx;
};

static inline uint32_t sk_loglock_holder(uint64_t word) { return (uint32_t)word; }

/* Acquires for id (a CPU index); seq: the caller's count of its own
 * acquisitions (a different value each time). *held: the word to pass to
 * release (0 for NESTED); *prev: the word it replaced (for TAKEN_OVER,
 * whose holding). */
static inline enum sk_loglock_how sk_loglock_acquire(uint64_t *lock, uint32_t id, uint32_t seq, uint64_t timeout,
                                                     const struct sk_loglock_clock *clk, uint64_t *held,
                                                     uint64_t *prev)
{
    uint64_t seen = __atomic_load_n(lock, __ATOMIC_ACQUIRE);
    uint64_t since = clk->now(clk->ctx);
    uint64_t mine = ((uint64_t)seq << 32) | ((uint64_t)id + 1);
    for (;;) {
        if (sk_loglock_holder(seen) == id + 1) {
            *held = 0;
            *prev = seen;
            return SK_LOGLOCK_NESTED;
        }
        if (!sk_loglock_holder(seen) || clk->now(clk->ctx) - since >= timeout) {
            bool over = sk_loglock_holder(seen) != 0;
            *prev = seen;
            if (__atomic_compare_exchange_n(lock, &seen, mine, false, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
                *held = mine;
                return over ? SK_LOGLOCK_TAKEN_OVER : SK_LOGLOCK_TAKEN;
            }
            since = clk->now(clk->ctx);   /* it moved: seen is the new word */
            continue;
        }
        clk->relax(clk->ctx);
        uint64_t w = __atomic_load_n(lock, __ATOMIC_ACQUIRE);
        if (w != seen) {
            seen = w;
            since = clk->now(clk->ctx);
        }
    }
}

/* Frees the holding `held` (from acquire); nothing when it was taken over
 * meanwhile or held is 0 (NESTED). */
static inline void sk_loglock_release(uint64_t *lock, uint64_t held)
{
    if (!held)
        return;
    uint64_t expected = held;
    __atomic_compare_exchange_n(lock, &expected, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

#endif
