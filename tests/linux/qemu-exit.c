/* SPDX-License-Identifier: MIT */
/* qemu-exit CODE: writes CODE (0-255) to QEMU's isa-debug-exit device at
 * I/O port 0xf4; QEMU then exits with status (CODE << 1) | 1. The test
 * initramfs's /init ends every run with `qemu-exit 16` (status 33, "ran to
 * the report"), the convention of the bare-metal QEMU tests. Debian's
 * kernel has no /dev/port, hence this static helper (glibc's ioperm/outb). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: qemu-exit CODE (0-255)\n");
        return 2;
    }
    char *end;
    long v = strtol(argv[1], &end, 0);
    if (!*argv[1] || *end || v < 0 || v > 255) {
        fprintf(stderr, "qemu-exit: \"%s\" is not a number from 0 to 255\n", argv[1]);
        return 2;
    }
    if (ioperm(0xf4, 1, 1) != 0) {
        perror("qemu-exit: ioperm(0xf4)");
        return 1;
    }
    outb((unsigned char)v, 0xf4);
    fprintf(stderr, "qemu-exit: still running (no isa-debug-exit device at port 0xf4?)\n");
    return 1;
}
