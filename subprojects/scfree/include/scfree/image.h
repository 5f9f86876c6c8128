/* SPDX-License-Identifier: MIT */
/* The image header (protocol: image_header) of a flat image linked with a
 * script that defines __image_start, __file_end and __image_end. Include
 * <sidecar/abi.h> first; use once per image:
 *   SCFREE_IMAGE_HEADER(entry_function);
 */
#ifndef SCFREE_IMAGE_H
#define SCFREE_IMAGE_H

extern const char __image_start[], __file_end[], __image_end[];

#define SCFREE_IMAGE_HEADER(entry_fn)                                        \
    static const struct sidecar_image_header scfree_image_header            \
        __attribute__((section(".image_header"), used)) = {                 \
        .magic = SIDECAR_IMAGE_MAGIC,                                       \
        .abi_major = SIDECAR_ABI_MAJOR,                                     \
        .abi_minor = SIDECAR_ABI_MINOR,                                     \
        .header_size = sizeof(struct sidecar_image_header),                 \
        .link_base = (uint64_t)(uintptr_t)__image_start,                    \
        .file_end = (uint64_t)(uintptr_t)__file_end,                        \
        .mem_end = (uint64_t)(uintptr_t)__image_end,                        \
        .entry = (uint64_t)(uintptr_t)(entry_fn),                           \
    }

#endif
