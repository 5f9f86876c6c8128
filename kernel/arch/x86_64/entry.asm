; SPDX-License-Identifier: MIT
; Kernel entry points in assembly: the AP's first 64-bit code, the interrupt
; stubs, and descriptor-table loading.

%include "scfree/segments.inc"

bits 64
default rel

%define SLOT_PERCPU 510
%define KERNEL_VBASE 0xffffffff80000000
%define PERCPU_VA (KERNEL_VBASE + SLOT_PERCPU * 4096)
%define CR0_CD_NW 0x60000000        ; CR0.CD (bit 30), CR0.NW (bit 29)
%define CR0_WP 0x10000              ; CR0.WP (bit 16): read-only pages bind CPL0 too
%define MSR_EFER 0xc0000080
%define EFER_NXE 0x800              ; EFER.NXE (bit 11): the NX bit of page tables

extern sk_ap_nxe, sk_ap_table, sk_ap_table_count, sk_ap_main, sk_ap_build_tables, sk_trap, sk_trap_filter, sk_vp_trap, sk_percpu_stack_top

section .text

; An AP arrives here from the trampoline: long mode, the shim's page tables,
; no stack, interrupts off. It finds its CPU by APIC ID (CPUID leaf 0xB when
; the CPU has it: the full x2APIC ID; leaf 1 otherwise), builds that CPU's
; own page tables, loads them and its stack, and calls sk_ap_main(cpu index,
; CR0 at entry).
; A CPU that is not in the table parks for good.
global sk_ap_entry64
sk_ap_entry64:
    ; Caching on: CR0.CD and CR0.NW as the AP arrived with them are kept in
    ; r9 for sk_ap_main's count. A reset sets both; the SDM has INIT keep
    ; them as they were (firmware that never ran the AP leaves them set), and
    ; QEMU's INIT resets CR0 outright: under QEMU every AP arrives with them.
    mov r9, cr0
    mov rax, r9
    and rax, ~CR0_CD_NW
    or rax, CR0_WP                  ; the CPU's tables map the kernel text read-only
    cmp rax, r9
    je .cache_on
    mov cr0, rax
.cache_on:
    ; EFER.NXE before the CPU's own tables (their NX bits are reserved
    ; without it); the BSP sets sk_ap_nxe where CPUID has NX.
    cmp dword [sk_ap_nxe], 0
    je .nx_done
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_NXE
    wrmsr
.nx_done:
    xor eax, eax
    cpuid
    cmp eax, 0xb
    jb .leaf1
    mov eax, 0xb
    xor ecx, ecx
    cpuid
    test ebx, ebx                   ; leaf 0xB present when EBX != 0
    jz .leaf1
    mov r8d, edx                    ; x2APIC ID
    jmp .search
.leaf1:
    mov eax, 1
    cpuid
    shr ebx, 24
    mov r8d, ebx
.search:
    mov ecx, [sk_ap_table_count]
    lea rsi, [sk_ap_table]
    xor edi, edi
.next:
    cmp edi, ecx
    jae .lost
    cmp [rsi], r8d                  ; slot: u32 apic_id, u32 cpu, u64 cr3
    je .found
    add rsi, 16
    inc edi
    jmp .next
.found:
    ; Still on the shim's page tables: build this CPU's own on the physical
    ; top of its kernel stack (sk_ap_build_tables answers the CR3, 0 when
    ; the CPU is not being started), then switch to them and to the same
    ; stack at its virtual address.
    mov rsp, [rsi + 8]              ; slot: u32 apic_id, u32 cpu, u64 boot_stack
    test rsp, rsp
    jz .lost
    xor ebp, ebp
    mov edi, [rsi + 4]              ; CPU index
    push r9                         ; CR0 at entry
    push rdi
    call sk_ap_build_tables
    pop rdi
    pop rsi                         ; CR0 at entry
    test rax, rax
    jz .lost
    mov cr3, rax
    mov rsp, [sk_percpu_stack_top]
    call sk_ap_main                 ; never returns
.lost:
    cli
    hlt
    jmp .lost

