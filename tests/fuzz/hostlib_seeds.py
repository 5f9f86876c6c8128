#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of the hostlib fuzz target (fuzz_hostlib.c):
small programs in its input format where the fake sidecar answers the way a
healthy one does (ping, a run ending in each intercept type, an error, an
async run collected by wait_any, register batches, translate, remove), plus
a bad control page, params or output before open, and the epoch/wait
transport.

usage: hostlib_seeds.py OUT_DIR
"""
import os
import struct
import sys

# Ops (op % 20) and the sidecar's action bits, as in fuzz_hostlib.c.
STATUS, ERROR_TEXT, INTERCEPT, ACQUIRE, RELEASE, PING, RUN, RUN_START, WAIT, WAIT_ANY, \
    STOP, REMOVE, GET, SET, TRANSLATE, ENUM, ACT, PATCH = range(18)
A_COMMAND, A_ERROR, A_RESPONSE, A_MESSAGE, A_PATCH, A_ATTENTION, A_STATUS, A_RAW = \
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
# Intercept types by index into fuzz_hostlib.c's table, with their payload sizes.
MESSAGES = {"unmapped_gpa": (1, 80), "io_port": (4, 128), "msr": (5, 64),
            "cpuid": (6, 104), "exception": (7, 240), "halt": (8, 40)}
T0, T1MS, T5MS = 0, 2, 3  # timeout selectors: 0 ns, 1 ms, 5 ms
MAIN = 0x11              # CPUs 0 and 4 are main-kernel CPUs


def done(extra=b""):
    """The command ends well: command taken (NONE), status IDLE."""
    return bytes([A_COMMAND | A_STATUS | A_ATTENTION]) + extra


def answer_intercept(kind):
    index, size = MESSAGES[kind]
    payload = bytes(range(1, 17))
    return bytes([A_COMMAND | A_RESPONSE | A_MESSAGE | A_STATUS, 1, index, size, len(payload)]) + payload


def seeds():
    s = {}
    s["ping"] = bytes([MAIN, 0, ACQUIRE, 1, PING, 1, T0]) + done() + bytes([STATUS, 1, ERROR_TEXT, 1, 64])
    for kind in MESSAGES:
        s["run_" + kind] = bytes([MAIN, 0, ACQUIRE, 2, RUN, 2, T0]) + answer_intercept(kind) + \
            bytes([INTERCEPT, 2, ENUM, 2])
    s["run_stopped"] = bytes([MAIN, 0, ACQUIRE, 3, RUN, 3, T0,
                              A_COMMAND | A_RESPONSE | A_STATUS, 0, STOP, 3, INTERCEPT, 3])
    text = b"run_vp: the VP could not be entered"
    s["error"] = bytes([MAIN, 0, ACQUIRE, 1, PING, 1, T0,
                        A_COMMAND | A_ERROR | A_STATUS, 1, len(text), 15]) + text[:15] + \
        bytes([ERROR_TEXT, 1, 200, ERROR_TEXT, 1, 5])
    s["async"] = bytes([MAIN, 0, ACQUIRE, 5, RUN_START, 5, 0, ACQUIRE, 6, RUN_START, 6, 0,
                        ACT, 5]) + answer_intercept("msr") + \
        bytes([WAIT_ANY, 0, T0, INTERCEPT, 5, STOP, 6, ACT, 6]) + done() + bytes([WAIT, 6, T0])
    regs = bytes([1]) * 3
    s["get"] = bytes([MAIN, 0, ACQUIRE, 7, GET, 7, 3]) + regs + bytes([T0]) + done()
    s["set_split"] = bytes([MAIN, 0, ACQUIRE, 7, SET, 7, 40]) + bytes([1]) * 40 + bytes([T0]) + done() + \
        bytes([A_STATUS]) + bytes([A_COMMAND | A_STATUS | A_PATCH])
    s["translate"] = bytes([MAIN, 0, ACQUIRE, 1, TRANSLATE, 1]) + struct.pack("<QQ", 0, 0) + \
        bytes([T0]) + done()
    s["remove"] = bytes([MAIN, 0, ACQUIRE, 2, REMOVE, 2, T0, A_STATUS | A_RAW, 0, STATUS, 2, PING, 2, T0])
    s["open_bad"] = bytes([MAIN, 1, 0x20, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0])  # control page magic
    # params.nodes[1].cpu_count = 5 (offset 128 + 24 + 20), output.nodes[0].shmem_pages_size
    # = 0x1000 (offset 512 + 16): open must refuse both, whatever else.
    s["params_node"] = bytes([MAIN, 8, 172, 0, 0, 5, ACQUIRE, 1])
    s["output_shmem"] = bytes([MAIN, 16, 0x10, 0x02, 1, 0, 0x10, ACQUIRE, 1])
    s["timeout"] = bytes([MAIN, 0, ACQUIRE, 3, RUN, 3, T1MS, 0, WAIT, 3, T0])
    s["wait_hook"] = bytes([MAIN, 4, ACQUIRE, 3, PING, 3, T5MS, 0, 3]) + done()
    s["main_cpu"] = bytes([0xff, 0, STATUS, 0, ACQUIRE, 0, PING, 0, T0, ENUM, 8, WAIT_ANY, 0, T0])
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
