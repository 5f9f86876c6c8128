#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds a program outside the tree against an installed libsidecar-host,
# using only pkg-config. The main build is a cross configuration (the
# library is not installed from it), so this configures a native build of
# the same sources under the test's own directory in the build tree,
# installs it into a fresh prefix there, and compiles consumer.c with
# PKG_CONFIG_PATH pointing at that prefix.
#   pkgconfig.sh SOURCE_ROOT WORK_DIR CONSUMER_C
set -eu
src=$1
work=$2
consumer=$3
command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config is missing: skipped"; exit 77; }
cc=${CC:-cc}
mkdir -p "$work"
native=$work/native
prefix=$work/prefix
if [ ! -f "$native/build.ninja" ]; then
    meson setup "$native" "$src" --prefix "$prefix" -Dtests=false -Dfreestanding=disabled \
        >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
fi
rm -rf "$prefix"
meson compile -C "$native" >"$work/compile.log" 2>&1 || { cat "$work/compile.log"; exit 1; }
meson install -C "$native" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
pc=$(find "$prefix" -name sidecar-host.pc | head -n 1)
[ -n "$pc" ] || { echo "sidecar-host.pc was not installed"; find "$prefix"; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
echo "pkg-config --modversion sidecar-host: $(pkg-config --modversion sidecar-host)"
flags=$(pkg-config --cflags --libs sidecar-host)
echo "pkg-config --cflags --libs sidecar-host: $flags"
libdir=$(pkg-config --variable=libdir sidecar-host)
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -o "$work/consumer" "$consumer" $flags -Wl,-rpath,"$libdir"
out=$("$work/consumer")
echo "$out"
# The installed library, its header and its pkg-config file agree.
case $out in
"libsidecar-host $(pkg-config --modversion sidecar-host) (installed)"*) ;;
*) echo "pkg-config version $(pkg-config --modversion sidecar-host) differs from the library's"; exit 1 ;;
esac
