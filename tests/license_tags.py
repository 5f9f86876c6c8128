#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every source file of the repository names its license with an
SPDX-License-Identifier line in its first lines (LICENSE, LICENSES/).

usage: license_tags.py SOURCE_DIR [--fix]

driver/'s module sources are GPL-2.0 (a Linux module); everything else is
MIT. Sources: what git tracks, by extension (.c .h .cc .ld .map .def .asm
.inc .py .sh .yaml .txt, meson.build, meson_options.txt, Kbuild and
scripts without an extension); Markdown, JSON, templates and fuzz inputs
are data. hostlib/include/sidecar/linux_driver.h is exempt (it carries
its own dual-license line for the module and user space). --fix adds the
missing lines. Exit 1 naming every file without one; 77 outside a git
checkout.
"""
import os
import subprocess
import sys

C = {".c", ".h", ".cc", ".ld", ".map", ".def"}
HASH = {".py", ".sh", ".yaml", ".txt"}
SEMI = {".asm", ".inc"}
HASH_NAMES = {"meson.build", "meson_options.txt", "Kbuild"}
EXEMPT = {"hostlib/include/sidecar/linux_driver.h"}


def wanted(path, text):
    """The SPDX line path should carry, or None when it is not a source."""
    base, ext = os.path.basename(path), os.path.splitext(path)[1]
    if path in EXEMPT or path.startswith(("tests/fuzz/corpus/", "tests/fuzz/regressions/", "LICENSES/")):
        return None
    gpl = path.startswith("driver/") and ext != ".py" and base != "meson.build"
    lic = "GPL-2.0-only" if gpl else "MIT"
    if ext in C:
        return f"/* SPDX-License-Identifier: {lic} */"
    if ext in SEMI:
        return f"; SPDX-License-Identifier: {lic}"
    if ext in HASH or base in HASH_NAMES or (ext == "" and text.startswith("#!")):
        return f"# SPDX-License-Identifier: {lic}"
    return None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, fix = sys.argv[1], "--fix" in sys.argv[2:]
    r = subprocess.run(["git", "-C", src, "ls-files"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"SKIP: {src} is not a git checkout (git ls-files: {r.stderr.strip()})")
        return 77
    missing, count = [], 0
    for path in r.stdout.split():
        full = os.path.join(src, path)
        try:
            text = open(full, encoding="utf-8").read()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        line = wanted(path, text)
        if line is None:
            continue
        count += 1
        if "SPDX-License-Identifier:" in "\n".join(text.split("\n")[:3]):
            continue
        if fix:
            lines = text.split("\n")
            lines.insert(1 if lines[0].startswith("#!") else 0, line)
            with open(full, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
        else:
            missing.append(path)
    if missing:
        print(f"{len(missing)} of {count} source files have no SPDX-License-Identifier line in their first 3 lines "
              f"(tests/license_tags.py {src} --fix adds them):")
        for m in missing:
            print("  " + m)
        return 1
    print(f"{count} source files name their license")
    return 0


if __name__ == "__main__":
    sys.exit(main())
