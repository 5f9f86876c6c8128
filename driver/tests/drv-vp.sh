# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-vp: guest VPs driven from Linux user space: the bare-metal
# main kernel's VP test (IO-port, MSR, CPUID, HLT, MMIO and exception
# intercepts emulated by the test VMM, STOP rounds) on lxvp_cpus= sidecar
# CPUs (default 4) at once, then the hostlib example with a real guest.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load || exit 1
n=$(lx_arg lxvp_cpus) || n=4
out=$(sidecar-vp --cpus $n); st=$?
echo "$out"
line=$(echo "$out" | grep '^sidecar-vp: ok=' | tail -n 1)
rep_str vp "$line"
for k in cpus passed intercepts stops; do
    rep_num "vp_$k" "$(echo "$line" | sed -n "s/.* $k=\([0-9]*\).*/\1/p")"
done
[ $st = 0 ] || lx_fail "sidecar-vp: $line"
out=$(sidecar-example 2>&1); st=$?
echo "$out"
rep_str example "$(echo "$out" | tr '\n' '|')"
[ $st = 0 ] || lx_fail "sidecar-example: $(echo "$out" | tail -n 1)"
[ ! -s "$LXTEST_FAILURES" ]
