#!/bin/bash
# up.sh -- one-host Son of Grid Engine 8.1.9 cluster (Debian 12 packages) as
# root, without systemd, on loopback: sge_qmaster + sge_execd, queue all.q
# (8 slots), parallel environment smp, scheduler every second.
#
# A PRIVATE cell: SGE_ROOT=$SGELAB/root (symlinks to the Debian binaries +
# its own cell "default"), spool in $SGELAB/spool, non-default ports
# 16444/16445. Nothing under /var/lib/gridengine, /var/spool/gridengine or
# /etc is written (apart from the one-time apt-get install).
#
# Idempotent: if the same cluster is up and healthy it only re-checks it;
# otherwise it is stopped (down.sh) and started FRESH (empty spool, job ids
# from 1). All state under $SGELAB (default /tmp/mpi-cluster-sge).
# Knobs: SGELAB, SGE_QMASTER_PORT (16444), SGE_EXECD_PORT (16445),
#        SGE_SLOTS (8, whatever the core count), SGE_QUEUE (all.q), SGE_PE (smp),
#        SGE_ALLOW_ROOT=0 (keep Debian's min_uid/min_gid 1000: root's jobs refused).
# Clients afterwards:  . scripts/testbed/sge/env.sh   (SGE_ROOT, SGE_CELL, ports, PATH)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export SGELAB=${SGELAB:-/tmp/mpi-cluster-sge}
export SGE_ROOT=$SGELAB/root SGE_CELL=default
export SGE_QMASTER_PORT=${SGE_QMASTER_PORT:-16444} SGE_EXECD_PORT=${SGE_EXECD_PORT:-16445}
SLOTS=${SGE_SLOTS:-8}
Q=${SGE_QUEUE:-all.q}
PE=${SGE_PE:-smp}
MINID=0; [ "${SGE_ALLOW_ROOT:-1}" = 0 ] && MINID=1000
SPOOL=$SGELAB/spool
C=$SGE_ROOT/$SGE_CELL/common
H=$(hostname)
# SGE's own clients must be found first (PBS's /opt/pbs/bin/qsub has the same name)
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:/usr/local/bin
T0=$(date +%s.%N)
el() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "[sge-up $(el)] $*"; }
die() { echo "sge-up: $*" >&2; exit 1; }
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive() { [ -s "$1" ] && running "$(cat "$1")"; }

[ "$(id -u)" = 0 ] || { echo "sge-up: run as root" >&2; exit 1; }
# ---------------------------------------------------------------- 0. packages (once)
if ! dpkg -s gridengine-master gridengine-exec gridengine-client >/dev/null 2>&1; then
  log "apt-get install gridengine-master gridengine-exec gridengine-client"
  # "configure automatically: no" -- the packages then set up no cell of their own
  debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean false
gridengine-master shared/gridengineconfig boolean false
gridengine-exec shared/gridengineconfig boolean false
gridengine-client shared/gridengineconfig boolean false
EOF
  made_policy=0                    # keep the postinst scripts from starting daemons
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
  mkdir -p "$SGELAB"
  [ -n "$(find /var/lib/apt/lists -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      gridengine-master gridengine-exec gridengine-client >"$SGELAB/apt.log" 2>&1 ||
    { [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; tail -n 20 "$SGELAB/apt.log" >&2; exit 1; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ---------------------------------------------------------------- wanted state
# PITFALL: SGE insists that forward and reverse lookups agree. Here `hostname`
# = vm -> 127.0.0.1 -> reverse "localhost", and every client gets
#   commlib error: access denied (client IP resolved to host name "localhost".
#   This is not identical to clients host name "vm")
# host_aliases maps the reverse name(s) back to $H; /etc/hosts stays untouched.
ip=$(getent ahostsv4 "$H" | awk 'NR==1{print $1}')
[ -n "$ip" ] || die "hostname $H does not resolve"
rev=$(/usr/lib/gridengine/gethostbyaddr "$ip" 2>/dev/null | awk '/^Hostname:/{print $2}')
aliases=localhost; [ -n "$rev" ] && [ "$rev" != "$H" ] && [ "$rev" != localhost ] && aliases="$aliases $rev"
WANT="host=$H aliases=$aliases ports=$SGE_QMASTER_PORT/$SGE_EXECD_PORT slots=$SLOTS queue=$Q pe=$PE minid=$MINID login_shells=none"

queue_ok() { [ "$(timeout 10 qstat -f -q "$Q" 2>/dev/null | awk -v q="$Q@$H" '$1==q{print (NF>=6 ? $6 : "ok")}')" = ok ]; }
if [ "$(cat "$SGELAB/state" 2>/dev/null)" = "$WANT" ] && alive "$SGELAB/run/qmaster.pid" &&
   alive "$SGELAB/run/execd.pid" && queue_ok; then
  log "already running (qmaster port $SGE_QMASTER_PORT, queue $Q@$H); . $HERE/env.sh"
  exit 0
fi
"$HERE/down.sh" >/dev/null 2>&1 || true

# ---------------------------------------------------------------- 1. fresh private cell
rm -rf "$SGE_ROOT" "$SPOOL" "$SGELAB/conf" "$SGELAB/run" "$SGELAB/log"
mkdir -p "$SGE_ROOT" "$SGELAB/conf" "$SGELAB/run" "$SGELAB/log" "$SGELAB/bin"
chmod 755 "$SGELAB" "$SGELAB/bin"
for d in bin lib utilbin util; do ln -s "/var/lib/gridengine/$d" "$SGE_ROOT/$d"; done
install -d -o sgeadmin -g sgeadmin -m 755 "$SGE_ROOT/$SGE_CELL" "$C" \
  "$SPOOL" "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$SPOOL/execd"
sed -e "s#^spooling_params .*#spooling_params         $SPOOL/spooldb#" \
    -e "s#^qmaster_spool_dir .*#qmaster_spool_dir       $SPOOL/qmaster#" \
    /usr/share/gridengine/default-bootstrap > "$C/bootstrap"
echo "$H" > "$C/act_qmaster"
echo "$H $aliases" > "$C/host_aliases"
cat > "$C/settings.sh" <<EOF
export SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL SGE_QMASTER_PORT=$SGE_QMASTER_PORT SGE_EXECD_PORT=$SGE_EXECD_PORT
EOF
chown sgeadmin:sgeadmin "$C"/*; chmod 644 "$C"/*
# Global configuration (accounting flushed every 1 s, so qacct -j sees a job at
# once instead of after up to 15 s). login_shells none: Debian's default starts
# bash/sh jobs as LOGIN shells, which run the job user's ~/.profile (root's, here,
# may run `pyenv init` and its rehash lock: a job killed with SIGKILL -- qdel, h_rt --
# during it leaves /root/.pyenv/shims/.pyenv-shim behind, and every later job then
# waits 60 s "pyenv: cannot rehash: couldn't acquire lock"). Jobs start as plain
# `bash script` instead, independent of the user's dotfiles.
# PITFALL: Debian's min_uid/min_gid 1000 refuse root:
#   "Unable to run job: job rejected: your user id 0 is lower than minimum user id 1000 of cluster configuration"
sed -e "s/^min_uid .*/min_uid                $MINID/" -e "s/^min_gid .*/min_gid                $MINID/" \
    -e "s#^execd_spool_dir .*#execd_spool_dir        $SPOOL/execd#" \
    -e "s#flush_time=00:00:15#flush_time=00:00:01#" \
    -e "s/^login_shells .*/login_shells           none/" \
    /usr/share/gridengine/default-configuration > "$SGELAB/conf/global"
chmod 755 "$SGELAB/conf"; chmod 644 "$SGELAB/conf/global"
su -s /bin/sh sgeadmin -c "
  set -e
  export SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL
  /usr/lib/gridengine/spoolinit berkeleydb libspoolb $SPOOL/spooldb init
  /usr/lib/gridengine/spooldefaults configuration $SGELAB/conf/global
  /usr/lib/gridengine/spooldefaults complexes /usr/share/gridengine/util/resources/centry
  /usr/lib/gridengine/spooldefaults usersets /usr/share/gridengine/util/resources/usersets
  /usr/lib/gridengine/spooldefaults managers sgeadmin
" > "$SGELAB/log/init.log" 2>&1 || { cat "$SGELAB/log/init.log" >&2; die "cell init failed"; }
# client commands for PATH (env.sh puts $SGELAB/bin first): the Debian
# wrappers, which honour SGE_ROOT/SGE_CELL from the environment
for c in qacct qalter qconf qdel qhold qhost qmod qping qquota qrls qrsh qselect qstat qsub; do
  ln -sf "/usr/bin/$c" "$SGELAB/bin/$c"
done
log "private cell $SGE_ROOT/$SGE_CELL, spool $SPOOL, host_aliases: $H $aliases"

# ---------------------------------------------------------------- 2. qmaster
# SGE_ND=1 ("no daemonize"): stays in the foreground, so $! is the daemon
# (the /usr/sbin wrapper execs the binary) -- without it the daemons fork and
# leave a zombie under PID 1.
start() { # name binary
  SGE_ND=1 SGELAB_DAEMON=$SGELAB setsid "$2" </dev/null >"$SGELAB/log/$1.out" 2>&1 &
  echo $! > "$SGELAB/run/$1.pid"
}
start qmaster /usr/sbin/sge_qmaster
for _ in $(seq 120); do
  timeout 5 qconf -sh >/dev/null 2>&1 && break
  alive "$SGELAB/run/qmaster.pid" || { cat "$SGELAB/log/qmaster.out" >&2; die "sge_qmaster died"; }
  sleep 0.25
done
timeout 5 qconf -sh >/dev/null 2>&1 || die "qmaster not answering on port $SGE_QMASTER_PORT"
log "qmaster up (pid $(cat "$SGELAB/run/qmaster.pid"), port $SGE_QMASTER_PORT)"

# ---------------------------------------------------------------- 3. configuration
# qconf -ae/-aq/-ap open $EDITOR; -Ae/-Aq/-Ap FILE do the same from a file.
W=$SGELAB/conf
qconf -as "$H" >>"$SGELAB/log/qconf.log" 2>&1           # submit host
qconf -ssconf > "$W/sched"
sed -i -e 's/^schedule_interval .*/schedule_interval                 0:0:1/' \
       -e 's/^flush_submit_sec .*/flush_submit_sec                  1/' \
       -e 's/^flush_finish_sec .*/flush_finish_sec                  1/' "$W/sched"
qconf -Msconf "$W/sched" >>"$SGELAB/log/qconf.log" 2>&1  # schedule every 1 s, not 15 s
cat > "$W/exechost" <<EOF
hostname              $H
load_scaling          NONE
complex_values        NONE
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
EOF
qconf -Ae "$W/exechost" >>"$SGELAB/log/qconf.log" 2>&1
# PE first: the queue references it ('Parallel environment "smp" does not exist' otherwise)
cat > "$W/pe" <<EOF
pe_name            $PE
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    \$pe_slots
control_slaves     TRUE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
qconf -Ap "$W/pe" >>"$SGELAB/log/qconf.log" 2>&1
# load_thresholds NONE: the template's np_load_avg=1.75 puts the queue in
# alarm state (a) on a busy 2-core box, and then nothing is scheduled.
cat > "$W/queue" <<EOF
qname                 $Q
hostlist              $H
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               $PE
rerun                 FALSE
slots                 $SLOTS
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      posix_compliant
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
qconf -Aq "$W/queue" >>"$SGELAB/log/qconf.log" 2>&1
qconf -sq "$Q" >/dev/null 2>&1 || { cat "$SGELAB/log/qconf.log" >&2; die "queue $Q not created"; }
log "configured: exec/submit host $H, PE $PE, queue $Q ($SLOTS slots)"

# ---------------------------------------------------------------- 4. execd
start execd /usr/sbin/sge_execd
for _ in $(seq 120); do
  queue_ok && break
  alive "$SGELAB/run/execd.pid" || { cat "$SGELAB/log/execd.out" >&2; die "sge_execd died"; }
  sleep 0.25
done
queue_ok || { qstat -f >&2; die "queue $Q@$H not ready"; }
echo "$WANT" > "$SGELAB/state"
log "execd up (pid $(cat "$SGELAB/run/execd.pid"), port $SGE_EXECD_PORT), queue $Q@$H ready -- total $(el)"
echo "sge-up: . $HERE/env.sh   (SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL SGE_QMASTER_PORT=$SGE_QMASTER_PORT, PATH=$SGELAB/bin first)"
