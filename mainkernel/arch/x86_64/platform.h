/* Hardware services of the bare-metal main kernel (x86-64). */
#ifndef MK_PLATFORM_H
#define MK_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#define MK_EXIT_SUCCESS 0x10u   /* QEMU exits with (0x10 << 1) | 1 = 33 */
#define MK_EXIT_FAILURE 0x11u   /* 35 */

void mk_platform_init(void);
void mk_write(const char *s, unsigned long len);
uint64_t mk_rdtsc(void);
/* Sends a fixed IPI; apic_mode is the mode the sidecar kernel chose. */
void mk_send_ipi(uint32_t apic_id, uint32_t vector);
void mk_set_x2apic(bool on);
uint32_t mk_apic_id(void);
void mk_exit(uint32_t code) __attribute__((noreturn));
void mk_pause(void);

#endif
