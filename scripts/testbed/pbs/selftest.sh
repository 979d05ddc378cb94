#!/bin/bash
# selftest.sh -- end-to-end proof of the OpenPBS bed; writes $OUT (default
# $PBSLAB/PROOF.txt). [build.sh if PBS_SOURCE is set] -> up.sh -> jobs -> down.sh,
# then proves that no process, namespace or link is left. Every command is echoed
# with "$ " before its output. ~35 s (+2.5 min if /opt/pbs must be built).
# Same knobs as up.sh (PBSLAB, PBS_NS, PBS_NET, ...).
#   TEST_USER=name   normal user for the non-root checks (default jqtest;
#                    created with useradd -m if missing, and left in place)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export PBSLAB=${PBSLAB:-/var/spool/mpi-cluster-pbs}
NS=${PBS_NS:-pbshead}
export PBS_NET=${PBS_NET:-10.79.0}
NODE=$(command -v node)
mkdir -p "$PBSLAB"; chmod 755 "$PBSLAB"
OUT=${OUT:-$PBSLAB/PROOF.txt}
TEST_USER=${TEST_USER:-jqtest}
. "$HERE/env.sh"
W=$PBSLAB/selftest
exec > >(tee "$OUT") 2>&1
T0=$(date +%s.%N)
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f s", b-a}'; }
run() { echo "\$ $*"; bash -c "$*"; local rc=$?; echo "[rc=$rc]"; echo; return $rc; }
hdr() { echo; echo "=================== $* ==================="; }
FAIL=0
ok()  { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; FAIL=$((FAIL+1)); }
chk() { "$@" || FAIL=$((FAIL+1)); }
waitfor() { local t=$1; shift; local i; for i in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done; return 1; }
jstate() { qstat -x -f "$1" 2>/dev/null | awk '/^ *job_state = /{print $3}'; }
is() { [ "$(jstate "$1")" = "$2" ]; }
jattr() { qstat -x -f "$1" 2>/dev/null | awk -v k="$2" '$1==k{print $3}'; }
# listen ADDR: one-shot TCP listener (node) in the root namespace; sets LPID, LPORT, LLOG
listen() {
  LLOG=$W/listener-$RANDOM.log; rm -f "$LLOG.port"
  node -e '
    const net = require("net"), fs = require("fs"), [addr, pf] = process.argv.slice(1);
    const s = net.createServer(c => { console.log(`listener ${addr}: connection from ${c.remoteAddress}`); c.end(); process.exit(0); });
    s.listen(0, addr, () => { fs.writeFileSync(pf, String(s.address().port)); console.log(`listener: listening on ${addr}:${s.address().port}`); });
    setTimeout(() => { console.log("listener: no connection in 60 s"); process.exit(3); }, 60000);' "$1" "$LLOG.port" >"$LLOG" 2>&1 &
  LPID=$!
  waitfor 10 test -s "$LLOG.port"; LPORT=$(cat "$LLOG.port" 2>/dev/null)
}

hdr "environment"
run 'date -u; uname -r; nproc; . /etc/os-release; echo $PRETTY_NAME; node --version'
run "cat /opt/pbs/.testbed-build; /opt/pbs/bin/qstat --version"
run 'dpkg-query -W -f "\${Package} \${Version}\n" postgresql-15 libpq5 python3 | column -t'

hdr "1. build (skipped when /opt/pbs holds this build; only with PBS_SOURCE set)"
if [ -n "${PBS_SOURCE:-}" ]; then chk run "time $HERE/build.sh"; else run "cat /opt/pbs/.testbed-build   # PBS_SOURCE unset: not rebuilt"; fi

hdr "2. up: all daemons in netns $NS"
run "$HERE/down.sh >/dev/null   # start from nothing"
chk run "time $HERE/up.sh"
chk run "time $HERE/up.sh   # again: idempotent"
run "cat $PBSLAB/etc/client.conf; echo; cat $PBSLAB/net/hosts"
run "ip -br addr show dev veth-$NS; ip netns exec $NS ip -br addr; ip netns exec $NS ip route"
run 'for d in comm mom sched server; do p=$(cat $PBSLAB/run/$d.pid); echo "pbs_$d pid=$p netns=$(readlink /proc/$p/ns/net) comm=$(cat /proc/$p/comm)"; done; echo "root netns=$(readlink /proc/self/ns/net) '$NS'=net:[$(stat -L -c %i /var/run/netns/'$NS')]"'
run "ip netns exec $NS ss -ltnp | awk 'NR==1||/pbs|postgres/' | sed 's/users:((\"\\([^\"]*\\)\".*/\\1/'   # ports exist only inside the namespace"
run "ss -ltn | awk '\$4 ~ /:(15001|15002|15003|15004|15007|17001)\$/' | grep . || echo 'root namespace: no PBS port open'"
run "grep -w $NS /etc/hosts || echo 'root /etc/hosts: no $NS line (untouched)'; ls -l /etc/pbs.conf 2>&1 | sed 's/^/(not used) /'"
run 'type -a qsub qstat qdel | head -6; echo "PBS_CONF_FILE=$PBS_CONF_FILE"'
chk run "qstat -B; pbsnodes -av | grep -E '^[a-z]|state =|ncpus|resources_available.mem'"
chk run "$HERE/nsrun sh -c 'hostname; qstat -B | tail -1'   # clients inside the namespace work too"

rm -rf "$W"; mkdir -p "$W/logs"; chmod 755 "$W"; cd "$W"

hdr "3. dask-jobqueue-style job script: runs, reaches the root namespace, output in -o/-e dirs"
listen "$PBS_GW"
echo "$(head -1 "$LLOG")"
cat > job.sh <<EOF
#!/usr/bin/env bash
#PBS -N dask-worker
#PBS -q workq
#PBS -l select=1:ncpus=1:mem=1GB
#PBS -l walltime=00:05:00
#PBS -o $W/logs/
#PBS -e $W/logs/
echo "PBS_JOBID=\$PBS_JOBID PBS_JOBNAME=\$PBS_JOBNAME PBS_QUEUE=\$PBS_QUEUE NCPUS=\$NCPUS OMP_NUM_THREADS=\$OMP_NUM_THREADS host=\$(hostname) PBS_O_HOST=\$PBS_O_HOST PBS_O_WORKDIR=\$PBS_O_WORKDIR"
echo "nodefile: \$(cat \$PBS_NODEFILE)  TMPDIR=\$TMPDIR  cwd=\$(pwd)"
# a Dask-style worker connects back to a scheduler in the root namespace:
bash -c 'echo > /dev/tcp/$PBS_GW/$LPORT' && echo "TCP to $PBS_GW:$LPORT OK"
echo "to stderr" >&2
EOF
run "cat job.sh"
t=$(now); J=$(qsub job.sh); echo "qsub job.sh -> $J"
case $J in [0-9]*.$NS) ok "qsub prints the job id: $J" ;; *) bad "qsub output '$J'" ;; esac
waitfor 30 is "$J" F && ok "job $J finished (state F) after $(since "$t"), Exit_status=$(jattr "$J" Exit_status)" || bad "job $J state '$(jstate "$J")'"
waitfor 10 test -s "logs/$J.OU" && ok "output file logs/$J.OU appeared after $(since "$t")" || bad "no logs/$J.OU: $(ls logs)"
run "ls -l logs; cat logs/$J.OU; echo '--- .ER:'; cat logs/$J.ER"
grep -q "TCP to $PBS_GW:$LPORT OK" "logs/$J.OU" && ok "job reached the root namespace at $PBS_GW:$LPORT" || bad "job could not reach $PBS_GW:$LPORT"
wait "$LPID"; echo "$(tail -1 "$LLOG")"
grep -q "connection from $PBS_NET.1" "$LLOG" && ok "listener saw the job's connection from $PBS_NET.1" || bad "listener: $(cat "$LLOG")"
run "qstat -x -f $J | grep -E 'job_state|Exit_status|Resource_List|exec_host|Output_Path|Error_Path|Job_Owner|euser'"
chk run "qstat -x -f -F json $J | python3 -c 'import json,sys; d=json.load(sys.stdin); j=d[\"Jobs\"][\"$J\"]; print(\"json: job_state=%s Exit_status=%s select=%s walltime=%s mem=%s\" % (j[\"job_state\"], j[\"Exit_status\"], j[\"Resource_List\"][\"select\"], j[\"Resource_List\"][\"walltime\"], j[\"Resource_List\"][\"mem\"]))'"

hdr "3b. Node.js in a job (absolute path $NODE), TCP from node to a node listener on $PBS_GW, resource requests"
listen "$PBS_GW"
t=$(now); J=$(qsub -N nodejob -l select=1:ncpus=1:mem=16GB -l walltime=00:05:00 -o "$W/logs/" -e "$W/logs/" -- \
  "$NODE" -e "console.log(process.version); require('net').connect($LPORT, '$PBS_GW', function () { console.log('node TCP to $PBS_GW:$LPORT OK'); this.end(); })")
echo "qsub ... -- $NODE -e ... -> $J"
waitfor 30 is "$J" F && waitfor 10 test -s "logs/$J.OU" && ok "node job $J (select=1:ncpus=1:mem=16GB) done after $(since "$t"): $(tr '\n' ' ' < "logs/$J.OU")" || bad "node job $J: state '$(jstate "$J")', $(cat "logs/$J.OU" "logs/$J.ER" 2>&1)"
grep -qx "$(node -p process.version)" "logs/$J.OU" && ok "job printed $(node -p process.version)" || bad "node version not in logs/$J.OU"
grep -q "node TCP to $PBS_GW:$LPORT OK" "logs/$J.OU" && ok "node in the job connected to node on $PBS_GW:$LPORT" || bad "node TCP: $(cat "logs/$J.OU" "logs/$J.ER" 2>&1)"
wait "$LPID"; echo "$(tail -1 "$LLOG")"
for req in "select=1:ncpus=8:mem=200GB" "select=1:ncpus=2:mem=16gb -l place=pack" "ncpus=4 -l mem=16GB" "select=1:ncpus=1:mem=16GB -l walltime=01:00:00 -q workq"; do
  t=$(now); J=$(qsub -l $req -o "$W/logs/" -e "$W/logs/" -- /bin/true 2>&1)
  if waitfor 30 is "$J" F; then ok "-l $req: $J ran, Exit_status=$(jattr "$J" Exit_status) ($(since "$t"))"; else bad "-l $req: '$J' state '$(jstate "$J")' $(qstat -f "$J" 2>/dev/null | sed -n 's/^ *comment = //p')"; fi
done

hdr "4. states in qstat, qdel of a running job"
t=$(now); J=$(echo 'echo started; sleep 300' | qsub -N sleeper -l select=1:ncpus=1:mem=1GB -l walltime=00:05:00 -o "$W/logs/" -e "$W/logs/")
waitfor 30 is "$J" R && ok "job $J running (R) $(since "$t") after qsub" || bad "job $J state '$(jstate "$J")'"
run "qstat; qstat -a $J; qstat -s $J | tail -1"
chk run "qstat -f -F json | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: v[\"job_state\"] for k, v in d.get(\"Jobs\", {}).items()})'"
t=$(now); run "qdel $J"
waitfor 30 is "$J" F && ok "qdel $J -> F in $(since "$t"), Exit_status=$(jattr "$J" Exit_status)" || bad "after qdel: state '$(jstate "$J")'"
waitfor 10 test -e "logs/$J.OU" && ok "qdel'd job's output still staged: logs/$J.OU ($(cat "logs/$J.OU"))" || bad "no output after qdel"
run "qstat $J; qstat -x $J   # finished jobs only with -x (job_history_enable=True)"
run "qstat -x -f $J | grep -E 'Exit_status|comment|resources_used.walltime'"

hdr "5. walltime is enforced"
t=$(now); J=$(echo 'sleep 120; echo NOT-KILLED' | qsub -N wt -l select=1:ncpus=1 -l walltime=00:00:05 -o "$W/logs/" -e "$W/logs/")
if waitfor 60 is "$J" F; then
  ok "walltime=00:00:05 job $J killed after $(since "$t") (Exit_status=$(jattr "$J" Exit_status))"
else bad "walltime not enforced: state '$(jstate "$J")'"; fi
waitfor 10 test -e "logs/$J.ER"; run "cat logs/$J.ER; echo \"NOT-KILLED lines in logs/$J.OU: \$(grep -c NOT-KILLED logs/$J.OU)\"; qstat -x -f $J | grep -E 'Exit_status|resources_used.walltime'"

hdr "6. a request that can never run stays queued"
J=$(echo true | qsub -l select=1:ncpus=64 -l walltime=00:01:00)
sleep 2
is "$J" Q && ok "ncpus=64 job $J stays Q: $(qstat -f "$J" | sed -n 's/^ *comment = //p')" || bad "state '$(jstate "$J")'"
run "qdel $J"; waitfor 10 is "$J" F && ok "qdel of a queued job -> F" || bad "queued qdel"

hdr "7. normal user ($TEST_USER) from the root namespace; root inside the namespace"
if ! id "$TEST_USER" >/dev/null 2>&1; then
  for _ in 1 2 3 4 5; do useradd -m -s /bin/bash "$TEST_USER" 2>/dev/null; id "$TEST_USER" >/dev/null 2>&1 && break; sleep 1; done
  echo "created user $TEST_USER (useradd -m; left in place)"
fi
mkdir -p "$W/user"; chown "$TEST_USER" "$W/user"
t=$(now)
run "su $TEST_USER -c 'cd $W/user && PBS_CONF_FILE=$PBS_CONF_FILE /opt/pbs/bin/qsub -N userjob -l select=1:ncpus=1:mem=1GB -l walltime=00:01:00 -- /usr/bin/id' | tee $W/user.jid"
J=$(cat "$W/user.jid")
waitfor 30 test -s "$W/user/userjob.o${J%%.*}" && grep -q "($TEST_USER)" "$W/user/userjob.o${J%%.*}" &&
  ok "job $J ran as $TEST_USER: $(cat "$W/user/userjob.o${J%%.*}") (default name <name>.o<seq> in the submit dir, after $(since "$t"))" || bad "user job: $(ls -l "$W/user")"
run "ls -l $W/user; qstat -x -f $J | grep -E 'Job_Owner|euser'"
run "$HERE/nsrun sh -c 'cd $W && J=\$(qsub -N inside -j oe -o $W/inside.out -- /bin/hostname) && echo \$J && while ! test -s $W/inside.out; do sleep 0.2; done; cat $W/inside.out'"

hdr "8. name clash with SGE: PATH decides"
run "env PATH=/usr/bin:/bin sh -c 'command -v qsub; qsub -help 2>&1 | head -1' || true"
run "command -v qsub; qsub --version"

hdr "9. down"
cd /
NSINO=$(stat -L -c %i /var/run/netns/$NS 2>/dev/null || echo none)
chk run "time $HERE/down.sh"
chk run "$HERE/down.sh   # again: idempotent no-op"
left() {
  local d p
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" = Z ] && continue
    [ "$p" = $$ ] || [ "$(awk '{print $4}' "$d/stat" 2>/dev/null)" = $$ ] && continue   # this script and its tee
    if readlink "$d/exe" 2>/dev/null | grep '^/opt/pbs/' >/dev/null ||
       [ "$(stat -L -c %i "$d/ns/net" 2>/dev/null)" = "$NSINO" ] ||
       { tr '\0' '\n' < "$d/environ"; } 2>/dev/null | grep -x "PBSLAB_DAEMON=$PBSLAB" >/dev/null ||
       { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | grep -F "$PBSLAB/" >/dev/null; then
      echo "left: pid $p $({ tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | cut -c1-100)"
    fi
  done
}
L=$(left)
[ -z "$L" ] && ok "no process left (none in the old netns, no /opt/pbs executable, no PBSLAB_DAEMON marker, none with $PBSLAB/ in its command line)" || { bad "processes left:"; echo "$L"; }
[ ! -e /var/run/netns/$NS ] && ! ip link show veth-$NS >/dev/null 2>&1 && ok "netns $NS and veth-$NS are gone" || bad "netns/link left"
run "ip netns list | grep -w $NS || echo 'no netns $NS'; ip -br link | grep veth-$NS || echo 'no link veth-$NS'"
echo "SELFTEST: $FAIL failed checks, $(since "$T0") in all"
exit $FAIL
