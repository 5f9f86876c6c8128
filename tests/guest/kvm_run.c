/* SPDX-License-Identifier: MIT */
/* The guest firmware on many VPs at once, with a VMM: a minimal Linux KVM
 * runner standing in for the sidecar VP backend until that exists. It
 * builds the sidecar VM's GPA map (guest RAM at 0, the last 2 MiB of RAM
 * aliased at 0xffe00000, the image in RAM's last FW_IMAGE_SIZE bytes),
 * starts every vCPU in the reset state at the same reset vector, answers
 * the firmware's ports (firmware_ports.h), emulates COM1 with vmm/uart.h,
 * injects FW_IRQ_VECTOR whenever a VP halts, and checks every VP's events
 * and the shared counter (N * K). Bounded: a VP that takes more than
 * MAX_EXITS exits fails; nothing sleeps. Exit 77 (skipped) where KVM
 * cannot be used.
 *
 *   kvm_run IMAGE [VPS [ITERATIONS [WAKES]]] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmm/uart.h>

#include "firmware_ports.h"

#define SKIP 77
#define RAM_SIZE (64u << 20)
#define ALIAS_GPA 0xffe00000u
#define ALIAS_SIZE (2u << 20)
#define MAX_VPS 64
#define MAX_EVENTS 4096
#define MAX_EXITS 200000

static int kvm, vm;
static uint8_t *ram;
static unsigned vps, iterations, wakes;
static struct kvm_cpuid2 *cpuid;
static struct vmm_uart uart;
static pthread_mutex_t uart_lock = PTHREAD_MUTEX_INITIALIZER;

struct vp {
    unsigned index;
    int fd;
    struct kvm_run *run;
    uint32_t events[MAX_EVENTS];
    unsigned nevents;
    unsigned exits, halts, injected;
    char failure[256];
    pthread_t thread;
};
static struct vp vp[MAX_VPS];

static void sink(void *ctx, uint8_t byte)
{
    (void)ctx;
    fputc(byte, stdout);
}

static uint32_t port_in(struct vp *v, uint16_t port, uint8_t size)
{
    if (size == 4 && port == FW_PORT_INDEX)
        return v->index;
    if (size == 4 && port == FW_PORT_ITERATIONS)
        return iterations;
    if (size == 4 && port == FW_PORT_WAKES)
        return wakes;
    if (size == 4 && port == FW_PORT_CONTROL)
        return 0;
    uint32_t d = 0xffffffffu;
    pthread_mutex_lock(&uart_lock);
    int rc = vmm_uart_io(&uart, port, size, false, &d);
    pthread_mutex_unlock(&uart_lock);
    if (rc != VMM_OK)
        d = 0xffffffffu;
    return size == 4 ? d : d & ((1u << (8 * size)) - 1);
}

/* false: the VP is done (or failed). */
static bool port_out(struct vp *v, uint16_t port, uint8_t size, uint32_t d)
{
    if (port == FW_PORT_EVENT && size == 4) {
        if (v->nevents < MAX_EVENTS)
            v->events[v->nevents++] = d;
        uint32_t code = FW_EV_CODE(d);
        if (code == FW_EV_DONE)
            return false;
        if (code == FW_EV_ERROR || code == FW_EV_EXCEPTION) {
            snprintf(v->failure, sizeof(v->failure), "event 0x%x argument 0x%x", code, FW_EV_ARG(d));
            return false;
        }
        return true;
    }
    if (port == FW_PORT_QEMU_EXIT) {
        snprintf(v->failure, sizeof(v->failure), "wrote isa-debug-exit although a VMM answered");
        return false;
    }
    pthread_mutex_lock(&uart_lock);
    vmm_uart_io(&uart, port, size, true, &d);
    pthread_mutex_unlock(&uart_lock);
    return true;
}

