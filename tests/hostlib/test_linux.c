/* SPDX-License-Identifier: MIT */
/* libsidecar-host's linux transport where no driver is loaded (the build
 * machine): argument checks, no device, a device that is not the sidecar
 * driver's, and the fd accessors on handles of other transports. The
 * transport over the real driver is tested inside Linux under the shim
 * (suite linux: tests/linux/tests/drv-*.sh). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sidecar/host.h>
#include <sidecar/host_sim.h>
#include <sidecar/linux_driver.h>

static struct sidecar_host host;

Test(linux_transport, null_handle_is_invalid)
{
    cr_assert_eq(sidecar_host_open_linux(NULL, NULL), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_linux_fd(NULL), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_linux_device_fd(NULL, 0), SIDECAR_HOST_E_INVALID);
}

Test(linux_transport, overlong_prefix_is_invalid)
{
    char prefix[512];
    memset(prefix, 'a', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    cr_assert_eq(sidecar_host_open_linux(&host, prefix), SIDECAR_HOST_E_INVALID);
}

Test(linux_transport, no_device_is_nothing_and_handle_stays_closed)
{
    cr_assert_eq(sidecar_host_open_linux(&host, "/nonexistent/mshv_vtl_sidecar"), SIDECAR_HOST_E_NOTHING);
    cr_assert_eq(sidecar_host_node_count(&host), 0);
    cr_assert_eq(sidecar_host_cpu_count(&host), 0);
    cr_assert_eq(sidecar_host_ping(&host, 1, 0), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_linux_fd(&host), SIDECAR_HOST_E_INVALID);
}

Test(linux_transport, default_prefix_without_driver)
{
    if (access(SIDECAR_DRV_DEVICE_PREFIX "0", F_OK) == 0)
        cr_skip_test("a sidecar driver is loaded on this machine");
    cr_assert_eq(sidecar_host_open_linux(&host, NULL), SIDECAR_HOST_E_NOTHING);
}

Test(linux_transport, a_file_that_is_not_the_driver_is_refused)
{
    char dir[] = "/tmp/sidecar-linux-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[160], prefix[128];
    snprintf(prefix, sizeof(prefix), "%s/dev", dir);
    snprintf(path, sizeof(path), "%s0", prefix);
    int fd = open(path, O_CREAT | O_RDWR, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "x", 1), 1);
    close(fd);
    /* /dev/null-like: no NODE_INFO ioctl (ENOTTY). */
    cr_assert_eq(sidecar_host_open_linux(&host, prefix), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_cpu_count(&host), 0);
    unlink(path);
    rmdir(dir);
}

Test(linux_transport, fd_of_a_sim_handle_is_invalid)
{
    struct sidecar_host_sim_config cfg = { .node_count = 1, .cpus_per_node = 2 };
    struct sidecar_host_sim *sim;
    cr_assert_eq(sidecar_host_sim_create(&cfg, &sim), 0);
    cr_assert_eq(sidecar_host_open_sim(&host, sim), 0);
    cr_assert_eq(sidecar_host_linux_fd(&host), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(sidecar_host_linux_device_fd(&host, 0), SIDECAR_HOST_E_INVALID);
    sidecar_host_close(&host);
    sidecar_host_sim_destroy(sim);
}

Test(linux_transport, ioctl_numbers_match_openhcl)
{
    cr_assert_eq(MSHV_VTL_SIDECAR_START, 0xB8F0);
    cr_assert_eq(MSHV_VTL_SIDECAR_STOP, 0xB8F1);
    cr_assert_eq(MSHV_VTL_SIDECAR_RUN, 0xB8F2);
    cr_assert_eq(MSHV_VTL_SIDECAR_INFO, 0x800CB8F3);
    cr_assert_eq(sizeof(struct mshv_vtl_sidecar_info), 12);
}
