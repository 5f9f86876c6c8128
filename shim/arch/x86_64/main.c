/* SPDX-License-Identifier: MIT */
/* The boot shim on x86-64: reads what the Multiboot loader and the
 * firmware give it (memory map, command line, ACPI, modules), decides with
 * the portable core (shim/core.h) which CPUs go where, loads and calls the
 * sidecar kernel, and hands off to the main kernel: the embedded bare-metal
 * one, or Linux when the first Multiboot module is a bzImage (the second,
 * if any, is its initramfs; shim/linux.h, docs/linux.md). */
#include <scfree/scfree.h>
#include <scfree/x86.h>
#include <shim/core.h>
#include <shim/linux.h>
#include <shim/multiboot.h>
#include <sidecar_config.h>
#include <sidecar/validate.h>

#include "images.h"

#define COM1 0x3f8
#define KERNEL_LOAD_PA 0x400000ull      /* 2 MiB aligned; the kernel is < 2 MiB */
#define KERNEL_VBASE 0xffffffff80000000ull

extern uint64_t shim_pml4[512], shim_pdpt_high[512], shim_pd_kernel[512];
extern const char __shim_start[], __shim_end[];
extern const uint8_t _binary_sidecar_kernel_bin_start[], _binary_sidecar_kernel_bin_end[];
extern const uint8_t _binary_sidecar_mainkernel_bin_start[], _binary_sidecar_mainkernel_bin_end[];
void shim_enter_main_kernel(uint64_t entry, uint64_t handoff_pa, uint64_t stack) __attribute__((noreturn));
void shim_enter_linux(uint64_t entry, uint64_t boot_params_pa) __attribute__((noreturn));
void shim_main(uint32_t magic, uint64_t info_pa);

static struct sidecar_params params __attribute__((aligned(4096)));
static struct sidecar_output output __attribute__((aligned(4096)));
static struct sidecar_handoff handoff __attribute__((aligned(4096)));
static struct shim_topology topo;
static struct shim_memmap memmap;
static struct shim_plan plan;
static char cmdline[SIDECAR_CMDLINE_SIZE];
static bool logging = true;

/* Multiboot modules: a Linux bzImage and its initramfs. */
struct module {
    uint64_t start, end;
};
static struct module mods[2];
static uint32_t mod_count;

/* Linux as the main kernel. The ACPI copy and the hand-off block stay
 * reserved for Linux; boot_params and the command line are read by the
 * kernel before it allocates anything. */
#define LINUX_ACPI_SIZE SC_ALIGN_UP(SHIM_MAX_CPUS * 16u + 16384u, 4096u)
static uint8_t linux_boot_params[LINUXBOOT_BOOT_PARAMS_SIZE] __attribute__((aligned(4096)));
static uint8_t linux_acpi[LINUX_ACPI_SIZE] __attribute__((aligned(4096)));
static char linux_cmdline[4096] __attribute__((aligned(16)));
static uint8_t linux_setup[0x290];          /* the bzImage's first bytes, up to the header end */
static uint32_t linux_order[SIDECAR_MAX_CPUS];
static bool linux_vp_numbering;   /* sidecar.linux_numbering=vp, or auto under the openhcl policy */
static struct linuxboot_e820 linux_e820[LINUXBOOT_E820_MAX];
static struct linuxboot_image limg;
static uint64_t linux_kernel_pa, linux_initrd_pa, linux_initrd_size, linux_rsdp;

static void put(const char *s) { serial_write(COM1, s, sc_strnlen(s, 4096)); }

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (!logging)
        return;
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    size_t n = sc_vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    put("shim: ");
    serial_write(COM1, line, n);
}

static void log_line(void *ctx, const char *line)
{
    (void)ctx;
    say("%s", line);
}

static const struct shim_log shim_log = { log_line, NULL };

static __attribute__((noreturn)) void die(const char *why);

static __attribute__((noreturn, format(printf, 1, 2))) void dief(const char *fmt, ...)
{
    char line[SHIM_ERR_SIZE + 64];
    va_list ap;
    va_start(ap, fmt);
    sc_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    die(line);
}

