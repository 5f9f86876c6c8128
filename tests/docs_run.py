#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The docs' runnable commands still run: every fenced block in README.md
and docs/*.md that opens with ```sh runnable holds commands, one a line
(a trailing # comment is fine; a line ending in \\ continues), that must
exit 0 within 120 s. They run with sh -c in a folder that looks like a
checkout whose build directory is `build` (links to the source tree's
entries and to the build directory), with SIDECAR_NO_INSTALL=1, so a doc
that says `./sidecar --help` or `meson test -C build --list` runs as
written. Mark only cheap commands that need no network and no root.

usage: docs_run.py SOURCE_ROOT BUILD_ROOT
"""
import os
import re
import subprocess
import sys
import tempfile

MARK = re.compile(r"^```sh runnable\s*$")


def blocks(path):
    """(line number, command) for every command of every runnable block."""
    out, cmd, start, inside = [], "", 0, False
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not inside:
                inside = bool(MARK.match(line))
                continue
            if line.startswith("```"):
                if cmd:
                    out.append((start, cmd))
                inside, cmd = False, ""
                continue
            if not cmd:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                start = n
            cmd += line[:-1] + " " if line.endswith("\\") else line
            if not line.endswith("\\"):
                out.append((start, cmd))
                cmd = ""
    if inside:
        out.append((0, f"echo 'a ```sh runnable block in {path} is never closed' >&2; exit 1"))
    return out


def main():
    src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    docs = [os.path.join(src, "README.md")]
    docs += sorted(os.path.join(src, "docs", f) for f in os.listdir(os.path.join(src, "docs")) if f.endswith(".md"))
    cmds = [(os.path.relpath(d, src), n, c) for d in docs for n, c in blocks(d)]
    readme = [c for c in cmds if c[0] == "README.md"]
    problems = []
    if not readme:
        problems.append("README.md has no ```sh runnable block")
    work = tempfile.mkdtemp(prefix="sidecar-docs-")
    for name in os.listdir(src):
        if name != "build":
            os.symlink(os.path.join(src, name), os.path.join(work, name))
    os.symlink(build, os.path.join(work, "build"))
    env = dict(os.environ, SIDECAR_NO_INSTALL="1")
    env.pop("SIDECAR_BUILD", None)
    for doc, n, c in cmds:
        try:
            p = subprocess.run(["sh", "-c", c], cwd=work, env=env, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
            status = p.returncode
            text = (p.stdout + p.stderr).strip()
        except subprocess.TimeoutExpired:
            status, text = "timeout (120 s)", ""
        print(f"{doc}:{n}: {c}  -> {status}")
        if status != 0:
            tail = "\n    ".join(text.splitlines()[-15:])
            problems.append(f"{doc}:{n}: `{c}` exited {status}:\n    {tail}")
    print(f"{len(cmds)} runnable commands in {len(docs)} pages")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
