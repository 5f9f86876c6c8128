; SPDX-License-Identifier: MIT
; The guest firmware: a flat image of FW_IMAGE_SIZE bytes that ends at
; 4 GiB, so that its last 16 bytes hold the reset vector (0xfffffff0).
; Every VP of a VM starts here at the same instant, in the x86 reset state
; (real mode, CS base 0xffff0000, IP 0xfff0). Each one:
;   - reads its VP index from FW_PORT_INDEX (all ones: no VMM, plain QEMU,
;     one VP with index 0);
;   - enters protected mode with the GDT of the image (read-only, shared)
;     and builds its own 4-level page tables, IDT and stack in its own
;     region of guest RAM (FW_VP_REGION_GPA + index * FW_VP_REGION_SIZE),
;     so no VP writes what another one reads during set-up;
;   - enters long mode, takes a page fault on FW_PF_GVA (left not
;     present), maps it from its #PF handler and retries;
;   - adds 1 to the shared counter at FW_COUNTER_GPA K times (lock xadd);
;   - halts with interrupts on until N wake interrupts (FW_IRQ_VECTOR)
;     came, then reports done and halts for ever.
; Progress goes out as events on FW_PORT_EVENT (all VPs) and as text on
; the 16550 at FW_PORT_SERIAL (VP 0 only, so lines never interleave).
; Without a VMM the local APIC timer provides the wake interrupts and the
; result goes to QEMU's isa-debug-exit. docs/guest-firmware.md has the
; protocol; firmware_ports.inc the numbers.

%include "firmware_ports.inc"

IMAGE_BASE      equ 0x100000000 - FW_IMAGE_SIZE
RESET_CS_BASE   equ 0xffff0000      ; the hidden CS base at reset

%if IMAGE_BASE != RESET_CS_BASE
%error "the real-mode code addresses the image through the reset CS base: FW_IMAGE_SIZE must be 64 KiB"
%endif

; A VP's region (offsets from its base).
R_PML4          equ 0x0000
R_PDPT          equ 0x1000          ; PML4[0]: [0, 512 GiB)
R_PD0           equ 0x2000          ; PDPT[0]: [0, 1 GiB)
R_PT0           equ 0x3000          ; PD0[0]: [0, 2 MiB) in 4 KiB pages
R_PD3           equ 0x4000          ; PDPT[3]: [3 GiB, 4 GiB)
R_PFPAGE        equ FW_PF_REGION_OFFSET
R_DATA          equ 0x6000
R_IDT           equ 0x7000
R_ZERO_END      equ 0x8000          ; [0, R_ZERO_END) is zeroed at start
; the stack: [0x8000, FW_VP_REGION_SIZE)

%if R_PFPAGE != 0x5000
%error "FW_PF_REGION_OFFSET must be the page after R_PD3"
%endif

; Per-VP variables in R_DATA.
D_INDEX         equ 0
D_NOVMM         equ 4               ; 1: no VMM answered FW_PORT_INDEX
D_IRQS          equ 8               ; wake interrupts taken (handler)
D_WAKES         equ 12              ; wakes the main loop has seen
D_WAKES_MAX     equ 16
D_PFS           equ 20              ; page faults the handler resolved

IDENTITY_END    equ FW_VP_REGION_GPA + FW_MAX_VPS * FW_VP_REGION_SIZE
IDENTITY_2M     equ (IDENTITY_END + 0x1fffff) >> 21     ; PD0 entries
LAPIC_BASE      equ 0xfee00000
PTE_P           equ 0x01
PTE_RW          equ 0x02
PTE_PWT         equ 0x08
PTE_PCD         equ 0x10
PTE_PS          equ 0x80

SEL_CODE32      equ 0x08
SEL_DATA        equ 0x10
SEL_CODE64      equ 0x18

UART_THR        equ FW_PORT_SERIAL + 0
UART_IER        equ FW_PORT_SERIAL + 1
UART_FCR        equ FW_PORT_SERIAL + 2
UART_LCR        equ FW_PORT_SERIAL + 3
UART_MCR        equ FW_PORT_SERIAL + 4
UART_LSR        equ FW_PORT_SERIAL + 5

        org IMAGE_BASE

; ---------------------------------------------------------------- GDT
; Accessed bits preset: the CPU never writes the descriptors (the image
; is ROM under QEMU and shared by every VP under a VMM).
        align 16
gdt:
        dq 0
        dq 0x00cf9b000000ffff           ; 0x08: code, 32-bit, flat
        dq 0x00cf93000000ffff           ; 0x10: data, flat
        dq 0x00af9b000000ffff           ; 0x18: code, 64-bit
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

; ---------------------------------------------------------------- real mode
        bits 16
start16:
        cli
        cld
        o32 lgdt [cs:gdt_desc - $$]     ; $$ is the reset CS base
        mov eax, cr0
        or eax, 1                       ; PE
        mov cr0, eax
        jmp dword SEL_CODE32:start32

; ---------------------------------------------------------------- protected mode
        bits 32
start32:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax

        mov dx, FW_PORT_INDEX
        in eax, dx
        xor ebx, ebx                    ; ebx: 1 = no VMM
        cmp eax, 0xffffffff
        jne .have_index
        xor eax, eax
        mov ebx, 1
.have_index:
        mov esi, eax                    ; esi: VP index
        cmp esi, FW_MAX_VPS
        jb .index_ok
        mov eax, (FW_ERR_INDEX << FW_EV_ARG_SHIFT) | FW_EV_ERROR
        mov dx, FW_PORT_EVENT
        out dx, eax
.dead:
        cli
        hlt
        jmp .dead
.index_ok:
        mov eax, esi
        shl eax, FW_EV_ARG_SHIFT
        or eax, FW_EV_STARTED
        mov dx, FW_PORT_EVENT
        out dx, eax

        mov edi, esi                    ; edi: region base
        shl edi, 16
%if FW_VP_REGION_SIZE != 0x10000
%error "the region base is index << 16"
%endif
        add edi, FW_VP_REGION_GPA
        lea esp, [edi + FW_VP_REGION_SIZE]

        push edi
        xor eax, eax
        mov ecx, R_ZERO_END / 4
        rep stosd
        pop edi

        lea eax, [edi + R_PDPT + PTE_P + PTE_RW]
        mov [edi + R_PML4], eax
        lea eax, [edi + R_PD0 + PTE_P + PTE_RW]
        mov [edi + R_PDPT], eax
        lea eax, [edi + R_PD3 + PTE_P + PTE_RW]
        mov [edi + R_PDPT + 3 * 8], eax
        lea eax, [edi + R_PT0 + PTE_P + PTE_RW]
        mov [edi + R_PD0], eax
        mov ecx, 1                      ; [2 MiB, IDENTITY_END): 2 MiB pages
.pd0:
        mov eax, ecx
        shl eax, 21
        or eax, PTE_P | PTE_RW | PTE_PS
        mov [edi + R_PD0 + ecx * 8], eax
        inc ecx
        cmp ecx, IDENTITY_2M
        jb .pd0
        xor ecx, ecx                    ; [0, 2 MiB): 4 KiB pages but FW_PF_GVA
.pt0:
        cmp ecx, FW_PF_GVA >> 12
        je .pt0_next
        mov eax, ecx
        shl eax, 12
        or eax, PTE_P | PTE_RW
        mov [edi + R_PT0 + ecx * 8], eax
.pt0_next:
        inc ecx
        cmp ecx, 512
        jb .pt0
        ; the last 2 MiB below 4 GiB (this image), read-only
        mov dword [edi + R_PD3 + 511 * 8], 0xffe00000 | PTE_P | PTE_PS
        test ebx, ebx
        jz .no_lapic
        mov dword [edi + R_PD3 + ((LAPIC_BASE - 0xc0000000) >> 21) * 8], \
                LAPIC_BASE | PTE_P | PTE_RW | PTE_PWT | PTE_PCD | PTE_PS
.no_lapic:
        mov cr3, edi
        mov eax, cr4
        or eax, 0x20                    ; PAE
        mov cr4, eax
        mov ecx, 0xc0000080             ; EFER: the only MSR the firmware touches
        mov eax, 0x100                  ; LME
        xor edx, edx
        wrmsr
        mov eax, cr0
        and eax, ~0x60000000            ; caches on (CD, NW clear)
        or eax, 0x80010001              ; PG, WP, PE
        mov cr0, eax
        jmp SEL_CODE64:start64

; ---------------------------------------------------------------- long mode
        bits 64
        default rel
start64:
        mov r15d, edi                   ; r15: region base (zero-extended)
        lea rsp, [r15 + FW_VP_REGION_SIZE]
        mov [r15 + R_DATA + D_INDEX], esi
        mov [r15 + R_DATA + D_NOVMM], ebx

        ; IDT: 256 interrupt gates, one stub each
        lea rdi, [r15 + R_IDT]
        lea rdx, [isr_stubs]
        mov ecx, 256
.idt:
        mov rax, rdx
        mov [rdi], ax
        mov word [rdi + 2], SEL_CODE64
        mov word [rdi + 4], 0x8e00      ; present, DPL 0, 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax
        shr rax, 16
        mov [rdi + 8], eax
        mov dword [rdi + 12], 0
        add rdi, 16
        add rdx, 16
        dec ecx
        jnz .idt
        sub rsp, 16
        mov word [rsp], 256 * 16 - 1
        lea rax, [r15 + R_IDT]
        mov [rsp + 2], rax
        lidt [rsp]
        add rsp, 16

        call serial_init
        mov edi, FW_EV_LONG_MODE
        mov esi, [r15 + R_DATA + D_INDEX]
        call report
        lea rsi, [msg_long]
        call puts
        mov eax, [r15 + R_DATA + D_INDEX]
        call putdec
        lea rsi, [msg_novmm]
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        jne .mode
        lea rsi, [msg_vmm]
.mode:
        call puts

        ; ---- page fault: the write faults, the handler maps the page, the
        ; write is retried and lands in this VP's R_PFPAGE
        mov rdx, 0x4641554c54000000     ; "FAULT" + index
        or edx, [r15 + R_DATA + D_INDEX]
        mov rax, FW_PF_GVA
        mov [rax], rdx
        mov rcx, [r15 + R_PFPAGE]
        cmp rcx, rdx
        jne .pf_bad
        cmp rdx, [rax]
        jne .pf_bad
        cmp dword [r15 + R_DATA + D_PFS], 1
        je .pf_ok
.pf_bad:
        mov edi, FW_ERR_PF
        jmp fail
.pf_ok:

        ; ---- the shared counter
        mov dx, FW_PORT_ITERATIONS
        in eax, dx
        cmp eax, 0xffffffff
        jne .iter_given
        mov eax, FW_DEFAULT_ITERATIONS
.iter_given:
        test eax, eax
        jz .iter_bad
        cmp eax, FW_MAX_ITERATIONS
        jbe .iter_ok
.iter_bad:
        mov edi, FW_ERR_ITERATIONS
        jmp fail
.iter_ok:
        mov r12d, eax                   ; r12: K
        mov ecx, eax
        mov rbx, FW_COUNTER_GPA
.count:
        mov eax, 1
        lock xadd [rbx], rax
        dec ecx
        jnz .count
        lea r13, [rax + 1]              ; r13: the counter after our last increment
        mov esi, FW_EV_ARG_MAX
        cmp r13, rsi
        cmovb rsi, r13
        mov edi, FW_EV_COUNTER_DONE
        call report
        lea rsi, [msg_counter]
        call puts
        mov eax, r12d
        call putdec
        lea rsi, [msg_counter_value]
        call puts
        mov rax, r13
        call putdec
        lea rsi, [msg_nl]
        call puts
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        je .wakes
        cmp r13, r12                    ; alone: the counter is exactly K
        je .wakes
        mov edi, FW_ERR_COUNTER
        jmp fail

        ; ---- wake-ups
.wakes:
        mov dx, FW_PORT_WAKES
        in eax, dx
        cmp eax, 0xffffffff
        jne .wakes_given
        mov eax, FW_DEFAULT_WAKES
.wakes_given:
        cmp eax, FW_MAX_WAKES
        jbe .wakes_ok
        mov edi, FW_ERR_WAKES
        jmp fail
.wakes_ok:
        mov [r15 + R_DATA + D_WAKES_MAX], eax
        test eax, eax
        jz done
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        je wait_loop
        mov rbx, LAPIC_BASE             ; no VMM: the APIC timer wakes us
        mov dword [rbx + 0xf0], 0x1ff   ; SVR: enabled, spurious vector 0xff
        mov dword [rbx + 0x3e0], 0x0b   ; divide by 1
        mov dword [rbx + 0x320], FW_IRQ_VECTOR  ; LVT timer: one-shot
        call arm_timer

wait_loop:
        cli
        mov eax, [r15 + R_DATA + D_IRQS]
        cmp eax, [r15 + R_DATA + D_WAKES]
        jne .woke
        mov edi, FW_EV_WAITING
        mov esi, [r15 + R_DATA + D_WAKES]
        call report
        sti                             ; an interrupt pending now wakes the HLT
        hlt
        jmp wait_loop
.woke:
        mov esi, [r15 + R_DATA + D_WAKES]
        inc esi
        mov [r15 + R_DATA + D_WAKES], esi
        mov edi, FW_EV_WOKE
        call report
        lea rsi, [msg_woke]
        call puts
        mov eax, [r15 + R_DATA + D_WAKES]
        call putdec
        lea rsi, [msg_nl]
        call puts
        mov eax, [r15 + R_DATA + D_WAKES]
        cmp eax, [r15 + R_DATA + D_WAKES_MAX]
        jae done
        mov dx, FW_PORT_CONTROL
        in eax, dx
        cmp eax, FW_CONTROL_FINISH
        je done
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        je wait_loop
        call arm_timer
        jmp wait_loop

done:
        cli
        lea rsi, [msg_done]             ; text first: a VMM may stop the VP at FW_EV_DONE
        call puts
        mov edi, FW_EV_DONE
        mov esi, [r15 + R_DATA + D_WAKES]
        call report
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        je halt_forever
        mov dx, FW_PORT_QEMU_EXIT
        mov eax, FW_QEMU_EXIT_OK
        out dx, eax
halt_forever:
        cli
        hlt
        jmp halt_forever

; edi: FW_ERR_*. Reports, prints, exits QEMU (no VMM) and halts.
fail:
        mov esi, edi
        push rsi
        mov edi, FW_EV_ERROR
        call report
        lea rsi, [msg_error]
        call puts
        pop rax
        call putdec
        lea rsi, [msg_nl]
        call puts
        jmp fail_exit
fail_exit:
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        je halt_forever
        mov dx, FW_PORT_QEMU_EXIT
        mov eax, FW_QEMU_EXIT_FAIL
        out dx, eax
        jmp halt_forever

arm_timer:
        mov rax, LAPIC_BASE
        mov dword [rax + 0x380], 0x10000        ; initial count
        ret

; ---------------------------------------------------------------- helpers
; Clobber rax, rcx, rdx, rsi, rdi; need r15 = region base.

; edi: event code, esi: argument (< 2^24).
report:
        mov eax, esi
        shl eax, FW_EV_ARG_SHIFT
        or eax, edi
        mov dx, FW_PORT_EVENT
        out dx, eax
        ret

