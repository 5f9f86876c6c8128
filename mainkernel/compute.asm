; SPDX-License-Identifier: MIT
; The demo's guest computation (mainkernel/compute.c): position-independent
; 64-bit code the main kernel copies into guest RAM and starts at CPL3 on
; every sidecar CPU at once. In: RDI = the VP's index, RSI = start of its
; data range, RCX = bytes. It computes a 64-bit FNV-1a hash of the range,
; seeded by the VP index, and reports it through two OUTs to port 0x5e0
; (low dword, then high dword), then HLTs. The host checks the value.

bits 64
default rel

section .rodata
align 16
global mk_compute_start, mk_compute_end
mk_compute_start:
    mov r8, 0xcbf29ce484222325
    xor r8, rdi
    mov r9, 0x100000001b3
.next:
    test rcx, rcx
    jz .done
    movzx eax, byte [rsi]
    xor r8, rax
    imul r8, r9
    inc rsi
    dec rcx
    jmp .next
.done:
    mov rax, r8
    mov edx, 0x5e0
    out dx, eax                 ; low dword
    shr rax, 32
    out dx, eax                 ; high dword
    hlt
    jmp mk_compute_start        ; not reached: the host ends after HLT
mk_compute_end:
