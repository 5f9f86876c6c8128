#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks the bring-up timeline module (tests/qemu/timeline.py) on reports
it makes up: a sidecar report with two nodes, a floor report, and a
1024-CPU fan-out. For each: the SVG parses, has one titled bar per CPU and
a ready count that ends at the number of ready CPUs, its time ticks are
round numbers; the Perfetto trace, written and loaded back as JSON, passes
check_trace (the Chrome trace event format: phases, names, integer pid and
tid, ts and dur, one named track per CPU) and holds the same events (an X
event per CPU, an INIT instant per started CPU on its starter's track, the
ready counter). Then broken traces must be refused. No QEMU.

usage: timeline_check.py OUT_DIR
"""
import copy
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timeline  # noqa: E402


def fan_out(n_aps, nodes=1, round_us=40.0):
    """A made-up doubling fan-out over n_aps CPUs 1..n_aps (CPU 0 the boot
    CPU): each CPU, once up, starts the next unclaimed one."""
    up = {0: 0.0}
    rnd = {0: 0}
    rows, nxt, free = [], 1, [(0.0, 0)]
    while nxt <= n_aps:
        free.sort()
        t, starter = free.pop(0)
        cpu = nxt
        nxt += 1
        checkin = t + round_us
        up[cpu], rnd[cpu] = checkin, rnd[starter] + 1
        rows.append((cpu, starter, t, checkin))
        free += [(checkin, starter), (checkin + 2, cpu)]
    per_node = (n_aps + nodes - 1) // nodes
    return [(cpu, (cpu - 1) // per_node, rnd[cpu], by, t, c) for cpu, by, t, c in rows]


def check_one(out, name, rows, want_ready):
    problems = []
    svg, trace = os.path.join(out, f"{name}.svg"), os.path.join(out, f"{name}.trace.json")
    if not timeline.write_svg(svg, rows, f"{name}: test"):
        return [f"{name}: no SVG"]
    root = ET.parse(svg).getroot()
    titles = [t.text for t in root.iter() if t.tag.endswith("title")]
    cpus = {int(re.match(r"cpu (\d+) \(APIC", t).group(1)) for t in titles if t and t.startswith("cpu ")}
    if cpus != {r["cpu"] for r in rows}:
        problems.append(f"{name}: SVG bars for {len(cpus)} CPUs, expected {len(rows)}")
    height = float(root.get("height"))
    if height > 1400:
        problems.append(f"{name}: SVG {height:.0f} px high (unreadable)")
    labels = [t.text for t in root.iter() if t.tag.endswith("text") and t.text and t.text.startswith("cpu ")]
    if len(rows) > 200 and len(labels) > 120:
        problems.append(f"{name}: {len(labels)} CPU labels for {len(rows)} rows (they overlap)")
    ticks = [t.text for t in root.iter() if t.tag.endswith("text") and t.text and re.match(r"^[\d.]+ (ms|us)$", t.text)]
    values = [float(t.split()[0]) * (1000 if t.endswith("ms") else 1) for t in ticks]
    if len(values) < 3 or values[0] != 0:
        problems.append(f"{name}: time ticks {ticks}")
    else:
        step = values[1] - values[0]
        mant = step / 10 ** int(f"{step:e}".split("e")[1])
        if round(mant, 6) not in (1.0, 2.0, 5.0) or any(abs(b - a - step) > 1e-6 for a, b in zip(values, values[1:])):
            problems.append(f"{name}: ticks not evenly round: {ticks}")
    line = [p for p in root.iter() if p.tag.endswith("polyline")]
    if not line:
        problems.append(f"{name}: no ready-count line")
    timeline.write_trace(trace, rows, name)
    with open(trace, encoding="utf-8") as fh:
        t = json.load(fh)
    problems += [f"{name}: trace: {p}" for p in timeline.check_trace(t, [r["cpu"] for r in rows])]
    ev = t["traceEvents"]
    x = [e for e in ev if e["ph"] == "X"]
    if len(x) != want_ready:
        problems.append(f"{name}: {len(x)} complete events, expected {want_ready}")
    inits = [e for e in ev if e["ph"] == "i" and e["name"].startswith("INIT to cpu ")]
    if len(inits) != len(rows):
        problems.append(f"{name}: {len(inits)} INIT instants, expected {len(rows)}")
    for e in inits:
        cpu = int(e["name"].split()[-1])
        starter = next(r["by"] for r in rows if r["cpu"] == cpu)
        if e["tid"] != (starter if starter >= 0 else timeline.BOOT_TID):
            problems.append(f"{name}: INIT to cpu {cpu} on track {e['tid']}, expected its starter {starter}")
    counter = [e["args"]["ready"] for e in ev if e["ph"] == "C"]
    if not counter or counter[-1] != want_ready or counter != sorted(counter):
        problems.append(f"{name}: ready counter {counter[-3:]}, expected to rise to {want_ready}")
    return problems, t


def refused(t):
    """Broken copies of a good trace: check_trace must find each."""
    problems = []
    ev = t["traceEvents"]
    k = next(i for i, e in enumerate(ev) if e["ph"] == "X")
    cases = {
        "no traceEvents": lambda c: c.pop("traceEvents"),
        "a negative dur": lambda c: c["traceEvents"][k].__setitem__("dur", -1),
        "an unknown phase": lambda c: c["traceEvents"][k].__setitem__("ph", "Q"),
        "a string tid": lambda c: c["traceEvents"][k].__setitem__("tid", "1"),
        "no ts": lambda c: c["traceEvents"][k].pop("ts"),
        "a track without a name": lambda c: c.__setitem__("traceEvents", [e for e in c["traceEvents"]
                                                                         if e.get("name") != "thread_name"]),
    }
    for what, breaker in cases.items():
        c = copy.deepcopy(t)
        breaker(c)
        if not timeline.check_trace(c):
            problems.append(f"check_trace accepted a trace with {what}")
    return problems


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "timeline-check"
    os.makedirs(out, exist_ok=True)
    problems = []
    # The main kernel's SIDECAR-REPORT timeline: [cpu, apic, node, round, by, start_us, ready_us];
    # cpu 0 is the boot CPU, cpu 5 never came up.
    sidecar = {"timeline": [[c, c, node, r, by, int(t), int(ready) if c != 5 else 0]
                            for c, node, r, by, t, ready in fan_out(14, nodes=2)]}
    p, _ = check_one(out, "sidecar", timeline.rows_from_sidecar(sidecar), 13)
    problems += p
    # The floor kernel's FLOOR-REPORT timeline: [cpu, apic, round, by, init_us, checkin_us].
    floor = {"timeline": [[c, c, r, by, int(t), int(ck)] for c, _, r, by, t, ck in fan_out(7)]}
    p, good = check_one(out, "floor", timeline.rows_from_floor(floor), 7)
    problems += p
    big = {"timeline": [[c, c, node, r, by, int(t), int(ready)] for c, node, r, by, t, ready in
                        fan_out(1023, nodes=32, round_us=900)]}
    p, _ = check_one(out, "cpus1024", timeline.rows_from_sidecar(big), 1023)
    problems += p
    problems += refused(good)
    for msg in problems:
        print("FAIL: " + msg)
    print(f"{3 - len({m.split(':')[0] for m in problems if ':' in m})} of 3 timelines sound; "
          f"{'no' if not problems else len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
