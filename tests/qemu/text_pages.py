#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How many text pages of the sidecar kernel the bring-up runs on.

Under QEMU TCG the first execution of each code page costs time that grows
with the vCPU count (docs/boot.md section 3), so kernel.ld packs the
bring-up path into the first pages of the image. This boots the product
shim (tests/qemu/run.py) with QEMU's exec trace limited to the kernel's
text, maps every executed address to its function with nm, and counts the
distinct 4 KiB text pages from the kernel's entry to the BSP's return
(idt_restore_bsp): before the first INIT and in all. It fails when the
bring-up runs on more than --max-pages pages or the BSP on more than
--max-pages-before-init before its first INIT, and names the functions
that lie outside the packed pages, which is what to add to kernel.ld.
Bounded (run.py --timeout); reads the trace file QEMU wrote, no sleeps.

usage: text_pages.py --shim SHIM --kernel KERNEL.elf [--nm NM] [--smp N]
                     [--max-pages N] [--max-pages-before-init N] [--qemu QEMU]
"""

import argparse
import bisect
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL_VBASE = 0xffffffff80000000
TRACE = re.compile(r"\[[0-9a-f]+/(ffffffff8[0-9a-f]+)/")


def symbols(nm, elf):
    out = subprocess.run([nm, "-n", elf], check=True, capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "tT":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shim", required=True)
    ap.add_argument("--kernel", required=True, help="sidecar-kernel.elf (the symbols)")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--smp", type=int, default=8)
    ap.add_argument("--max-pages", type=int, default=8)
    ap.add_argument("--max-pages-before-init", type=int, default=4)
    args = ap.parse_args()

    syms = symbols(args.nm, args.kernel)
    addrs = [a for a, _ in syms]
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "exec.log")
        cmd = [sys.executable, os.path.join(HERE, "run.py"), "--qemu", args.qemu, "--shim", args.shim,
               "--smp", str(args.smp), "--ready", str(args.smp - 1), "--timeout", "300",
               "--qemu-arg=-d", "--qemu-arg=exec,nochain", "--qemu-arg=-D", "--qemu-arg=" + trace,
               "--qemu-arg=-dfilter", "--qemu-arg=0x%x..0x%x" % (KERNEL_VBASE, KERNEL_VBASE + 0x100000)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            print("FAIL: the boot itself failed")
            return 1
        pages, before_init, functions, done = [], None, {}, False
        with open(trace, errors="replace") as f:
            for line in f:
                m = TRACE.search(line)
                if not m:
                    continue
                pc = int(m.group(1), 16)
                i = bisect.bisect_right(addrs, pc) - 1
                fn = syms[i][1] if i >= 0 else "?"
                page = (pc - KERNEL_VBASE) >> 12
                if page not in pages:
                    pages.append(page)
                functions.setdefault(page, set()).add(fn)
                if before_init is None and fn == "send_start":
                    before_init = len(pages)
                if fn == "idt_restore_bsp":
                    done = True
                    break
    if not done:
        print("FAIL: the trace never reached idt_restore_bsp (the BSP's return)")
        return 1
    print(f"text_pages: the bring-up ran on {len(pages)} text pages {sorted(pages)}, "
          f"{before_init} of them before the first INIT")
    ok = len(pages) <= args.max_pages and (before_init or 0) <= args.max_pages_before_init
    if not ok:
        packed = sorted(pages)[: args.max_pages]
        for page in sorted(pages):
            if page not in packed:
                print(f"  page {page}: {', '.join(sorted(functions[page]))} (add to kernel.ld's bring-up list)")
        print(f"FAIL: more than {args.max_pages} pages in all or {args.max_pages_before_init} before the first INIT")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
