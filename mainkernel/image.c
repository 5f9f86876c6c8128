/* The image header the shim reads (protocol: image_header). */
#include <sidecar/abi.h>

extern const char __image_start[], __file_end[], __image_end[];
void mk_start(void);

static const struct sidecar_image_header image_header
    __attribute__((section(".image_header"), used)) = {
    .magic = SIDECAR_IMAGE_MAGIC,
    .abi_major = SIDECAR_ABI_MAJOR,
    .abi_minor = SIDECAR_ABI_MINOR,
    .header_size = sizeof(struct sidecar_image_header),
    .link_base = (uint64_t)(uintptr_t)__image_start,
    .file_end = (uint64_t)(uintptr_t)__file_end,
    .mem_end = (uint64_t)(uintptr_t)__image_end,
    .entry = (uint64_t)(uintptr_t)mk_start,
};
