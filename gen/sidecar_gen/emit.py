# SPDX-License-Identifier: MIT
"""Turn a checked Protocol into the context the Jinja2 templates render.

The templates hold the shape of each output; this module supplies names,
literals and the per-field validator checks, so that every output speaks of
the protocol in the same words.
"""

import json
import os
import tempfile

import jinja2

from . import VERSION

TEMPLATES = {
    "header": "abi.h.j2",
    "validate-h": "validate.h.j2",
    "validate-c": "validate.c.j2",
    "markdown": "abi.md.j2",
    "json": "layout.json.j2",
    "nasm": "abi.inc.j2",
}

# Validator result codes: one per kind of failure (see validate.h.j2).
RESULTS = [
    ("ok", "The page is valid."),
    ("range", "A value is outside its allowed range."),
    ("align", "An address or size is not aligned as required."),
    ("enum", "A value is not a member of its enumeration."),
    ("bool", "A boolean is neither 0 nor 1."),
    ("not_zero", "A reserved field is not zero."),
    ("mismatch", "A magic or version field has the wrong value."),
    ("count", "A count exceeds the capacity of the array it bounds."),
    ("order", "Array entries are not sorted."),
    ("overlap", "Two ranges overlap."),
    ("limit", "A range or index exceeds the limit another field sets."),
    ("memory", "A memory region is smaller than what it must hold."),
    ("duplicate", "Two entries that must differ are equal."),
]


def macro(name):
    return "SIDECAR_" + name.upper()


def literal(value):
    """A C integer literal of an unsigned type wide enough for value."""
    if value > 0xFFFFFFFF:
        return f"UINT64_C({value:#x})"
    return f"{value:#x}u" if value > 9 else f"{value}u"


def count_c(field):
    if isinstance(field.count_expr, str):
        return macro(field.count_expr)
    return str(field.count)


# Values below this are checked for repeats with a bitmap on the stack
# (UNIQUE_BITMAP / 8 bytes): APIC IDs of up to 4096 CPUs with no gaps.
UNIQUE_BITMAP = 4096

