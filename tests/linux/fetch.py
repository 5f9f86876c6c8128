#!/usr/bin/python3
"""Fetch the Debian 12 cloud kernel the Linux tests boot under the shim.

The newest linux-image-6.1.*-cloud-amd64 package apt knows is downloaded
with `apt-get download` and unpacked with `dpkg -x` into BUILD/linux/
(nothing is committed); later calls reuse it. Prints the bzImage's path
(BUILD/linux/boot/vmlinuz-<version>).

usage: fetch.py BUILD [--series 6.1]
Exit status 77 (meson's "skipped") when no kernel package can be found or
downloaded, with the reason on stderr.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


class FetchError(Exception):
    pass


def natural(name):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def newest_package(series):
    """linux-image-<series>.N-M-cloud-amd64 with the highest version."""
    pattern = rf"^linux-image-{re.escape(series)}\.[0-9]+[-+][0-9a-z.+-]*cloud-amd64$"
    try:
        out = subprocess.run(["apt-cache", "search", "--names-only", pattern],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise FetchError(f"apt-cache search failed: {e}")
    names = sorted((l.split()[0] for l in out.splitlines() if l.split() and "meta" not in l
                    and not l.split()[0].endswith("-dbg")), key=natural)
    if not names:
        raise FetchError(f"apt knows no linux-image-{series}.*-cloud-amd64 package "
                         "(run apt-get update?)")
    return names[-1]


def merge(src, dst):
    """Moves the tree src into dst, keeping what dst has (several kernel
    series share BUILD/linux: each adds its own boot/ and lib/ files)."""
    if not os.path.exists(dst):
        os.rename(src, dst)
        return
    if os.path.isdir(src) and os.path.isdir(dst):
        for name in os.listdir(src):
            merge(os.path.join(src, name), os.path.join(dst, name))


def download(pkgs, cwd, who="fetch.py"):
    """apt-get download each package (NAME or NAME=VERSION) into cwd."""
    for pkg in pkgs:
        print(f"{who}: apt-get download {pkg}", file=sys.stderr, flush=True)
        r = subprocess.run(["apt-get", "download", pkg], cwd=cwd, capture_output=True, text=True)
        if r.returncode != 0:
            raise FetchError(f"apt-get download {pkg} failed: {r.stderr.strip()}")


def kernel(build, series="6.1"):
    """Path of the bzImage in BUILD/linux, fetched on first use."""
    dest = os.path.join(build, "linux")
    found = sorted(glob.glob(os.path.join(dest, "boot", f"vmlinuz-{series}.*-cloud-amd64")), key=natural)
    if found:
        return found[-1]
    pkg = newest_package(series)
    os.makedirs(build, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="linux-fetch-", dir=build)
    try:
        download([pkg], tmp)
        debs = glob.glob(os.path.join(tmp, pkg + "_*.deb"))
        if not debs:
            raise FetchError(f"apt-get download {pkg} gave no .deb")
        subprocess.run(["dpkg", "-x", debs[0], tmp], check=True)
        os.makedirs(dest, exist_ok=True)
        for d in ("boot", "lib", "usr"):
            if os.path.isdir(os.path.join(tmp, d)):
                merge(os.path.join(tmp, d), os.path.join(dest, d))
        os.rename(debs[0], os.path.join(dest, os.path.basename(debs[0])))
    except (OSError, subprocess.CalledProcessError) as e:
        raise FetchError(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = sorted(glob.glob(os.path.join(dest, "boot", f"vmlinuz-{series}.*-cloud-amd64")), key=natural)
    if not found:
        raise FetchError(f"{pkg} has no /boot/vmlinuz-{series}.*")
    return found[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--series", default="6.1")
    args = ap.parse_args()
    try:
        print(kernel(args.build, args.series))
    except FetchError as e:
        print(f"fetch.py: SKIP: cannot fetch the Debian {args.series} cloud kernel: {e}", file=sys.stderr)
        sys.exit(SKIP)


if __name__ == "__main__":
    main()
