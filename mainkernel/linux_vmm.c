/* SPDX-License-Identifier: MIT */
/* A Linux kernel as a guest on one sidecar VP (linux_vmm.h; the svm
 * backend): the VMM side, shared by the bare-metal main kernel
 * (mk.linux_guest, scenarios/linux_guest.c) and Linux user space
 * (driver/progs: sidecar-linux-guest over sidecar.ko). It takes the bzImage
 * (and an initramfs, optional) through mk_fwcfg (QEMU's fw_cfg in the main
 * kernel, -fw_cfg name=opt/sidecar/guest-kernel,file=... and
 * .../guest-initrd; files in user space), loads it
 * into guest RAM by the Linux x86 64-bit boot protocol (vmm/linux.h), sets
 * the entry state, and runs the VP, emulating a 16550 on COM1 (the guest's
 * console, printed here as "linux: " lines), answering CPUID (SVM,
 * MONITOR and VMX hidden, the hypervisor bit set) and MSRs (reads 0,
 * writes ignored), all-ones for other IO ports and MMIO reads. There is no
 * timer and no interrupt controller: the kernel gets as far as it can
 * without them. The run ends when the guest panics, triple-faults, stays
 * quiet (halted) for a while, or after a bound. */
#include <scfree/scfree.h>
#include <sidecar/abi.h>
#include <sidecar/vp.h>
#include <vmm/linux.h>
#include <vmm/uart.h>

#include "arch/x86_64/fwcfg.h"
#include "linux_vmm.h"
#include "report.h"
#include "svm_vmm.h"

#define N(x) SIDECAR_HV_REGISTER_NAME_##x
#define COM1 0x3f8u
#define MIB (1ull << 20)
#define QUIET_NS 30000000000ul           /* a run with no intercept this long: the guest idles */
#define MAX_INTERCEPTS 4000000u
#define CMDLINE "console=ttyS0 earlyprintk=serial,ttyS0,115200 nolapic noapic acpi=off " \
                "tsc_early_khz=%lu lpj=1000000 panic=-1"

static struct mk_linux_guest_result res;

static char line[320];
static uint32_t line_len;

static bool starts(const char *s, const char *p)
{
    while (*p && *s == *p)
        s++, p++;
    return !*p;
}

static bool contains(const char *s, const char *p)
{
    for (; *s; s++)
        if (starts(s, p))
            return true;
    return false;
}

static void console_byte(void *ctx, uint8_t b)
{
    (void)ctx;
    if (b == '\r')
        return;
    if (b != '\n' && line_len + 1 < sizeof(line)) {
        line[line_len++] = (char)b;
        return;
    }
    line[line_len] = 0;
    mk_out("linux: %s\n", line);
    res.lines++;
    /* The early printk lines carry a "[    0.000000] " time stamp. */
    res.banner |= contains(line, "Linux version ");
    res.cmdline |= contains(line, "Command line: ");
    res.e820 |= contains(line, "BIOS-e820: [mem ");
    uint32_t n = line_len < sizeof(res.last) - 1 ? line_len : (uint32_t)sizeof(res.last) - 1;
    for (uint32_t i = 0; i < n; i++)
        res.last[i] = line[i] == '"' || line[i] == '\\' ? '\'' : line[i];
    res.last[n] = 0;
    line_len = 0;
}

static struct vmm_uart uart;

static bool failf(const char *what, int rc)
{
    sc_snprintf(res.error, sizeof(res.error), "%s (%d)", what, rc);
    return false;
}

/* CPUID as the guest should see it. */
static void cpuid_answer(uint32_t leaf, uint32_t r[4])
{
    if (leaf == 1) {
        r[2] &= ~((1u << 3) | (1u << 5));   /* MONITOR/MWAIT (#UD here), VMX */
        r[2] |= 1u << 31;                   /* a hypervisor is present */
    } else if (leaf == 0x80000001u) {
        r[2] &= ~(1u << 2);                 /* SVM: not for the guest */
    } else if (leaf >= 0x40000000u && leaf <= 0x400000ffu) {
        r[0] = r[1] = r[2] = r[3] = 0;      /* no hypervisor interface */
    } else if (leaf == 0x8000000au) {
        r[0] = r[1] = r[2] = r[3] = 0;
    }
}

