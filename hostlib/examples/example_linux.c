/* SPDX-License-Identifier: MIT */
/* libsidecar-host example over the Linux driver: the steps of example.c
 * (the simulator version) with a real guest on a real sidecar CPU. Run it
 * on a Linux main kernel with sidecar.ko loaded: it copies a tiny guest
 * program into guest RAM, sets registers, runs the VP, handles its
 * IO-port intercept by advancing RIP past the instruction, stops a run
 * that does not end by itself, and converts (removes) the CPU.
 * Build: cc -static example_linux.c $(pkg-config --cflags --libs sidecar-host) */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

#define TIMEOUT 5000000000ull   /* 5 s */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "example: %s: %s\n", what, sidecar_host_strerror(rc));
    return 1;
}

int main(void)
{
    static struct sidecar_host host;   /* large: keep it off the stack */
    struct sidecar_host_error why;
    int rc = sidecar_host_open_linux_ex(&host, NULL, &why);
    if (rc) {
        /* e.g. "no sidecar device: the sidecar driver is not loaded: open
         * /dev/mshv_vtl_sidecar0: No such file or directory: ..." */
        fprintf(stderr, "example: %s: %s\n", sidecar_host_strerror(rc), why.text);
        return 1;
    }
    printf("libsidecar-host %s: %u nodes, %u CPUs\n", sidecar_host_version(),
           sidecar_host_node_count(&host), sidecar_host_cpu_count(&host));

    /* The guest: mov dx, 0x3f8; out dx, al; jmp $ (GVA == GPA). */
    static const uint8_t guest[] = { 0x66, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xfe };
    int fd = sidecar_host_linux_device_fd(&host, 0);
    struct sidecar_drv_node_info ni;
    if (ioctl(fd, SIDECAR_DRV_NODE_INFO, &ni) != 0 || ni.guest_ram_size == 0)
        return fail("no guest RAM", SIDECAR_HOST_E_NOTHING);
    uint8_t *ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)SIDECAR_DRV_MMAP_GUEST_RAM);
    if (ram == MAP_FAILED)
        return fail("mmap guest RAM", SIDECAR_HOST_E_INVALID);
    memcpy(ram, guest, sizeof(guest));

    /* The first sidecar CPU that is idle. */
    uint32_t cpu = 0;
    while (cpu < sidecar_host_cpu_count(&host) && sidecar_host_cpu_status(&host, cpu) != SIDECAR_CPU_STATUS_IDLE)
        cpu++;
    if ((rc = sidecar_host_acquire(&host, cpu)))
        return fail("acquire", rc);

    /* Set RIP, RFLAGS and RAX in one batch. */
    struct sidecar_hv_register_assoc regs[3] = { 0 };
    regs[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
    regs[0].value.low = ni.guest_ram_base;
    regs[1].name = SIDECAR_HV_REGISTER_NAME_RFLAGS;
    regs[1].value.low = 0x2;
    regs[2].name = SIDECAR_HV_REGISTER_NAME_RAX;
    regs[2].value.low = 'A';
    struct sidecar_host_hv_error err;
    if ((rc = sidecar_host_set_registers(&host, cpu, 0, regs, 3, TIMEOUT, &err)))
        return fail("set_registers", rc);

    /* Run until the guest exits. */
    rc = sidecar_host_run_vp(&host, cpu, TIMEOUT);
    if (rc != SIDECAR_HOST_RUN_INTERCEPT)
        return fail("run_vp", rc < 0 ? rc : SIDECAR_HOST_E_STATE);
    struct sidecar_hv_x64_io_port_intercept_message io;
    if ((rc = sidecar_host_intercept_io_port(&host, cpu, &io)))
        return fail("intercept_io_port", rc);
    printf("CPU %u: %s port 0x%x, value 0x%" PRIx64 ", at RIP 0x%" PRIx64 "\n", cpu,
           io.header.intercept_access_type == SIDECAR_INTERCEPT_ACCESS_WRITE ? "OUT to" : "IN from",
           io.port_number, io.rax & 0xff, io.header.rip);
    if (io.port_number != 0x3f8 || (io.rax & 0xff) != 'A')
        return fail("unexpected intercept", SIDECAR_HOST_E_STATE);

    /* Emulate the OUT, then step past it: RIP += instruction length. */
    struct sidecar_hv_register_assoc rip = { 0 };
    rip.name = SIDECAR_HV_REGISTER_NAME_RIP;
    rip.value.low = io.header.rip + sidecar_host_instruction_length(&io.header);
    if ((rc = sidecar_host_set_registers(&host, cpu, 0, &rip, 1, TIMEOUT, &err)))
        return fail("set_registers", rc);

    /* Run again, asynchronously; this time the guest keeps running, so
     * stop it and collect the end of the run. */
    if ((rc = sidecar_host_run_vp_start(&host, cpu)))
        return fail("run_vp_start", rc);
    if ((rc = sidecar_host_stop(&host, cpu)))
        return fail("stop", rc);
    struct sidecar_host_completion done;
    if ((rc = sidecar_host_wait_any(&host, TIMEOUT, &done)))
        return fail("wait_any", rc);
    printf("CPU %u: run ended: %s\n", done.cpu,
           done.result == SIDECAR_HOST_RUN_STOPPED ? "stopped" : "intercept");

    /* Where the guest is now: on its jmp $, or still before it when the
     * STOP won the race with the start. */
    if ((rc = sidecar_host_get_registers(&host, cpu, 0, &rip, 1, TIMEOUT, &err)))
        return fail("get_registers", rc);
    printf("CPU %u: RIP 0x%" PRIx64 "\n", cpu, rip.value.low);
    if (rip.value.low != ni.guest_ram_base + 5)
        return fail("RIP is not on the guest's loop", SIDECAR_HOST_E_STATE);

    /* Hand the CPU over to the main kernel. */
    if ((rc = sidecar_host_remove(&host, cpu, TIMEOUT)))
        return fail("remove", rc);
    printf("CPU %u: removed (status %d)\n", cpu, sidecar_host_cpu_status(&host, cpu));
    sidecar_host_release(&host, cpu);

    sidecar_host_close(&host);
    printf("example: done\n");
    return 0;
}
