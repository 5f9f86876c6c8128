# SPDX-License-Identifier: MIT
"""The bring-up timeline: an SVG picture and a Chrome/Perfetto trace.

Both are made from rows, one per started CPU (dicts with cpu, apic, node,
round, by: the CPU that sent it INIT-SIPI or -1, init: when that INIT went
out, checkin: when it checked in, idle: when it was IDLE, all in us from
the kernel's start, None when not known or never):

  rows_from_sidecar(report)  the main kernel's SIDECAR-REPORT: its
                             "timeline" ([cpu, apic, node, round, by,
                             start_us, ready_us]); the output pages keep no
                             separate check-in time (a sidecar CPU is IDLE
                             a few us after it checks in: docs/boot.md
                             section 4), so checkin is None;
  rows_from_floor(report)    the floor kernel's FLOOR-REPORT ([cpu, apic,
                             round, by, init_us, checkin_us]; one node, no
                             IDLE: the floor only checks in).

write_svg draws one row per CPU, grouped by node and ordered by INIT time
within a node: a bar from INIT to check-in (to IDLE when check-in is not
known), a pale bar on to IDLE, a diamond at check-in, a bar end at IDLE,
a tick for every INIT the CPU sent; under it, the running count of ready
CPUs; the time axis has round ticks (1, 2 or 5 times a power of ten).
Rows shrink to fit 1024 CPUs; labels thin out so they stay readable.

trace_events / write_trace export the same events in the Chrome trace event
format that Perfetto opens (https://ui.perfetto.dev): one process per node,
one thread (track) per CPU, a complete event ("X") for each CPU's bring-up,
instant events ("i") for check-in, IDLE and each INIT it sent, and a
counter ("C") of ready CPUs. check_trace validates a loaded trace against
that schema and returns the problems (tests/qemu/timeline_check.py).
"""

import json
import math
import os

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]


def rows_from_sidecar(report):
    rows = []
    for cpu, apic, node, rnd, by, start, ready in report.get("timeline", []):
        rows.append({"cpu": cpu, "apic": apic, "node": node, "round": rnd, "by": by,
                     "init": start, "checkin": None, "idle": ready or None})
    return rows


def rows_from_floor(report):
    rows = []
    for cpu, apic, rnd, by, init, checkin in report.get("timeline", []):
        rows.append({"cpu": cpu, "apic": apic, "node": 0, "round": rnd, "by": by,
                     "init": init, "checkin": checkin or None, "idle": None})
    return rows


def ready_time(row):
    """When the CPU was ready: IDLE, or its check-in where the kernel has
    no IDLE (the floor)."""
    return row["idle"] if row["idle"] is not None else row["checkin"]


def nice_step(span, ticks=8):
    """A round tick step (1, 2 or 5 times a power of ten) giving about
    `ticks` ticks over span."""
    if span <= 0:
        return 1
    raw = span / ticks
    p = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * p >= raw:
            return m * p
    return 10 * p


def tick_label(us, step):
    if step >= 1000:
        ms = us / 1000
        return f"{ms:.0f} ms" if step % 1000 == 0 else f"{ms:.1f} ms"
    return f"{us:.0f} us"


