#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Build the test initramfs for Linux under the sidecar shim.

A gzip-compressed cpio archive (newc format, written here, no cpio
program needed) holding:
  /bin/busybox            busybox-static (Debian); /init installs its applets
  /init                   tests/linux/init: mounts, records, runs the test,
                          prints LINUX-REPORT, exits QEMU
  /lib/lxtest.sh          helpers for test scripts (tests/linux/lxtest.sh)
  /lxtest/NAME.sh         every *.sh of each --tests DIR (default
                          tests/linux/tests); lxtest=NAME runs it
  /bin/qemu-exit          --qemu-exit PATH (static helper writing port 0xf4)
  /dev/console            character device 5:1 (the kernel opens it for /init)
  anything given with --add SRC:DST[:MODE] (DST absolute; MODE octal,
  default: the source's permission bits), e.g.
      --add build/driver/sidecar.ko:/lib/modules/sidecar.ko
      --add build/tests/linux/ping:/bin/sidecar-ping:755

busybox: --busybox PATH, or "auto" (default): /bin/busybox when it is a
static executable (Debian's busybox-static installs it there), else
busybox-static is fetched with `apt-get download` and unpacked with
`dpkg -x` into --cache (default: the output's directory).

The archive is reproducible (fixed mtimes, sorted entries).

usage: initramfs.py OUT [--busybox PATH|auto] [--qemu-exit PATH]
                        [--add SRC:DST[:MODE]]... [--tests DIR]... [--cache DIR]
"""

import argparse
import glob
import gzip
import io
import os
import stat
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


class Cpio:
    """A cpio "newc" archive (the format the Linux initramfs unpacker reads)."""

    def __init__(self):
        self.out = io.BytesIO()
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name = name.lstrip("/")
        if name in self.seen:
            sys.exit(f"initramfs.py: /{name} added twice")
        self.seen.add(name)
        nb = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08x" % f for f in fields)
        self.out.write(hdr + nb)
        self.out.write(b"\0" * (-(len(hdr) + len(nb)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, perm):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return self.out.getvalue()


def is_static_elf(path):
    """True for an ELF executable without a program interpreter."""
    try:
        with open(path, "rb") as f:
            d = f.read(1 << 16)
    except OSError:
        return False
    if d[:4] != b"\x7fELF" or d[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", d, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", d, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 4 > len(d):
            return False
        if struct.unpack_from("<I", d, off)[0] == 3:   # PT_INTERP
            return False
    return True


def find_busybox(spec, cache):
    if spec != "auto":
        if not is_static_elf(spec):
            sys.exit(f"initramfs.py: {spec} is not a static executable")
        return spec
    if is_static_elf("/bin/busybox"):
        return "/bin/busybox"
    unpacked = os.path.join(cache, "busybox-static")
    path = os.path.join(unpacked, "bin", "busybox")
    if not is_static_elf(path):
        os.makedirs(unpacked, exist_ok=True)
        print("initramfs.py: fetching busybox-static with apt-get download", file=sys.stderr)
        subprocess.run(["apt-get", "download", "busybox-static"], cwd=unpacked, check=True)
        debs = sorted(glob.glob(os.path.join(unpacked, "busybox-static_*.deb")))
        if not debs:
            sys.exit("initramfs.py: apt-get download busybox-static gave no package")
        subprocess.run(["dpkg", "-x", debs[-1], unpacked], check=True)
    if not is_static_elf(path):
        sys.exit("initramfs.py: no static busybox (install busybox-static)")
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--busybox", default="auto")
    ap.add_argument("--qemu-exit", help="the static qemu-exit helper (/bin/qemu-exit)")
    ap.add_argument("--add", action="append", default=[], metavar="SRC:DST[:MODE]")
    ap.add_argument("--tests", action="append", metavar="DIR",
                    help="directory of NAME.sh test scripts (repeatable; default tests/linux/tests)")
    ap.add_argument("--init", default=os.path.join(HERE, "init"))
    ap.add_argument("--cache", help="where busybox-static is unpacked when it must be fetched")
    args = ap.parse_args()

    cache = args.cache or os.path.dirname(os.path.abspath(args.out))
    files = {}   # DST -> (data, perm)

    def add(dst, data, perm):
        if not dst.startswith("/") or dst.endswith("/") or "//" in dst or "/../" in dst + "/":
            sys.exit(f"initramfs.py: destination {dst!r} must be an absolute file path")
        if dst in files:
            sys.exit(f"initramfs.py: {dst} added twice")
        files[dst] = (data, perm)

    add("/bin/busybox", read(find_busybox(args.busybox, cache)), 0o755)
    add("/init", read(args.init), 0o755)
    add("/lib/lxtest.sh", read(os.path.join(HERE, "lxtest.sh")), 0o644)
    if args.qemu_exit:
        if not is_static_elf(args.qemu_exit):
            sys.exit(f"initramfs.py: {args.qemu_exit} is not a static executable")
        add("/bin/qemu-exit", read(args.qemu_exit), 0o755)
    for d in args.tests or [os.path.join(HERE, "tests")]:
        scripts = sorted(glob.glob(os.path.join(d, "*.sh")))
        if not scripts:
            sys.exit(f"initramfs.py: no *.sh test scripts in {d}")
        for s in scripts:
            add("/lxtest/" + os.path.basename(s), read(s), 0o755)
    for spec in args.add:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            sys.exit(f"initramfs.py: --add {spec!r}: expected SRC:DST[:MODE]")
        src, dst = parts[0], parts[1]
        try:
            perm = int(parts[2], 8) if len(parts) == 3 else stat.S_IMODE(os.stat(src).st_mode)
        except ValueError:
            sys.exit(f"initramfs.py: --add {spec!r}: MODE must be octal")
        except OSError as e:
            sys.exit(f"initramfs.py: --add {spec!r}: {e}")
        add(dst, read(src), perm & 0o7777)

    c = Cpio()
    dirs = {"/dev", "/proc", "/sys", "/tmp", "/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/lib"}
    for dst in files:
        p = os.path.dirname(dst)
        while p != "/":
            dirs.add(p)
            p = os.path.dirname(p)
    for d in sorted(dirs):
        c.dir(d)
    c.chardev("/dev/console", 5, 1)
    for dst in sorted(files):
        data, perm = files[dst]
        c.file(dst, data, perm)
    raw = c.finish()
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(filename="", fileobj=f, mode="wb", mtime=0, compresslevel=6) as g:
            g.write(raw)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
