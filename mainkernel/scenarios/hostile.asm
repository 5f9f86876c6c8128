; SPDX-License-Identifier: MIT
; The hostile guest suite (mainkernel/hostile.c): snippets a guest at CPL3
; might use to break out, each at its own entry point. The host starts a VP
; at one snippet, expects one particular intercept, then runs mk_hg_good,
; which must still work (the CPU took the hostile run and carries on).
; Position-independent; the main kernel copies it into guest RAM.

bits 64
default rel

%define KERNEL_VA 0xffffffff80000000

section .rodata
align 16
global mk_hg_start, mk_hg_end
mk_hg_start:

; The known-good snippet: reports 3 * RDI through OUT 0x84.
global mk_hg_good
mk_hg_good:
    mov eax, edi
    imul eax, eax, 3
    out 0x84, eax
    hlt

%macro SNIPPET 1
align 16
global mk_hg_%1
mk_hg_%1:
%endmacro

SNIPPET read_kernel
    mov rax, KERNEL_VA
    mov rbx, [rax]
    hlt
SNIPPET write_kernel
    mov rax, KERNEL_VA + 0x1000
    mov [rax], rbx
    hlt
SNIPPET exec_kernel
    mov rax, KERNEL_VA
    jmp rax
SNIPPET read_apic
    mov eax, 0xfee00020
    mov ebx, [rax]
    hlt
SNIPPET read_at_rsi             ; RSI = past guest RAM, or the CPU's own PML4
    mov rbx, [rsi]
    hlt
SNIPPET write_at_rsi            ; RSI = the CPU's own PML4 or command page
    mov [rsi], rbx
    hlt
SNIPPET cli
    cli
    hlt
SNIPPET sti
    sti
    hlt
SNIPPET hlt
    hlt
SNIPPET lgdt
    lgdt [rsp - 16]
    hlt
SNIPPET lidt
    lidt [rsp - 16]
    hlt
SNIPPET mov_cr3
    xor eax, eax
    mov cr3, rax
    hlt
SNIPPET mov_cr0
    xor eax, eax
    mov cr0, rax
    hlt
SNIPPET wrmsr
    mov ecx, 0xc0000080         ; EFER
    xor eax, eax
    xor edx, edx
    wrmsr
    hlt
SNIPPET rdmsr
    mov ecx, 0x1b               ; APIC base
    rdmsr
    hlt
SNIPPET in_out
    mov edx, 0xcf8              ; PCI config address
    out dx, eax
    hlt
SNIPPET int3
    int3
    hlt
SNIPPET int80
    int 0x80
    hlt
SNIPPET int_df                  ; the #DF, NMI and #MC handlers through their gates
    int 8
    hlt
SNIPPET int_nmi
    int 2
    hlt
SNIPPET int_mc
    int 0x12
    hlt
SNIPPET wrmsr_icr               ; x2APIC ICR: INIT to all but self
    mov ecx, 0x830
    mov eax, 0x000c4500
    xor edx, edx
    wrmsr
    hlt
SNIPPET syscall
    syscall
    hlt
SNIPPET sysenter
    sysenter
    hlt
SNIPPET iretq_cpl0              ; a forged frame into the kernel's code segment
    mov rax, rsp
    push qword 0x10
    push rax
    pushfq
    push qword 0x08
    lea rax, [mk_hg_good]
    push rax
    iretq
SNIPPET ud2
    ud2
SNIPPET stack_off_ram           ; RSP = the bottom of guest RAM: pushes run off it
.again:
    push rax
    jmp .again
SNIPPET divide
    xor edx, edx
    xor ecx, ecx
    mov eax, 1
    div ecx
    hlt
SNIPPET popf_iopl               ; try IOPL 3 and IF 0, then report RFLAGS
    pushfq
    pop rax
    or eax, 3 << 12
    and eax, ~(1 << 9)
    push rax
    popfq
    pushfq
    pop rax
    out 0x85, eax
    hlt
SNIPPET cpuid                   ; leaf 0, then report EAX (only reached where CPUID runs natively)
    xor eax, eax
    xor ecx, ecx
    cpuid
    out 0x86, eax
    hlt
SNIPPET sgdt                    ; the kernel's GDT base, reported (only reached without UMIP)
    sgdt [rsp - 16]
    mov rax, [rsp - 14]
    out 0x87, eax
    hlt
SNIPPET sidt                    ; the kernel's IDT base
    sidt [rsp - 16]
    mov rax, [rsp - 14]
    out 0x87, eax
    hlt
SNIPPET smsw                    ; CR0's low bits
    smsw eax
    out 0x87, eax
    hlt
SNIPPET str                     ; the TSS selector
    xor eax, eax
    str ax
    out 0x87, eax
    hlt
SNIPPET noncanonical            ; a non-canonical address: #GP, not a page walk
    mov rax, 0x8000000000000000
    mov rbx, [rax]
    hlt
SNIPPET swapgs                  ; the kernel's GS base
    swapgs
    hlt
SNIPPET wrgsbase                ; CR4.FSGSBASE is off: #UD
    xor eax, eax
    wrgsbase rax
    hlt
SNIPPET mov_dr7                 ; arm a hardware breakpoint
    mov eax, 0x403
    mov dr7, rax
    hlt
SNIPPET single_step             ; RFLAGS.TF: #DB after the next instruction
    pushfq
    or qword [rsp], 1 << 8
    popfq
    nop
    hlt
SNIPPET icebp                   ; INT1 (F1): #DB without a gate check
    db 0xf1
    hlt
SNIPPET alignment_check         ; RFLAGS.AC on, hoping the kernel runs with it
    pushfq
    or qword [rsp], 1 << 18
    popfq
    mov rax, [rsp + 1]
    hlt
mk_hg_end:
