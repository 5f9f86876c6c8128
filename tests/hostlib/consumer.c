/* SPDX-License-Identifier: MIT */
/* Built outside the tree against the installed libsidecar-host, with only
 * `pkg-config --cflags --libs sidecar-host`: open the simulator, ping and
 * run every sidecar CPU, set and read back a register. */
#include <stdio.h>

#include <sidecar/host.h>
#include <sidecar/host_sim.h>
#include <sidecar/validate.h>

int main(void)
{
    struct sidecar_host_sim_config cfg = { .node_count = 2, .cpus_per_node = 3, .main_cpu_per_node = true };
    struct sidecar_host_sim *sim;
    static struct sidecar_host h;
    int rc = sidecar_host_sim_create(&cfg, &sim);
    if (!rc)
        rc = sidecar_host_open_sim(&h, sim);
    if (rc) {
        fprintf(stderr, "consumer: %s\n", sidecar_host_strerror(rc));
        return 1;
    }
    struct sidecar_abi_error err;
    if (sidecar_params_validate(sidecar_host_sim_params(sim), &err) != SIDECAR_ABI_OK) {
        fprintf(stderr, "consumer: params: %s\n", err.message);
        return 1;
    }
    unsigned ok = 0;
    for (uint32_t c = 0; c < sidecar_host_cpu_count(&h); c++) {
        if (sidecar_host_acquire(&h, c))
            continue;
        struct sidecar_hv_register_assoc r = { 0 };
        r.name = SIDECAR_HV_REGISTER_NAME_RIP;
        r.value.low = 0x4000 + c;
        if (sidecar_host_ping(&h, c, 5000000000ull) == 0 &&
            sidecar_host_set_registers(&h, c, 0, &r, 1, 5000000000ull, NULL) == 0 &&
            sidecar_host_run_vp(&h, c, 5000000000ull) == SIDECAR_HOST_RUN_INTERCEPT) {
            struct sidecar_hv_x64_intercept_message_header hdr;
            if (sidecar_host_intercept_header(&h, c, &hdr) == 0 && hdr.rip == 0x4000 + c)
                ok++;
        }
        sidecar_host_release(&h, c);
    }
    printf("libsidecar-host %s (installed): %u of 4 sidecar CPUs answered\n", sidecar_host_version(), ok);
    sidecar_host_close(&h);
    sidecar_host_sim_destroy(sim);
    return ok == 4 ? 0 : 1;
}
