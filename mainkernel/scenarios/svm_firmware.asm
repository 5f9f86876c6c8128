; SPDX-License-Identifier: MIT
; The guest firmware's image (tests/guest/firmware.asm, built by
; mainkernel/meson.build), carried in the main kernel for mk.svm_firmware.
section .rodata
align 16
global mk_guest_firmware_start, mk_guest_firmware_end
mk_guest_firmware_start:
    incbin "guest-firmware.bin"
mk_guest_firmware_end:
