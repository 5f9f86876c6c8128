/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The user-space interface of the sidecar Linux driver (driver/, sidecar.ko):
 * one misc device per sidecar node, /dev/mshv_vtl_sidecar<node index>.
 * docs/linux-driver.md describes every call.
 *
 * The first four ioctls are OpenHCL's (mshv_vtl_sidecar, same numbers,
 * argument and errors) and the pages are byte-identical, so OpenHCL-style
 * host code finds the calls it knows; it is not a drop-in replacement:
 * device discovery, CPU numbering under the numa policy, the completion
 * vector and the Linux version differ (docs/linux-driver.md, "OpenHCL
 * behaviour / ours", lists each difference). A CPU argument is a sidecar CPU index (params.cpus[] index,
 * the numbering of the control page's base_cpu), node base_cpu ..
 * base_cpu + cpu_count - 1; SIDECAR_DRV_CPU_INFO gives its Linux CPU number.
 *
 * Usable from the kernel and from user space (linux/ioctl.h, linux/types.h).
 */
#ifndef SIDECAR_LINUX_DRIVER_H
#define SIDECAR_LINUX_DRIVER_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SIDECAR_DRV_DEVICE_PREFIX "/dev/mshv_vtl_sidecar"
#define SIDECAR_DRV_IOCTL_TYPE 0xB8

/* ---- OpenHCL's ioctls (arg: the CPU, by value) ---- */
/* Start a command asynchronously: IDLE -> RUN + request IPI; its end is
 * reported by read()/poll. */
#define MSHV_VTL_SIDECAR_START _IO(0xB8, 0xF0)
/* Stop an asynchronous command (RUN -> STOP + IPI); idempotent. */
#define MSHV_VTL_SIDECAR_STOP _IO(0xB8, 0xF1)
/* Run a command synchronously until the CPU is IDLE again. */
#define MSHV_VTL_SIDECAR_RUN _IO(0xB8, 0xF2)

struct mshv_vtl_sidecar_info {
	__u32 base_cpu;
	__u32 cpu_count;
	__u32 per_cpu_shmem;	/* bytes per CPU at mmap offset 0: 8192 */
};
#define MSHV_VTL_SIDECAR_INFO _IOR(0xB8, 0xF3, struct mshv_vtl_sidecar_info)

/* ---- our additions ---- */
/* Convert the CPU: IDLE -> REMOVE + IPI, wait for REMOVED (arg: the CPU). */
#define SIDECAR_DRV_REMOVE _IO(0xB8, 0xF4)

struct sidecar_drv_wait {
	__u32 cpu;		/* in: a CPU with an asynchronous command */
	__u32 timeout_ms;	/* in: 0 = look once */
};
/* Wait for one CPU's asynchronous command to end and collect it (it is
 * then not reported by read()). */
#define SIDECAR_DRV_WAIT _IOW(0xB8, 0xF5, struct sidecar_drv_wait)

struct sidecar_drv_cpu_info {
	__u32 cpu;		/* in: sidecar CPU index */
	__u32 apic_id;		/* out: its APIC ID (params) */
	__s32 linux_cpu;	/* out: its Linux CPU number, -1 if Linux has none */
	__u32 node;		/* out: node index */
	__u8 status;		/* out: the control page's status byte */
	__u8 driver_state;	/* out: SIDECAR_DRV_STATE_* */
	__u8 linux_online;	/* out: 1 when Linux runs it (converted) */
	__u8 role;		/* out: params role (0 main, 1 sidecar) */
	__u32 reserved;
};
#define SIDECAR_DRV_STATE_AVAIL 0
#define SIDECAR_DRV_STATE_SYNC 1
#define SIDECAR_DRV_STATE_ASYNC 2
#define SIDECAR_DRV_STATE_ASYNC_STOPPING 3
#define SIDECAR_DRV_STATE_ASYNC_DONE 4
#define SIDECAR_DRV_STATE_REMOVING 5
#define SIDECAR_DRV_STATE_REMOVED 0xFF
#define SIDECAR_DRV_CPU_INFO _IOWR(0xB8, 0xF6, struct sidecar_drv_cpu_info)

/* The driver-wide attention counter (incremented by every response IPI of
 * any node); reading it also clears this file's "attention" readiness. */
#define SIDECAR_DRV_EPOCH _IOR(0xB8, 0xF7, __u32)

struct sidecar_drv_wait_epoch {
	__u32 epoch;		/* in: the value last read */
	__u32 timeout_us;	/* in: upper bound of the sleep */
};
/* Sleep until the counter differs from epoch, or timeout_us passes. */
#define SIDECAR_DRV_WAIT_EPOCH _IOW(0xB8, 0xF8, struct sidecar_drv_wait_epoch)

/* Send the request IPI to a CPU of this node (arg: the CPU), for hosts
 * that make the status transitions themselves in the mapped control page
 * (libsidecar-host's linux transport). */
#define SIDECAR_DRV_KICK _IO(0xB8, 0xF9)

struct sidecar_drv_node_info {
	__u32 index;		/* node index */
	__u32 base_cpu;
	__u32 cpu_count;
	__u32 response_vector;	/* the Linux vector the driver got (0: polling) */
	__u32 response_apic_id;	/* where the response IPI goes */
	__u32 node_count;	/* nodes of the machine */
	__u64 control_pa;
	__u64 shmem_pa;
	__u64 shmem_size;
	__u64 guest_ram_base;	/* params.guest_ram_base / size */
	__u64 guest_ram_size;
	__u64 params_pa;
	__u64 output_pa;
	__u64 attention_irqs;	/* response IPIs taken for this node */
};
#define SIDECAR_DRV_NODE_INFO _IOR(0xB8, 0xFA, struct sidecar_drv_node_info)

/* ---- mmap offsets (bytes) ---- */
/* OpenHCL's: the node's command/register page pairs, CPU i at i * 8192,
 * exactly cpu_count * 8192 bytes. */
#define SIDECAR_DRV_MMAP_SHMEM 0x0ull
/* The node's control page (4096 bytes, read-write). */
#define SIDECAR_DRV_MMAP_CONTROL 0x40000000ull
/* The params pages (read-only, sizeof(struct sidecar_params)). */
#define SIDECAR_DRV_MMAP_PARAMS 0x80000000ull
/* The output pages (read-only, sizeof(struct sidecar_output)). */
#define SIDECAR_DRV_MMAP_OUTPUT 0xC0000000ull
/* Guest RAM (params.guest_ram_size bytes at most, read-write), where a
 * VMM loads guest code: GPA = params.guest_ram_base + offset. */
#define SIDECAR_DRV_MMAP_GUEST_RAM 0x100000000ull

#endif
