// SPDX-License-Identifier: GPL-2.0
/*
 * sidecar.ko: Linux as the main kernel of a sidecar system.
 *
 * The shim leaves a copy of its hand-off block ("the sidecar description")
 * in reserved memory and puts its address on the command line
 * (sidecar.handoff=0x...). This module validates it and the params and
 * output pages it points at with the generated validators, maps each
 * node's control page and command pages, takes a real interrupt vector
 * from Linux for the response IPI, and gives user space one misc device
 * per node, /dev/mshv_vtl_sidecar<index>, with OpenHCL's ioctls plus ours
 * (include/sidecar/linux_driver.h, docs/linux-driver.md). A CPU hotplug
 * state removes a sidecar CPU from sidecar before Linux starts it.
 */
#define pr_fmt(fmt) "sidecar: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <asm/apic.h>
#include <asm/hw_irq.h>
#include <asm/irqdomain.h>
#include <asm/tsc.h>

#include "sidecar/abi.h"
#include "sidecar/validate.h"
#include "sidecar/linux_driver.h"
#include "sidecar_checks.h"

static unsigned long handoff;
module_param(handoff, ulong, 0444);
MODULE_PARM_DESC(handoff, "Physical address of the sidecar description (the shim's hand-off block copy)");

static bool response_irq = true;
module_param(response_irq, bool, 0444);
MODULE_PARM_DESC(response_irq, "Take completions by the response IPI (0: poll, for tests)");

static unsigned int remove_timeout_ms = 10000;
module_param(remove_timeout_ms, uint, 0644);
MODULE_PARM_DESC(remove_timeout_ms, "How long REMOVE and the hotplug callback wait for a sidecar CPU");

#define SC_SHMEM_PER_CPU (SIDECAR_CPU_SHARED_PAGES * SIDECAR_PAGE_SIZE)
#define SC_POLL_JIFFIES 1

struct sc_node;

struct sc_cpu {
	u32 index;		/* params CPU index */
	u32 apic_id;
	int linux_cpu;		/* -1: Linux has no CPU with this APIC ID */
	u8 state;		/* SIDECAR_DRV_STATE_*, under node->lock */
	bool removing;		/* the hotplug callback owns it */
	bool gone;		/* removed while its async end was unread */
};

struct sc_node {
	u32 index, base_cpu, cpu_count;
	phys_addr_t control_pa, shmem_pa;
	u64 shmem_size;
	struct sidecar_control_page *control;
	struct sc_cpu *cpus;
	spinlock_t lock;
	wait_queue_head_t wq;	/* status changes of this node */
	unsigned int done;	/* ASYNC_DONE CPUs waiting for read() */
	int irq;		/* 0: none (polling) */
	u32 vector, dest_apic;
	atomic64_t irqs;
	struct miscdevice misc;
	char name[32];
	bool registered;
};

struct sc_file {
	struct sc_node *node;
	u32 seen_epoch;
	/* Set by our EPOCH / WAIT_EPOCH ioctls (libsidecar-host, which runs
	 * commands on the mapped pages): poll() then also reports an attention
	 * epoch newer than the one this file last read. OpenHCL's client never
	 * calls them, so its files see OpenHCL's poll(): readable only while an
	 * ended asynchronous command of the node is unread. */
	bool epoch_watch;
};

static struct {
	struct sidecar_handoff *handoff;	/* validated copies */
	struct sidecar_params *params;
	struct sidecar_output *output;
	u32 node_count;
	struct sc_node *nodes;
	atomic_t epoch;
	wait_queue_head_t epoch_wq;
	int cpuhp_state;
	bool polling;
	struct delayed_work poll_work;
	bool boot_times;	/* /sys/module/sidecar/boot_times created */
} sc;

/* ---- description ---------------------------------------------------- */

static bool sc_is_ram(phys_addr_t pa, size_t size)
{
	return region_intersects(pa, size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) != REGION_DISJOINT;
}

/* Copies size bytes of reserved memory at pa (never System RAM). */
static void *sc_copy_reserved(const char *what, u64 pa, size_t size)
{
	void *map, *copy;

	if (!pa || !PAGE_ALIGNED(pa)) {
		pr_err("refusing the sidecar description: %s: 0x%llx is not a page-aligned address\n", what, pa);
		return ERR_PTR(-EINVAL);
	}
	if (pa + size < pa || sc_is_ram(pa, size)) {
		pr_err("refusing the sidecar description: %s: [0x%llx, +0x%zx) is System RAM, not memory the shim reserved\n",
		       what, pa, size);
		return ERR_PTR(-EINVAL);
	}
	map = memremap(pa, size, MEMREMAP_WB);
	if (!map) {
		pr_err("refusing the sidecar description: %s: cannot map [0x%llx, +0x%zx)\n", what, pa, size);
		return ERR_PTR(-ENOMEM);
	}
	copy = kvmalloc(size, GFP_KERNEL);
	if (copy)
		memcpy(copy, map, size);
	memunmap(map);
	return copy ? copy : ERR_PTR(-ENOMEM);
}

static int sc_refuse(const char *what, const struct sidecar_abi_error *e)
{
	pr_err("refusing the sidecar description: %s.%s (%s)\n", what, e->message,
	       sidecar_abi_result_name(e->code));
	return -EINVAL;
}

/* Is [pa, pa + size) inside one sidecar range (type 0x5344) of the map? */
static bool sc_in_sidecar_memory(u64 pa, u64 size)
{
	const struct sidecar_handoff *h = sc.handoff;
	u32 i;

	for (i = 0; i < h->memory_range_count; i++) {
		const struct sidecar_memory_range *r = &h->memory_map[i];

		if (r->type == 0x5344 && pa >= r->base && pa + size >= pa &&
		    pa + size <= r->base + r->size)
			return true;
	}
	return false;
}

static int sc_load_description(void)
{
	struct sidecar_abi_error e;
	u32 i;

	if (!handoff) {
		pr_err("no sidecar description: the handoff= parameter (sidecar.handoff= on the kernel command line) is missing\n");
		return -ENODEV;
	}
	sc.handoff = sc_copy_reserved("handoff", handoff, sizeof(*sc.handoff));
	if (IS_ERR(sc.handoff))
		return PTR_ERR(sc.handoff);
	if (sidecar_handoff_validate(sc.handoff, &e) != SIDECAR_ABI_OK)
		return sc_refuse("handoff", &e);
	if (!sc.handoff->sidecar_enabled) {
		unsigned int n = min_t(unsigned int, sc.handoff->disabled_reason.len, SIDECAR_ERROR_TEXT_SIZE);

		pr_err("refusing the sidecar description: handoff.sidecar_enabled: 0 (sidecar is off: %.*s)\n",
		       n, sc.handoff->disabled_reason.buf);
		return -ENODEV;
	}
	sc.params = sc_copy_reserved("handoff.params_pa", sc.handoff->params_pa, sizeof(*sc.params));
	if (IS_ERR(sc.params))
		return PTR_ERR(sc.params);
	if (sidecar_params_validate(sc.params, &e) != SIDECAR_ABI_OK)
		return sc_refuse("params", &e);
	sc.output = sc_copy_reserved("handoff.output_pa", sc.handoff->output_pa, sizeof(*sc.output));
	if (IS_ERR(sc.output))
		return PTR_ERR(sc.output);
	if (sidecar_output_validate(sc.output, &e) != SIDECAR_ABI_OK)
		return sc_refuse("output", &e);
	if (sc.output->status != 0) {
		pr_err("refusing the sidecar description: output.status: %u (the sidecar kernel failed)\n",
		       sc.output->status);
		return -EINVAL;
	}
	if (sc.output->node_count != sc.params->node_count) {
		pr_err("refusing the sidecar description: output.node_count: %u, params.node_count is %u\n",
		       sc.output->node_count, sc.params->node_count);
		return -EINVAL;
	}
	if (sc.output->cpu_count != sc.params->cpu_count) {
		pr_err("refusing the sidecar description: output.cpu_count: %u, params.cpu_count is %u\n",
		       sc.output->cpu_count, sc.params->cpu_count);
		return -EINVAL;
	}
	for (i = 0; i < sc.output->node_count; i++) {
		const struct sidecar_output_node *on = &sc.output->nodes[i];
		u64 want = (u64)sc.params->nodes[i].cpu_count * SC_SHMEM_PER_CPU;

		if (on->shmem_pages_size != want) {
			pr_err("refusing the sidecar description: output.nodes[%u].shmem_pages_size: 0x%llx, expected 0x%llx\n",
			       i, on->shmem_pages_size, want);
			return -EINVAL;
		}
		if (!sc_in_sidecar_memory(on->control_page, PAGE_SIZE)) {
			pr_err("refusing the sidecar description: output.nodes[%u].control_page: 0x%llx is not in sidecar memory\n",
			       i, on->control_page);
			return -EINVAL;
		}
		if (!sc_in_sidecar_memory(on->shmem_pages_base, on->shmem_pages_size)) {
			pr_err("refusing the sidecar description: output.nodes[%u].shmem_pages_base: [0x%llx, +0x%llx) is not in sidecar memory\n",
			       i, on->shmem_pages_base, on->shmem_pages_size);
			return -EINVAL;
		}
	}
	if (sc.params->guest_ram_size &&
	    !sc_in_sidecar_memory(sc.params->guest_ram_base, sc.params->guest_ram_size) &&
	    sc_is_ram(sc.params->guest_ram_base, sc.params->guest_ram_size)) {
		pr_err("refusing the sidecar description: params.guest_ram_base: [0x%llx, +0x%llx) is System RAM\n",
		       sc.params->guest_ram_base, sc.params->guest_ram_size);
		return -EINVAL;
	}
	return 0;
}

/* ---- IPIs and attention --------------------------------------------- */

static void sc_send_ipi(u32 apic_id, u32 vector)
{
	unsigned long flags;

	if (!vector)
		return;
	/* The request vector comes from a control page user space can write:
	 * above 255 it would change the ICR's delivery mode (INIT, SIPI) or
	 * shorthand (all CPUs), below 32 hit an exception vector. */
	if (!sc_check_ipi_vector(vector)) {
		pr_warn_ratelimited("refusing an IPI with vector 0x%x to APIC ID %u (not in [%u, 255])\n", vector,
				    apic_id, SIDECAR_MIN_VECTOR);
		return;
	}
	/* A fixed, physical-destination IPI by APIC ID: it reaches a CPU Linux
	 * has never started (no logical ID, no per-CPU area in use). */
	local_irq_save(flags);
	/* Linux 6.12's x2APIC drivers have no wait_icr_idle (the ICR is one
	 * MSR write); xAPIC ones do. */
	if (apic->wait_icr_idle)
		apic->wait_icr_idle();
	apic->icr_write(APIC_DM_FIXED | APIC_DEST_PHYSICAL | vector, apic_id);
	local_irq_restore(flags);
}

static void sc_refresh_response(struct sc_node *n);

static void sc_kick(struct sc_node *n, struct sc_cpu *c)
{
	sc_refresh_response(n);
	sc_send_ipi(c->apic_id, sidecar_control_page_request_vector_load(n->control));
}

static void sc_attention(struct sc_node *n)
{
	if (sidecar_control_page_needs_attention_exchange(n->control, 0) == 0 && !sc.polling)
		return;
	atomic_inc(&sc.epoch);
	wake_up_all(&n->wq);
	wake_up_all(&sc.epoch_wq);
}

static irqreturn_t sc_isr(int irq, void *data)
{
	struct sc_node *n = data;

	atomic64_inc(&n->irqs);
	sc_attention(n);
	return IRQ_HANDLED;
}

static void sc_poll_fn(struct work_struct *w)
{
	u32 i;

	for (i = 0; i < sc.node_count; i++)
		if (sidecar_control_page_needs_attention_load(sc.nodes[i].control))
			sc_attention(&sc.nodes[i]);
	schedule_delayed_work(&sc.poll_work, SC_POLL_JIFFIES);
}

/* A vector of Linux's own: one irq in the x86 vector domain per node,
 * pinned to a Linux CPU; its vector and that CPU's APIC ID go into the
 * control page. */
static int sc_setup_irq(struct sc_node *n, unsigned int target)
{
	struct irq_alloc_info info;
	struct irq_data *d;
	struct irq_cfg *cfg;
	unsigned int dest;
	int virq, rc;

	memset(&info, 0, sizeof(info));
	virq = irq_domain_alloc_irqs(x86_vector_domain, 1, cpu_to_node(target), &info);
	if (virq <= 0)
		return virq ? virq : -ENOSPC;
	/* The vector domain is the root: it sets no flow handler (a child
	 * domain would). The chip (lapic_controller) acks with an EOI. */
	irq_set_handler(virq, handle_edge_irq);
	rc = irq_set_affinity(virq, cpumask_of(target));
	if (rc)
		goto fail;
	rc = request_irq(virq, sc_isr, IRQF_NOBALANCING, n->name, n);
	if (rc)
		goto fail;
	d = irq_get_irq_data(virq);
	cfg = d ? irqd_cfg(d) : NULL;
	if (!cfg || !cfg->vector) {
		free_irq(virq, n);
		rc = -ENXIO;
		goto fail;
	}
	dest = cpumask_first(irq_data_get_effective_affinity_mask(d));
	if (dest >= nr_cpu_ids)
		dest = target;
	n->irq = virq;
	n->vector = cfg->vector;
	/* The physical APIC ID (cfg->dest_apicid is a logical one in flat
	 * mode; the sidecar sends a physical-destination IPI). */
	n->dest_apic = per_cpu(x86_cpu_to_apicid, dest);
	return 0;
fail:
	irq_dispose_mapping(virq);
	return rc;
}

/* response_cpu and response_vector as one 8-byte store (they are an
 * aligned pair, @16 and @20): a sidecar CPU reads them with one load and
 * so never pairs a new vector with the old CPU. */
static void sc_store_response(struct sc_node *n, u32 apic_id, u32 vector)
{
	BUILD_BUG_ON(offsetof(struct sidecar_control_page, response_vector) !=
		     offsetof(struct sidecar_control_page, response_cpu) + 4);
	BUILD_BUG_ON(offsetof(struct sidecar_control_page, response_cpu) % 8);
	smp_store_release((u64 *)(void *)&n->control->response_cpu, (u64)vector << 32 | apic_id);
}

/* Linux may move the irq (its CPU went offline): follow it, so that
 * responses keep arriving. Called before every request. */
static void sc_refresh_response(struct sc_node *n)
{
	struct irq_data *d;
	struct irq_cfg *cfg;
	unsigned int dest;
	u32 vector, apic_id;

	if (!n->irq)
		return;
	d = irq_get_irq_data(n->irq);
	cfg = d ? irqd_cfg(d) : NULL;
	if (!cfg)
		return;
	vector = READ_ONCE(cfg->vector);
	dest = cpumask_first(irq_data_get_effective_affinity_mask(d));
	if (!vector || dest >= nr_cpu_ids)
		return;
	apic_id = per_cpu(x86_cpu_to_apicid, dest);
	if (vector == n->vector && apic_id == n->dest_apic)
		return;
	pr_info("node %u: response irq moved: vector 0x%x to APIC ID %u (Linux CPU %u)\n", n->index, vector,
		apic_id, dest);
	n->vector = vector;
	n->dest_apic = apic_id;
	sc_store_response(n, apic_id, vector);
}

static void sc_publish_response(struct sc_node *n)
{
	sc_store_response(n, n->irq ? n->dest_apic : 0, n->irq ? n->vector : 0);
}

/* ---- CPUs ------------------------------------------------------------- */

static struct sc_cpu *sc_cpu_of(struct sc_node *n, unsigned long cpu)
{
	unsigned int i;

	if (!sc_check_cpu_arg(n->base_cpu, n->cpu_count, cpu, &i))
		return NULL;
	return &n->cpus[i];
}

static u8 sc_status(struct sc_node *n, struct sc_cpu *c)
{
	return sidecar_control_page_cpu_status_load(n->control, c->index - n->base_cpu);
}

static bool sc_cas(struct sc_node *n, struct sc_cpu *c, u8 from, u8 to)
{
	u8 expected = from;

	return sidecar_control_page_cpu_status_compare_exchange(n->control, c->index - n->base_cpu,
								&expected, to);
}

static bool sc_busy_status(u8 s)
{
	return s == SIDECAR_CPU_STATUS_RUN || s == SIDECAR_CPU_STATUS_STOP;
}

/* Moves finished async commands to ASYNC_DONE. Under n->lock. */
static void sc_scan_locked(struct sc_node *n)
{
	u32 i;

	for (i = 0; i < n->cpu_count; i++) {
		struct sc_cpu *c = &n->cpus[i];

		if ((c->state == SIDECAR_DRV_STATE_ASYNC || c->state == SIDECAR_DRV_STATE_ASYNC_STOPPING) &&
		    !sc_busy_status(sc_status(n, c))) {
			c->state = SIDECAR_DRV_STATE_ASYNC_DONE;
			n->done++;
		}
	}
}

static bool sc_has_done(struct sc_node *n)
{
	unsigned long flags;
	bool r;

	spin_lock_irqsave(&n->lock, flags);
	sc_scan_locked(n);
	r = n->done != 0;
	spin_unlock_irqrestore(&n->lock, flags);
	return r;
}

/* Claims an idle CPU for a command: the checks and errnos of OpenHCL's
 * driver. Returns 0 with c->state = state and the status set to RUN. */
static int sc_claim_run(struct sc_node *n, struct sc_cpu *c, u8 state)
{
	unsigned long flags;
	int rc = 0;

	sc_refresh_response(n);
	spin_lock_irqsave(&n->lock, flags);
	if (c->state == SIDECAR_DRV_STATE_REMOVED || sc_status(n, c) == SIDECAR_CPU_STATUS_REMOVED) {
		rc = -ENOENT;
	} else if (c->state != SIDECAR_DRV_STATE_AVAIL || c->removing) {
		rc = -EBUSY;
	} else if (!sc_cas(n, c, SIDECAR_CPU_STATUS_IDLE, SIDECAR_CPU_STATUS_RUN)) {
		rc = -EBUSY;	/* someone else (a mapped control page) has it */
	} else {
		c->state = state;
	}
	spin_unlock_irqrestore(&n->lock, flags);
	if (!rc && !(sidecar_control_page_flags_load(n->control) & SIDECAR_CONTROL_FLAG_WAKE_ON_STATUS_WRITE))
		sc_kick(n, c);
	return rc;
}

static long sc_wait_not_busy(struct sc_node *n, struct sc_cpu *c, long timeout)
{
	if (sc.polling)
		timeout = min_t(long, timeout, SC_POLL_JIFFIES);
	return wait_event_interruptible_timeout(n->wq, !sc_busy_status(sc_status(n, c)), timeout);
}

static int sc_run_sync(struct sc_node *n, struct sc_cpu *c)
{
	unsigned long flags, deadline = jiffies;
	bool stopped = false;
	int rc = sc_claim_run(n, c, SIDECAR_DRV_STATE_SYNC);

	if (rc)
		return rc;
	while (sc_busy_status(sc_status(n, c))) {
		long w;

		if (!stopped) {
			w = sc_wait_not_busy(n, c, HZ);
			if (w < 0) {
				/* A signal: ask the run to end and keep waiting
				 * (uninterruptibly) for it, as OpenHCL does. */
				if (sc_cas(n, c, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_STOP))
					sc_kick(n, c);
				stopped = true;
				deadline = jiffies + msecs_to_jiffies(remove_timeout_ms);
			}
			continue;
		}
		wait_event_timeout(n->wq, !sc_busy_status(sc_status(n, c)), sc.polling ? SC_POLL_JIFFIES : HZ / 10);
		if (sc_busy_status(sc_status(n, c)) && fatal_signal_pending(current) && time_after(jiffies, deadline)) {
			/* Killed and the CPU does not answer: leave the command
			 * to the async bookkeeping (read() reports its end). */
			pr_warn("CPU %u: a killed RUN caller stops waiting; the command stays in flight\n", c->index);
			spin_lock_irqsave(&n->lock, flags);
			if (c->state == SIDECAR_DRV_STATE_SYNC)
				c->state = SIDECAR_DRV_STATE_ASYNC_STOPPING;
			spin_unlock_irqrestore(&n->lock, flags);
			return -EINTR;
		}
	}
	/* Only a state this call set is ours to end: the hotplug callback may
	 * have removed the CPU meanwhile (state REMOVED), and AVAIL then
	 * would let a later command IPI a CPU Linux now owns. */
	spin_lock_irqsave(&n->lock, flags);
	if (c->state == SIDECAR_DRV_STATE_SYNC)
		c->state = sc_status(n, c) == SIDECAR_CPU_STATUS_REMOVED ? SIDECAR_DRV_STATE_REMOVED
									 : SIDECAR_DRV_STATE_AVAIL;
	spin_unlock_irqrestore(&n->lock, flags);
	return sc_status(n, c) == SIDECAR_CPU_STATUS_REMOVED ? -ENOENT : 0;
}

static int sc_stop(struct sc_node *n, struct sc_cpu *c)
{
	unsigned long flags;
	int rc = 0;
	bool kick = false;

	spin_lock_irqsave(&n->lock, flags);
	if (c->state == SIDECAR_DRV_STATE_ASYNC) {
		if (sc_cas(n, c, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_STOP))
			kick = true;
		c->state = SIDECAR_DRV_STATE_ASYNC_STOPPING;
	} else if (c->state != SIDECAR_DRV_STATE_ASYNC_STOPPING && c->state != SIDECAR_DRV_STATE_ASYNC_DONE) {
		rc = -EINVAL;
	}
	spin_unlock_irqrestore(&n->lock, flags);
	if (kick)
		sc_send_ipi(c->apic_id, sidecar_control_page_request_vector_load(n->control));
	return rc;
}

/* Stops whatever runs on c (started by anyone), removes it from sidecar
 * and waits for REMOVED. Called with c->removing set by the caller. */
static int sc_remove_cpu(struct sc_node *n, struct sc_cpu *c)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(remove_timeout_ms);
	unsigned long flags;

	for (;;) {
		u8 s = sc_status(n, c);

		if (s == SIDECAR_CPU_STATUS_REMOVED)
			break;
		if (s == SIDECAR_CPU_STATUS_IDLE && sc_cas(n, c, SIDECAR_CPU_STATUS_IDLE, SIDECAR_CPU_STATUS_REMOVE)) {
			sc_kick(n, c);
		} else if (s == SIDECAR_CPU_STATUS_RUN && sc_cas(n, c, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_STOP)) {
			pr_info("CPU %u (APIC ID %u): stopping its run to remove it\n", c->index, c->apic_id);
			sc_send_ipi(c->apic_id, sidecar_control_page_request_vector_load(n->control));
		} else if (s != SIDECAR_CPU_STATUS_IDLE && s != SIDECAR_CPU_STATUS_RUN &&
			   s != SIDECAR_CPU_STATUS_STOP && s != SIDECAR_CPU_STATUS_REMOVE) {
			pr_err("CPU %u: status %u is outside the protocol; not removing it\n", c->index, s);
			return -EIO;
		}
		if (time_after(jiffies, deadline)) {
			pr_err("CPU %u (APIC ID %u): no REMOVED within %u ms (status %u)\n", c->index, c->apic_id,
			       remove_timeout_ms, sc_status(n, c));
			return -ETIMEDOUT;
		}
		wait_event_timeout(n->wq, sc_status(n, c) != s, sc.polling ? SC_POLL_JIFFIES : HZ / 10);
	}
	spin_lock_irqsave(&n->lock, flags);
	sc_scan_locked(n);
	/* An async command the removal stopped still has its end reported
	 * (read/WAIT); collecting it then leaves the CPU REMOVED. */
	if (c->state == SIDECAR_DRV_STATE_ASYNC_DONE)
		c->gone = true;
	else
		c->state = SIDECAR_DRV_STATE_REMOVED;
	spin_unlock_irqrestore(&n->lock, flags);
	wake_up_all(&n->wq);
	return 0;
}

static bool sc_find_cpu_by_apic(u32 apic_id, struct sc_node **pn, struct sc_cpu **pc)
{
	u32 i, j;

	for (i = 0; i < sc.node_count; i++)
		for (j = 0; j < sc.nodes[i].cpu_count; j++)
			if (sc.nodes[i].cpus[j].apic_id == apic_id) {
				*pn = &sc.nodes[i];
				*pc = &sc.nodes[i].cpus[j];
				return true;
			}
	return false;
}

/* CPUHP_BP_PREPARE_DYN: runs on a control CPU before Linux starts cpu. */
static int sc_cpu_prepare(unsigned int cpu)
{
	struct sc_node *n;
	struct sc_cpu *c;
	unsigned long flags;
	int rc;

	if (!sc_find_cpu_by_apic(per_cpu(x86_cpu_to_apicid, cpu), &n, &c))
		return 0;
	spin_lock_irqsave(&n->lock, flags);
	if (c->removing) {
		/* A REMOVE ioctl is converting it: wait for its outcome. */
		spin_unlock_irqrestore(&n->lock, flags);
		wait_event_timeout(n->wq, !READ_ONCE(c->removing), msecs_to_jiffies(remove_timeout_ms) + HZ);
		if (sc_status(n, c) != SIDECAR_CPU_STATUS_REMOVED) {
			pr_err("Linux CPU %u: sidecar CPU %u is being removed and is not REMOVED yet\n", cpu, c->index);
			return -EBUSY;
		}
		return 0;
	}
	if (c->state == SIDECAR_DRV_STATE_REMOVED) {
		spin_unlock_irqrestore(&n->lock, flags);
		return 0;
	}
	c->removing = true;
	spin_unlock_irqrestore(&n->lock, flags);
	pr_info("Linux CPU %u is sidecar CPU %u (node %u, APIC ID %u): removing it from sidecar\n",
		cpu, c->index, n->index, c->apic_id);
	/* A synchronous run in flight: its caller waits for it; we stop it. */
	rc = sc_remove_cpu(n, c);
	spin_lock_irqsave(&n->lock, flags);
	c->removing = false;
	spin_unlock_irqrestore(&n->lock, flags);
	if (rc)
		pr_err("Linux CPU %u: not removed from sidecar (%d); Linux does not start it\n", cpu, rc);
	else
		pr_info("sidecar CPU %u is REMOVED; Linux starts it as CPU %u\n", c->index, cpu);
	return rc;
}

/* ---- the device ------------------------------------------------------- */

static struct sc_node *sc_node_of_file(struct file *f)
{
	return ((struct sc_file *)f->private_data)->node;
}

static int sc_open(struct inode *inode, struct file *f)
{
	struct miscdevice *misc = f->private_data;
	struct sc_file *sf = kzalloc(sizeof(*sf), GFP_KERNEL);

	if (!sf)
		return -ENOMEM;
	sf->node = container_of(misc, struct sc_node, misc);
	sf->seen_epoch = atomic_read(&sc.epoch);
	f->private_data = sf;
	return 0;
}

static int sc_release(struct inode *inode, struct file *f)
{
	kfree(f->private_data);
	return 0;
}

