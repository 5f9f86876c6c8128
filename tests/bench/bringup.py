#!/usr/bin/python3
"""Bring-up benchmark: sidecar vs Linux (6.1 and 6.12) in the same QEMU configuration.

For each vCPU count N this boots, one after the other in the same run:
  - sidecar: the shim + sidecar kernel + bare-metal main kernel; the figure
    is the kernel's bringup_tsc (kernel entry to every sidecar CPU IDLE),
    converted with the TSC rate the kernel measured;
  - Linux: the Debian cloud kernel (downloaded with apt-get download and
    unpacked with dpkg -x into BUILD/linux by tests/linux/fetch.py), with no root file
    system; the figure is the dmesg time from "smp: Bringing up secondary
    CPUs" to "smp: Brought up". A run that does not finish within --bound
    seconds is reported as "> bound" with the CPUs it had started.
Both in guest time and in host wall-clock time (time from QEMU start to the
respective last line). Not a test: nothing is asserted. Prints a Markdown
table for docs/benchmarks.md.

usage: bringup.py BUILD_DIR [--cpus 8,64,255] [--bound 900] [--linux 6.1,6.12]
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
    return [args.qemu, "-machine", "q35", "-accel", "tcg", "-cpu", "max",
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
    wall_start = wall_ready = None
    for wall, line in stream(cmd, args.bound, lambda l: l.startswith("SIDECAR-REPORT ")):
        if line.startswith("shim: starting "):
            wall_start = wall
        if line.startswith("shim: sidecar kernel returned") and wall_start is not None:
            wall_ready = wall - wall_start
        if line.startswith("SIDECAR-REPORT "):
            r = json.loads(line[len("SIDECAR-REPORT "):])
            return {"guest_s": r["bringup_us"] / 1e6, "ready": r["ready"],
                    "wall_s": wall_ready, "expected": n - r["main_cpus"],
                    "pages_per_cpu": r.get("pages_per_cpu")}
    return None


TS = re.compile(r"^\[\s*(\d+\.\d+)\]\s*(.*)$")


def run_linux(args, n, kernel):
    cmd = qemu_base(args, n) + ["-kernel", kernel, "-append",
                                "console=ttyS0 panic=-1 loglevel=7 printk.time=1"]
    t_begin = w_begin = None
    started = 0
    unit = None
    for wall, line in stream(cmd, args.bound, lambda l: "smp: Brought up" in l):
        m = TS.match(line)
        if not m:
            continue
        t, text = float(m.group(1)), m.group(2)
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
    return {"guest_s": None, "wall_s": None, "done": False, "started": started, "percpu_unit": unit}


def fmt(v, done=True):
    if v is None:
        return "-"
    return f"{v:.3f} s" if done else f"> {v:.0f} s"


def ratio(linux, sidecar, done):
    if not linux or not sidecar:
        return "-"
    return ("" if done else "> ") + f"{linux / sidecar:.0f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", default="8,64,255")
    ap.add_argument("--bound", type=float, default=900.0)
    ap.add_argument("--linux", default="6.1,6.12",
                    help="Debian cloud kernel series to compare with, comma separated")
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU", "qemu-system-x86_64"))
    args = ap.parse_args()
    series = [x for x in args.linux.split(",") if x]
    kernels = {v: linux_kernel(args.build, v) for v in series}
    rows = []
    for n in [int(x) for x in args.cpus.split(",")]:
        print(f"N={n}: sidecar ...", file=sys.stderr, flush=True)
        s = run_sidecar(args, n)
        print(f"N={n}: sidecar {s}", file=sys.stderr, flush=True)
        for v in series:
            print(f"N={n}: Linux {v} ({os.path.basename(kernels[v])}) ...", file=sys.stderr, flush=True)
            lx = run_linux(args, n, kernels[v])
            print(f"N={n}: Linux {v} {lx}", file=sys.stderr, flush=True)
            rows.append((n, v, s, lx))
    print("| vCPUs | Linux | sidecar guest | Linux guest | ratio (guest) | "
          "sidecar wall | Linux wall | ratio (wall) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, v, s, lx in rows:
        sg = s["guest_s"] if s else None
        sw = s["wall_s"] if s else None
        lg = lx["guest_s"] if lx["done"] else None
        lw = lx["wall_s"] if lx["done"] else args.bound
        lg_s = fmt(lg) if lx["done"] else f"> bound ({lx['started']} CPUs started)"
        print(f"| {n} | {v} | {fmt(sg)} | {lg_s} | {ratio(lg, sg, True)} | {fmt(sw)} | "
              f"{fmt(lw, lx['done'])} | {ratio(lw, sw, lx['done'])} |")
    pages = next((s["pages_per_cpu"] for _, _, s, _ in rows if s and s.get("pages_per_cpu")), None)
    memory_table(rows, pages)


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
