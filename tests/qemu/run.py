#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Boot the sidecar shim + kernel + bare-metal main kernel in QEMU and check
the report.

The guest's serial console is read line by line; the main kernel prints one
"SIDECAR-REPORT {json}" line and exits through isa-debug-exit (exit status
33 for its success code). The run is bounded by --timeout (wall clock);
nothing here sleeps. On failure the whole serial log is printed, so the
meson test log keeps it.

Expectations (all optional): --ready N (sidecar CPUs that must be IDLE),
--failed N, --failed-apic ID (repeatable), --ping, --main N, --nodes N,
--disabled (sidecar must be off), --expect PATH=VALUE (a report value:
PATH is dotted keys and list indices such as canary.ok or main.1.why,
VALUE is JSON or a bare string), --expect PATH~TEXT (the value contains
TEXT), --console TEXT (a serial line contains TEXT), --numa-mem SIZE (NUMA
node d owns [d*SIZE, (d+1)*SIZE): every sidecar node's memory must lie in
its own NUMA node's range).
"""

import argparse
import json
import os
import resource
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu10"))
from vmrun import run_bounded  # noqa: E402
import qemu10  # noqa: E402

EXIT_SUCCESS = (0x10 << 1) | 1
SKIP = 77  # meson's "skipped" exit status


def qemu_command(args):
    accel = args.accel
    if getattr(args, "tcg", None):
        accel += "," + args.tcg
    cmd = [args.qemu, "-machine", getattr(args, "machine", "q35"), "-accel", accel, "-cpu", args.cpu,
           "-m", args.memory, "-display", "none", "-no-reboot",
           "-serial", "stdio", "-monitor", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-kernel", args.shim]
    smp = str(args.smp)
    if args.topology:
        smp += "," + args.topology
    cmd += ["-smp", smp]
    for n in args.numa or []:
        cmd += ["-numa", n]
    if args.object:
        for o in args.object:
            cmd += ["-object", o]
    for f in getattr(args, "fw_cfg", None) or []:
        name, _, path = f.partition("=")
        cmd += ["-fw_cfg", f"name={name},file={path}"]
    for a in getattr(args, "qemu_arg", None) or []:
        cmd.append(a)
    append = args.append
    backend = getattr(args, "backend", "auto")
    if backend != "auto":
        append = f"sidecar.vp_backend={backend} {append}".strip()
    if append:
        cmd += ["-append", append]
    return cmd


def run(args):
    cmd = qemu_command(args)
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)

    def on_line(text):
        if args.live:
            print(text, flush=True)

    code, lines, wall = run_bounded(cmd, args.timeout, on_line)
    report = next((l[len("SIDECAR-REPORT "):] for l in reversed(lines) if l.startswith("SIDECAR-REPORT ")), None)
    return code, report, lines, wall


def lookup(report, path):
    """The value at a dotted path (keys and list indices), or KeyError."""
    v = report
    for part in path.split("."):
        if isinstance(v, list):
            v = v[int(part)]
        elif isinstance(v, dict) and part in v:
            v = v[part]
        else:
            raise KeyError(path)
    return v


def check_expect(r, spec):
    """One --expect: PATH=VALUE or PATH~TEXT; returns a problem or None."""
    sep = min((i for i in (spec.find("="), spec.find("~")) if i >= 0), default=-1)
    if sep < 0:
        return f"bad --expect {spec!r}"
    path, op, want = spec[:sep], spec[sep], spec[sep + 1:]
    try:
        got = lookup(r, path)
    except (KeyError, IndexError, ValueError):
        return f"{path}: not in the report"
    if op == "~":
        return None if want in str(got) else f"{path}: {got!r} does not contain {want!r}"
    try:
        want_v = json.loads(want)
    except json.JSONDecodeError:
        want_v = want
    return None if got == want_v else f"{path}: {got!r}, expected {want_v!r}"


def size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def check(args, code, report, wall, lines=()):
    problems = []
    if code is None:
        return [f"QEMU did not finish within {args.timeout} s"]
    if getattr(args, "fatal", None) is not None:
        # The shim must stop (exit 255 through isa-debug-exit) with this text.
        if code != 255:
            problems.append(f"QEMU exit status {code}, expected 255 (shim: FATAL)")
        if not any(l.startswith("shim: FATAL: ") and args.fatal in l for l in lines):
            problems.append(f"no 'shim: FATAL:' line contains {args.fatal!r}")
        return problems
    if code != EXIT_SUCCESS:
        problems.append(f"QEMU exit status {code}, expected {EXIT_SUCCESS}")
    if report is None:
        return problems + ["no SIDECAR-REPORT line on the serial console"]
    try:
        r = json.loads(report)
    except json.JSONDecodeError as exc:
        return problems + [f"SIDECAR-REPORT is not JSON: {exc}"]
    for spec in args.expect or []:
        p = check_expect(r, spec)
        if p:
            problems.append(p)
    for text in args.console or []:
        if not any(text in line for line in lines):
            problems.append(f"no serial line contains {text!r}")
    if args.disabled:
        if r.get("sidecar") is not False:
            problems.append("sidecar should have been disabled")
        return problems
    if r.get("sidecar") is not True:
        problems.append(f"sidecar disabled: {r.get('reason')}")
        return problems
    if args.ready is not None and r.get("ready") != args.ready:
        problems.append(f"ready: {r.get('ready')}, expected {args.ready}")
    failed = r.get("failed", [])
    if args.failed is not None and len(failed) != args.failed:
        problems.append(f"failed: {len(failed)} CPUs, expected {args.failed}: {failed}")
    for apic in args.failed_apic or []:
        if not any(f.get("apic_id") == apic for f in failed):
            problems.append(f"APIC ID {apic} should be reported failed: {failed}")
    if args.main is not None and r.get("main_cpus") != args.main:
        problems.append(f"main_cpus: {r.get('main_cpus')}, expected {args.main}")
    if args.nodes is not None and len(r.get("nodes", [])) != args.nodes:
        problems.append(f"nodes: {len(r.get('nodes', []))}, expected {args.nodes}")
    if args.numa_mem:
        span = size_bytes(args.numa_mem)
        for n in r.get("nodes", []):
            base, numa = n.get("memory_base", -1), n.get("numa", -1)
            if not numa * span <= base < (numa + 1) * span:
                problems.append(f"node {n.get('index')}: memory at {base:#x} is not in NUMA node {numa}")
    if args.ping and not r.get("ping_ok"):
        problems.append(f"ping failed: {r.get('ping_error')}")
    if args.expect_ok and not r.get("ok"):
        problems.append("report says ok=false")
    backend = getattr(args, "backend", "auto")
    if backend != "auto" and r.get("sidecar") and r.get("vp_backend") != backend:
        problems.append(f"vp_backend: {r.get('vp_backend')!r}, expected {backend!r}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU", "qemu-system-x86_64"))
    ap.add_argument("--shim", required=True)
    ap.add_argument("--smp", type=int, default=4)
    ap.add_argument("--topology", help="e.g. sockets=2,cores=3,threads=2")
    ap.add_argument("--numa", action="append", help="a -numa argument (repeatable)")
    ap.add_argument("--object", action="append", help="an -object argument (repeatable)")
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--cpu", default="max")
    ap.add_argument("--append", action="append",
                    help="the shim's command line (repeatable: the parts are joined with spaces)")
    ap.add_argument("--fw-cfg", action="append", metavar="NAME=FILE",
                    help="a file for the main kernel through QEMU's fw_cfg (repeatable)")
    ap.add_argument("--backend", choices=["auto", "ring3", "svm"], default="auto",
                    help="the VP backend to ask for (sidecar.vp_backend=); the report must say it")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--live", action="store_true", help="print the console as it comes")
    ap.add_argument("--ready", type=int)
    ap.add_argument("--failed", type=int)
    ap.add_argument("--failed-apic", type=int, action="append")
    ap.add_argument("--main", type=int)
    ap.add_argument("--nodes", type=int)
    ap.add_argument("--ping", action="store_true")
    ap.add_argument("--expect-ok", action="store_true")
    ap.add_argument("--disabled", action="store_true")
    ap.add_argument("--fatal", metavar="TEXT",
                    help="the shim must stop before any kernel runs, its FATAL line containing TEXT")
    ap.add_argument("--expect", action="append", help="PATH=VALUE or PATH~TEXT (repeatable)")
    ap.add_argument("--console", action="append", help="a serial line must contain this (repeatable)")
    ap.add_argument("--numa-mem", help="bytes per NUMA node (e.g. 128M), for the node memory check")
    ap.add_argument("--report-file", help="write the report JSON here")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--machine", default="q35",
                    help="-machine (e.g. q35,smm=off: no per-vCPU SMM address space, docs/x2apic.md)")
    ap.add_argument("--tcg", metavar="OPTS",
                    help="TCG settings appended to -accel, e.g. tb-size=64,thread=single")
    ap.add_argument("--qemu-arg", action="append", metavar="ARG",
                    help="one more QEMU argument (repeatable), e.g. --qemu-arg=-machine --qemu-arg=smm=off")
    ap.add_argument("--qemu10", metavar="SPEC",
                    help="run Debian 13's QEMU instead of --qemu: auto (made under --qemu10-dir), "
                         "a Debian root or a QEMU binary (tests/qemu10/qemu10.py); exit 77 when it "
                         "cannot be had, 1 under CI=true")
    ap.add_argument("--qemu10-dir", help="where auto makes the root (BUILD/qemu10)")
    ap.add_argument("--kvm-or-skip", action="store_true",
                    help="use KVM; exit 77 (skipped) when KVM does not work here")
    args = ap.parse_args()
    args.append = " ".join(args.append or [])
    if args.qemu10:
        try:
            args.qemu = qemu10.resolve(args.qemu10, args.qemu10_dir or "qemu10")
        except qemu10.Unavailable as e:
            return qemu10.unavailable_status(str(e))
    if args.kvm_or_skip:
        args.accel = "kvm"
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            print("SKIP: /dev/kvm is not usable")
            return SKIP
    code, report, lines, wall = run(args)
    if args.kvm_or_skip and not any(l.startswith("shim:") for l in lines):
        print("\n".join(lines))
        print("SKIP: QEMU with KVM did not boot the shim (KVM does not work here)")
        return SKIP
    problems = check(args, code, report, wall, lines)
    if args.report_file and report:
        with open(args.report_file, "w", encoding="utf-8") as fh:
            fh.write(report + "\n")
    if problems or not args.live:
        if not args.live:
            print("---- serial console ----")
            print("\n".join(lines))
            print("---- end ----")
    # ru_maxrss of the children this process waited for: QEMU alone (the
    # 10 wrapper execs it), in KiB.
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"wall time {wall:.1f} s, QEMU peak resident memory {rss_mib:.0f} MiB")
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
