; AP start-up trampoline. The kernel copies the bytes between
; sk_trampoline_start and sk_trampoline_end to the page params names
; (trampoline_page, below 1 MiB), patches the fields marked "patched", and
; sends INIT-SIPI-SIPI with that page number as the vector. An AP arrives
; here in real mode at CS:IP = page:0, goes through protected mode into long
; mode on the shim's page tables (which identity-map the low 4 GiB and map
; the kernel), and jumps to sk_ap_entry64 in the kernel. Nothing here
; needs a stack (there is none), so any number of APs may run it at once.

%include "scfree/segments.inc"

bits 16
section .rodata
align 16
global sk_trampoline_start, sk_trampoline_end
global sk_tramp_gdtr, sk_tramp_pm_ptr, sk_tramp_lm_ptr, sk_tramp_cr3, sk_tramp_entry

sk_trampoline_start:
    cli
    cld
    mov ax, cs
    mov ds, ax
    movzx ebp, ax                   ; ebp = physical base of the trampoline,
    shl ebp, 4                      ; kept through the mode switches
    lgdt [sk_tramp_gdtr - sk_trampoline_start]
    mov eax, cr0
    or eax, 1                       ; PE
    mov cr0, eax
    jmp dword far [sk_tramp_pm_ptr - sk_trampoline_start]

bits 32
tramp_pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, [ebp + sk_tramp_cr3 - sk_trampoline_start]
    mov cr3, eax
    mov ecx, 0xc0000080             ; EFER
    rdmsr
    or eax, 1 << 8                  ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80010001              ; PG, WP, PE
    mov cr0, eax
    jmp far [ebp + sk_tramp_lm_ptr - sk_trampoline_start]

bits 64
tramp_lm:
    LOAD_DATA_SEGMENTS 0x10
    mov rax, [rel sk_tramp_entry]
    jmp rax

align 16
tramp_gdt:
    dq 0
    dq 0x00af9a000000ffff           ; 0x08: 64-bit code
    dq 0x00cf92000000ffff           ; 0x10: data
    dq 0x00cf9a000000ffff           ; 0x18: 32-bit code
tramp_gdt_end:

align 8
sk_tramp_gdtr:                      ; patched: base
    dw tramp_gdt_end - tramp_gdt - 1
    dd tramp_gdt - sk_trampoline_start
align 8
sk_tramp_pm_ptr:                    ; patched: offset += base
    dd tramp_pm - sk_trampoline_start
    dw 0x18
align 8
sk_tramp_lm_ptr:                    ; patched: offset += base
    dd tramp_lm - sk_trampoline_start
    dw 0x08
align 8
sk_tramp_cr3:                       ; patched: the shim's CR3 (below 4 GiB)
    dq 0
sk_tramp_entry:                     ; patched: virtual address of sk_ap_entry64
    dq 0
sk_trampoline_end:
