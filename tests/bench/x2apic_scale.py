#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Past 255 vCPUs: sidecar bring-up, QEMU's memory and wall time as the
vCPU count grows, on Debian 13's QEMU 10 in x2APIC mode (TCG, -cpu max).

For each vCPU count and each TCG setting, one after the other (never two
at once), it boots the shim + sidecar kernel + bare-metal main kernel
through tests/qemu/run.py (the report must say ok, x2apic, every sidecar
CPU ready and answering a ping) and records: the kernel's bring-up time
(guest TSC, entry to the last sidecar CPU IDLE), the wall time of the whole
run, and QEMU's peak resident memory (ru_maxrss of the QEMU process), per
vCPU too. Ratios are against the first count of the same invocation (the
baseline, run side by side): bring-up time and memory per vCPU. Not a
test: nothing about time or memory is asserted. Prints a Markdown table
for docs/benchmarks.md.

With --linux SERIES (6.1, 6.12, comma-separated), Debian's cloud kernel of
each series then boots alone on every vCPU at the --linux-cpus counts, in
the same QEMU with the first --configs setting and the Intel IOMMU with
interrupt remapping Linux needs to stay in x2APIC mode past APIC ID 254;
its bring-up (dmesg from "Bringing up secondary CPUs" to "Brought up", and
the host's wall time between the two lines) is set against the sidecar's
at the same count, and a boot that does not finish within --linux-bound
seconds is reported as "> bound" (a panic as such). Linux gets
no_timer_check (see linux_one). Linux's per-CPU memory is its percpu
unit ("percpu: Embedded ... u<bytes>", printed early in the boot, so known
even for a boot cut off by the bound) against the sidecar's pages per CPU.

usage: x2apic_scale.py BUILD [--cpus 64,288,512,1024]
                       [--configs 'q35:;q35,smm=off:thread=single']
                       [--qemu10 auto|DIR|QEMU] [--memory-per-cpu-mib 2]
                       [--linux none|6.1,6.12] [--linux-cpus 288]
                       [--linux-bound 900]
  --configs: the QEMU settings to compare, separated by ';', each
             MACHINE:TCG (-machine MACHINE -accel tcg,TCG; an empty TCG
             is QEMU's default).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
RUN = os.path.join(TOP, "tests", "qemu", "run.py")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "qemu10"))
import bringup  # noqa: E402
import qemu10  # noqa: E402

PAGE = 4096


def memory_for(n, per_cpu_mib):
    """Guest RAM: 512 MiB plus per_cpu_mib per vCPU, in MiB steps."""
    return f"{512 + per_cpu_mib * n}M"


def one(args, n, config):
    machine, _, tcg = config.partition(":")
    with tempfile.NamedTemporaryFile(suffix=".json") as rep:
        cmd = [sys.executable, RUN, "--qemu10", args.qemu10, "--qemu10-dir",
               os.path.join(args.build, "qemu10"),
               "--shim", os.path.join(args.build, "shim", "arch", "x86_64", "sidecar-shim.elf"),
               "--smp", str(n), "--memory", memory_for(n, args.memory_per_cpu_mib),
               "--append", "sidecar.ap_timeout_us=60000000", "--timeout", str(args.bound),
               "--ping", "--expect-ok", "--expect", "apic_mode=x2apic", "--report-file", rep.name,
               "--machine", machine or "q35"]
        if tcg:
            cmd += ["--tcg", tcg]
        print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
        out = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"wall time ([0-9.]+) s, QEMU peak resident memory ([0-9]+) MiB", out.stdout)
        try:
            r = json.load(open(rep.name, encoding="utf-8"))
        except (OSError, ValueError):
            r = {}
    ok = out.returncode == 0
    if not ok:
        fails = [l for l in out.stdout.splitlines() if l.startswith(("FAIL", "SKIP"))]
        print(f"x2apic_scale: {n} vCPUs, {config}: " + "; ".join(fails), file=sys.stderr)
    return {"cpus": n, "tcg": f"-machine {machine or 'q35'} -accel tcg" + (f",{tcg}" if tcg else ""), "ok": ok,
            "memory": memory_for(n, args.memory_per_cpu_mib),
            "ready": r.get("ready"), "sidecar_cpus": r.get("sidecar_cpus"),
            "pages_per_cpu": r.get("pages_per_cpu"),
            "bringup_s": r.get("bringup_us", 0) / 1e6 if r else None,
            "wall_s": float(m.group(1)) if m else None,
            "rss_mib": int(m.group(2)) if m else None}


