# SPDX-License-Identifier: MIT
"""Running a VM whose console is its stdout (QEMU -serial stdio), bounded.

run_bounded starts the command, hands every console line to on_line (as
it arrives, on a reader thread) and waits at most `timeout` seconds of
wall time: a VM that does not exit by then is killed. Nothing sleeps.
Shared by tests/qemu/run.py, tests/qemu/demo.py and tests/linux/run.py.
"""

import subprocess
import threading
import time


def run_bounded(cmd, timeout, on_line=None):
    """Returns (exit status, or None when the bound killed it; every line;
    wall seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []

    def reader():
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text)
            if on_line:
                on_line(text)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    t.join(timeout=5)
    return code, lines, time.monotonic() - start
