/* SPDX-License-Identifier: MIT */
/* mk.reuse_shim_tables: the main kernel takes back the shim's page tables
 * the way a real main kernel reuses the shim's memory (Linux frees it),
 * then gives a CPU that answers late the time to run on them
 * (docs/boot.md section 4; the qemu-late-answer test, with the test
 * shim's sidecar.test_late_cpu).
 *
 * The shim's top-level table is the page the main kernel's CR3 named at
 * entry (mk_boot_cr3: the kernel's APs start on the same tables). It is
 * cleared; then the scenario waits three start timeouts (params
 * ap_timeout_us, at most 20 s), longer than the late CPU waits after its
 * start. A CPU that ran on the cleared table in that time would fault
 * with no usable IDT and take the whole VM down (a triple fault), so the
 * report line itself is the result: the kernel sent the late CPU INIT
 * when its starter gave up. */

#include <scfree/scfree.h>
#include <sidecar/abi.h>

#include "arch/x86_64/platform.h"
#include "report.h"
#include "scenarios.h"

#define MAX_WAIT_US 20000000ull

static struct {
    bool ran;
    uint64_t cleared;
    uint64_t waited_us;
} srr;

bool mk_reuse_shim_tables_run(struct mk_ctx *ctx)
{
    uint64_t pml4 = mk_boot_cr3() & ~0xfffull;
    if (!pml4 || pml4 >> 32 || mk_own_cr3() == pml4) {
        mk_out("main: reuse shim tables: FAILED: entry CR3 %lx is not a table the main kernel may take\n",
               (unsigned long)pml4);
        return false;
    }
    sc_memset((void *)(uintptr_t)pml4, 0, 4096);
    srr.ran = true;
    srr.cleared = pml4;
    uint64_t wait_us = 3ull * ctx->params->ap_timeout_us;
    if (wait_us > MAX_WAIT_US)
        wait_us = MAX_WAIT_US;
    mk_out("main: cleared the shim's top-level page table at %lx; waiting %lu us for a late CPU\n",
           (unsigned long)pml4, (unsigned long)wait_us);
    uint64_t end = mk_rdtsc() + wait_us * ctx->tsc_khz / 1000;
    while (mk_rdtsc() < end)
        mk_pause();
    srr.waited_us = wait_us;
    mk_out("main: reuse shim tables: ok, no CPU ran on them\n");
    return true;
}

void mk_reuse_shim_tables_report(const struct mk_ctx *ctx)
{
    (void)ctx;
    mk_out("{\"ok\":%s,\"cleared\":\"0x%lx\",\"waited_us\":%lu}", srr.ran ? "true" : "false",
           (unsigned long)srr.cleared, (unsigned long)srr.waited_us);
}
