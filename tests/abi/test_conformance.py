#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ABI conformance: the generated layout (docs/layout.json) against the
independent expectations in expected.py."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected  # noqa: E402

LAYOUT = os.path.join(os.environ["SIDECAR_BUILD_ROOT"], "docs", "layout.json")


class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(LAYOUT, encoding="utf-8") as fh:
            cls.layout = json.load(fh)

    def test_structs(self):
        for name, (size, fields) in expected.STRUCTS.items():
            with self.subTest(struct=name):
                s = self.layout["structs"].get(name)
                self.assertIsNotNone(s, f"struct {name} missing")
                self.assertEqual(s["size"], size, f"{name} size")
                offsets = {f["name"]: f["offset"] for f in s["fields"]}
                for field, off in fields.items():
                    self.assertIn(field, offsets, f"{name}.{field} missing")
                    self.assertEqual(offsets[field], off, f"{name}.{field} offset")

    def test_enums(self):
        for name, values in expected.ENUMS.items():
            with self.subTest(enum=name):
                e = self.layout["enums"].get(name)
                self.assertIsNotNone(e, f"enum {name} missing")
                for v, n in values.items():
                    self.assertEqual(e["values"].get(v), n, f"{name}.{v}")

    def test_constants(self):
        for name, value in expected.CONSTANTS.items():
            self.assertEqual(self.layout["constants"].get(name), value, name)

    def test_status_fields_are_atomic_bytes(self):
        cp = {f["name"]: f for f in self.layout["structs"]["control_page"]["fields"]}
        self.assertTrue(cp["cpu_status"]["atomic"])
        self.assertEqual(cp["cpu_status"]["elem_size"], 1)
        self.assertEqual(cp["cpu_status"]["count"], 4032)
        self.assertTrue(cp["needs_attention"]["atomic"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
