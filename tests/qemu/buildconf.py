# SPDX-License-Identifier: MIT
"""What the tools (demo, soak, bench) take from the build directory's
configuration: the QEMU binary (meson setup -Dqemu=...), read from Meson's
introspection file BUILD/meson-info/intro-buildoptions.json, which
`meson setup` and `meson configure` keep current.

The QEMU a tool runs: its --qemu option when given, else $SIDECAR_QEMU (what
`meson test` sets from -Dqemu), else the build directory's -Dqemu, else
qemu-system-x86_64.
"""

import json
import os

DEFAULT_QEMU = "qemu-system-x86_64"


def option(build, name):
    """The value of a project option in BUILD, or None (not configured,
    or no such option)."""
    path = os.path.join(build, "meson-info", "intro-buildoptions.json")
    try:
        with open(path, encoding="utf-8") as fh:
            opts = json.load(fh)
    except (OSError, ValueError):
        return None
    for o in opts:
        if o.get("name") == name and o.get("section") == "user":
            return o.get("value")
    return None


def qemu(build, given=None):
    """The QEMU binary for a tool run against BUILD (see the module doc)."""
    return given or os.environ.get("SIDECAR_QEMU") or option(build, "qemu") or DEFAULT_QEMU
