# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-online: conversion through CPU hotplug. With sidecar.ko
# loaded, `echo 1 > /sys/devices/system/cpu/cpuN/online` on a sidecar CPU:
# the driver's hotplug callback removes it from sidecar, Linux starts it,
# nproc counts it and the other sidecar CPUs keep answering. Then a CPU
# busy running a guest VP is onlined (the run is stopped first), then
# every CPU of node 1.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load || exit 1
cpu=/sys/devices/system/cpu
online_one() {
    echo 1 > $cpu/cpu$1/online || { lx_fail "echo 1 > cpu$1/online failed"; return 1; }
    [ "$(cat $cpu/cpu$1/online)" = 1 ] || { lx_fail "cpu$1 is not online"; return 1; }
}
ping_expect() {     # KEY N: sidecar-ping must get exactly N answers
    out=$(sidecar-ping --expect $2); st=$?
    echo "$out"
    drv_ping_keys "$1" "$(echo "$out" | tail -n 1)"
    [ $st = 0 ] || lx_fail "$1: $(echo "$out" | tr '\n' ' ')"
}
total=$(( $(sidecar-ping --list 0 | wc -l) + $(sidecar-ping --list 1 | wc -l) ))
n0=$(nproc)
rep_num sidecar_total $total
rep_num nproc_before $n0
ping_expect ping0 $total

# One CPU of node 0.
first=$(sidecar-ping --list 0 | head -n 1)
online_one $first
rep_num onlined_first $first
rep_num nproc_one "$(nproc)"
[ "$(nproc)" = $((n0 + 1)) ] || lx_fail "nproc $(nproc) after onlining cpu$first, expected $((n0 + 1))"
drv_dmesg | grep -q "Linux CPU $first is sidecar CPU" || lx_fail "no hotplug removal line for cpu$first"
ping_expect ping1 $((total - 1))

# A CPU running a guest VP: the online stops the run, then converts it.
out=$(sidecar-vp --cpus 1 --online-busy); st=$?
echo "$out"
rep_str online_busy "$(echo "$out" | grep 'online-busy' | tr '\n' '|')"
[ $st = 0 ] || lx_fail "online of a busy CPU: $(echo "$out" | tail -n 1)"
rep_num nproc_busy "$(nproc)"
[ "$(nproc)" = $((n0 + 2)) ] || lx_fail "nproc $(nproc) after onlining the busy CPU, expected $((n0 + 2))"

# The Linux CPU that takes node 1's response IPIs goes offline: Linux
# moves the irq, the driver follows it (the ping checks every node's
# answers came by IPI), and the CPU comes back.
resp=$(drv_dmesg | sed -n 's/^sidecar: node 1: .*(Linux CPU \([0-9]*\))$/\1/p' | head -n 1)
rep_num response_cpu1 "$resp"
if [ -n "$resp" ] && [ "$resp" != 0 ]; then
    echo 0 > $cpu/cpu$resp/online || lx_fail "echo 0 > cpu$resp/online failed"
    ping_expect ping_moved $((total - 2))
    drv_dmesg | grep -q "node 1: response irq moved" || lx_fail "node 1's response irq did not follow its CPU"
    echo 1 > $cpu/cpu$resp/online || lx_fail "cpu$resp did not come back online"
fi

# Every sidecar CPU of node 1.
node1=$(sidecar-ping --list 1)
k=0
for c in $node1; do
    online_one $c && k=$((k + 1))
done
rep_num node1_onlined $k
rep_num nproc_node "$(nproc)"
[ $k -gt 0 ] || lx_fail "node 1 had no sidecar CPU left"
[ "$(nproc)" = $((n0 + 2 + k)) ] || lx_fail "nproc $(nproc) after onlining node 1, expected $((n0 + 2 + k))"
ping_expect ping2 $((total - 2 - k))
rep_str online_list "$(cat $cpu/online)"
[ ! -s "$LXTEST_FAILURES" ]
