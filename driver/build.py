#!/usr/bin/python3
"""Build sidecar.ko out of tree with Kbuild.

usage: build.py --kdir KDIR --stage DIR --output sidecar.ko FILE...

Copies the module sources and the generated files into DIR (*.h files named
abi.h, validate.h or linux_driver.h go to DIR/sidecar/, everything else to
DIR), runs `make -C KDIR M=DIR modules` and copies DIR/sidecar.ko to the
output. The compiler's messages go to stderr; a failure exits non-zero.
"""
import argparse
import os
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kdir", required=True)
    ap.add_argument("--stage", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
