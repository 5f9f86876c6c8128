# SPDX-License-Identifier: GPL-2.0-only
# /lib/sidecar-drv.sh: helpers of the driver's lxtest scripts
# (driver/tests/drv-*.sh), after /lib/lxtest.sh.
#
#   drv_load [ARGS]      insmod sidecar.ko handoff=<sidecar.handoff=> ARGS;
#                        records a failure (and the dmesg lines) if it fails
#   drv_refused TEXT ARGS...   insmod with ARGS must fail and dmesg must
#                        then contain TEXT; Linux must still be up
#   drv_dmesg            the module's dmesg lines
#   drv_ping_keys PREFIX OUTPUT   report keys from a sidecar-ping line

DRV_KO=/lib/modules/sidecar.ko

drv_dmesg() { dmesg | sed -n 's/^\[[ 0-9.]*\] //; /^sidecar: /p'; }

drv_load() {
    h=$(lx_arg sidecar.handoff) || { lx_fail "no sidecar.handoff= on the command line"; return 1; }
    if ! insmod $DRV_KO handoff=$h "$@"; then
        lx_fail "insmod sidecar.ko handoff=$h $*: failed: $(drv_dmesg | tail -n 3 | tr '\n' ' ')"
        return 1
    fi
    [ -c /dev/mshv_vtl_sidecar0 ] || { lx_fail "no /dev/mshv_vtl_sidecar0 after insmod"; return 1; }
    return 0
}

# drv_refused KEY TEXT insmod-args...
drv_refused() {
    key=$1 text=$2
    shift 2
    dmesg -c > /dev/null
    if insmod $DRV_KO "$@" 2>/dev/null; then
        lx_fail "$key: insmod $* loaded"
        rmmod sidecar
        return 1
    fi
    msg=$(drv_dmesg | grep -F -- "$text" | head -n 1)
    echo "lxtest: $key: refused: $msg"
    rep_str "$key" "$msg"
    [ -n "$msg" ] || { lx_fail "$key: no dmesg line with '$text' (got: $(drv_dmesg | tr '\n' ' '))"; return 1; }
    [ -e /dev/mshv_vtl_sidecar0 ] && { lx_fail "$key: a device exists after the refusal"; return 1; }
    return 0
}

drv_ping_keys() {
    p=$1 line=$2
    for k in answered of removed nodes irqs; do
        rep_num "${p}_$k" "$(echo "$line" | sed -n "s/.* $k=\([0-9]*\).*/\1/p")"
    done
    rep_str "${p}_vector" "$(echo "$line" | sed -n 's/.* vector=\(0x[0-9a-f]*\).*/\1/p')"
}
