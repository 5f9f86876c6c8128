#!/usr/bin/python3
"""Build sidecar.ko out of tree with Kbuild.

usage: build.py --kdir KDIR --stage DIR --output sidecar.ko FILE...
       build.py --kdir KDIR --from-build BUILD [--output sidecar.ko]

Copies the module sources and the generated files into DIR (*.h files named
abi.h, validate.h or linux_driver.h go to DIR/sidecar/, everything else to
DIR), runs `make -C KDIR M=DIR modules` and copies DIR/sidecar.ko to the
output. The compiler's messages go to stderr; a failure exits non-zero.

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


def from_build(ap, a):
    """--from-build: the inputs driver/meson.build gives, for a kernel
    tree of the user's choosing; checks KDIR is a configured kernel tree."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kdir = os.path.abspath(a.kdir)
    if not os.path.isfile(os.path.join(kdir, "Makefile")):
        ap.exit(2, f"build.py: --kdir {a.kdir}: not a kernel tree (no Makefile); give a configured kernel's "
                   "build directory, e.g. /lib/modules/$(uname -r)/build\n")
    if not os.path.isfile(os.path.join(kdir, ".config")) or \
            not os.path.isfile(os.path.join(kdir, "include", "generated", "autoconf.h")):
        ap.exit(2, f"build.py: --kdir {a.kdir}: the kernel tree is not configured and prepared (no .config or "
                   "include/generated/autoconf.h); run make olddefconfig modules_prepare there\n")
    gen = os.path.join(a.from_build, "gen", "sidecar")
    files = [os.path.join(top, "driver", "Kbuild"), os.path.join(top, "driver", "main.c"),
             os.path.join(gen, "abi.h"), os.path.join(gen, "validate.h"), os.path.join(gen, "validate.c"),
             os.path.join(top, "hostlib", "include", "sidecar", "linux_driver.h")]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        ap.exit(2, f"build.py: missing {', '.join(missing)} (meson compile -C {a.from_build} first)\n")
    name = os.path.basename(kdir.rstrip("/")) or "kernel"
    a.kdir = kdir
    a.files = files
    a.stage = a.stage or os.path.join(a.from_build, "driver", f"kdir-{name}", "kbuild")
    a.output = a.output or os.path.join(a.from_build, "driver", f"kdir-{name}", "sidecar.ko")
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kdir", required=True)
    ap.add_argument("--stage")
    ap.add_argument("--output")
    ap.add_argument("--from-build", metavar="BUILD",
                    help="take the sources and BUILD's generated headers (./sidecar driver --kdir)")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if a.from_build:
        from_build(ap, a)
    elif not (a.stage and a.output and a.files):
        ap.error("--stage, --output and the files are needed without --from-build")
    stage = os.path.abspath(a.stage)
    os.makedirs(os.path.join(stage, "sidecar"), exist_ok=True)
    for f in a.files:
        name = os.path.basename(f)
        sub = "sidecar" if name in ("abi.h", "validate.h", "linux_driver.h") else ""
        dst = os.path.join(stage, sub, name)
        if not os.path.exists(dst) or open(f, "rb").read() != open(dst, "rb").read():
            shutil.copyfile(f, dst)
    r = subprocess.run(["make", "-s", "-C", a.kdir, f"M={stage}", "modules"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = "\n".join(l for l in r.stdout.splitlines()
                    if "Skipping BTF" not in l and "pahole" not in l)
    if out.strip():
        print(out, file=sys.stderr)
    if r.returncode != 0:
        print(f"build.py: make -C {a.kdir} M={stage} modules failed ({r.returncode})", file=sys.stderr)
        return 1
    shutil.copyfile(os.path.join(stage, "sidecar.ko"), a.output)
    if a.from_build:
        print(f"build.py: {a.output}: sidecar.ko built against {a.kdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
