#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bench: time until a Linux VM is usable with every CPU ready.

For each vCPU count N (2 NUMA nodes, the same QEMU configuration for both):
  - sidecar: the shim starts every sidecar CPU (all IDLE before Linux
    starts), then boots Debian's cloud kernel on the main CPUs;
  - Linux alone: the same shim with sidecar=off, so the same kernel and
    initramfs boot the same way and Linux brings up every CPU itself.
"Usable" is /init running in the initramfs (its LINUX-REPORT line). Guest
clock: Linux's uptime when /init starts, plus (sidecar) the sidecar
kernel's bring-up time, which runs before Linux; host wall clock: QEMU
start to the LINUX-REPORT line. Also MemTotal/MemAvailable as Linux sees
them. A run that does not finish within --bound seconds is reported as
"> bound". Not a test: nothing is asserted. Prints a Markdown table.

usage: linux_boot.py BUILD [--cpus 64,255] [--numa 2] [--bound 1200]
(BUILD must have been built: the shim and tests/linux/initramfs.cpio.gz,
e.g. by `meson test -C BUILD --suite linux`.)
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "linux", "run.py")


def memory_for(n):
    return "2G" if n > 128 else "1G"


def boot(args, n, sidecar):
    cmd = [sys.executable, RUN, "--shim", os.path.join(args.build, "shim", "arch", "x86_64", "sidecar-shim.elf"),
           "--build", args.build, "--initramfs", os.path.join(args.build, "tests", "linux", "initramfs.cpio.gz"),
           "--smp", str(n), "--numa", str(args.numa), "--memory", memory_for(n),
           "--timeout", str(args.bound), "--json"]
    if args.qemu:
        cmd += ["--qemu", args.qemu]
    cmd += ["--main", str(args.numa)] if sidecar else ["--append", "sidecar=off", "--all-cpus"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    data = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
    if p.returncode == 77:
        sys.exit("linux_boot.py: the kernel cannot be fetched")
    if data is None or data.get("report") is None:
        tail = "\n".join(p.stdout.splitlines()[-5:])
        print(f"N={n} {'sidecar' if sidecar else 'Linux'}: no report (exit {p.returncode}): {tail}",
              file=sys.stderr)
        return {"done": False, "started": (data or {}).get("linux_cpus_started")}
    r = data["report"]
    guest = r["uptime_s"] + (data.get("sidecar_bringup_us", 0) / 1e6 if sidecar else 0)
    return {"done": p.returncode == 0, "guest_s": guest, "linux_uptime_s": r["uptime_s"],
            "sidecar_bringup_s": data.get("sidecar_bringup_us", 0) / 1e6 if sidecar else None,
            "wall_s": data.get("report_wall_s"), "online": r["online_count"], "nproc": r["nproc"],
            "memtotal_kb": r["memtotal_kb"], "memavailable_kb": r["memavailable_kb"],
            "smp_line": r["smp_line"], "problems": p.returncode != 0}


def fmt(v):
    return "-" if v is None else f"{v:.1f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", default="64,255")
    ap.add_argument("--numa", type=int, default=2)
    ap.add_argument("--bound", type=float, default=1200.0)
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU"))
    args = ap.parse_args()
    rows = []
    for n in [int(x) for x in args.cpus.split(",") if x]:
        for sidecar in (True, False):
            name = "sidecar + Linux" if sidecar else "Linux alone"
            print(f"N={n}: {name} ...", file=sys.stderr, flush=True)
            r = boot(args, n, sidecar)
            print(f"N={n}: {name}: {r}", file=sys.stderr, flush=True)
            rows.append((n, name, r))
    print("| vCPUs | boot | CPUs ready | guest: usable after | wall: usable after | MemTotal | MemAvailable |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, name, r in rows:
        if not r.get("done") and r.get("guest_s") is None:
            started = f" ({r['started']} CPUs up)" if r.get("started") else ""
            print(f"| {n} | {name} | -{started} | > bound | > {args.bound:.0f} s | - | - |")
            continue
        ready = (f"{r['online']} Linux + {n - r['online']} sidecar" if name.startswith("sidecar")
                 else f"{r['online']} Linux")
        guest = fmt(r["guest_s"])
        if r.get("sidecar_bringup_s") is not None:
            guest += f" ({r['sidecar_bringup_s']:.1f} sidecar + {r['linux_uptime_s']:.1f} Linux)"
        print(f"| {n} | {name} | {ready} | {guest} | {fmt(r['wall_s'])} | "
              f"{r['memtotal_kb'] / 1024:.0f} MiB | {r['memavailable_kb'] / 1024:.0f} MiB |")
    print()
    for n in sorted({n for n, _, _ in rows}):
        s = next((r for m, name, r in rows if m == n and name.startswith("sidecar")), None)
        lx = next((r for m, name, r in rows if m == n and name.startswith("Linux")), None)
        if s and lx and s.get("wall_s") and lx.get("wall_s"):
            print(f"N={n}: Linux alone / sidecar: {lx['guest_s'] / s['guest_s']:.1f}x guest, "
                  f"{lx['wall_s'] / s['wall_s']:.1f}x wall")


if __name__ == "__main__":
    main()
