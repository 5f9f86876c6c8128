; SPDX-License-Identifier: MIT
; Entering and leaving CPL3 for the ring-3 VP backend (sidecar/vp.h).
;
; sk_vp_enter_asm saves the kernel's callee-saved registers and RFLAGS on
; its stack, records that RSP (in the per-CPU page, and as TSS.rsp0 so a
; trap out of CPL3 pushes its frame just below them), loads the VP's state
; and IRETQs to CPL3. The FX state is the caller's business (vp.c: lazy,
; through CR0.TS). It "returns" only through sk_vp_leave_asm, which the
; trap path (entry.asm -> sk_vp_trap in vp.c) calls after saving the guest
; state: that restores the recorded RSP and the saved registers and returns
; 0 from sk_vp_enter_asm.

bits 64
default rel

; struct sk_vp offsets (sidecar/vp.h SK_VP_OFF_*, checked there).
%define VP_FX 0
%define VP_GPR 512
%define VP_RIP 640
%define VP_RFLAGS 648
%define VP_CR2 656
%define VP_CS 680
%define VP_SS 682
%define VP_DS 684
%define VP_ES 686
%define GPR(i) (VP_GPR + (i) * 8)

section .text

; int sk_vp_enter_asm(struct sk_vp *vp, uint64_t *kernel_rsp, struct sk_tss *tss)
; Called with interrupts off.
global sk_vp_enter_asm
sk_vp_enter_asm:
    pushfq
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rsi], rsp                  ; 16-aligned here (7 pushes + return address)
    mov [rdx + 4], rsp              ; tss.rsp0
    mov rax, [rdi + VP_CR2]         ; CR2: written only when it differs (a
    mov rcx, cr2                    ; control register write is serializing,
    cmp rax, rcx                    ; and ends a translation block under TCG)
    je .cr2_ok
    mov cr2, rax
.cr2_ok:
    ; DS and ES: loaded only when they differ from the VP's. The kernel
    ; never reloads them (64-bit mode ignores them), so after the first
    ; run they normally still hold the VP's selectors, and a segment load
    ; is not cheap (a descriptor fetch; a helper call under QEMU TCG).
    ; Whatever the guest loaded itself (null, or its own selector; a DPL 0
    ; one faults) is replaced here.
    mov ax, ds
    cmp ax, [rdi + VP_DS]
    je .ds_ok
    mov ax, [rdi + VP_DS]
    mov ds, ax
.ds_ok:
    mov ax, es
    cmp ax, [rdi + VP_ES]
    je .es_ok
    mov ax, [rdi + VP_ES]
    mov es, ax
.es_ok:
    ; the IRETQ frame: SS, RSP, RFLAGS, CS, RIP
    movzx eax, word [rdi + VP_SS]
    push rax
    push qword [rdi + GPR(4)]
    push qword [rdi + VP_RFLAGS]
    movzx eax, word [rdi + VP_CS]
    push rax
    push qword [rdi + VP_RIP]
    mov rax, [rdi + GPR(0)]
    mov rcx, [rdi + GPR(1)]
    mov rdx, [rdi + GPR(2)]
    mov rbx, [rdi + GPR(3)]
    mov rbp, [rdi + GPR(5)]
    mov rsi, [rdi + GPR(6)]
    mov r8, [rdi + GPR(8)]
    mov r9, [rdi + GPR(9)]
    mov r10, [rdi + GPR(10)]
    mov r11, [rdi + GPR(11)]
    mov r12, [rdi + GPR(12)]
    mov r13, [rdi + GPR(13)]
    mov r14, [rdi + GPR(14)]
    mov r15, [rdi + GPR(15)]
    mov rdi, [rdi + GPR(7)]
    iretq

; void sk_vp_leave_asm(uint64_t kernel_rsp): back into sk_vp_enter_asm's
; caller, returning 0. The guest state is already saved.
global sk_vp_leave_asm
sk_vp_leave_asm:
    mov eax, 0x10                   ; GDT_KDATA: the trap from CPL3 left SS null; DS/ES stay
    mov ss, ax                      ; the guest's (ignored in 64-bit mode; see above)
    mov rsp, rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    popfq                           ; the kernel's RFLAGS: IF 0, AC 0
    xor eax, eax
    ret
