# SPDX-License-Identifier: MIT
"""Reading the guest firmware's protocol constants from firmware_ports.h
(C: #define NAME VALUEu) and firmware_ports.inc (NASM: NAME equ VALUE).
Function-like macros and anything that is not a plain number are not
constants here."""

import re

_C = re.compile(r"^\s*#\s*define\s+(FW_\w+)\s+(\(?[0-9][0-9a-fA-Fx]*[uU]?\)?)\s*(/\*.*)?$")
_C_OBJECT_MACRO = re.compile(r"^\s*#\s*define\s+FW_\w+\s")     # FW_X(...) is function-like
_NASM_ANY = re.compile(r"^\s*FW_\w+\s+equ\s")
_NASM = re.compile(r"^\s*(FW_\w+)\s+equ\s+([0-9][0-9a-fA-Fx]*)\s*(;.*)?$")


def _number(text):
    return int(text.strip("()").rstrip("uU"), 0)


def _read(path, pattern, kind):
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = pattern.match(line)
            if not m:
                if _C_OBJECT_MACRO.match(line) or _NASM_ANY.match(line):
                    raise ValueError(f"{path}:{n}: {kind} constant that is not a plain number: {line.strip()}")
                continue
            name, value = m.group(1), _number(m.group(2))
            if name in out:
                raise ValueError(f"{path}:{n}: {name} defined twice")
            out[name] = value
    return out


def read_c(path):
    return _read(path, _C, "C")


def read_nasm(path):
    return _read(path, _NASM, "NASM")


def compare(c, nasm):
    """Problems (a list of strings) between the two tables."""
    problems = []
    for name in sorted(set(c) | set(nasm)):
        if name not in nasm:
            problems.append(f"{name}: in the C header only")
        elif name not in c:
            problems.append(f"{name}: in the NASM include only")
        elif c[name] != nasm[name]:
            problems.append(f"{name}: C 0x{c[name]:x}, NASM 0x{nasm[name]:x}")
    return problems
