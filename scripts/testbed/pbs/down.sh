#!/bin/bash
# down.sh -- stop what up.sh started and remove its network namespace.
#   down.sh [--purge | --purge-all]
#     --purge      also delete $PBSLAB except cache/ (the fresh PBS_HOME that up.sh restores
#                  instead of running pbs_habitat again: 48 MB, saves ~6 s per up.sh)
#     --purge-all  also delete $PBSLAB entirely
# 1. qdel every job, -W force what is left after 5 s (server still up)   2. SIGTERM pbs_server (it
# stops PostgreSQL + pbs_ds_monitor, ~2 s)   3. SIGTERM pbs_sched/mom/comm, by
# the pids in $PBSLAB/run   4. whatever still lives in the bed's netns was
# started by this bed (job processes, postgres, pbs_ds_monitor): TERM, then
# KILL after 3 s, by pid   5. delete the netns (its veth pair goes with it).
# Only the netns that up.sh recorded in $PBSLAB/net/ns is touched (a namespace of
# the same name made by someone else is left alone).
# Never kills by name. Idempotent (nothing running = no-op).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PBSLAB=${PBSLAB:-/var/spool/mpi-cluster-pbs}
NS=$(cat "$PBSLAB/net/ns" 2>/dev/null || true)
PURGE=
case "${1:-}" in --purge|--purge-all) PURGE=$1 ;; "") ;; *) echo "usage: $0 [--purge | --purge-all]" >&2; exit 2 ;; esac
export PATH=/opt/pbs/bin:/opt/pbs/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T0=$(date +%s.%N)
el() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "[pbs-down $(el)] $*"; }
# running = exists and not a zombie (PID 1 here does not always reap orphans)
running() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pidof_d() { [ -s "$PBSLAB/run/$1.pid" ] && cat "$PBSLAB/run/$1.pid"; }
# stop <timeout_s> <name>... : TERM the recorded daemons (only if the pid still
# runs that program), wait, then KILL the same pids
stop() {
  local t=$1 n p c i; shift; local -a ps=()
  for n in "$@"; do
    p=$(pidof_d "$n" || true); running "$p" || continue
    c=$(cat /proc/$p/comm 2>/dev/null)
    case $c in pbs_$n*) ;; *) log "pid $p is no longer pbs_$n ($c), left alone"; continue ;; esac
    kill -TERM "$p" 2>/dev/null && ps+=("$p:$c")
  done
  for i in $(seq $((t * 10))); do
    local left=()
    for e in "${ps[@]}"; do if running "${e%%:*}"; then left+=("$e"); else log "${e#*:} (${e%%:*}) stopped"; fi; done
    ps=("${left[@]}"); [ ${#ps[@]} -eq 0 ] && return 0; sleep 0.1
  done
  for e in "${ps[@]}"; do kill -KILL "${e%%:*}" 2>/dev/null; log "${e#*:} (${e%%:*}) KILLed after ${t}s"; done
}
HAVE_NS=0; [ -n "$NS" ] && [ -e "/var/run/netns/$NS" ] && HAVE_NS=1
SERVER=$(pidof_d server || true)

# 1. jobs (from inside the namespace: root@pbshead is always a manager)
if running "$SERVER" && [ $HAVE_NS = 1 ]; then
  jobs=$(timeout 10 "$HERE/nsrun" qselect 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    # A plain qdel first: SIGTERM, so the job's shell runs its EXIT traps (PBS starts job
    # scripts as the user's LOGIN shell: a SIGKILL during root's ~/.profile can leave e.g.
    # pyenv's rehash lock behind, and every later login shell waits 60 s on it). It takes
    # ~0.2 s; whatever is still listed after 5 s gets -W force (SIGKILL, or purge).
    # shellcheck disable=SC2086
    timeout 20 "$HERE/nsrun" qdel $jobs >/dev/null 2>&1
    for _ in $(seq 25); do [ -z "$(timeout 10 "$HERE/nsrun" qselect 2>/dev/null)" ] && break; sleep 0.2; done
    left=$(timeout 10 "$HERE/nsrun" qselect 2>/dev/null | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
      # shellcheck disable=SC2086
      timeout 20 "$HERE/nsrun" qdel -W force $left >/dev/null 2>&1
      for _ in $(seq 50); do [ -z "$(timeout 10 "$HERE/nsrun" qselect 2>/dev/null)" ] && break; sleep 0.2; done
    fi
    log "deleted jobs: $jobs${left:+(forced: $left)}"
  fi
fi

# 2. server first (clean shutdown of the data service), 3. the other daemons
stop 30 server
stop 10 sched mom comm
rm -f "$PBSLAB"/run/*.pid

# 4. leftovers inside our namespace (nothing else can live there)
if [ $HAVE_NS = 1 ]; then
  left=()
  for p in $(ip netns pids "$NS" 2>/dev/null); do
    running "$p" || continue
    log "TERM leftover pid $p ($(cat /proc/$p/comm 2>/dev/null)) in netns $NS"
    kill -TERM "$p" 2>/dev/null && left+=("$p")
  done
  for _ in $(seq 30); do
    n=0; for p in "${left[@]}"; do running "$p" && n=1; done
    [ $n = 0 ] && break; sleep 0.1
  done
  for p in "${left[@]}"; do running "$p" && { log "KILL pid $p"; kill -KILL "$p" 2>/dev/null; }; done
  # 5. the namespace; deleting it also removes the veth pair
  ip netns del "$NS" && log "deleted netns $NS"
fi
[ -n "$NS" ] && ip link show "veth-$NS" >/dev/null 2>&1 && ip link del "veth-$NS" && log "deleted leftover link veth-$NS"
rm -f "$PBSLAB/net/ns"
case $PURGE in
  --purge-all) rm -rf "$PBSLAB"; log "purged $PBSLAB" ;;
  --purge) [ -d "$PBSLAB" ] && find "$PBSLAB" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +
           log "purged $PBSLAB (kept $PBSLAB/cache)" ;;
esac
log "done"
