; SPDX-License-Identifier: MIT
; The floor kernel's AP entry (the BSP boots through the shim's own
; entry.asm, which calls shim_main, defined in floor.c). An AP arrives here
; from the shared trampoline in long mode on the boot page tables (the
; identity map of 0-4 GiB every CPU shares), interrupts off, no stack. It
; finds its CPU index by APIC ID in floor_cpus (CPUID leaf 0xB where the
; CPU has it, else leaf 1), takes that CPU's slot of floor_stacks and calls
; floor_ap_main(index). An AP that is not in the table parks.

bits 64
default rel

%define FLOOR_STACK 2048
%define ENTRY_SIZE 32                ; struct floor_cpu (floor.c)

extern floor_cpus, floor_cpu_count, floor_stacks, floor_ap_main

section .text
global floor_ap_entry64
floor_ap_entry64:
    xor eax, eax
    cpuid
    cmp eax, 0xb
    jb .leaf1
    mov eax, 0xb
    xor ecx, ecx
    cpuid
    test ebx, ebx
    jz .leaf1
    mov r8d, edx                     ; x2APIC ID
    jmp .search
.leaf1:
    mov eax, 1
    cpuid
    shr ebx, 24
    mov r8d, ebx
.search:
    mov ecx, [floor_cpu_count]
    lea rsi, [floor_cpus]
    xor edi, edi
.next:
    cmp edi, ecx
    jae .lost
    cmp [rsi], r8d                   ; struct floor_cpu: u32 apic_id first
    je .found
    add rsi, ENTRY_SIZE
    inc edi
    jmp .next
.found:
    lea rsp, [floor_stacks]
    mov eax, edi
    inc eax
    imul eax, eax, FLOOR_STACK
    add rsp, rax                     ; the top of this CPU's stack
    xor ebp, ebp
    call floor_ap_main               ; edi = CPU index; never returns
.lost:
    cli
    hlt
    jmp .lost
