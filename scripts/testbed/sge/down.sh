#!/bin/bash
# down.sh -- stop what up.sh started, by pid.
#   down.sh [--purge]     --purge also deletes $SGELAB (private cell, spool, logs)
# 1. qdel -f every job while both daemons run   2. sge_execd: TERM, then its
# former descendants (sge_shepherd + job trees survive an execd exit by SGE
# design)   3. sge_qmaster: TERM, KILL after $SGE_DOWN_WAIT s (default 3: it
# takes 9-13 s to exit on its own, and up.sh builds a fresh spool anyway)
# 4. leftovers carrying our markers in their environment (SGELAB_DAEMON=$SGELAB
# from up.sh, or SGE_ROOT=$SGELAB/root + JOB_ID = a job of this cell).
# Never kills by name. Idempotent (nothing running = no-op).
set -uo pipefail
export SGELAB=${SGELAB:-/tmp/mpi-cluster-sge}
export SGE_ROOT=$SGELAB/root SGE_CELL=default
export SGE_QMASTER_PORT=${SGE_QMASTER_PORT:-16444} SGE_EXECD_PORT=${SGE_EXECD_PORT:-16445}
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
case "${1:-}" in --purge|"") ;; *) echo "usage: $0 [--purge]" >&2; exit 2 ;; esac
WAIT=${SGE_DOWN_WAIT:-3}
T0=$(date +%s.%N)
el() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "[sge-down $(el)] $*"; }
# running = exists and not a zombie (PID 1 here does not always reap orphans)
running() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pidof_d() { [ -s "$SGELAB/run/$1.pid" ] && cat "$SGELAB/run/$1.pid"; }
descendants() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; echo "$c"; done; }
# stop <pid> <comm> <timeout_s>: TERM, wait, KILL -- only while the pid still runs <comm>
stop_pid() {
  local p=$1 c=$2 t=$3 i
  running "$p" || return 0
  [ "$(cat /proc/$p/comm 2>/dev/null)" = "$c" ] || { log "pid $p is no longer $c, left alone"; return 0; }
  kill -TERM "$p" 2>/dev/null
  for i in $(seq $((t * 10))); do running "$p" || { log "$c ($p) stopped"; return 0; }; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null; log "$c ($p) KILLed after ${t}s"
}
QM=$(pidof_d qmaster || true); EX=$(pidof_d execd || true)

# 1. jobs
if running "$QM"; then
  if [ -n "$(timeout 10 qstat -u '*' 2>/dev/null)" ]; then
    timeout 10 qdel -f -u '*' >/dev/null 2>&1
    for _ in $(seq 50); do [ -z "$(timeout 5 qstat -u '*' 2>/dev/null)" ] && break; sleep 0.2; done
    log "deleted all jobs"
  fi
fi
# 2. execd and whatever it had started
if running "$EX"; then
  kids=$(descendants "$EX")
  stop_pid "$EX" sge_execd 10
  for k in $kids; do running "$k" && kill -TERM "$k" 2>/dev/null && log "TERM former execd child $k"; done
  sleep 0.3
  for k in $kids; do running "$k" && kill -KILL "$k" 2>/dev/null && log "KILL former execd child $k"; done
fi
# 3. qmaster
stop_pid "$QM" sge_qmaster "$WAIT"   # a KILL here is expected (SGE_DOWN_WAIT=15 lets it exit by itself)
rm -f "$SGELAB/run/qmaster.pid" "$SGELAB/run/execd.pid" "$SGELAB/state"
# 4. leftovers recognised by their environment
left=()
for d in /proc/[0-9]*; do
  p=${d#/proc/}; [ "$p" = $$ ] && continue
  running "$p" || continue
  env=$({ tr '\0' '\n' < "$d/environ"; } 2>/dev/null) || continue
  if grep -qx "SGELAB_DAEMON=$SGELAB" <<<"$env" ||
     { grep -qx "SGE_ROOT=$SGE_ROOT" <<<"$env" && grep -q '^JOB_ID=' <<<"$env"; }; then
    log "TERM leftover pid $p ($(cat "$d/comm" 2>/dev/null))"; kill -TERM "$p" 2>/dev/null && left+=("$p")
  fi
done
for _ in $(seq 30); do n=0; for p in "${left[@]}"; do running "$p" && n=1; done; [ $n = 0 ] && break; sleep 0.1; done
for p in "${left[@]}"; do running "$p" && { kill -KILL "$p" 2>/dev/null; log "KILL leftover pid $p"; }; done
if [ "${1:-}" = --purge ]; then rm -rf "$SGELAB"; log "purged $SGELAB"; fi
log "done"
