/* libFuzzer: the x86-64 instruction decoder of the ring-3 VP backend on
 * arbitrary guest bytes (a guest controls what is at RIP). The input is
 * copied to a buffer of exactly its size, so ASan sees any over-read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sidecar/vp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t n = size > 16 ? 16 : (uint32_t)size;
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, data, n);
    struct sk_insn insn;
    sk_insn_decode(b, n, &insn);
    uint32_t len = sk_insn_length(b, n);
    if (len > n || len > 15)
        __builtin_trap();
    free(b);
    return 0;
}
