#!/bin/bash
# netns-up.sh [N] -- emulate N hosts n1..nN (default 3) with network namespaces.
# (n = $LAB_PREFIX, subnet $LAB_NET, bridge $LAB_BRIDGE: see lab-env.sh)
#
#   root netns:  bridge = $LAB_NET.254/24        (+ veth-n1 .. veth-nN ports)
#   netns n<i>:  lo + ib0 = $LAB_NET.<i>/24       (ib0 = veth peer of veth-n<i>)
#
# Writes, under $LAB/net:
#   hosts      n1..nN + lab-head; nsrun bind-mounts it over /etc/hosts inside a
#              private mount namespace (the real /etc/hosts is never modified)
#   hostfile   "n<i> slots=2" lines for mpirun --hostfile
#   namespaces the namespaces this script created (netns-down.sh removes only these)
# Idempotent: existing namespaces/links are reused, addresses re-applied; growing
# N adds hosts. Needs: iproute2 (ip), util-linux (nsenter/unshare); ping optional.
set -euo pipefail
N=${1:-3}
. "$(cd "$(dirname "$0")" && pwd)/lab-env.sh"
BR=$LAB_BRIDGE
NET=$LAB_NET
SLOTS=${SLOTS:-2}
mkdir -p "$LAB/net"
touch "$LAB/net/namespaces"

# Bridge in the root namespace (works in this VM; if "type bridge" were not
# available, point-to-point veths with /32 routes would be the fallback).
ip link show "$BR" >/dev/null 2>&1 || ip link add "$BR" type bridge
ip addr replace "$NET.254/24" dev "$BR"
ip link set "$BR" up

{
  echo "127.0.0.1 localhost"
  echo "$NET.254 lab-head"
  for i in $(seq 1 "$N"); do echo "$NET.$i $LAB_PREFIX$i"; done
} > "$LAB/net/hosts"
for i in $(seq 1 "$N"); do echo "$LAB_PREFIX$i slots=$SLOTS"; done > "$LAB/net/hostfile"

for i in $(seq 1 "$N"); do
  ns=$LAB_PREFIX$i; host_if=veth-$ns
  if [ ! -e "/var/run/netns/$ns" ]; then
    ip netns add "$ns"
    grep -qx "$ns" "$LAB/net/namespaces" || echo "$ns" >> "$LAB/net/namespaces"
  fi
  if ! ip netns exec "$ns" ip link show ib0 >/dev/null 2>&1; then
    ip link del "$host_if" 2>/dev/null || true            # stale half of a pair
    ip link add "$host_if" type veth peer name "tmp-$ns"
    ip link set "tmp-$ns" netns "$ns"
    ip netns exec "$ns" ip link set "tmp-$ns" name ib0    # literally "ib0"
  fi
  ip link set "$host_if" master "$BR"
  ip link set "$host_if" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr replace "$NET.$i/24" dev ib0
  ip netns exec "$ns" ip link set ib0 up
done

# Connectivity check n1 -> every host (skipped without ping: apt-get install iputils-ping)
if command -v ping >/dev/null; then
  for i in $(seq 1 "$N"); do
    for t in $(seq 20); do
      ip netns exec ${LAB_PREFIX}1 ping -c1 -W1 "$NET.$i" >/dev/null 2>&1 && break
      [ "$t" = 20 ] && { echo "netns-up: ${LAB_PREFIX}1 cannot reach $NET.$i" >&2; exit 1; }
      sleep 0.2
    done
  done
fi
echo "netns-up: hosts $(seq -s' ' -f "$LAB_PREFIX%g" 1 "$N") on $BR ($NET.0/24); hostfile $LAB/net/hostfile"
