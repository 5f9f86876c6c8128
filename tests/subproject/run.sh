#!/bin/sh
# Configures and builds tests/subproject/consumer with this source tree as
# its subprojects/sidecar, natively (no cross file), then runs the program.
set -eu
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/tests/subproject/consumer" "$work/consumer"
mkdir -p "$work/consumer/subprojects/sidecar"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf -) |
    tar xf - -C "$work/consumer/subprojects/sidecar"
cd "$work/consumer"
meson setup build >setup.log 2>&1 || { cat setup.log; exit 1; }
meson compile -C build >compile.log 2>&1 || { cat compile.log; exit 1; }
./build/consumer
