# SPDX-License-Identifier: GPL-2.0-only
# lxtest=drv-linux-guest: a Linux kernel (the same Debian kernel, put into
# the initramfs as /guest/bzImage by run.py --guest-kernel) as a guest on a
# sidecar VP with the svm backend, driven from Linux user space through
# sidecar.ko and libsidecar-host (sidecar-linux-guest, the VMM code of the
# bare-metal main kernel's mk.linux_guest; docs/svm.md).
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load || exit 1
out=$(sidecar-linux-guest /guest/bzImage); st=$?
echo "$out" | grep -v '^linux: ' | tail -n 5
echo "$out" | grep '^linux: ' | head -n 8
line=$(echo "$out" | grep '^sidecar-linux-guest: ' | tail -n 1)
rep_str guest "$line"
for k in ok banner cmdline e820 lines intercepts; do
    rep_num "guest_$k" "$(echo "$line" | sed -n "s/.* $k=\([0-9]*\).*/\1/p")"
done
rep_str guest_first "$(echo "$out" | grep '^linux: ' | head -n 1)"
[ $st = 0 ] || lx_fail "sidecar-linux-guest: $line"
[ ! -s "$LXTEST_FAILURES" ]
