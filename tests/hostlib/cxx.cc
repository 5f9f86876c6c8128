/* SPDX-License-Identifier: MIT */
// libsidecar-host's headers from C++17: they compile, link and work.
#include <cstdio>

#include <sidecar/host.h>
#include <sidecar/host_sim.h>

int main()
{
    sidecar_host_sim_config cfg{};
    cfg.node_count = 1;
    cfg.cpus_per_node = 2;
    sidecar_host_sim *sim = nullptr;
    static sidecar_host h;
    if (sidecar_host_sim_create(&cfg, &sim) || sidecar_host_open_sim(&h, sim) || sidecar_host_acquire(&h, 1))
        return 1;
    int rc = sidecar_host_run_vp(&h, 1, 5000000000ull);
    sidecar_hv_x64_intercept_message_header hdr{};
    if (rc != SIDECAR_HOST_RUN_INTERCEPT || sidecar_host_intercept_header(&h, 1, &hdr) ||
        sidecar_host_instruction_length(&hdr) != 1)
        return 1;
    std::printf("C++: %s, run: %d\n", sidecar_host_version(), rc);
    sidecar_host_close(&h);
    sidecar_host_sim_destroy(sim);
    return 0;
}
