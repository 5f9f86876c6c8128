#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Build sidecar.ko out of tree with Kbuild.

usage: build.py (--kdir KDIR | --series SERIES --build BUILD) [--root DIR]
                [--skip-ok] --stage DIR --output sidecar.ko FILE...
       build.py --kdir KDIR --from-build BUILD [--root DIR] [--output sidecar.ko]

Copies the module sources and the generated files into the stage DIR (*.h
files named abi.h, validate.h or linux_driver.h go to DIR/sidecar/,
everything else to DIR), runs `make -C KDIR M=DIR modules` and copies
DIR/sidecar.ko to the output. The compiler's messages go to stderr; a
failure exits non-zero.

The kernel tree:
  --kdir KDIR        a configured kernel tree or Debian headers directory
                     (your own kernel: see docs/linux-driver.md)
  --series SERIES    Debian's cloud kernel headers of that series, fetched
                     into BUILD by tests/linux/fetch_headers.py (6.1: Debian
                     12's, 6.12: Debian 13's, the kernels the tests boot)

The compiler: the machine's, unless --root DIR names a Debian root to build
in (chroot DIR, with the stage and the kernel tree bind-mounted at their
own paths inside it, in a private mount namespace: nothing stays mounted).
A series built with another Debian's compiler (fetch.py's SERIES: 6.12
wants Debian 13's gcc-14, and its Kbuild programs Debian 13's C library)
is built in a root even without --root: BUILD/trixie-kbuild, made once by
tests/linux/debroot.py (debootstrap) with the packages below. Given roots
get the missing packages installed the same way.

--skip-ok: when the headers or the root cannot be had (no network, no root
privileges, no debootstrap), write "SKIP: <reason>" into the output instead
of a module and exit 0; the tests that boot it then exit 77 with that
reason (tests/linux/run.py --ko). A compiler error is never skipped.

--from-build BUILD (./sidecar driver --kdir KDIR): the files are the
module's sources and BUILD's generated headers, the stage is
BUILD/driver/kdir-<name of KDIR>/kbuild and the output, unless given,
BUILD/driver/kdir-<name of KDIR>/sidecar.ko: sidecar.ko against any configured
kernel tree (a kernel's build directory or its linux-headers package).
A KDIR that is no kernel tree exits 2 with the reason.
"""
import argparse
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "linux"))
import debroot  # noqa: E402
import fetch  # noqa: E402
import fetch_headers  # noqa: E402

# What Kbuild needs in the root besides the compiler: make, and what Debian
# 13's linux-kbuild programs link to or run (pahole: module BTF).
ROOT_PACKAGES = ["make", "pahole", "libelf1t64", "libssl3t64", "zlib1g"]
SKIP_PREFIX = "SKIP: "


def from_build(ap, a):
    """--from-build: the inputs driver/meson.build gives, for a kernel
    tree of the user's choosing; checks KDIR is a configured kernel tree."""
    kdir = os.path.abspath(a.kdir)
    if not os.path.isfile(os.path.join(kdir, "Makefile")):
        ap.exit(2, f"build.py: --kdir {a.kdir}: not a kernel tree (no Makefile); give a configured kernel's "
                   "build directory, e.g. /lib/modules/$(uname -r)/build\n")
    if not os.path.isfile(os.path.join(kdir, ".config")) or \
            not os.path.isfile(os.path.join(kdir, "include", "generated", "autoconf.h")):
        ap.exit(2, f"build.py: --kdir {a.kdir}: the kernel tree is not configured and prepared (no .config or "
                   "include/generated/autoconf.h); run make olddefconfig modules_prepare there\n")
    gen = os.path.join(a.from_build, "gen", "sidecar")
    files = [os.path.join(TOP, "driver", "Kbuild"), os.path.join(TOP, "driver", "main.c"),
             os.path.join(TOP, "driver", "sidecar_checks.h"), os.path.join(gen, "abi.h"), os.path.join(gen, "validate.h"), os.path.join(gen, "validate.c"),
             os.path.join(TOP, "hostlib", "include", "sidecar", "linux_driver.h")]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        ap.exit(2, f"build.py: missing {', '.join(missing)} (meson compile -C {a.from_build} first)\n")
    name = os.path.basename(kdir.rstrip("/")) or "kernel"
    a.kdir = kdir
    a.files = files
    a.stage = a.stage or os.path.join(a.from_build, "driver", f"kdir-{name}", "kbuild")
    a.output = a.output or os.path.join(a.from_build, "driver", f"kdir-{name}", "sidecar.ko")
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)


def stage_files(stage, files):
    os.makedirs(os.path.join(stage, "sidecar"), exist_ok=True)
    for f in files:
        name = os.path.basename(f)
        sub = "sidecar" if name in ("abi.h", "validate.h", "linux_driver.h") else ""
        dst = os.path.join(stage, sub, name)
        if not os.path.exists(dst) or open(f, "rb").read() != open(dst, "rb").read():
            shutil.copyfile(f, dst)


def make_command(kdir, stage, root):
    make = ["make", "-s", "-C", kdir, f"M={stage}", "modules"]
    if not root:
        return make
    binds = sorted({os.path.realpath(kdir), stage})
    top = os.path.commonpath(binds)
    if top != "/":
        binds = [top]
    # sh -c 'for each bind: mkdir -p ROOT/P; mount --bind P ROOT/P; then
    # chroot ROOT make ...' in its own mount namespace.
    script = ('root=$1; n=$2; shift 2; while [ "$n" -gt 0 ]; do '
              'mkdir -p "$root$1" && mount --bind "$1" "$root$1" || exit 125; shift; n=$((n-1)); done; '
              'exec chroot "$root" "$@"')
    return (["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             root, str(len(binds))] + binds + ["env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"]
            + make)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kdir")
    ap.add_argument("--series")
    ap.add_argument("--build")
    ap.add_argument("--root")
    ap.add_argument("--skip-ok", action="store_true")
    ap.add_argument("--stage")
    ap.add_argument("--output")
    ap.add_argument("--from-build", metavar="BUILD",
                    help="take the sources and BUILD's generated headers (./sidecar driver --kdir)")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if bool(a.kdir) == bool(a.series) or (a.series and not a.build):
        ap.error("give --kdir KDIR, or --series SERIES with --build BUILD")
    if a.from_build:
        if not a.kdir:
            ap.error("--from-build needs --kdir KDIR")
        from_build(ap, a)
    elif not (a.stage and a.output and a.files):
        ap.error("--stage, --output and the files are needed without --from-build")
    stage = os.path.abspath(a.stage)
    root = os.path.abspath(a.root) if a.root else None
    kdir = a.kdir
    try:
        if a.series:
            build = os.path.abspath(a.build)
            kdir = fetch_headers.headers(build, a.series)
            info = fetch.series_info(a.series)
            if info["compiler"] and not root:
                root = os.path.join(build, f"{info['suite']}-kbuild")
            if root:
                packages = ([info["compiler"]] if info["compiler"] else []) + ROOT_PACKAGES
                debroot.ensure(root, packages, info["suite"] or "trixie")
        elif root:
            debroot.ensure(root, ["gcc", "make"])
    except (fetch.FetchError, debroot.RootError) as e:
        what = f"the {fetch.describe(a.series)} headers or Debian root" if a.series else f"the root {root}"
        msg = f"cannot build sidecar.ko: cannot have {what}: {e}"
        if not a.skip_ok:
            print(f"build.py: {msg}", file=sys.stderr)
            return 1
        print(f"build.py: skipped: {msg}", file=sys.stderr)
        with open(a.output, "w") as f:
            f.write(SKIP_PREFIX + msg.replace("\n", " ") + "\n")
        return 0
    stage_files(stage, a.files)
    cmd = make_command(os.path.abspath(kdir), stage, root)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = "\n".join(l for l in r.stdout.splitlines()
                    if "Skipping BTF" not in l and "pahole" not in l)
    if out.strip():
        print(out, file=sys.stderr)
    where = f" in the root {root}" if root else ""
    if r.returncode != 0:
        print(f"build.py: make -C {kdir} M={stage} modules{where} failed ({r.returncode})", file=sys.stderr)
        return 1
    shutil.copyfile(os.path.join(stage, "sidecar.ko"), a.output)
    if a.from_build:
        print(f"build.py: {a.output}: sidecar.ko built against {a.kdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