static void *vp_main(void *arg)
{
    struct vp *v = arg;
    bool pending = false;
    for (v->exits = 0; v->exits < MAX_EXITS; v->exits++) {
        struct kvm_run *r = v->run;
        if (pending && r->ready_for_interrupt_injection && r->if_flag) {
            struct kvm_interrupt irq = { .irq = FW_IRQ_VECTOR };
            if (ioctl(v->fd, KVM_INTERRUPT, &irq) < 0) {
                snprintf(v->failure, sizeof(v->failure), "KVM_INTERRUPT: %s", strerror(errno));
                return NULL;
            }
            pending = false;
            v->injected++;
        }
        r->request_interrupt_window = pending;
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            snprintf(v->failure, sizeof(v->failure), "KVM_RUN: %s", strerror(errno));
            return NULL;
        }
        switch (r->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)r + r->io.data_offset;
            for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
                if (r->io.direction == KVM_EXIT_IO_IN) {
                    uint32_t d = port_in(v, r->io.port, r->io.size);
                    memcpy(data, &d, r->io.size);
                } else {
                    uint32_t d = 0;
                    memcpy(&d, data, r->io.size);
                    if (!port_out(v, r->io.port, r->io.size, d))
                        return NULL;
                }
            }
            break;
        }
        case KVM_EXIT_HLT:             /* the VP sleeps until we inject */
            v->halts++;
            pending = true;
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            break;
        default:
            snprintf(v->failure, sizeof(v->failure), "unexpected exit %u (hardware reason 0x%llx)", r->exit_reason,
                     (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
            return NULL;
        }
    }
    snprintf(v->failure, sizeof(v->failure), "more than %u exits", MAX_EXITS);
    return NULL;
}

static int setup_vm(const char *image)
{
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        printf("SKIP: /dev/kvm: %s\n", strerror(errno));
        return SKIP;
    }
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) {
        printf("SKIP: KVM_CREATE_VM: %s\n", strerror(errno));
        return SKIP;
    }
    ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);   /* VMX real mode needs it; harmless elsewhere */
    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        return 1;
    int fd = open(image, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || st.st_size != FW_IMAGE_SIZE ||
        read(fd, ram + RAM_SIZE - FW_IMAGE_SIZE, FW_IMAGE_SIZE) != FW_IMAGE_SIZE) {
        printf("FAIL: %s: not a %u-byte image\n", image, FW_IMAGE_SIZE);
        return 1;
    }
    close(fd);
    struct kvm_userspace_memory_region slots[] = {
        { .slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE, .userspace_addr = (uintptr_t)ram },
        { .slot = 1, .guest_phys_addr = ALIAS_GPA, .memory_size = ALIAS_SIZE,
          .userspace_addr = (uintptr_t)(ram + RAM_SIZE - ALIAS_SIZE) },
    };
    for (unsigned i = 0; i < 2; i++)
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slots[i]) < 0) {
            printf("SKIP: KVM_SET_USER_MEMORY_REGION: %s\n", strerror(errno));
            return SKIP;
        }
    cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 256;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
        printf("SKIP: KVM_GET_SUPPORTED_CPUID: %s\n", strerror(errno));
        return SKIP;
    }
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    for (unsigned i = 0; i < vps; i++) {
        vp[i].index = i;
        vp[i].fd = ioctl(vm, KVM_CREATE_VCPU, i);
        if (vp[i].fd < 0 || ioctl(vp[i].fd, KVM_SET_CPUID2, cpuid) < 0) {
            printf("SKIP: vCPU %u: %s\n", i, strerror(errno));
            return SKIP;
        }
        vp[i].run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vp[i].fd, 0);
        if (vp[i].run == MAP_FAILED)
            return 1;
    }
    return 0;
}

