#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run the guest firmware on plain QEMU (no VMM: nothing answers the index
port, so it is one VP with index 0) and check its serial console and exit
status: long mode, the page fault handled, the counter at exactly the
default iteration count, every wake interrupt (from the local APIC timer)
and its wake-up, done, and isa-debug-exit with FW_QEMU_EXIT_OK. The run
is bounded by --timeout; nothing sleeps. The expected values come from
firmware_ports.h. On failure the whole serial log is printed."""

import argparse
import os
import shlex
import shutil
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "qemu"))
import fwports  # noqa: E402
from vmrun import run_bounded  # noqa: E402


def expected_lines(k):
    lines = [
        "fw: long mode, VP index 0 (no VMM: one VP)",
        f"fw: page fault at 0x{k['FW_PF_GVA']:x} handled",
        f"fw: counter +{k['FW_DEFAULT_ITERATIONS']}, value {k['FW_DEFAULT_ITERATIONS']}",
    ]
    for i in range(1, k["FW_DEFAULT_WAKES"] + 1):
        lines.append(f"fw: interrupt vector 0x{k['FW_IRQ_VECTOR']:x} count {i}")
        lines.append(f"fw: woke {i}")
    lines.append("fw: done")
    return lines


def check_image(path, k):
    size = os.path.getsize(path)
    problems = []
    if size != k["FW_IMAGE_SIZE"] or size % 0x10000 or size > 2 << 20:
        problems.append(f"{path}: {size} bytes, expected FW_IMAGE_SIZE {k['FW_IMAGE_SIZE']} (a multiple of 64 KiB, at most 2 MiB)")
    with open(path, "rb") as f:
        f.seek(size - 16)
        if f.read(1) != b"\xe9":
            problems.append(f"{path}: no near jump at the reset vector (16 bytes before the end)")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--bios", required=True)
    ap.add_argument("--header", default=os.path.join(here, "firmware_ports.h"))
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()

    if not shutil.which(args.qemu):
        print(f"skipped: {args.qemu} not found")
        return 77
    k = fwports.read_c(args.header)
    problems = check_image(args.bios, k)
    cmd = [args.qemu, "-bios", args.bios, "-nographic", "-monitor", "none", "-serial", "stdio",
           "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-m", "64M"]
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    code, lines, wall = run_bounded(cmd, args.timeout)
    fw = [l for l in lines if l.startswith("fw: ")]
    want = expected_lines(k)
    exit_ok = (k["FW_QEMU_EXIT_OK"] << 1) | 1
    if code is None:
        problems.append(f"QEMU did not finish within {args.timeout} s")
    elif code != exit_ok:
        problems.append(f"QEMU exit status {code}, expected {exit_ok} (FW_QEMU_EXIT_OK)")
    if fw != want:
        for i in range(max(len(fw), len(want))):
            got = fw[i] if i < len(fw) else "(nothing)"
            exp = want[i] if i < len(want) else "(nothing)"
            if got != exp:
                problems.append(f"firmware line {i + 1}: {got!r}, expected {exp!r}")
                break
    if problems:
        print("---- serial console ----")
        for l in lines:
            print(l)
        print("------------------------")
        for p in problems:
            print("FAIL: " + p)
        return 1
    print(f"ok: {len(fw)} firmware lines as expected, exit status {code}, {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
