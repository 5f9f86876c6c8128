#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The user-facing tools' command lines, without booting anything:

- ./sidecar --help, help, -h and COMMAND --help (demo, soak, bench) answer
  without building (a SIDECAR_BUILD that does not exist stays absent);
  ./sidecar --version prints meson.build's version; an unknown command or
  stray arguments exit 2 naming the valid ones;
- ./sidecar driver: bad options and a missing --kdir directory exit 2;
  driver/build.py --from-build refuses a directory that is no kernel tree
  (exit 2) and, given the kernel headers the build fetched, builds a
  sidecar.ko whose vermagic is that kernel's release;
- demo.py, soak.py and bench.py name an unknown option with the valid
  ones and exit 2, and take the QEMU binary from the build directory's
  -Dqemu (meson-info) unless $SIDECAR_QEMU says otherwise;
- soak.py checks --json before booting;
- the progress line says what is done, what is left and the time.

usage: tools_check.py SOURCE_ROOT BUILD_ROOT VERSION [KDIR]
"""
import io
import json
import os
import subprocess
import sys
import tempfile

problems = []


def run(cmd, env=None, cwd=None):
    e = dict(os.environ, SIDECAR_NO_INSTALL="1")
    e.pop("SIDECAR_QEMU", None)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=cwd, timeout=300, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def expect(name, got, status, *texts, absent=()):
    code, out = got
    if code != status:
        problems.append(f"{name}: exit status {code}, expected {status}:\n{out[-1500:]}")
    for t in texts:
        if t not in out:
            problems.append(f"{name}: output lacks {t!r}:\n{out[-1500:]}")
    for t in absent:
        if t in out:
            problems.append(f"{name}: output has {t!r}:\n{out[-1500:]}")
    if "Traceback" in out:
        problems.append(f"{name}: a Python traceback:\n{out[-1500:]}")


def main():
    src, build, version = sys.argv[1], sys.argv[2], sys.argv[3]
    kdir = sys.argv[4] if len(sys.argv) > 4 else ""
    sc = os.path.join(src, "sidecar")
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    tmp = tempfile.mkdtemp(prefix="sidecar-tools-")
    nobuild = os.path.join(tmp, "never-built")

    # ./sidecar: help and version without a build.
    for h in ("--help", "help", "-h"):
        expect(f"sidecar {h}", run([sc, h], {"SIDECAR_BUILD": nobuild}), 0, "usage: ./sidecar", "driver", "version")
    expect("sidecar --version", run([sc, "--version"], {"SIDECAR_BUILD": nobuild}), 0, f"sidecar {version}")
    for job in ("demo", "soak", "bench"):
        expect(f"sidecar {job} --help", run([sc, job, "--help"], {"SIDECAR_BUILD": nobuild}), 0, "usage:", "--qemu")
    expect("sidecar test --help", run([sc, "test", "--help"], {"SIDECAR_BUILD": nobuild}), 0, "--suite")
    if os.path.exists(nobuild):
        problems.append("a --help or --version made a build directory (it built something)")
    expect("sidecar bogus", run([sc, "bogus"]), 2, "unknown command 'bogus'", "valid: demo")
    expect("sidecar build extra", run([sc, "build", "extra"]), 2, "takes no arguments")
    expect("sidecar driver --bogus", run([sc, "driver", "--bogus"]), 2, "--bogus", "--kdir DIR")
    expect("sidecar driver --kdir missing", run([sc, "driver", "--kdir", os.path.join(tmp, "none")]), 2,
           "no such directory")

    # driver/build.py --from-build (what ./sidecar driver --kdir runs).
    bp = os.path.join(src, "driver", "build.py")
    expect("build.py --kdir not a tree", run([py, bp, "--kdir", tmp, "--from-build", build]), 2,
           "not a kernel tree")
    if kdir:
        out = os.path.join(tmp, "ko", "sidecar.ko")
        expect("build.py --kdir (the fetched headers)",
               run([py, bp, "--kdir", kdir, "--from-build", build, "--stage", os.path.join(tmp, "kbuild"),
                    "--output", out]), 0, "sidecar.ko built against")
        try:
            with open(os.path.join(kdir, "include", "generated", "utsrelease.h"), encoding="utf-8") as fh:
                release = fh.read().split('UTS_RELEASE "', 1)[1].split('"', 1)[0]
            with open(out, "rb") as fh:
                ko = fh.read()
            if f"vermagic={release} ".encode() not in ko:
                problems.append(f"build.py --kdir: {out} has no vermagic={release}")
        except (OSError, IndexError) as exc:
            problems.append(f"build.py --kdir: {exc!r}")
    else:
        print("no kernel headers in this build: the sidecar.ko build against --kdir is not tried")

    # The Python tools: usage errors, -Dqemu from the build directory.
    fake = os.path.join(tmp, "fakebuild")
    os.makedirs(os.path.join(fake, "meson-info"))
    with open(os.path.join(fake, "meson-info", "intro-buildoptions.json"), "w", encoding="utf-8") as fh:
        json.dump([{"name": "qemu", "value": "/nonexistent/qemu-from-build", "section": "user", "type": "string"}], fh)
    tools = {"demo": [os.path.join(src, "tests", "qemu", "demo.py")],
             "soak": [os.path.join(src, "tests", "qemu", "soak.py")],
             "bench": [os.path.join(src, "tests", "bench", "bench.py"), "--no-docs"]}
    for name, (script, *extra) in tools.items():
        expect(f"{name} unknown option", run([py, script, fake, "--cpuss", "4"]), 2,
               "unrecognized arguments: --cpuss", "valid options:", "--qemu", "did you mean --cpus?")
        expect(f"{name} -Dqemu", run([py, script, fake, *extra]), 2, "/nonexistent/qemu-from-build not found")
        expect(f"{name} $SIDECAR_QEMU over -Dqemu", run([py, script, fake, *extra],
                                                       {"SIDECAR_QEMU": "/nonexistent/qemu-from-env"}),
               2, "/nonexistent/qemu-from-env not found")

    # soak.py: --json checked before the VM boots.
    if os.path.isfile(os.path.join(build, "shim", "arch", "x86_64", "sidecar-shim.elf")):
        expect("soak --json unwritable", run([py, tools["soak"][0], build, "--json", "/proc/sidecar/x.json"]), 2,
               "--json /proc/sidecar/x.json: cannot be written", absent=("+ ", "-kernel"))

    # The progress line.
    sys.path.insert(0, os.path.join(src, "tests", "qemu"))
    from progress import Progress
    p = Progress("job", "things", total=100, out=io.StringIO())
    p.update(stage="warming up")
    line0 = p.line()
    p.begin()
    p.update(done=40)
    line1 = p.line()
    for want, line in (("0/100 things done, 100 left", line0), ("warming up", line0), ("elapsed", line0),
                       ("time left unknown yet", line0), ("40/100 things done, 60 left", line1),
                       ("left at", line1)):
        if want not in line:
            problems.append(f"progress line {line!r} lacks {want!r}")

    for msg in problems:
        print("FAIL: " + msg)
    print("PASS" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