def table(rows):
    out = ["| vCPUs | QEMU settings | guest RAM | ready | bring-up (guest) | per sidecar CPU vs first | "
           "wall time | QEMU peak RSS | RSS per vCPU | vs first |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    base = {}
    for r in rows:
        b = base.setdefault(r["tcg"], r)
        ready = f"{r['ready']}/{r['sidecar_cpus']}" if r["ready"] is not None else "-"
        if not r["ok"]:
            ready += " (failed)"
        bring = f"{r['bringup_s']:.3f} s" if r["bringup_s"] else "-"
        ratio = "-"
        if r["bringup_s"] and b["bringup_s"] and r["sidecar_cpus"] and b["sidecar_cpus"]:
            ratio = f"{(r['bringup_s'] / r['sidecar_cpus']) / (b['bringup_s'] / b['sidecar_cpus']):.2f}x"
        wall = f"{r['wall_s']:.1f} s" if r["wall_s"] is not None else "-"
        rss = f"{r['rss_mib']} MiB" if r["rss_mib"] is not None else "-"
        per = f"{r['rss_mib'] / r['cpus']:.1f} MiB" if r["rss_mib"] is not None else "-"
        rss_ratio = "-"
        if r["rss_mib"] and b["rss_mib"]:
            rss_ratio = f"{(r['rss_mib'] / r['cpus']) / (b['rss_mib'] / b['cpus']):.2f}x"
        out.append(f"| {r['cpus']} | {r['tcg']} | {r['memory']} | {ready} | {bring} | {ratio} | "
                   f"{wall} | {rss} | {per} | {rss_ratio} |")
    return "\n".join(out)


def linux_one(args, n, series, config, qemu):
    """Linux of that series alone on n vCPUs (bringup.run_linux), in the
    QEMU 10 with the given MACHINE:TCG setting and an interrupt-remapping
    IOMMU."""
    machine, _, tcg = config.partition(":")
    base = [qemu, "-machine", machine or "q35", "-accel", "tcg" + (f",{tcg}" if tcg else ""),
            "-cpu", "max", "-m", memory_for(n, args.memory_per_cpu_mib), "-smp", str(n),
            "-device", "intel-iommu,intremap=on,eim=on",
            "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none"]
    kernel = bringup.linux_kernel(args.build, series)
    run_args = argparse.Namespace(bound=args.linux_bound)
    print(f"x2apic_scale: Linux {series} on {n} vCPUs (bound {args.linux_bound} s) ...",
          file=sys.stderr, flush=True)
    # no_timer_check: with one TCG thread round-robin over hundreds of
    # vCPUs, Linux's check that the timer ticks through the IO-APIC can
    # see too few ticks and panic ("timer doesn't work through
    # Interrupt-remapped IO-APIC", 6.1 at 1024 vCPUs); the option skips
    # that check, as on many VMs.
    r = bringup.run_linux(run_args, n, kernel, base, append="no_timer_check")
    r.update(cpus=n, series=series)
    return r


def linux_table(rows, lrows, bound):
    out = ["| vCPUs | Linux | sidecar guest | Linux guest | ratio (guest) | sidecar wall | Linux wall | "
           "ratio (wall) | per CPU: sidecar | per CPU: Linux percpu unit |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    side = {r["cpus"]: r for r in rows if r["ok"]}
    for lr in lrows:
        s = side.get(lr["cpus"], {})
        sg, sw = s.get("bringup_s"), s.get("wall_s")
        done = lr["done"]
        lg = f"{lr['guest_s']:.3f} s" if done else f"> bound ({lr['started']} of {lr['cpus'] - 1} started)"
        lw = f"{lr['wall_s']:.1f} s" if done else f"> {bound} s"
        if lr.get("panic"):
            lg, lw = f"panicked: {lr['panic'][:60]}", "-"
        rg = f"{lr['guest_s'] / sg:.0f}x" if done and sg else "-"
        rw = f"{lr['wall_s'] / sw:.0f}x" if done and sw else (f"> {bound / sw:.0f}x" if sw and not lr.get("panic") else "-")
        pages = s.get("pages_per_cpu")
        sp = f"{pages} pages ({pages * PAGE // 1024} KiB)" if pages else "-"
        unit = lr.get("percpu_unit")
        lp = f"{unit // 1024} KiB" if unit else "-"
        out.append(f"| {lr['cpus']} | {lr['series']} | {f'{sg:.3f} s' if sg else '-'} | {lg} | {rg} | "
                   f"{f'{sw:.1f} s' if sw else '-'} (whole run) | {lw} | {rw} | {sp} | {lp} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", default="64,288,512,1024")
    ap.add_argument("--configs", default="q35,smm=off:thread=single",
                    help="';'-separated MACHINE:TCG settings to compare")
    ap.add_argument("--qemu10", default="auto")
    ap.add_argument("--memory-per-cpu-mib", type=int, default=2)
    ap.add_argument("--bound", type=int, default=900, help="seconds one run may take")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--linux", default="none", help="Debian kernel series to set against ('none': no Linux)")
    ap.add_argument("--linux-cpus", default="288", help="the vCPU counts Linux boots at")
    ap.add_argument("--linux-bound", type=int, default=900, help="seconds one Linux boot may take")
    args = ap.parse_args()
    rows = []
    for n in [int(x) for x in args.cpus.split(",")]:
        for config in args.configs.split(";"):
            rows.append(one(args, n, config.strip()))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    lrows = []
    series = [x for x in args.linux.split(",") if x and x != "none"]
    if series:
        try:
            qemu = qemu10.resolve(args.qemu10, os.path.join(args.build, "qemu10"))
        except qemu10.Unavailable as e:
            sys.exit(f"x2apic_scale: Debian 13's QEMU cannot be had: {e}")
        first = args.configs.split(";")[0].strip()
        for n in [int(x) for x in args.linux_cpus.split(",") if x]:
            for s in series:
                lrows.append(linux_one(args, n, s, first, qemu))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"sidecar": rows, "linux": lrows}, fh, indent=1)
    print(table(rows))
    if lrows:
        print()
        print(linux_table(rows, lrows, args.linux_bound))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
