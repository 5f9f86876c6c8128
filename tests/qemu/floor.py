#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Boot the floor kernel (floor/, the bring-up bench's denominator) in QEMU
and check its result from the serial console and QEMU's exit status.

The floor kernel prints "floor: starting N CPUs", "floor: done ..." and one
"FLOOR-REPORT {json}" line, then exits through isa-debug-exit: status 33
when every AP checked in, 35 when one did not. Checked here: the exit
status (--expect-exit), the counts (--aps, --checked-in, --failed-apic),
and that the timeline is a fan-out: every AP that checked in did so after
its INIT, was started by the boot CPU or by an AP that had checked in
before that INIT, and its round is its starter's plus one. --trace PATH
also exports the run as a Perfetto trace (tests/qemu/timeline.py), loads it
back and checks its schema. Bounded by --timeout; nothing sleeps.

usage: floor.py --kernel FLOOR_ELF --smp N [--append TEXT] [--aps N]
                [--checked-in N] [--failed-apic ID] [--expect-exit 33]
                [--trace PATH] [--svg PATH] [--timeout S]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timeline  # noqa: E402
from vmrun import run_bounded  # noqa: E402


def check_fan_out(r, bsp=0):
    problems = []
    rows = {e[0]: e for e in r.get("timeline", [])}
    for cpu, apic, rnd, by, init, checkin in rows.values():
        if not checkin:
            continue
        if checkin < init:
            problems.append(f"cpu {cpu}: check-in at {checkin} us before its INIT at {init} us")
        if by == bsp:
            if rnd != 1:
                problems.append(f"cpu {cpu}: started by the boot CPU in round {rnd}, expected 1")
            continue
        starter = rows.get(by)
        if starter is None:
            problems.append(f"cpu {cpu}: started by cpu {by}, which is no AP of the report")
            continue
        if not starter[5] or starter[5] > init:
            problems.append(f"cpu {cpu}: INIT at {init} us from cpu {by}, which checked in at {starter[5]} us")
        if rnd != starter[2] + 1:
            problems.append(f"cpu {cpu}: round {rnd}, its starter cpu {by} was in round {starter[2]}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU", "qemu-system-x86_64"))
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--smp", type=int, default=8)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--append", default="")
    ap.add_argument("--aps", type=int, help="APs the floor must have found (default: smp - 1)")
    ap.add_argument("--checked-in", type=int, help="APs that must have checked in (default: aps)")
    ap.add_argument("--failed-apic", type=int, action="append", default=[],
                    help="an APIC ID that must be reported failed (repeatable)")
    ap.add_argument("--expect-exit", type=int, default=33)
    ap.add_argument("--trace", help="export the run as a Perfetto trace here and check it")
    ap.add_argument("--svg", help="draw the timeline here")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    cmd = [a.qemu, "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", a.memory, "-smp", str(a.smp),
           "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", a.kernel]
    if a.append:
        cmd += ["-append", a.append]
    print("+ " + " ".join(cmd), flush=True)
    code, lines, wall = run_bounded(cmd, a.timeout)
    print("---- serial console ----")
    for line in lines:
        print(line[:400] + (" ..." if len(line) > 400 else ""))
    print("---- end ----")
    problems = []
    if code is None:
        problems.append(f"QEMU did not finish within {a.timeout} s")
    elif code != a.expect_exit:
        problems.append(f"QEMU exit status {code}, expected {a.expect_exit}")
    text = next((l[len("FLOOR-REPORT "):] for l in lines if l.startswith("FLOOR-REPORT ")), None)
    r = None
    if text is None:
        problems.append("no FLOOR-REPORT line on the serial console")
    else:
        try:
            r = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"FLOOR-REPORT is not JSON: {exc}")
    if r is not None:
        aps = a.aps if a.aps is not None else a.smp - 1
        want_in = a.checked_in if a.checked_in is not None else aps
        if r.get("aps") != aps:
            problems.append(f"aps: {r.get('aps')}, expected {aps}")
        if r.get("checked_in") != want_in:
            problems.append(f"checked_in: {r.get('checked_in')}, expected {want_in}")
        if sorted(r.get("failed_apic", [])) != sorted(a.failed_apic):
            problems.append(f"failed_apic: {r.get('failed_apic')}, expected {a.failed_apic}")
        if len(r.get("timeline", [])) != aps:
            problems.append(f"timeline: {len(r.get('timeline', []))} APs, expected {aps}")
        if want_in and not r.get("bringup_us"):
            problems.append("bringup_us is 0")
        if not any(l.startswith("floor: starting ") for l in lines) or \
                not any(l.startswith("floor: done: ") for l in lines):
            problems.append("no 'floor: starting' / 'floor: done' line (the bench's wall-time marks)")
        problems += check_fan_out(r)
        rows = timeline.rows_from_floor(r)
        if a.svg and not timeline.write_svg(a.svg, rows, f"floor kernel: {a.smp} vCPUs"):
            problems.append("no timeline drawn")
        if a.trace:
            timeline.write_trace(a.trace, rows, "floor")
            with open(a.trace, encoding="utf-8") as fh:
                problems += [f"trace: {p}" for p in timeline.check_trace(json.load(fh), [x["cpu"] for x in rows])]
    print(f"wall time {wall:.1f} s")
    for p in problems:
        print("FAIL: " + p)
    print("PASS" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
