# SPDX-License-Identifier: GPL-2.0-only
# lxtest=demo: what `./sidecar demo --main linux` shows (tests/qemu/demo.py).
# Linux runs on the main CPUs only; with sidecar.ko loaded, user space
# (libsidecar-host's linux transport) pings every sidecar CPU, runs the VP
# test on every sidecar CPU at once (IO, MSR, CPUID, HLT, MMIO and
# exception intercepts handled in user space; STOP rounds), brings one CPU
# per sidecar node into Linux with the standard sysfs online, checks the
# other sidecar CPUs still answer, and runs the hostlib example on a real
# guest. Times come from /proc/uptime (Linux's clock).
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { awk "BEGIN { printf \"%.2f\", $(uptime_s) - $1 }"; }

t=$(uptime_s)
drv_load || exit 1
rep_str load_s "$(since $t)"
nodes=$(ls /dev | grep -c '^mshv_vtl_sidecar')
rep_num nodes "$nodes"
echo "demo: sidecar.ko loaded: $nodes sidecar nodes"

# Every sidecar CPU answers a NONE command from user space.
t=$(uptime_s)
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys ping "$(echo "$out" | tail -n 1)"
rep_str ping_s "$(since $t)"
[ $st = 0 ] || lx_fail "sidecar-ping: $(echo "$out" | tail -n 1)"

# The VP test on every sidecar CPU at once.
t=$(uptime_s)
out=$(sidecar-vp --cpus 0); st=$?
echo "$out"
rep_str vp_s "$(since $t)"
line=$(echo "$out" | grep '^sidecar-vp: ok=' | tail -n 1)
rep_str vp "$line"
for k in cpus passed intercepts stops; do
    rep_num "vp_$k" "$(echo "$line" | sed -n "s/.* $k=\([0-9]*\).*/\1/p")"
done
[ $st = 0 ] || lx_fail "sidecar-vp: $line"

# One CPU per sidecar node becomes a Linux CPU (CPU hotplug: the driver
# removes it from sidecar, Linux starts it).
n0=$(nproc)
rep_num nproc_before "$n0"
converted=
i=0
while [ $i -lt "$nodes" ]; do
    c=$(sidecar-ping --list $i | tail -n 1)
    if [ -n "$c" ]; then
        t=$(uptime_s)
        if echo 1 > /sys/devices/system/cpu/cpu$c/online && \
           [ "$(cat /sys/devices/system/cpu/cpu$c/online)" = 1 ]; then
            converted="$converted $c"
            echo "demo: node $i: Linux CPU $c onlined in $(since $t) s"
        else
            lx_fail "node $i: echo 1 > cpu$c/online failed"
        fi
    fi
    i=$((i + 1))
done
rep_raw converted "$(json_list $converted)"
rep_num nproc_after "$(nproc)"
rep_str online_after "$(cat /sys/devices/system/cpu/online)"
echo "demo: nproc $n0 -> $(nproc); online CPUs $(cat /sys/devices/system/cpu/online)"

# Work on the converted CPUs: Linux schedules a task on each.
work=0
for c in $converted; do
    if taskset -c "$c" sh -c 'i=0; while [ $i -lt 1000 ]; do i=$((i + 1)); done' 2>/dev/null; then
        work=$((work + 1))
    fi
done
rep_num converted_work "$work"

# The CPUs left in sidecar still answer.
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys ping_after "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "sidecar-ping after the conversions: $(echo "$out" | tail -n 1)"

# The hostlib example (hostlib/examples/example_linux.c) on a real guest.
out=$(sidecar-example 2>&1); st=$?
echo "$out"
rep_str example "$(echo "$out" | tr '\n' '|')"
[ $st = 0 ] || lx_fail "sidecar-example: $(echo "$out" | tail -n 1)"
[ ! -s "$LXTEST_FAILURES" ]
