# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-online-unloaded: sidecar CPUs onlined in Linux while sidecar.ko
# is not loaded (before the load, and after an rmmod), as an auto-online
# rule would (docs/robustness.md, "Linux can INIT a sidecar CPU while
# sidecar.ko is not loaded"). Linux starts them; the module, loaded
# afterwards, must find them Linux's (REMOVED, named in dmesg), never send
# them a command, and serve every other sidecar CPU.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
cpu=/sys/devices/system/cpu
n0=$(nproc)
rep_num nproc_boot $n0
# The last two offline CPUs (sidecar CPUs: Linux started only the main ones).
offline=$(cat $cpu/offline)
first=$(echo "$offline" | tr ',' '\n' | tail -n 1 | sed 's/.*-//')
second=$((first - 1))
third=$((first - 2))
echo 1 > $cpu/cpu$first/online || lx_fail "echo 1 > cpu$first/online without the module failed"
rep_num onlined_before "$first"
# One onlined and offlined again: Linux's (its offline loop), not sidecar's.
echo 1 > $cpu/cpu$third/online || lx_fail "echo 1 > cpu$third/online without the module failed"
echo 0 > $cpu/cpu$third/online || lx_fail "echo 0 > cpu$third/online failed"
rep_num cycled_before "$third"
rep_num nproc_before_load "$(nproc)"
drv_load || exit 1
total=$(( $(sidecar-ping --list 0 | wc -l) ))
for nd in 1 2 3 4 5 6 7; do
    [ -e /dev/mshv_vtl_sidecar$nd ] && total=$((total + $(sidecar-ping --list $nd | wc -l)))
done
rep_num sidecar_after_load $total
taken=$(drv_dmesg | grep "came online in Linux while sidecar.ko was not loaded")
echo "$taken"
rep_str taken_at_load "$(echo "$taken" | sed 's/.*Linux CPU \([0-9]*\) .*/\1/' | sort -n | tr '\n' ' ')"
out=$(sidecar-ping --expect $total); st=$?
echo "$out"
drv_ping_keys ping_load "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "ping after the load: $(echo "$out" | tr '\n' ' ')"
# After rmmod: another one, then load again.
rmmod sidecar || lx_fail "rmmod failed"
echo 1 > $cpu/cpu$second/online || lx_fail "echo 1 > cpu$second/online after rmmod failed"
rep_num onlined_after_rmmod "$second"
dmesg -c > /dev/null
drv_load || exit 1
total2=0
for nd in 0 1 2 3 4 5 6 7; do
    [ -e /dev/mshv_vtl_sidecar$nd ] && total2=$((total2 + $(sidecar-ping --list $nd | wc -l)))
done
rep_num sidecar_after_reload $total2
out=$(sidecar-ping --expect $total2); st=$?
echo "$out"
drv_ping_keys ping_reload "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "ping after the reload: $(echo "$out" | tr '\n' ' ')"
rep_num nproc_end "$(nproc)"
[ ! -s "$LXTEST_FAILURES" ]
