# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-numbering: with sidecar.linux_numbering=vp (the default, auto, under the openhcl policy; in the Meson
# test sidecar.policy=openhcl), Linux boots on the boot CPU alone; loading
# sidecar.ko onlines the other main CPUs (as OpenHCL's driver onlines a
# node's base CPU); every sidecar CPU's Linux CPU number equals its index,
# the CPU argument of the ioctls; onlining cpuN takes exactly that CPU out
# of sidecar, and Linux's cpuN has the APIC ID of params CPU N.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
rep_num nproc_boot "$(nproc)"
drv_load || exit 1
rep_num nproc_loaded "$(nproc)"
drv_dmesg | grep -E 'onlining Linux CPU|CPU numbering'
out=$(sidecar-ping --numbering); st=$?
echo "$out"
rep_str numbering "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "numbering: $(echo "$out" | tr '\n' ' ')"
all_before=$( (sidecar-ping --list 0; sidecar-ping --list 1; sidecar-ping --list 2) | tr '\n' ' ')
n=$(sidecar-ping --list 1 | head -n 1)
rep_num onlined "$n"
echo 1 > /sys/devices/system/cpu/cpu$n/online || lx_fail "echo 1 > cpu$n/online failed"
apic=$(awk -v n="$n" '/^processor/ {p = $3} /^apicid/ {if (p == n) print $3}' /proc/cpuinfo)
rep_num onlined_apic "$apic"
want=$(sidecar-ping --numbering >/dev/null; echo "$all_before" | tr ' ' '\n' | grep -v "^$n\$" | grep -v '^$' | tr '\n' ' ')
all_after=$( (sidecar-ping --list 0; sidecar-ping --list 1; sidecar-ping --list 2) | tr '\n' ' ')
rep_bool only_that_cpu "$([ "$all_after" = "$want" ] && echo 1)"
[ "$all_after" = "$want" ] || lx_fail "after onlining cpu$n the sidecar CPUs are '$all_after', expected '$want'"
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys ping_after "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "ping after onlining cpu$n failed"
[ ! -s "$LXTEST_FAILURES" ]
