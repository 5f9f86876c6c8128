#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bring-up benchmark: sidecar vs the floor kernel, and vs Linux (6.1 and 6.12),
in the same QEMU configuration.

For each vCPU count N this boots, in one invocation:
  - sidecar (the shim + sidecar kernel + bare-metal main kernel) and the
    floor kernel (floor/: its APs only reach 64-bit code, check in and
    start their share of the others with the same fan-out), alternately,
    --runs times each; the figures are their medians. Guest time: the
    sidecar kernel's bringup_tsc (kernel entry to the last sidecar CPU
    IDLE), the floor's (its start to the last check-in), each converted
    with the TSC rate it took; wall time: host time between the shim's
    "starting" and "sidecar kernel returned" lines, the floor's "starting"
    and "done" lines. Also each run's time before its first INIT.
  - Linux (the Debian cloud kernel, downloaded with apt-get download and
    unpacked with dpkg -x into BUILD/linux by tests/linux/fetch.py), with no
    root file system, once per series; the figure is the dmesg time from
    "smp: Bringing up secondary CPUs" to "smp: Brought up". A run that does
    not finish within --bound seconds is reported as "> bound" with the
    CPUs it had started. --linux none skips Linux.
Not a test: nothing is asserted. Prints Markdown tables for
docs/benchmarks.md; --json PATH also writes every figure as JSON (bench.py
makes the demo's Linux baseline file from it).

usage: bringup.py BUILD_DIR [--cpus 8,64,255] [--runs 3] [--bound 900]
                  [--linux 6.1,6.12|none] [--linux-cpus 8,64] [--json PATH]
                  [--qemu QEMU] [--machine q35] [--accel tcg]
  --machine, --accel: QEMU's -machine and -accel for every boot (bench.py
  runs the counts past 255 on Debian 13's QEMU 10 with
  --machine q35,smm=off --accel tcg,thread=single, the x2APIC suite's).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "linux"))
import fetch  # noqa: E402


def linux_kernel(build, series):
    """The Debian cloud kernel of that series, fetched into BUILD/linux by
    tests/linux/fetch.py (the one the Linux tests boot, for 6.1)."""
    try:
        return fetch.kernel(build, series)
    except fetch.FetchError as e:
        sys.exit(f"no Debian cloud kernel for Linux {series}: {e}")


def memory_for(n):
    return f"{max(512, 256 + 8 * n)}M"


def qemu_base(args, n):
    return [args.qemu, "-machine", args.machine, "-accel", args.accel, "-cpu", "max",
            "-m", memory_for(n), "-smp", str(n), "-display", "none",
            "-no-reboot", "-serial", "stdio", "-monitor", "none"]


def stream(cmd, bound, stop):
    """Runs cmd, yields (wall seconds, line); kills it after bound s or
    when stop(line) is true."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    os.set_blocking(proc.stdout.fileno(), True)
    try:
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        buf = b""
        while True:
            left = bound - (time.monotonic() - start)
            if left <= 0:
                break
            if not sel.select(timeout=min(left, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                yield time.monotonic() - start, line
                if stop(line):
                    return
    finally:
        proc.kill()
        proc.wait()


def run_sidecar(args, n):
    shim = os.path.join(args.build, "shim", "arch", "x86_64", "sidecar-shim.elf")
    cmd = qemu_base(args, n) + ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                "-kernel", shim]
    wall_start = wall_ready = first_init = None
    for wall, line in stream(cmd, args.bound, lambda l: l.startswith("SIDECAR-REPORT ")):
        if line.startswith("shim: starting "):
            wall_start = wall
        if line.startswith("shim: sidecar kernel returned") and wall_start is not None:
            wall_ready = wall - wall_start
        m = re.search(r"sidecar: first INIT (\d+) us after entry", line)
        if m:
            first_init = int(m.group(1)) / 1e6
        if line.startswith("SIDECAR-REPORT "):
            r = json.loads(line[len("SIDECAR-REPORT "):])
            return {"guest_s": r["bringup_us"] / 1e6, "ready": r["ready"],
                    "wall_s": wall_ready, "expected": n - r["main_cpus"], "first_init_s": first_init,
                    "rounds": r.get("rounds"), "pages_per_cpu": r.get("pages_per_cpu")}
    return None


def run_floor(args, n):
    floor = os.path.join(args.build, "floor", "sidecar-floor.elf")
    cmd = qemu_base(args, n) + ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                "-kernel", floor]
    wall_start = wall_done = None
    for wall, line in stream(cmd, args.bound, lambda l: l.startswith("FLOOR-REPORT ")):
        if line.startswith("floor: starting "):
            wall_start = wall
        if line.startswith("floor: done") and wall_start is not None:
            wall_done = wall - wall_start
        if line.startswith("FLOOR-REPORT "):
            r = json.loads(line[len("FLOOR-REPORT "):])
            return {"guest_s": r["bringup_us"] / 1e6, "ready": r["checked_in"], "expected": r["aps"],
                    "wall_s": wall_done, "first_init_s": r["first_init_us"] / 1e6, "rounds": r.get("rounds")}
    return None


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


TS = re.compile(r"^\[\s*(\d+\.\d+)\]\s*(.*)$")


def run_linux(args, n, kernel, base=None, append=""):
    """Linux's own bring-up of n vCPUs; base: the QEMU command before
    -kernel (default qemu_base), append: more kernel options, args.bound
    the seconds it may take. A panic ends the run (its line in "panic")."""
    cmd = (base or qemu_base(args, n)) + ["-kernel", kernel, "-append",
                                          ("console=ttyS0 panic=-1 loglevel=7 printk.time=1 " + append).strip()]
    t_begin = w_begin = None
    started = 0
    unit = None
    panic = None
    for wall, line in stream(cmd, args.bound, lambda l: "smp: Brought up" in l or "Kernel panic" in l):
        m = TS.match(line)
        if not m:
            continue
        t, text = float(m.group(1)), m.group(2)
        if "Kernel panic" in text:
            panic = text.strip()
            break
        pm = re.search(r"percpu: Embedded \d+ pages/cpu .*u(\d+)", text)
        if pm:
            unit = int(pm.group(1))
        if "smp: Bringing up secondary CPUs" in text:
            t_begin, w_begin = t, wall
        elif "x86: Booting SMP configuration" in text or re.search(r"\.\.\.\. node\s+#\d+, CPUs:", text):
            pass
        elif "smp: Brought up" in text:
            return {"guest_s": t - t_begin if t_begin is not None else None,
                    "wall_s": wall - w_begin if w_begin is not None else None,
                    "done": True, "started": n - 1, "percpu_unit": unit}
        if t_begin is not None:
            started += len(re.findall(r"#\s*\d+", re.sub(r"node\s+#\d+", "", text)))
    return {"guest_s": None, "wall_s": None, "done": False, "started": started, "percpu_unit": unit,
            "panic": panic}


def fmt(v, done=True):
    if v is None:
        return "-"
    return f"{v:.3f} s" if done else f"> {v:.0f} s"


def ms(v):
    return "-" if v is None else f"{v * 1000:.1f} ms"


def ratio(linux, sidecar, done):
    if not linux or not sidecar:
        return "-"
    return ("" if done else "> ") + f"{linux / sidecar:.0f}x"


def floor_ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", default="8,64,255")
    ap.add_argument("--runs", type=int, default=3, help="sidecar and floor runs per vCPU count (alternating)")
    ap.add_argument("--bound", type=float, default=900.0)
    ap.add_argument("--linux", default="6.1,6.12",
                    help="Debian cloud kernel series to compare with, comma separated ('none': no Linux)")
    ap.add_argument("--linux-cpus", help="the vCPU counts Linux boots at (default: every --cpus count)")
    ap.add_argument("--json", help="write every figure here as JSON")
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU", "qemu-system-x86_64"))
    ap.add_argument("--machine", default="q35", help="QEMU's -machine for every boot")
    ap.add_argument("--accel", default="tcg", help="QEMU's -accel for every boot")
    args = ap.parse_args()
    series = [x for x in args.linux.split(",") if x and x != "none"]
    kernels = {v: linux_kernel(args.build, v) for v in series}
    sizes = [int(x) for x in args.cpus.split(",")]
    rows, floors = [], []
    for n in sizes:
        runs = {"sidecar": [], "floor": []}
        for k in range(args.runs):
            for name, fn in (("sidecar", run_sidecar), ("floor", run_floor)):
                print(f"N={n}: {name} run {k + 1}/{args.runs} ...", file=sys.stderr, flush=True)
                res = fn(args, n)
                print(f"N={n}: {name} {res}", file=sys.stderr, flush=True)
                runs[name].append(res)
        med = {name: {key: median(r[key] for r in rs if r) for key in ("guest_s", "wall_s", "first_init_s")}
               for name, rs in runs.items()}
        complete = {name: all(r and r["ready"] == r["expected"] for r in rs) for name, rs in runs.items()}
        floors.append({"cpus": n, "runs": runs, "median": med, "complete": complete})
        s = {"guest_s": med["sidecar"]["guest_s"], "wall_s": med["sidecar"]["wall_s"],
             "pages_per_cpu": next((r["pages_per_cpu"] for r in runs["sidecar"] if r), None)}
        for v in (series if args.linux_cpus is None or str(n) in args.linux_cpus.split(",") else []):
            print(f"N={n}: Linux {v} ({os.path.basename(kernels[v])}) ...", file=sys.stderr, flush=True)
            lx = run_linux(args, n, kernels[v])
            print(f"N={n}: Linux {v} {lx}", file=sys.stderr, flush=True)
            rows.append((n, v, s, lx))

    print(f"Sidecar against the floor kernel, medians of {args.runs} alternating runs each:")
    print()
    print("| vCPUs | sidecar guest | floor guest | sidecar / floor (guest) | sidecar wall | floor wall | "
          "sidecar / floor (wall) | first INIT, sidecar | first INIT, floor | all CPUs up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for f in floors:
        s, fl = f["median"]["sidecar"], f["median"]["floor"]
        up = "yes" if all(f["complete"].values()) else \
            ", ".join(f"{k}: no" for k, ok in f["complete"].items() if not ok)
        print(f"| {f['cpus']} | {ms(s['guest_s'])} | {ms(fl['guest_s'])} | {floor_ratio(s['guest_s'], fl['guest_s'])} | "
              f"{ms(s['wall_s'])} | {ms(fl['wall_s'])} | {floor_ratio(s['wall_s'], fl['wall_s'])} | "
              f"{ms(s['first_init_s'])} | {ms(fl['first_init_s'])} | {up} |")
    print()
    print("| vCPUs | every run, guest (sidecar; floor) | every run, wall (sidecar; floor) |")
    print("| --- | --- | --- |")
    for f in floors:
        each = lambda name, key: ", ".join(ms(r[key] if r else None) for r in f["runs"][name])
        print(f"| {f['cpus']} | {each('sidecar', 'guest_s')}; {each('floor', 'guest_s')} | "
              f"{each('sidecar', 'wall_s')}; {each('floor', 'wall_s')} |")
    if rows:
        print()
        print("| vCPUs | Linux | sidecar guest | Linux guest | ratio (guest) | "
              "sidecar wall | Linux wall | ratio (wall) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    linux_out = []
    for n, v, s, lx in rows:
        sg = s["guest_s"] if s else None
        sw = s["wall_s"] if s else None
        lg = lx["guest_s"] if lx["done"] else None
        lw = lx["wall_s"] if lx["done"] else args.bound
        lg_s = fmt(lg) if lx["done"] else f"> bound ({lx['started']} CPUs started)"
        print(f"| {n} | {v} | {fmt(sg)} | {lg_s} | {ratio(lg, sg, True)} | {fmt(sw)} | "
              f"{fmt(lw, lx['done'])} | {ratio(lw, sw, lx['done'])} |")
        linux_out.append({"cpus": n, "linux": v, "kernel": os.path.basename(kernels[v]), "done": lx["done"],
                          "guest_s": lg, "wall_s": lx["wall_s"] if lx["done"] else None,
                          "bound_s": None if lx["done"] else args.bound, "started": lx["started"],
                          "percpu_unit": lx.get("percpu_unit")})
    pages = next((s["pages_per_cpu"] for _, _, s, _ in rows if s and s.get("pages_per_cpu")), None)
    if rows:
        memory_table(rows, pages)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"runs": args.runs, "floor": floors, "linux": linux_out}, fh, indent=1)
            fh.write("\n")


def memory_table(rows, pages_per_cpu):
    """Pages per CPU: sidecar from its layout (the report's pages_per_cpu,
    shared pages included); Linux from the booted kernel's percpu unit
    (dmesg "percpu: Embedded ... uN") plus the two 16 KiB stacks every
    x86-64 CPU gets (its idle task's and its IRQ stack), a lower bound."""
    print()
    print("| kernel | pages per CPU | how |")
    print("| --- | --- | --- |")
    print(f"| sidecar | {pages_per_cpu} | layout (docs/boot.md section 5), from the report |")
    seen = set()
    for _, v, _, lx in rows:
        if v in seen or not lx.get("percpu_unit"):
            continue
        seen.add(v)
        unit = lx["percpu_unit"] // 4096
        print(f"| Linux {v} | at least {unit + 8} | percpu unit {unit} pages (dmesg) + idle and IRQ "
              f"stacks 4 + 4 pages |")


if __name__ == "__main__":
    main()
