#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the svm fuzz target (tests/fuzz/corpus/svm):
programs in fuzz_svm.c's input format that reach every exit kind the
backend handles, in real mode, flat 32-bit and long mode, with runs, SETs
of the interruption registers and translations.

usage: svm_seeds.py [OUT_DIR]   (default: corpus/svm beside this file)
"""
import os
import struct
import sys

# Indices into fuzz_svm.c's names[] table.
NAME = {"RAX": 0, "RCX": 1, "RIP": 10, "RFLAGS": 11, "CR0": 17, "CR4": 20, "DR7": 28, "CS": 30,
        "EFER": 40, "PAT": 43, "ACTIVITY": 53, "PENDING": 54, "ISTATE": 55, "DELIVERABILITY": 56,
        "ICONTROL": 57}
EXIT = {"INTR": 0, "VINTR": 4, "IRET": 5, "CPUID": 6, "HLT": 7, "IOIO": 9, "MSR": 10, "SHUTDOWN": 13,
        "VMRUN": 14, "VMMCALL": 15, "NPF": 29, "INVALID": 30}


def le(v, n):
    return bytes((v >> (8 * i)) & 0xff for i in range(n))


def op_set(name, low, high=0):
    return bytes([0, NAME[name], 0]) + le(low, 8) + le(high, 8)


def op_set_flip(name, bit):
    return bytes([1, NAME[name], 2, bit])


def exit_bytes(code, info1=0, info2=None, intinfo=None, rip=None, rax=None, rflags=None):
    what = 1 if info1 >> 32 else 0
    out = b""
    if info2 is not None:
        what |= 2
    if intinfo is not None:
        what |= 4
    if rip is not None:
        what |= 8 | 0x80
    if rax is not None:
        what |= 16
    if rflags is not None:
        what |= 32
    code_bytes = bytes([EXIT[code]]) if isinstance(code, str) else bytes(code)
    out += code_bytes + bytes([what]) + le(info1, 8 if what & 1 else 4)
    out += le(info2, 8) if info2 is not None else bytes([2])
    if intinfo is not None:
        out += le(intinfo, 8)
    if rip is not None:
        out += le(rip, 8)
    if rax is not None:
        out += le(rax, 8)
    if rflags is not None:
        out += le(rflags, 4)
    return out


def op_exit(*a, **k):
    return bytes([2]) + exit_bytes(*a, **k) + bytes([0])


def op_run(*exits):
    """A RUN_VP whose VMRUNs take these exits; the last one asks for STOP."""
    body = bytes([4, 0, 0])
    for i, e in enumerate(exits):
        body += e + bytes([1 if i == len(exits) - 1 else 0])
    return body


def op_translate(gvn, flags):
    return bytes([5, 1]) + le(gvn, 8) + bytes([0x80]) + le(flags, 8)


def op_ram(off, data):
    return bytes([6]) + le(off, 3) + bytes([len(data)]) + data


def op_mode(m, rip):
    return bytes([7, m]) + le(rip, 3)


def seeds():
    big = bytes([0, 1])
    small = bytes([1, 1])
    pi_int = 1 | (0x30 << 16)
    pi_nmi = 1 | (2 << 1) | (2 << 16)
    pi_gp = 1 | (3 << 1) | 0x10 | (13 << 16)
    pi_int80 = 1 | (4 << 1) | (2 << 5) | (0x80 << 16)
    yield "reset_vector_out", big + op_ram(0x20fff0, b"\xe6\x80") + op_run(exit_bytes("IOIO", (0x80 << 16) | 0x10, 0xfff2))
    yield "flat32_rep_insw", big + op_mode(1, 0x1000) + op_ram(0x1000, b"\xf3\x66\x6d") + \
        op_run(exit_bytes("IOIO", (0x1f0 << 16) | 0x2d, 0x1003))
    yield "flat32_msrs", big + op_mode(1, 0x1000) + op_ram(0x1000, b"\x0f\x30\x0f\x32") + \
        op_set("RCX", 0xc0000080) + op_set("RAX", 0x901) + \
        op_run(exit_bytes("MSR", 1), exit_bytes("MSR", 0), exit_bytes("INTR"))
    yield "cpuid_hlt", big + op_mode(1, 0x1000) + op_ram(0x1000, b"\x0f\xa2\xf4") + \
        op_run(exit_bytes("CPUID")) + op_set("RIP", 0x1002) + op_run(exit_bytes("HLT"))
    yield "halted_wakes", big + op_mode(1, 0x1000) + op_set("RFLAGS", 0x202) + op_set("ACTIVITY", 2) + \
        op_set("PENDING", pi_int) + op_run(exit_bytes("INTR"))
    yield "nmi_iret", big + op_mode(1, 0x1000) + op_set("PENDING", pi_nmi) + \
        op_run(exit_bytes("INTR"), exit_bytes("IRET"), exit_bytes("INTR")) + op_set("ISTATE", 2) + \
        op_set("PENDING", pi_nmi) + op_run(exit_bytes("IRET"), exit_bytes("INTR"))
    yield "injections", big + op_mode(1, 0x1000) + op_set("PENDING", pi_gp) + op_exit("INTR") + \
        op_set("PENDING", pi_int80) + op_exit("INTR") + op_set_flip("PENDING", 3)
    yield "reinject", big + op_mode(1, 0x1000) + op_exit("INTR", intinfo=0x80000031) + \
        op_exit("INTR", intinfo=0x80000b0e | (6 << 32)) + op_exit("NPF", 7, 0xfed00000, intinfo=0x80000330)
    yield "window", big + op_mode(1, 0x1000) + op_set("DELIVERABILITY", 2) + op_run(exit_bytes("INTR"), exit_bytes("VINTR"))
    yield "npf_shutdown_invalid", big + op_mode(1, 0x1000) + op_ram(0x1000, b"\x89\x08") + \
        op_run(exit_bytes("NPF", 0x100000003, 0xfed00040)) + op_run(exit_bytes("SHUTDOWN")) + \
        op_run(exit_bytes("INVALID"))
    yield "svm_instructions", big + op_mode(2, 0x1000) + op_exit("VMRUN") + op_exit("VMMCALL") + \
        op_exit([0xc0, 0x30]) + op_exit([0x80 | 14], 2, 0x400000)
    yield "long_mode_sets", big + op_mode(2, 0x2000) + op_set_flip("CR4", 5) + op_set_flip("EFER", 8) + \
        op_set_flip("CR0", 31) + op_set_flip("CS", 64 + 32 + 14) + op_set("PAT", 0x0606060606060606) + \
        op_set_flip("PAT", 1) + op_set_flip("DR7", 40) + op_set("ICONTROL", 1 | (0x4000 << 32))
    yield "translate", small + op_translate(0x5, 1) + op_translate(0xfffff, 4) + op_translate(0x10, 0xc0) + \
        op_mode(2, 0) + op_translate(0x10, 1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "svm")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