static ssize_t sc_read(struct file *f, char __user *buf, size_t len, loff_t *off)
{
	struct sc_node *n = sc_node_of_file(f);
	unsigned long flags;
	u32 i, cpu;

	if (len < sizeof(u32))
		return -EINVAL;
	for (;;) {
		spin_lock_irqsave(&n->lock, flags);
		sc_scan_locked(n);
		for (i = 0; i < n->cpu_count; i++)
			if (n->cpus[i].state == SIDECAR_DRV_STATE_ASYNC_DONE)
				break;
		if (i < n->cpu_count) {
			n->cpus[i].state = n->cpus[i].gone ? SIDECAR_DRV_STATE_REMOVED : SIDECAR_DRV_STATE_AVAIL;
			n->done--;
			cpu = n->cpus[i].index;
			spin_unlock_irqrestore(&n->lock, flags);
			if (copy_to_user(buf, &cpu, sizeof(cpu)))
				return -EFAULT;
			return sizeof(cpu);
		}
		spin_unlock_irqrestore(&n->lock, flags);
		if (f->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible_timeout(n->wq, sc_has_done(n), sc.polling ? SC_POLL_JIFFIES : HZ) < 0)
			return -ERESTARTSYS;
	}
}

static __poll_t sc_poll(struct file *f, poll_table *wait)
{
	struct sc_file *sf = f->private_data;
	struct sc_node *n = sf->node;
	__poll_t mask = 0;

	poll_wait(f, &n->wq, wait);
	if (READ_ONCE(sf->epoch_watch))
		poll_wait(f, &sc.epoch_wq, wait);
	if (sc_has_done(n) ||
	    (READ_ONCE(sf->epoch_watch) && (u32)atomic_read(&sc.epoch) != READ_ONCE(sf->seen_epoch)))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static int sc_wait_one(struct sc_node *n, struct sidecar_drv_wait *w)
{
	struct sc_cpu *c = sc_cpu_of(n, w->cpu);
	unsigned long flags, deadline;
	int rc;

	if (!c)
		return -EINVAL;
	deadline = jiffies + msecs_to_jiffies(w->timeout_ms);
	for (;;) {
		spin_lock_irqsave(&n->lock, flags);
		sc_scan_locked(n);
		if (c->state == SIDECAR_DRV_STATE_ASYNC_DONE) {
			c->state = c->gone ? SIDECAR_DRV_STATE_REMOVED : SIDECAR_DRV_STATE_AVAIL;
			n->done--;
			rc = 0;
		} else if (c->state == SIDECAR_DRV_STATE_ASYNC || c->state == SIDECAR_DRV_STATE_ASYNC_STOPPING) {
			rc = -EAGAIN;
		} else {
			rc = c->state == SIDECAR_DRV_STATE_REMOVED ? -ENOENT : -EINVAL;
		}
		spin_unlock_irqrestore(&n->lock, flags);
		if (rc != -EAGAIN)
			return rc;
		if (!time_before(jiffies, deadline))
			return -ETIMEDOUT;
		if (wait_event_interruptible_timeout(n->wq, !sc_busy_status(sc_status(n, c)),
						     sc.polling ? SC_POLL_JIFFIES : deadline - jiffies) < 0)
			return -EINTR;
	}
}

static long sc_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct sc_file *sf = f->private_data;
	struct sc_node *n = sf->node;
	void __user *uarg = (void __user *)arg;
	struct sc_cpu *c;
	unsigned long flags;
	int rc;

	switch (cmd) {
	case MSHV_VTL_SIDECAR_START:
		c = sc_cpu_of(n, arg);
		if (!c)
			return -EINVAL;
		return sc_claim_run(n, c, SIDECAR_DRV_STATE_ASYNC);
	case MSHV_VTL_SIDECAR_STOP:
		c = sc_cpu_of(n, arg);
		if (!c)
			return -EINVAL;
		return sc_stop(n, c);
	case MSHV_VTL_SIDECAR_RUN:
		c = sc_cpu_of(n, arg);
		if (!c)
			return -EINVAL;
		return sc_run_sync(n, c);
	case MSHV_VTL_SIDECAR_INFO: {
		struct mshv_vtl_sidecar_info info = {
			.base_cpu = n->base_cpu, .cpu_count = n->cpu_count, .per_cpu_shmem = SC_SHMEM_PER_CPU,
		};

		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	}
	case SIDECAR_DRV_REMOVE:
		c = sc_cpu_of(n, arg);
		if (!c)
			return -EINVAL;
		spin_lock_irqsave(&n->lock, flags);
		if (c->state == SIDECAR_DRV_STATE_REMOVED || sc_status(n, c) == SIDECAR_CPU_STATUS_REMOVED)
			rc = -ENOENT;
		else if (c->state != SIDECAR_DRV_STATE_AVAIL || c->removing || sc_status(n, c) != SIDECAR_CPU_STATUS_IDLE)
			rc = -EBUSY;
		else
			rc = 0;
		if (!rc)
			c->removing = true;
		spin_unlock_irqrestore(&n->lock, flags);
		if (rc)
			return rc;
		rc = sc_remove_cpu(n, c);
		spin_lock_irqsave(&n->lock, flags);
		c->removing = false;
		spin_unlock_irqrestore(&n->lock, flags);
		wake_up_all(&n->wq);
		return rc;
	case SIDECAR_DRV_WAIT: {
		struct sidecar_drv_wait w;

		if (copy_from_user(&w, uarg, sizeof(w)))
			return -EFAULT;
		return sc_wait_one(n, &w);
	}
	case SIDECAR_DRV_CPU_INFO: {
		struct sidecar_drv_cpu_info ci;

		if (copy_from_user(&ci, uarg, sizeof(ci)))
			return -EFAULT;
		c = sc_cpu_of(n, ci.cpu);
		if (!c)
			return -EINVAL;
		memset(&ci, 0, sizeof(ci));
		ci.cpu = c->index;
		ci.apic_id = c->apic_id;
		ci.linux_cpu = c->linux_cpu;
		ci.node = n->index;
		ci.status = sc_status(n, c);
		ci.driver_state = c->state;
		ci.linux_online = c->linux_cpu >= 0 && cpu_online(c->linux_cpu);
		ci.role = sc.params->cpus[c->index].role;
		return copy_to_user(uarg, &ci, sizeof(ci)) ? -EFAULT : 0;
	}
	case SIDECAR_DRV_EPOCH: {
		u32 e = atomic_read(&sc.epoch);
		u32 i;


		for (i = 0; i < sc.node_count; i++)
			sc_refresh_response(&sc.nodes[i]);
		WRITE_ONCE(sf->seen_epoch, e);
		WRITE_ONCE(sf->epoch_watch, true);
		return put_user(e, (__u32 __user *)uarg);
	}
	case SIDECAR_DRV_WAIT_EPOCH: {
		struct sidecar_drv_wait_epoch we;
		long t;

		if (copy_from_user(&we, uarg, sizeof(we)))
			return -EFAULT;
		WRITE_ONCE(sf->epoch_watch, true);
		t = usecs_to_jiffies(we.timeout_us);
		if (sc.polling)
			t = min_t(long, t, SC_POLL_JIFFIES);
		if (!t)
			t = 1;
		if (wait_event_interruptible_timeout(sc.epoch_wq, (u32)atomic_read(&sc.epoch) != we.epoch, t) < 0)
			return -EINTR;
		return 0;
	}
	case SIDECAR_DRV_KICK:
		c = sc_cpu_of(n, arg);
		if (!c)
			return -EINVAL;
		if (c->state == SIDECAR_DRV_STATE_REMOVED)
			return -ENOENT;
		sc_kick(n, c);
		return 0;
	case SIDECAR_DRV_NODE_INFO: {
		struct sidecar_drv_node_info ni = {
			.index = n->index, .base_cpu = n->base_cpu, .cpu_count = n->cpu_count,
			.response_vector = n->irq ? n->vector : 0, .response_apic_id = n->irq ? n->dest_apic : 0,
			.node_count = sc.node_count, .control_pa = n->control_pa, .shmem_pa = n->shmem_pa,
			.shmem_size = n->shmem_size, .guest_ram_base = sc.params->guest_ram_base,
			.guest_ram_size = sc.params->guest_ram_size, .params_pa = sc.handoff->params_pa,
			.output_pa = sc.handoff->output_pa, .attention_irqs = atomic64_read(&n->irqs),
		};

		return copy_to_user(uarg, &ni, sizeof(ni)) ? -EFAULT : 0;
	}
	default:
		return -ENOTTY;
	}
}

