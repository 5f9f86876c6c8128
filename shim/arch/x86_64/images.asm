; SPDX-License-Identifier: MIT
; The images the shim carries, as flat binaries: the sidecar kernel and the
; bare-metal main kernel (found on the include path Meson gives NASM).

section .rodata
align 4096
global _binary_sidecar_kernel_bin_start, _binary_sidecar_kernel_bin_end
_binary_sidecar_kernel_bin_start:
    incbin "sidecar-kernel.bin"
_binary_sidecar_kernel_bin_end:

align 4096
global _binary_sidecar_mainkernel_bin_start, _binary_sidecar_mainkernel_bin_end
_binary_sidecar_mainkernel_bin_start:
    incbin "sidecar-mainkernel.bin"
_binary_sidecar_mainkernel_bin_end:
