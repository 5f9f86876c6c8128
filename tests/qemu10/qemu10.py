#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The second QEMU: Debian 13's QEMU 10, from a Debian 13 root this makes.

Debian 12's QEMU 7.2 has no x2APIC under TCG and stops at 255 vCPUs; the
x2APIC suites (tests/qemu/meson.build, suite qemu10) need a newer one.
This script makes a Debian 13 (trixie) root once, with
`debootstrap --variant=minbase trixie` and then
`chroot ROOT apt-get install --no-install-recommends qemu-system-x86`
(about a minute and 450 MB), and writes a stamp file; later calls re-use
it. The root's QEMU is run in place, without chroot: its own dynamic
loader starts it with the root's libraries (--library-path), `-L` points
it at the root's firmware, QEMU_MODULE_DIR at the root's modules, so the
build tree and every file a test hands QEMU keep their paths and nothing
needs root privileges once the root exists. A small shell script,
QEMU_DIR/qemu-system-x86_64, does that; every tool takes it as --qemu.

  qemu10.py make ROOT [--package P]...  make or re-use ROOT (installs
                                        debootstrap with apt-get if missing)
  qemu10.py resolve SPEC QEMU_DIR       print the QEMU to use for SPEC:
        auto      the root QEMU_DIR/root, made if missing
        DIR       an existing Debian root with qemu-system-x86 installed
        FILE      any QEMU binary (>= 8.0, with x2APIC under TCG)
      (the wrapper for a root is written to QEMU_DIR/qemu-system-x86_64)

Exit status 77 (meson's "skipped") when the root cannot be made, with the
reason on stderr; under CI (CI=true) that is a failure (1) instead.
Environment: SIDECAR_NO_INSTALL=1 (never call apt-get on this machine),
SIDECAR_DEBIAN_MIRROR (default http://deb.debian.org/debian).
"""

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys

SKIP = 77
SUITE = "trixie"
PACKAGES = ["qemu-system-x86"]
STAMP = ".sidecar-root.json"
QEMU = "usr/bin/qemu-system-x86_64"
LOADER = "usr/lib64/ld-linux-x86-64.so.2"
LIBDIR = "usr/lib/x86_64-linux-gnu"
FIRMWARE = ["usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu"]
MODULES = "usr/lib/x86_64-linux-gnu/qemu"


class Unavailable(Exception):
    """The root cannot be made or used here; the text says why."""


def in_ci():
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("+ " + " ".join(cmd))
    try:
        subprocess.run(cmd, check=True, **kw)
    except FileNotFoundError as e:
        raise Unavailable(f"{cmd[0]}: {e.strerror}")
    except subprocess.CalledProcessError as e:
        raise Unavailable(f"`{' '.join(cmd)}` failed with exit status {e.returncode}")


def as_root():
    """The prefix that runs a command as root: nothing, or sudo -n."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    raise Unavailable("making the Debian 13 root needs root (debootstrap, chroot): "
                      "run as root or with password-less sudo, or give -Dqemu10=PATH")


def usable(root):
    """The problem with ROOT as a QEMU 10 root, or None."""
    for rel in (QEMU, LOADER):
        if not os.path.exists(os.path.join(root, rel)):
            return f"{root} has no {rel}"
    return None


def read_stamp(root):
    try:
        with open(os.path.join(root, STAMP), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def ensure_debootstrap(sudo):
    if shutil.which("debootstrap") or os.path.exists("/usr/sbin/debootstrap"):
        return
    if os.environ.get("SIDECAR_NO_INSTALL") == "1":
        raise Unavailable("debootstrap is not installed (and SIDECAR_NO_INSTALL=1)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(sudo + ["apt-get", "update", "-q"], env=env)
    run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"], env=env)


def chroot_install(sudo, root, packages):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    run(sudo + ["chroot", root, "apt-get", "install", "-y", "-q", "--no-install-recommends"] + packages, env=env)
    run(sudo + ["chroot", root, "apt-get", "clean"], env=env)


def qemu_version(root):
    out = subprocess.run(command(root) + ["--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else ""


def make(root, packages=()):
    """Makes ROOT (or re-uses it: its stamp lists what was installed);
    returns its stamp. Several callers at once wait for one another."""
    root = os.path.abspath(root)
    want = sorted(set(PACKAGES) | set(packages))
    os.makedirs(os.path.dirname(root), exist_ok=True)
    with open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = read_stamp(root)
        if stamp and usable(root) is None:
            missing = [p for p in want if p not in stamp.get("packages", [])]
            if not missing:
                return stamp
            log(f"qemu10: adding {' '.join(missing)} to {root}")
            sudo = as_root()
            chroot_install(sudo, root, missing)
        else:
            sudo = as_root()
            ensure_debootstrap(sudo)
            tmp = root + ".tmp"
            if os.path.exists(tmp):
                run(sudo + ["rm", "-rf", "--one-file-system", tmp])
            if os.path.exists(root):
                raise Unavailable(f"{root} exists but is not a finished root (no {STAMP}); remove it")
            mirror = os.environ.get("SIDECAR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
            log(f"qemu10: making a Debian 13 root in {root} (debootstrap, then {' '.join(want)})")
            run(sudo + ["debootstrap", "--variant=minbase", SUITE, tmp, mirror])
            chroot_install(sudo, tmp, want)
            problem = usable(tmp)
            if problem:
                raise Unavailable(problem)
            os.rename(tmp, root)
        stamp = {"suite": SUITE, "packages": want, "qemu": qemu_version(root)}
        with open(os.path.join(root, STAMP) + ".new", "w", encoding="utf-8") as fh:
            json.dump(stamp, fh)
            fh.write("\n")
        os.replace(os.path.join(root, STAMP) + ".new", os.path.join(root, STAMP))
        return stamp


def command(root):
    """The command line that runs ROOT's QEMU in place (no chroot)."""
    root = os.path.abspath(root)
    cmd = [os.path.join(root, LOADER), "--library-path", os.path.join(root, LIBDIR),
           os.path.join(root, QEMU)]
    for d in FIRMWARE:
        if os.path.isdir(os.path.join(root, d)):
            cmd += ["-L", os.path.join(root, d)]
    return cmd


def write_wrapper(root, qemu_dir):
    """QEMU_DIR/qemu-system-x86_64: a script that runs ROOT's QEMU (exec,
    so its process is QEMU's). Rewritten only when it changes."""
    root = os.path.abspath(root)
    quoted = " ".join("'" + c.replace("'", "'\\''") + "'" for c in command(root))
    text = ("#!/bin/sh\n"
            "# Debian 13's QEMU from the root " + root + ", run through its own\n"
            "# dynamic loader with its libraries, firmware and modules\n"
            "# (tests/qemu10/qemu10.py writes this file).\n"
            "QEMU_MODULE_DIR='" + os.path.join(root, MODULES) + "'\n"
            "export QEMU_MODULE_DIR\n"
            "exec " + quoted + " \"$@\"\n")
    path = os.path.join(qemu_dir, "qemu-system-x86_64")
    os.makedirs(qemu_dir, exist_ok=True)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return path
    except OSError:
        pass
    with open(path + ".new", "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path + ".new", 0o755)
    os.replace(path + ".new", path)
    return path


def resolve(spec, qemu_dir, packages=()):
    """The QEMU binary (or wrapper) for SPEC (auto, a root DIR or a QEMU
    FILE); raises Unavailable with the reason."""
    if spec == "disabled":
        raise Unavailable("the second QEMU is disabled (-Dqemu10=disabled)")
    if spec == "auto":
        root = os.path.join(qemu_dir, "root")
        make(root, packages)
        return write_wrapper(root, qemu_dir)
    if os.path.isdir(spec):
        problem = usable(spec)
        if problem:
            raise Unavailable(problem)
        return write_wrapper(spec, qemu_dir)
    path = spec if os.sep in spec else shutil.which(spec)
    if not path or not os.access(path, os.X_OK):
        raise Unavailable(f"{spec}: no such QEMU binary")
    return path


def unavailable_status(reason):
    """Prints why and returns the exit status: 77 (skipped), or 1 in CI."""
    if in_ci():
        print(f"FAIL: the Debian 13 QEMU is needed in CI and cannot be had: {reason}", flush=True)
        return 1
    print(f"SKIP: the Debian 13 QEMU cannot be had: {reason}", flush=True)
    return SKIP


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="make or re-use a Debian 13 root")
    m.add_argument("root")
    m.add_argument("--package", action="append", default=[], help="another package for the root")
    r = sub.add_parser("resolve", help="print the QEMU to run for SPEC")
    r.add_argument("spec")
    r.add_argument("qemu_dir")
    r.add_argument("--package", action="append", default=[])
    args = ap.parse_args()
    try:
        if args.cmd == "make":
            stamp = make(args.root, args.package)
            print(f"{os.path.abspath(args.root)}: {stamp.get('qemu')}")
        else:
            print(resolve(args.spec, args.qemu_dir, args.package))
    except Unavailable as e:
        return unavailable_status(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
