#!/usr/bin/python3
"""Fetch the kernel headers the sidecar driver module is built against.

The headers match the kernel tests/linux/fetch.py boots: the newest
linux-image-6.1.*-cloud-amd64 apt knows, say 6.1.0-56-cloud-amd64, gives
linux-headers-6.1.0-56-cloud-amd64, linux-headers-6.1.0-56-common and the
linux-kbuild-6.1 of the same package version. They are downloaded with
`apt-get download`, unpacked with `dpkg -x` into BUILD/linux-headers/
(nothing is installed on the machine, nothing is committed) and the one
absolute path Debian's Makefile holds is pointed at the unpacked tree.
Later calls reuse the tree.

Prints the Kbuild directory (for `make -C DIR M=...`).

usage: fetch_headers.py BUILD [--series 6.1]
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


def candidate_version(pkg):
    out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True).stdout
    m = re.search(r"Candidate:\s*(\S+)", out)
    if not m or m.group(1) == "(none)":
        raise fetch.FetchError(f"apt has no candidate for {pkg}")
    return m.group(1)


def headers(build, series="6.1"):
    image = fetch.newest_package(series)              # linux-image-6.1.0-56-cloud-amd64
    abi = image[len("linux-image-"):-len("-cloud-amd64")]  # 6.1.0-56
    flavour = f"{abi}-cloud-amd64"
    root = os.path.join(build, "linux-headers")
    kdir = os.path.join(root, "usr", "src", f"linux-headers-{flavour}")
    stamp = os.path.join(root, ".complete-" + flavour)
    if os.path.exists(stamp):
        return kdir
    hdr = f"linux-headers-{flavour}"
    common = f"linux-headers-{abi}-common"
    version = candidate_version(hdr)
    kbuild = f"linux-kbuild-{series}={version}"
    os.makedirs(build, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="headers-fetch-", dir=build)
    try:
        fetch.download([hdr, f"{common}={version}", kbuild], tmp, "fetch_headers.py")
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
        print(f"fetch_headers.py: SKIP: cannot fetch the Debian {args.series} cloud kernel headers: {e}",
              file=sys.stderr)
        sys.exit(SKIP)


if __name__ == "__main__":
    main()
