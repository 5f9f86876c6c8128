# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-conform: sidecar-conform makes openvmm sidecar_client's calls
# (every /dev/mshv_vtl_sidecar<N> until ENOENT, INFO, mmap at 0, RUN,
# START + edge-triggered epoll + read, STOP, GET/SET registers,
# TRANSLATE_GVA) and checks OpenHCL's meaning of every answer; then one
# sidecar CPU of every node is onlined in Linux (echo 1 > cpuN/online) and
# it runs again: the onlined CPUs answer ENOENT, the rest as before.
# Report keys from its summary line (conform_* before, online_* after).
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
conform_keys() {
    p=$1 line=$2
    for k in nodes tiled bases_online vps linux_in_nodes stop_pairs stale et_ends et_lost et_dup lt_ends lt_spurious bringup_us failures; do
        rep_num "${p}_$k" "$(echo "$line" | sed -n "s/.* $k=\([0-9]*\).*/\1/p")"
    done
    rep_str "${p}_numbering" "$(echo "$line" | sed -n 's/.* numbering=\([0-9]*\/[0-9]*\).*/\1/p')"
    rep_str "${p}_backend" "$(echo "$line" | sed -n 's/.* backend=\([a-z0-9]*\).*/\1/p')"
}
run_conform() {
    out=$(sidecar-conform); st=$?
    echo "$out"
    conform_keys "$1" "$(echo "$out" | tail -n 1)"
    [ $st = 0 ] || lx_fail "$1: $(echo "$out" | grep FAIL | head -n 5 | tr '\n' ' ')"
}
drv_load || exit 1
drv_dmesg | grep -E 'bring-up|onlining Linux CPU|CPU numbering'
run_conform conform
# One sidecar CPU of every node to Linux.
onlined=""
i=0
while [ -e /dev/mshv_vtl_sidecar$i ]; do
    n=$(sidecar-ping --list $i | head -n 1)
    if [ -n "$n" ]; then
        echo 1 > /sys/devices/system/cpu/cpu$n/online || lx_fail "echo 1 > cpu$n/online failed"
        onlined="${onlined:+$onlined,}$n"
    fi
    i=$((i + 1))
done
rep_str onlined "$onlined"
rep_num nproc_after "$(nproc)"
run_conform online
[ ! -s "$LXTEST_FAILURES" ]