/* The events a VP must report, in this order (FW_EV_WAITING aside). */
static int check_vp(const struct vp *v, uint64_t *counter_max)
{
    uint32_t want[8 + 2 * FW_MAX_WAKES];
    unsigned n = 0, waiting = 0;
    want[n++] = FW_EV_STARTED | v->index << FW_EV_ARG_SHIFT;
    want[n++] = FW_EV_LONG_MODE | v->index << FW_EV_ARG_SHIFT;
    want[n++] = FW_EV_PF_HANDLED | (FW_PF_GVA >> 12) << FW_EV_ARG_SHIFT;
    want[n++] = FW_EV_COUNTER_DONE;   /* argument checked below */
    for (unsigned w = 1; w <= wakes; w++) {
        want[n++] = FW_EV_INTERRUPT | (FW_IRQ_VECTOR | w << 8) << FW_EV_ARG_SHIFT;
        want[n++] = FW_EV_WOKE | w << FW_EV_ARG_SHIFT;
    }
    want[n++] = FW_EV_DONE | wakes << FW_EV_ARG_SHIFT;
    unsigned k = 0;
    for (unsigned i = 0; i < v->nevents; i++) {
        uint32_t e = v->events[i];
        if (FW_EV_CODE(e) == FW_EV_WAITING) {
            waiting++;
            continue;
        }
        if (k >= n) {
            printf("FAIL: VP %u: event %u: 0x%08x after the last expected one\n", v->index, i, e);
            return 1;
        }
        if (FW_EV_CODE(want[k]) == FW_EV_COUNTER_DONE && FW_EV_CODE(e) == FW_EV_COUNTER_DONE) {
            uint32_t c = FW_EV_ARG(e);
            if (c < iterations || c > vps * iterations) {
                printf("FAIL: VP %u: counter %u after its own %u increments, outside [K, N*K]\n", v->index, c,
                       iterations);
                return 1;
            }
            if (c > *counter_max)
                *counter_max = c;
        } else if (e != want[k]) {
            printf("FAIL: VP %u: event %u: 0x%08x, expected 0x%08x\n", v->index, i, e, want[k]);
            return 1;
        }
        k++;
    }
    if (k != n) {
        printf("FAIL: VP %u: %u of %u expected events\n", v->index, k, n);
        return 1;
    }
    if (waiting < wakes || v->injected != wakes) {
        printf("FAIL: VP %u: %u WAITING events, %u interrupts injected, %u wakes expected\n", v->index, waiting,
               v->injected, wakes);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s IMAGE [VPS [ITERATIONS [WAKES]]]\n", argv[0]);
        return 2;
    }
    vps = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
    iterations = argc > 3 ? (unsigned)atoi(argv[3]) : FW_DEFAULT_ITERATIONS;
    wakes = argc > 4 ? (unsigned)atoi(argv[4]) : FW_DEFAULT_WAKES;
    if (vps < 1 || vps > MAX_VPS || iterations < 1 || iterations > FW_MAX_ITERATIONS || wakes > 16) {
        fprintf(stderr, "VPS 1..%d, ITERATIONS 1..%u, WAKES 0..16\n", MAX_VPS, FW_MAX_ITERATIONS);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int rc = setup_vm(argv[1]);
    if (rc)
        return rc;
    vmm_uart_init(&uart, FW_PORT_SERIAL, sink, NULL);
    printf("%u VPs, K = %u, W = %u\n", vps, iterations, wakes);
    for (unsigned i = 0; i < vps; i++)
        pthread_create(&vp[i].thread, NULL, vp_main, &vp[i]);
    for (unsigned i = 0; i < vps; i++)
        pthread_join(vp[i].thread, NULL);

    int bad = 0;
    uint64_t counter_max = 0, counter;
    for (unsigned i = 0; i < vps; i++) {
        if (vp[i].failure[0]) {
            printf("FAIL: VP %u: %s (%u events, %u exits)\n", i, vp[i].failure, vp[i].nevents, vp[i].exits);
            bad = 1;
            continue;
        }
        bad |= check_vp(&vp[i], &counter_max);
    }
    memcpy(&counter, ram + FW_COUNTER_GPA, 8);
    if (!bad && (counter != (uint64_t)vps * iterations || counter_max != counter)) {
        printf("FAIL: counter %llu in memory, %llu reported, expected N * K = %u\n", (unsigned long long)counter,
               (unsigned long long)counter_max, vps * iterations);
        bad = 1;
    }
    if (!bad && uart.tx_count == 0) {
        printf("FAIL: nothing on COM1\n");
        bad = 1;
    }
    if (!bad)
        printf("ok: %u VPs, each its index, long mode, its page fault, %u wakes and done; counter %llu = N * K; "
               "%llu bytes on COM1\n", vps, wakes, (unsigned long long)counter, (unsigned long long)uart.tx_count);
    return bad;
}
