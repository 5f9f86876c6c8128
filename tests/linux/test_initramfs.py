#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""initramfs.py: the archive it writes is a valid gzip'd cpio newc that
holds what it should (read back by an independent reader here), --add
keeps content and modes, and bad --add arguments are refused.

usage: test_initramfs.py QEMU_EXIT (the built static helper)
"""

import gzip
import os
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "initramfs.py")


def read_cpio(data):
    """{name: (mode, data, rdevmajor, rdevminor)}; checks the newc framing."""
    out = {}
    off = 0
    while True:
        hdr = data[off:off + 110]
        assert hdr[:6] == b"070701", f"bad magic at {off}"
        f = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, filesize, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        name = data[off + 110:off + 110 + namesize - 1].decode()
        assert data[off + 110 + namesize - 1] == 0, "name not NUL-terminated"
        off += 110 + namesize
        off += -off % 4
        body = data[off:off + filesize]
        off += filesize
        off += -off % 4
        if name == "TRAILER!!!":
            assert off == len(data), "bytes after the trailer"
            return out
        assert name not in out, f"{name} twice"
        out[name] = (mode, body, rmaj, rmin)


def build(out, *extra, check=True):
    cmd = [sys.executable, TOOL, out, "--qemu-exit", sys.argv[1]] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def main():
    problems = []
    with tempfile.TemporaryDirectory() as d:
        payload = os.path.join(d, "payload.bin")
        with open(payload, "wb") as f:
            f.write(bytes(range(256)) * 3 + b"x")    # odd size: padding
        os.chmod(payload, 0o640)
        tests = os.path.join(d, "tests")
        os.mkdir(tests)
        with open(os.path.join(tests, "extra.sh"), "w") as f:
            f.write(". /lib/lxtest.sh\nrep_num extra 1\n")
        out = os.path.join(d, "i.cpio.gz")
        build(out, "--add", f"{payload}:/lib/modules/sidecar.ko", "--add", f"{payload}:/bin/prog:755",
              "--tests", os.path.join(HERE, "tests"), "--tests", tests)
        with open(out, "rb") as f:
            raw = gzip.decompress(f.read())
        files = read_cpio(raw)
        with open(payload, "rb") as f:
            want = f.read()

        def expect(name, fmt, perm=None, content=None):
            if name not in files:
                problems.append(f"{name} missing")
                return
            mode, body, _, _ = files[name]
            if stat.S_IFMT(mode) != fmt:
                problems.append(f"{name}: type {oct(stat.S_IFMT(mode))}")
            if perm is not None and stat.S_IMODE(mode) != perm:
                problems.append(f"{name}: mode {oct(stat.S_IMODE(mode))}, expected {oct(perm)}")
            if content is not None and body != content:
                problems.append(f"{name}: content differs")

        with open(os.path.join(HERE, "init"), "rb") as f:
            expect("init", stat.S_IFREG, 0o755, f.read())
        expect("bin/busybox", stat.S_IFREG, 0o755)
        expect("bin/qemu-exit", stat.S_IFREG, 0o755)
        expect("lib/lxtest.sh", stat.S_IFREG, 0o644)
        expect("lxtest/boot.sh", stat.S_IFREG, 0o755)
        expect("lxtest/extra.sh", stat.S_IFREG, 0o755)
        expect("lib/modules/sidecar.ko", stat.S_IFREG, 0o640, want)
        expect("bin/prog", stat.S_IFREG, 0o755, want)
        for dname in ("dev", "proc", "sys", "tmp", "lib", "lib/modules", "lxtest", "usr/bin"):
            expect(dname, stat.S_IFDIR, 0o755)
        if files.get("dev/console", (0, b"", 0, 0))[2:] != (5, 1):
            problems.append("dev/console is not device 5:1")
        expect("dev/console", stat.S_IFCHR)
        # Parents come before children.
        names = list(files)
        for n in names:
            parent = os.path.dirname(n)
            if parent and names.index(parent) > names.index(n):
                problems.append(f"{n} before its directory")
        # Reproducible.
        out2 = os.path.join(d, "j.cpio.gz")
        build(out2, "--add", f"{payload}:/lib/modules/sidecar.ko", "--add", f"{payload}:/bin/prog:755",
              "--tests", os.path.join(HERE, "tests"), "--tests", tests)
        if open(out, "rb").read() != open(out2, "rb").read():
            problems.append("two builds differ")
        # Refused: relative destination, a destination twice, a missing
        # source, a bad mode, a non-static helper.
        for bad in (["--add", f"{payload}:lib/x"], ["--add", f"{payload}:/init"],
                    ["--add", f"{d}/missing:/x"], ["--add", f"{payload}:/x:9z"],
                    ["--add", f"{payload}:/a/../b"]):
            r = build(os.path.join(d, "bad.gz"), *bad, check=False)
            if r.returncode == 0 or "initramfs.py" not in r.stderr:
                problems.append(f"{bad} accepted (status {r.returncode}, {r.stderr.strip()!r})")
        r = subprocess.run([sys.executable, TOOL, os.path.join(d, "bad.gz"), "--qemu-exit", payload],
                           capture_output=True, text=True)
        if r.returncode == 0:
            problems.append("a non-ELF qemu-exit helper accepted")
    for p in problems:
        print("FAIL: " + p)
    if problems:
        sys.exit(1)
    print(f"PASS: {len(files)} entries")


if __name__ == "__main__":
    main()
