# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-corrupt: the module refuses a missing or corrupted sidecar
# description with a dmesg line naming the field, and Linux stays up; the
# intact description then loads and every CPU answers. Bytes are
# corrupted in place (busybox devmem on the reserved pages) and restored.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
h=$(lx_arg sidecar.handoff) || { lx_fail "no sidecar.handoff="; exit 1; }
hx() { printf '0x%x' "$1"; }

drv_refused refused_missing "no sidecar description"
drv_refused refused_ram "is System RAM" handoff=0x1000000
drv_refused refused_unaligned "not a page-aligned address" handoff=$(hx $((h + 8)))

# handoff.abi_major
old=$(devmem $((h + 8)) 16)
devmem $((h + 8)) 16 0x77
drv_refused refused_handoff "handoff.abi_major" handoff=$h
devmem $((h + 8)) 16 $old

# params.node_count (params_pa at handoff + 16)
p=$(devmem $((h + 16)) 64)
old=$(devmem $((p + 20)) 32)
devmem $((p + 20)) 32 0
drv_refused refused_params "params.node_count" handoff=$h
devmem $((p + 20)) 32 $old

# output.nodes[0].shmem_pages_size (output_pa at handoff + 24)
o=$(devmem $((h + 24)) 64)
old=$(devmem $((o + 512 + 16)) 64)
devmem $((o + 512 + 16)) 64 $((old + 8192))
drv_refused refused_output "output.nodes[0].shmem_pages_size" handoff=$h
devmem $((o + 512 + 16)) 64 $old

# node 0's control page: its magic
c=$(devmem $((o + 512)) 64)
old=$(devmem $((c + 32)) 32)
devmem $((c + 32)) 32 0x12345678
drv_refused refused_control "control page.magic" handoff=$h
devmem $((c + 32)) 32 $old

# Linux is still up, and the intact description loads.
rep_num nproc_after "$(nproc)"
drv_load || exit 1
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys ping "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "sidecar-ping after the refusals: $(echo "$out" | tr '\n' ' ')"
[ ! -s "$LXTEST_FAILURES" ]
