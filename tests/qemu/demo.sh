#!/bin/sh
# The sidecar demo: boot a QEMU (TCG) VM whose CPUs are split between the
# bare-metal main kernel and the sidecar kernel, and show what happened.
#
# usage: demo.sh BUILD_DIR [--smp N] [--nodes K] [--append "shim options"]
# Defaults: 32 vCPUs in 2 NUMA nodes. The serial console is shown live;
# the main kernel runs the guest VP test on every sidecar CPU, converts one
# CPU per sidecar node into a main-kernel CPU, and prints its report.
set -eu

build=$1
shift
smp=32
nodes=2
append="sidecar.log mk.vp_test mk.convert_one_per_node"
while [ $# -gt 0 ]; do
    case $1 in
    --smp) smp=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --append) append="$append $2"; shift 2 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
    esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
shim=$build/shim/arch/x86_64/sidecar-shim.elf
[ -f "$shim" ] || { echo "demo: $shim is missing (build first)" >&2; exit 1; }

mem_mb=$((256 + smp * 4))
numa_args=""
if [ "$nodes" -gt 1 ]; then
    per=$((mem_mb / nodes))
    mem_mb=$((per * nodes))
    i=0
    while [ $i -lt "$nodes" ]; do
        numa_args="$numa_args --object memory-backend-ram,id=m$i,size=${per}M --numa node,nodeid=$i,memdev=m$i"
        i=$((i + 1))
    done
    # CPUs round-robin over the nodes (socket i on node i).
    numa_topo="--topology sockets=$nodes,cores=$((smp / nodes)),threads=1"
    i=0
    while [ $i -lt "$nodes" ]; do
        numa_args="$numa_args --numa cpu,node-id=$i,socket-id=$i"
        i=$((i + 1))
    done
    smp=$(( (smp / nodes) * nodes ))
else
    numa_topo=""
fi

echo "sidecar demo: $smp vCPUs, $nodes NUMA node(s), ${mem_mb} MiB, QEMU TCG"
echo
# shellcheck disable=SC2086
exec /usr/bin/python3 "$top/tests/qemu/run.py" --live --shim "$shim" --smp "$smp" \
    $numa_topo $numa_args --memory "${mem_mb}M" --append "$append" --timeout 600 --expect-ok
