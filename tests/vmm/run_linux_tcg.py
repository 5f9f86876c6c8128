#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Debian's kernel booted from the VMM's Linux loader, under QEMU TCG.

vmm-linux-image (linux_image.c) runs vmm_linux_load on the kernel a
configured build fetched for the Linux tests (<build>/linux/boot) into
256 MiB of guest RAM with the legacy hole and the top 2 MiB reserved, and
writes the result as QEMU generic-loader files; entry_stub.asm, the -bios
image, takes the CPU from reset into the loader's entry state (its page
tables, CR0/CR4/EFER, GDT, selectors, RIP, RSI, RSP) and jumps. The kernel
must show that it took the hand-off: its banner, our command line, our
e820 map entry by entry, unpack the initramfs the loader placed (a small
newc archive without /init) and free its memory, and then run to mounting
a root file system (there is none; panic=-1 reboots and -no-reboot ends
QEMU). Bounded by --timeout; nothing sleeps. Skipped (77) without a
fetched kernel."""

import argparse
import glob
import gzip
import os
import shlex
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "qemu"))
sys.path.insert(0, os.path.join(here, "..", "linux"))
from initramfs import Cpio  # noqa: E402
from vmrun import run_bounded  # noqa: E402

SKIP = 77
CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1"
RAM_MIB = 256


def expected():
    top = RAM_MIB << 20
    return [
        "Linux version",
        "Command line: " + CMDLINE,
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009efff] usable",
        "BIOS-e820: [mem 0x000000000009f000-0x00000000000fffff] reserved",
        f"BIOS-e820: [mem 0x0000000000100000-0x{top - (2 << 20) - 1:016x}] usable",
        f"BIOS-e820: [mem 0x{top - (2 << 20):016x}-0x{top - 1:016x}] reserved",
        "Trying to unpack rootfs image as initramfs",
        "Freeing initrd memory:",
        "VFS: Unable to mount root fs",
    ]


def initramfs(path):
    """A newc archive of a directory and a 96 KiB file of pseudo-random
    bytes (so the compressed archive spans many pages), no /init."""
    data, x = bytearray(), 12345
    for _ in range(96 * 1024):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        data.append(x >> 16 & 0xff)
    c = Cpio()
    c.dir("etc")
    c.file("etc/vmm-linux-tcg", bytes(data), 0o644)
    with open(path, "wb") as f:
        f.write(gzip.compress(c.finish(), mtime=0))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--tool", required=True)
    ap.add_argument("--stub", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    kernels = sorted(glob.glob(os.path.join(args.build, "linux", "boot", "vmlinuz-*")))
    if not kernels:
        print("SKIP: no kernel under <build>/linux/boot (a configured build's Linux tests fetch it)")
        return SKIP
    out = os.path.join(args.build, "tests", "vmm", "linux-tcg")
    os.makedirs(out, exist_ok=True)
    initrd = os.path.join(out, "initramfs.cpio.gz")
    initramfs(initrd)
    tool = subprocess.run([args.tool, kernels[-1], out, str(RAM_MIB), CMDLINE, initrd], capture_output=True, text=True)
    print(tool.stderr, end="")
    if tool.returncode:
        print(f"FAIL: vmm-linux-image exit status {tool.returncode}")
        return 1
    cmd = [args.qemu, "-accel", "tcg", "-m", f"{RAM_MIB}M", "-bios", args.stub, "-display", "none",
           "-monitor", "none", "-serial", "stdio", "-no-reboot"] + tool.stdout.split()
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    code, lines, wall = run_bounded(cmd, args.timeout)
    text = "\n".join(lines)
    problems = []
    if code is None:
        problems.append(f"QEMU did not finish within {args.timeout} s")
    for want in expected():
        if want not in text:
            problems.append(f"the console never showed {want!r}")
    if "Initramfs unpacking failed" in text:
        problems.append("the kernel could not unpack the initramfs")
    if problems:
        print("---- serial console ----")
        print(text)
        print("------------------------")
        for p in problems:
            print("FAIL: " + p)
        return 1
    print(f"ok: {os.path.basename(kernels[-1])} took the VMM loader's hand-off (banner, command line, "
          f"4 e820 entries, the initramfs) and ran to the root mount in {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
