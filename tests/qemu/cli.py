# SPDX-License-Identifier: MIT
"""What the user-facing tools (demo.py, soak.py, bench.py) share on their
command line: a usage error names the valid options (and the nearest one
to a misspelt option) and exits 2; output paths are checked before any VM
boots."""

import argparse
import difflib
import os
import re


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error names the valid options and exits 2
    (argparse's own status for usage errors; never 77, which only the test
    runner reads as "skipped")."""

    def error(self, message):
        opts = sorted({o for a in self._actions for o in a.option_strings if o.startswith("--")})
        hint = ""
        m = re.search(r"unrecognized arguments: (\S+)", message)
        if m:
            near = difflib.get_close_matches(m.group(1).split("=")[0], opts, n=1, cutoff=0.7)
            if near:
                hint = f" (did you mean {near[0]}?)"
        self.exit(2, f"{self.prog}: {message}{hint}\nvalid options: {', '.join(opts)}\n"
                     f"(--help explains each)\n")


def unwritable(opt, path):
    """Why PATH cannot be written, or None. Tried for real, so it holds for
    root and read-only mounts too: an existing file is opened for
    appending, a new one created and removed again; its folder is made,
    as the tool would make it."""
    if os.path.isdir(path):
        return f"{opt} {path}: is a directory; give a file name"
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
        existed = os.path.exists(path)
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            os.unlink(path)
    except OSError as exc:
        return f"{opt} {path}: cannot be written: {exc.strerror or exc}; choose another path"
    return None