/* vm_flags is read-only since Linux 6.3: it is changed through
 * vm_flags_set/vm_flags_clear (which assert the mmap write lock). */
static void sc_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static void sc_vm_flags_clear(struct vm_area_struct *vma, unsigned long flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

static int sc_mmap(struct file *f, struct vm_area_struct *vma)
{
	struct sc_node *n = sc_node_of_file(f);
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 len = vma->vm_end - vma->vm_start;
	const struct sc_mmap_layout layout = {
		.shmem_pa = n->shmem_pa, .shmem_size = n->shmem_size, .control_pa = n->control_pa,
		.params_pa = sc.handoff->params_pa, .params_size = PAGE_ALIGN(sizeof(struct sidecar_params)),
		.output_pa = sc.handoff->output_pa, .output_size = PAGE_ALIGN(sizeof(struct sidecar_output)),
		.guest_ram_base = sc.params->guest_ram_base, .guest_ram_size = sc.params->guest_ram_size,
		.page_size = PAGE_SIZE,
	};
	unsigned long long pa;
	int ro;

	if (sc_check_mmap(&layout, off, len, &pa, &ro))
		return -EINVAL;
	if (ro) {
		if (vma->vm_flags & VM_WRITE)
			return -EPERM;
		sc_vm_flags_clear(vma, VM_MAYWRITE);
	}
	sc_vm_flags_set(vma, VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
	return remap_pfn_range(vma, vma->vm_start, pa >> PAGE_SHIFT, len, vma->vm_page_prot);
}

static const struct file_operations sc_fops = {
	.owner = THIS_MODULE,
	.open = sc_open,
	.release = sc_release,
	.read = sc_read,
	.poll = sc_poll,
	.unlocked_ioctl = sc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = sc_mmap,
	.llseek = noop_llseek,
};

/* ---- load and unload ------------------------------------------------ */

/* The Linux CPU with this APIC ID, or -1. */
static int sc_linux_cpu(u32 apic_id)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		if (per_cpu(x86_cpu_to_apicid, cpu) == apic_id)
			return cpu;
	return -1;
}

static int sc_setup_node(struct sc_node *n, u32 i)
{
	const struct sidecar_params_node *pn = &sc.params->nodes[i];
	const struct sidecar_output_node *on = &sc.output->nodes[i];
	struct sidecar_abi_error e;
	unsigned int target = raw_smp_processor_id();
	bool own_main = false;
	u32 j;
	int rc;

	n->index = i;
	n->base_cpu = pn->base_cpu;
	n->cpu_count = pn->cpu_count;
	n->control_pa = on->control_page;
	n->shmem_pa = on->shmem_pages_base;
	n->shmem_size = on->shmem_pages_size;
	spin_lock_init(&n->lock);
	init_waitqueue_head(&n->wq);
	snprintf(n->name, sizeof(n->name), "mshv_vtl_sidecar%u", i);
	n->control = memremap(n->control_pa, PAGE_SIZE, MEMREMAP_WB);
	if (!n->control) {
		pr_err("node %u: cannot map its control page at 0x%llx\n", i, (u64)n->control_pa);
		return -ENOMEM;
	}
	if (sidecar_control_page_validate(n->control, &e) != SIDECAR_ABI_OK) {
		pr_err("refusing the sidecar description: nodes[%u] control page.%s (%s)\n", i, e.message,
		       sidecar_abi_result_name(e.code));
		return -EINVAL;
	}
	if (n->control->index != i || n->control->base_cpu != n->base_cpu || n->control->cpu_count != n->cpu_count) {
		pr_err("refusing the sidecar description: nodes[%u] control page: index/base_cpu/cpu_count %u/%u/%u, params say %u/%u/%u\n",
		       i, n->control->index, n->control->base_cpu, n->control->cpu_count, i, n->base_cpu, n->cpu_count);
		return -EINVAL;
	}
	/* An IPI to an APIC ID above 254 needs x2APIC mode; Linux runs xAPIC
	 * when it has no interrupt remapping for x2APIC (6.12 under QEMU
	 * without an IOMMU: "x2apic disabled"). Checked before n->cpus
	 * exists: teardown takes a node's CPUs as set up. */
	for (j = 0; j < n->cpu_count; j++) {
		u32 apic_id = sc.params->cpus[n->base_cpu + j].apic_id;

		if (apic_id > 0xfe && !x2apic_enabled()) {
			pr_err("refusing the sidecar description: params.cpus[%u].apic_id: %u needs x2APIC, and Linux runs the local APIC in xAPIC mode (no interrupt remapping?)\n",
			       n->base_cpu + j, apic_id);
			return -EINVAL;
		}
	}
	n->cpus = kcalloc(n->cpu_count, sizeof(*n->cpus), GFP_KERNEL);
	if (!n->cpus)
		return -ENOMEM;
	for (j = 0; j < n->cpu_count; j++) {
		struct sc_cpu *c = &n->cpus[j];

		c->index = n->base_cpu + j;
		c->apic_id = sc.params->cpus[c->index].apic_id;
		c->linux_cpu = sc_linux_cpu(c->apic_id);
		c->state = sc_status(n, c) == SIDECAR_CPU_STATUS_REMOVED ? SIDECAR_DRV_STATE_REMOVED
									  : SIDECAR_DRV_STATE_AVAIL;
	}
	/* The node's own main CPU takes its responses where the policy gives
	 * it one (sidecar.policy=openhcl: the chunk's first VP, the node's
	 * first CPU, as OpenHCL's base_cpu; numa: the NUMA node's first CPU
	 * when it comes just before the node); else a main CPU of the node's
	 * NUMA node, online in Linux; else the CPU loading the module. */
	for (j = 0; j < 2 && j <= n->base_cpu && !own_main; j++) {
		const struct sidecar_params_cpu *own = &sc.params->cpus[n->base_cpu - j];
		int lc = sc_linux_cpu(own->apic_id);

		if (own->role == SIDECAR_CPU_ROLE_MAIN && own->reason != SIDECAR_CPU_REASON_MAIN_CPUS &&
		    own->numa_node == sc.params->cpus[n->base_cpu].numa_node && lc >= 0 && cpu_online(lc)) {
			target = lc;
			own_main = true;
		}
	}
	for (j = 0; !own_main && j < sc.params->cpu_count; j++) {
		const struct sidecar_params_cpu *pc = &sc.params->cpus[j];
		int lc;

		if (pc->role != SIDECAR_CPU_ROLE_MAIN || pc->numa_node != sc.params->cpus[n->base_cpu].numa_node)
			continue;
		lc = sc_linux_cpu(pc->apic_id);
		if (lc >= 0 && cpu_online(lc)) {
			target = lc;
			break;
		}
	}
	if (!sc.polling) {
		rc = sc_setup_irq(n, target);
		if (rc) {
			pr_warn("node %u: no interrupt vector from Linux (%d): polling for completions instead\n", i, rc);
			sc.polling = true;
		}
	}
	sc_publish_response(n);
	if (n->irq)
		pr_info("node %u: %s, CPUs %u-%u, response vector 0x%x to APIC ID %u (Linux CPU %u)\n", i,
			n->name, n->base_cpu, n->base_cpu + n->cpu_count - 1, n->vector, n->dest_apic, target);
	else
		pr_info("node %u: %s, CPUs %u-%u, completions by polling\n", i, n->name, n->base_cpu,
			n->base_cpu + n->cpu_count - 1);
	return 0;
}

/* Stops every run (whoever started it) and waits for it, bounded. */
static void sc_stop_all(struct sc_node *n)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(remove_timeout_ms);
	u32 j;

	for (j = 0; j < n->cpu_count; j++) {
		struct sc_cpu *c = &n->cpus[j];

		if (sc_cas(n, c, SIDECAR_CPU_STATUS_RUN, SIDECAR_CPU_STATUS_STOP)) {
			pr_info("unloading: stopping the run on CPU %u\n", c->index);
			sc_send_ipi(c->apic_id, sidecar_control_page_request_vector_load(n->control));
		}
	}
	for (j = 0; j < n->cpu_count; j++) {
		struct sc_cpu *c = &n->cpus[j];

		while (sc_busy_status(sc_status(n, c)) && time_before(jiffies, deadline))
			wait_event_timeout(n->wq, !sc_busy_status(sc_status(n, c)), HZ / 50);
		if (sc_busy_status(sc_status(n, c)))
			pr_err("unloading: CPU %u did not stop (status %u)\n", c->index, sc_status(n, c));
	}
}

