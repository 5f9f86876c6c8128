# lxtest=drv-ping: load sidecar.ko and ping every sidecar CPU from user
# space through libsidecar-host's linux transport (sidecar-ping); the
# answers must come by the response IPI.
. /lib/lxtest.sh
. /lib/sidecar-drv.sh
drv_load || exit 1
drv_dmesg
out=$(sidecar-ping); st=$?
echo "$out"
drv_ping_keys ping "$(echo "$out" | tail -n 1)"
rep_raw devices "$(json_list $(ls /dev | grep mshv_vtl_sidecar))"
[ $st = 0 ] || { lx_fail "sidecar-ping: $(echo "$out" | tr '\n' ' ')"; exit 1; }
