/* SPDX-License-Identifier: MIT */
/* The guest firmware's protocol header compiles on its own (strict C11)
 * and its numbers keep the promises docs/guest-firmware.md makes; a
 * broken promise fails the build of this test. */
#include "firmware_ports.h"

/* The counter after N VPs x K increments fits an event argument. */
_Static_assert((unsigned long long)FW_MAX_VPS * FW_MAX_ITERATIONS <= FW_EV_ARG_MAX,
               "FW_EV_COUNTER_DONE's argument holds every counter value");
_Static_assert(FW_EV_ARG_MAX == (1u << (32 - FW_EV_ARG_SHIFT)) - 1, "the argument is the rest of the dword");
_Static_assert(FW_MAX_WAKES <= 0xffff, "the interrupt count in FW_EV_INTERRUPT has 16 bits");
/* The 256 regions and the image fit the minimum RAM without overlapping. */
_Static_assert(FW_VP_REGION_GPA + FW_MAX_VPS * FW_VP_REGION_SIZE <= FW_MIN_RAM - FW_IMAGE_SIZE,
               "the VP regions end below the image");
_Static_assert(FW_VP_REGION_SIZE == 0x10000, "the firmware computes a region base as index << 16");
_Static_assert(FW_MIN_RAM % 0x200000 == 0, "guest RAM comes in 2 MiB steps");
/* The page-fault page is in the 4 KiB-mapped first 2 MiB, below the
 * regions, and is not the shared page. */
_Static_assert(FW_PF_GVA % 0x1000 == 0 && FW_PF_GVA < 0x200000 && FW_PF_GVA < FW_VP_REGION_GPA,
               "FW_PF_GVA is a page of the first 2 MiB");
_Static_assert(FW_PF_GVA / 0x1000 != FW_SHARED_GPA / 0x1000, "the shared page stays mapped");
_Static_assert(FW_COUNTER_GPA >= FW_SHARED_GPA && FW_COUNTER_GPA + 8 <= FW_SHARED_GPA + 0x1000,
               "the counter is in the shared page");
_Static_assert(FW_PF_REGION_OFFSET + 0x1000 <= FW_VP_REGION_SIZE, "the mapped page is inside the region");
/* The image is a whole number of 64 KiB blocks (QEMU -bios) and at most
 * the 2 MiB the sidecar VM aliases below 4 GiB. */
_Static_assert(FW_IMAGE_SIZE % 0x10000 == 0 && FW_IMAGE_SIZE <= 0x200000, "image size");
_Static_assert(FW_IRQ_VECTOR >= 32 && FW_IRQ_VECTOR <= 0xff, "an external interrupt vector");
_Static_assert(FW_DEFAULT_ITERATIONS >= 1 && FW_DEFAULT_ITERATIONS <= FW_MAX_ITERATIONS, "default K");
_Static_assert(FW_DEFAULT_WAKES <= FW_MAX_WAKES, "default W");
_Static_assert(FW_EV_CODE(0x12345604u) == FW_EV_COUNTER_DONE && FW_EV_ARG(0x12345604u) == 0x123456u,
               "FW_EV_CODE / FW_EV_ARG split an event");

int main(void) { return 0; }
