/* The AP's dispatch loop: the arch services (park, IPI, clock, log,
 * quiesce) wrapped around the portable core in kernel/core. */
#include <scfree/x86.h>

#include "kernel.h"

void sk_park_forever(void)
{
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

void sk_dispatch_start(struct sk_percpu *pc)
{
    (void)pc;
    /* Until the portable core is wired in: park with interrupts on. */
    for (;;)
        cpu_sti_hlt();
}