static __attribute__((noreturn)) void die(const char *why)
{
    put("shim: FATAL: ");
    put(why);
    put("\n");
    qemu_exit(0xf4, 0x7f);   /* under QEMU with isa-debug-exit: exit 255 */
    for (;;) {
        cpu_cli();
        cpu_hlt();
    }
}

/* Everything below 4 GiB is identity mapped; nothing else is readable. */
static const void *map_phys(void *ctx, uint64_t pa, uint64_t len)
{
    (void)ctx;
    if (len > (1ull << 32) || pa >= (1ull << 32) - len)
        return NULL;
    return (const void *)(uintptr_t)pa;
}

static const struct shim_mem phys = { map_phys, NULL };

static struct shim_multiboot mb;

static void read_multiboot(uint32_t magic, uint64_t info_pa)
{
    char err[SHIM_ERR_SIZE];
    if (shim_multiboot_read(&phys, magic, info_pa, (uint64_t)(uintptr_t)__shim_start,
                            (uint64_t)(uintptr_t)__shim_end, &mb, err) != SHIM_OK)
        die(err);
    sc_memcpy(cmdline, mb.cmdline, sizeof(cmdline));
    for (mod_count = 0; mod_count < mb.module_count; mod_count++)
        mods[mod_count] = (struct module){ mb.modules[mod_count].start, mb.modules[mod_count].end };
    memmap = mb.memmap;
}

#ifndef SHIM_TEST_HOOKS
#define SHIM_TEST_HOOKS 0
#endif

#if SHIM_TEST_HOOKS
/* Test hooks on the shim's command line, for the QEMU tests (only in
 * sidecar-shim-test.elf, built with SHIM_TEST_HOOKS=1):
 *   sidecar.test_phantom_apic=ID  add a CPU with this APIC ID that does not
 *                                 exist (the kernel's no-answer path);
 *   sidecar.test_fault_cpu=N      sidecar CPU index N takes a deliberate #UD
 *                                 before it reports IDLE (the exception
 *                                 report);
 *   sidecar.test_overflow_cpu=N   sidecar CPU index N overflows its kernel
 *                                 stack when its first command wakes it
 *                                 (the #DF report on its own IST stack);
 *   sidecar.test_write_text_cpu=N / sidecar.test_exec_data_cpu=N
 *                                 the same moment, a write to the kernel's
 *                                 text / a call into a data page (W^X, NX);
 *   sidecar.test_late_cpu=N       sidecar CPU index N answers three start
 *                                 timeouts late (after its starter gave up);
 *   sidecar.test_slow_response_cpu=N  sidecar CPU index N sends each
 *                                 completion IPI 500 ms after it read the
 *                                 response pair.
 * Returns true and sets *value when the option is present with a number. */
static bool test_option(const char *key, uint32_t *value)
{
    size_t klen = sc_strnlen(key, 64);
    for (const char *c = cmdline; *c; c++) {
        if ((c != cmdline && c[-1] != ' ') || sc_strncmp(c, key, klen) || c[klen] != '=')
            continue;
        const char *v = c + klen + 1;
        uint64_t n = 0;
        if (*v < '0' || *v > '9')
            return false;
        while (*v >= '0' && *v <= '9' && n <= 0xffffffffu)
            n = n * 10 + (uint64_t)(*v++ - '0');
        if (n > 0xffffffffu || (*v && *v != ' '))
            return false;
        *value = (uint32_t)n;
        return true;
    }
    return false;
}

/* Test hook sidecar.test_corrupt=OFFSET:SIZE:OPVALUE[,...] (decimal numbers;
 * OP is '=' set, '+' add or '^' xor): changes SIZE (1, 2, 4 or 8) bytes of
 * the params at OFFSET after the plan is built, so the QEMU tests can hand
 * the kernel a params block broken field by field
 * (tests/qemu/params_corrupt.py). Nothing is changed unless every item is
 * well formed. */
static const char *corrupt_item(const char *v, bool apply)
{
    uint64_t num[3] = { 0, 0, 0 };
    char op = 0;
    for (int k = 0; k < 3; k++) {
        if (k == 2) {
            op = *v++;
            if (op != '=' && op != '+' && op != '^')
                return 0;
        }
        if (*v < '0' || *v > '9')
            return 0;
        int digits = 0;
        while (*v >= '0' && *v <= '9' && digits++ < 20)
            num[k] = num[k] * 10 + (uint64_t)(*v++ - '0');
        if (k < 2 && *v++ != ':')
            return 0;
    }
    if ((*v && *v != ' ' && *v != ',') || (num[1] != 1 && num[1] != 2 && num[1] != 4 && num[1] != 8) ||
        num[0] > sizeof(params) - num[1])
        return 0;
    if (apply) {
        uint8_t *b = (uint8_t *)&params + num[0];
        uint64_t old = 0;
        sc_memcpy(&old, b, num[1]);
        uint64_t val = op == '=' ? num[2] : op == '+' ? old + num[2] : old ^ num[2];
        sc_memcpy(b, &val, num[1]);
        say("test: params bytes %lu-%lu changed from 0x%lx to 0x%lx", (unsigned long)num[0],
            (unsigned long)(num[0] + num[1] - 1), (unsigned long)old,
            (unsigned long)(num[1] == 8 ? val : val & ((1ull << (8 * num[1])) - 1)));
    }
    return v;
}

static bool corrupt_params(void)
{
    static const char key[] = "sidecar.test_corrupt=";
    const char *v = 0;
    for (const char *c = cmdline; *c && !v; c++)
        if ((c == cmdline || c[-1] == ' ') && !sc_strncmp(c, key, sizeof(key) - 1))
            v = c + sizeof(key) - 1;
    if (!v)
        return false;
    for (int pass = 0; pass < 2; pass++) {
        const char *w = v;
        for (;;) {
            w = corrupt_item(w, pass == 1);
            if (!w)
                return false;
            if (*w != ',')
                break;
            w++;
        }
    }
    return true;
}

#else
/* The product shim has no test hooks: a sidecar.test_* option is named in
 * the log and otherwise ignored (nothing of the params changes). */
static bool test_option(const char *key, uint32_t *value)
{
    (void)key;
    (void)value;
    return false;
}

static bool corrupt_params(void)
{
    return false;
}

static void test_hooks_absent(void)
{
    static const char key[] = "sidecar.test_";
    for (const char *c = cmdline; *c; c++)
        if ((c == cmdline || c[-1] == ' ') && !sc_strncmp(c, key, sizeof(key) - 1)) {
            int n = 0;
            while (c[n] && c[n] != ' ' && n < 64)
                n++;
            say("%.*s: ignored (test hooks are only in sidecar-shim-test.elf)", n, c);
        }
}
#endif

/* A fixed load address must be RAM the firmware's map calls usable:
 * copying an image over a hole, ROM or a reserved range would fault or
 * corrupt firmware data, and the hand-off map would then hand it on. */
static void check_ram(const char *what, uint64_t base, uint64_t size)
{
    if (!shim_memmap_usable(&memmap, base, size))
        dief("%s: 0x%lx-0x%lx is not usable RAM in the firmware's memory map", what, base, base + size - 1);
}

static void load_image(struct shim_image *img, uint64_t load_pa)
{
    char err[160];
    if (!shim_image_check(img, err, sizeof(err)))
        die(err);
    check_ram(img->name, load_pa, img->mem_size);
    img->load_pa = load_pa;
    sc_memcpy((void *)(uintptr_t)load_pa, img->data, img->file_size);
    sc_memset((void *)(uintptr_t)(load_pa + img->file_size), 0, img->mem_size - img->file_size);
}

/* Linux main kernel: checks module 0's setup header, then moves the
 * initramfs high and the protected-mode kernel to a 2 MiB aligned address
 * at or above its preferred one, clear of the shim, the sidecar kernel's
 * load area and each other, before anything else is loaded. */
