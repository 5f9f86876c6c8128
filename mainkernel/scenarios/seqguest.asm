; SPDX-License-Identifier: MIT
; The sequence guest of the fault tests and the soak (faults.c, soak.c):
; position-independent 64-bit code the main kernel copies into guest RAM.
; RBX points at the VP's own data block in guest RAM:
;   [rbx]      seq: bumped once before every OUT
;   [rbx + 8]  mode, written by the host while the VP is idle:
;              0 = exit at once (the next run ends in the OUT),
;              1 = spin until the host STOPs the run
;   [rbx + 16] spin counter (moves while the VP spins)
; The host starts the VP at mk_seq_spin. Every OUT to port 0xe1 carries
; the new seq in EAX, so the host sees each completed run exactly once, in
; order: a lost or duplicated completion shows as a gap or a repeat. A
; STOP between the INC and the OUT leaves RIP at mk_seq_out; the next run
; then ends in that OUT with the same (not yet reported) seq.

bits 64
default rel

section .rodata
align 16
global mk_seq_start, mk_seq_out, mk_seq_spin, mk_seq_end
mk_seq_start:
seq_top:
    inc qword [rbx]
    mov rax, [rbx]
mk_seq_out:
    out 0xe1, eax               ; the host steps RIP over it (2 bytes)
mk_seq_spin:
    cmp qword [rbx + 8], 0
    je seq_top
    inc qword [rbx + 16]
    pause
    jmp mk_seq_spin
mk_seq_end:
