#!/usr/bin/python3
"""Runs the demo at 8 vCPUs in 2 NUMA nodes and checks what it produced:
exit status 0, a JSON report with every part the demo promises (the svm
backend's guest firmware on every sidecar VP and, when Debian's kernel can
be fetched, the Linux guest's banner), and an SVG timeline with one bar per
sidecar CPU. Then the same with --backend ring3 (the guest test and the
computation). Then a bad option must fail with a clear message and exit
status 2.

usage: demo_check.py DEMO_PY BUILD_DIR
"""
import json
import os
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


def main():
    demo, build = sys.argv[1], sys.argv[2]
    problems = check(demo, build, "svm") + check(demo, build, "ring3")
    bad = subprocess.run([sys.executable, demo, build, "--cpus", "0"], capture_output=True, text=True)
    if bad.returncode != 2 or "--cpus" not in bad.stderr:
        problems.append(f"--cpus 0: status {bad.returncode}, message {bad.stderr.strip()!r}")
    for msg in problems:
        print("FAIL: " + msg)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
