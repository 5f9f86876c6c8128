# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-unload-race: rmmod while a completion IPI is still to come.
# The test shim's sidecar.test_slow_response_cpu makes the run's CPU send
# each completion IPI 500 ms after it read the response vector; rmmod
# stops the endless guest there, so that CPU reads the driver's vector and
# sends the IPI well after the driver saw the run end. The driver must wait
# for it (the control page's responses_in_flight) and see it handled
# before it gives the vector back (docs/robustness.md, finding 9).
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load || exit 1
sidecar-ioctl --leave-running-quick > /dev/null || lx_fail "sidecar-ioctl --leave-running-quick failed"
dmesg -c > /dev/null
rmmod sidecar || lx_fail "rmmod sidecar with a VP running failed"
waited=$(drv_dmesg | grep 'waited for a completion IPI in flight')
echo "$waited"
rep_str unload_waited "$waited"
echo "$waited" | grep -q 'handled: 1 more' || lx_fail "rmmod did not wait for the completion IPI in flight"
drv_dmesg | grep -E 'still in flight|No irq handler' && lx_fail "a completion IPI outlived the vector"
drv_load || exit 1
out=$(sidecar-ping); st=$?
drv_ping_keys reload_ping "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "after the reload: $(echo "$out" | tr '\n' ' ')"
[ ! -s "$LXTEST_FAILURES" ]
