; SPDX-License-Identifier: MIT
; Test-only -bios image for run_linux_tcg.py: takes the boot CPU from the
; x86 reset state into the entry state that vmm_linux_load produced
; (linux_image.c writes it at STATE_GPA) and jumps to the kernel, so that
; QEMU runs the kernel from exactly the VMM loader's memory and state:
; its page tables (CR3), CR0, CR4, EFER, its GDT, CS and data selectors,
; RIP, RSI, RSP, RFLAGS. Only the way there (this stub's own GDT for the
; 32-bit step) is not the loader's.
STATE_GPA   equ 0x5000
S_MAGIC     equ 0
S_RIP       equ 8
S_RSI       equ 16
S_RSP       equ 24
S_RFLAGS    equ 32
S_CR0       equ 40
S_CR3       equ 48
S_CR4       equ 56
S_EFER      equ 64
S_GDT_BASE  equ 72
S_GDT_LIMIT equ 80
S_CS        equ 88
S_DS        equ 96
IMAGE_SIZE  equ 0x10000

        org 0x100000000 - IMAGE_SIZE
        bits 16
start16:
        cli
        o32 lgdt [cs:gdt_desc - $$]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword 0x08:start32

        bits 32
start32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov ebx, STATE_GPA
        cmp dword [ebx + S_MAGIC], 0x534d4d56       ; "VMMS"
        jne fail
        mov eax, [ebx + S_CR4]
        mov cr4, eax
        mov eax, [ebx + S_CR3]
        mov cr3, eax
        mov ecx, 0xc0000080
        mov eax, [ebx + S_EFER]
        and eax, ~0x400                             ; LMA is the CPU's to set
        mov edx, [ebx + S_EFER + 4]
        wrmsr
        mov eax, [ebx + S_CR0]
        mov cr0, eax                                ; paging on: compatibility mode
        mov esp, 0x4ff0                             ; the loader's GDT, by its GDTR
        mov ax, [ebx + S_GDT_LIMIT]
        mov [esp], ax
        mov eax, [ebx + S_GDT_BASE]
        mov [esp + 2], eax
        lgdt [esp]
        mov ax, [ebx + S_DS]
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov eax, [ebx + S_RIP]                      ; far pointer: RIP (below 4 GiB), CS
        mov [esp], eax
        mov ax, [ebx + S_CS]
        mov [esp + 4], ax
        push dword [ebx + S_RFLAGS]
        popfd
        mov esi, [ebx + S_RSI]
        mov ecx, [ebx + S_RSP]
        mov edx, esp
        mov esp, ecx
        jmp far [edx]                               ; into the 64-bit code segment
fail:
        mov dx, 0x3f8
        mov al, '!'
        out dx, al
.h:     hlt
        jmp .h

        align 8
gdt:
        dq 0
        dq 0x00cf9b000000ffff                       ; 0x08: 32-bit code
        dq 0x00cf93000000ffff                       ; 0x10: data
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

        times IMAGE_SIZE - 16 - ($ - $$) db 0
        db 0xe9
        dw (start16 - ($ + 2)) & 0xffff
        times IMAGE_SIZE - ($ - $$) db 0