/* ---- boot times ------------------------------------------------------ */

/* The sidecar bring-up's start and end as the shim recorded them (the TSC
 * just before it called the sidecar kernel and just after it returned),
 * as OpenHCL's boot shim passes reftime_sidecar_start/_end in the device
 * tree for its user space to log: /sys/module/sidecar/boot_times/. The
 * TSC is the one Linux runs on (rdtsc in user space compares). 0: the
 * shim did not record it. */
static u64 sc_bringup_us(void)
{
	const struct sidecar_handoff *h = sc.handoff;

	if (!h->kernel_entry_tsc || h->kernel_exit_tsc < h->kernel_entry_tsc || !tsc_khz)
		return 0;
	return div_u64((h->kernel_exit_tsc - h->kernel_entry_tsc) * 1000, tsc_khz);
}

#define SC_BOOT_TIME(name, expr)                                                               \
	static ssize_t name##_show(struct kobject *k, struct kobj_attribute *a, char *buf)     \
	{                                                                                      \
		return sysfs_emit(buf, "%llu\n", (unsigned long long)(expr));                \
	}                                                                                      \
	static struct kobj_attribute sc_attr_##name = __ATTR_RO(name)

SC_BOOT_TIME(shim_entry_tsc, sc.handoff->shim_entry_tsc);
SC_BOOT_TIME(sidecar_start_tsc, sc.handoff->kernel_entry_tsc);
SC_BOOT_TIME(sidecar_end_tsc, sc.handoff->kernel_exit_tsc);
SC_BOOT_TIME(sidecar_us, sc_bringup_us());
SC_BOOT_TIME(tsc_khz, tsc_khz);

static struct attribute *sc_boot_time_attrs[] = {
	&sc_attr_shim_entry_tsc.attr, &sc_attr_sidecar_start_tsc.attr, &sc_attr_sidecar_end_tsc.attr,
	&sc_attr_sidecar_us.attr, &sc_attr_tsc_khz.attr, NULL,
};

static const struct attribute_group sc_boot_time_group = {
	.name = "boot_times",
	.attrs = sc_boot_time_attrs,
};

static long sc_nothing(void *arg)
{
	return 0;
}

/* After response_vector 0 was stored: a sidecar CPU that read the old
 * vector before may not have sent its IPI yet (a vCPU the hypervisor
 * stopped in between). Wait until the node's responses_in_flight (ABI 1.5:
 * CPUs between reading the pair and sending) reads 0: from then on every
 * CPU either read the 0 or has sent. Then run on the CPU the irq targets,
 * in process context: a sent IPI is in that CPU's APIC by now, and it has
 * had its interrupts enabled since, so the handler has run. Only then may
 * the vector go back to Linux (free_irq): before, a late IPI hit a freed
 * vector or whichever device got it next. */
static void sc_drain_responses(struct sc_node *n)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(remove_timeout_ms);
	bool waited = false;
	s64 irqs = atomic64_read(&n->irqs);
	int cpu;

	smp_mb();	/* the store of the pair before the read of the count */
	while (sidecar_control_page_responses_in_flight_load(n->control)) {
		if (time_after(jiffies, deadline)) {
			pr_err("unloading: node %u: %u completion IPIs still in flight after %u ms; freeing the vector anyway\n",
			       n->index, sidecar_control_page_responses_in_flight_load(n->control), remove_timeout_ms);
			break;
		}
		waited = true;
		msleep(1);
	}
	cpu = sc_linux_cpu(n->dest_apic);
	if (cpu >= 0 && cpu_online(cpu))
		work_on_cpu(cpu, sc_nothing, NULL);
	if (waited)
		pr_info("unloading: node %u: waited for a completion IPI in flight (handled: %lld more)\n", n->index,
			(long long)(atomic64_read(&n->irqs) - irqs));
}

static void sc_teardown(void)
{
	u32 i;

	if (sc.boot_times)
		sysfs_remove_group(&THIS_MODULE->mkobj.kobj, &sc_boot_time_group);
	if (sc.cpuhp_state > 0)
		cpuhp_remove_state_nocalls(sc.cpuhp_state);
	for (i = 0; sc.nodes && i < sc.node_count; i++) {
		struct sc_node *n = &sc.nodes[i];

		if (n->registered)
			misc_deregister(&n->misc);
		if (n->control && n->cpus)
			sc_stop_all(n);
	}
	if (sc.polling)
		cancel_delayed_work_sync(&sc.poll_work);
	for (i = 0; sc.nodes && i < sc.node_count; i++) {
		struct sc_node *n = &sc.nodes[i];

		if (n->control) {
			/* No more response IPIs to a vector we give back. */
			sc_store_response(n, 0, 0);
			if (n->irq)
				sc_drain_responses(n);
		}
		if (n->irq) {
			free_irq(n->irq, n);
			irq_dispose_mapping(n->irq);
		}
		if (n->control)
			memunmap(n->control);
		kfree(n->cpus);
	}
	kfree(sc.nodes);
	if (!IS_ERR_OR_NULL(sc.output))
		kvfree(sc.output);
	if (!IS_ERR_OR_NULL(sc.params))
		kvfree(sc.params);
	if (!IS_ERR_OR_NULL(sc.handoff))
		kvfree(sc.handoff);
	memset(&sc, 0, sizeof(sc));
}

/* Main CPUs Linux did not bring up at boot: with sidecar.linux_numbering=vp
 * the shim boots Linux with maxcpus=1 (the main CPUs are not the first
 * Linux CPUs then); they are onlined here, as OpenHCL's driver onlines a
 * node's base CPU. Sidecar never started a main CPU, so Linux's
 * INIT-SIPI-SIPI is safe. Then logs whether Linux CPU number = params
 * index (the ioctls' CPU argument) for every CPU. */
static void sc_online_main_cpus(void)
{
	u32 j, same = 0;

	for (j = 0; j < sc.params->cpu_count; j++) {
		const struct sidecar_params_cpu *pc = &sc.params->cpus[j];
		int lc = sc_linux_cpu(pc->apic_id);

		same += lc == (int)j;
		if (pc->role != SIDECAR_CPU_ROLE_MAIN || lc < 0 || cpu_online(lc))
			continue;
		pr_info("onlining Linux CPU %d (main CPU, APIC ID %u)\n", lc, pc->apic_id);
		if (add_cpu(lc))
			pr_warn("Linux CPU %d (main CPU, APIC ID %u) could not be onlined\n", lc, pc->apic_id);
	}
	pr_info("CPU numbering: Linux CPU number = sidecar CPU index for %u of %u CPUs\n", same,
		sc.params->cpu_count);
}

/* Sidecar CPUs Linux brought up while this module was not loaded (before
 * the load or after an rmmod; an auto-online rule does it at boot): Linux
 * sent them INIT-SIPI-SIPI with no handshake, so they run Linux now (or
 * sit in Linux's offline loop) while the control page still says what the
 * sidecar last wrote. They are marked REMOVED, as after a conversion, so
 * that no command is ever sent to them. "Brought up once" is Linux's
 * cpu_data(cpu).initialized (set on a CPU's first bring-up, kept while it
 * is offline). Called with the hotplug callback registered, under the
 * hotplug lock: a CPU onlined from now on goes through the callback. */
static void sc_mark_linux_owned(void)
{
	u32 i, j;

	cpus_read_lock();
	for (i = 0; i < sc.node_count; i++) {
		struct sc_node *n = &sc.nodes[i];

		for (j = 0; j < n->cpu_count; j++) {
			struct sc_cpu *c = &n->cpus[j];
			unsigned long flags;

			if (c->linux_cpu < 0 || c->state == SIDECAR_DRV_STATE_REMOVED ||
			    (!cpu_online(c->linux_cpu) && !cpu_data(c->linux_cpu).initialized))
				continue;
			spin_lock_irqsave(&n->lock, flags);
			sidecar_control_page_cpu_status_store(n->control, j, SIDECAR_CPU_STATUS_REMOVED);
			c->state = SIDECAR_DRV_STATE_REMOVED;
			spin_unlock_irqrestore(&n->lock, flags);
			pr_warn("Linux CPU %d (sidecar CPU %u, APIC ID %u) came online in Linux while sidecar.ko was not loaded: it is Linux's now, marked REMOVED\n",
				c->linux_cpu, c->index, c->apic_id);
		}
	}
	cpus_read_unlock();
}

static int __init sc_init(void)
{
	u32 i;
	int rc;

	atomic_set(&sc.epoch, 0);
	init_waitqueue_head(&sc.epoch_wq);
	INIT_DELAYED_WORK(&sc.poll_work, sc_poll_fn);
	sc.polling = !response_irq;
	rc = sc_load_description();
	if (rc)
		goto fail;
	sc.nodes = kcalloc(sc.params->node_count, sizeof(*sc.nodes), GFP_KERNEL);
	if (!sc.nodes) {
		rc = -ENOMEM;
		goto fail;
	}
	sc.node_count = sc.params->node_count;
	sc_online_main_cpus();
	for (i = 0; i < sc.node_count; i++) {
		rc = sc_setup_node(&sc.nodes[i], i);
		if (rc)
			goto fail;
	}
	if (sc.polling) {
		pr_warn("completions by polling every %u jiffies (no response IPI)\n", SC_POLL_JIFFIES);
		/* Nodes set up before the fallback kept their vector: all poll now. */
		schedule_delayed_work(&sc.poll_work, SC_POLL_JIFFIES);
	}
	rc = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "sidecar:remove_for_hotplug", sc_cpu_prepare, NULL);
	if (rc < 0) {
		pr_err("cpuhp_setup_state: %d\n", rc);
		goto fail;
	}
	sc.cpuhp_state = rc;
	sc_mark_linux_owned();
	rc = sysfs_create_group(&THIS_MODULE->mkobj.kobj, &sc_boot_time_group);
	if (rc) {
		pr_err("/sys/module/sidecar/boot_times: %d\n", rc);
		goto fail;
	}
	sc.boot_times = true;
	/* The devices last: nothing can open one of a module that then fails. */
	for (i = 0; i < sc.node_count; i++) {
		struct sc_node *n = &sc.nodes[i];

		n->misc.minor = MISC_DYNAMIC_MINOR;
		n->misc.name = n->name;
		n->misc.fops = &sc_fops;
		n->misc.mode = 0600;
		rc = misc_register(&n->misc);
		if (rc) {
			pr_err("node %u: misc_register: %d\n", i, rc);
			goto fail;
		}
		n->registered = true;
	}
	pr_info("sidecar description at 0x%lx: %u nodes, %u CPUs, guest RAM 0x%llx+0x%llx\n", handoff,
		sc.node_count, sc.params->cpu_count, sc.params->guest_ram_base, sc.params->guest_ram_size);
	pr_info("sidecar bring-up: %llu us (TSC %llu to %llu; shim entry %llu)\n", sc_bringup_us(),
		sc.handoff->kernel_entry_tsc, sc.handoff->kernel_exit_tsc, sc.handoff->shim_entry_tsc);
	return 0;
fail:
	sc_teardown();
	pr_err("not loaded (%d); Linux runs on without sidecar\n", rc);
	return rc;
}

static void __exit sc_exit(void)
{
	sc_teardown();
	pr_info("unloaded\n");
}

module_init(sc_init);
module_exit(sc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Sidecar CPUs for Linux user space (OpenHCL mshv_vtl_sidecar compatible)");
MODULE_AUTHOR("sidecar");
