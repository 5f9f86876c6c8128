; SPDX-License-Identifier: MIT
; Boot shim entry: a Multiboot (version 1) image, as QEMU -kernel loads it.
; Enters long mode on page tables that identity-map the low 4 GiB with
; 2 MiB pages (the shim, the sidecar kernel's bring-up and the main kernel
; all run on them), then calls shim_main(multiboot magic, info address).

%include "scfree/segments.inc"

%define MB_MAGIC 0x1badb002
%define MB_FLAGS 0x00000003          ; page-align modules, memory info + map
%define STACK_SIZE 0x8000

section .multiboot
align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

section .bss
align 4096
global shim_pml4, shim_pdpt_low, shim_pd_low, shim_pdpt_high, shim_pd_kernel
shim_pml4:      resb 4096
shim_pdpt_low:  resb 4096
shim_pd_low:    resb 4 * 4096
shim_pdpt_high: resb 4096
shim_pd_kernel: resb 4096
stack_bottom:   resb STACK_SIZE
stack_top:

section .text
bits 32
global shim_start32
shim_start32:
    cli
    cld
    mov esp, stack_top
    mov edi, eax                     ; multiboot magic
    mov esi, ebx                     ; multiboot info

    ; Long mode needs CPUID 0x80000001 EDX bit 29.
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    jz no_long_mode

    ; Identity map 0..4 GiB: PML4[0] -> PDPT -> 4 page directories of
    ; 2 MiB pages (uncached from 3 GiB up, where the APIC and devices live).
    mov dword [shim_pml4], shim_pdpt_low + 3
    mov dword [shim_pml4 + 511 * 8], shim_pdpt_high + 3
    mov ecx, 0
.pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, shim_pd_low + 3
    mov [shim_pdpt_low + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jb .pdpt
    xor ecx, ecx                     ; 2048 entries of 2 MiB
.pd:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                     ; present, writable, large page
    cmp ecx, 1536
    jb .cached
    or eax, 0x18                     ; PWT | PCD above 3 GiB
.cached:
    mov [shim_pd_low + ecx * 8], eax
    mov dword [shim_pd_low + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 2048
    jb .pd

    mov eax, cr4
    or eax, 1 << 5                   ; PAE
    mov cr4, eax
    mov eax, shim_pml4
    mov cr3, eax
    mov ecx, 0xc0000080              ; EFER.LME
    rdmsr
    or eax, 1 << 8
    wrmsr
    mov eax, cr0
    or eax, 0x80010001               ; PG, WP, PE
    and eax, ~0x60000000             ; caching on: CD and NW clear, whatever the loader left
    mov cr0, eax
    lgdt [gdt_ptr]
    jmp 0x08:long_mode

no_long_mode:
    mov dx, 0x3f8
    mov esi, no_lm_msg
.putc:
    lodsb
    test al, al
    jz .halt
    out dx, al
    jmp .putc
.halt:
    hlt
    jmp .halt

bits 64
extern shim_main
long_mode:
    LOAD_DATA_SEGMENTS 0x10
    mov rsp, stack_top
    ; rdi = magic, rsi = info (zero-extended by the 32-bit moves above)
    mov edi, edi
    mov esi, esi
    call shim_main
.hang:
    cli
    hlt
    jmp .hang

; void shim_enter_main_kernel(uint64_t entry, uint64_t handoff_pa, uint64_t stack)
global shim_enter_main_kernel
shim_enter_main_kernel:
    mov rax, rdi
    mov rdi, rsi
    mov rsp, rdx
    xor ebp, ebp
    push 0                           ; a return address of 0: nowhere to go back to
    jmp rax

; void shim_enter_linux(uint64_t entry, uint64_t boot_params)
; The Linux 64-bit boot protocol: a GDT with flat __BOOT_CS (0x10, 64-bit
; code) and __BOOT_DS (0x18, data), CS = 0x10, DS/ES/SS = 0x18, interrupts
; off, RSI = boot_params, on page tables that identity-map the kernel,
; boot_params and the command line (ours map 0-4 GiB).
global shim_enter_linux
shim_enter_linux:
    cli
    lgdt [linux_gdt_ptr]
    mov eax, 0x18
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov fs, eax
    mov gs, eax
    push 0x10
    mov rax, .cs_loaded
    push rax
    o64 retf                         ; reload CS with __BOOT_CS
.cs_loaded:
    xor ebp, ebp
    jmp rdi

section .rodata
align 8
linux_gdt:
    dq 0
    dq 0
    dq 0x00af9a000000ffff            ; 0x10: __BOOT_CS, 64-bit code
    dq 0x00cf92000000ffff            ; 0x18: __BOOT_DS, data
linux_gdt_end:
linux_gdt_ptr:
    dw linux_gdt_end - linux_gdt - 1
    dq linux_gdt

align 8
gdt:
    dq 0
    dq 0x00af9a000000ffff            ; 0x08: 64-bit code
    dq 0x00cf92000000ffff            ; 0x10: data
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dq gdt
no_lm_msg: db "sidecar shim: this CPU has no long mode", 13, 10, 0
