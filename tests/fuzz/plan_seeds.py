#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the plan fuzz target (fuzz_plan.c): topologies
a firmware describes (1 to 299 CPUs, 1 to 8 NUMA nodes, with and without
SRAT memory affinity), a PC memory map (low RAM, the BIOS hole, RAM above
1 MiB, a reserved window), the shim's own ranges, and command lines with
the sidecar options.

usage: plan_seeds.py OUT_DIR
"""
import os
import struct
import sys

BIG_COUNT, SRAT = 0x80, 0x10
APIC_STRIDE, APIC_PERMUTED = 0, 1
NUMA_ROUND_ROBIN, NUMA_BLOCKS = 0 << 2, 1 << 2


def addr(value):
    """A raw 32-bit address or size (fuzz_plan.c's addr() mode 2), or 64-bit (mode 3)."""
    return (2, struct.pack("<I", value)) if value < 1 << 32 else (3, struct.pack("<Q", value))


def span(base, size, high_bits=0):
    mb, b = addr(base)
    ms, s = addr(size)
    return bytes([mb | ms << 2 | high_bits]) + b + s


def ram(base, size):
    return span(base, size, 0 << 4)


def reserved(base, size):
    return span(base, size, 13 << 4)   # type 2


def seed(cpus, numa, shape, stride=0, affinity=(), memmap=None, in_use=None, cmdline=b""):
    out = bytes([shape | (BIG_COUNT if cpus > 255 else 0)])
    out += struct.pack("<H", cpus) if cpus > 255 else bytes([cpus])
    out += bytes([numa, stride]) + bytes(range(numa))               # numa_domain
    out += bytes([len(affinity)])
    for base, size, node in affinity:
        out += span(base, size) + bytes([node])
    if memmap is None:
        memmap = [ram(0, 0x9fc00), reserved(0xf0000, 0x10000), ram(0x100000, 0xbff00000),
                  reserved(0xfec00000, 0x1400000), ram(0x100000000, 0x40000000)]
    out += bytes([len(memmap)]) + b"".join(memmap)
    if in_use is None:
        in_use = [(0x1000, 0x1000), (0x100000, 0x400000)]
    out += bytes([len(in_use)]) + b"".join(span(b, s) for b, s in in_use)
    out += bytes([0])                                                 # the BSP: CPU 0
    out += bytes([2]) + struct.pack("<I", 0x7000000)                  # params_pa
    out += bytes([2]) + struct.pack("<I", 0x7100000)                  # output_pa
    return out + cmdline


def seeds():
    half = 0x80000000
    two_nodes = ((0x100000, half - 0x100000, 0), (half, half, 1))
    return {
        "small": seed(8, 1, APIC_STRIDE),
        "numa2_srat": seed(16, 2, NUMA_BLOCKS | SRAT, affinity=two_nodes,
                           cmdline=b"console=ttyS0 sidecar.node_size=4"),
        "numa8_permuted": seed(64, 8, APIC_PERMUTED | NUMA_ROUND_ROBIN, stride=5,
                               cmdline=b"sidecar.main_cpus=1,3-5 sidecar.guest_ram=32M"),
        "big": seed(299, 4, NUMA_BLOCKS | SRAT, stride=1, affinity=two_nodes,
                    cmdline=b"sidecar.node_size=255 sidecar.apic=x2apic"),
        "off": seed(4, 1, APIC_STRIDE, cmdline=b"sidecar=off quiet"),
        "short": seed(32, 2, NUMA_BLOCKS, memmap=[ram(0x100000, 0x100000)]),
        "odd_map": seed(12, 2, NUMA_BLOCKS | SRAT, affinity=((0x40000000, 0x1000, 1),),
                        memmap=[ram(0, 0x9f000), ram(0x100000, 0x20000000), ram(0x8000000, 0x10000000),
                                reserved(0x9000000, 0x1000)],
                        cmdline=b"sidecar.guest_ram=0 sidecar.log sidecar.mwait sidecar.ap_timeout_us=2000"),
    }


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
