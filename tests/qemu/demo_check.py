#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Runs the demo at 8 vCPUs in 2 NUMA nodes and checks what it produced:
exit status 0, a JSON report with every part the demo promises (the svm
backend's guest firmware on every sidecar VP and, when Debian's kernel can
be fetched, the Linux guest's banner), and an SVG timeline with one bar per
sidecar CPU. Then the same with --backend ring3 (the guest test and the
computation). Then the demo's handling of options and errors (options_checks):
usage errors exit 2 naming the option (an unknown one with the valid
ones), an unwritable --json or --svg exits 2 before QEMU starts, the main
kernel's own error text for a bad mk.* option, the VM's CPU count and the
reason when sidecar is disabled, --cpus 1, --qemu-arg -smp --qemu-arg N
(space form), and --gdb: gdb attaches to the stub and stops in the shim,
the sidecar kernel and the main kernel by symbol (when gdb is installed).

usage: demo_check.py DEMO_PY BUILD_DIR
"""
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timeline  # noqa: E402


def check(demo, build, backend):
    out = tempfile.mkdtemp(prefix="sidecar-demo-")
    jpath, spath = os.path.join(out, "r.json"), os.path.join(out, "t.svg")
    p = subprocess.run([sys.executable, demo, build, "--cpus", "8", "--numa", "2", "--json", jpath,
                        "--svg", spath, "--timeout", "400", "--backend", backend], capture_output=True, text=True)
    print(p.stdout)
    print(p.stderr)
    problems = []
    if p.returncode != 0:
        problems.append(f"demo exit status {p.returncode}")
    try:
        with open(jpath, encoding="utf-8") as fh:
            r = json.load(fh)
    except (OSError, ValueError) as exc:
        r = {}
        problems.append(f"report: {exc}")
    checks = {
        "ok": r.get("ok") is True,
        "6 sidecar CPUs ready": r.get("ready") == 6,
        "every sidecar VP passed the guest test": r.get("demo", {}).get("vp_tests_ok") == 6,
        "one CPU converted per node": r.get("demo", {}).get("converted") == 2,
        "round trip measured": r.get("demo", {}).get("roundtrip_us", {}).get("median", 0) > 0,
        "timeline has every sidecar CPU": len(r.get("timeline", [])) == 6,
        f"VP backend {backend}": r.get("vp_backend") == backend,
    }
    if backend == "svm":
        checks["the guest firmware on every sidecar VP"] = (r.get("svm_firmware") or {}).get("done") == 6
        fetched = "no Linux guest:" not in p.stdout
        if fetched:
            checks["the Linux guest's banner"] = (r.get("linux_guest") or {}).get("banner") is True
            checks["the Linux guest's first lines in the report"] = len(r.get("demo", {}).get("linux_guest_lines", [])) > 3
    else:
        checks["every sidecar VP computed the right value at once"] = r.get("demo", {}).get("vp_runs_ok") == 6
        checks["intercepts per second"] = r.get("demo", {}).get("intercepts_per_s", 0) > 0
    problems += [name for name, good in checks.items() if not good]
    try:
        # A CPU's bar is one or two rects (coming up, starting others), each
        # titled "cpu N (APIC ...": count the CPUs.
        cpus = {t.text.split(" (")[0] for t in ET.parse(spath).getroot().iter()
                if t.tag.endswith("title") and (t.text or "").startswith("cpu ")}
        if len(cpus) != 6:
            problems.append(f"timeline.svg has bars for {len(cpus)} CPUs, expected 6")
    except (OSError, ET.ParseError) as exc:
        problems.append(f"timeline.svg: {exc}")
    # The same timeline as a Perfetto trace beside the picture: one track
    # per sidecar CPU, a sound schema.
    try:
        with open(os.path.splitext(spath)[0] + ".trace.json", encoding="utf-8") as fh:
            trace = json.load(fh)
        problems += [f"trace: {m}" for m in timeline.check_trace(trace, [e[0] for e in r.get("timeline", [])])]
    except (OSError, ValueError) as exc:
        problems.append(f"trace: {exc}")
    texts = ["VM: 8 vCPUs", "bring-up: 6/6 ready", "converted: 2/2", "result: ok"]
    texts += ["6/6 done"] if backend == "svm" else ["6/6 results right"]
    if backend == "svm" and "no Linux guest:" not in p.stdout:
        texts += ["Linux guest on sidecar cpu", "  | "]
    for text in texts:
        if text not in p.stdout:
            problems.append(f"summary lacks {text!r}")
    return [f"{backend}: {msg}" for msg in problems]


def demo_run(demo, build, *args, timeout=300):
    out = tempfile.mkdtemp(prefix="sidecar-demo-")
    jpath = os.path.join(out, "r.json")
    cmd = [sys.executable, demo, build, "--no-linux-guest", "--quiet", "--timeout", "200", "--json", jpath,
           "--svg", os.path.join(out, "t.svg"), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        with open(jpath, encoding="utf-8") as fh:
            r = json.load(fh)
    except (OSError, ValueError):
        r = None
    return p, r


def options_checks(demo, build):
    problems = []

    def expect(name, p, status, *texts, booted=None):
        both = p.stdout + p.stderr
        if p.returncode != status:
            problems.append(f"{name}: exit status {p.returncode}, expected {status}:\n{both[-2000:]}")
        for t in texts:
            if t not in both:
                problems.append(f"{name}: output lacks {t!r}:\n{both[-2000:]}")
        if booted is not None and ("sidecar demo: " in p.stdout) != booted:
            problems.append(f"{name}: QEMU {'did not start' if booted else 'started'}")
        if "Traceback" in both:
            problems.append(f"{name}: a Python traceback")

    # Usage errors: exit 2, the option named, nothing booted.
    p = subprocess.run([sys.executable, demo, build, "--cpus", "0"], capture_output=True, text=True)
    expect("--cpus 0", p, 2, "--cpus", booted=False)
    p = subprocess.run([sys.executable, demo, build, "--cpuss", "4"], capture_output=True, text=True)
    expect("unknown option", p, 2, "--cpuss", "did you mean --cpus?", "valid options:", "--numa", "--gdb",
           booted=False)
    # Output paths checked before the VM boots.
    for opt in ("--json", "--svg"):
        p, _ = demo_run(demo, build, "--cpus", "4", opt, "/proc/sidecar-demo/out")
        expect(f"{opt} unwritable", p, 2, f"{opt} /proc/sidecar-demo/out: cannot be written", booted=False)
    # The main kernel's own error text for a bad main-kernel option.
    p, r = demo_run(demo, build, "--cpus", "4", "--append", "mk.bogus")
    expect("--append mk.bogus", p, 1, "the main kernel failed: command line: mk.bogus: unknown main-kernel option")
    if "None" in p.stdout.split("=" * 72)[-1]:
        problems.append("--append mk.bogus: the summary says None")
    # Sidecar disabled: the VM's CPU count and the reason.
    p, r = demo_run(demo, build, "--cpus", "4", "--append", "sidecar=off")
    expect("sidecar=off", p, 0, "VM: 4 vCPUs", "sidecar was disabled: sidecar=off")
    if not r or r.get("cpus") != 4 or r.get("main_cpus") != 4 or r.get("sidecar") is not False:
        problems.append(f"sidecar=off: report cpus/main_cpus/sidecar: {r and (r.get('cpus'), r.get('main_cpus'), r.get('sidecar'))}")
    # --cpus 1: runs (nothing to gain, sidecar disabled), --numa not blamed.
    p, r = demo_run(demo, build, "--cpus", "1")
    expect("--cpus 1", p, 0, "VM: 1 vCPUs", "nothing to gain")
    if "--numa" in p.stderr:
        problems.append("--cpus 1 blames --numa")
    # -smp in --qemu-arg, space form: it replaces the demo's topology.
    p, r = demo_run(demo, build, "--cpus", "8", "--qemu-arg", "-smp", "--qemu-arg", "3")
    expect("--qemu-arg -smp --qemu-arg 3", p, 0, "VM: 3 vCPUs", "result: ok")
    first = p.stdout.splitlines()[0] if p.stdout else ""
    if " -numa " in first:
        problems.append("--qemu-arg -smp: the demo's own -numa arguments were still given")
    # --gdb: the stub, and the symbols of all three images where they run.
    gdb = shutil.which("gdb")
    if not gdb:
        print("gdb not installed: the --gdb check is skipped")
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = tempfile.mkdtemp(prefix="sidecar-demo-")
        d = subprocess.Popen([sys.executable, demo, build, "--no-linux-guest", "--quiet", "--cpus", "4",
                              "--json", os.path.join(out, "r.json"), "--svg", os.path.join(out, "t.svg"),
                              "--gdb", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The demo prints the gdb command first; gdb retries the connection
        # until QEMU listens (set tcp auto-retry, on by default).
        hint = ""
        for line in d.stdout:
            if line.strip().startswith("gdb "):
                hint = line.strip()
                break
        words = shlex.split(hint)[1:] if hint else []
        g = subprocess.run([gdb, "-batch", *[w for w in words if w != "-q"], "-ex", "set tcp connect-timeout 60",
                            "-ex", "break shim_main", "-ex", "break sk_entry", "-ex", "break mk_main",
                            "-ex", "continue", "-ex", "continue", "-ex", "continue", "-ex", "kill"],
                           capture_output=True, text=True, timeout=240)
        try:
            rest = d.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            d.kill()
            rest = d.communicate()[0]
        for fn in ("shim_main", "sk_entry", "mk_main"):
            if not any("Breakpoint" in l and f" {fn} (" in l for l in g.stdout.splitlines()):
                problems.append(f"--gdb: gdb did not stop in {fn} (printed command {hint!r}):\n"
                                f"{g.stdout[-1500:]}{g.stderr[-1500:]}{rest[-500:]}")
    return problems


def main():
    demo, build = sys.argv[1], sys.argv[2]
    problems = options_checks(demo, build)
    problems += check(demo, build, "svm") + check(demo, build, "ring3")
    for msg in problems:
        print("FAIL: " + msg)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
