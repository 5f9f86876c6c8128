/* SPDX-License-Identifier: MIT */
/* Uses libsidecar-host through dependency('sidecar-host') (and, built
 * again by run.sh, through pkg-config): opens the simulator, pings every
 * sidecar CPU, shows that a failed open names its cause, and checks that
 * the library, its header and the build system report one version. */
#include <stdio.h>
#include <string.h>

#include <sidecar/host.h>
#include <sidecar/host_sim.h>

#ifndef DEP_VERSION
#define DEP_VERSION SIDECAR_HOST_VERSION_STRING   /* pkg-config: checked by run.sh */
#endif

int main(void)
{
    if (strcmp(sidecar_host_version(), SIDECAR_HOST_VERSION_STRING) != 0 ||
        strcmp(sidecar_host_version(), DEP_VERSION) != 0) {
        fprintf(stderr, "consumer: library %s, header %s, dependency %s\n", sidecar_host_version(),
                SIDECAR_HOST_VERSION_STRING, DEP_VERSION);
        return 1;
    }
    struct sidecar_host_sim_config cfg = { .node_count = 1, .cpus_per_node = 3, .main_cpu_per_node = true };
    struct sidecar_host_sim *sim;
    static struct sidecar_host h;
    int rc = sidecar_host_sim_create(&cfg, &sim);
    if (!rc)
        rc = sidecar_host_open_sim(&h, sim);
    if (rc) {
        fprintf(stderr, "consumer: %s: %s\n", sidecar_host_strerror(rc), sidecar_host_last_error());
        return 1;
    }
    unsigned ok = 0;
    for (uint32_t c = 0; c < sidecar_host_cpu_count(&h); c++) {
        if (sidecar_host_acquire(&h, c))
            continue;
        ok += sidecar_host_ping(&h, c, 5000000000ull) == 0;
        sidecar_host_release(&h, c);
    }
    sidecar_host_close(&h);
    sidecar_host_sim_destroy(sim);
    struct sidecar_host_error err;
    rc = sidecar_host_open_linux_ex(&h, "/nonexistent/sidecar", &err);
    printf("libsidecar-host %s: %u of 2 sidecar CPUs answered; no device: %s (%s)\n",
           sidecar_host_version(), ok, sidecar_host_strerror(rc), err.text);
    return ok == 2 && rc == SIDECAR_HOST_E_NO_DEVICE ? 0 : 1;
}
