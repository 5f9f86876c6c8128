/* SPDX-License-Identifier: MIT */
/* libsidecar-host example: drive one simulated sidecar CPU the way a VMM
 * drives a real one. Open the simulator, take a CPU, set registers, run
 * the VP, handle an IO-port intercept by advancing RIP past the
 * instruction, stop a run, and convert (remove) the CPU.
 * Build: cc example.c $(pkg-config --cflags --libs sidecar-host) */
#include <inttypes.h>
#include <stdio.h>

#include <sidecar/host.h>
#include <sidecar/host_sim.h>

#define TIMEOUT 5000000000ull   /* 5 s */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "example: %s: %s\n", what, sidecar_host_strerror(rc));
    return 1;
}

int main(void)
{
    /* Two nodes of four CPUs; CPU 0 of each node belongs to the main kernel. */
    struct sidecar_host_sim_config cfg = { .node_count = 2, .cpus_per_node = 4, .main_cpu_per_node = true };
    struct sidecar_host_sim *sim;
    int rc = sidecar_host_sim_create(&cfg, &sim);
    if (rc)
        return fail("sim_create", rc);

    /* What the guest on CPU 1 will do: OUT to port 0x3f8 (a 1-byte
     * instruction), then run until it is stopped. */
    struct sidecar_host_sim_step steps[2] = { 0 };
    sidecar_host_sim_step_io_port(&steps[0], 0x3f8, 1, true, 'A', 1);
    steps[1].kind = SIDECAR_HOST_SIM_BLOCK;
    sidecar_host_sim_script(sim, 1, steps, 2);

    static struct sidecar_host host;   /* large: keep it off the stack */
    rc = sidecar_host_open_sim(&host, sim);
    if (rc)
        return fail("open", rc);
    printf("libsidecar-host %s: %u nodes, %u CPUs\n", sidecar_host_version(),
           sidecar_host_node_count(&host), sidecar_host_cpu_count(&host));

    const uint32_t cpu = 1;
    if ((rc = sidecar_host_acquire(&host, cpu)))
        return fail("acquire", rc);

    /* Set RIP and RAX in one batch. */
    struct sidecar_hv_register_assoc regs[2] = { 0 };
    regs[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
    regs[0].value.low = 0x100000;
    regs[1].name = SIDECAR_HV_REGISTER_NAME_RAX;
    regs[1].value.low = 'A';
    struct sidecar_host_hv_error err;
    if ((rc = sidecar_host_set_registers(&host, cpu, 0, regs, 2, TIMEOUT, &err)))
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

    /* Where the guest is now. */
    if ((rc = sidecar_host_get_registers(&host, cpu, 0, &rip, 1, TIMEOUT, &err)))
        return fail("get_registers", rc);
    printf("CPU %u: RIP 0x%" PRIx64 "\n", cpu, rip.value.low);

    /* Hand the CPU over to the main kernel. */
    if ((rc = sidecar_host_remove(&host, cpu, TIMEOUT)))
        return fail("remove", rc);
    printf("CPU %u: removed (status %d)\n", cpu, sidecar_host_cpu_status(&host, cpu));
    sidecar_host_release(&host, cpu);

    sidecar_host_close(&host);
    sidecar_host_sim_destroy(sim);
    return 0;
}
