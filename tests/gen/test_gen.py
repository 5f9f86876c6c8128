#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Tests of the ABI generator (gen/sidecar-gen): every class of bad YAML is
rejected with file:line and a reason, and the output is deterministic."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

TOP = os.environ.get("SIDECAR_SOURCE_ROOT",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GEN = os.path.join(TOP, "gen", "sidecar-gen")
PROTOCOL = [os.path.join(TOP, "protocol", f)
            for f in ("constants.yaml", "enums.yaml", "runtime.yaml", "boot.yaml")]
KINDS = ["header", "validate-h", "validate-c", "markdown", "json", "nasm"]

GOOD_HEAD = """\
constants:
  - {name: page_size, value: 4096, doc: "Page."}
enums:
  - name: color
    type: u8
    doc: Colors.
    values:
      - {name: red, value: 0, doc: "Red."}
      - {name: blue, value: 1, doc: "Blue."}
structs:
"""


def gen(paths, kind="header", out=None):
    out = out or os.path.join(tempfile.mkdtemp(), "out")
    p = subprocess.run([sys.executable, GEN, "--emit", kind, "--output", out] + paths,
                       capture_output=True, text=True)
    return p, out


class BadYaml(unittest.TestCase):
    def expect(self, body, line, reason):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "bad.yaml")
        with open(path, "w") as fh:
            fh.write(GOOD_HEAD + textwrap.dedent(body))
        out = os.path.join(d, "out.h")
        p, _ = gen([path], out=out)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"bad.yaml:{line}:", p.stderr)
        self.assertIn(reason, p.stderr)
        self.assertFalse(os.path.exists(out), "nothing is written on error")
        shutil.rmtree(d)

    def test_unknown_type(self):
        self.expect("""\
          - name: s
            size: 4
            align: 4
            doc: S.
            fields:
              - {name: a, type: u33, offset: 0, doc: "A."}
        """, 16, "unknown type 'u33'")

    def test_or_zero_without_range(self):
        self.expect("""\
          - name: s
            size: 4
            align: 4
            doc: S.
            fields:
              - {name: a, type: u32, offset: 0, or_zero: true, doc: "A."}
        """, 16, "or_zero needs a range")

    def test_overlapping_offset(self):
        self.expect("""\
          - name: s
            size: 8
            align: 4
            doc: S.
            fields:
              - {name: a, type: u32, offset: 0, doc: "A."}
              - {name: b, type: u32, offset: 2, doc: "B."}
        """, 17, "overlaps or precedes 'a'")

    def test_misordered_offset(self):
        self.expect("""\
          - name: s
            size: 12
            align: 4
            doc: S.
            fields:
              - {name: a, type: u32, offset: 0, doc: "A."}
              - {name: b, type: u32, offset: 4, doc: "B."}
              - {name: c, type: u32, offset: 0, doc: "C."}
        """, 18, "offset 0 overlaps or precedes 'b'")

    def test_gap(self):
        self.expect("""\
          - name: s
            size: 8
            align: 4
            doc: S.
            fields:
              - {name: a, type: u16, offset: 0, doc: "A."}
              - {name: b, type: u32, offset: 4, doc: "B."}
        """, 17, "2-byte gap")

    def test_atomic_misaligned(self):
        self.expect("""\
          - name: s
            size: 8
            align: 2
            doc: S.
            fields:
              - {name: a, type: u16, offset: 0, doc: "A."}
              - {name: b, type: u16, offset: 2, doc: "B."}
              - {name: c, type: u32, offset: 4, atomic: true, doc: "C."}
        """, 18, "atomic field must be")

    def test_size_mismatch(self):
        self.expect("""\
          - name: s
            size: 16
            align: 4
            doc: S.
            fields:
              - {name: a, type: u32, offset: 0, doc: "A."}
        """, 11, "declared size 16 disagrees")

    def test_duplicate_field(self):
        self.expect("""\
          - name: s
            size: 8
            align: 4
            doc: S.
            fields:
              - {name: a, type: u32, offset: 0, doc: "A."}
              - {name: a, type: u32, offset: 4, doc: "A again."}
        """, 17, "duplicate field name")

    def test_duplicate_struct_name(self):
        self.expect("""\
          - name: color
            size: 4
            align: 4
            doc: S.
            fields:
              - {name: a, type: u32, offset: 0, doc: "A."}
        """, 11, "duplicate name 'color'")

    def test_enum_value_too_big(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "bad.yaml")
        with open(path, "w") as fh:
            fh.write("enums:\n  - name: e\n    type: u8\n    doc: E.\n    values:\n"
                     "      - {name: big, value: 256, doc: \"Too big.\"}\n")
        p, _ = gen([path])
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad.yaml:", p.stderr)
        self.assertIn("bad.yaml:6:", p.stderr)
        self.assertIn("does not fit in u8", p.stderr)

    def test_constraint_on_missing_field(self):
        self.expect("""\
          - name: s
            size: 8
            align: 4
            doc: S.
            rules:
              - {kind: less_than, field: nope, limit: a}
            fields:
              - {name: a, type: u32, offset: 0, doc: "A."}
              - {name: b, type: u32, offset: 4, doc: "B."}
        """, 16, "no field 'nope'")

    def test_bounded_by_missing_field(self):
        self.expect("""\
          - name: s
            size: 8
            align: 4
            doc: S.
            fields:
              - {name: a, type: u8, count: 8, offset: 0, bounded_by: n, doc: "A."}
        """, 16, "bounded_by: no field 'n'")

    def test_invalid_yaml(self):
        self.expect("""\
          - name: s
            size: [8
        """, 13, "not valid YAML")


class Deterministic(unittest.TestCase):
    def test_twice_identical(self):
        for kind in KINDS:
            p1, o1 = gen(PROTOCOL, kind)
            p2, o2 = gen(PROTOCOL, kind)
            self.assertEqual(p1.returncode, 0, p1.stderr)
            with open(o1, "rb") as a, open(o2, "rb") as b:
                self.assertEqual(a.read(), b.read(), kind)

    def test_independent_of_source_location(self):
        d = tempfile.mkdtemp()
        copies = []
        for p in PROTOCOL:
            shutil.copy(p, d)
            copies.append(os.path.join(d, os.path.basename(p)))
        for kind in KINDS:
            _, o1 = gen(PROTOCOL, kind)
            _, o2 = gen(copies, kind)
            with open(o1, "rb") as a, open(o2, "rb") as b:
                self.assertEqual(a.read(), b.read(), kind)
        shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
