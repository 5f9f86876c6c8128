#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Make or update a Debian root (a chroot tree) with the packages a build
step needs: Debian 13's compiler for the driver module of Linux 6.12
(driver/build.py), whose headers want gcc-14 and Debian 13's C library.

  debroot.py DIR [--suite trixie] [--package NAME]...

When DIR has no stamp (DIR/.sidecar-debroot, written last), DIR is made
from nothing: `debootstrap --variant=minbase SUITE` into DIR.tmp, renamed
to DIR when complete (an interrupted run leaves only DIR.tmp, removed by
the next). A DIR that exists without the stamp is taken as a ready root
given by the user (e.g. one with QEMU already in it) and only gets the
missing packages. The packages are checked with dpkg-query inside the root
on each call; the missing ones are installed with `apt-get install
--no-install-recommends` in the root (after `apt-get update` when apt does
not know them). apt runs with /proc mounted in a private mount namespace
(unshare -m), so nothing stays mounted. Calls serialise on DIR.lock.

Needs root (debootstrap, chroot, mount), debootstrap for a new root, and
the network (deb.debian.org) for what is missing. Failing that, the error
names the missing piece; exit status 77 (skipped) from the command line.
"""

import argparse
import fcntl
import os
import shutil
import subprocess
import sys

SKIP = 77
MIRROR = "http://deb.debian.org/debian"
STAMP = ".sidecar-debroot"


class RootError(Exception):
    pass


def log(msg):
    print(f"debroot.py: {msg}", file=sys.stderr, flush=True)


def run(cmd, what, **kw):
    log("+ " + " ".join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise RootError(f"{what} failed (exit {r.returncode}): {r.stdout.strip()[-1500:]}")
    return r.stdout


def in_root(root, cmd, what, proc=False):
    """cmd in the root: chroot, with /proc mounted in a private mount
    namespace when asked (apt and dpkg's maintainer scripts want it)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8",
               PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    if proc:
        script = 'mount -t proc proc "$1/proc" && shift && exec chroot "$@"'
        return run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                    root, root] + cmd, what, env=env)
    return run(["chroot", root] + cmd, what, env=env)


def missing_packages(root, packages):
    r = subprocess.run(["chroot", root, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n"]
                       + packages, capture_output=True, text=True)
    have = {l.split()[0] for l in r.stdout.splitlines() if l.split()[1:] == ["installed"]}
    return [p for p in packages if p not in have]


def bootstrap(root, suite):
    if not shutil.which("debootstrap"):
        raise RootError("debootstrap is not installed (apt-get install debootstrap)")
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(root)), exist_ok=True)
    run(["debootstrap", "--variant=minbase", suite, tmp, MIRROR], f"debootstrap {suite} {tmp}")
    with open(os.path.join(tmp, STAMP), "w") as f:
        f.write(f"suite={suite}\n")
    os.rename(tmp, root)


def ensure(root, packages, suite="trixie"):
    """The root at ROOT with PACKAGES installed (made when absent)."""
    root = os.path.abspath(root)
    if os.geteuid() != 0:
        raise RootError("a Debian root needs root privileges (debootstrap, chroot); "
                        f"run as root or give a ready root with {' '.join(packages)} in it")
    os.makedirs(os.path.dirname(root), exist_ok=True)
    with open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(root):
            log(f"making a Debian {suite} root in {root} (debootstrap --variant=minbase, once)")
            bootstrap(root, suite)
        elif not os.path.exists(os.path.join(root, STAMP)) and not os.path.exists(
                os.path.join(root, "usr", "bin", "dpkg")):
            raise RootError(f"{root} exists but is no Debian root (no usr/bin/dpkg)")
        need = missing_packages(root, packages)
        if need:
            log(f"installing in {root}: {' '.join(need)}")
            install = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + need
            try:
                in_root(root, install, "apt-get install", proc=True)
            except RootError:
                in_root(root, ["apt-get", "update", "-q"], "apt-get update", proc=True)
                in_root(root, install, "apt-get install", proc=True)
            still = missing_packages(root, packages)
            if still:
                raise RootError(f"not installed in {root} after apt-get install: {' '.join(still)}")
    return root


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--suite", default="trixie")
    ap.add_argument("--package", action="append", default=[])
    a = ap.parse_args()
    try:
        print(ensure(a.root, a.package, a.suite))
    except RootError as e:
        print(f"debroot.py: SKIP: cannot make the Debian {a.suite} root {a.root}: {e}", file=sys.stderr)
        sys.exit(SKIP)


if __name__ == "__main__":
    main()
