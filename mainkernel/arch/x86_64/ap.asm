; SPDX-License-Identifier: MIT
; The bare-metal main kernel's own CPUs beyond the BSP: converted sidecar
; CPUs arrive here from the shared trampoline (scfree/trampoline.h) in long
; mode, on the main kernel's page tables, with no stack and interrupts off.
; Each claims the next free slot (its stack and mailbox) and calls
; mk_ap_boot(slot). Also the few interrupt handlers such a CPU needs.

%include "scfree/segments.inc"

bits 64
default rel

%define MK_AP_STACK 8192

extern mk_ap_boot, mk_ap_exception, mk_ap_eoi, mk_ap_max

section .text
global mk_ap_entry64
mk_ap_entry64:
    mov rax, cr0                    ; caching on: INIT (QEMU's resets CR0) can
    and rax, ~0x60000000            ; leave CR0.CD and NW set
    mov cr0, rax
    mov eax, 1
    lock xadd [mk_ap_next], eax
    cmp eax, [mk_ap_max]
    jae .full
    mov edi, eax
    lea rsp, [mk_ap_stacks]
    inc eax
    imul rax, rax, MK_AP_STACK
    add rsp, rax                    ; top of this slot's stack
    xor ebp, ebp
    call mk_ap_boot                 ; never returns
.full:
    cli
    hlt
    jmp .full

; Exceptions: the vector, the error code (0 where the CPU pushes none) and
; RIP go to mk_ap_exception, which reports and parks the CPU.
%macro EXC 1
exc_%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17 || %1 = 21 || %1 = 29 || %1 = 30
    pop rsi                         ; error code
%else
    xor esi, esi
%endif
    mov edi, %1
    mov rdx, [rsp]                  ; RIP
    and rsp, -16
    call mk_ap_exception            ; never returns
%endmacro

%assign v 0
%rep 32
EXC v
%assign v v + 1
%endrep

; The wake-up IPI: its only job is to end hlt. Acknowledge and return.
global mk_ap_wake_handler
mk_ap_wake_handler:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    cld
    call mk_ap_eoi
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    iretq

; Spurious interrupts need no EOI.
global mk_ap_spurious_handler
mk_ap_spurious_handler:
    iretq

section .rodata
align 8
global mk_ap_exception_stubs
mk_ap_exception_stubs:
%assign v 0
%rep 32
    dq exc_ %+ v
%assign v v + 1
%endrep

section .data
align 4
global mk_ap_next
mk_ap_next:
    dd 0

section .bss
align 4096
global mk_ap_stacks
mk_ap_stacks:
    resb MK_AP_STACK * 256
