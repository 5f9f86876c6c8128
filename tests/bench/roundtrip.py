#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Command round-trip bench: boots the shim + sidecar kernel + bare-metal
main kernel with mk.bench_roundtrip and prints, for one sidecar CPU, the
round trip of a RUN_VP whose guest exits at once (HLT intercept) and of a
NONE command, beside a bare IPI round trip between the same two CPUs after
that CPU was converted (mainkernel/scenarios/rtbench.h). All three measured with the
TSC in the same QEMU run. Not a test: nothing is asserted.

Two ways of parking, each its own runs:
  hlt    the default: sidecar CPUs (and the converted CPU of the baseline)
         sleep in HLT, so every round trip includes waking a sleeping vCPU
         thread on the host (QEMU TCG), which on some hosts dominates;
  mwait  sidecar.mwait: they wait in MONITOR/MWAIT on the word the host
         writes, so the write alone wakes them: the sidecar kernel says so
         in its control pages (control_flag_wake_on_status_write) and
         libsidecar-host then sends no request IPI for RUN; the baseline
         becomes a store-and-poll ping-pong. QEMU TCG runs MWAIT as a pause
         loop, so no host thread sleeps and the figures show the protocol's
         own cost. Runs with 2 vCPUs (1 main, 1 sidecar), so the spinning
         vCPUs do not starve each other on a small host.
The bare wake-up column is the baseline of that row: an IPI round trip
(hlt) or a store round trip (mwait) to the same CPU after its conversion.

Two VP backends, each its own runs (--backend): ring3, whose guest exits at
a HLT, and svm, whose guest exits at an OUT through VMRUN and #VMEXIT
(docs/svm.md). The same QEMU invocation style, one after the other.

usage: roundtrip.py BUILD_DIR [--cpus 8] [--runs 3] [--park hlt,mwait]
                    [--backend ring3,svm]
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
    ap.add_argument("--park", default="hlt,mwait", help="hlt, mwait or both (comma separated)")
    ap.add_argument("--backend", default="ring3,svm", help="ring3, svm or both (comma separated)")
    a = ap.parse_args()
    shim = os.path.join(a.build, "shim", "arch", "x86_64", "sidecar-shim.elf")
    print("| backend | park | run | RUN_VP median / p99 | NONE median / p99 | bare wake-up median / p99 | "
          "RUN_VP / bare (median) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend, park, run in [(b, p, r) for b in a.backend.split(",") if b for p in a.park.split(",") if p
                               for r in range(1, a.runs + 1)]:
        if park not in ("hlt", "mwait"):
            sys.exit(f"--park: {park!r} is not hlt or mwait")
        if backend not in ("ring3", "svm"):
            sys.exit(f"--backend: {backend!r} is not ring3 or svm")
        cpus, append = (a.cpus, "mk.bench_roundtrip") if park == "hlt" else (2, "sidecar.mwait mk.bench_roundtrip")
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            p = subprocess.run([sys.executable, os.path.join(HERE, "..", "qemu", "run.py"), "--shim", shim,
                                "--smp", str(cpus), "--timeout", "300", "--append", append, "--backend", backend,
                                "--report-file", tmp.name], capture_output=True, text=True)
            try:
                r = json.load(open(tmp.name, encoding="utf-8"))["rt_bench_ns"]
            except (OSError, ValueError, KeyError):
                print(p.stdout[-3000:])
                sys.exit(f"run {run}: no bench result")
        if not r["ok"]:
            sys.exit(f"run {run}: {r['error']}")
        us = lambda v: f"{v[0] / 1000:.1f} / {v[1] / 1000:.1f} us"
        print(f"| {backend} | {park} | {run} | {us(r['run_vp'])} | {us(r['none'])} | {us(r['ipi'])} | "
              f"{r['run_vp'][0] / r['ipi'][0]:.2f}x |")


if __name__ == "__main__":
    main()
