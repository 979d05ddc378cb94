#!/bin/bash
# netns-down.sh -- undo netns-up.sh: delete the namespaces it recorded in
# $LAB/net/namespaces, their veth pairs and the bridge $LAB_BRIDGE.
# Processes still living in those namespaces were necessarily started by this
# lab (slurmd, orted, MPI ranks...); they are listed and ended by PID
# (TERM, then KILL after 3 s), because a namespace with live processes would
# survive "ip netns del". Run slurm-down.sh first for a clean Slurm shutdown.
# Idempotent.
set -uo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lab-env.sh"
BR=$LAB_BRIDGE
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

NSS=$(cat "$LAB/net/namespaces" 2>/dev/null || true)
pids=()
for ns in $NSS; do
  [ -e "/var/run/netns/$ns" ] || continue
  for p in $(ip netns pids "$ns" 2>/dev/null); do
    running "$p" || continue
    echo "netns-down: TERM pid $p ($(cat /proc/$p/comm 2>/dev/null)) in $ns"
    kill "$p" 2>/dev/null && pids+=("$p")
  done
done
for _ in $(seq 30); do
  left=0; for p in "${pids[@]}"; do running "$p" && left=1; done
  [ $left = 0 ] && break; sleep 0.1
done
for p in "${pids[@]}"; do running "$p" && { echo "netns-down: KILL pid $p"; kill -9 "$p"; }; done

for ns in $NSS; do
  [ -e "/var/run/netns/$ns" ] && ip netns del "$ns" && echo "netns-down: deleted netns $ns"
  # the veth pair normally dies with the namespace; remove a leftover root side
  ip link show "veth-$ns" >/dev/null 2>&1 && ip link del "veth-$ns"
done
ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR" && echo "netns-down: deleted bridge $BR"
rm -rf "$LAB/net"
echo "netns-down: done"