; Interrupt and exception stubs: push a zero error code where the CPU did
; not, then the vector, then every general-purpose register, and call
; sk_trap(frame). The frame layout is struct trap_frame (kernel.h). A trap
; taken at CPL3 (a ring-3 VP) goes to sk_vp_trap instead, which saves the
; guest state and never returns here (vp.asm, vp.c).
;
; An exception vector (0-31) can also be reached by an interrupt: a fixed
; IPI from another CPU, which never pushes an error code. For the vectors
; whose exceptions push one, the stub tells the two apart by RSP: in 64-bit
; mode the CPU aligns RSP to 16 bytes before it pushes the frame (Intel SDM
; vol. 3A 6.14.2, AMD APM vol. 2 8.9.3; with or without a stack switch or
; IST), so after 5 qwords RSP mod 16 is 8, after 6 (an error code) it is 0.
; The vector word records which it was (SK_TRAP_ERROR_PUSHED), and every
; trap on vectors 0-31 first goes to sk_trap_filter (cpu.c), which takes
; an interrupt on an exception vector (EOI, ignore), an NMI and a #DB at
; CPL0, and returns to wherever the CPU was, at any CPL.
%define SK_TRAP_ERROR_PUSHED 0x100

%macro STUB 1
stub_%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17 || %1 = 21 || %1 = 29 || %1 = 30
    test spl, 8
    jz %%error_pushed
    push 0                          ; an interrupt on this vector: no error code
    push %1
    jmp trap_common
%%error_pushed:
    push %1 | SK_TRAP_ERROR_PUSHED
    jmp trap_common
%else
    push 0
    push %1
    jmp trap_common
%endif
%endmacro

%assign v 0
%rep 256
STUB v
%assign v v + 1
%endrep

trap_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp
    cmp byte [rsp + 15 * 8], 32     ; the vector: an exception vector?
    jb .exception_vector
.classified:
    test byte [rsp + 18 * 8], 3     ; the frame's CS: from CPL3?
    jnz .from_user
    call sk_trap
.return:
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq
.exception_vector:
    push qword 2                    ; RFLAGS: AC (a guest may set it) off, so SMAP holds
    popfq
    call sk_trap_filter             ; true: handled, return to where the CPU was
    test al, al
    jnz .return
    mov rdi, rsp
    jmp .classified
.from_user:
    push qword 2                    ; RFLAGS: AC (the guest may set it) off, so SMAP holds
    popfq
    call sk_vp_trap                 ; never returns
.hang:
    cli
    hlt
    jmp .hang

section .rodata
align 8
global sk_trap_stubs
sk_trap_stubs:
%assign v 0
%rep 256
    dq stub_ %+ v
%assign v v + 1
%endrep

section .text
; void sk_test_stack_overflow(void): pushes until the kernel stack runs into
; the guard page (params.test_fault_kind 1, dispatch.c). The #PF that
; follows cannot be delivered on that stack: #DF, on its own (IST) stack.
global sk_test_stack_overflow
sk_test_stack_overflow:
    push rax
    jmp sk_test_stack_overflow

; void sk_load_tables(const void *gdtr, const void *idtr, uint16_t tss_sel)
; Loads the GDT, reloads every segment register, the IDT and the task register.
global sk_load_tables
sk_load_tables:
    lgdt [rdi]
    lidt [rsi]
    LOAD_DATA_SEGMENTS 0x10
    ltr dx
    pop rax                          ; far return into the new code segment
    push 0x08
    push rax
    retfq

; bool sk_rdmsr_safe(uint32_t msr, uint64_t *value)
; bool sk_wrmsr_safe(uint32_t msr, uint64_t value)
; RDMSR / WRMSR of an MSR that may not exist: true (and *value), or false
; when the instruction raised #GP. sk_trap (cpu.c) resumes a #GP at
; sk_rdmsr_safe_insn / sk_wrmsr_safe_insn at the matching _fixup label
; instead of reporting an exception.
global sk_rdmsr_safe, sk_rdmsr_safe_insn, sk_rdmsr_safe_fixup
global sk_wrmsr_safe, sk_wrmsr_safe_insn, sk_wrmsr_safe_fixup
sk_rdmsr_safe:
    mov ecx, edi
sk_rdmsr_safe_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rsi], rax
    mov eax, 1
    ret
sk_rdmsr_safe_fixup:
    xor eax, eax
    ret

sk_wrmsr_safe:
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
sk_wrmsr_safe_insn:
    wrmsr
    mov eax, 1
    ret
sk_wrmsr_safe_fixup:
    xor eax, eax
    ret
