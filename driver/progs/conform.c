/* SPDX-License-Identifier: GPL-2.0-only */
/* sidecar-conform: makes the calls openvmm's sidecar_client (OpenHCL's
 * VMM side of the mshv_vtl_sidecar driver) makes, in its order, and checks
 * that every answer means what it means under OpenHCL:
 *
 *  - open /dev/mshv_vtl_sidecar<N> (O_RDWR | O_NONBLOCK) for N = 0, 1, ...
 *    until ENOENT; INFO on each; mmap of cpu_count * per_cpu_shmem bytes at
 *    offset 0. The nodes tile the VPs from 0, each node's base_cpu is an
 *    online Linux CPU (the node's first VP, which Linux keeps), a node's
 *    VPs are one NUMA node, at most 32 of them.
 *  - VP index == Linux CPU number == the ioctl's CPU argument: GET of
 *    HvRegisterVpIndex answers the CPU argument, the intercept message's
 *    vp_index is it, every online Linux CPU N has the APIC ID of VP N, and
 *    every CPU of a node that Linux runs (base VPs, onlined CPUs) answers
 *    RUN with ENOENT while the others run commands.
 *  - per sidecar VP: the register page says it holds no state (is_valid
 *    0: the VMM uses GET/SET), RUN (synchronous) of NONE and of an unknown command
 *    (has_error and its text), SET then GET of registers, TRANSLATE_GVA in
 *    and outside guest RAM, RUN_VP to an IO intercept with RAX taken from
 *    and given back in cpu_context, START of a guest loop + STOP, its end
 *    reported once by an edge-triggered epoll and read(); STOP semantics:
 *    START + STOP pairs of RUN_VP and GET_VP_REGISTERS, whose command is
 *    executed even when the STOP came first, with has_error, the response
 *    and the status always this command's (pre-poisoned by us).
 *  - poll: not readable while a command runs or after synchronous RUNs,
 *    readable exactly while an ended START is unread: a level-triggered
 *    poll loop must see no spurious wake-up, an edge-triggered epoll
 *    (EPOLLET with sidecar_client's interest set) delivers every end once.
 *  - /sys/module/sidecar/boot_times: the bring-up's start and end TSC
 *    (OpenHCL's reftime_sidecar_start/_end), in order and in the past.
 *
 * Our additions are used only to learn what a VMM knows otherwise (guest
 * RAM from NODE_INFO, the VP backend from the output page, the APIC IDs
 * from the params page, the driver's Linux CPU of each VP).
 *
 * Prints "sidecar-conform: ok|FAIL ..." per check and one summary line;
 * exit 0 when everything passed. Every wait is bounded (20 s). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sidecar/abi.h>
#include <sidecar/linux_driver.h>

#define MAX_NODES 64
#define MAX_LINUX_CPUS 4096
#define WAIT_MS 20000
#define PAIRS 24            /* START + STOP pairs per VP */
#define LT_ROUNDS 40        /* level-triggered poll rounds per node */
#define OPENHCL_NODE_MAX 32 /* openhcl_boot's largest sidecar node */
#define VALIDATE_READ 1ull  /* TLFS translate control flag */
#define GVA_OUTSIDE 0xF0000000ull
#define UNKNOWN_COMMAND 0x7777u

static int failures;
static bool verbose;

static void fail(int line, const char *fmt, ...)
{
    va_list ap;
    printf("sidecar-conform: FAIL (line %d): ", line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failures++;
}

#define CHECK(cond, ...)                                            \
    do {                                                            \
        if (!(cond))                                                \
            fail(__LINE__, __VA_ARGS__);                            \
    } while (0)

/* A check printed also when it passes (once per node or run, not per VP). */
#define NOTE(cond, ...)                                             \
    do {                                                            \
        if (cond) {                                                 \
            printf("sidecar-conform: ok: ");                        \
            printf(__VA_ARGS__);                                    \
            printf("\n");                                           \
        } else {                                                    \
            fail(__LINE__, __VA_ARGS__);                            \
        }                                                           \
    } while (0)

struct node {
    int fd, ep;
    struct mshv_vtl_sidecar_info info;
    uint8_t *pages;
    unsigned ends_seen[OPENHCL_NODE_MAX];   /* read() reports per CPU slot */
};

static struct node nodes[MAX_NODES];
static unsigned node_count;
static bool linux_online[MAX_LINUX_CPUS];
static int linux_apic[MAX_LINUX_CPUS];
static const struct sidecar_params *params;
static bool svm;
static uint64_t ram_base, ram_size;

/* Counters for the summary line. */
static unsigned vps, linux_in_nodes, numbering_same, numbering_of, pairs_done, stale, et_ends, et_lost,
    et_dup, lt_spurious, lt_ends;

static int io(int fd, unsigned long cmd, unsigned long arg)
{
    return ioctl(fd, cmd, arg) == 0 ? 0 : -errno;
}

static struct sidecar_command_page *page(struct node *n, uint32_t cpu)
{
    return (struct sidecar_command_page *)(n->pages + (size_t)(cpu - n->info.base_cpu) * n->info.per_cpu_shmem);
}

/* ---- Linux's view --------------------------------------------------- */

static void read_linux_cpus(void)
{
    memset(linux_online, 0, sizeof(linux_online));
    for (unsigned i = 0; i < MAX_LINUX_CPUS; i++)
        linux_apic[i] = -1;
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    char buf[4096] = "";
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    for (char *p = buf; *p && *p != '\n';) {
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p)
            break;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        for (unsigned long c = a; c <= b && c < MAX_LINUX_CPUS; c++)
            linux_online[c] = true;
        p = *end == ',' ? end + 1 : end;
    }
    f = fopen("/proc/cpuinfo", "r");
    int proc = -1;
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        int v;
        if (sscanf(line, "processor : %d", &v) == 1 || sscanf(line, "processor\t: %d", &v) == 1)
            proc = v;
        else if ((sscanf(line, "apicid : %d", &v) == 1 || sscanf(line, "apicid\t\t: %d", &v) == 1) && proc >= 0 &&
                 proc < MAX_LINUX_CPUS)
            linux_apic[proc] = v;
    }
    if (f)
        fclose(f);
}

/* ---- commands, as sidecar_client issues them ------------------------- */

static struct sidecar_get_set_vp_registers_request *regs_request(struct sidecar_command_page *cp, uint32_t command,
                                                                 unsigned count)
{
    _Static_assert(sizeof(struct sidecar_get_set_vp_registers_request) <= SIDECAR_REQUEST_DATA_SIZE,
                   "a register request fits request_data");
    struct sidecar_get_set_vp_registers_request *r = (void *)cp->request_data;
    cp->command = command;
    memset(r, 0, 16 + count * sizeof(r->regs[0]));
    r->count = (uint16_t)count;
    return r;
}

/* A synchronous command (RUN ioctl); the device must not become readable. */
static int run_sync(struct node *n, uint32_t cpu)
{
    int rc = io(n->fd, MSHV_VTL_SIDECAR_RUN, cpu);
    struct pollfd p = { .fd = n->fd, .events = POLLIN };
    if (poll(&p, 1, 0) != 0) {
        lt_spurious++;
        fail(__LINE__, "CPU %u: the device is readable after a synchronous RUN", cpu);
    }
    return rc;
}

static bool set_regs(struct node *n, uint32_t cpu, const uint32_t *names, const uint64_t *values, unsigned count)
{
    struct sidecar_command_page *cp = page(n, cpu);
    struct sidecar_get_set_vp_registers_request *r = regs_request(cp, SIDECAR_COMMAND_SET_VP_REGISTERS, count);
    for (unsigned i = 0; i < count; i++) {
        r->regs[i].name = names[i];
        r->regs[i].value.low = values[i];
    }
    int rc = run_sync(n, cpu);
    bool ok = rc == 0 && !cp->has_error && r->status == SIDECAR_HV_STATUS_SUCCESS;
    CHECK(ok, "CPU %u: SET_VP_REGISTERS of %u: rc %d has_error %u status 0x%x", cpu, count, rc, cp->has_error,
          r->status);
    return ok;
}

static bool get_regs(struct node *n, uint32_t cpu, const uint32_t *names, uint64_t *values, unsigned count)
{
    struct sidecar_command_page *cp = page(n, cpu);
    struct sidecar_get_set_vp_registers_request *r = regs_request(cp, SIDECAR_COMMAND_GET_VP_REGISTERS, count);
    for (unsigned i = 0; i < count; i++) {
        r->regs[i].name = names[i];
        r->regs[i].value.low = 0xdeadbeefull;
    }
    int rc = run_sync(n, cpu);
    bool ok = rc == 0 && !cp->has_error && r->status == SIDECAR_HV_STATUS_SUCCESS;
    CHECK(ok, "CPU %u: GET_VP_REGISTERS of %u: rc %d has_error %u status 0x%x", cpu, count, rc, cp->has_error,
          r->status);
    for (unsigned i = 0; ok && i < count; i++)
        values[i] = r->regs[i].value.low;
    return ok;
}

/* The guest code: an IO intercept (RAX + 1, then OUT 0x80) and a loop only
 * STOP ends. ring3: 64-bit code at GVA = GPA in guest RAM; svm: real mode
 * at the reset vector (the last 16 bytes of guest RAM, GPA 0xFFFFFFF0). */
static uint64_t rip_io, rip_loop;

static bool load_guest(int fd)
{
    uint64_t off = svm ? ram_size - 4096 : 0x1000;
    uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(SIDECAR_DRV_MMAP_GUEST_RAM + off));
    if (m == MAP_FAILED)
        return false;
    if (svm) {
        memcpy(m + 4096 - 16, "\x66\x40\xe6\x80", 4);    /* inc eax; out 0x80, al */
        memcpy(m + 4096 - 8, "\xeb\xfe", 2);             /* jmp $ */
        rip_io = 0xfff0;
        rip_loop = 0xfff8;
    } else {
        memcpy(m + 0x800, "\x48\xff\xc0\xe6\x80", 5);    /* inc rax; out 0x80, al */
        memcpy(m + 0x810, "\xeb\xfe", 2);                /* jmp $ */
        rip_io = ram_base + off + 0x800;
        rip_loop = ram_base + off + 0x810;
    }
    munmap(m, 4096);
    return true;
}

/* ---- ends: edge-triggered epoll and read(), as sidecar_wait_loop ---- */

/* Reads every end now reported (until EAGAIN). Returns how many. */
static unsigned drain(struct node *n)
{
    unsigned got = 0;
    for (;;) {
        uint32_t cpu = UINT32_MAX;
        ssize_t r = read(n->fd, &cpu, sizeof(cpu));
        if (r < 0) {
            CHECK(errno == EAGAIN, "node %u: read: %s", n->info.base_cpu, strerror(errno));
            return got;
        }
        CHECK(r == 4, "read returned %zd bytes", r);
        if (cpu < n->info.base_cpu || cpu - n->info.base_cpu >= n->info.cpu_count) {
            fail(__LINE__, "read: CPU %u is not in the node's range %u+%u", cpu, n->info.base_cpu,
                 n->info.cpu_count);
            continue;
        }
        n->ends_seen[cpu - n->info.base_cpu]++;
        got++;
    }
}

/* Waits (edge-triggered) until the ends of `want` CPUs were read. */
static unsigned wait_ends(struct node *n, unsigned want)
{
    unsigned got = drain(n);
    while (got < want) {
        struct epoll_event ev[4];
        int k = epoll_wait(n->ep, ev, 4, WAIT_MS);
        if (k <= 0) {
            fail(__LINE__, "node base %u: %u of %u ends came (epoll_wait %d)", n->info.base_cpu, got, want, k);
            break;
        }
        for (int i = 0; i < k; i++)
            CHECK(!(ev[i].events & ~(uint32_t)(EPOLLIN | EPOLLRDNORM)), "epoll: events 0x%x beyond EPOLLIN",
                  ev[i].events);
        got += drain(n);
    }
    return got;
}

static bool readable(struct node *n)
{
    struct pollfd p = { .fd = n->fd, .events = POLLIN };
    return poll(&p, 1, 0) != 0;
}

/* One asynchronous command: START, optionally STOP at once, collect its
 * end. Returns false when its end was not reported exactly once. */
static bool start_stop(struct node *n, uint32_t cpu, bool stop)
{
    uint32_t slot = cpu - n->info.base_cpu;
    unsigned before = n->ends_seen[slot];
    int rc = io(n->fd, MSHV_VTL_SIDECAR_START, cpu);
    if (rc) {
        fail(__LINE__, "CPU %u: START: %d", cpu, rc);
        return false;
    }
    if (stop && (rc = io(n->fd, MSHV_VTL_SIDECAR_STOP, cpu)) != 0)
        fail(__LINE__, "CPU %u: STOP of a started command: %d", cpu, rc);
    wait_ends(n, 1);
    bool once = n->ends_seen[slot] == before + 1;
    CHECK(once, "CPU %u: its end was reported %u times", cpu, n->ends_seen[slot] - before);
    return once;
}

/* ---- one sidecar VP --------------------------------------------------- */

static void vp_checks(struct node *n, uint32_t cpu)
{
    struct sidecar_command_page *cp = page(n, cpu);
    const uint32_t N_RIP = SIDECAR_HV_REGISTER_NAME_RIP, N_RFLAGS = SIDECAR_HV_REGISTER_NAME_RFLAGS,
                   N_VP = SIDECAR_HV_REGISTER_NAME_VP_INDEX;
    int rc;
    vps++;

    /* The register page beside the command page: Hyper-V's register
     * overlay in OpenHCL; is_valid = 0 tells the VMM to use GET/SET. */
    const struct sidecar_register_page *rp = (const void *)((const uint8_t *)cp + SIDECAR_PAGE_SIZE);
    CHECK(rp->is_valid == 0, "CPU %u: register page is_valid %u", cpu, rp->is_valid);

    /* sidecar_client::test: a NONE command, synchronous. has_error is
     * this command's (we leave a 1 there first). */
    cp->has_error = 1;
    cp->command = SIDECAR_COMMAND_NONE;
    rc = run_sync(n, cpu);
    CHECK(rc == 0 && !cp->has_error, "CPU %u: RUN of NONE: rc %d has_error %u", cpu, rc, cp->has_error);

    /* An unknown command: has_error with a text (OpenHCL: "unknown command"). */
    cp->command = UNKNOWN_COMMAND;
    cp->error.len = 0;
    rc = run_sync(n, cpu);
    CHECK(rc == 0 && cp->has_error == 1 && cp->error.len > 0, "CPU %u: unknown command: rc %d has_error %u len %u",
          cpu, rc, cp->has_error, cp->error.len);
    CHECK(cp->command == SIDECAR_COMMAND_NONE, "CPU %u: the command field was not taken (%u)", cpu, cp->command);

    /* The VP index is the CPU argument (and the Linux CPU number). */
    uint32_t names[3] = { N_RIP, N_RFLAGS, N_VP };
    uint64_t set[2] = { rip_io, 0x203 }, got[3] = { 0 };
    if (set_regs(n, cpu, names, set, 2) && get_regs(n, cpu, names, got, 3)) {
        CHECK(got[0] == rip_io && got[1] == 0x203, "CPU %u: SET then GET: RIP 0x%llx RFLAGS 0x%llx", cpu,
              (unsigned long long)got[0], (unsigned long long)got[1]);
        CHECK(got[2] == cpu, "CPU %u: HvRegisterVpIndex is %llu, not the CPU argument", cpu,
              (unsigned long long)got[2]);
    }

    /* TRANSLATE_GVA: inside guest RAM the identity (ring3: GVA = GPA;
     * svm at reset: paging off), outside it GPA_UNMAPPED. */
    uint64_t in_gva = (svm ? 0 : ram_base) + 0x1000;
    for (int k = 0; k < 2; k++) {
        uint64_t gva = k == 0 ? in_gva : GVA_OUTSIDE;
        struct sidecar_translate_gva_request *req = (void *)cp->request_data;
        struct sidecar_translate_gva_response *resp = (void *)cp->request_data;
        cp->command = SIDECAR_COMMAND_TRANSLATE_GVA;
        req->gvn = gva >> 12;
        req->control_flags = VALIDATE_READ;
        rc = run_sync(n, cpu);
        uint32_t code = resp->output.translation_result.result_code;
        if (k == 0)
            CHECK(rc == 0 && !cp->has_error && resp->status == 0 && code == SIDECAR_TRANSLATE_GVA_RESULT_CODE_SUCCESS &&
                      resp->output.gpa_page == gva >> 12,
                  "CPU %u: TRANSLATE_GVA 0x%llx: rc %d status 0x%x result %u page 0x%llx", cpu,
                  (unsigned long long)gva, rc, resp->status, code, (unsigned long long)resp->output.gpa_page);
        else
            CHECK(rc == 0 && !cp->has_error && resp->status == 0 && code == SIDECAR_TRANSLATE_GVA_RESULT_CODE_GPA_UNMAPPED,
                  "CPU %u: TRANSLATE_GVA 0x%llx (outside guest RAM): rc %d status 0x%x result %u", cpu,
                  (unsigned long long)gva, rc, resp->status, code);
    }

    /* RUN_VP, synchronous, to an IO intercept: RAX comes from cpu_context
     * and goes back there; the message names this VP. */
    cp->cpu_context.gps[0] = 0x1000 + cpu;
    cp->command = SIDECAR_COMMAND_RUN_VP;
    cp->request_data[0] = 0xff;
    rc = run_sync(n, cpu);
    const struct sidecar_hv_x64_io_port_intercept_message *io_msg = (const void *)cp->intercept_message.payload;
    CHECK(rc == 0 && !cp->has_error && cp->request_data[0] == 1 &&
              cp->intercept_message.header.message_type == SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT &&
              io_msg->port_number == 0x80 && io_msg->header.vp_index == cpu && io_msg->rax == 0x1001ull + cpu &&
              cp->cpu_context.gps[0] == 0x1001ull + cpu,
          "CPU %u: RUN_VP to OUT 0x80: rc %d has_error %u intercept %u type 0x%x port 0x%x vp_index %u rax 0x%llx "
          "context rax 0x%llx",
          cpu, rc, cp->has_error, cp->request_data[0], cp->intercept_message.header.message_type, io_msg->port_number,
          io_msg->header.vp_index, (unsigned long long)io_msg->rax, (unsigned long long)cp->cpu_context.gps[0]);

    /* START of a guest loop: not readable while it runs; STOP (twice: it
     * is idempotent) ends it stopped; the end is read once. */
    set[0] = rip_loop;
    set_regs(n, cpu, names, set, 1);
    cp->command = SIDECAR_COMMAND_RUN_VP;
    cp->request_data[0] = 0xff;
    rc = io(n->fd, MSHV_VTL_SIDECAR_START, cpu);
    CHECK(rc == 0, "CPU %u: START of RUN_VP: %d", cpu, rc);
    uint32_t dummy;
    struct epoll_event ev;
    CHECK(!readable(n) && read(n->fd, &dummy, 4) < 0 && errno == EAGAIN && epoll_wait(n->ep, &ev, 1, 0) == 0,
          "CPU %u: the device is readable while the guest loop runs", cpu);
    rc = io(n->fd, MSHV_VTL_SIDECAR_RUN, cpu);
    CHECK(rc == -EBUSY, "CPU %u: RUN while a START runs: %d, not EBUSY", cpu, rc);
    CHECK(io(n->fd, MSHV_VTL_SIDECAR_STOP, cpu) == 0 && io(n->fd, MSHV_VTL_SIDECAR_STOP, cpu) == 0,
          "CPU %u: STOP, STOP again", cpu);
    unsigned before = n->ends_seen[cpu - n->info.base_cpu];
    wait_ends(n, 1);
    CHECK(n->ends_seen[cpu - n->info.base_cpu] == before + 1 && !readable(n),
          "CPU %u: the stopped run's end: reported %u times, readable after %d", cpu,
          n->ends_seen[cpu - n->info.base_cpu] - before, readable(n));
    CHECK(!cp->has_error && cp->request_data[0] == 0, "CPU %u: the stopped run: has_error %u intercept %u", cpu,
          cp->has_error, cp->request_data[0]);
    rc = io(n->fd, MSHV_VTL_SIDECAR_STOP, cpu);
    CHECK(rc == -EINVAL, "CPU %u: STOP after the end was read: %d, not EINVAL", cpu, rc);

    /* STOP semantics: START + STOP at once, alternately of the loop and of
     * a GET of the VP index; whether the STOP came before the command was
     * taken or not, the command is executed and its answer is fresh. */
    for (unsigned i = 0; i < PAIRS; i++) {
        bool run = (i & 1) == 0;
        cp->has_error = 1;
        cp->error.len = 7;
        struct sidecar_get_set_vp_registers_request *r = NULL;
        if (run) {
            cp->command = SIDECAR_COMMAND_RUN_VP;
            cp->request_data[0] = 0xff;
        } else {
            r = regs_request(cp, SIDECAR_COMMAND_GET_VP_REGISTERS, 1);
            r->status = 0xffff;
            r->regs[0].name = N_VP;
            r->regs[0].value.low = 0xdeadbeefull;
        }
        if (!start_stop(n, cpu, true))
            break;
        pairs_done++;
        bool fresh = !cp->has_error && cp->command == SIDECAR_COMMAND_NONE &&
                     (run ? cp->request_data[0] == 0
                          : r->status == SIDECAR_HV_STATUS_SUCCESS && r->regs[0].value.low == cpu);
        if (!fresh) {
            stale++;
            fail(__LINE__, "CPU %u pair %u (%s): stale answer: has_error %u command %u answer %u status 0x%x", cpu, i,
                 run ? "RUN_VP" : "GET", cp->has_error, cp->command, cp->request_data[0], r ? r->status : 0);
        }
    }
}

/* ---- per node: many ends at once, level-triggered poll ---------------- */

static void node_ends(struct node *n, const uint32_t *vp, unsigned nvp)
{
    /* Edge-triggered: every VP runs the loop, then every one is stopped;
     * each end is read exactly once. */
    unsigned started = 0;
    unsigned before[OPENHCL_NODE_MAX];
    memcpy(before, n->ends_seen, sizeof(before));
    for (unsigned i = 0; i < nvp; i++) {
        struct sidecar_command_page *cp = page(n, vp[i]);
        cp->command = SIDECAR_COMMAND_RUN_VP;
        started += io(n->fd, MSHV_VTL_SIDECAR_START, vp[i]) == 0;
    }
    for (unsigned i = 0; i < nvp; i++)
        io(n->fd, MSHV_VTL_SIDECAR_STOP, vp[i]);
    unsigned got = wait_ends(n, started);
    et_ends += got;
    for (unsigned i = 0; i < nvp; i++) {
        unsigned k = n->ends_seen[vp[i] - n->info.base_cpu] - before[vp[i] - n->info.base_cpu];
        et_lost += k == 0;
        et_dup += k > 1;
    }
    struct epoll_event ev;
    NOTE(started == nvp && got == nvp && !readable(n) && epoll_wait(n->ep, &ev, 1, 0) == 0,
         "node at CPU %u: %u STARTs stopped at once, %u ends read through EPOLLET, then nothing readable",
         n->info.base_cpu, started, got);

    /* Level-triggered: START on one VP with synchronous RUNs on another
     * beside; every POLLIN is followed by a read that returns the CPU. */
    if (nvp < 2)
        return;
    uint32_t a = vp[0], b = vp[1];
    unsigned spurious = 0, ended = 0;
    struct pollfd p = { .fd = n->fd, .events = POLLIN };
    for (unsigned i = 0; i < LT_ROUNDS && spurious < 50; i++) {
        page(n, a)->command = SIDECAR_COMMAND_NONE;
        if (io(n->fd, MSHV_VTL_SIDECAR_START, a) != 0)
            break;
        page(n, b)->command = SIDECAR_COMMAND_NONE;
        (void)io(n->fd, MSHV_VTL_SIDECAR_RUN, b);
        for (;;) {
            p.revents = 0;
            if (poll(&p, 1, WAIT_MS) != 1)
                goto out;
            uint32_t cpu;
            if (read(n->fd, &cpu, 4) == 4) {
                ended += cpu == a;
                n->ends_seen[cpu - n->info.base_cpu]++;
                break;
            }
            spurious++;
        }
    }
out:
    spurious += readable(n);
    lt_spurious += spurious;
    lt_ends += ended;
    NOTE(spurious == 0 && ended == LT_ROUNDS,
         "node at CPU %u: level-triggered poll: %u of %u ends, %u spurious wake-ups (sync RUNs beside)",
         n->info.base_cpu, ended, LT_ROUNDS, spurious);
}

/* ---- boot times (OpenHCL: reftime_sidecar_start/_end) ----------------- */

static unsigned long long sysfs_u64(const char *name, bool *ok)
{
    char path[128];
    unsigned long long v = 0;
    snprintf(path, sizeof(path), "/sys/module/sidecar/boot_times/%s", name);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%llu", &v) != 1)
        *ok = false;
    if (f)
        fclose(f);
    return v;
}

static unsigned long long boot_times(void)
{
    bool ok = true;
    unsigned long long shim = sysfs_u64("shim_entry_tsc", &ok), start = sysfs_u64("sidecar_start_tsc", &ok),
                       end = sysfs_u64("sidecar_end_tsc", &ok), us = sysfs_u64("sidecar_us", &ok);
    unsigned long long now = __builtin_ia32_rdtsc();
    NOTE(ok && shim && shim <= start && start < end && end < now && us > 0,
         "boot times: shim entry %llu <= sidecar start %llu < end %llu < now %llu (TSC), bring-up %llu us", shim, start,
         end, now, us);
    return us;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        verbose |= !strcmp(argv[i], "-v");
    read_linux_cpus();

    /* sidecar_client::new: open every node's device until ENOENT. */
    for (;;) {
        char path[64];
        snprintf(path, sizeof(path), SIDECAR_DRV_DEVICE_PREFIX "%u", node_count);
        int fd = open(path, O_RDWR | O_NONBLOCK);
        if (fd < 0) {
            NOTE(errno == ENOENT && node_count > 0, "open %s: %s after %u nodes", path, strerror(errno), node_count);
            break;
        }
        if (node_count == MAX_NODES) {
            fail(__LINE__, "more than %u nodes", MAX_NODES);
            break;
        }
        struct node *n = &nodes[node_count++];
        n->fd = fd;
        int rc = io(fd, MSHV_VTL_SIDECAR_INFO, (unsigned long)&n->info);
        NOTE(rc == 0 && n->info.per_cpu_shmem == SIDECAR_CPU_SHARED_PAGES * SIDECAR_PAGE_SIZE && n->info.cpu_count > 0 &&
                 n->info.cpu_count <= OPENHCL_NODE_MAX,
             "%s: INFO base_cpu %u cpu_count %u per_cpu_shmem %u", path, n->info.base_cpu, n->info.cpu_count,
             n->info.per_cpu_shmem);
        if (rc || n->info.per_cpu_shmem < 8192 || n->info.cpu_count > OPENHCL_NODE_MAX)
            return 1;
        size_t len = (size_t)n->info.cpu_count * n->info.per_cpu_shmem;
        n->pages = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        NOTE(n->pages != MAP_FAILED, "%s: mmap of %zu bytes at offset 0", path, len);
        if (n->pages == MAP_FAILED)
            return 1;
        /* sidecar_client polls with pal_async's epoll: edge-triggered, with
         * this interest set. */
        n->ep = epoll_create1(0);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET };
        if (n->ep < 0 || epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            return fail(__LINE__, "epoll: %s", strerror(errno)), 1;
    }
    if (!node_count)
        return 1;

    /* What a VMM knows without the driver: guest RAM and the VP backend. */
    struct sidecar_drv_node_info ni;
    const struct sidecar_output *out = mmap(NULL, sizeof(*out), PROT_READ, MAP_SHARED, nodes[0].fd,
                                            (off_t)SIDECAR_DRV_MMAP_OUTPUT);
    params = mmap(NULL, sizeof(*params), PROT_READ, MAP_SHARED, nodes[0].fd, (off_t)SIDECAR_DRV_MMAP_PARAMS);
    if (out == MAP_FAILED || params == MAP_FAILED || io(nodes[0].fd, SIDECAR_DRV_NODE_INFO, (unsigned long)&ni))
        return fail(__LINE__, "output, params or NODE_INFO: %s", strerror(errno)), 1;
    svm = out->vp_backend == SIDECAR_VP_BACKEND_SVM;
    ram_base = ni.guest_ram_base;
    ram_size = ni.guest_ram_size;
    NOTE(ram_size >= 0x10000 && load_guest(nodes[0].fd), "backend %s, guest RAM 0x%llx+0x%llx", svm ? "svm" : "ring3",
         (unsigned long long)ram_base, (unsigned long long)ram_size);

    /* The layout: nodes tile the VPs from 0; a node's base VP is an online
     * Linux CPU; a node is one NUMA node. */
    uint32_t expected = 0;
    unsigned tiled = 1, bases_online = 0;
    for (unsigned i = 0; i < node_count; i++) {
        struct node *n = &nodes[i];
        uint32_t b = n->info.base_cpu, c = n->info.cpu_count;
        tiled &= b == expected;
        expected = b + c;
        bool online = b < MAX_LINUX_CPUS && linux_online[b];
        bases_online += online;
        bool one_numa = b + c <= params->cpu_count;
        for (uint32_t k = b; one_numa && k < b + c; k++)
            one_numa = params->cpus[k].numa_node == params->cpus[b].numa_node;
        NOTE(online && one_numa, "node %u: CPUs %u-%u, base CPU %u online in Linux: %d, one NUMA node: %d", i, b,
             b + c - 1, b, online, one_numa);
    }
    NOTE(tiled, "the nodes tile CPUs 0-%u", expected - 1);

    /* Numbering: every online Linux CPU N has VP N's APIC ID. */
    for (unsigned c = 0; c < MAX_LINUX_CPUS && c < params->cpu_count; c++) {
        if (!linux_online[c])
            continue;
        numbering_of++;
        bool same = linux_apic[c] >= 0 && (uint32_t)linux_apic[c] == params->cpus[c].apic_id;
        numbering_same += same;
        CHECK(same, "Linux CPU %u has APIC ID %d, VP %u has %u", c, linux_apic[c], c, params->cpus[c].apic_id);
    }

    /* Every VP of every node: Linux's (ENOENT) or a sidecar VP. */
    for (unsigned i = 0; i < node_count; i++) {
        struct node *n = &nodes[i];
        uint32_t vp[OPENHCL_NODE_MAX], nvp = 0;
        for (uint32_t cpu = n->info.base_cpu; cpu < n->info.base_cpu + n->info.cpu_count; cpu++) {
            if (cpu < MAX_LINUX_CPUS && linux_online[cpu]) {
                linux_in_nodes++;
                page(n, cpu)->command = SIDECAR_COMMAND_NONE;
                int rc = io(n->fd, MSHV_VTL_SIDECAR_RUN, cpu);
                CHECK(rc == -ENOENT, "CPU %u is Linux's: RUN gives %d, not ENOENT", cpu, rc);
                continue;
            }
            struct sidecar_drv_cpu_info ci = { .cpu = cpu };
            numbering_of++;
            bool same = io(n->fd, SIDECAR_DRV_CPU_INFO, (unsigned long)&ci) == 0 && ci.linux_cpu == (int)cpu;
            numbering_same += same;
            CHECK(same, "sidecar CPU %u is Linux CPU %d", cpu, ci.linux_cpu);
            if (verbose)
                printf("sidecar-conform: VP %u (APIC ID %u)\n", cpu, ci.apic_id);
            vp_checks(n, cpu);
            vp[nvp++] = cpu;
        }
        if (nvp)
            node_ends(n, vp, nvp);
    }

    unsigned long long us = boot_times();
    printf("sidecar-conform: nodes=%u tiled=%u bases_online=%u vps=%u linux_in_nodes=%u numbering=%u/%u "
           "stop_pairs=%u stale=%u et_ends=%u et_lost=%u et_dup=%u lt_ends=%u lt_spurious=%u backend=%s "
           "bringup_us=%llu failures=%d %s\n",
           node_count, tiled, bases_online, vps, linux_in_nodes, numbering_same, numbering_of, pairs_done, stale,
           et_ends, et_lost, et_dup, lt_ends, lt_spurious, svm ? "svm" : "ring3", us, failures,
           failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
