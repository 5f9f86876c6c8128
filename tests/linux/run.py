#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Boot Debian's cloud kernel under the sidecar shim in QEMU and check what
Linux saw.

QEMU runs the shim (-kernel) with the bzImage and the test initramfs as
Multiboot modules (-initrd "bzImage,initramfs"). The initramfs's /init
prints one "LINUX-REPORT {json}" line and exits QEMU through isa-debug-exit
(status 33). The run is bounded by --timeout (wall clock); nothing here
sleeps. On failure the whole serial log is printed.

The kernel: --kernel PATH, else Debian's cloud kernel of --series (6.1,
the default: Debian 12's; 6.12: Debian 13's) fetched into BUILD/linux by
fetch.py (--build BUILD); exit status 77 (skipped) only when it cannot be
fetched.

--ko PATH: the sidecar.ko built for that kernel (driver/build.py), put at
/lib/modules/sidecar.ko by a second archive after the initramfs (Linux
unpacks concatenated archives in order, a later file replacing an earlier
one). A PATH that holds "SKIP: reason" instead of a module (build.py
--skip-ok: the headers or the Debian root could not be had) makes the test
exit 77 with that reason.

Checks:
  --main N        sidecar on with N main CPUs: Linux brought up exactly
                  those (dmesg "smp: Brought up ... N CPUs", the online
                  list, nproc, the online CPUs' APIC IDs = boot_cpus=),
                  every other vCPU present, offline and onlinable, the
                  sidecar kernel reported smp - N CPUs ready, every range
                  the shim reserved for sidecar is reserved in Linux's
                  e820 map, and sidecar.handoff= names the block the shim
                  built (also reserved)
  --all-cpus      sidecar off: every vCPU online, no maxcpus=, no handoff
  --expect PATH=VALUE / PATH~TEXT   a LINUX-REPORT value (dotted path)
  --console TEXT  a serial line contains TEXT (repeatable)
  --exit N        the expected QEMU exit status (default 33; with another
                  status no report is required)
  --module PATH   replace the modules (repeatable; KERNEL and INITRAMFS
                  name the usual ones)
  --corrupt OFFSET=HEXBYTES   boot a copy of module 0 with bytes replaced
  --kvm-or-skip   use KVM (x2APIC); exit 77 when KVM does not work here
  --numa-cpus L   NUMA nodes from per-node vCPU ranges ('/' between nodes),
                  for interleaved layouts
  --qemu-arg ARG  more QEMU arguments (repeatable)
"""

import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_REPORT = (0x10 << 1) | 1
SKIP = 77

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "qemu"))
import fetch  # noqa: E402
from vmrun import run_bounded  # noqa: E402

_spec = importlib.util.spec_from_file_location("qemu_run", os.path.join(HERE, "..", "qemu", "run.py"))
qemu_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qemu_run)


def size_mb(text):
    return qemu_run.size_bytes(text) >> 20


def qemu_command(args, modules):
    cmd = [args.qemu, "-machine", "q35", "-accel", args.accel, "-cpu", "max",
           "-m", args.memory, "-display", "none", "-no-reboot",
           "-serial", "stdio", "-monitor", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", args.shim,
           "-initrd", ",".join(m.replace(",", ",,") for m in modules),
           "-smp", str(args.smp)]
    if args.numa_cpus:
        # --numa-cpus "0-1,4-5/2-3,6-7": node d takes the vCPU ranges of the
        # d-th '/'-separated list (interleaved layouts); memory split evenly.
        lists = args.numa_cpus.split("/")
        per_mem = size_mb(args.memory) // len(lists)
        for d, ranges in enumerate(lists):
            cmd += ["-object", f"memory-backend-ram,id=m{d},size={per_mem}M",
                    "-numa", f"node,nodeid={d},memdev=m{d}," + ",".join(f"cpus={r}" for r in ranges.split(","))]
    elif args.numa > 1:
        # NUMA node d: an equal share of the memory and a contiguous range
        # of vCPU indices (the last node takes the remainder).
        per_mem = size_mb(args.memory) // args.numa
        per_cpu = args.smp // args.numa
        for d in range(args.numa):
            first = d * per_cpu
            last = args.smp - 1 if d == args.numa - 1 else first + per_cpu - 1
            cmd += ["-object", f"memory-backend-ram,id=m{d},size={per_mem}M",
                    "-numa", f"node,nodeid={d},cpus={first}-{last},memdev=m{d}"]
    cmd += args.qemu_arg or []
    # The VP tests from Linux user space run ring-3 guest programs.
    append = f"console=ttyS0 panic=-1 lxtest={args.test} sidecar.vp_backend=ring3"
    if args.append:
        append += " " + args.append
    cmd += ["-append", append]
    return cmd


def run(args, modules):
    cmd = qemu_command(args, modules)
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    start = time.monotonic()
    marks = {}

    def on_line(text):
        now = time.monotonic() - start
        if text.startswith("shim: entering Linux"):
            marks.setdefault("linux_entry_wall_s", now)
        if text.startswith("LINUX-REPORT "):
            marks.setdefault("report_wall_s", now)
        if "smp: Bringing up secondary CPUs" in text:
            marks["linux_cpus_started"] = 1
        elif "smp: Brought up" in text:
            marks.pop("linux_cpus_started", None)
        elif "linux_cpus_started" in marks:
            # ".... node  #0, CPUs:    #1  #2" and continuation lines
            marks["linux_cpus_started"] += len(re.findall(r"#\s*\d+", re.sub(r"node\s+#\d+", "", text)))
        m = BRINGUP.match(text)
        if m:
            marks["sidecar_ready"], marks["sidecar_bringup_us"] = int(m.group(1)), int(m.group(3))
        if args.live:
            print(text, flush=True)

    code, lines, wall = run_bounded(cmd, args.timeout, on_line)
    return code, lines, wall, marks


def cpulist(text):
    out = []
    for part in (text or "").split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out += range(int(a), int(b or a) + 1)
    return out


def reserved_union(e820):
    """[start, end) ranges Linux's firmware map calls Reserved, merged."""
    rs = sorted((int(s, 16), int(e, 16) + 1) for s, e, t in e820 if t == "Reserved")
    merged = []
    for s, e in rs:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return merged


def covered(ranges, b, e):
    return any(s <= b and e <= t for s, t in ranges)


SIDECAR_RANGE = re.compile(r"^shim: Linux: sidecar memory \[0x([0-9a-f]+), 0x([0-9a-f]+)\) reserved")
ENTERING = re.compile(r"^shim: entering Linux at 0x[0-9a-f]+ .*hand-off 0x([0-9a-f]+)\)")
BRINGUP = re.compile(r"^sidecar: bring-up done: (\d+) ready, (\d+) failed, (\d+) us")
RETURNED = re.compile(r"^shim: sidecar kernel returned: (\d+) ready, (\d+) failed")


def check(args, code, lines):
    problems = []
    if code is None:
        return [f"QEMU did not finish within {args.timeout} s"], None
    if code != args.exit:
        problems.append(f"QEMU exit status {code}, expected {args.exit}")
    for text in args.console or []:
        if not any(text in line for line in lines):
            problems.append(f"no serial line contains {text!r}")
    report_line = next((l for l in lines if l.startswith("LINUX-REPORT ")), None)
    if args.exit != EXIT_REPORT:
        return problems, None
    if report_line is None:
        return problems + ["no LINUX-REPORT line on the serial console"], None
    try:
        r = json.loads(report_line[len("LINUX-REPORT "):])
    except json.JSONDecodeError as exc:
        return problems + [f"LINUX-REPORT is not JSON: {exc}"], None
    if r.get("ok") is not True:
        problems.append(f"test {r.get('test')!r} failed: status {r.get('test_status')}, {r.get('failures')}")
    for spec in args.expect or []:
        p = qemu_run.check_expect(r, spec)
        if p:
            problems.append(p)
    smp = args.smp
    if r.get("present_count") != smp:
        problems.append(f"present CPUs {r.get('present')!r}, expected all {smp}")
    if args.main is not None:
        m = args.main
        for key, want in (("smp_brought_up", m), ("online_count", m), ("nproc", m), ("maxcpus", m)):
            if r.get(key) != want:
                problems.append(f"{key}: {r.get(key)!r}, expected {want}")
        if cpulist(r.get("online")) != list(range(m)):
            problems.append(f"online {r.get('online')!r}, expected 0-{m - 1} (the main CPUs first in the MADT)")
        boot = cpulist(r.get("boot_cpus"))
        if len(boot) != m:
            problems.append(f"boot_cpus={r.get('boot_cpus')!r}: {len(boot)} CPUs, expected {m}")
        if sorted(r.get("online_apic_ids") or []) != boot:
            problems.append(f"online CPUs have APIC IDs {r.get('online_apic_ids')}, the main CPUs are {boot}")
        if r.get("offline_count") != smp - m or r.get("offline_onlinable") is not True:
            problems.append(f"offline {r.get('offline')!r}: expected {smp - m} onlinable CPUs "
                            f"(not onlinable: {r.get('offline_not_onlinable')})")
        ret = next((RETURNED.match(l) for l in lines if RETURNED.match(l)), None)
        if not ret or int(ret.group(1)) != smp - m or int(ret.group(2)) != 0:
            problems.append(f"sidecar kernel: {ret.group(0) if ret else 'no result line'}, "
                            f"expected {smp - m} ready, 0 failed")
        reserved = reserved_union(r.get("e820") or [])
        ranges = [(int(a.group(1), 16), int(a.group(2), 16)) for a in map(SIDECAR_RANGE.match, lines) if a]
        if not ranges:
            problems.append("the shim logged no sidecar memory range")
        for b, e in ranges:
            if not covered(reserved, b, e):
                problems.append(f"sidecar memory [{b:#x}, {e:#x}) is not reserved in Linux's e820 map")
        ent = next((ENTERING.match(l) for l in lines if ENTERING.match(l)), None)
        handoff = int(ent.group(1), 16) if ent else None
        if not handoff or r.get("handoff") != f"{handoff:#x}":
            problems.append(f"sidecar.handoff={r.get('handoff')!r}, the shim built it at "
                            f"{hex(handoff) if handoff else None}")
        elif not covered(reserved, handoff, handoff + 8192):
            problems.append(f"the hand-off block at {handoff:#x} is not reserved in Linux's e820 map")
    if args.all_cpus:
        for key, want in (("smp_brought_up", smp), ("online_count", smp), ("nproc", smp),
                          ("maxcpus", None), ("handoff", ""), ("boot_cpus", "")):
            if r.get(key) != want:
                problems.append(f"{key}: {r.get(key)!r}, expected {want!r}")
    return problems, r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU", "qemu-system-x86_64"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--qemu-arg", action="append",
                    help="passed to QEMU as is (repeatable), e.g. -device intel-iommu,intremap=on,eim=on: "
                         "Linux 6.12 keeps x2APIC mode (APIC IDs above 254) only with interrupt remapping")
    ap.add_argument("--shim", required=True)
    ap.add_argument("--build", help="build directory (the kernel is fetched into BUILD/linux)")
    ap.add_argument("--kernel", help="the bzImage (default: fetched)")
    ap.add_argument("--series", default="6.1", help="the Debian cloud kernel series to fetch (6.1, 6.12)")
    ap.add_argument("--ko", help="sidecar.ko for this kernel, replacing the initramfs's")
    ap.add_argument("--initramfs")
    ap.add_argument("--guest-kernel", action="store_true",
                    help="also put the kernel into the initramfs as /guest/bzImage (a second, "
                         "concatenated archive), for a guest on a sidecar VP (lxtest=drv-linux-guest)")
    ap.add_argument("--module", action="append",
                    help="the modules instead of kernel + initramfs (KERNEL, INITRAMFS: those)")
    ap.add_argument("--corrupt", action="append", metavar="OFFSET=HEXBYTES",
                    help="boot a copy of module 0 with these bytes replaced")
    ap.add_argument("--smp", type=int, default=8)
    ap.add_argument("--numa", type=int, default=1, help="NUMA nodes (vCPUs and memory split evenly)")
    ap.add_argument("--numa-cpus", help="per NUMA node vCPU ranges, nodes separated by '/' (e.g. 0-1,4-5/2-3,6-7)")
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--test", default="boot", help="lxtest=NAME")
    ap.add_argument("--append", default="")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--main", type=int)
    ap.add_argument("--all-cpus", action="store_true")
    ap.add_argument("--expect", action="append")
    ap.add_argument("--console", action="append")
    ap.add_argument("--exit", type=int, default=EXIT_REPORT)
    ap.add_argument("--kvm-or-skip", action="store_true",
                    help="use KVM; exit 77 (skipped) when KVM does not work here")
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the report and timings as JSON at the end")
    ap.add_argument("--qemu10", metavar="SPEC",
                    help="run Debian 13's QEMU instead of --qemu (x2APIC, more than 255 vCPUs): auto "
                         "(made under --qemu10-dir), a Debian root or a QEMU binary "
                         "(tests/qemu10/qemu10.py); exit 77 when it cannot be had, 1 under CI=true")
    ap.add_argument("--qemu10-dir", help="where auto makes the root (BUILD/qemu10)")
    args = ap.parse_args()
    if args.qemu10:
        try:
            args.qemu = qemu_run.qemu10.resolve(args.qemu10, args.qemu10_dir or "qemu10")
        except qemu_run.qemu10.Unavailable as e:
            sys.exit(qemu_run.qemu10.unavailable_status(str(e)))

    def get_kernel():
        if args.kernel:
            return args.kernel
        if not args.build:
            ap.error("--kernel or --build is needed")
        try:
            return fetch.kernel(args.build, args.series)
        except fetch.FetchError as e:
            skip(f"cannot fetch the {fetch.describe(args.series)}: {e}")

    def skip(reason):
        print("*" * 72 + f"\nSKIPPED: {reason}\n" + "*" * 72, flush=True)
        sys.exit(SKIP)

    if args.kvm_or_skip:
        args.accel = "kvm"
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            print("SKIP: /dev/kvm is not usable")
            sys.exit(SKIP)
    if args.module:
        names = {"INITRAMFS": lambda: args.initramfs, "KERNEL": get_kernel}
        modules = [names[m]() if m in names else m for m in args.module]
    else:
        if not args.initramfs:
            ap.error("--initramfs is needed")
        modules = [get_kernel(), args.initramfs]
    tmpdir = None
    ko = None
    if args.ko:
        with open(args.ko, "rb") as f:
            ko = f.read()
        if ko.startswith(b"SKIP: "):
            skip(ko[len(b"SKIP: "):].decode(errors="replace").strip())
    if args.guest_kernel or ko:
        # Linux unpacks concatenated initramfs archives in order: the test
        # initramfs, then one with the guest's kernel and this kernel's
        # sidecar.ko (replacing the initramfs's).
        import initramfs as cpio_mod
        tmpdir = tempfile.mkdtemp(prefix="linux-overlay-")
        c = cpio_mod.Cpio()
        if args.guest_kernel:
            c.dir("guest")
            with open(get_kernel(), "rb") as f:
                c.file("guest/bzImage", f.read(), 0o644)
        if ko:
            c.dir("lib")
            c.dir("lib/modules")
            c.file("lib/modules/sidecar.ko", ko, 0o644)
        combined = os.path.join(tmpdir, "initramfs-overlay.cpio")
        with open(modules[1], "rb") as f:
            head = f.read()
        with open(combined, "wb") as f:
            f.write(head)
            f.write(b"\0" * (-len(head) % 512))
            f.write(c.finish())
        modules[1] = combined
    if args.corrupt:
        # A copy of module 0 with bytes replaced: OFFSET=HEXBYTES.
        tmpdir = tempfile.mkdtemp(prefix="linux-corrupt-")
        with open(modules[0], "rb") as f:
            data = bytearray(f.read())
        for spec in args.corrupt:
            off, _, hexbytes = spec.partition("=")
            b = bytes.fromhex(hexbytes)
            data[int(off, 0):int(off, 0) + len(b)] = b
        modules[0] = os.path.join(tmpdir, "bzImage.corrupt")
        with open(modules[0], "wb") as f:
            f.write(data)

    try:
        code, lines, wall, marks = run(args, modules)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    if args.kvm_or_skip and not any(l.startswith("shim:") for l in lines):
        print("\n".join(lines))
        print("SKIP: QEMU with KVM did not boot the shim (KVM does not work here)")
        sys.exit(SKIP)
    problems, report = check(args, code, lines)
    print(f"wall time {wall:.1f} s" + (f", Linux entered after {marks['linux_entry_wall_s']:.1f} s"
                                       if "linux_entry_wall_s" in marks else ""), flush=True)
    if args.json:
        print(json.dumps({"report": report, "wall_s": wall, **marks}))
    if problems:
        if not args.live:
            print("---- serial log ----")
            print("\n".join(lines))
            print("---- end of serial log ----")
        for p in problems:
            print("FAIL: " + p)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