static void linux_load(void)
{
    char err[SHIM_ERR_SIZE];
    const uint8_t *bz = (const uint8_t *)(uintptr_t)mods[0].start;
    uint64_t bz_size = mods[0].end - mods[0].start;
    if (linuxboot_check(bz, bz_size, &limg, err) != SHIM_OK)
        dief("Multiboot module 0 (Linux): %s", err);
    sc_memcpy(linux_setup, bz, limg.header_end);
    uint64_t kernel_size = limg.kernel_size > limg.init_size ? limg.kernel_size : limg.init_size;
    uint64_t initrd_src = mod_count > 1 ? mods[1].start : 0;
    linux_initrd_size = mod_count > 1 ? mods[1].end - mods[1].start : 0;
    struct shim_range avoid[6] = {
        { 0, 0x1000, 2 },
        { (uint64_t)(uintptr_t)__shim_start, (uint64_t)(__shim_end - __shim_start), 2 },
        { KERNEL_LOAD_PA, 0x200000, 2 },
        { initrd_src, linux_initrd_size, 2 },
    };
    uint64_t lo = limg.pref_address > LINUXBOOT_MIN_LOAD ? limg.pref_address : LINUXBOOT_MIN_LOAD;
    if (!shim_linux_place(&memmap, avoid, 4, SC_ALIGN_UP(kernel_size, 4096ull), limg.kernel_alignment, lo,
                          1ull << 32, false, &linux_kernel_pa))
        dief("Linux: no room for the kernel: 0x%lx bytes (init_size) from 0x%lx below 4 GiB", kernel_size, lo);
    if (linux_initrd_size) {
        avoid[4] = (struct shim_range){ linux_kernel_pa, kernel_size, 2 };
        avoid[5] = (struct shim_range){ mods[0].start, bz_size, 2 };
        uint64_t hi = (uint64_t)limg.initrd_addr_max + 1;
        if (hi > (1ull << 32))
            hi = 1ull << 32;
        if (!shim_linux_place(&memmap, avoid, 6, SC_ALIGN_UP(linux_initrd_size, 4096ull), 4096, 0x100000, hi, true,
                              &linux_initrd_pa))
            dief("Linux: no room for the initramfs (%lu bytes) below 0x%lx", linux_initrd_size, hi);
        sc_memmove((void *)(uintptr_t)linux_initrd_pa, (const void *)(uintptr_t)initrd_src, linux_initrd_size);
    }
    sc_memmove((void *)(uintptr_t)linux_kernel_pa, bz + limg.setup_size, limg.kernel_size);
    say("Linux: bzImage protocol %u.%u, kernel at 0x%lx (0x%lx bytes, init_size 0x%x), initramfs at 0x%lx (%lu bytes)",
        limg.version >> 8, limg.version & 0xff, linux_kernel_pa, limg.kernel_size, limg.init_size,
        linux_initrd_pa, linux_initrd_size);
}

/* Before the sidecar kernel starts anything: the ACPI copy whose MADT
 * lists the main CPUs first. On failure sidecar is disabled (Linux then
 * boots on every CPU with the firmware's tables). */
static void linux_prepare_acpi(uint64_t rsdp)
{
    char err[SHIM_ERR_SIZE];
    uint32_t main_count = 0, used = 0;
    uint32_t n = shim_linux_cpu_order(&params, linux_order, &main_count);
    if (linux_vp_numbering)
        n = shim_linux_cpu_order_vp(&params, linux_order);
    if (shim_acpi_copy_reordered(&phys, rsdp, linux_order, n, linux_vp_numbering ? 1 : main_count, linux_acpi,
                                 (uint64_t)(uintptr_t)linux_acpi, sizeof(linux_acpi), &linux_rsdp, &used,
                                 err) != SHIM_OK) {
        plan.enabled = false;
        sc_snprintf(plan.reason, sizeof(plan.reason), "ACPI copy for Linux: %s", err);
        say("sidecar disabled: %s", plan.reason);
        return;
    }
    if (!shim_plan_reserve(&plan, (uint64_t)(uintptr_t)linux_acpi, sizeof(linux_acpi)) ||
        !shim_plan_reserve(&plan, (uint64_t)(uintptr_t)&handoff, sizeof(handoff))) {
        plan.enabled = false;
        sc_snprintf(plan.reason, sizeof(plan.reason), "no room to reserve the ACPI copy");
        say("sidecar disabled: %s", plan.reason);
        return;
    }
    if (linux_vp_numbering)
        say("Linux: ACPI copy at 0x%lx (%u bytes): the MADT lists the boot CPU, then every CPU in params order "
            "(sidecar.linux_numbering=vp)", linux_rsdp, used);
    else
        say("Linux: ACPI copy at 0x%lx (%u bytes): the MADT lists the %u main CPUs first", linux_rsdp, used,
            main_count);
}

static __attribute__((noreturn)) void linux_enter(void)
{
    char err[SHIM_ERR_SIZE];
    uint32_t n = 0;
    if (shim_linux_e820(&handoff, linux_e820, &n, err) != SHIM_OK)
        dief("Linux: %s", err);
    uint64_t handoff_pa = plan.enabled ? (uint64_t)(uintptr_t)&handoff : 0;
    if (shim_linux_cmdline((const char *)handoff.cmdline,
                           !plan.enabled ? 0 : linux_vp_numbering ? 1 : handoff.main_cpu_count, handoff_pa,
                           limg.cmdline_size, linux_cmdline, sizeof(linux_cmdline), err) != SHIM_OK)
        dief("Linux: %s", err);
    struct linuxboot_boot boot = {
        linux_e820, n, (uint64_t)(uintptr_t)linux_cmdline, linux_initrd_pa, linux_initrd_size,
        plan.enabled ? linux_rsdp : 0,
    };
    if (linuxboot_boot_params(linux_boot_params, linux_setup, &limg, &boot, err) != SHIM_OK)
        dief("Linux: %s", err);
    for (uint32_t i = 0; i < handoff.memory_range_count; i++) {
        const struct sidecar_memory_range *r = &handoff.memory_map[i];
        if (r->type == SHIM_SIDECAR_MEMORY)
            say("Linux: sidecar memory [0x%lx, 0x%lx) reserved", r->base, r->base + r->size);
    }
    if (logging) {
        put("shim: Linux: command line \"");
        put(linux_cmdline);
        put("\"\n");
    }
    say("entering Linux at 0x%lx (boot_params 0x%lx, %u e820 entries, hand-off 0x%lx)",
        linux_kernel_pa + LINUXBOOT_ENTRY_64, (uint64_t)(uintptr_t)linux_boot_params, n, handoff_pa);
    shim_enter_linux(linux_kernel_pa + LINUXBOOT_ENTRY_64, (uint64_t)(uintptr_t)linux_boot_params);
}

void shim_main(uint32_t magic, uint64_t info_pa)
{
    uint64_t shim_entry_tsc = rdtsc();
    serial_init(COM1);
    read_multiboot(magic, info_pa);
    char err[SHIM_ERR_SIZE];
    struct shim_options opt;
    shim_options_default(&opt);
    if (shim_cmdline_parse(cmdline, &opt, err) != SHIM_OK)
        say("command line: %s (ignored)", err);
    logging = opt.log;
    say("sidecar shim %s, command line \"%s\"", SIDECAR_VERSION, cmdline);
#if !SHIM_TEST_HOOKS
    test_hooks_absent();
#endif

    /* The images: sidecar kernel (mapped high), main kernel (at its link address). */
    struct shim_image kernel = {
        "sidecar kernel", _binary_sidecar_kernel_bin_start,
        (uint64_t)(_binary_sidecar_kernel_bin_end - _binary_sidecar_kernel_bin_start), 0, 0, 0 };
    struct shim_image mk = {
        "main kernel", _binary_sidecar_mainkernel_bin_start,
        (uint64_t)(_binary_sidecar_mainkernel_bin_end - _binary_sidecar_mainkernel_bin_start), 0, 0, 0 };
    bool linux = mod_count > 0;
    if (!shim_image_check(&kernel, err, sizeof(err)) || !shim_image_check(&mk, err, sizeof(err)))
        die(err);
    if (kernel.hdr->link_base != KERNEL_VBASE || kernel.mem_size > 0x200000)
        die("sidecar kernel image: header.link_base: not the kernel base, or larger than 2 MiB");
    if (mk.hdr->link_base < (uint64_t)(uintptr_t)__shim_end || mk.hdr->link_base + mk.mem_size > 0x1000000 ||
        (mk.hdr->link_base < KERNEL_LOAD_PA + 0x200000 && mk.hdr->link_base + mk.mem_size > KERNEL_LOAD_PA))
        die("main kernel image: header.link_base: overlaps the shim or the sidecar kernel");
    if ((uint64_t)(uintptr_t)__shim_end > KERNEL_LOAD_PA)
        die("shim image too large");
    check_ram("shim image", (uint64_t)(uintptr_t)__shim_start, (uint64_t)(__shim_end - __shim_start));
    /* The modules sit right after the shim, where the images go: Linux and
     * its initramfs move first; the bare-metal main kernel stays unused. */
    if (linux)
        linux_load();
    load_image(&kernel, KERNEL_LOAD_PA);
    if (!linux)
        load_image(&mk, mk.hdr->link_base);
    shim_pdpt_high[(KERNEL_VBASE >> 30) & 511] = (uint64_t)(uintptr_t)shim_pd_kernel | 3;
    shim_pd_kernel[(KERNEL_VBASE >> 21) & 511] = KERNEL_LOAD_PA | 0x83;
    write_cr3(read_cr3());

    /* Topology and policy. */
    uint32_t bsp_apic_id = cpuid(1, 0).ebx >> 24;
    struct cpuid_regs leaf0 = cpuid(0, 0);
    if (leaf0.eax >= 0xb && cpuid(0xb, 0).ebx)
        bsp_apic_id = cpuid(0xb, 0).edx;
    uint64_t rsdp = 0;
    bool acpi_ok = shim_acpi_find_rsdp(&phys, &rsdp) == SHIM_OK &&
                   shim_acpi_parse(&phys, rsdp, &topo, err) == SHIM_OK;
    struct shim_range in_use[] = {
        { 0, 0x1000, 2 },
        { (uint64_t)(uintptr_t)__shim_start, (uint64_t)(__shim_end - __shim_start), 2 },
        { KERNEL_LOAD_PA, kernel.mem_size, 2 },
        { linux ? linux_kernel_pa : mk.hdr->link_base,
          linux ? SC_ALIGN_UP(limg.kernel_size > limg.init_size ? limg.kernel_size : limg.init_size, 4096ull)
                : mk.mem_size, 2 },
        { linux_initrd_pa, SC_ALIGN_UP(linux_initrd_size, 4096ull), 2 },
    };
    if (!acpi_ok) {
        say("ACPI: %s; sidecar disabled", err);
        plan.enabled = false;
        sc_snprintf(plan.reason, sizeof(plan.reason), "ACPI: %s", err);
    } else {
        say("ACPI: %u CPUs, %u NUMA nodes%s", topo.cpu_count, topo.numa_count,
            topo.has_srat ? "" : " (no SRAT)");
        if (topo.online_capable)
            say("ACPI: %u online-capable CPUs not present at boot: left to the main kernel", topo.online_capable);
        topo.no_x2apic = !(cpuid(1, 0).ecx & (1u << 21));
        uint32_t phantom;
        if (test_option("sidecar.test_phantom_apic", &phantom) && topo.cpu_count < SHIM_MAX_CPUS) {
            say("test: adding a phantom CPU with APIC ID %u", phantom);
            topo.cpus[topo.cpu_count++] = (struct shim_cpu){ phantom, phantom, 0 };
        }
        if (shim_plan_build(&topo, &opt, &memmap, in_use, SC_ARRAY_SIZE(in_use), bsp_apic_id,
                            &params, &plan, &shim_log) != SHIM_OK && plan.enabled) {
            plan.enabled = false;
        }
    }

    /* The fault hooks: params.test_fault_cpu and test_fault_kind (boot.yaml). */
    static const struct { const char *option; uint8_t kind; const char *what; } fault_hooks[] = {
        { "sidecar.test_fault_cpu", 0, "take a deliberate exception" },
        { "sidecar.test_overflow_cpu", 1, "overflow its stack at its first command" },
        { "sidecar.test_write_text_cpu", 2, "write to the kernel's text at its first command" },
        { "sidecar.test_exec_data_cpu", 3, "call into a data page at its first command" },
        { "sidecar.test_late_cpu", 4, "answer three start timeouts late" },
        { "sidecar.test_slow_response_cpu", 5, "send each completion IPI 500 ms after reading the response pair" },
    };
    for (size_t k = 0; k < SC_ARRAY_SIZE(fault_hooks); k++) {
        uint32_t fault_cpu;
        if (plan.enabled && test_option(fault_hooks[k].option, &fault_cpu) && fault_cpu < params.cpu_count) {
            say("test: sidecar CPU %u will %s", fault_cpu, fault_hooks[k].what);
            params.test_fault_cpu = fault_cpu + 1;
            params.test_fault_kind = fault_hooks[k].kind;
        }
    }

    if (plan.enabled && linux) {
        linux_vp_numbering = opt.linux_numbering == SHIM_LINUX_NUMBERING_VP ||
                             (opt.linux_numbering == SHIM_LINUX_NUMBERING_AUTO && plan.policy == SHIM_POLICY_OPENHCL);
        linux_prepare_acpi(rsdp);
    }
    if (plan.enabled)
        corrupt_params();

    /* The bring-up's start and end (OpenHCL's shim passes the reference
     * time around its sidecar entry the same way): the hand-off's TSCs. */
    uint64_t t0 = 0, t1 = 0;
    if (plan.enabled) {
        say("starting %u sidecar CPUs in %u nodes (%u main CPUs)", plan.sidecar_cpu_count,
            params.node_count, plan.main_cpu_count);
        bool (*entry)(uint64_t, uint64_t) = (bool (*)(uint64_t, uint64_t))(uintptr_t)kernel.hdr->entry;
        t0 = rdtsc();
        bool ok = entry((uint64_t)(uintptr_t)&params, (uint64_t)(uintptr_t)&output);
        t1 = rdtsc();
        if (!ok) {
            size_t n = output.error.len;
            char text[SIDECAR_ERROR_TEXT_SIZE + 1];
            sc_memcpy(text, output.error.buf, n);
            text[n] = '\0';
            say("sidecar kernel failed (status 0x%x): %s", output.status, text);
            plan.enabled = false;
            sc_snprintf(plan.reason, sizeof(plan.reason), "kernel: %s", text);
        } else {
            say("sidecar kernel returned: %u ready, %u failed, %lu TSC ticks", output.ready_count,
                output.failed_count, t1 - t0);
            /* The kernel's code and shared tables stay in use by every
             * sidecar CPU: reserved like the rest of sidecar memory. */
            if (!shim_plan_reserve(&plan, KERNEL_LOAD_PA, kernel.mem_size))
                die("no room to reserve the sidecar kernel image");
        }
    } else {
        say("sidecar disabled: %s", plan.reason);
    }

    if (shim_handoff_build(&memmap, &plan, &params, (uint64_t)(uintptr_t)&params,
                           (uint64_t)(uintptr_t)&output, cmdline, &handoff, err) != SHIM_OK)
        die(err);
    handoff.shim_entry_tsc = shim_entry_tsc;
    handoff.kernel_entry_tsc = t0;
    handoff.kernel_exit_tsc = t1;
    if (linux)
        linux_enter();
    say("entering the main kernel at %lx", mk.hdr->entry);
    shim_enter_main_kernel(mk.hdr->entry, (uint64_t)(uintptr_t)&handoff, 0x90000);
}
