#!/usr/bin/python3
"""Command round-trip bench: boots the shim + sidecar kernel + bare-metal
main kernel with mk.bench_roundtrip and prints, for one sidecar CPU, the
round trip of a RUN_VP whose guest exits at once (HLT intercept) and of a
NONE command, beside a bare IPI round trip between the same two CPUs after
that CPU was converted (mainkernel/rtbench.h). All three measured with the
TSC in the same QEMU run. Not a test: nothing is asserted.

usage: roundtrip.py BUILD_DIR [--cpus 8] [--runs 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    shim = os.path.join(a.build, "shim", "arch", "x86_64", "sidecar-shim.elf")
    print("| run | RUN_VP median / p99 | NONE median / p99 | bare IPI median / p99 | RUN_VP / IPI (median) |")
    print("| --- | --- | --- | --- | --- |")
    for run in range(1, a.runs + 1):
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            p = subprocess.run([sys.executable, os.path.join(HERE, "..", "qemu", "run.py"), "--shim", shim,
                                "--smp", str(a.cpus), "--timeout", "300", "--append", "mk.bench_roundtrip",
                                "--report-file", tmp.name], capture_output=True, text=True)
            try:
                r = json.load(open(tmp.name, encoding="utf-8"))["rt_bench_ns"]
            except (OSError, ValueError, KeyError):
                print(p.stdout[-3000:])
                sys.exit(f"run {run}: no bench result")
        if not r["ok"]:
            sys.exit(f"run {run}: {r['error']}")
        us = lambda v: f"{v[0] / 1000:.1f} / {v[1] / 1000:.1f} us"
        print(f"| {run} | {us(r['run_vp'])} | {us(r['none'])} | {us(r['ipi'])} | "
              f"{r['run_vp'][0] / r['ipi'][0]:.2f}x |")


if __name__ == "__main__":
    main()