serial_init:
        cmp dword [r15 + R_DATA + D_INDEX], 0
        jne .out
        mov dx, UART_IER
        xor eax, eax
        out dx, al
        mov dx, UART_LCR
        mov al, 0x80                    ; DLAB
        out dx, al
        mov dx, UART_THR                ; divisor 1: 115200 baud
        mov al, 1
        out dx, al
        mov dx, UART_IER
        xor eax, eax
        out dx, al
        mov dx, UART_LCR
        mov al, 0x03                    ; 8N1
        out dx, al
        mov dx, UART_FCR
        mov al, 0xc7
        out dx, al
        mov dx, UART_MCR
        mov al, 0x03
        out dx, al
.out:
        ret

; al: byte. Waits (bounded) for THR empty; "\n" goes out as "\r\n".
putc:
        cmp al, 10
        jne putc_raw
        mov al, 13
        call putc_raw
        mov al, 10
putc_raw:
        mov ah, al
        mov ecx, 100000
        mov dx, UART_LSR
.wait:
        in al, dx
        test al, 0x20
        jnz .ready
        dec ecx
        jnz .wait
.ready:
        mov al, ah
        mov dx, UART_THR
        out dx, al
        ret

; rsi: NUL-terminated text. VP 0 only.
puts:
        cmp dword [r15 + R_DATA + D_INDEX], 0
        jne .out
.next:
        mov al, [rsi]
        test al, al
        jz .out
        call putc
        inc rsi
        jmp .next
.out:
        ret

; rax: unsigned value in decimal. VP 0 only.
putdec:
        cmp dword [r15 + R_DATA + D_INDEX], 0
        jne .out
        push rbx
        sub rsp, 32
        lea rsi, [rsp + 31]
        mov byte [rsi], 0
        mov ebx, 10
.digit:
        xor edx, edx
        div rbx
        add dl, '0'
        dec rsi
        mov [rsi], dl
        test rax, rax
        jnz .digit
        call puts
        add rsp, 32
        pop rbx
.out:
        ret

; rax: unsigned value in hex with 0x. VP 0 only.
puthex:
        cmp dword [r15 + R_DATA + D_INDEX], 0
        jne .out
        sub rsp, 32
        lea rsi, [rsp + 31]
        mov byte [rsi], 0
.digit:
        mov edx, eax
        and edx, 15
        cmp dl, 10
        jb .dec
        add dl, 'a' - '0' - 10
.dec:
        add dl, '0'
        dec rsi
        mov [rsi], dl
        shr rax, 4
        jnz .digit
        dec rsi
        mov byte [rsi], 'x'
        dec rsi
        mov byte [rsi], '0'
        call puts
        add rsp, 32
.out:
        ret

; ---------------------------------------------------------------- interrupts
; One 16-byte stub per vector: pushes an error code (0 where the CPU
; pushes none) and the vector.
        align 16
isr_stubs:
%assign v 0
%rep 256
        align 16
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
        push qword v
%else
        push qword 0
        push qword v
%endif
        jmp isr_common
%assign v v + 1
%endrep

; Frame: 10 saved registers, vector, error code, RIP, CS, RFLAGS, RSP, SS.
F_VECTOR        equ 80
F_ERROR         equ 88
F_RIP           equ 96

isr_common:
        push rax
        push rcx
        push rdx
        push rsi
        push rdi
        push r8
        push r9
        push r10
        push r11
        push r15
        mov r15, rsp                    ; the stack is inside the region
        and r15, ~(FW_VP_REGION_SIZE - 1)
        mov eax, [rsp + F_VECTOR]
        cmp eax, 14
        je .pf
        cmp eax, FW_IRQ_VECTOR
        je .irq
        cmp eax, 32
        jb .fatal
        mov esi, eax                    ; some other interrupt: say so, go on
        mov edi, FW_EV_UNEXPECTED_IRQ
        call report
        lea rsi, [msg_unexpected]
        call puts
        mov eax, [rsp + F_VECTOR]
        call puthex
        lea rsi, [msg_nl]
        call puts
        jmp .ret

.pf:
        mov rax, cr2
        mov rcx, FW_PF_GVA
        cmp rax, rcx
        jb .fatal
        add rcx, 0x1000
        cmp rax, rcx
        jae .fatal
        cmp qword [r15 + R_PT0 + (FW_PF_GVA >> 12) * 8], 0
        jne .fatal                      ; mapped already: a real fault
        lea rax, [r15 + R_PFPAGE + PTE_P + PTE_RW]
        mov [r15 + R_PT0 + (FW_PF_GVA >> 12) * 8], rax
        mov rax, FW_PF_GVA
        invlpg [rax]
        inc dword [r15 + R_DATA + D_PFS]
        mov edi, FW_EV_PF_HANDLED
        mov esi, FW_PF_GVA >> 12
        call report
        lea rsi, [msg_pf]
        call puts
        mov rax, cr2
        call puthex
        lea rsi, [msg_pf_handled]
        call puts
        jmp .ret

.irq:
        mov esi, [r15 + R_DATA + D_IRQS]
        inc esi
        mov [r15 + R_DATA + D_IRQS], esi
        and esi, 0xffff
        shl esi, 8
        or esi, FW_IRQ_VECTOR
        mov edi, FW_EV_INTERRUPT
        call report
        lea rsi, [msg_irq]
        call puts
        mov eax, FW_IRQ_VECTOR
        call puthex
        lea rsi, [msg_irq_count]
        call puts
        mov eax, [r15 + R_DATA + D_IRQS]
        call putdec
        lea rsi, [msg_nl]
        call puts
        cmp dword [r15 + R_DATA + D_NOVMM], 0
        je .ret
        mov rax, LAPIC_BASE             ; no VMM: the APIC timer's EOI
        mov dword [rax + 0xb0], 0
.ret:
        pop r15
        pop r11
        pop r10
        pop r9
        pop r8
        pop rdi
        pop rsi
        pop rdx
        pop rcx
        pop rax
        add rsp, 16
        iretq

.fatal:
        mov esi, [rsp + F_ERROR]
        and esi, 0xffff
        shl esi, 8
        or esi, [rsp + F_VECTOR]
        mov edi, FW_EV_EXCEPTION
        call report
        lea rsi, [msg_exc]
        call puts
        mov eax, [rsp + F_VECTOR]
        call putdec
        lea rsi, [msg_exc_error]
        call puts
        mov rax, [rsp + F_ERROR]
        call puthex
        lea rsi, [msg_exc_rip]
        call puts
        mov rax, [rsp + F_RIP]
        call puthex
        lea rsi, [msg_exc_cr2]
        call puts
        mov rax, cr2
        call puthex
        lea rsi, [msg_nl]
        call puts
        jmp fail_exit

; ---------------------------------------------------------------- text
msg_long:       db "fw: long mode, VP index ", 0
msg_novmm:      db " (no VMM: one VP)", 10, 0
msg_vmm:        db 10, 0
msg_pf:         db "fw: page fault at ", 0
msg_pf_handled: db " handled", 10, 0
msg_counter:    db "fw: counter +", 0
msg_counter_value: db ", value ", 0
msg_irq:        db "fw: interrupt vector ", 0
msg_irq_count:  db " count ", 0
msg_woke:       db "fw: woke ", 0
msg_done:       db "fw: done", 10, 0
msg_error:      db "fw: error ", 0
msg_unexpected: db "fw: unexpected interrupt ", 0
msg_exc:        db "fw: exception vector ", 0
msg_exc_error:  db " error ", 0
msg_exc_rip:    db " rip ", 0
msg_exc_cr2:    db " cr2 ", 0
msg_nl:         db 10, 0

; ---------------------------------------------------------------- reset vector
%if ($ - $$) > FW_IMAGE_SIZE - 16
%error "the firmware does not fit below the reset vector"
%endif
        times FW_IMAGE_SIZE - 16 - ($ - $$) db 0
reset_vector:                           ; 0xfffffff0: jmp near start16, with
        db 0xe9                         ; the 16-bit displacement wrapping
        dw (start16 - (reset_vector + 3)) & 0xffff   ; around the 64 KiB segment
        times FW_IMAGE_SIZE - ($ - $$) db 0
