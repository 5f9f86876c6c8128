# SPDX-License-Identifier: MIT
"""docs/hostlib.md shows hostlib/examples/example.c verbatim: the first C
block after the "## Example" heading must equal the file."""
import os
import sys

root = os.environ.get("SIDECAR_SOURCE_ROOT") or sys.argv[1]
doc = open(os.path.join(root, "docs", "hostlib.md"), encoding="utf-8").read()
example = open(os.path.join(root, "hostlib", "examples", "example.c"), encoding="utf-8").read()
section = doc.split("\n## Example\n", 1)
if len(section) != 2:
    sys.exit("docs/hostlib.md: no '## Example' section")
block = section[1].split("```c\n", 1)
if len(block) != 2:
    sys.exit("docs/hostlib.md: no ```c block in '## Example'")
shown = block[1].split("```", 1)[0]
if shown != example:
    import difflib
    sys.stdout.writelines(difflib.unified_diff(example.splitlines(True), shown.splitlines(True),
                                               "hostlib/examples/example.c", "docs/hostlib.md"))
    sys.exit("docs/hostlib.md: the example differs from hostlib/examples/example.c")
print("docs/hostlib.md shows hostlib/examples/example.c verbatim")
