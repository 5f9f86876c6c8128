; SPDX-License-Identifier: MIT
; Bare-metal main kernel entry. The shim jumps here in long mode on its
; identity-mapping page tables with RDI = physical address of the hand-off
; block. We take our own stack and call mk_main(handoff_pa).

bits 64
default rel

section .text
extern mk_main
global mk_start
mk_start:
    cli
    lea rsp, [stack_top]
    xor ebp, ebp
    call mk_main
.hang:
    cli
    hlt
    jmp .hang

section .bss
align 16
    resb 0x10000
stack_top:
