/* SPDX-License-Identifier: MIT */
/* The image header the shim reads (protocol: image_header). */
#include <sidecar/abi.h>
#include <scfree/image.h>

void mk_start(void);

SCFREE_IMAGE_HEADER(mk_start);
