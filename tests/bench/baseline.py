# SPDX-License-Identifier: MIT
"""The Linux bring-up baseline the demo compares with: a data file
(linux-baseline.json beside this file) that ./sidecar bench writes, each
row with the date, machine and command of the run that measured it.

  load()            every row (a missing or unreadable file: none)
  nearest(n)        (the measured vCPU count nearest n, its rows)
  merge(rows, ...)  this run's rows replace the same (cpus, linux) pairs;
                    pairs it did not measure keep their older figures
"""
import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linux-baseline.json")
FIELDS = ("cpus", "linux", "guest_s", "wall_s", "date", "machine", "command")


def load(path=PATH):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    rows = data.get("rows", []) if isinstance(data, dict) else []
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("cpus"), int) and
            isinstance(r.get("guest_s"), (int, float)) and isinstance(r.get("linux"), str)]


def nearest(n, path=PATH):
    rows = load(path)
    if not rows:
        return None, []
    best = min({r["cpus"] for r in rows}, key=lambda x: (abs(x - n), x))
    return best, [r for r in rows if r["cpus"] == best]


def merge(new_rows, date, machine, command, path=PATH):
    """new_rows: dicts with cpus, linux, guest_s, wall_s (finished runs only)."""
    keep = {(r["cpus"], r["linux"]): r for r in load(path)}
    for r in new_rows:
        keep[(r["cpus"], r["linux"])] = {"cpus": r["cpus"], "linux": r["linux"], "guest_s": r["guest_s"],
                                         "wall_s": r["wall_s"], "date": date, "machine": machine,
                                         "command": command}
    try:
        with open(path, encoding="utf-8") as fh:
            what = json.load(fh).get("what", "")
    except (OSError, ValueError, AttributeError):
        what = ""
    rows = [keep[k] for k in sorted(keep, key=lambda k: (k[0], [int(x) for x in k[1].split(".")]))]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write('{\n "what": ' + json.dumps(what) + ',\n "rows": [\n')
        fh.write(",\n".join("  " + json.dumps({k: r.get(k) for k in FIELDS}) for r in rows))
        fh.write("\n ]\n}\n")
    os.replace(tmp, path)
