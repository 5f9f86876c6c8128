; SPDX-License-Identifier: MIT
; AP start-up trampoline, shared by the sidecar kernel and the bare-metal
; main kernel. scfree_trampoline_install() (trampoline.c) copies the bytes
; between scfree_trampoline_start and scfree_trampoline_end to a page below
; 1 MiB and patches the fields marked "patched"; the caller then sends
; INIT-SIPI-SIPI with that page number as the vector. An AP arrives here in
; real mode at CS:IP = page:0, goes through protected mode into long mode on
; the page tables the installer named (they must identity-map the trampoline
; page and map the entry point), and jumps to the 64-bit entry with
; interrupts off and no stack. Nothing here needs a stack, so any number of
; APs may run it at once.

%include "scfree/segments.inc"

bits 16
section .rodata
align 16
global scfree_trampoline_start, scfree_trampoline_end
global scfree_tramp_gdtr, scfree_tramp_pm_ptr, scfree_tramp_lm_ptr, scfree_tramp_cr3, scfree_tramp_entry

scfree_trampoline_start:
    cli
    cld
    mov ax, cs
    mov ds, ax
    movzx ebp, ax                   ; ebp = physical base of the trampoline,
    shl ebp, 4                      ; kept through the mode switches
    lgdt [scfree_tramp_gdtr - scfree_trampoline_start]
    mov eax, cr0
    or eax, 1                       ; PE
    mov cr0, eax
    jmp dword far [scfree_tramp_pm_ptr - scfree_trampoline_start]

bits 32
tramp_pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, [ebp + scfree_tramp_cr3 - scfree_trampoline_start]
    mov cr3, eax
    mov ecx, 0xc0000080             ; EFER
    rdmsr
    or eax, 1 << 8                  ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80010001              ; PG, WP, PE
    mov cr0, eax
    jmp far [ebp + scfree_tramp_lm_ptr - scfree_trampoline_start]

bits 64
tramp_lm:
    LOAD_DATA_SEGMENTS 0x10
    mov rax, [rel scfree_tramp_entry]
    jmp rax

align 16
tramp_gdt:
    dq 0
    dq 0x00af9a000000ffff           ; 0x08: 64-bit code
    dq 0x00cf92000000ffff           ; 0x10: data
    dq 0x00cf9a000000ffff           ; 0x18: 32-bit code
tramp_gdt_end:

align 8
scfree_tramp_gdtr:                      ; patched: base
    dw tramp_gdt_end - tramp_gdt - 1
    dd tramp_gdt - scfree_trampoline_start
align 8
scfree_tramp_pm_ptr:                    ; patched: offset += base
    dd tramp_pm - scfree_trampoline_start
    dw 0x18
align 8
scfree_tramp_lm_ptr:                    ; patched: offset += base
    dd tramp_lm - scfree_trampoline_start
    dw 0x08
align 8
scfree_tramp_cr3:                       ; patched: CR3 to load (below 4 GiB)
    dq 0
scfree_tramp_entry:                     ; patched: address of the 64-bit entry
    dq 0
scfree_trampoline_end:
