#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds tests/subproject/consumer, a tiny parent project, against this
# source tree the ways a user does (#21 item 2):
#   1. natively, dependency('sidecar-host') found through a [wrap-file]
#      (subprojects/sidecar.wrap with [provide]; the archive, made from this
#      tree, waits in subprojects/packagecache so nothing is downloaded);
#   2. the same parent cross-built (x86_64-linux-gnu.txt): the library is
#      built for the host machine, by the cross compiler;
#   3. the library the native parent installed, used through pkg-config.
# No NASM is available to any of them (no-nasm.txt, the cross file): a
# library-only sidecar needs none. Every consumer checks that the library,
# its header and the build system (dependency version, pkg-config) report
# the one version.
#   run.sh SOURCE_ROOT
set -eu
src=$1
here=$src/tests/subproject
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "== $*"; }
run_logged() {   # run_logged LOG CMD...: CMD's output shown only when it fails
    log=$1; shift
    "$@" >"$log" 2>&1 || { cat "$log"; echo "FAILED: $*"; exit 1; }
}

version=$(sed -n "s/^  version: '\([0-9.]*\)',$/\1/p" "$src/meson.build" | head -n 1)
[ -n "$version" ] || { echo "no project version in $src/meson.build"; exit 1; }

# The parent project and its wrap.
cp -r "$here/consumer" "$work/consumer"
cd "$work/consumer"
mkdir -p subprojects/packagecache "$work/sidecar-$version"
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf -) |
    tar xf - -C "$work/sidecar-$version"
tar czf "subprojects/packagecache/sidecar-$version.tar.gz" -C "$work" "sidecar-$version"
hash=$(sha256sum "subprojects/packagecache/sidecar-$version.tar.gz" | cut -d' ' -f1)
cat >subprojects/sidecar.wrap <<WRAP
[wrap-file]
directory = sidecar-$version
source_url = https://example.invalid/sidecar-$version.tar.gz
source_filename = sidecar-$version.tar.gz
source_hash = $hash

[provide]
dependency_names = sidecar-host, sidecar-host-static
WRAP

step "native parent (wrap-file, no NASM)"
run_logged "$work/native-setup.log" meson setup build-native --native-file "$here/no-nasm.txt" \
    --prefix "$work/prefix"
run_logged "$work/native-compile.log" meson compile -C build-native
./build-native/consumer
grep -q "Dependency sidecar-host found: YES $version (overridden)" "$work/native-setup.log" || {
    cat "$work/native-setup.log"; echo "the subproject's sidecar-host is not $version"; exit 1; }

step "cross parent (x86_64-linux-gnu.txt: the library for the host machine)"
run_logged "$work/cross-setup.log" meson setup build-cross --cross-file "$here/x86_64-linux-gnu.txt" \
    --native-file "$here/no-nasm.txt"
run_logged "$work/cross-compile.log" meson compile -C build-cross
# The library's core was compiled by the host (cross) compiler.
/usr/bin/python3 - build-cross/compile_commands.json <<'PY'
import json, sys
cmds = json.load(open(sys.argv[1]))
lib = [c["command"] for c in cmds if c["file"].endswith("hostlib/core/host.c") and "libsidecar-host.so" in c["output"]]
if not lib or not all(c.split()[0].endswith("x86_64-linux-gnu-gcc") for c in lib):
    sys.exit("libsidecar-host is not built by the cross compiler: %s" % lib)
print("libsidecar-host compiled by", lib[0].split()[0])
PY
./build-cross/consumer

step "pkg-config (the library the native parent installed)"
command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config is missing"; exit 1; }
run_logged "$work/install.log" meson install -C build-native
pc=$(find "$work/prefix" -name sidecar-host.pc | head -n 1)
[ -n "$pc" ] || { echo "sidecar-host.pc was not installed"; find "$work/prefix"; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
[ "$(pkg-config --modversion sidecar-host)" = "$version" ] || {
    echo "pkg-config says $(pkg-config --modversion sidecar-host), the project $version"; exit 1; }
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$work/consumer-pc" "$here/consumer/consumer.c" \
    $(pkg-config --cflags --libs sidecar-host) -Wl,-rpath,"$(pkg-config --variable=libdir sidecar-host)"
"$work/consumer-pc"
echo "sidecar-host $version: wrap (native, cross) and pkg-config consumers built and ran"
