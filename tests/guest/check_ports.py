#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The C header and the NASM include of the guest firmware's protocol must
name the same constants with the same values.

    check_ports.py firmware_ports.h firmware_ports.inc
    check_ports.py --self-test firmware_ports.h firmware_ports.inc

--self-test first checks that a changed value, a name missing on either
side and a name defined twice are each caught (on copies), then checks the
real pair."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwports  # noqa: E402


def check(h, inc):
    try:
        c, nasm = fwports.read_c(h), fwports.read_nasm(inc)
    except ValueError as exc:
        return [str(exc)]
    if len(c) < 10:
        return [f"{h}: only {len(c)} constants, the parser is not reading it"]
    return fwports.compare(c, nasm)


def self_test(h, inc):
    with open(h, encoding="utf-8") as f:
        h_text = f.read()
    with open(inc, encoding="utf-8") as f:
        inc_text = f.read()
    mutations = [
        ("a changed value", h_text.replace("#define FW_PORT_EVENT 0x0e04u", "#define FW_PORT_EVENT 0x0e05u"), inc_text),
        ("a name only in C", h_text + "#define FW_EXTRA 1u\n", inc_text),
        ("a name only in NASM", h_text, inc_text + "FW_EXTRA equ 1\n"),
        ("a name defined twice", h_text, inc_text + "FW_PORT_INDEX equ 0x0e00\n"),
    ]
    failures = []
    with tempfile.TemporaryDirectory() as d:
        for what, ht, it in mutations:
            if ht == h_text and it == inc_text:
                failures.append(f"self-test: {what}: the mutation did not apply")
                continue
            hp, ip = os.path.join(d, "p.h"), os.path.join(d, "p.inc")
            with open(hp, "w", encoding="utf-8") as f:
                f.write(ht)
            with open(ip, "w", encoding="utf-8") as f:
                f.write(it)
            problems = check(hp, ip)
            print(f"self-test: {what}: {'; '.join(problems) or 'NOT DETECTED'}")
            if not problems:
                failures.append(f"self-test: {what} was not detected")
    return failures


def main(argv):
    args = [a for a in argv if a != "--self-test"]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = self_test(*args) if "--self-test" in argv else []
    problems += check(*args)
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print(f"ok: {len(fwports.read_c(args[0]))} constants agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