def _esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path, rows, title):
    """Writes the picture; False when there is nothing to draw."""
    if not rows:
        return False
    times = [t for r in rows for t in (r["init"], r["checkin"], r["idle"]) if t is not None]
    end = max(times + [1])
    step = nice_step(end)
    end = math.ceil(end / step) * step
    nodes = sorted({r["node"] for r in rows})
    order = []
    for n in nodes:
        order += sorted((r for r in rows if r["node"] == n),
                        key=lambda r: (r["init"] if r["init"] is not None else -1, r["cpu"]))
    n_rows = len(order)
    row_h = max(0.7, min(12.0, 860.0 / n_rows))
    gap = min(10.0, 160.0 / len(nodes)) if len(nodes) > 1 else 0
    left, width, top = 110, 900, 48
    plot_h = row_h * n_rows + gap * (len(nodes) - 1)
    count_h = 90
    height = top + plot_h + 30 + count_h + 40
    x = lambda us: left + width * us / end
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 190}" height="{height:.0f}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="18" font-size="14">{_esc(title)}</text>',
           f'<text x="{left}" y="34" font-size="11" fill="#555">one row per CPU, grouped by node, in INIT '
           f'order; {n_rows} CPUs, {len(nodes)} node{"s" if len(nodes) > 1 else ""}</text>']
    # Time grid and ticks (the same for both panels).
    t = 0.0
    while t <= end + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{height - 30:.0f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - 14:.0f}" text-anchor="middle">{tick_label(t, step)}</text>')
        t += step
    # Before the first INIT: the kernel's fixed cost.
    inits = [r["init"] for r in rows if r["init"] is not None]
    if inits and min(inits) > 0:
        out.append(f'<rect x="{left}" y="{top}" width="{x(min(inits)) - left:.1f}" height="{plot_h:.1f}" '
                   f'fill="#f4f4f4"/>')
        out.append(f'<text x="{left + 4}" y="{top + plot_h - 4:.1f}" fill="#777">before the first INIT: '
                   f'{min(inits) / 1000:.2f} ms</text>')
    # Which INITs each CPU sent (the BSP is -1).
    sent = {}
    for r in rows:
        if r["init"] is not None:
            sent.setdefault(r["by"], []).append(r["init"])
    label_every = max(1, math.ceil(11.0 / row_h))
    y = float(top)
    prev_node = None
    for i, r in enumerate(order):
        if prev_node is not None and r["node"] != prev_node:
            y += gap
        if r["node"] != prev_node:
            out.append(f'<text x="4" y="{y + 9:.1f}" font-weight="bold">node {r["node"]}</text>')
            out.append(f'<line x1="{left}" y1="{y - gap / 2:.1f}" x2="{left + width}" y2="{y - gap / 2:.1f}" '
                       f'stroke="#999"/>')
        prev_node = r["node"]
        color = PALETTE[r["round"] % len(PALETTE)]
        up = r["checkin"] if r["checkin"] is not None else r["idle"]
        title = (f'cpu {r["cpu"]} (APIC {r["apic"]}, node {r["node"]}), round {r["round"]}, started by '
                 f'{"the boot CPU" if r["by"] < 0 else "cpu " + str(r["by"])}: INIT at {r["init"]} us, '
                 f'check-in at {r["checkin"] if r["checkin"] is not None else "-"} us, '
                 f'IDLE at {r["idle"] if r["idle"] is not None else "-"} us, '
                 f'started {len(sent.get(r["cpu"], []))} CPUs')
        h = max(0.6, row_h - (1 if row_h >= 4 else 0))
        if r["init"] is None or up is None:
            out.append(f'<rect x="{x(r["init"] or 0):.1f}" y="{y:.1f}" width="4" height="{h:.1f}" fill="red">'
                       f'<title>{_esc(title)}: never checked in</title></rect>')
        else:
            out.append(f'<rect x="{x(r["init"]):.1f}" y="{y:.1f}" width="{max(1.0, x(up) - x(r["init"])):.1f}" '
                       f'height="{h:.1f}" fill="{color}"><title>{_esc(title)}</title></rect>')
            if r["idle"] is not None and r["idle"] > up:
                out.append(f'<rect x="{x(up):.1f}" y="{y:.1f}" width="{max(1.0, x(r["idle"]) - x(up)):.1f}" '
                           f'height="{h:.1f}" fill="{color}" fill-opacity="0.35"/>')
            if r["checkin"] is not None and row_h >= 3:
                cx, cy, d = x(r["checkin"]), y + h / 2, min(3.0, h / 2)
                out.append(f'<path d="M{cx - d:.1f},{cy:.1f} L{cx:.1f},{cy - d:.1f} L{cx + d:.1f},{cy:.1f} '
                           f'L{cx:.1f},{cy + d:.1f} Z" fill="#222"/>')
            if r["idle"] is not None:
                out.append(f'<line x1="{x(r["idle"]):.1f}" y1="{y:.1f}" x2="{x(r["idle"]):.1f}" '
                           f'y2="{y + h:.1f}" stroke="#000" stroke-width="1.5"/>')
        for t0 in sent.get(r["cpu"], []):
            out.append(f'<line x1="{x(t0):.1f}" y1="{y:.1f}" x2="{x(t0):.1f}" y2="{y + h:.1f}" '
                       f'stroke="#222" stroke-width="0.8"/>')
        if i % label_every == 0:
            out.append(f'<text x="{left - 4}" y="{y + min(row_h, 11) - 1:.1f}" text-anchor="end" '
                       f'font-size="{min(10, max(7, row_h)):.0f}">cpu {r["cpu"]}</text>')
        y += row_h
    # The running count of ready CPUs.
    cy0 = top + plot_h + 30
    readies = sorted(ready_time(r) for r in rows if ready_time(r) is not None)
    total = len(rows)
    out.append(f'<text x="4" y="{cy0 + count_h / 2:.0f}" font-weight="bold">ready CPUs</text>')
    out.append(f'<rect x="{left}" y="{cy0}" width="{width}" height="{count_h}" fill="none" stroke="#999"/>')
    for k in (0, total):
        yy = cy0 + count_h - count_h * k / max(1, total)
        out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{k}</text>')
    pts = [(left, cy0 + count_h)]
    for k, t in enumerate(readies, 1):
        yy = cy0 + count_h - count_h * k / max(1, total)
        pts.append((x(t), pts[-1][1]))
        pts.append((x(t), yy))
    pts.append((left + width, pts[-1][1]))
    out.append('<polyline fill="none" stroke="#4e79a7" stroke-width="1.5" points="' +
               " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
    # Legend.
    lx = left + width + 20
    legend = ["bar: INIT sent until", "check-in (or IDLE)", "pale: on to IDLE", "diamond: check-in",
              "black end: IDLE", "tick: an INIT it sent", "colour: fan-out round"]
    for k, text in enumerate(legend):
        out.append(f'<text x="{lx}" y="{top + 10 + k * 14}" font-size="10">{text}</text>')
    rounds = sorted({r["round"] for r in rows})
    for k, rnd in enumerate(rounds[:16]):
        yy = top + 10 + len(legend) * 14 + 6 + k * 15
        out.append(f'<rect x="{lx}" y="{yy}" width="12" height="12" fill="{PALETTE[rnd % len(PALETTE)]}"/>')
        out.append(f'<text x="{lx + 18}" y="{yy + 10}">round {rnd}</text>')
    out.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")
    return True


BOOT_TID = 1 << 20   # the boot CPU's track (it is not in the rows)


def trace_events(rows, name="bring-up"):
    """The rows as Chrome trace events (ts and dur in us)."""
    ev = []
    nodes = sorted({r["node"] for r in rows})
    for n in nodes:
        ev.append({"name": "process_name", "ph": "M", "pid": n, "tid": 0, "args": {"name": f"{name}: node {n}"}})
        ev.append({"name": "process_sort_index", "ph": "M", "pid": n, "tid": 0, "args": {"sort_index": n}})
    node_of = {r["cpu"]: r["node"] for r in rows}
    # Starters that are not in the rows: the boot CPU (and main CPUs), on
    # the first node's process.
    for by in sorted({r["by"] for r in rows} - set(node_of)):
        ev.append({"name": "thread_name", "ph": "M", "pid": nodes[0], "tid": BOOT_TID if by < 0 else by,
                   "args": {"name": "boot CPU" if by < 0 else f"cpu {by} (boot or main CPU)"}})
    for r in sorted(rows, key=lambda r: r["cpu"]):
        pid, tid = r["node"], r["cpu"]
        ev.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                   "args": {"name": f"cpu {r['cpu']} (APIC {r['apic']})"}})
        ev.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                   "args": {"sort_index": r["cpu"]}})
        args = {"round": r["round"], "started_by": r["by"], "apic_id": r["apic"]}
        if r["init"] is None:
            continue
        end = ready_time(r)
        if end is None:
            ev.append({"name": "no check-in", "ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": r["init"],
                       "args": args})
        else:
            ev.append({"name": f"coming up (round {r['round']})", "cat": "bringup", "ph": "X", "pid": pid,
                       "tid": tid, "ts": r["init"], "dur": max(0, end - r["init"]), "args": args})
        if r["checkin"] is not None:
            ev.append({"name": "check-in", "cat": "bringup", "ph": "i", "s": "t", "pid": pid, "tid": tid,
                       "ts": r["checkin"]})
        if r["idle"] is not None:
            ev.append({"name": "IDLE", "cat": "bringup", "ph": "i", "s": "t", "pid": pid, "tid": tid,
                       "ts": r["idle"]})
        spid, stid = (node_of.get(r["by"], nodes[0]), r["by"]) if r["by"] >= 0 else (nodes[0], BOOT_TID)
        ev.append({"name": f"INIT to cpu {r['cpu']}", "cat": "fan-out", "ph": "i", "s": "t", "pid": spid,
                   "tid": stid, "ts": r["init"], "args": {"cpu": r["cpu"]}})
    readies = sorted(t for t in (ready_time(r) for r in rows) if t is not None)
    ev.append({"name": "ready CPUs", "ph": "C", "pid": nodes[0] if nodes else 0, "tid": 0, "ts": 0,
               "args": {"ready": 0}})
    for k, t in enumerate(readies, 1):
        ev.append({"name": "ready CPUs", "ph": "C", "pid": nodes[0], "tid": 0, "ts": t, "args": {"ready": k}})
    return ev


def write_trace(path, rows, name="bring-up"):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"traceEvents": trace_events(rows, name), "displayTimeUnit": "ms"}, fh)
        fh.write("\n")


PHASES = {"X", "i", "C", "M"}


def check_trace(trace, cpus=None):
    """Problems with a loaded trace (an empty list when it is sound): the
    JSON object format of the Chrome trace event format as Perfetto reads
    it, and one named track per CPU (cpus: the expected CPU numbers)."""
    problems = []
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["not an object with a traceEvents list"]
    if trace.get("displayTimeUnit", "ms") not in ("ms", "ns"):
        problems.append(f"displayTimeUnit {trace.get('displayTimeUnit')!r}")
    named = {(e.get("pid"), e.get("tid")): (e.get("args") or {}).get("name")
             for e in trace["traceEvents"] if isinstance(e, dict) and e.get("ph") == "M" and
             e.get("name") == "thread_name" and isinstance(e.get("args"), dict)}
    for k, e in enumerate(trace["traceEvents"]):
        where = f"event {k}"
        if not isinstance(e, dict):
            problems.append(f"{where}: not an object")
            continue
        ph = e.get("ph")
        if ph not in PHASES:
            problems.append(f"{where}: phase {ph!r}")
            continue
        if not isinstance(e.get("name"), str) or not e["name"]:
            problems.append(f"{where}: no name")
        for key in ("pid", "tid"):
            if not isinstance(e.get(key), int) or isinstance(e.get(key), bool):
                problems.append(f"{where}: {key} is not an integer")
        if ph == "M":
            if not isinstance(e.get("args"), dict) or not e["args"]:
                problems.append(f"{where}: metadata without args")
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or isinstance(ts, bool) or ts < 0:
            problems.append(f"{where}: ts {ts!r}")
        if ph == "X":
            dur = e.get("dur")
            if not isinstance(dur, (int, float)) or isinstance(dur, bool) or dur < 0:
                problems.append(f"{where}: dur {dur!r}")
        if ph == "i" and e.get("s", "t") not in ("t", "p", "g"):
            problems.append(f"{where}: instant scope {e.get('s')!r}")
        if ph == "C" and (not isinstance(e.get("args"), dict) or
                          not all(isinstance(v, (int, float)) for v in e["args"].values())):
            problems.append(f"{where}: counter without numeric args")
        if ph in ("X", "i") and (e.get("pid"), e.get("tid")) not in named:
            problems.append(f"{where}: on a track with no thread_name")
    if cpus is not None:
        tracks = {tid for (_, tid), name in named.items() if isinstance(name, str) and "APIC" in name}
        if tracks != set(cpus):
            problems.append(f"tracks for CPUs {sorted(tracks)}, expected {sorted(cpus)}")
    return problems
