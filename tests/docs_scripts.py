#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every script README.md and docs/ name, and that has a #! line, is
executable: the docs tell users to run them as ./path."""
import os
import re
import sys

root = sys.argv[1]
docs = [os.path.join(root, "README.md")]
docs += [os.path.join(root, "docs", f) for f in sorted(os.listdir(os.path.join(root, "docs"))) if f.endswith(".md")]
pattern = re.compile(r"(?<![\w./-])((?:[\w-]+/)+[\w.-]+\.(?:py|sh))\b")
named, bad = set(), []
for doc in docs:
    with open(doc, encoding="utf-8") as f:
        named.update(pattern.findall(f.read()))
checked = 0
for rel in sorted(named):
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        if f.read(2) != b"#!":
            continue   # sourced or copied elsewhere, not run
    checked += 1
    if not os.access(path, os.X_OK):
        bad.append(rel)
print(f"{checked} scripts named in the docs have a #! line")
if bad:
    print("not executable (chmod +x, git update-index --chmod=+x):\n  " + "\n  ".join(bad))
    sys.exit(1)
