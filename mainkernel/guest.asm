; SPDX-License-Identifier: MIT
; The guest program of the VP test (mainkernel/vp.c): position-independent
; 64-bit code that the main kernel copies to the start of guest RAM and runs
; at CPL3 on each sidecar CPU through RUN_VP. Each numbered instruction is
; one intercept the test expects, in this order; the host emulates it and
; moves RIP past it (vp.c). The code only writes guest memory at [RSP].

bits 64
default rel

section .rodata
align 16
global mk_guest_start, mk_guest_end, mk_guest_loop, mk_guest_ud, mk_guest_de
mk_guest_start:
    mov eax, 0x11223344
    out 0x80, al                ; 1  OUT imm8, 1 byte
    out 0x80, ax                ; 2  OUT imm8, 2 bytes
    out 0x80, eax               ; 3  OUT imm8, 4 bytes
    mov edx, 0x3f0
    out dx, al                  ; 4  OUT DX, 1 byte
    out dx, ax                  ; 5  OUT DX, 2 bytes
    out dx, eax                 ; 6  OUT DX, 4 bytes
    in al, 0x81                 ; 7  IN imm8, 1 byte
    in eax, dx                  ; 8  IN DX, 4 bytes (the host puts 0xcafef00d in RAX)
    mov r12, rax
    lea rsi, [text]
    mov ecx, 4
    rep outsb                   ; 9  OUTS with REP, port DX
    hlt                         ; 10 HLT
    mov ecx, 0x1234
    rdmsr                       ; 11 RDMSR (the host answers EDX:EAX = 0x9abc:0x5678)
    wrmsr                       ; 12 WRMSR of that value
    xor eax, eax
    xor ecx, ecx
    cpuid                       ;    CPUID: an intercept only where CPUID faulting exists
    out 0x82, eax               ; 13 the highest basic leaf CPUID returned
    mov rax, 0x100000000
    mov rbx, [rax]              ; 14 read of an unmapped GPA (4 GiB: guest RAM is below)
    mov [rax], rbx              ; 15 write of it
mk_guest_ud:
    ud2                         ; 16 #UD
    xor edx, edx
    xor ecx, ecx
    mov eax, 1
mk_guest_de:
    div ecx                     ; 17 #DE
    mov r13, 0x0123456789abcdef
    movq xmm3, r13
    punpcklqdq xmm3, xmm3
    out 0x83, al                ; 18 the host reads R12, R13, XMM3 here
mk_guest_loop:
    inc qword [rsp]             ; STOP tests: runs until stopped; the host
    jmp mk_guest_loop           ; watches [RSP] to see it run
text:
    db "ring"
mk_guest_end:
