#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The sidecar demo: boot a QEMU VM whose CPUs are split between the
bare-metal main kernel and the sidecar kernel, and show what happened.

The VM runs the shim, the sidecar kernel and the bare-metal main kernel.
The main kernel prints which CPU went where and why and pings every sidecar
CPU. With the svm VP backend (the default where the CPU has AMD SVM with
nested paging, as QEMU's TCG does; docs/svm.md) it is the VMM of one SMP
guest whose processors are the sidecar VPs: the guest firmware runs on all
of them at once from the reset vector (long mode, its own page fault, a
shared counter, injected interrupts waking halted VPs), then Debian's Linux
kernel (fetched once with apt-get download, cached in BUILD_DIR/linux)
boots as a guest on one sidecar VP and its console shows up as "linux:"
lines. With ring3 it runs the guest VP test on every sidecar CPU
(intercepts, registers, address translation, STOP/RUN) and a computation
on every sidecar VP at once. Then it converts one CPU per sidecar node into
a main-kernel CPU and prints one SIDECAR-REPORT line. This script shows the
console live (or only a progress line with --quiet), then a summary (with
the Linux guest's first lines), and writes the report as JSON and the
bring-up timeline as an SVG picture.

With --main linux the main kernel is Debian's 6.1 cloud kernel instead
(docs/linux.md; --linux 6.12: Debian 13's 6.12, with the sidecar.ko built
for it, `meson compile -C BUILD_DIR sidecar-6.12.ko`, run first): the shim boots it on the main CPUs with the test
initramfs, which loads sidecar.ko (docs/linux-driver.md) and, from Linux
user space through libsidecar-host's linux transport, pings every sidecar
CPU, runs the VP test on every sidecar CPU at once, onlines one CPU per
sidecar node into Linux (sysfs CPU hotplug), runs a task on each, checks
the remaining sidecar CPUs still answer and runs the hostlib example on a
real guest (driver/tests/demo.sh); the summary and the JSON report come
from its LINUX-REPORT line and the sidecar kernel's output pages.

usage: demo.py BUILD_DIR [--cpus N] [--numa K] [--accel tcg|kvm]
               [--main baremetal|linux] [--linux 6.1|6.12] [--qemu-arg ARG]...
               [--append "options"] [--backend auto|svm|ring3]
               [--no-linux-guest] [--json PATH] [--svg PATH] [--quiet]
               [--timeout S] [--gdb [PORT]] [--qemu PATH]

--qemu-arg takes one QEMU word; give it once per word, in either form:
--qemu-arg -smp --qemu-arg 8 or --qemu-arg=-smp --qemu-arg=8. A -smp or
-numa given this way replaces the demo's own topology.

--gdb starts QEMU with its gdbstub on PORT (default 1234), halted before
the first instruction, with no time bound, and prints the gdb command that
loads the shim's, the sidecar kernel's and the main kernel's symbols
(docs/boot.md section 9, "Debugging with gdb").

The QEMU binary: --qemu, else $SIDECAR_QEMU, else the build directory's
-Dqemu (meson setup -Dqemu=PATH), else qemu-system-x86_64.

Before the VM boots the demo checks its options, that QEMU and the shim
are there and that the report and timeline paths can be written.

Exit status: 0 when the report says ok; 1 when it does not (the kernels'
own error text is printed); 2 when the demo could not start: a bad option,
a missing tool or file, an output path it cannot write, --accel kvm where
KVM does not work (--skip-status sets this last status, for the test
suite's "skipped"); 124 when the VM did not finish in time.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import baseline  # noqa: E402
import timeline  # noqa: E402
from vmrun import run_bounded  # noqa: E402
import buildconf  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu10"))
import qemu10  # noqa: E402
from cli import Parser, unwritable  # noqa: E402
from progress import Progress  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
EXIT_SUCCESS = (0x10 << 1) | 1
# What the bare-metal demo asks of the main kernel, by VP backend: with svm
# (the default where the CPU has it; QEMU's TCG does) the guest firmware on
# every sidecar VP at once and Debian's Linux kernel booting as a guest on
# one; with ring3 the guest test and the computation. Both convert one CPU
# per node at the end.
DEMO_OPTIONS = {
    "svm": "sidecar.log sidecar.vp_backend=svm sidecar.guest_ram=256M mk.svm_firmware mk.linux_guest "
           "mk.convert_one_per_node",
    "ring3": "sidecar.log sidecar.vp_backend=ring3 mk.vp_test mk.vp_compute mk.convert_one_per_node",
}
GUEST_LINES = 12      # the Linux guest's console lines the summary shows


def die(msg, code=2):
    print(f"demo: {msg}", file=sys.stderr)
    sys.exit(code)


def qemu_arg_words(argv):
    """--qemu-arg WORD with a WORD that starts with '-' (such as -smp):
    argparse would take the word for an option, so it becomes
    --qemu-arg=WORD."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--qemu-arg" and i + 1 < len(argv):
            out.append("--qemu-arg=" + argv[i + 1])
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def check_writable(opt, path):
    """Before the VM boots: PATH can be written (cli.unwritable)."""
    why = unwritable(opt, path)
    if why:
        die(why)


def parse_args(argv=None):
    ap = Parser(prog="demo.py", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", type=int, default=64, help="vCPUs (1..255 under TCG; default 64)")
    ap.add_argument("--numa", type=int, default=None, help="NUMA nodes (default 2, or 1 with --cpus 1)")
    ap.add_argument("--accel", choices=["tcg", "kvm"], default="tcg")
    ap.add_argument("--main", choices=["baremetal", "linux"], default="baremetal",
                    help="the main kernel: the embedded bare-metal one (default) or Debian's Linux")
    ap.add_argument("--linux", choices=["6.1", "6.12"], default="6.1",
                    help="with --main linux: Debian 12's 6.1 (default) or Debian 13's 6.12 cloud kernel")
    ap.add_argument("--qemu-arg", action="append", default=[],
                    help="passed to QEMU as is (repeatable); a -smp or -numa given this way "
                         "replaces the demo's own topology arguments")
    ap.add_argument("--append", default="", help="more options for the shim and the main kernel")
    ap.add_argument("--backend", choices=["auto", "svm", "ring3"], default="auto",
                    help="the VP backend: auto (svm under TCG, whose -cpu max has SVM, or under KVM on a "
                         "host with SVM; ring3 otherwise), svm or ring3 (docs/svm.md)")
    ap.add_argument("--no-linux-guest", action="store_true",
                    help="with svm: do not fetch Debian's kernel or boot it as a guest")
    ap.add_argument("--json", help="write the report here (default BUILD_DIR/demo/report.json)")
    ap.add_argument("--svg", help="write the timeline here (default BUILD_DIR/demo/timeline.svg)")
    ap.add_argument("--quiet", action="store_true", help="no console, only progress and the summary")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before the VM is given up")
    ap.add_argument("--gdb", nargs="?", type=int, const=1234, metavar="PORT",
                    help="QEMU's gdbstub on PORT (default 1234), halted at the first instruction, "
                         "no time bound; prints the gdb command to attach")
    ap.add_argument("--qemu", help="the QEMU binary (default: $SIDECAR_QEMU, else the build's -Dqemu, "
                                   "else qemu-system-x86_64)")
    ap.add_argument("--qemu10", nargs="?", const="auto", metavar="SPEC",
                    help="run Debian 13's QEMU 10 instead (x2APIC, up to 1024 vCPUs under TCG): auto "
                         "(default; made once under BUILD_DIR/qemu10 as ./sidecar deps does), a Debian "
                         "root or a QEMU binary (docs/x2apic.md); with --main linux it adds the IOMMU "
                         "Linux needs to keep x2APIC mode")
    ap.add_argument("--skip-status", type=int, default=2, metavar="N",
                    help="exit status when the demo cannot run here (KVM not usable, Debian's kernel "
                         "not to be had for --main linux); the test suite passes 77 (skipped)")
    a = ap.parse_args(qemu_arg_words(sys.argv[1:] if argv is None else argv))
    a.qemu = buildconf.qemu(a.build, a.qemu)
    limit = 255 if a.accel == "tcg" and not a.qemu10 else 1024
    if not 1 <= a.cpus <= limit:
        die(f"--cpus {a.cpus}: must be 1..{limit} with --accel {a.accel}"
            + ("" if limit > 255 else " (--qemu10: up to 1024 under TCG)"))
    if a.qemu10:
        try:
            a.qemu = qemu10.resolve(a.qemu10, os.path.join(a.build, "qemu10"))
        except qemu10.Unavailable as e:
            die(f"--qemu10: Debian 13's QEMU cannot be had: {e}", 1 if qemu10.in_ci() else a.skip_status)
    if a.numa is None:
        a.numa = min(2, a.cpus)
    if not 1 <= a.numa <= 64 or a.numa > a.cpus:
        die(f"--numa {a.numa}: must be 1..64 and at most --cpus")
    if a.gdb is not None and not 1 <= a.gdb <= 65535:
        die(f"--gdb {a.gdb}: a TCP port is 1..65535")
    if a.gdb is not None and a.main == "linux":
        die("--gdb works with the bare-metal main kernel only (--main baremetal)")
    if not shutil.which(a.qemu):
        die(f"{a.qemu} not found (./sidecar deps installs qemu-system-x86; "
            "-Dqemu, $SIDECAR_QEMU or --qemu name another)")
    a.shim = os.path.join(a.build, "shim", "arch", "x86_64", "sidecar-shim.elf")
    if not os.path.isfile(a.shim):
        die(f"{a.shim} is missing: build first (./sidecar build)")
    a.json = a.json or os.path.join(a.build, "demo", "report.json")
    a.svg = a.svg or os.path.join(a.build, "demo", "timeline.svg")
    check_writable("--json", a.json)
    if a.main == "baremetal":
        check_writable("--svg", a.svg)
    if a.accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        die("--accel kvm: /dev/kvm is not usable here (no KVM, or no permission); use --accel tcg",
            a.skip_status)
    if a.backend == "auto":
        a.backend = "svm" if a.accel == "tcg" or host_has_svm() else "ring3"
    a.guest_kernel = None
    if a.backend == "svm" and a.main == "baremetal" and not a.no_linux_guest:
        a.guest_kernel = fetch_guest_kernel(a.build)
    return a


def host_has_svm():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return any(l.startswith("flags") and " svm" in l for l in fh)
    except OSError:
        return False


def fetch_guest_kernel(build):
    """Debian's cloud kernel for the Linux guest (tests/linux/fetch.py, cached
    in BUILD/linux), or None with a note when it cannot be had."""
    sys.path.insert(0, os.path.join(TOP, "tests", "linux"))
    try:
        import fetch
        return fetch.kernel(build)
    except Exception as exc:   # noqa: BLE001 - any failure: the demo goes on without the guest
        print(f"demo: no Linux guest: Debian's kernel could not be fetched ({exc})", flush=True)
        return None


def demo_options(a):
    opts = DEMO_OPTIONS[a.backend]
    if a.backend == "svm" and not a.guest_kernel:
        opts = opts.replace(" mk.linux_guest", "")
    return f"{opts} {a.append}".strip()


def qemu_command(a):
    own_topology = not any(x.startswith("-smp") or x.startswith("-numa") for x in a.qemu_arg)
    mem_mb = max(1024 if a.backend == "svm" else 512, 256 + 4 * a.cpus)
    # Past 255 vCPUs without SMM: QEMU's memory grew with the square of the
    # vCPU count with it (docs/x2apic.md).
    machine = "q35,smm=off" if a.cpus > 255 else "q35"
    cmd = [a.qemu, "-machine", machine, "-accel", a.accel, "-cpu", "max" if a.accel == "tcg" else "host",
           "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", a.shim,
           "-append", demo_options(a)]
    if a.guest_kernel:
        cmd += ["-fw_cfg", f"name=opt/sidecar/guest-kernel,file={a.guest_kernel}"]
    if own_topology:
        k, n = a.numa, a.cpus
        if k > 1:
            per = -(-mem_mb // k)
            mem_mb = per * k
            for i in range(k):
                cmd += ["-object", f"memory-backend-ram,id=m{i},size={per}M"]
                first = i * n // k
                last = (i + 1) * n // k - 1
                cmd += ["-numa", f"node,nodeid={i},cpus={first}-{last},memdev=m{i}"]
        cmd += ["-smp", str(n)]
    cmd += ["-m", f"{mem_mb}M"] + a.qemu_arg
    if a.gdb is not None:
        cmd += ["-gdb", f"tcp::{a.gdb}", "-S"]
    return cmd


def gdb_command(a):
    """The gdb command that attaches to --gdb's stub with the symbols of
    the shim (its 64-bit twin: QEMU loads the 32-bit Multiboot ELF), the
    sidecar kernel and the main kernel; each ELF is linked where it runs
    (the shim at 1 MiB, the kernel at its high virtual base, the main
    kernel at its link base), so no load offsets."""
    b = a.build
    elfs = [os.path.join(b, "shim", "arch", "x86_64", "sidecar-shim64.elf"),
            os.path.join(b, "kernel", "arch", "x86_64", "sidecar-kernel.elf"),
            os.path.join(b, "mainkernel", "sidecar-mainkernel.elf")]
    return ["gdb", "-q", "-ex", "set confirm off", "-ex", f"file {elfs[0]}",
            "-ex", f"add-symbol-file {elfs[1]}", "-ex", f"add-symbol-file {elfs[2]}",
            "-ex", f"target remote localhost:{a.gdb}"]


def last_wall(a, cmd=None):
    """The wall time of the last demo written at --json, when it ran the
    same QEMU command (the estimate), else None."""
    try:
        with open(a.json, encoding="utf-8") as fh:
            r = json.load(fh)
        d = r.get("demo") or {}
        if d.get("main", "baremetal") != a.main or (cmd is not None and d.get("qemu", d.get("command")) != cmd):
            return None
        return float(d["wall_s"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# The stages of a bare-metal demo as the console shows them (a regular
# expression on a line; the text the progress line gives).
STAGES = [
    (r"^shim: sidecar shim", "shim started"),
    (r"^sidecar: bring-up done", "sidecar CPUs up"),
    (r"^main: bare-metal main kernel", "main kernel started"),
    (r"^linux: ", "Linux guest booting"),
    (r"^main: .*convert", "converting CPUs"),
    (r"^SIDECAR-REPORT ", "report written"),
]


def run_vm(a, cmd):
    """Runs QEMU; returns (exit code or None on timeout, report, lines)."""
    state = {"report": None, "total": None, "ready": 0, "t0": time.monotonic(), "stage": 0}
    ticker = Progress("demo", "stages", total=len(STAGES), estimate_s=last_wall(a, cmd), by_rate=False)

    def progress():
        """--quiet: a line per tenth of the CPUs ready (plain lines, the
        same on a terminal and in a log)."""
        total, ready = state["total"], state["ready"]
        if not total:
            return
        el = time.monotonic() - state["t0"]
        print(f"bring-up: {ready}/{total} sidecar CPUs ready ({el:.1f} s since QEMU started)", flush=True)
        ticker.heard()

    def on_line(text):
        if not a.quiet:
            ticker.heard()
        for k, (pat, what) in enumerate(STAGES):
            if k >= state["stage"] and re.match(pat, text):
                state["stage"] = k + 1
                state["what"] = what
        m = re.match(r"shim: starting (\d+) sidecar CPUs", text)
        if m:
            state["total"] = int(m.group(1))
        # The sidecar kernel's BSP reports each tenth of the CPUs ready,
        # then "bring-up done: N ready".
        m = re.match(r"sidecar: (\d+)/\d+ sidecar CPUs ready", text) or \
            re.match(r"sidecar: bring-up done: (\d+) ready", text)
        if m:
            state["ready"] = int(m.group(1))
            if a.quiet:
                progress()
        ticker.update(done=state["stage"], stage=(state.get("what") or "QEMU starting") + (
            f" ({state['ready']}/{state['total']} sidecar CPUs ready)" if state["total"] else ""))
        if text.startswith("SIDECAR-REPORT "):
            state["report"] = text[len("SIDECAR-REPORT "):]
        elif not a.quiet:
            print(text, flush=True)
            if text.startswith("sidecar: bring-up done"):
                print(f"  [demo] {state['ready']}/{state['total']} sidecar CPUs ready", flush=True)

    # A progress line (stage, CPUs, time, estimate) whenever the console
    # has been silent for a few seconds; none while gdb holds the VM.
    if a.gdb is None:
        ticker.start()
    try:
        code, lines, _ = run_bounded(cmd, None if a.gdb is not None else a.timeout, on_line)
    finally:
        ticker.stop()
    return code, state["report"], lines


def kernel_messages(lines):
    """What the shim and the kernels said went wrong, in their own words."""
    pats = (r"^shim: FATAL: ", r"^shim: command line: .*\(ignored\)", r"^shim: .*sidecar disabled: ",
            r"^shim: sidecar kernel failed", r"^main: FAIL: ", r"^sidecar: .*(FAIL|failed|error)",
            r"^qemu[-\w]*: ")
    said = [l for l in lines if any(re.match(p, l) for p in pats)
            and not re.match(r"^sidecar: bring-up done: .* 0 failed", l)]
    return list(dict.fromkeys(said))    # once each (the shim logs a disabled plan twice)


def linux_baseline(n):
    """The Linux rows of the bench's data file (tests/bench/linux-baseline.json)
    for the nearest measured N: (N, [(N, version, guest, wall, date)])."""
    nearest, rows = baseline.nearest(n)
    return nearest, [(r["cpus"], r["linux"], f"{r['guest_s']:.3f} s",
                      f"{r['wall_s']:.3f} s" if r.get("wall_s") else "-", r.get("date", "?")) for r in rows]


def seconds(text):
    m = re.match(r"^([0-9.]+) s$", text or "")
    return float(m.group(1)) if m else None


def write_svg(path, r):
    """The bring-up timeline (timeline.py): the picture, and beside it the
    same events as a Perfetto trace (PATH with .trace.json)."""
    rows = timeline.rows_from_sidecar(r)
    title = (f"sidecar bring-up: {len(rows)} CPUs, {r.get('rounds')} fan-out rounds, "
             f"{r.get('bringup_us', 0) / 1000:.1f} ms (kernel entry to all IDLE)")
    if not timeline.write_svg(path, rows, title):
        return False
    timeline.write_trace(os.path.splitext(path)[0] + ".trace.json", rows, "sidecar")
    return True


def summary(a, r, wall):
    print()
    print("=" * 72)
    if "sidecar" not in r:
        # The main kernel stopped before its report (a bad mk.* option, an
        # invalid hand-off): its error text says why.
        print(f"the main kernel failed: {r.get('error') or 'no reason given'}")
        for line in a.kernel_lines:
            print("  " + line)
        print(f"report: {a.json}")
        print(f"result: NOT ok (wall time {wall:.1f} s)")
        return
    if not r.get("sidecar"):
        print(f"VM: {r.get('cpus') or '?'} vCPUs, every one the main kernel's: sidecar was disabled: "
              f"{r.get('reason') or 'no reason given'}")
        for line in a.kernel_lines:
            print("  " + line)
        print(f"report: {a.json}")
        print(f"result: {'ok' if r.get('ok') else 'NOT ok'} (wall time {wall:.1f} s)")
        return
    print(f"VM: {r['cpus']} vCPUs; {r['main_cpus']} main-kernel CPUs, {r['sidecar_cpus']} sidecar CPUs "
          f"in {len(r['nodes'])} sidecar nodes ({r['apic_mode']}, parked with {r.get('park', 'hlt')}, "
          f"VP backend {r.get('vp_backend', '?')})")
    for m in r.get("main", []):
        print(f"  main CPU {m['cpu']} (APIC {m['apic_id']}, NUMA {m['numa']}): {m['why']}")
    for n in r.get("nodes", []):
        print(f"  sidecar node {n['index']}: CPUs {n['base_cpu']}..{n['base_cpu'] + n['cpu_count'] - 1} "
              f"({n['sidecar_cpus']} sidecar), NUMA {n['numa']}, memory at {n['memory_base']:#x}")
    bring = r["bringup_us"] / 1e6
    print(f"bring-up: {r['ready']}/{r['sidecar_cpus']} ready in {bring * 1000:.1f} ms "
          f"({r['rounds']} fan-out rounds), {r['pages_per_cpu']} pages per CPU")
    for f in r.get("failed", []):
        print(f"  failed: cpu {f['cpu']} (APIC {f['apic_id']}): {f['reason']}")
    rt = r.get("roundtrip_ns", {})
    if rt.get("samples"):
        print(f"command round trip (NONE, {rt['samples']} samples): median {rt['median'] / 1000:.1f} us, "
              f"p99 {rt['p99'] / 1000:.1f} us")
    vp = r.get("vp")
    if vp:
        rate = vp["intercepts"] / (vp["us"] / 1e6) if vp.get("us") else 0
        print(f"VPs: {vp['passed']}/{vp['cpus']} sidecar CPUs ran the guest test: {vp['intercepts']} "
              f"intercepts handled ({rate:.0f}/s), {vp['stops']} STOPs, CPUID {vp['cpuid']}"
              + (f"; {vp['error']}" if vp.get("error") else ""))
    fw = r.get("svm_firmware")
    if fw:
        print(f"VPs (svm): the guest firmware ran on {fw['vps']} sidecar VPs at once, one SMP guest: reset "
              f"vector to long mode, its own page fault, {fw['done']}/{fw['vps']} done; shared counter "
              f"{fw['counter']} = {fw['vps']} x {fw['iterations']}; {fw['halted_waits']} VPs woken by an "
              f"injected interrupt from a halt held in the sidecar; {fw['intercepts']} intercepts"
              + (f"; {fw['error']}" if fw.get("error") else ""))
    lg = r.get("linux_guest")
    if lg:
        print(f"Linux guest on sidecar cpu {lg['cpu']} (svm, the main kernel its VMM): "
              f"{'ok' if lg['ok'] else 'NOT ok'}; banner, memory map, command line: "
              f"{', '.join('yes' if lg[k] else 'no' for k in ('banner', 'e820', 'cmdline'))}; {lg['lines']} console lines through the emulated COM1, {lg['intercepts']} "
              f"intercepts; ended: {lg.get('end') or lg.get('error')}")
        for line in a.guest_lines[:GUEST_LINES]:
            print("  | " + line)
        if len(a.guest_lines) > GUEST_LINES:
            print(f"  | ... ({len(a.guest_lines) - GUEST_LINES} more lines; the last: {a.guest_lines[-1]})")
    cp = r.get("compute")
    if cp:
        print(f"computation: {cp['cpus']} VPs ran at once, each hashing guest memory chosen by its index "
              f"and reporting through IO intercepts: {cp['passed']}/{cp['cpus']} results right "
              f"({cp['intercepts']} intercepts in {cp['us'] / 1000:.1f} ms)"
              + (f"; {cp['error']}" if cp.get("error") else ""))
    conv = r.get("converted", [])
    if conv:
        good = sum(1 for c in conv if c["ok"])
        print(f"converted: {good}/{len(conv)} CPUs now run main-kernel work: " +
              ", ".join(f"cpu {c['cpu']} (reports APIC {c['reported_apic_id']})" for c in conv))
    n, rows = linux_baseline(r["cpus"])
    for (bn, ver, lguest, lwall, when) in rows:
        lg, lw = seconds(lguest), seconds(lwall)
        if lg:
            note = "" if bn == r["cpus"] else f" (measured at {bn} vCPUs)"
            wall_ratio = f", {lw / bring:.0f}x in wall time" if lw else ""
            print(f"Linux {ver} baseline{note}: {lguest} guest time, {lwall} wall "
                  f"(tests/bench/linux-baseline.json, measured {when}); this run: {bring:.3f} s (the sidecar's clock follows the "
                  f"host's), {lg / bring:.0f}x in guest time{wall_ratio}")
    print(f"report: {a.json}")
    print(f"timeline: {a.svg} (trace for Perfetto: {os.path.splitext(a.svg)[0]}.trace.json)")
    print(f"result: {'ok' if r.get('ok') else 'NOT ok'} (wall time {wall:.1f} s)")


def main_linux(a):
    """--main linux: tests/linux/run.py boots the shim with Debian's kernel
    and the test initramfs; /init runs driver/tests/demo.sh."""
    initramfs = os.path.join(a.build, "tests", "linux", "initramfs.cpio.gz")
    if not os.path.isfile(initramfs) or not os.path.isdir(os.path.join(a.build, "driver")):
        die(f"{initramfs} or the Linux driver is missing: the driver needs Debian's kernel headers, "
            "fetched when the build is configured (see docs/linux-driver.md)")
    if a.qemu_arg:
        die("--qemu-arg is not supported with --main linux")
    ko = []
    if a.linux != "6.1":
        # The module for that kernel (Debian 13's headers and compiler, in
        # a Debian 13 root): not a default target; up to date after this.
        target = f"sidecar-{a.linux}.ko"
        build_cmd = ["meson", "compile", "-C", a.build, target]
        print("sidecar demo: " + " ".join(build_cmd), flush=True)
        if subprocess.run(build_cmd, stdout=subprocess.DEVNULL if a.quiet else None).returncode != 0:
            die(f"building {target} failed ({' '.join(build_cmd)})", 1)
        ko = ["--series", a.linux, "--ko", os.path.join(a.build, "driver", target)]
    mem = "2G" if a.cpus > 128 else "1G"
    cmd = ["/usr/bin/python3", os.path.join(TOP, "tests", "linux", "run.py"), "--qemu", a.qemu,
           "--accel", a.accel, "--shim", a.shim, "--build", a.build, "--initramfs", initramfs,
           "--smp", str(a.cpus), "--numa", str(a.numa), "--memory", mem, "--test", "demo",
           "--timeout", str(a.timeout), "--json"] + ko
    if a.qemu10:
        # Linux keeps x2APIC mode (and so reaches APIC IDs above 254) only
        # with interrupt remapping (docs/linux.md, Limits).
        cmd += ["--qemu-arg=-device", "--qemu-arg=intel-iommu,intremap=on,eim=on"]
    if a.append:
        cmd += ["--append", a.append]
    if not a.quiet:
        cmd.append("--live")
    print("sidecar demo (Linux main kernel): " + " ".join(cmd), flush=True)
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = None
    lines = []
    # A progress line whenever the run is silent (always with --quiet):
    # the time, the estimate from the last run, the console's last line.
    ticker = Progress("demo (Linux)", "console lines", estimate_s=last_wall(a, cmd)).start()
    for line in p.stdout:
        line = line.rstrip("\n")
        if not a.quiet:
            ticker.heard()
        ticker.update(done=len(lines) + 1, stage="last: " + (line[:70] + "..." if len(line) > 70 else line))
        if line.startswith("{") and '"report"' in line:
            try:
                result = json.loads(line)
                continue
            except json.JSONDecodeError:
                pass
        lines.append(line)
        if not a.quiet:
            print(line, flush=True)
    code = p.wait()
    ticker.stop()
    wall = time.monotonic() - start
    if code == 77:
        why = [l[len("SKIPPED: "):] for l in lines if l.startswith("SKIPPED: ")]
        die("cannot run here: " + (why[-1] if why else lines[-1] if lines
                                   else "Debian's kernel could not be fetched"), a.skip_status)
    r = (result or {}).get("report")
    if not r:
        if a.quiet:
            print("\n".join(lines[-60:]))
        die(f"no report from the Linux VM (run.py exit status {code})", 1)
    r["demo"] = {"main": "linux", "command": cmd, "wall_s": round(wall, 3), "run_exit": code,
                 "linux_entry_wall_s": (result or {}).get("linux_entry_wall_s")}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w", encoding="utf-8") as fh:
        json.dump(r, fh, indent=1)
        fh.write("\n")
    print()
    print("=" * 72)
    print(f"VM: {a.cpus} vCPUs, {a.numa} NUMA nodes; Linux {r.get('kernel', '?')} on CPUs {r.get('online', '?')} "
          f"at boot (maxcpus={r.get('maxcpus', '?')}, boot_cpus={r.get('boot_cpus', '?')})")
    print(f"  {r.get('smp_line', '')}")
    print(f"  {r.get('present_count', '?')} CPUs present; {r.get('offline_count', '?')} offline and onlinable "
          f"in sidecar; MemTotal {r.get('memtotal_kb', 0) // 1024} MiB")
    print(f"sidecar.ko: {r.get('nodes', '?')} sidecar nodes (/dev/mshv_vtl_sidecar*), loaded in "
          f"{r.get('load_s', '?')} s; response vector {r.get('ping_vector', '?')}")
    print(f"ping from user space: {r.get('ping_answered', '?')}/{r.get('ping_of', '?')} sidecar CPUs answered "
          f"({r.get('ping_irqs', '?')} response IRQs) in {r.get('ping_s', '?')} s")
    print(f"VPs: {r.get('vp_passed', '?')}/{r.get('vp_cpus', '?')} sidecar CPUs ran the guest test at once: "
          f"{r.get('vp_intercepts', '?')} intercepts handled in user space, {r.get('vp_stops', '?')} STOPs, "
          f"{r.get('vp_s', '?')} s")
    conv = r.get("converted") or []
    print(f"converted: {len(conv)} CPUs onlined into Linux (Linux CPUs {', '.join(map(str, conv)) or '-'}); "
          f"nproc {r.get('nproc_before', '?')} -> {r.get('nproc_after', '?')}; a task ran on "
          f"{r.get('converted_work', '?')} of them; online now {r.get('online_after', '?')}")
    print(f"after: {r.get('ping_after_answered', '?')} sidecar CPUs still answer")
    ex = [l for l in (r.get("example") or "").split("|") if l]
    print("hostlib example: " + (ex[-1] if ex else "-"))
    print(f"report: {a.json}")
    ok = code == 0 and r.get("ok") is True
    print(f"result: {'ok' if ok else 'FAILED'} (wall time {wall:.1f} s)")
    for f in r.get("failures") or []:
        print(f"  failure: {f}")
    if not ok and r.get("error"):
        print(f"  error: {r['error']}")
    return 0 if ok else 1


def main():
    a = parse_args()
    if a.main == "linux":
        return main_linux(a)
    cmd = qemu_command(a)
    print("sidecar demo: " + " ".join(cmd), flush=True)
    start = time.monotonic()
    if a.gdb is not None:
        print(f"demo: QEMU waits for gdb on port {a.gdb} (no time bound). In another terminal:\n  "
              + " ".join(shlex.quote(w) for w in gdb_command(a))
              + "\nthen for example: break mk_main, continue (docs/boot.md section 9)", flush=True)
    code, report, lines = run_vm(a, cmd)
    wall = time.monotonic() - start
    said = kernel_messages(lines)
    if code is None:
        if a.quiet:
            print("\n".join(lines[-40:]))
        die(f"the VM did not finish within {a.timeout:.0f} s" + "".join("\n  " + l for l in said), 124)
    if report is None:
        if a.quiet:
            print("\n".join(lines[-40:]))
        die(f"no report from the VM (QEMU exit status {code})" + "".join("\n  " + l for l in said), 1)
    try:
        r = json.loads(report)
    except json.JSONDecodeError as exc:
        die(f"the report is not JSON: {exc}", 1)
    a.guest_lines = [l[len("linux: "):] for l in lines if l.startswith("linux: ")]
    a.kernel_lines = said
    vp, conv, rt = r.get("vp") or {}, r.get("converted") or [], r.get("roundtrip_ns") or {}
    cp = r.get("compute") or {}
    fw = r.get("svm_firmware") or {}
    handled = vp.get("intercepts", 0) + cp.get("intercepts", 0)
    busy_us = vp.get("us", 0) + cp.get("us", 0)
    r["demo"] = {
        "qemu": cmd,
        "wall_s": round(wall, 3),
        "qemu_exit": code,
        "vp_backend": r.get("vp_backend"),
        "vp_runs_ok": cp.get("passed", 0) or fw.get("done", 0),
        "vp_tests_ok": vp.get("passed", 0) or fw.get("done", 0),
        "linux_guest": (r.get("linux_guest") or {}).get("ok"),
        "linux_guest_lines": a.guest_lines[:GUEST_LINES],
        "converted": sum(1 for c in conv if c.get("ok")),
        "roundtrip_us": {"median": rt.get("median", 0) / 1000, "p99": rt.get("p99", 0) / 1000},
        "intercepts_per_s": round(handled / (busy_us / 1e6)) if busy_us else 0,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w", encoding="utf-8") as fh:
        json.dump(r, fh, indent=1)
        fh.write("\n")
    if not write_svg(a.svg, r):
        a.svg = "(none: no sidecar CPUs)"
    summary(a, r, wall)
    ok = code == EXIT_SUCCESS and r.get("ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
