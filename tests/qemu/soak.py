#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The soak (./sidecar soak): boot a VM whose main kernel runs mk.soak on
every sidecar CPU (mainkernel/scenarios/soak.c): --commands commands of a random mix
per CPU, driven asynchronously, proving that no completion is lost or
duplicated; prints the throughput. Exit 0 when the soak passed.

  soak.py BUILD [--cpus 64] [--commands 100000] [--timeout S] [--json FILE]

The default size is the full soak (64 vCPUs, 10^5 commands per sidecar
CPU); the test suite runs a small one (qemu-soak-small).

Every few seconds a progress line: commands done and left (the main
kernel prints its count every 10 s), the time so far and an estimate of
the time left, the same on a terminal and in a CI log. The QEMU binary:
--qemu, else $SIDECAR_QEMU, else the build directory's -Dqemu.

Exit status: 0 the soak passed; 1 it failed; 2 a usage error (the valid
options are named), a missing QEMU or shim, or a --json path that cannot
be written (checked before the VM boots)."""

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import buildconf  # noqa: E402
from cli import Parser, unwritable  # noqa: E402
from progress import Progress  # noqa: E402
from vmrun import run_bounded  # noqa: E402


def load_run():
    spec = importlib.util.spec_from_file_location("sidecar_run", os.path.join(HERE, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_with_progress(run, args, total):
    """run.run, plus a progress line every few seconds from the main
    kernel's "main: soak: S s, D/T commands" lines."""
    cmd = run.qemu_command(args)
    print("+ " + " ".join(cmd), flush=True)
    ticker = Progress("soak", "commands", total=total)

    def on_line(text):
        m = re.match(r"main: soak: \d+ s, (\d+)/(\d+) commands", text)
        if m:
            ticker.update(done=int(m.group(1)), total=int(m.group(2)))
        elif text.startswith("sidecar: bring-up done"):
            ticker.update(stage="sidecar CPUs up")
        elif text.startswith("main: soak: ") and " CPUs x " in text:
            ticker.update(stage="soak running")
            ticker.begin()
        elif text.startswith("main: soak: ok") or text.startswith("main: soak: FAILED"):
            ticker.update(stage="soak finished, checking")
        if args.live:
            print(text, flush=True)
            ticker.heard()

    ticker.start()
    try:
        code, lines, wall = run_bounded(cmd, args.timeout, on_line)
    finally:
        ticker.stop()
    report = next((l[len("SIDECAR-REPORT "):] for l in reversed(lines) if l.startswith("SIDECAR-REPORT ")), None)
    return code, report, lines, wall


def main():
    ap = Parser(prog="soak.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", type=int, default=64, help="vCPUs of the VM (one is the main CPU)")
    ap.add_argument("--commands", type=int, default=100000, help="commands per sidecar CPU")
    ap.add_argument("--memory", help="VM memory (default: 256M up to 8 vCPUs, else 1G)")
    ap.add_argument("--timeout", type=float, help="bound on the whole run in seconds (default from the size)")
    ap.add_argument("--json", help="write the soak figures here")
    ap.add_argument("--qemu", help="the QEMU binary (default: $SIDECAR_QEMU, else the build's -Dqemu)")
    ap.add_argument("--live", action="store_true", help="print the console as it comes")
    a = ap.parse_args()
    if a.cpus < 2 or a.cpus > 255 or a.commands < 1:
        ap.error("--cpus must be 2-255 and --commands at least 1")
    a.qemu = buildconf.qemu(a.build, a.qemu)
    if not shutil.which(a.qemu):
        ap.exit(2, f"soak.py: {a.qemu} not found (./sidecar deps installs qemu-system-x86; "
                   "-Dqemu, $SIDECAR_QEMU or --qemu name another)\n")
    shim = os.path.join(a.build, "shim/arch/x86_64/sidecar-shim.elf")
    if not os.path.isfile(shim):
        ap.exit(2, f"soak.py: {shim} is missing: build first (./sidecar build)\n")
    if a.json and unwritable("--json", a.json):
        ap.exit(2, f"soak.py: {unwritable('--json', a.json)}\n")
    run = load_run()
    # Generous: 1000 commands/s over all CPUs at the least, 10 minutes more.
    timeout = a.timeout or 600 + (a.cpus - 1) * a.commands / 1000
    args = argparse.Namespace(
        qemu=a.qemu, shim=shim, smp=a.cpus, topology=None, numa=None, object=None,
        memory=a.memory or ("256M" if a.cpus <= 8 else "1G"), cpu="max",
        append=f"mk.soak mk.soak_commands={a.commands}", backend="ring3", timeout=timeout, live=a.live, accel="tcg",
        ready=a.cpus - 1, failed=0, failed_apic=None, main=None, nodes=None, ping=True, expect_ok=True,
        disabled=False, expect=["soak.ok=true", "soak.lost=0", "soak.duplicated=0"], console=None,
        numa_mem=None)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    code, report, lines, wall = run_with_progress(run, args, (a.cpus - 1) * a.commands)
    problems = run.check(args, code, report, wall, lines)
    soak = None
    if report:
        try:
            soak = json.loads(report).get("soak")
        except json.JSONDecodeError:
            pass
    if soak and soak.get("commands", 0) < (a.cpus - 1) * a.commands:
        problems.append(f"only {soak.get('commands')} commands completed")
    if problems and not a.live:
        print("\n".join(lines))
    if soak:
        mn, med, mx = soak["cpu_per_s"]
        print(f"soak {started}: {soak['cpus']} sidecar CPUs x {soak['commands_per_cpu']} commands: "
              f"{soak['commands']} commands in {soak['us'] / 1e6:.1f} s, {soak['per_s']} commands/s "
              f"(per CPU min {mn}, median {med}, max {mx}); {soak['intercepts']} intercepts, "
              f"{soak['stopped']} runs stopped, {soak['stops']} STOPs; lost {soak['lost']}, "
              f"duplicated {soak['duplicated']}; mix {soak['kinds']}; wall {wall:.1f} s")
        if a.json:
            with open(a.json, "w", encoding="utf-8") as fh:
                json.dump({"date": started, "vcpus": a.cpus, "wall_s": round(wall, 1), **soak}, fh, indent=1)
                fh.write("\n")
    for p in problems:
        print("FAIL: " + p)
    print("PASS" if not problems else "SOAK FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
