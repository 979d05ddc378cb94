#!/bin/bash
# slurm-down.sh -- stop the lab Slurm cluster (and munged) started by slurm-up.sh.
#   slurm-down.sh [--keep-munge] [--purge]
#     --keep-munge  leave munged running (slurm-up.sh uses this on restart)
#     --purge       also delete $LAB/cluster and $LAB/munge (key, state, logs)
# Cancels all jobs, then ends daemons by the PIDs in their pid files, then any
# leftover slurmstepd/slurmscriptd that carry our SLURMLAB_DAEMON marker in
# their environment. Never kills by name. Idempotent (nothing running = no-op).
# Network namespaces are left alone: use netns-down.sh.
set -uo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lab-env.sh"
C=$LAB/cluster; M=$LAB/munge
KEEP_MUNGE=0; PURGE=0
for a in "$@"; do
  case $a in --keep-munge) KEEP_MUNGE=1 ;; --purge) PURGE=1 ;;
    *) echo "usage: $0 [--keep-munge] [--purge]" >&2; exit 2 ;; esac
done
export SLURM_CONF=$C/etc/slurm.conf

# running = exists and not a zombie (PID 1 here does not always reap orphans)
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# stop <pidfile> <expected comm>
PIDS=()
stop() {
  [ -f "$1" ] || return 0
  local p; p=$(cat "$1")
  if running "$p" && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ]; then
    kill "$p" 2>/dev/null && PIDS+=("$p") && echo "slurm-down: TERM $2 pid $p"
  fi
  rm -f "$1"
}

# 1. cancel jobs while the controller is still up
if [ -f "$C/run/slurmctld.pid" ] && running "$(cat "$C/run/slurmctld.pid")"; then
  jobs=$(timeout 5 squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    timeout 5 scancel $jobs 2>/dev/null
    for _ in $(seq 50); do [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

# 2. daemons, by pid file
for f in "$C"/run/slurmd-*.pid; do [ -e "$f" ] && stop "$f" slurmd; done
stop "$C/run/slurmctld.pid" slurmctld
[ "$KEEP_MUNGE" = 1 ] || stop "$M/run/munged.pid" munged

# 3. leftovers we started, ended by PID:
#    - slurmstepd: identified by an open fd into $C (it keeps the slurmd log open)
#    - job tasks:  identified by SLURM_CONF=$C/etc/slurm.conf + SLURM_JOB_ID in
#      their environment (only happens if a step outlived its slurmstepd)
#    - anything carrying our SLURMLAB_DAEMON marker (slurm-up.sh exports it)
for d in /proc/[0-9]*; do
  p=${d#/proc/}; [ "$p" = $$ ] && continue
  running "$p" || continue
  [[ " ${PIDS[*]} " == *" $p "* ]] && continue          # already signalled above
  c=$(cat "$d/comm" 2>/dev/null) || continue
  env=$({ tr '\0' '\n' < "$d/environ"; } 2>/dev/null)
  why=""
  if [ "$c" = slurmstepd ] && ls -l "$d/fd" 2>/dev/null | grep -q " $C/"; then why=stepd
  elif grep -qx "SLURMLAB_DAEMON=$LAB" <<<"$env"; then
    [ "$c" = munged ] && [ "$KEEP_MUNGE" = 1 ] && continue; why=daemon
  elif grep -qx "SLURM_CONF=$C/etc/slurm.conf" <<<"$env" && grep -q '^SLURM_JOB_ID=' <<<"$env"; then why=task
  fi
  [ -n "$why" ] || continue
  kill "$p" 2>/dev/null && PIDS+=("$p") && echo "slurm-down: TERM leftover $why $c pid $p"
done

# 4. wait, then SIGKILL stragglers (same PIDs only)
for _ in $(seq 50); do
  left=(); for p in "${PIDS[@]}"; do running "$p" && left+=("$p"); done
  [ ${#left[@]} -eq 0 ] && break; sleep 0.1
done
for p in "${PIDS[@]}"; do running "$p" && { kill -9 "$p" 2>/dev/null; echo "slurm-down: KILL pid $p"; }; done
[ "$KEEP_MUNGE" = 1 ] || rm -f "$M/run/munge.socket.2" "$M/run/munge.socket.2.lock"

if [ "$PURGE" = 1 ]; then
  rm -rf "$C"; [ "$KEEP_MUNGE" = 1 ] || rm -rf "$M"
  echo "slurm-down: purged $C"
fi
echo "slurm-down: done"
