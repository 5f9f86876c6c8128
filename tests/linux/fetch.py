#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fetch the Debian cloud kernel the Linux tests boot under the shim.

Two series are known (SERIES below):
  6.1   Debian 12 (bookworm): the newest linux-image-6.1.*-cloud-amd64 the
        machine's own apt knows;
  6.12  Debian 13 (trixie): the newest linux-image-6.12.*+deb13*-cloud-amd64
        of trixie, trixie-updates and trixie-security, read through a
        private apt state in BUILD/apt-trixie/ (its own sources list and
        package lists, the machine's Debian archive keyring; nothing of the
        machine's apt is changed, no root needed).
Any other series is looked up in the machine's own apt.

The package is downloaded with `apt-get download` and unpacked with
`dpkg -x` into BUILD/linux/ (nothing is committed, nothing installed);
later calls reuse it. Prints the bzImage's path
(BUILD/linux/boot/vmlinuz-<version>).

usage: fetch.py BUILD [--series 6.1|6.12]
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
DEBIAN_MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# suite: None = the machine's own apt sources (Debian 12 here), else a
# Debian suite read through a private apt state in BUILD/apt-SUITE.
# vmlinuz: the glob (after "vmlinuz-") of that series' kernels in
# BUILD/linux/boot, so that 6.12 from Debian 12's backports never passes for
# Debian 13's. compiler: the Debian package of the compiler the kernel was
# built with, in a root of that suite (driver/build.py).
SERIES = {
    "6.1": {"suite": None, "debian": "12", "vmlinuz": "6.1.*-cloud-amd64", "compiler": None},
    "6.12": {"suite": "trixie", "debian": "13", "vmlinuz": "6.12.*+deb13*-cloud-amd64",
             "compiler": "gcc-14"},
}


class FetchError(Exception):
    pass


def series_info(series):
    return SERIES.get(series) or {"suite": None, "debian": "?", "vmlinuz": f"{series}.*-cloud-amd64",
                                  "compiler": None}


def describe(series):
    """'Debian 13 (trixie) 6.12 cloud kernel' for messages."""
    info = series_info(series)
    suite = f" ({info['suite']})" if info["suite"] else ""
    return f"Debian {info['debian']}{suite} {series} cloud kernel"


def natural(name):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


class Apt:
    """apt-get/apt-cache, either the machine's own or a private state for
    another Debian suite (its lists fetched once with apt-get update)."""

    def __init__(self, build, series):
        self.suite = series_info(series)["suite"]
        self.opts = []
        if not self.suite:
            return
        d = os.path.join(os.path.abspath(build), f"apt-{self.suite}")
        for sub in ("lists/partial", "archives/partial", "sources.list.d", "preferences.d"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        sources = os.path.join(d, "sources.list")
        want = "".join(f"deb [signed-by={KEYRING}] {m} {s} main\n" for m, s in (
            (DEBIAN_MIRROR, self.suite), (DEBIAN_MIRROR, f"{self.suite}-updates"),
            (SECURITY_MIRROR, f"{self.suite}-security")))
        if not os.path.exists(sources) or open(sources).read() != want:
            with open(sources, "w") as f:
                f.write(want)
        status = os.path.join(d, "status")
        if not os.path.exists(status):
            open(status, "w").close()
        self.opts = ["-o", f"Dir::Etc::SourceList={sources}",
                     "-o", f"Dir::Etc::SourceParts={d}/sources.list.d",
                     "-o", f"Dir::Etc::Preferences={d}/preferences",
                     "-o", f"Dir::Etc::PreferencesParts={d}/preferences.d",
                     "-o", f"Dir::State={d}", "-o", f"Dir::State::Lists={d}/lists",
                     "-o", f"Dir::State::status={status}",
                     "-o", f"Dir::Cache={d}", "-o", f"Dir::Cache::Archives={d}/archives",
                     "-o", "APT::Architecture=amd64", "-o", "APT::Architectures::=amd64",
                     "-o", "Acquire::Languages=none"]
        self.lists = os.path.join(d, "lists")
        self.updated = False
        if not glob.glob(os.path.join(self.lists, "*_Packages*")):
            self.update()

    def update(self):
        if not self.suite or self.updated:
            return False
        print(f"fetch.py: apt-get update ({self.suite}, private state)", file=sys.stderr, flush=True)
        r = subprocess.run(["apt-get", "-q"] + self.opts + ["update"], capture_output=True, text=True)
        if r.returncode != 0 or not glob.glob(os.path.join(self.lists, "*_Packages*")):
            raise FetchError(f"apt-get update of {self.suite} failed: {(r.stderr or r.stdout).strip()[-400:]}")
        self.updated = True
        return True

    def cache(self, *args):
        try:
            return subprocess.run(["apt-cache"] + self.opts + list(args),
                                  capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            raise FetchError(f"apt-cache {' '.join(args)} failed: {e}")

    def download(self, pkgs, cwd, who="fetch.py"):
        """apt-get download each package (NAME or NAME=VERSION) into cwd;
        with a private state, an index that no longer has it is refreshed
        once."""
        for pkg in pkgs:
            print(f"{who}: apt-get download {pkg}", file=sys.stderr, flush=True)
            while True:
                r = subprocess.run(["apt-get"] + self.opts + ["download", pkg], cwd=cwd,
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    break
                if not self.update():
                    raise FetchError(f"apt-get download {pkg} failed: {r.stderr.strip()}")


def newest_package(series, apt=None):
    """linux-image-<series>.N-M-cloud-amd64 (6.1) or
    linux-image-<series>.N+debD-cloud-amd64 (6.12) with the highest version."""
    pattern = rf"^linux-image-{re.escape(series)}\.[0-9]+[-+][0-9a-z.+-]*cloud-amd64$"
    out = apt.cache("search", "--names-only", pattern)
    names = sorted((l.split()[0] for l in out.splitlines() if l.split() and "meta" not in l
                    and not l.split()[0].endswith("-dbg")), key=natural)
    if series_info(series)["suite"]:
        names = [n for n in names if f"+deb{series_info(series)['debian']}" in n]
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


def cached(build, series):
    """The newest bzImage of the series already in BUILD/linux, or None."""
    pattern = os.path.join(build, "linux", "boot", "vmlinuz-" + series_info(series)["vmlinuz"])
    found = sorted(glob.glob(pattern), key=natural)
    return found[-1] if found else None


def kernel(build, series="6.1"):
    """Path of the bzImage in BUILD/linux, fetched on first use."""
    found = cached(build, series)
    if found:
        return found
    dest = os.path.join(build, "linux")
    os.makedirs(build, exist_ok=True)
    apt = Apt(build, series)
    pkg = newest_package(series, apt)
    tmp = tempfile.mkdtemp(prefix="linux-fetch-", dir=build)
    try:
        apt.download([pkg], tmp)
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
    found = cached(build, series)
    if not found:
        raise FetchError(f"{pkg} has no /boot/vmlinuz-{series_info(series)['vmlinuz']}")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--series", default="6.1")
    args = ap.parse_args()
    try:
        print(kernel(args.build, args.series))
    except FetchError as e:
        print(f"fetch.py: SKIP: cannot fetch the {describe(args.series)}: {e}", file=sys.stderr)
        sys.exit(SKIP)


if __name__ == "__main__":
    main()
