#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fetch the kernel headers the sidecar driver module is built against.

The headers match the kernel tests/linux/fetch.py boots for the series
(SERIES in fetch.py): for 6.1 the newest linux-image-6.1.*-cloud-amd64 the
machine's apt knows, say 6.1.0-57-cloud-amd64, gives
linux-headers-6.1.0-57-cloud-amd64, linux-headers-6.1.0-57-common and the
linux-kbuild-6.1 of the same package version; for 6.12 (Debian 13, through
fetch.py's private apt state) the kernel already in BUILD/linux (fetched
first if absent), say 6.12.118+deb13-cloud-amd64, gives
linux-headers-6.12.118+deb13-cloud-amd64, linux-headers-6.12.118+deb13-common
and linux-kbuild-6.12.118+deb13, so that the module's vermagic is the one
the booted kernel has. They are downloaded with `apt-get download`,
unpacked with `dpkg -x` into BUILD/linux-headers/ (6.1) or
BUILD/linux-headers-SERIES/ (nothing is installed on the machine, nothing
is committed) and the one absolute path Debian's Makefile holds is pointed
at the unpacked tree. Later calls reuse the tree.

Debian 13's headers are for gcc-14 and their Kbuild programs (fixdep,
modpost) for Debian 13's C library: driver/build.py builds against them in
a Debian 13 root (tests/linux/debroot.py) with the build tree bind-mounted
at the same path.

Prints the Kbuild directory (for `make -C DIR M=...`).

usage: fetch_headers.py BUILD [--series 6.1|6.12]
Exit status 77 when the headers cannot be had, with the reason on stderr
(the Meson build then skips the driver with that message).
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fetch  # noqa: E402

SKIP = 77


def candidate_version(apt, pkg):
    m = re.search(r"Candidate:\s*(\S+)", apt.cache("policy", pkg))
    if not m or m.group(1) == "(none)":
        raise fetch.FetchError(f"apt has no candidate for {pkg}")
    return m.group(1)


def headers_root(build, series):
    """BUILD/linux-headers for 6.1 (where it has always been), else
    BUILD/linux-headers-SERIES."""
    return os.path.join(build, "linux-headers" if series == "6.1" else f"linux-headers-{series}")


def headers(build, series="6.1"):
    apt = fetch.Apt(build, series)
    if fetch.series_info(series)["suite"]:
        # The flavour of the kernel the tests boot (its ABI name is its
        # upstream version: a newer one would not load the module).
        image = fetch.kernel(build, series)
        flavour = os.path.basename(image)[len("vmlinuz-"):]          # 6.12.118+deb13-cloud-amd64
    else:
        flavour = fetch.newest_package(series, apt)[len("linux-image-"):]  # 6.1.0-57-cloud-amd64
    abi = flavour[:-len("-cloud-amd64")]                                # 6.1.0-57, 6.12.118+deb13
    root = headers_root(build, series)
    kdir = os.path.join(root, "usr", "src", f"linux-headers-{flavour}")
    stamp = os.path.join(root, ".complete-" + flavour)
    if os.path.exists(stamp):
        return kdir
    hdr = f"linux-headers-{flavour}"
    common = f"linux-headers-{abi}-common"
    version = candidate_version(apt, hdr)
    # Debian 12 names its Kbuild package by series, Debian 13 by ABI.
    kbuild = f"linux-kbuild-{abi if fetch.series_info(series)['suite'] else series}={version}"
    os.makedirs(build, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="headers-fetch-", dir=build)
    try:
        apt.download([f"{hdr}={version}", f"{common}={version}", kbuild], tmp, "fetch_headers.py")
        shutil.rmtree(root, ignore_errors=True)
        for deb in sorted(glob.glob(os.path.join(tmp, "*.deb"))):
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        mk = os.path.join(kdir, "Makefile")
        with open(mk) as f:
            text = f.read()
        text = text.replace("/usr/src/", os.path.join(os.path.abspath(root), "usr", "src") + "/")
        with open(mk, "w") as f:
            f.write(text)
        with open(stamp, "w") as f:
            f.write(version + "\n")
    except (OSError, subprocess.CalledProcessError) as e:
        raise fetch.FetchError(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return kdir


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--series", default="6.1")
    args = ap.parse_args()
    try:
        print(headers(os.path.abspath(args.build), args.series))
    except fetch.FetchError as e:
        print(f"fetch_headers.py: SKIP: cannot fetch the {fetch.describe(args.series)} headers: {e}",
              file=sys.stderr)
        sys.exit(SKIP)


if __name__ == "__main__":
    main()
