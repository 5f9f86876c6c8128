# SPDX-License-Identifier: MIT
# lxtest=boot (the default): nothing beyond what /init records at boot;
# the harness (tests/linux/run.py) checks those keys. Reports whether the
# hand-off address on the command line is page aligned.
. /lib/lxtest.sh
h=$(lx_arg sidecar.handoff) || exit 0
case "$h" in
0x*[!0-9a-fA-F]*|0x) lx_fail "sidecar.handoff=$h is not a hex address"; exit 1 ;;
0x*) ;;
*) lx_fail "sidecar.handoff=$h has no 0x"; exit 1 ;;
esac
[ $((h % 4096)) = 0 ] || { lx_fail "sidecar.handoff=$h is not page aligned"; exit 1; }
rep_bool handoff_aligned 1
