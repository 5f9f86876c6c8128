; SPDX-License-Identifier: MIT
; The SVM backend's hostile guest suite (mainkernel/svm_hostile.c): CPL0
; guest code in 32-bit flat protected mode, each snippet an attempt to get
; out of the VP or to harm the sidecar CPU. The VMM starts the VP at one
; snippet with EBX as its parameter, expects one outcome, then runs
; mk_sh_good, which must still work. Position-independent; copied into
; guest RAM.

bits 32

%define REPORT_PORT 0xe0

section .rodata
align 16
global mk_sh_start, mk_sh_end
mk_sh_start:

; The known-good snippet: OUT of 3 * EBX to the report port.
global mk_sh_good
mk_sh_good:
    mov eax, ebx
    imul eax, eax, 3
    out REPORT_PORT, eax
    hlt

; The guest's exception handlers (its IDT is built by svm_hostile.c): each
; reports 0xE000 + its vector. Injected events (#UD for SVM instructions,
; #GP for a refused WRMSR) are delivered through the guest's IDT like any.
%macro HANDLER 1
global mk_sh_handler_%1
mk_sh_handler_%1:
    mov eax, 0xe000 + %1
    out REPORT_PORT, eax
    hlt
%endmacro
HANDLER 6
HANDLER 8
HANDLER 13
HANDLER 14
global mk_sh_handler_other
mk_sh_handler_other:
    mov eax, 0xeeee
    out REPORT_PORT, eax
    hlt

%macro SNIPPET 1
align 16
global mk_sh_%1
mk_sh_%1:
%endmacro

; SVM instructions: each must be #UD in the guest.
SNIPPET vmrun
    db 0x0f, 0x01, 0xd8                ; vmrun
SNIPPET vmload
    db 0x0f, 0x01, 0xda                ; vmload
SNIPPET vmsave
    db 0x0f, 0x01, 0xdb                ; vmsave
SNIPPET stgi
    db 0x0f, 0x01, 0xdc                ; stgi
SNIPPET clgi
    db 0x0f, 0x01, 0xdd                ; clgi
SNIPPET skinit
    db 0x0f, 0x01, 0xde                ; skinit
SNIPPET invlpga
    db 0x0f, 0x01, 0xdf                ; invlpga
SNIPPET vmmcall
    db 0x0f, 0x01, 0xd9                ; vmmcall
SNIPPET monitor
    monitor
SNIPPET mwait
    mwait
; EFER without SVME: the sidecar keeps SVME (hidden), the next entry works.
SNIPPET efer_clear
    mov ecx, 0xc0000080
    xor eax, eax
    xor edx, edx
    wrmsr
    out REPORT_PORT, eax
    hlt
; EFER reserved bits: #GP.
SNIPPET efer_reserved
    mov ecx, 0xc0000080
    mov eax, 0x00100000
    xor edx, edx
    wrmsr
    hlt
; The SVM MSRs: intercepts for the VMM, never the hardware's.
SNIPPET wrmsr_hsave
    mov ecx, 0xc0010117
    mov eax, 0x1000
    xor edx, edx
    wrmsr
    hlt
SNIPPET rdmsr_vmcr
    mov ecx, 0xc0010114
    rdmsr
    hlt
; Memory at EBX (past guest RAM, sidecar memory's physical address, the
; local APIC): a memory intercept, never the hardware's memory.
SNIPPET read_ebx
    mov eax, [ebx]
    hlt
SNIPPET write_ebx
    mov [ebx], eax
    out REPORT_PORT, eax
    hlt
; Page tables at EBX (sidecar memory's physical address as a GPA).
SNIPPET cr3_ebx
    mov cr3, ebx
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    nop
    hlt
; The QEMU exit port and the PCI configuration port: intercepts only.
SNIPPET out_exit_port
    mov al, 0x11
    out 0xf4, al
    hlt
SNIPPET out_pci
    mov dx, 0xcf8
    mov eax, 0x80000000
    out dx, eax
    hlt
; A triple fault: no IDT, then an exception.
SNIPPET triple_fault
    push dword 0
    push dword 0
    lidt [esp + 2]
    int3
    hlt
; Interrupts off, forever: only STOP ends it.
SNIPPET cli_hlt
    cli
    hlt
    jmp mk_sh_cli_hlt
SNIPPET cli_loop
    cli
.spin:
    jmp .spin
; INVD must not drop the host's caches; RDPMC must not read its counters.
SNIPPET invd
    invd
    mov eax, 0x1d
    out REPORT_PORT, eax
    hlt
SNIPPET rdpmc
    xor ecx, ecx
    rdpmc
    hlt
; A hardware breakpoint on the kernel's address and a kernel FS base.
SNIPPET debug_regs
    mov eax, 0x80000000
    mov dr0, eax
    mov eax, 0x000f0003
    mov dr7, eax
    mov ecx, 0xc0000100
    mov eax, 0x80000000
    mov edx, 0xffffffff
    wrmsr
    mov eax, 0xdb
    out REPORT_PORT, eax
    hlt
; MOV DR at CPL0 is fine; the values are the VP's own.
SNIPPET read_dr0
    mov eax, dr0
    out REPORT_PORT, eax
    hlt
mk_sh_end:
