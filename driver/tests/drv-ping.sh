# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-ping: load sidecar.ko and ping every sidecar CPU from user
# space through libsidecar-host's linux transport (sidecar-ping); the
# answers must come by the response IPI. lxdrv=A,B on the kernel command
# line: module parameters (e.g. lxdrv=response_irq=0 for the polling
# fallback, which must then be logged).
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load $(lx_arg lxdrv | tr ',' ' ') || exit 1
drv_dmesg
rep_bool polling "$(drv_dmesg | grep -q 'completions by polling' && echo 1)"
# Who takes each node's completion IPIs: "node N:APIC ID" per node.
rep_str response_apics "$(drv_dmesg | sed -n 's/.*node \([0-9]*\): .*response vector 0x[0-9a-f]* to APIC ID \([0-9]*\).*/\1:\2/p' | tr '\n' ' ')"
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys ping "$(echo "$out" | tail -n 1)"
rep_raw devices "$(json_list $(ls /dev | grep mshv_vtl_sidecar))"
[ $st = 0 ] || { lx_fail "sidecar-ping: $(echo "$out" | tr '\n' ' ')"; exit 1; }
