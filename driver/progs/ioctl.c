/* SPDX-License-Identifier: GPL-2.0-only */
/* sidecar-ioctl: the driver's OpenHCL interface (START, STOP, RUN, INFO,
 * read, poll, mmap at offset 0) and our additions (WAIT, CPU_INFO,
 * NODE_INFO, REMOVE) with raw system calls on /dev/mshv_vtl_sidecar0, and
 * the errno of every bad argument.
 *
 * A guest loop (jmp $) in guest RAM makes a RUN_VP that only STOP ends;
 * RIP is set through libsidecar-host (a SET_VP_REGISTERS command).
 * Prints "sidecar-ioctl: ..." per check; exit 0 when all passed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sidecar/host.h>
#include <sidecar/linux_driver.h>

static int failures;
static struct sidecar_host h;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (cond) {                                                      \
            printf("sidecar-ioctl: ok: " __VA_ARGS__);                   \
        } else {                                                         \
            printf("sidecar-ioctl: FAIL (line %d): ", __LINE__);         \
            printf(__VA_ARGS__);                                         \
            failures++;                                                  \
        }                                                                \
    } while (0)

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* ioctl returning -errno. */
static int io(int fd, unsigned long cmd, unsigned long arg)
{
    return ioctl(fd, cmd, arg) == 0 ? 0 : -errno;
}

/* poll() as OpenHCL's driver has it, with a level-triggered loop: the
 * device is readable only while an ended asynchronous command is unread, so
 * every POLLIN must be followed by a read() that returns a CPU. Synchronous
 * RUNs on another CPU of the node (their completion IPIs) are interleaved
 * with the asynchronous commands; neither they nor a read end may leave the
 * device readable. Returns the spurious wake-ups (POLLIN, then EAGAIN). */
static unsigned poll_level(uint8_t *pages, const struct mshv_vtl_sidecar_info *info, uint32_t cpu, uint32_t other,
                           unsigned rounds, unsigned *ended)
{
    int nb = open(SIDECAR_DRV_DEVICE_PREFIX "0", O_RDWR | O_NONBLOCK);
    struct sidecar_command_page *a = (void *)(pages + (size_t)(cpu - info->base_cpu) * info->per_cpu_shmem);
    struct sidecar_command_page *b = (void *)(pages + (size_t)(other - info->base_cpu) * info->per_cpu_shmem);
    struct pollfd p = { .fd = nb, .events = POLLIN };
    unsigned spurious = 0;
    *ended = 0;
    if (nb < 0)
        return 1;
    b->command = SIDECAR_COMMAND_NONE;
    if (io(nb, MSHV_VTL_SIDECAR_RUN, other) != 0 || poll(&p, 1, 0) != 0)
        spurious++;   /* readable after a synchronous RUN */
    for (unsigned i = 0; i < rounds && spurious < 100; i++) {
        a->command = SIDECAR_COMMAND_NONE;
        if (io(nb, MSHV_VTL_SIDECAR_START, cpu) != 0)
            break;
        b->command = SIDECAR_COMMAND_NONE;
        (void)io(nb, MSHV_VTL_SIDECAR_RUN, other);
        for (;;) {
            uint32_t got = 0;
            p.revents = 0;
            if (poll(&p, 1, 20000) != 1)
                goto out;   /* the end never came: ended < rounds */
            if (read(nb, &got, 4) == 4) {
                *ended += got == cpu;
                break;
            }
            if (++spurious >= 100)
                goto out;
        }
    }
    p.revents = 0;
    if (poll(&p, 1, 0) != 0)
        spurious++;   /* still readable with every end read */
out:
    close(nb);
    return spurious;
}

int main(int argc, char **argv)
{
    /* --leave-running: stop after starting the endless guest (for the
     * unload test: rmmod must stop it). --leave-running-quick: the same
     * without the 200 rounds of the poll loop (drv-unload-race, whose CPU
     * sends each completion IPI 500 ms late). */
    bool quick = argc > 1 && !strcmp(argv[1], "--leave-running-quick");
    bool leave = quick || (argc > 1 && !strcmp(argv[1], "--leave-running"));
    int fd = open(SIDECAR_DRV_DEVICE_PREFIX "0", O_RDWR);
    if (fd < 0) {
        printf("sidecar-ioctl: FAIL: open: %s\n", strerror(errno));
        return 1;
    }
    struct mshv_vtl_sidecar_info info;
    CHECK(io(fd, MSHV_VTL_SIDECAR_INFO, (unsigned long)&info) == 0 && info.per_cpu_shmem == 8192 &&
              info.cpu_count > 1,
          "INFO: base_cpu %u cpu_count %u per_cpu_shmem %u\n", info.base_cpu, info.cpu_count, info.per_cpu_shmem);
    size_t shmem = (size_t)info.cpu_count * info.per_cpu_shmem;
    void *bad = mmap(NULL, shmem + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(bad == MAP_FAILED && errno == EINVAL, "mmap of the wrong size: EINVAL\n");
    bad = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096 * 7);
    CHECK(bad == MAP_FAILED && errno == EINVAL, "mmap at an unknown offset: EINVAL\n");
    bad = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)SIDECAR_DRV_MMAP_PARAMS);
    CHECK(bad == MAP_FAILED && errno == EPERM, "writable mmap of the params: EPERM\n");
    uint8_t *pages = mmap(NULL, shmem, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(pages != MAP_FAILED, "mmap of the command pages (offset 0, %zu bytes)\n", shmem);
    if (pages == MAP_FAILED)
        return 1;

    /* The node's first sidecar CPU, and its main CPU (REMOVED). */
    uint32_t cpu = UINT32_MAX, main_cpu = UINT32_MAX;
    for (uint32_t c = info.base_cpu; c < info.base_cpu + info.cpu_count; c++) {
        struct sidecar_drv_cpu_info ci = { .cpu = c };
        if (io(fd, SIDECAR_DRV_CPU_INFO, (unsigned long)&ci))
            continue;
        if (ci.status == SIDECAR_CPU_STATUS_IDLE && cpu == UINT32_MAX)
            cpu = c;
        if (ci.status == SIDECAR_CPU_STATUS_REMOVED && main_cpu == UINT32_MAX)
            main_cpu = c;
    }
    CHECK(cpu != UINT32_MAX, "an idle sidecar CPU: %u\n", cpu);
    if (cpu == UINT32_MAX)
        return 1;
    struct sidecar_drv_cpu_info ci = { .cpu = cpu };
    CHECK(io(fd, SIDECAR_DRV_CPU_INFO, (unsigned long)&ci) == 0 && ci.linux_cpu >= 0 && !ci.linux_online &&
              ci.driver_state == SIDECAR_DRV_STATE_AVAIL,
          "CPU_INFO %u: APIC ID %u, Linux CPU %d, offline in Linux\n", cpu, ci.apic_id, ci.linux_cpu);
    struct sidecar_command_page *cp = (struct sidecar_command_page *)(pages + (cpu - info.base_cpu) * 8192);

    /* Bad arguments. */
    CHECK(io(fd, MSHV_VTL_SIDECAR_START, info.base_cpu + info.cpu_count) == -EINVAL, "START outside the node: EINVAL\n");
    CHECK(io(fd, MSHV_VTL_SIDECAR_RUN, (unsigned long)-1) == -EINVAL, "RUN of CPU -1: EINVAL\n");
    CHECK(io(fd, MSHV_VTL_SIDECAR_STOP, info.base_cpu + info.cpu_count) == -EINVAL, "STOP outside the node: EINVAL\n");
    if (main_cpu != UINT32_MAX)
        CHECK(io(fd, MSHV_VTL_SIDECAR_START, main_cpu) == -ENOENT, "START of the main CPU %u: ENOENT\n", main_cpu);
    CHECK(io(fd, MSHV_VTL_SIDECAR_STOP, cpu) == -EINVAL, "STOP of a CPU with no async command: EINVAL\n");
    CHECK(io(fd, _IO(0xB8, 0xEE), 0) == -ENOTTY, "an unknown ioctl: ENOTTY\n");
    CHECK(io(fd, MSHV_VTL_SIDECAR_INFO, 8) == -EFAULT, "INFO to a bad pointer: EFAULT\n");
    struct sidecar_drv_cpu_info bad_ci = { .cpu = 0xffffff };
    CHECK(io(fd, SIDECAR_DRV_CPU_INFO, (unsigned long)&bad_ci) == -EINVAL, "CPU_INFO of an unknown CPU: EINVAL\n");
    struct sidecar_drv_wait w = { .cpu = cpu, .timeout_ms = 0 };
    CHECK(io(fd, SIDECAR_DRV_WAIT, (unsigned long)&w) == -EINVAL, "WAIT with no async command: EINVAL\n");
    uint32_t got = 0;
    CHECK(read(fd, &got, 2) == -1 && errno == EINVAL, "read into 2 bytes: EINVAL\n");
    int nb = open(SIDECAR_DRV_DEVICE_PREFIX "0", O_RDWR | O_NONBLOCK);
    CHECK(read(nb, &got, 4) == -1 && errno == EAGAIN, "non-blocking read with nothing done: EAGAIN\n");

    /* RUN (sync) and START (async) of NONE commands. */
    cp->command = SIDECAR_COMMAND_NONE;
    CHECK(io(fd, MSHV_VTL_SIDECAR_RUN, cpu) == 0 && !cp->has_error, "RUN of a NONE command\n");
    cp->command = SIDECAR_COMMAND_NONE;
    int rc = io(fd, MSHV_VTL_SIDECAR_START, cpu);
    CHECK(rc == 0, "START of a NONE command\n");
    int rc2 = io(fd, MSHV_VTL_SIDECAR_START, cpu);
    CHECK(rc2 == -EBUSY, "START again before its end was read: EBUSY (%d)\n", rc2);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    CHECK(poll(&pfd, 1, 20000) == 1 && (pfd.revents & POLLIN), "poll: POLLIN when it ended\n");
    got = 0;
    CHECK(read(fd, &got, 4) == 4 && got == cpu, "read: CPU %u ended\n", got);

    /* poll(), level-triggered, beside synchronous RUNs on another CPU. */
    uint32_t other = UINT32_MAX;
    for (uint32_t c = info.base_cpu; c < info.base_cpu + info.cpu_count && other == UINT32_MAX; c++) {
        struct sidecar_drv_cpu_info oi = { .cpu = c };
        if (c != cpu && !io(fd, SIDECAR_DRV_CPU_INFO, (unsigned long)&oi) && oi.status == SIDECAR_CPU_STATUS_IDLE)
            other = c;
    }
    CHECK(other != UINT32_MAX, "a second idle sidecar CPU: %u\n", other);
    if (other != UINT32_MAX && !quick) {
        unsigned ended = 0, spurious = poll_level(pages, &info, cpu, other, 200, &ended);
        printf("sidecar-ioctl: poll_spurious=%u poll_ended=%u\n", spurious, ended);
        CHECK(spurious == 0 && ended == 200,
              "level-triggered poll: 200 async ends read, 201 sync RUNs beside, %u spurious wake-ups\n", spurious);
    }

    /* A guest loop: only STOP ends it. */
    rc = sidecar_host_open_linux(&h, NULL);
    CHECK(rc == 0, "hostlib open over the driver\n");
    struct sidecar_drv_node_info ni;
    CHECK(io(fd, SIDECAR_DRV_NODE_INFO, (unsigned long)&ni) == 0 && ni.guest_ram_size, "guest RAM 0x%llx+0x%llx\n",
          (unsigned long long)ni.guest_ram_base, (unsigned long long)ni.guest_ram_size);
    uint8_t *ram = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)SIDECAR_DRV_MMAP_GUEST_RAM);
    CHECK(ram != MAP_FAILED, "mmap of guest RAM\n");
    if (rc || ram == MAP_FAILED)
        return 1;
    memcpy(ram + 0x1800, "\xeb\xfe", 2);
    struct sidecar_hv_register_assoc regs[2] = { 0 };
    regs[0].name = SIDECAR_HV_REGISTER_NAME_RIP;
    regs[0].value.low = ni.guest_ram_base + 0x1800;
    regs[1].name = SIDECAR_HV_REGISTER_NAME_RFLAGS;
    regs[1].value.low = 2;
    rc = sidecar_host_acquire(&h, cpu);
    if (!rc)
        rc = sidecar_host_set_registers(&h, cpu, 0, regs, 2, 10000000000ull, NULL);
    sidecar_host_release(&h, cpu);
    CHECK(rc == 0, "RIP set through hostlib\n");
    cp->command = SIDECAR_COMMAND_RUN_VP;
    cp->request_data[0] = 0xff;
    CHECK(io(fd, MSHV_VTL_SIDECAR_START, cpu) == 0, "START of a RUN_VP\n");
    if (leave) {
        printf("sidecar-ioctl: CPU %u left running the endless guest\n", cpu);
        return failures ? 1 : 0;
    }
    w.timeout_ms = 200;
    CHECK(io(fd, SIDECAR_DRV_WAIT, (unsigned long)&w) == -ETIMEDOUT, "WAIT on the endless guest: ETIMEDOUT\n");
    CHECK(io(fd, SIDECAR_DRV_REMOVE, cpu) == -EBUSY, "REMOVE of a running CPU: EBUSY\n");
    CHECK(io(fd, MSHV_VTL_SIDECAR_STOP, cpu) == 0, "STOP\n");
    CHECK(io(fd, MSHV_VTL_SIDECAR_STOP, cpu) == 0, "STOP again (idempotent)\n");
    w.timeout_ms = 20000;
    CHECK(io(fd, SIDECAR_DRV_WAIT, (unsigned long)&w) == 0, "WAIT: the stopped run ended\n");
    /* Stopped while running or before the CPU took it: either way the
     * command was taken and answered 0 (OpenHCL's rule). */
    CHECK(!cp->has_error && cp->request_data[0] == 0 && cp->command == SIDECAR_COMMAND_NONE,
          "RUN_VP ended stopped (answer %u, command %u, has_error %u)\n", cp->request_data[0], cp->command,
          cp->has_error);
    CHECK(read(nb, &got, 4) == -1 && errno == EAGAIN, "the WAITed end is not reported again by read\n");

    /* A synchronous RUN of the endless guest interrupted by a signal: the
     * driver sets STOP and keeps waiting; the ioctl returns 0 once the run
     * ended (OpenHCL's behaviour). */
    struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    cp->command = SIDECAR_COMMAND_RUN_VP;
    cp->request_data[0] = 0xff;
    alarm(1);
    rc = io(fd, MSHV_VTL_SIDECAR_RUN, cpu);
    alarm(0);
    CHECK(rc == 0 && alarms == 1 && !cp->has_error && cp->request_data[0] == 0,
          "RUN interrupted by a signal: STOP, the run ended stopped (rc %d, signals %d, answer %u)\n", rc,
          (int)alarms, cp->request_data[0]);
    /* CPU hotplug of a CPU running an async RUN_VP (OpenHCL style): the
     * online stops the run, whose end read() still reports; the CPU is
     * then Linux's and sidecar calls on it give ENOENT. */
    cp->command = SIDECAR_COMMAND_RUN_VP;
    CHECK(io(fd, MSHV_VTL_SIDECAR_START, cpu) == 0, "START of a RUN_VP before onlining the CPU\n");
    char path[96];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", ci.linux_cpu);
    int ofd = open(path, O_WRONLY);
    CHECK(ofd >= 0 && write(ofd, "1", 1) == 1, "echo 1 > %s while the VP runs\n", path);
    if (ofd >= 0)
        close(ofd);
    pfd.revents = 0;
    CHECK(poll(&pfd, 1, 20000) == 1 && read(fd, &got, 4) == 4 && got == cpu,
          "read: the stopped run's end is reported (CPU %u)\n", got);
    memset(&ci, 0, sizeof(ci));
    ci.cpu = cpu;
    CHECK(io(fd, SIDECAR_DRV_CPU_INFO, (unsigned long)&ci) == 0 && ci.linux_online &&
              ci.status == SIDECAR_CPU_STATUS_REMOVED && ci.driver_state == SIDECAR_DRV_STATE_REMOVED,
          "CPU %u is Linux's now (online %u, status %u, driver state %u)\n", cpu, ci.linux_online, ci.status,
          ci.driver_state);
    CHECK(io(fd, MSHV_VTL_SIDECAR_START, cpu) == -ENOENT, "START of the converted CPU: ENOENT\n");
    CHECK(io(fd, SIDECAR_DRV_REMOVE, cpu) == -ENOENT, "REMOVE of the converted CPU: ENOENT\n");

    sidecar_host_close(&h);
    printf("sidecar-ioctl: %s (%d failures)\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