class _Checks:
    """Builds the C statements that validate one struct."""

    def __init__(self, struct):
        self.struct = struct
        self.lines = []

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    def fail(self, indent, code, path, fmt, s="0", a="0", b="0", c="0"):
        self.emit(indent, f"return vfail(err, SIDECAR_ABI_E_{code.upper()}, "
                  f"{path}, \"{fmt}\", {s}, {a}, {b}, {c});")

    def value_checks(self, f, expr, path, indent):
        if f.kind == "bool":
            self.emit(indent, f"if ({expr} > 1u)")
            self.fail(indent + 1, "bool", path, "not a boolean (%x)",
                      a=f"(uint64_t){expr}")
        if f.kind == "enum":
            self.emit(indent, f"if (!sidecar_{f.enum.name}_is_valid({expr}))")
            self.fail(indent + 1, "enum", path,
                      f"not a valid {f.enum.name} (%x)", a=f"(uint64_t){expr}")
        if f.equals is not None:
            self.emit(indent, f"if ({expr} != {literal(f.equals)})")
            self.fail(indent + 1, "mismatch", path, "expected %x, found %x",
                      a=literal(f.equals), b=f"(uint64_t){expr}")
        if f.range is not None:
            lo, hi = f.range
            conds = []
            if lo > 0:
                conds.append(f"(uint64_t){expr} < {literal(lo)}")
            if hi < (1 << (8 * f.elem_size)) - 1:
                conds.append(f"(uint64_t){expr} > {literal(hi)}")
            if conds:
                test = ' || '.join(conds)
                if f.or_zero:   # 0 is allowed too (e.g. "no vector")
                    test = f"{expr} != 0 && ({test})"
                self.emit(indent, f"if ({test})")
                self.fail(indent + 1, "range", path,
                          "out of range [%u, %u] (%u)" if not f.or_zero else
                          "neither 0 nor in [%u, %u] (%u)", a=literal(lo),
                          b=literal(hi), c=f"(uint64_t){expr}")
        if f.align is not None:
            self.emit(indent, f"if (((uint64_t){expr} & "
                      f"{literal(f.align - 1)}) != 0)")
            self.fail(indent + 1, "align", path, "not aligned to %x (%x)",
                      a=literal(f.align), b=f"(uint64_t){expr}")

    def field(self, f):
        s = self.struct
        self.emit(1, f"here.name = \"{f.name}\";")
        self.emit(1, "here.index = VPATH_NO_INDEX;")
        if not f.is_array:
            if f.is_struct:
                self.emit(1, f"rc = check_{f.struct.name}(&p->{f.name}, "
                          "&here, err);")
                self.emit(1, "if (rc != SIDECAR_ABI_OK)")
                self.emit(2, "return rc;")
            else:
                if f.zero:
                    # A single reserved scalar (an array is checked byte
                    # by byte below).
                    self.emit(1, f"if (p->{f.name} != 0)")
                    self.fail(2, "not_zero", "&here", "must be zero (%x)",
                              a=f"(uint64_t)p->{f.name}")
                self.value_checks(f, f"p->{f.name}", "&here", 1)
            return
        if f.zero:
            self.emit(1, "{")
            self.emit(2, "const uint8_t *bytes = (const uint8_t *)"
                      f"&p->{f.name};")
            self.emit(2, f"for (uint32_t i = 0; i < {f.size}u; i++) {{")
            self.emit(3, "if (bytes[i] != 0)")
            self.fail(4, "not_zero", "&here", "must be zero (byte %u is %x)",
                      a="i", b="bytes[i]")
            self.emit(2, "}")
            self.emit(1, "}")
            return
        bound = f"{count_c(f)}u"
        if f.bounded_by:
            b = s.field(f.bounded_by)
            self.emit(1, f"if (p->{b.name} > {count_c(f)}) {{")
            self.emit(2, f"here.name = \"{b.name}\";")
            self.fail(2, "count", "&here",
                      f"%u exceeds the capacity of {f.name} (%u)",
                      a=f"(uint64_t)p->{b.name}", b=count_c(f))
            self.emit(1, "}")
            bound = f"p->{b.name}"
        elem_checks = (f.struct.has_checks() if f.is_struct else
                       (f.kind in ("enum", "bool") or f.range or f.align
                        or f.equals is not None))
        if not elem_checks:
            return
        self.emit(1, f"for (uint32_t i = 0; i < {bound}; i++) {{")
        self.emit(2, "here.index = i;")
        if f.is_struct:
            self.emit(2, f"rc = check_{f.struct.name}(&p->{f.name}[i], "
                      "&here, err);")
            self.emit(2, "if (rc != SIDECAR_ABI_OK)")
            self.emit(3, "return rc;")
        else:
            self.value_checks(f, f"p->{f.name}[i]", "&here", 2)
        self.emit(1, "}")

    def elem_path(self, indent, arr, index, member):
        self.emit(indent, f"up.name = \"{arr.name}\";")
        self.emit(indent, f"up.index = {index};")
        self.emit(indent, f"here.name = \"{member}\";")
        self.emit(indent, "here.index = VPATH_NO_INDEX;")
        self.emit(indent, "here.up = &up;")

    def bound(self, rule_count, arr):
        return (f"vmin(p->{rule_count.name}, {count_c(arr)})")

    def rule(self, r, n):
        a = getattr(r, "array", None)
        if r.kind == "sorted_disjoint":
            self.emit(1, f"for (uint32_t i = 1; i < {self.bound(r.count, a)};"
                      " i++) {")
            self.emit(2, f"uint64_t prev_base = p->{a.name}[i - 1]."
                      f"{r.base.name};")
            self.emit(2, f"uint64_t prev_end = vadd(prev_base, "
                      f"p->{a.name}[i - 1].{r.length.name});")
            self.emit(2, f"uint64_t base = p->{a.name}[i].{r.base.name};")
            self.elem_path(2, a, "i", r.base.name)
            self.emit(2, "if (base < prev_base)")
            self.fail(3, "order", "&here",
                      f"not sorted: %x comes after %x in {a.name}[%u]",
                      a="base", b="prev_base", c="(uint64_t)(i - 1)")
            self.emit(2, "if (base < prev_end)")
            self.fail(3, "overlap", "&here",
                      f"%x overlaps {a.name}[%u], which ends at %x",
                      a="base", b="(uint64_t)(i - 1)", c="prev_end")
            self.emit(1, "}")
        elif r.kind == "within":
            self.emit(1, f"for (uint32_t i = 0; i < {self.bound(r.count, a)};"
                      " i++) {")
            self.emit(2, f"uint64_t end = vadd(p->{a.name}[i].{r.base.name}, "
                      f"p->{a.name}[i].{r.length.name});")
            self.elem_path(2, a, "i", r.length.name)
            self.emit(2, f"if (end > p->{r.limit.name})")
            self.fail(3, "limit", "&here",
                      f"range ends at %u, beyond {r.limit.name} (%u)",
                      a="end", b=f"(uint64_t)p->{r.limit.name}")
            self.emit(1, "}")
        elif r.kind == "min_memory":
            self.emit(1, f"for (uint32_t i = 0; i < {self.bound(r.count, a)};"
                      " i++) {")
            self.emit(2, f"uint64_t need = ({literal(r.fixed_pages)} + "
                      f"{literal(r.per_cpu_pages)} * (uint64_t)p->{a.name}[i]"
                      f".{r.cpus.name}) * {literal(r.page_size)};")
            self.elem_path(2, a, "i", r.size.name)
            self.emit(2, f"if (p->{a.name}[i].{r.size.name} < need)")
            self.fail(3, "memory", "&here",
                      "%x bytes, but %u CPUs need %x",
                      a=f"p->{a.name}[i].{r.size.name}",
                      b=f"(uint64_t)p->{a.name}[i].{r.cpus.name}", c="need")
            self.emit(1, "}")
        elif r.kind == "unique":
            # Linear for the values platforms use: a bitmap of the values
            # below UNIQUE_BITMAP; a value at or above it is compared with
            # every earlier one. The error is the pairwise loop's: the
            # first entry that repeats an earlier one, and the first
            # earlier entry it repeats.
            arr, fld = f"p->{a.name}", r.field.name
            self.emit(1, "{")
            self.emit(2, f"uint64_t seen[{UNIQUE_BITMAP // 64}];")
            self.emit(2, f"for (uint32_t k = 0; k < {UNIQUE_BITMAP // 64}u; k++)")
            self.emit(3, "seen[k] = 0;")
            self.emit(2, f"for (uint32_t i = 0; i < {self.bound(r.count, a)};"
                      " i++) {")
            self.emit(3, f"uint64_t v = (uint64_t){arr}[i].{fld};")
            self.emit(3, "bool repeat = false;")
            self.emit(3, f"if (v < {UNIQUE_BITMAP}u) {{")
            self.emit(4, "repeat = (seen[v >> 6] >> (v & 63u)) & 1u;")
            self.emit(4, "seen[v >> 6] |= 1ull << (v & 63u);")
            self.emit(3, "} else {")
            self.emit(4, "for (uint32_t j = 0; j < i && !repeat; j++)")
            self.emit(5, f"repeat = (uint64_t){arr}[j].{fld} == v;")
            self.emit(3, "}")
            self.emit(3, "if (!repeat)")
            self.emit(4, "continue;")
            self.emit(3, "for (uint32_t j = 0; j < i; j++) {")
            self.emit(4, f"if ((uint64_t){arr}[j].{fld} == v) {{")
            self.elem_path(5, a, "i", fld)
            self.fail(5, "duplicate", "&here",
                      f"%x duplicates {a.name}[%u]", a="v", b="(uint64_t)j")
            self.emit(4, "}")
            self.emit(3, "}")
            self.emit(2, "}")
            self.emit(1, "}")
        elif r.kind == "less_than":
            op = ">" if r.inclusive else ">="
            self.emit(1, f"if (p->{r.field.name} {op} p->{r.limit.name}) {{")
            self.emit(2, f"here.name = \"{r.field.name}\";")
            self.emit(2, "here.index = VPATH_NO_INDEX;")
            self.emit(2, "here.up = at;")
            self.fail(2, "limit", "&here",
                      f"%u is not below {r.limit.name} (%u)"
                      if not r.inclusive else
                      f"%u exceeds {r.limit.name} (%u)",
                      a=f"(uint64_t)p->{r.field.name}",
                      b=f"(uint64_t)p->{r.limit.name}")
            self.emit(1, "}")
        elif r.kind == "disjoint":
            self.emit(1, f"rc = check_{self.struct.name}_disjoint_{n}(p, "
                      "at, err);")
            self.emit(1, "if (rc != SIDECAR_ABI_OK)")
            self.emit(2, "return rc;")


def disjoint_helpers(struct):
    """C helpers for each 'disjoint' rule: a flat view of its ranges."""
    out = []
    for n, r in enumerate(struct.rules):
        if r.kind != "disjoint":
            continue
        parts = []
        for rg in r.ranges:
            if rg["array"] is not None:
                arr = rg["array"]
                parts.append({
                    "count": f"vmin(p->{rg['count'].name}, {count_c(arr)})",
                    "name": arr.name, "indexed": True,
                    "base": f"p->{arr.name}[k].{rg['base'].name}",
                    "size": f"p->{arr.name}[k].{rg['size'].name}",
                    "member": rg["base"].name})
            else:
                size = (f"p->{rg['field'].name}" if "field" in rg
                        else literal(rg["value"]))
                parts.append({"count": "1u", "name": rg["base"].name,
                              "indexed": False,
                              "base": f"p->{rg['base'].name}",
                              "size": size, "member": None})
        out.append({"n": n, "parts": parts})
    return out


def validator_body(struct):
    c = _Checks(struct)
    for f in struct.fields:
        if f.checks():
            c.field(f)
    for n, r in enumerate(struct.rules):
        c.rule(r, n)
    return c.lines


def field_constraints(f):
    """Human-readable constraints, for the Markdown reference."""
    out = []
    if f.equals is not None:
        out.append(f"= {f.equals:#x}")
    if f.range is not None:
        out.append(("0 or " if f.or_zero else "") + f"{f.range[0]:#x}..{f.range[1]:#x}")
    if f.align is not None:
        out.append(f"aligned {f.align:#x}")
    if f.zero:
        out.append("zero")
    if f.bounded_by:
        out.append(f"first `{f.bounded_by}` used")
    if f.kind == "bool":
        out.append("0 or 1")
    return ", ".join(out)


def rule_text(r):
    """One sentence describing a cross-field rule, for the Markdown reference."""
    a = getattr(r, "array", None)
    first = f"the first `{r.count.name}` entries of `{a.name}`" if a else ""
    if r.kind == "sorted_disjoint":
        return (f"{first} are sorted by `{r.base.name}` and the ranges "
                f"[`{r.base.name}`, `{r.base.name}` + `{r.length.name}`) do "
                "not overlap.")
    if r.kind == "within":
        return (f"in {first}, `{r.base.name}` + `{r.length.name}` is at most "
                f"`{r.limit.name}`.")
    if r.kind == "min_memory":
        return (f"in {first}, `{r.size.name}` is at least ({r.fixed_pages} + "
                f"{r.per_cpu_pages} x `{r.cpus.name}`) x {r.page_size} bytes.")
    if r.kind == "unique":
        return f"in {first}, no two entries have the same `{r.field.name}`."
    if r.kind == "less_than":
        op = "at most" if r.inclusive else "below"
        return f"`{r.field.name}` is {op} `{r.limit.name}`."
    if r.kind == "disjoint":
        parts = []
        for rg in r.ranges:
            if rg["array"] is not None:
                parts.append(f"each of the first `{rg['count'].name}` "
                             f"`{rg['array'].name}` ranges "
                             f"(`{rg['base'].name}`, `{rg['size'].name}`)")
            else:
                size = (f"`{rg['field'].name}`" if "field" in rg
                        else f"{rg['value']:#x} bytes")
                parts.append(f"`{rg['base'].name}` ({size})")
        return "these memory ranges are pairwise disjoint: " + \
            "; ".join(parts) + "."
    raise AssertionError(r.kind)


def layout(proto):
    """The layout as plain data, for the JSON output."""
    return {
        "format": "sidecar-layout",
        "format_version": 1,
        "generator": VERSION,
        "abi": {"major": proto.constant("abi_major").value,
                "minor": proto.constant("abi_minor").value},
        "constants": {c.name: c.value for c in proto.constants},
        "enums": {e.name: {"type": e.type, "size": e.size,
                           "values": {v.name: v.value for v in e.values}}
                  for e in proto.enums},
        "structs": {s.name: {
            "size": s.size, "align": s.align,
            "fields": [{
                "name": f.name, "offset": f.offset, "size": f.size,
                "type": f.type, "elem_size": f.elem_size,
                "count": f.count, "atomic": bool(f.atomic),
                "writer": f.writer} for f in s.fields]}
            for s in proto.structs},
    }


def render(proto, what, source_names):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(
            os.path.join(os.path.dirname(__file__), "..", "templates")),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["macro"] = macro
    env.filters["literal"] = literal
    env.filters["count_c"] = count_c
    env.filters["json"] = lambda v: json.dumps(v)
    env.filters["constraints"] = field_constraints
    env.filters["cdoc"] = lambda s: s.replace("*/", "* /")
    tmpl = env.get_template(TEMPLATES[what])
    return tmpl.render(
        proto=proto, version=VERSION, sources=source_names,
        results=RESULTS, validator_body=validator_body,
        disjoint_helpers=disjoint_helpers,
        validated=[s for s in proto.structs],
        hex=lambda v: f"{v:#x}", rule_text=rule_text,
        layout_json=lambda: json.dumps(layout(proto), indent=2))


def write_atomic(path, text):
    """Write path through a temporary file and a rename, so a reader never
    sees half a file and an interrupted run leaves the old one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".gen-")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
