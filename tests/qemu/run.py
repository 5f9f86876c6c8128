#!/usr/bin/python3
"""Boot the sidecar shim + kernel + bare-metal main kernel in QEMU and check
the report.

The guest's serial console is read line by line; the main kernel prints one
"SIDECAR-REPORT {json}" line and exits through isa-debug-exit (exit status
33 for its success code). The run is bounded by --timeout (wall clock);
nothing here sleeps. On failure the whole serial log is printed, so the
meson test log keeps it.

Expectations (all optional): --ready N (sidecar CPUs that must be IDLE),
--failed N, --failed-apic ID (repeatable), --ping, --main N, --nodes N,
--disabled (sidecar must be off).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time

EXIT_SUCCESS = (0x10 << 1) | 1
SKIP = 77  # meson's "skipped" exit status


def qemu_command(args):
    cmd = [args.qemu, "-machine", "q35", "-accel", args.accel, "-cpu", args.cpu,
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
    if args.append:
        cmd += ["-append", args.append]
    return cmd


def run(args):
    cmd = qemu_command(args)
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    report = None

    def reader():
        nonlocal report
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text)
            if args.live:
                print(text, flush=True)
            if text.startswith("SIDECAR-REPORT "):
                report = text[len("SIDECAR-REPORT "):]

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        code = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    t.join(timeout=5)
    wall = time.monotonic() - start
    return code, report, lines, wall


def check(args, code, report, wall):
    problems = []
    if code is None:
        return [f"QEMU did not finish within {args.timeout} s"]
    if code != EXIT_SUCCESS:
        problems.append(f"QEMU exit status {code}, expected {EXIT_SUCCESS}")
    if report is None:
        return problems + ["no SIDECAR-REPORT line on the serial console"]
    try:
        r = json.loads(report)
    except json.JSONDecodeError as exc:
        return problems + [f"SIDECAR-REPORT is not JSON: {exc}"]
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
    if args.ping and not r.get("ping_ok"):
        problems.append(f"ping failed: {r.get('ping_error')}")
    if args.expect_ok and not r.get("ok"):
        problems.append("report says ok=false")
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
    ap.add_argument("--append", default="")
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
    ap.add_argument("--report-file", help="write the report JSON here")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--kvm-or-skip", action="store_true",
                    help="use KVM; exit 77 (skipped) when KVM does not work here")
    args = ap.parse_args()
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
    problems = check(args, code, report, wall)
    if args.report_file and report:
        with open(args.report_file, "w", encoding="utf-8") as fh:
            fh.write(report + "\n")
    if problems or not args.live:
        if not args.live:
            print("---- serial console ----")
            print("\n".join(lines))
            print("---- end ----")
    print(f"wall time {wall:.1f} s")
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
