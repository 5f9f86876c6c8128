#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Debian's Linux kernel as a GUEST on a sidecar VP (the svm backend), with
the bare-metal main kernel as its VMM (mainkernel/scenarios/linux_guest.c).

  guest.py --build BUILD --shim SHIM [--qemu QEMU] [--kernel BZIMAGE]
           [--initrd FILE] [--smp N] [--timeout S] [--live]

The kernel is fetched into BUILD/linux by fetch.py unless --kernel is
given (exit status 77, skipped, only when it cannot be fetched). It reaches
the main kernel through QEMU's fw_cfg; the guest's console comes back as
"linux: " lines on the serial console. The run passes when the main
kernel's report says the guest printed its "Linux version" banner, its
e820 memory map and its command line (tests/qemu/run.py checks the report
and the exit status).
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fetch  # noqa: E402

SKIP = 77


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=400)
    ap.add_argument("--live", action="store_true")
    a = ap.parse_args()
    kernel = a.kernel
    if not kernel:
        try:
            kernel = fetch.kernel(a.build)
        except fetch.FetchError as e:
            print(f"SKIPPED: cannot fetch the Debian 6.1 cloud kernel: {e}", flush=True)
            return SKIP
    run = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu", "run.py")
    cmd = [sys.executable, run, "--qemu", a.qemu, "--shim", a.shim, "--smp", str(a.smp), "--memory", "1G",
           "--timeout", str(a.timeout), "--ready", str(a.smp - 1), "--backend", "svm",
           "--append", "sidecar.guest_ram=256M mk.linux_guest",
           "--fw-cfg", f"opt/sidecar/guest-kernel={kernel}",
           "--expect", "linux_guest.ok=true", "--expect", "linux_guest.banner=true",
           "--expect", "linux_guest.e820=true", "--expect", "linux_guest.cmdline=true",
           "--console", "] Linux version 6.", "--console", "Command line: console=ttyS0",
           "--expect-ok"]
    if a.initrd:
        cmd += ["--fw-cfg", f"opt/sidecar/guest-initrd={a.initrd}"]
    if a.live:
        cmd.append("--live")
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
