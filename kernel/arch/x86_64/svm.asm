; SPDX-License-Identifier: MIT
; VMRUN for the SVM VP backend (kernel/arch/x86_64/svm.c, sidecar/svm.h).
;
; void sk_svm_vmrun_asm(uint64_t vmcb_pa, uint64_t *gprs)
;
; Called with interrupts off and GIF clear (svm.c does CLGI). Saves the
; kernel's callee-saved registers, loads the guest's general-purpose
; registers from gprs[16] (the TLFS order; RAX and RSP are the VMCB's and
; are not touched), enables interrupts (they stay held while GIF is clear:
; with V_INTR_MASKING a physical interrupt makes the guest exit), and runs
; VMLOAD, VMRUN, VMSAVE on the VMCB. After the #VMEXIT it stores the
; guest's registers back and returns with GIF still clear and interrupts
; enabled: nothing is delivered while GIF is clear, so svm.c restores the
; task register first and then STGI lets the held interrupts (the request
; IPI that made the guest exit) and NMIs in. (With IF clear at STGI they
; would stay pending, and every later VMRUN would exit at once.)

bits 64
default rel

%define G(i) ((i) * 8)

section .text
global sk_svm_vmrun_asm
sk_svm_vmrun_asm:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rsi                        ; gprs, for after the exit
    mov rax, rdi                    ; the VMCB's physical address
    mov rcx, [rsi + G(1)]
    mov rdx, [rsi + G(2)]
    mov rbx, [rsi + G(3)]
    mov rbp, [rsi + G(5)]
    mov rdi, [rsi + G(7)]
    mov r8, [rsi + G(8)]
    mov r9, [rsi + G(9)]
    mov r10, [rsi + G(10)]
    mov r11, [rsi + G(11)]
    mov r12, [rsi + G(12)]
    mov r13, [rsi + G(13)]
    mov r14, [rsi + G(14)]
    mov r15, [rsi + G(15)]
    mov rsi, [rsi + G(6)]
    sti
    vmload
    vmrun
    vmsave
    ; RAX holds the VMCB address again; the stack is the host's.
    push rsi
    mov rsi, [rsp + 8]              ; gprs
    mov [rsi + G(1)], rcx
    mov [rsi + G(2)], rdx
    mov [rsi + G(3)], rbx
    mov [rsi + G(5)], rbp
    mov [rsi + G(7)], rdi
    mov [rsi + G(8)], r8
    mov [rsi + G(9)], r9
    mov [rsi + G(10)], r10
    mov [rsi + G(11)], r11
    mov [rsi + G(12)], r12
    mov [rsi + G(13)], r13
    mov [rsi + G(14)], r14
    mov [rsi + G(15)], r15
    pop rcx
    mov [rsi + G(6)], rcx
    pop rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
