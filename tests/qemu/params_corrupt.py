#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Params corrupted field by field, through the real shim and kernel.

The cases are generated from the protocol (protocol/boot.yaml: the params,
params_node and params_cpu structs with their constraints and cross-field
rules; constants.yaml and enums.yaml for the limits): for every field with
a constraint, a value that breaks it (equals: a different value; zero: a
set byte; range: just outside; align: off by half a page; enum and bool:
an undefined value), and one case per rule (unique APIC IDs, bsp_cpu below
cpu_count, nodes within cpu_count, sorted and disjoint, minimum memory,
disjoint memory ranges) plus the kernel's own cross-checks (the BSP must be
a main CPU, a sidecar CPU outside every node). Each case boots QEMU with
sidecar.test_corrupt=OFFSET:SIZE:OPVALUE (docs/shim.md): the kernel must
refuse before it changes anything, with a message naming the field, and the
shim must boot the main kernel without sidecar, handing on the kernel's
message as disabled_reason ("kernel: params.FIELD: ...").

  params_corrupt.py --shim ELF --protocol DIR [--all] [--jobs N] [--list]

Without --all one case per constraint class and every rule runs (the test
suite's size); --all runs every field.
"""

import argparse
import concurrent.futures
import importlib.util
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"u8": 1, "bool": 1, "u16": 2, "u32": 4, "u64": 8}


def load_run():
    spec = importlib.util.spec_from_file_location("sidecar_run", os.path.join(HERE, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Protocol:
    def __init__(self, directory):
        def load(name):
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                return yaml.safe_load(fh)
        self.consts = {c["name"]: c["value"] for c in load("constants.yaml")["constants"]}
        self.enums = {e["name"]: e for e in load("enums.yaml")["enums"]}
        self.structs = {s["name"]: s for s in load("boot.yaml")["structs"]}

    def value(self, v):
        """A number, a constant's name or sizeof(struct)."""
        if isinstance(v, int):
            return v
        v = str(v)
        if v.startswith("sizeof(") and v.endswith(")"):
            return self.structs[v[7:-1]]["size"]
        return self.consts[v]

    def scalar_size(self, t):
        if t in SIZES:
            return SIZES[t]
        if t in self.enums:
            return SIZES[self.enums[t]["type"]]
        return None


def field_cases(proto, struct, base, prefix):
    """(class, path, offset, size, op+value) for every constrained field."""
    out = []
    for f in proto.structs[struct]["fields"]:
        path = prefix + f["name"]
        off = base + f["offset"]
        t = f["type"]
        size = proto.scalar_size(t)
        if size is None:
            continue    # nested arrays are expanded by the caller
        if "equals" in f:
            out.append(("equals", path, off, size, "=%d" % (proto.value(f["equals"]) ^ 1)))
        if f.get("zero"):
            out.append(("zero", path, off, 1, "=1"))
        if "range" in f:
            lo, hi = (proto.value(x) for x in f["range"])
            if lo > 0:
                out.append(("range_low", path, off, size, "=%d" % (lo - 1)))
            if hi + 1 < 1 << (8 * size):
                bad = hi + 1
                if "align" in f:   # still aligned, so the range is what breaks
                    a = proto.value(f["align"])
                    bad = (hi + a) // a * a
                out.append(("range_high", path, off, size, "=%d" % bad))
        if "align" in f:
            out.append(("align", path, off, size, "+%d" % (proto.value(f["align"]) // 2)))
        if t == "bool":
            out.append(("bool", path, off, 1, "=2"))
        if t in proto.enums:
            used = {v["value"] for v in proto.enums[t]["values"]}
            bad = next(v for v in range(255, 0, -1) if v not in used)
            out.append(("enum", path, off, size, "=%d" % bad))
    return out


def cases(proto, all_fields):
    params = proto.structs["params"]
    fields = {f["name"]: f for f in params["fields"]}
    node_off = fields["nodes"]["offset"]
    cpus_off = fields["cpus"]["offset"]
    cpu_size = proto.structs["params_cpu"]["size"]
    out = field_cases(proto, "params", 0, "")
    out += field_cases(proto, "params_node", node_off, "nodes[0].")
    out += field_cases(proto, "params_cpu", cpus_off + cpu_size, "cpus[1].")
    # The cross-field rules, each broken once (smp 2: CPU 0 the BSP and
    # main CPU, CPU 1 the only sidecar CPU, one node).
    node = {f["name"]: f for f in proto.structs["params_node"]["fields"]}
    cpu = {f["name"]: f for f in proto.structs["params_cpu"]["fields"]}
    for rule in params.get("rules", []):
        k = rule["kind"]
        if k == "unique":
            out.append(("rule_unique", f"cpus[1].{rule['field']}|cpus", cpus_off + cpu_size + cpu[rule["field"]]["offset"],
                        4, "=0"))
        elif k == "less_than":
            out.append(("rule_less_than", rule["field"], fields[rule["field"]]["offset"], 4, "=%d" % 4000))
        elif k == "within":
            out.append(("rule_within", f"nodes[0].{rule['base']}|nodes", node_off + node[rule["base"]]["offset"], 4, "=7"))
        elif k == "sorted_disjoint":
            # A second node over the same CPU as the first (its memory
            # elsewhere, valid on its own).
            n1 = node_off + proto.structs["params_node"]["size"]
            pokes = [(fields["node_count"]["offset"], 4, "=2"), (n1 + node["memory_base"]["offset"], 8, "=%d" % 0x200000),
                     (n1 + node["memory_size"]["offset"], 8, "=%d" % 0x10000), (n1 + node["base_cpu"]["offset"], 4, "=1"),
                     (n1 + node["cpu_count"]["offset"], 4, "=1")]
            out.append(("rule_sorted_disjoint", "nodes[1].base_cpu|nodes", pokes, None, None))
        elif k == "min_memory":
            out.append(("rule_min_memory", f"nodes[0].{rule['size']}|nodes", node_off + node[rule["size"]]["offset"], 8,
                        "=%d" % proto.value("page_size")))
        elif k == "disjoint":
            # Guest RAM at 0 covers the trampoline page and node memory.
            out.append(("rule_disjoint", "guest_ram|trampoline|memory", fields["guest_ram_base"]["offset"], 8, "=0"))
    # The kernel's own checks beyond the validator.
    out.append(("kernel_bsp_role", "cpus[0].role", cpus_off + cpu["role"]["offset"], 1,
                "=%d" % next(v["value"] for v in proto.enums["cpu_role"]["values"] if v["name"] == "sidecar")))
    # A sidecar CPU outside every node: the node ends before CPU 1.
    out.append(("kernel_outside_node", "cpus[1].role", node_off + node["base_cpu"]["offset"], 4, "=0"))
    # Node memory the validator accepts but the kernel cannot use (review
    # finding 5: both hung the boot): at 8 GiB, which the shim's page
    # tables do not map (the VM has 256M), and on top of the kernel image
    # (the shim loads it at 4 MiB).
    out.append(("kernel_node_unmapped", "nodes[0].memory_base", node_off + node["memory_base"]["offset"], 8,
                "=%d" % (8 << 30)))
    out.append(("kernel_node_on_image", "nodes[0].memory_base", node_off + node["memory_base"]["offset"], 8,
                "=%d" % 0x400000))
    if not all_fields:
        seen, small = set(), []
        for c in out:
            if c[0].startswith("rule_") or c[0].startswith("kernel_") or c[0] not in seen:
                small.append(c)
                seen.add(c[0])
        out = small
    return out


def spec(case):
    """The sidecar.test_corrupt value: OFF:SIZE:OPV[,...]."""
    cls, path, off, size, opv = case
    pokes = off if isinstance(off, list) else [(off, size, opv)]
    return ",".join(f"{o}:{s}:{v}" for o, s, v in pokes)


def run_case(run, shim, qemu, case):
    cls, path, off, size, opv = case
    args = argparse.Namespace(
        qemu=qemu, shim=shim, smp=2, topology=None, numa=None, object=None, memory="256M", cpu="max",
        append=f"sidecar.test_corrupt={spec(case)}", timeout=120, live=False, accel="tcg",
        ready=None, failed=None, failed_apic=None, main=None, nodes=None, ping=False, expect_ok=True,
        disabled=True, expect=["reason~kernel: params"], console=["shim: test: params bytes"], numa_mem=None)
    code, report, lines, wall = run.run(args)
    problems = run.check(args, code, report, wall, lines)
    reason = ""
    if report:
        import json
        try:
            reason = json.loads(report).get("reason", "")
        except json.JSONDecodeError:
            pass
    if reason and not any(f"params.{alt}" in reason for alt in path.split("|")):
        problems.append(f"the reason does not name {path}: {reason!r}")
    return case, problems, reason, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--protocol", default=os.path.join(HERE, "..", "..", "protocol"))
    ap.add_argument("--qemu", default=os.environ.get("SIDECAR_QEMU", "qemu-system-x86_64"))
    ap.add_argument("--all", action="store_true", help="every constrained field, not one per class")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    proto = Protocol(a.protocol)
    todo = cases(proto, a.all)
    if a.list:
        for c in todo:
            print(c[0], c[1], spec(c))
        return 0
    run = load_run()
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for case, problems, reason, lines in pool.map(lambda c: run_case(run, a.shim, a.qemu, c), todo):
            cls, path, off, size, opv = case
            tag = f"{cls:22} {path:32} {spec(case)}"
            if problems:
                failed += 1
                print("\n".join(lines))
                print(f"FAIL {tag}: " + "; ".join(problems))
            else:
                print(f"ok   {tag} -> {reason}")
    print(f"{len(todo) - failed}/{len(todo)} params corruptions refused by the kernel, main kernel booted without sidecar")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
