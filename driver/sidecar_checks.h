/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sidecar.ko's checks of what user space passes (ioctl arguments, mmap
 * offsets and lengths) and of the request vector it reads from a control
 * page user space can write, as plain C with no kernel dependency: the
 * driver (main.c) includes it, and tests/fuzz/fuzz_driver.c fuzzes it
 * natively. Part of sidecar.ko, under the driver's licence (GPL-2.0, as
 * driver/main.c).
 *
 * Needs SIDECAR_MIN_VECTOR (sidecar/abi.h) and the SIDECAR_DRV_MMAP_*
 * offsets (sidecar/linux_driver.h) included first.
 */
#ifndef SIDECAR_DRIVER_CHECKS_H
#define SIDECAR_DRIVER_CHECKS_H

/*
 * The CPU argument of START, STOP, RUN, REMOVE, KICK, WAIT and CPU_INFO:
 * a sidecar CPU index of the node, base_cpu .. base_cpu + cpu_count - 1.
 * Returns 1 and its index in the node, or 0.
 */
static inline int sc_check_cpu_arg(unsigned int base_cpu, unsigned int cpu_count, unsigned long arg,
				   unsigned int *index)
{
	if (arg < base_cpu || arg - base_cpu >= cpu_count)
		return 0;
	*index = (unsigned int)(arg - base_cpu);
	return 1;
}

/*
 * A fixed IPI's vector as the driver sends it: the ICR's low word is the
 * vector OR'ed with delivery mode, destination mode and shorthand bits, so
 * anything above 255 would send something else (0x500: an INIT; 0xc0000:
 * to all other CPUs), and a vector below SIDECAR_MIN_VECTOR lands on an
 * exception handler. The request vector is read from a control page user
 * space maps writable: only SIDECAR_MIN_VECTOR .. 255 is sent.
 */
static inline int sc_check_ipi_vector(unsigned int vector)
{
	return vector >= SIDECAR_MIN_VECTOR && vector <= 0xff;
}

/* What a node's device maps (physical addresses and sizes, page multiples). */
struct sc_mmap_layout {
	unsigned long long shmem_pa, shmem_size;	/* command/register pages: exactly this size */
	unsigned long long control_pa;			/* one page */
	unsigned long long params_pa, params_size;	/* read-only */
	unsigned long long output_pa, output_size;	/* read-only */
	unsigned long long guest_ram_base, guest_ram_size;
	unsigned long long page_size;
};

/*
 * mmap at offset off of len bytes: 0 with the physical address and
 * whether the mapping must be read-only, or -1 (EINVAL: an offset the
 * device does not have, a length beyond what is there, or not exactly the
 * node's pages at offset SIDECAR_DRV_MMAP_SHMEM, as OpenHCL's driver).
 */
static inline int sc_check_mmap(const struct sc_mmap_layout *l, unsigned long long off, unsigned long long len,
				unsigned long long *pa, int *read_only)
{
	unsigned long long avail;

	*read_only = 0;
	if (off == SIDECAR_DRV_MMAP_SHMEM) {
		if (len != l->shmem_size)
			return -1;
		*pa = l->shmem_pa;
		avail = l->shmem_size;
	} else if (off == SIDECAR_DRV_MMAP_CONTROL) {
		*pa = l->control_pa;
		avail = l->page_size;
	} else if (off == SIDECAR_DRV_MMAP_PARAMS) {
		*pa = l->params_pa;
		avail = l->params_size;
		*read_only = 1;
	} else if (off == SIDECAR_DRV_MMAP_OUTPUT) {
		*pa = l->output_pa;
		avail = l->output_size;
		*read_only = 1;
	} else if (off >= SIDECAR_DRV_MMAP_GUEST_RAM && off - SIDECAR_DRV_MMAP_GUEST_RAM < l->guest_ram_size) {
		*pa = l->guest_ram_base + (off - SIDECAR_DRV_MMAP_GUEST_RAM);
		avail = l->guest_ram_size - (off - SIDECAR_DRV_MMAP_GUEST_RAM);
	} else {
		return -1;
	}
	if (len > avail)
		return -1;
	return 0;
}

#endif
