#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""./sidecar bench: every benchmark in one run, a table of ratios, and the
figures written into docs/benchmarks.md.

Runs, one after the other:
  1. tests/bench/bringup.py BUILD --cpus 8,64,255 --linux 6.1,6.12 --runs 3
     (sidecar bring-up alternating with the floor kernel's, medians of
     --bringup-runs runs each, then beside Debian's Linux 6.1 and 6.12;
     pages per CPU);
  2. tests/bench/roundtrip.py BUILD (RUN_VP and NONE round trips on a
     sidecar CPU beside a bare IPI, in one QEMU run, three runs);
  3. BUILD/hostlib/sidecar-host-bench 100000 (the simulator's round trip
     beside a bare two-thread ping-pong).
  4. tests/bench/x2apic_scale.py BUILD --cpus 64,288,512,1024 (sidecar
     bring-up, QEMU's memory and wall time past 255 vCPUs on Debian 13's
     QEMU 10 in x2APIC mode, docs/x2apic.md; --x2apic-cpus '' skips it and step 5),
     then the --linux series alone on every vCPU at --x2apic-linux-cpus
     (default 288; bounded by --bound, "> bound" when cut off) and their
     per-CPU memory against the sidecar's.
  5. tests/bench/bringup.py at the --x2apic-cpus counts above 255 on the
     same QEMU 10 and settings (q35,smm=off, one TCG thread): the sidecar
     against the floor kernel past 255 vCPUs, --bringup-runs alternating
     runs each, no Linux (step 4 has it).
Each prints a Markdown table; this script prints a summary of the ratios
against the goals (sidecar / floor at most 1.25x, at least 100x Linux 6.1,
at most 1 ms before the first INIT), replaces the block between the
"bench:latest" markers of docs/benchmarks.md with the tables, the date, the
machine and the command, and writes the Linux figures it measured into
tests/bench/linux-baseline.json (the demo's baseline; a count where Linux
did not run keeps its earlier row, and the summary says from when).
Nothing is asserted: these are measurements.

usage: bench.py BUILD [--cpus 8,64,255] [--linux 6.1,6.12|none]
                      [--linux-cpus 8,64] [--bound 900] [--bringup-runs 3]
                      [--runs 3] [--x2apic-cpus 64,288,512,1024]
                      [--x2apic-linux-cpus 288] [--no-docs]
                      [--docs PATH] [--qemu PATH]

While a bench runs, a progress line every few seconds: for the bring-up,
the boots done and left (read from bringup.py's own lines) and an estimate
of the time left (the boots so far, weighted by their vCPU count); the same
on a terminal and in a CI log. The QEMU binary: --qemu, else
$SIDECAR_QEMU, else the build directory's -Dqemu; every bench runs that
one. Exit status 2 for a usage error (the valid options are named), a
missing QEMU or a --docs file that cannot be written, checked first.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "qemu"))
import buildconf  # noqa: E402
from cli import Parser, unwritable  # noqa: E402
from progress import Progress  # noqa: E402
sys.path.insert(0, HERE)
import baseline  # noqa: E402
BEGIN = "<!-- bench:latest:begin (written by ./sidecar bench; do not edit by hand) -->"
END = "<!-- bench:latest:end -->"


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine(qemu):
    """What the figures depend on: the host CPU, cores, memory, OS, QEMU."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    qv = sh([qemu, "--version"]).splitlines()
    qv = qv[0] if qv else "QEMU (version unknown)"
    return f"{model}, {os.cpu_count()} host CPUs{mem}; {osname}, Linux {platform.release()}; {qv}, TCG"


def load():
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


class BootCount:
    """The bring-up bench's boots, from its stderr lines "N=8: sidecar run
    1/3 ..." (started) and "N=8: sidecar {...}" (done), likewise for the
    floor kernel and "N=8: Linux 6.1": done and left, and weights for the
    estimate (a Linux boot's length grows with its vCPUs; a sidecar or
    floor boot is short)."""

    def __init__(self, cpus, series, runs=1, linux_cpus=None):
        linux_cpus = cpus if linux_cpus is None else linux_cpus
        self.boots = [(n, k, r) for n in cpus for r in range(runs) for k in ("sidecar", "floor")]
        self.boots += [(n, v, 0) for n in cpus if n in linux_cpus for v in series if v != "none"]
        self.done, self.now = set(), None

    @staticmethod
    def weight(boot):
        n, kind, _ = boot
        return n / 20 if kind in ("sidecar", "floor") else n

    def line(self, text):
        m = re.match(r"^N=(\d+): (sidecar|floor|Linux (\S+))( run (\d+)/\d+)?(.*)$", text)
        if not m:
            return False
        kind = m.group(3) or m.group(2)
        boot = (int(m.group(1)), kind, int(m.group(5)) - 1 if m.group(5) else 0)
        if m.group(6).rstrip().endswith("..."):
            self.now = boot
        else:
            if self.now and self.now[:2] == boot[:2]:
                boot = self.now
            self.done.add(boot)
            self.now = None
        return True

    def total_w(self):
        return sum(self.weight(b) for b in self.boots)

    def done_w(self):
        return sum(self.weight(b) for b in self.boots if b in self.done)

    def text(self):
        now = f"; now {self.now[1] if self.now[1] in ('sidecar', 'floor') else 'Linux ' + self.now[1]} at " \
              f"{self.now[0]} vCPUs" if self.now else ""
        return f"{len(self.done)}/{len(self.boots)} boots done, {len(self.boots) - len(self.done)} left{now}"


def run(title, cmd, boots=None):
    """Runs one bench; returns its stdout (echoed) and exit status. Its
    stderr lines pass through; a progress line comes every few seconds
    (with the boots done and left for the bring-up bench)."""
    print(f"+ {shlex.join(cmd)}", file=sys.stderr, flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ticker = Progress(f"bench: {title}", "boot work", total=boots.total_w() if boots else None,
                      out=sys.stderr, counts=boots.text if boots else None)

    def errors():
        for line in p.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            if boots and boots.line(line.rstrip("\n")):
                if ticker.t_first is None:
                    ticker.begin()
                ticker.update(done=boots.done_w())
            elif not boots:
                ticker.update(stage="last: " + line.strip()[:70])

    t = threading.Thread(target=errors, daemon=True)
    t.start()
    ticker.start()
    out = p.stdout.read()
    code = p.wait()
    t.join(timeout=5)
    ticker.stop()
    sys.stdout.write(out)
    sys.stdout.flush()
    if code:
        print(f"bench: {title} failed (exit {code})", file=sys.stderr)
    return out, code


def tables(text):
    """The Markdown table lines of a bench's output, a blank line between
    two tables."""
    out = []
    prev_table = False
    for l in text.splitlines():
        if l.startswith("|"):
            if out and out[-1] != "" and not prev_table:
                out.append("")
            out.append(l)
            prev_table = True
        else:
            prev_table = False
    return out


def floor_rows(data, linux_series, with_linux=True):
    """The floor goals, and (with_linux) Linux 6.1 at every size (this
    run's figure, or the baseline file's with its date)."""
    rows = []
    if not data:
        return rows
    for f in data["floor"]:
        n, m = f["cpus"], f["median"]
        s, fl = m["sidecar"], m["floor"]
        rg = s["guest_s"] / fl["guest_s"] if s["guest_s"] and fl["guest_s"] else None
        rw = s["wall_s"] / fl["wall_s"] if s["wall_s"] and fl["wall_s"] else None
        rows.append((f"bring-up, {n} vCPUs, sidecar / floor (medians of {data['runs']})",
                     f"{rg:.2f}x guest time, {rw:.2f}x wall time" if rg and rw else "-", "at most 1.25x"))
        fi = s["first_init_s"]
        rows.append((f"time before the first INIT, {n} vCPUs (sidecar; floor)",
                     f"{fi * 1000:.2f} ms; {fl['first_init_s'] * 1000:.2f} ms" if fi is not None and
                     fl["first_init_s"] is not None else "-", "at most 1 ms"))
        if not with_linux:
            continue
        measured = {(r["cpus"], r["linux"]) for r in data["linux"] if r["done"]}
        if "6.1" not in linux_series or (n, "6.1") not in measured:
            near, old = baseline.nearest(n)
            for r in old:
                if r["linux"] == "6.1" and near == n and s["guest_s"]:
                    rows.append((f"bring-up, {n} vCPUs, vs Linux 6.1 (Linux measured {r['date']}, "
                                 f"tests/bench/linux-baseline.json)",
                                 f"{r['guest_s'] / s['guest_s']:.0f}x guest time, "
                                 f"{(r['wall_s'] or 0) / s['wall_s']:.0f}x wall time" if s["wall_s"] else "-",
                                 "at least 100x"))
    return rows


def summary(bring, rt, sim, data=None, linux_series=()):
    """One row per figure the design sets a goal for (DESIGN.md section 8,
    issue #20)."""
    rows = floor_rows(data, linux_series)
    for l in tables(bring):
        if not l:
            continue
        c = [x.strip() for x in l.strip("|").split("|")]
        if len(c) == 8 and c[0].isdigit():
            rows.append((f"bring-up, {c[0]} vCPUs, vs Linux {c[1]}",
                         f"{c[4]} guest time, {c[7]} wall time", "at least 100x" if c[1] == "6.1" else "-"))
        elif len(c) == 3 and c[0].startswith(("sidecar", "Linux")):
            rows.append((f"pages per CPU, {c[0]}", c[1], "at most 8" if c[0] == "sidecar" else "-"))
    ratios = {}
    for l in tables(rt):
        c = [x.strip() for x in l.strip("|").split("|")]
        if len(c) == 7 and c[2].isdigit():
            ratios.setdefault((c[0], c[1]), []).append(c[6])
    for (backend, park), rs in ratios.items():
        what = "a bare IPI round trip (both woken by IPI, HLT parking)" if park == "hlt" else \
            "a bare store round trip (both woken by the store, MWAIT parking)"
        rows.append((f"{backend} RUN_VP round trip / {what}, median per run", ", ".join(rs),
                     "1.5x" if park == "hlt" and backend == "ring3" else "-"))
    m = re.search(r"sim RUN_VP.*?\(([\d.]+x) the ping-pong\)", sim)
    n = re.search(r"sim NONE.*?\(([\d.]+x) the ping-pong\)", sim)
    if m:
        rows.append(("sim round trip / bare ping-pong", f"RUN_VP {m.group(1)}, NONE {n.group(1) if n else '-'}",
                     "2x"))
    out = ["| figure | measured | goal |", "| --- | --- | --- |"]
    out += [f"| {a} | {b} | {g} |" for a, b, g in rows]
    return out


def sim_table(sim):
    vals = {}
    for key, pat in (("base", r"ping-pong:\s+([\d.]+) ns"), ("run", r"sim RUN_VP[^:]*:\s+([\d.]+) ns"),
                     ("none", r"sim NONE[^:]*:\s+([\d.]+) ns")):
        m = re.search(pat, sim)
        vals[key] = float(m.group(1)) if m else None
    if not all(vals.values()):
        return ["(the simulator bench printed no figures)"]
    b = vals["base"]
    return ["| bare ping-pong | sim RUN_VP | ratio | sim NONE | ratio |", "| --- | --- | --- | --- | --- |",
            f"| {b:.1f} ns | {vals['run']:.1f} ns | {vals['run'] / b:.2f}x | "
            f"{vals['none']:.1f} ns | {vals['none'] / b:.2f}x |"]


def update_docs(path, block):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + BEGIN + "\n" + block + END + tail
    else:
        # First run: the block goes right after the page's introduction.
        lines = text.split("\n## ", 1)
        text = lines[0].rstrip("\n") + "\n\n" + BEGIN + "\n" + block + END + "\n\n## " + \
            (lines[1] if len(lines) > 1 else "")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def x2apic(py, build, cpus, linux="none", linux_cpus="", bound="900"):
    """Step 4 (tests/bench/x2apic_scale.py): its table and exit status, or
    nothing when cpus is empty. QEMU without SMM and with one TCG thread,
    the settings of the x2APIC suite (QEMU's defaults would need about
    17 GiB at 1024 vCPUs; docs/benchmarks.md)."""
    if not cpus:
        return [], 0
    out, rc = run("x2apic scale", [py, os.path.join(HERE, "x2apic_scale.py"), build, "--cpus", cpus,
                                   "--configs", "q35,smm=off:thread=single",
                                   "--linux", linux if linux_cpus else "none",
                                   "--linux-cpus", linux_cpus, "--linux-bound", bound])
    return ["Past 255 vCPUs on Debian 13's QEMU 10 (x2APIC; tests/bench/x2apic_scale.py, "
            "ratios per CPU against the first count):", "", *(tables(out) or ["(the x2APIC bench failed)"]),
            ""], rc


def x2apic_floor(py, build, cpus, runs):
    """Step 5: the floor ratios past 255 vCPUs (bringup.py on Debian 13's
    QEMU 10, the x2APIC bench's settings): (table lines, exit status, the
    JSON data or None). Skipped, and said, where that QEMU cannot be had."""
    big = [n for n in (int(x) for x in cpus.split(",") if x) if n > 255]
    if not big:
        return [], 0, None
    sys.path.insert(0, os.path.join(TOP, "tests", "qemu10"))
    import qemu10  # noqa: E402
    try:
        qemu = qemu10.resolve("auto", os.path.join(build, "qemu10"))
    except qemu10.Unavailable as e:
        return [f"Past 255 vCPUs, sidecar against the floor kernel: not run ({e}).", ""], 0, None
    out_json = os.path.join(build, "bench-bringup-x2apic.json")
    counts = ",".join(str(n) for n in big)
    out, rc = run("floor past 255", [py, os.path.join(HERE, "bringup.py"), build, "--cpus", counts,
                                     "--linux", "none", "--runs", runs, "--qemu", qemu,
                                     "--machine", "q35,smm=off", "--accel", "tcg,thread=single",
                                     "--json", out_json])
    data = None
    if not rc:
        with open(out_json, encoding="utf-8") as fh:
            data = json.load(fh)
    return ["Past 255 vCPUs: sidecar against the floor kernel on Debian 13's QEMU 10 (x2APIC, "
            "`-machine q35,smm=off -accel tcg,thread=single`; tests/bench/bringup.py):", "",
            *(tables(out) or ["(the bench failed)"]), ""], rc, data


def main():
    ap = Parser(prog="bench.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--cpus", default="8,64,255", help="vCPU counts for the bring-up bench")
    ap.add_argument("--linux", default="6.1,6.12", help="Debian kernel series to compare with ('none': no Linux)")
    ap.add_argument("--linux-cpus", help="the vCPU counts Linux boots at (default: every --cpus count)")
    ap.add_argument("--bringup-runs", default="3", help="sidecar and floor bring-up runs per vCPU count")
    ap.add_argument("--bound", default="900", help="seconds a Linux boot may take")
    ap.add_argument("--runs", default="3", help="round-trip bench runs")
    ap.add_argument("--x2apic-cpus", default="64,288,512,1024",
                    help="vCPU counts for the x2APIC bench on QEMU 10, and above 255 the floor comparison there ('' skips both)")
    ap.add_argument("--x2apic-linux-cpus", default="288",
                    help="the counts Linux boots at in the x2APIC bench ('' for none; each boot bounded by --bound)")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    ap.add_argument("--docs", default=os.path.join(TOP, "docs", "benchmarks.md"))
    ap.add_argument("--qemu", help="the QEMU binary (default: $SIDECAR_QEMU, else the build's -Dqemu)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    try:
        cpus = [int(x) for x in a.cpus.split(",") if x]
        if not cpus or min(cpus) < 1:
            raise ValueError
    except ValueError:
        ap.error(f"--cpus {a.cpus}: a comma-separated list of vCPU counts, e.g. 8,64,255")
    try:
        linux_cpus = [int(x) for x in a.linux_cpus.split(",") if x] if a.linux_cpus else cpus
        if int(a.bringup_runs) < 1:
            raise ValueError
    except ValueError:
        ap.error(f"--linux-cpus {a.linux_cpus} / --bringup-runs {a.bringup_runs}: a list of vCPU counts / "
                 "a number of runs (at least 1)")
    series = [x for x in a.linux.split(",") if x and x != "none"]
    a.qemu = buildconf.qemu(build, a.qemu)
    if not shutil.which(a.qemu):
        ap.exit(2, f"bench.py: {a.qemu} not found (-Dqemu, $SIDECAR_QEMU or --qemu name another)\n")
    if not a.no_docs and unwritable("--docs", a.docs):
        ap.exit(2, f"bench.py: {unwritable('--docs', a.docs)} (or --no-docs)\n")
    # The benches' own default is $SIDECAR_QEMU: they all run this QEMU.
    os.environ["SIDECAR_QEMU"] = a.qemu
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = load()
    busy = os.getloadavg()[0] > 1.0
    if busy:
        print(f"bench: warning: the machine is busy (load average {load0}); the figures will show it",
              file=sys.stderr)
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    bring_json = os.path.join(build, "bench-bringup.json")
    bring, rc1 = run("bring-up", [py, os.path.join(HERE, "bringup.py"), build, "--cpus", a.cpus,
                                  "--linux", a.linux, "--bound", a.bound, "--qemu", a.qemu,
                                  "--runs", a.bringup_runs, "--json", bring_json] +
                     (["--linux-cpus", a.linux_cpus] if a.linux_cpus else []),
                     boots=BootCount(cpus, series, int(a.bringup_runs), linux_cpus))
    data = None
    if not rc1:
        with open(bring_json, encoding="utf-8") as fh:
            data = json.load(fh)
    rt, rc2 = run("round trip", [py, os.path.join(HERE, "roundtrip.py"), build, "--runs", a.runs])
    sim, rc3 = run("simulator", [os.path.join(build, "hostlib", "sidecar-host-bench"), "100000"])
    x2, rc4 = x2apic(py, build, a.x2apic_cpus, a.linux, a.x2apic_linux_cpus, a.bound)
    x2f, rc5, data5 = x2apic_floor(py, build, a.x2apic_cpus, a.bringup_runs)
    rc4 = rc4 or rc5
    ended = datetime.datetime.now(datetime.timezone.utc)

    summ = summary(bring, rt, sim, data, series)
    if data5:
        # The floor goals past 255 vCPUs, after the table's own rows.
        summ += ["| " + " | ".join(r) + " |" for r in floor_rows(data5, (), with_linux=False)]
    print()
    print("\n".join(summ))

    argv = " ".join(shlex.quote(x) for x in sys.argv[2:])
    block = [
        "## Latest `./sidecar bench` run",
        "",
        f"- **When**: {started:%Y-%m-%d %H:%M} to {ended:%H:%M} UTC",
        f"- **Machine**: {machine(a.qemu)}",
        f"- **Load average** (1/5/15 min) at the start: {load0}; at the end: {load()}",
        f"- **Command**: `./sidecar bench{(' ' + argv) if argv else ''}` "
        f"(bring-up at {a.cpus} vCPUs, {a.bringup_runs} alternating sidecar and floor runs each, against "
        f"Linux {a.linux}{' at ' + a.linux_cpus + ' vCPUs' if a.linux_cpus else ''}, bound {a.bound} s; "
        f"{a.runs} round-trip runs; the simulator bench with 100000 round trips)",
        "",
        "Ratios against the goals (DESIGN.md section 8; the floor and first-INIT goals of issue #20):",
        "",
        *summ,
        "",
        "Bring-up: sidecar against the floor kernel (medians), then against Linux (each Linux row boots "
        "the same `-smp`/`-m` as the sidecar runs beside it; the sidecar figure is their median):",
        "",
        *(tables(bring) or ["(the bring-up bench failed)"]),
        "",
        "Command round trip on a sidecar CPU vs a bare IPI, one QEMU run each:",
        "",
        *(tables(rt) or ["(the round-trip bench failed)"]),
        "",
        "Simulator round trip (medians of five samples):",
        "",
        *sim_table(sim),
        "",
        *x2,
        *x2f,
    ]
    if busy:
        block += ["**The machine was busy when this run started** (load average above 1): "
                  "other work shared the host cores, so times are inflated and ratios noisy.", ""]
    if rc1 or rc2 or rc3 or rc4:
        block += ["Some benches failed in this run; see their output.", ""]
    if not a.no_docs:
        update_docs(a.docs, "\n".join(block) + "\n")
        done = [r for r in (data or {}).get("linux", []) if r["done"] and r["guest_s"]]
        if done:
            baseline.merge(done, f"{started:%Y-%m-%d}", machine(a.qemu),
                           f"./sidecar bench{(' ' + argv) if argv else ''}")
            print(f"bench: Linux figures written to {baseline.PATH}", file=sys.stderr)
        print(f"\nbench: figures written to {a.docs}", file=sys.stderr)
    sys.exit(1 if (rc1 or rc2 or rc3 or rc4) else 0)


if __name__ == "__main__":
    main()
