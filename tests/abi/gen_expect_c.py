#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes a C file of static assertions (offsetof/sizeof/enum values) from
expected.py, so the same independent expectations are checked against the
generated C header by the compiler."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected  # noqa: E402

out = ["/* Generated from tests/abi/expected.py. */", "#include <stddef.h>",
       "#include <sidecar/abi.h>", ""]
for name, (size, fields) in expected.STRUCTS.items():
    t = f"struct sidecar_{name}"
    out.append(f'_Static_assert(sizeof({t}) == {size}, "{name} size");')
    for f, off in fields.items():
        out.append(f'_Static_assert(offsetof({t}, {f}) == {off}, "{name}.{f}");')
for name, values in expected.ENUMS.items():
    for v, n in values.items():
        out.append(f'_Static_assert(SIDECAR_{name.upper()}_{v.upper()} == {n}u, "{name}.{v}");')
for name, value in expected.CONSTANTS.items():
    out.append(f'_Static_assert(SIDECAR_{name.upper()} == {value}u, "{name}");')
out.append("int sidecar_abi_expect_c(void) { return 0; }")
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    fh.write("\n".join(out) + "\n")
