# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-ioctl: the OpenHCL ioctls, read/poll/mmap and our additions
# with every bad-argument errno (sidecar-ioctl), a level-triggered poll loop
# that must see no spurious wake-up (poll_spurious); then a VP left running in
# an endless guest loop is stopped by rmmod, and a reloaded module finds
# every CPU answering.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load || exit 1
out=$(sidecar-ioctl); st=$?
echo "$out"
rep_num ioctl_status $st
sp=$(echo "$out" | sed -n 's/.*poll_spurious=\([0-9]*\).*/\1/p')
rep_num poll_spurious "${sp:-999}"
[ $st = 0 ] || lx_fail "sidecar-ioctl failed"
sidecar-ioctl --leave-running || lx_fail "sidecar-ioctl --leave-running failed"
dmesg -c > /dev/null
rmmod sidecar || lx_fail "rmmod sidecar with a VP running failed"
stopped=$(drv_dmesg | grep 'unloading: stopping the run on CPU')
echo "$stopped"
rep_str unload_stopped "$stopped"
[ -n "$stopped" ] || lx_fail "rmmod did not stop the running VP"
drv_dmesg | grep 'did not stop' && lx_fail "a run did not stop at rmmod"
drv_load || exit 1
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys reload_ping "$(echo "$out" | tail -n 1)"
[ $st = 0 ] || lx_fail "after the reload: $(echo "$out" | tr '\n' ' ')"
[ ! -s "$LXTEST_FAILURES" ]