static bool set_rax_rdx(struct sidecar_host *h, uint32_t cpu, uint64_t rax, uint64_t rdx)
{
    struct sidecar_hv_register_assoc r[2] = {
        { .name = N(RAX), .value = { rax, 0 } },
        { .name = N(RDX), .value = { rdx, 0 } },
    };
    return sidecar_host_set_registers(h, cpu, 0, r, 2, MK_SVM_TIMEOUT_NS, NULL) == 0;
}

/* One intercept: answered, RIP moved; false to end the run. */
static bool handle(struct sidecar_host *h, uint32_t cpu)
{
    uint32_t type = 0;
    sidecar_host_intercept_type(h, cpu, &type);
    res.intercepts++;
    switch (type) {
    case SIDECAR_HV_MESSAGE_TYPE_X64_IO_PORT_INTERCEPT: {
        struct sidecar_hv_x64_io_port_intercept_message m;
        sidecar_host_intercept_io_port(h, cpu, &m);
        res.io++;
        bool write = m.header.intercept_access_type == SIDECAR_INTERCEPT_ACCESS_WRITE;
        unsigned size = m.access_info & 7u;
        if (m.access_info & 0x18u)
            return failf("string IO (not emulated)", m.port_number);
        uint32_t data = (uint32_t)m.rax;
        if (vmm_uart_io(&uart, m.port_number, (uint8_t)size, write, &data) != 0)
            data = 0xffffffffu;            /* nothing there */
        if (!write && mk_svm_set(h, cpu, N(RAX), mk_in_result(m.rax, size, data)))
            return failf("answer IN", m.port_number);
        return mk_svm_skip(h, cpu, &m.header) == 0;
    }
    case SIDECAR_HV_MESSAGE_TYPE_X64_CPUID_INTERCEPT: {
        struct sidecar_hv_x64_cpuid_intercept_message m;
        sidecar_host_intercept_cpuid(h, cpu, &m);
        res.cpuid++;
        uint32_t r[4] = { (uint32_t)m.default_result_rax, (uint32_t)m.default_result_rbx,
                          (uint32_t)m.default_result_rcx, (uint32_t)m.default_result_rdx };
        cpuid_answer((uint32_t)m.rax, r);
        struct sidecar_hv_register_assoc regs[4] = {
            { .name = N(RAX), .value = { r[0], 0 } }, { .name = N(RBX), .value = { r[1], 0 } },
            { .name = N(RCX), .value = { r[2], 0 } }, { .name = N(RDX), .value = { r[3], 0 } },
        };
        return sidecar_host_set_registers(h, cpu, 0, regs, 4, MK_SVM_TIMEOUT_NS, NULL) == 0 &&
               mk_svm_skip(h, cpu, &m.header) == 0;
    }
    case SIDECAR_HV_MESSAGE_TYPE_MSR_INTERCEPT: {
        struct sidecar_hv_x64_msr_intercept_message m;
        sidecar_host_intercept_msr(h, cpu, &m);
        res.msr++;
        /* As a hypervisor that ignores unknown MSRs: reads 0, writes dropped
         * (the APIC base says "BSP, enabled at the usual address"). */
        if (m.header.intercept_access_type != SIDECAR_INTERCEPT_ACCESS_WRITE) {
            uint64_t v = m.msr_number == 0x1bu ? 0xfee00900ull : 0;
            if (!set_rax_rdx(h, cpu, (uint32_t)v, v >> 32))
                return failf("answer RDMSR", (int)m.msr_number);
        }
        return mk_svm_skip(h, cpu, &m.header) == 0;
    }
    case SIDECAR_HV_MESSAGE_TYPE_UNMAPPED_GPA: {
        struct sidecar_hv_x64_memory_intercept_message m;
        sidecar_host_intercept_memory(h, cpu, &m);
        res.mmio++;
        struct sk_insn insn;
        uint32_t len = sidecar_host_instruction_length(&m.header);
        if (!len || sk_insn_decode_mode(m.instruction_bytes, m.instruction_byte_count, SK_INSN_MODE_64, &insn) ==
                        SK_INSN_INVALID)
            return failf("MMIO by an instruction the VMM cannot decode", (int)(m.guest_physical_address >> 12));
        if (m.header.intercept_access_type == SIDECAR_INTERCEPT_ACCESS_READ && insn.kind == SK_INSN_MOV &&
            !(insn.flags & SK_INSN_F_WRITE)) {
            /* MOV reg, [mmio]: nothing there reads as all ones. */
            uint64_t ones = insn.size >= 8 ? ~0ull : (1ull << (8 * insn.size)) - 1;
            if (mk_svm_set(h, cpu, N(RAX) + insn.reg, ones))
                return failf("answer an MMIO read", 0);
        }
        return mk_svm_set(h, cpu, N(RIP), m.header.rip + len) == 0;
    }
    case SIDECAR_HV_MESSAGE_TYPE_UNRECOVERABLE_EXCEPTION:
        sc_snprintf(res.end, sizeof(res.end), "triple fault");
        return false;
    default:
        return failf("an intercept this VMM does not handle", (int)type);
    }
}

static bool boot(struct sidecar_host *h, const struct sidecar_params *p, uint64_t tsc_khz, uint32_t cpu)
{
    struct mk_fwcfg_file kf, rf;
    if (!mk_fwcfg_find("opt/sidecar/guest-kernel", &kf))
        return failf("no guest kernel: give QEMU -fw_cfg name=opt/sidecar/guest-kernel,file=bzImage", 0);
    bool initrd = mk_fwcfg_find("opt/sidecar/guest-initrd", &rf);
    uint64_t ram_size = p->guest_ram_size;
    uint8_t *ram = (uint8_t *)(uintptr_t)p->guest_ram_base;
    /* The files go in the top of guest RAM (below the reset alias's 2 MiB),
     * kept out of the guest's e820 map; the loader copies from there. */
    uint64_t kpad = (kf.size + MIB - 1) & ~(MIB - 1), rpad = initrd ? (rf.size + MIB - 1) & ~(MIB - 1) : 0;
    if (ram_size < kpad + rpad + 64 * MIB)
        return failf("guest RAM too small for the kernel (sidecar.guest_ram=)", (int)(ram_size >> 20));
    uint64_t kgpa = ram_size - 2 * MIB - kpad, rgpa = kgpa - rpad;
    if (!mk_fwcfg_read(&kf, p->guest_ram_base + kgpa, kf.size) ||
        (initrd && !mk_fwcfg_read(&rf, p->guest_ram_base + rgpa, rf.size)))
        return failf("fw_cfg read failed", 0);
    res.kernel_size = kf.size;
    res.initrd_size = initrd ? rf.size : 0;
    char cmdline[200];
    sc_snprintf(cmdline, sizeof(cmdline), CMDLINE, tsc_khz);
    const struct vmm_range reserved[] = {
        { 0x9f000, 0x61000 },                          /* the legacy hole */
        { rgpa, ram_size - rgpa },                     /* the files and the reset alias */
    };
    struct vmm_linux_config cfg = {
        .kernel = ram + kgpa, .kernel_size = kf.size,
        .initrd = initrd ? ram + rgpa : NULL, .initrd_size = initrd ? rf.size : 0,
        .cmdline = cmdline, .reserved = reserved, .reserved_count = 2,
    };
    static struct vmm_linux_boot b;
    char err[VMM_ERR_SIZE];
    if (vmm_linux_load(ram, ram_size, &cfg, &b, err)) {
        sc_snprintf(res.error, sizeof(res.error), "the Linux loader: %s", err);
        return false;
    }
    mk_out("main: linux guest: %u-byte bzImage%s, kernel at GPA %lx, boot_params at %lx, on cpu %u\n",
           kf.size, initrd ? " and an initramfs" : "", b.kernel_gpa, b.boot_params_gpa, cpu);
    /* The 64-bit entry state (paging first: PAE, CR3, EFER.LME, then PG). */
    const struct vmm_x64_entry_state *s = &b.regs;
    struct sidecar_hv_register_assoc r[20];
    unsigned k = 0;
#define VAL(n, v) do { sc_memset(&r[k], 0, sizeof(r[k])); r[k].name = N(n); r[k].value.low = (v); k++; } while (0)
#define SEG(n, sg) do { sc_memset(&r[k], 0, sizeof(r[k])); r[k].name = N(n); sc_memcpy(&r[k].value, &(sg), sizeof(sg)); k++; } while (0)
    VAL(CR4, s->cr4);
    VAL(CR3, s->cr3);
    VAL(EFER, s->efer);
    VAL(CR0, s->cr0);
    SEG(CS, s->cs);
    SEG(DS, s->ds);
    SEG(ES, s->es);
    SEG(SS, s->ss);
    SEG(FS, s->fs);
    SEG(GS, s->gs);
    SEG(TR, s->tr);
    SEG(LDTR, s->ldtr);
    struct sidecar_hv_x64_table_register gdtr = { .limit = s->gdtr.limit, .base = s->gdtr.base };
    struct sidecar_hv_x64_table_register idtr = { .limit = s->idtr.limit, .base = s->idtr.base };
    SEG(GDTR, gdtr);
    SEG(IDTR, idtr);
    VAL(RIP, s->rip);
    VAL(RSP, s->rsp);
    VAL(RSI, s->rsi);
    VAL(RFLAGS, s->rflags);
#undef VAL
#undef SEG
    struct sidecar_host_hv_error e = { 0, 0 };
    int rc = sidecar_host_set_registers(h, cpu, 0, r, k, MK_SVM_TIMEOUT_NS, &e);
    if (rc) {
        sc_snprintf(res.error, sizeof(res.error), "entry state: register %u refused (status %x)", e.index, e.status);
        return false;
    }
    vmm_uart_init(&uart, COM1, console_byte, NULL);
    line_len = 0;
    for (;;) {
        if (res.intercepts >= MAX_INTERCEPTS) {
            sc_snprintf(res.end, sizeof(res.end), "%u intercepts (the bound)", res.intercepts);
            return true;
        }
        rc = sidecar_host_run_vp(h, cpu, QUIET_NS);
        if (rc == SIDECAR_HOST_E_TIMEOUT) {
            /* No intercept for a while: halted (no timer, no interrupts) or
             * spinning on a clock that never moves. */
            sidecar_host_stop(h, cpu);
            sidecar_host_wait(h, cpu, MK_SVM_TIMEOUT_NS);
            uint64_t act = 0, rip = 0;
            mk_svm_get(h, cpu, N(INTERNAL_ACTIVITY_STATE), &act);
            mk_svm_get(h, cpu, N(RIP), &rip);
            sc_snprintf(res.end, sizeof(res.end), "quiet for %lu s, %s at RIP %lx", QUIET_NS / 1000000000ul,
                        act & 2 ? "halted" : "running", rip);
            struct sidecar_translate_gva_output t;
            uint16_t st = 0;
            if (!sidecar_host_translate_gva(h, cpu, rip, 1, MK_SVM_TIMEOUT_NS, &t, &st) &&
                t.translation_result.result_code == 0) {
                const uint8_t *b = ram + (t.gpa_page << 12) + (rip & 0xfff);
                mk_out("main: linux guest: RIP %lx is GPA %lx: %02x %02x %02x %02x %02x %02x %02x %02x\n", rip,
                       (t.gpa_page << 12) + (rip & 0xfff), b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
            }
            return true;
        }
        if (rc != SIDECAR_HOST_RUN_INTERCEPT) {
            char text[64];
            sidecar_host_error_text(h, cpu, text, sizeof(text));
            sc_snprintf(res.error, sizeof(res.error), "run: %s %s", sidecar_host_strerror(rc), text);
            return false;
        }
        if (!handle(h, cpu))
            return res.error[0] ? false : true;
        if (contains(res.last, "Kernel panic")) {
            sc_snprintf(res.end, sizeof(res.end), "the guest panicked");
            return true;
        }
    }
}

void mk_linux_guest_boot(struct sidecar_host *h, const struct sidecar_params *p, uint32_t cpu, uint64_t tsc_khz,
                         struct mk_linux_guest_result *r)
{
    sc_memset(&res, 0, sizeof(res));
    line_len = 0;
    res.cpu = cpu;
    if (sidecar_host_acquire(h, cpu) == 0) {
        if (mk_svm_reset_vp(h, cpu) == 0)
            boot(h, p, tsc_khz, cpu);
        else
            failf("reset the VP", 0);
        sidecar_host_release(h, cpu);
    } else {
        failf("acquire", 0);
    }
    if (line_len)
        console_byte(NULL, '\n');
    res.ok = !res.error[0] && res.banner && res.cmdline && res.e820;
    *r = res;
}
