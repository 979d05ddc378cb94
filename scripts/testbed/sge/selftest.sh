#!/bin/bash
# selftest.sh -- end-to-end proof of the SGE bed; writes $OUT (default
# $SGELAB/PROOF.txt, kept by down.sh, removed by down.sh --purge). up.sh -> jobs ->
# down.sh, then proves that no process is left. Every command is echoed with "$ "
# before its output. ~40 s. Same knobs as up.sh (SGELAB, SGE_QMASTER_PORT, ...).
#   TEST_USER=name   normal user for the non-root checks (default jqtest;
#                    created with useradd -m if missing, and left in place)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export SGELAB=${SGELAB:-/tmp/mpi-cluster-sge}
NODE=$(command -v node)
mkdir -p "$SGELAB"
OUT=${OUT:-$SGELAB/PROOF.txt}
TEST_USER=${TEST_USER:-jqtest}
. "$HERE/env.sh"
W=$SGELAB/selftest
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
jstate() { qstat -u '*' | awk -v j="$1" '$1==j{print $5}'; }
is() { [ "$(jstate "$1")" = "$2" ]; }
gone() { [ -z "$(jstate "$1")" ]; }
acct() { qacct -j "$1" 2>/dev/null | awk -v k="$2" '$1==k{$1=""; sub(/^ +/, ""); print}'; }
inacct() { [ -n "$(acct "$1" exit_status)" ]; }   # accounting record written (flush_time 1 s)
# listen ADDR: one-shot TCP listener (node); sets LPID, LPORT, LLOG
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
run 'date -u; uname -r; nproc; . /etc/os-release; echo $PRETTY_NAME; hostname; getent ahostsv4 $(hostname) | head -1'
run 'dpkg-query -W -f "\${Package} \${Version}\n" gridengine-master gridengine-exec gridengine-client | column -t'

hdr "1. up: private cell under \$SGELAB, loopback, ports $SGE_QMASTER_PORT/$SGE_EXECD_PORT"
run "$HERE/down.sh >/dev/null   # start from nothing"
chk run "time $HERE/up.sh"
chk run "time $HERE/up.sh   # again: idempotent"
run "ls -l $SGE_ROOT; cat $SGE_ROOT/default/common/act_qmaster $SGE_ROOT/default/common/host_aliases"
run "ss -ltnp | grep -E ':($SGE_QMASTER_PORT|$SGE_EXECD_PORT) ' | sed 's/users:((\"\\([^\"]*\\)\".*/\\1/'"
run 'type -a qsub | head -3; env | grep -E "^SGE_" | sort'
chk run "qstat -f; qhost"
run "qconf -sq ${SGE_QUEUE:-all.q} | grep -E '^(qname|hostlist|slots|pe_list|load_thresholds|tmpdir|shell) '; qconf -sp ${SGE_PE:-smp} | grep -E '^(pe_name|slots|allocation_rule) '"

rm -rf "$W"; mkdir -p "$W/logs"; chmod 755 "$W"; cd "$W"

hdr "2. dask-jobqueue-style job script: runs, output file appears"
listen 127.0.0.1
echo "$(head -1 "$LLOG")"
cat > job.sh <<EOF
#!/usr/bin/env bash
#\$ -N dask-worker
#\$ -q ${SGE_QUEUE:-all.q}
#\$ -pe ${SGE_PE:-smp} 1
#\$ -l h_rt=00:05:00
#\$ -cwd
#\$ -j y
#\$ -o $W/logs/
echo "JOB_ID=\$JOB_ID JOB_NAME=\$JOB_NAME QUEUE=\$QUEUE PE=\$PE NSLOTS=\$NSLOTS host=\$(hostname) SGE_O_HOST=\$SGE_O_HOST cwd=\$(pwd)"
echo "PE_HOSTFILE: \$(cat \$PE_HOSTFILE)  TMPDIR='\$TMPDIR' TMP=\$TMP"
bash -c 'echo > /dev/tcp/127.0.0.1/$LPORT' && echo "TCP to 127.0.0.1:$LPORT OK"
echo "to stderr (joined by -j y)" >&2
EOF
run "cat job.sh"
t=$(now); S=$(qsub job.sh); echo "qsub job.sh -> $S"
J=$(sed -n 's/^Your job \([0-9]*\) .*/\1/p' <<<"$S")
[ -n "$J" ] && ok "qsub printed '$S' -> job id $J" || bad "qsub output '$S'"
waitfor 30 test -s "logs/dask-worker.o$J" && ok "output file logs/dask-worker.o$J appeared after $(since "$t")" || bad "no output: $(ls logs)"
waitfor 30 gone "$J" && ok "job $J left qstat after $(since "$t")" || bad "job $J still '$(jstate "$J")'"
run "ls -l logs; cat logs/dask-worker.o$J"
grep -q "TCP to 127.0.0.1:$LPORT OK" "logs/dask-worker.o$J" && ok "job reached a listener on 127.0.0.1:$LPORT" || bad "no TCP"
wait "$LPID"; echo "$(tail -1 "$LLOG")"
waitfor 10 inacct "$J"
run "qstat -s z | awk -v j=$J 'NR<=2 || \$1==j'   # recently finished jobs (state z)"
run "qacct -j $J | grep -E '^(jobname|jobnumber|qname|granted_pe|slots|failed|exit_status|ru_wallclock) '   # history"

hdr "2b. Node.js in a job (absolute path $NODE), resource requests"
t=$(now); J=$(qsub -terse -N nodejob -cwd -j y -o "$W/logs/" -l h_rt=00:05:00,h_vmem=16G -pe ${SGE_PE:-smp} 1 -b y "$NODE" -e "'console.log(process.version)'")
echo "qsub -terse ... -b y $NODE -e ... -> $J"
waitfor 30 gone "$J" && waitfor 10 test -s "logs/nodejob.o$J" && ok "node job $J (h_rt=00:05:00,h_vmem=16G, pe smp 1) done after $(since "$t"): $(tr '\n' ' ' < "logs/nodejob.o$J")" || bad "node job $J: '$(jstate "$J")', $(cat "logs/nodejob.o$J" 2>&1)"
grep -qx "$(node -p process.version)" "logs/nodejob.o$J" && ok "job printed $(node -p process.version)" || bad "node version not in logs/nodejob.o$J"
for req in "-pe ${SGE_PE:-smp} 8" "-pe ${SGE_PE:-smp} 4 -l h_vmem=4G" "-l h_rt=3600 -l s_rt=3500" "-l h_vmem=16G,s_vmem=15G" "-l mem_free=1G" "-l virtual_free=1G" "-l h_cpu=600" "-l h_rss=16G" "-l h_data=16G"; do
  t=$(now); J=$(qsub -terse -cwd -j y -o "$W/logs/" $req -b y /bin/true 2>&1)
  case $J in [0-9]*) ;; *) bad "qsub $req: $J"; continue ;; esac
  if waitfor 30 gone "$J"; then waitfor 10 inacct "$J"; ok "$req: job $J ran (failed=$(acct "$J" failed), exit_status=$(acct "$J" exit_status), $(since "$t"))"
  else bad "$req: job $J '$(jstate "$J")': $(qstat -j "$J" | sed -n '/scheduling info/,$p' | head -3)"; qdel "$J" >/dev/null 2>&1; fi
done

hdr "3. states, qstat -j / -xml, qdel of a running job"
t=$(now); J=$(qsub -terse -N sleeper -pe ${SGE_PE:-smp} 1 -l h_rt=00:05:00 -cwd -j y -o "$W/logs/" -b y sleep 300)
echo "qsub -terse -> $J"
waitfor 30 is "$J" r && ok "job $J running (r) $(since "$t") after qsub" || bad "job $J state '$(jstate "$J")'"
run "qstat; qstat -j $J | grep -E '^(job_number|job_name|owner|cwd|hard resource_list|parallel environment|usage)'"
chk run "qstat -xml | grep -E '<JB_job_number>|<state>|<slots>' | sed 's/^ *//'"
t=$(now); run "qdel $J"
waitfor 30 gone "$J" && ok "qdel $J -> gone from qstat in $(since "$t")" || bad "after qdel: '$(jstate "$J")'"
waitfor 10 inacct "$J"; echo "qacct: failed=$(acct "$J" failed) exit_status=$(acct "$J" exit_status)"

hdr "4. h_rt is enforced"
cat > rt.sh <<'EOF'
#!/bin/bash
#$ -N rt
#$ -cwd
#$ -j y
#$ -l h_rt=00:00:05
sleep 120; echo NOT-KILLED
EOF
t=$(now); J=$(qsub -terse -o "$W/logs/" rt.sh)
if waitfor 60 gone "$J"; then
  dt=$(since "$t"); waitfor 10 inacct "$J"
  ! grep -q NOT-KILLED "logs/rt.o$J" && ok "h_rt=00:00:05 job $J killed, gone from qstat after $dt (qacct: failed=$(acct "$J" failed), exit_status=$(acct "$J" exit_status))" || bad "h_rt job was not killed"
else bad "h_rt job $J still '$(jstate "$J")'"; fi

hdr "5. a request that can never run stays pending (qw)"
J=$(qsub -terse -b y -pe ${SGE_PE:-smp} 999 /bin/true)
sleep 3
is "$J" qw && ok "pe smp 999 job $J stays qw" || bad "job $J state '$(jstate "$J")'"
run "qstat -j $J | sed -n '/scheduling info/,\$p' | head -3"
run "qdel $J"; waitfor 10 gone "$J" && ok "qdel of a pending job" || bad "pending qdel"

hdr "6. normal user ($TEST_USER)"
if ! id "$TEST_USER" >/dev/null 2>&1; then
  for _ in 1 2 3 4 5; do useradd -m -s /bin/bash "$TEST_USER" 2>/dev/null; id "$TEST_USER" >/dev/null 2>&1 && break; sleep 1; done
  echo "created user $TEST_USER (useradd -m; left in place)"
fi
mkdir -p "$W/user"; chown "$TEST_USER" "$W/user"
t=$(now)
run "su $TEST_USER -c '. $HERE/env.sh && cd $W/user && qsub -terse -N userjob -cwd -j y -b y /usr/bin/id' | tee $W/user.jid"
J=$(cat "$W/user.jid")
waitfor 30 grep -qs "($TEST_USER)" "$W/user/userjob.o$J" &&
  ok "job $J ran as $TEST_USER: $(cat "$W/user/userjob.o$J") (-cwd, no -o: <name>.o<id> in the submit dir, after $(since "$t"))" || bad "user job: $(ls -l "$W/user")"
run "ls -l $W/user"

hdr "7. name clash with OpenPBS: PATH decides"
run "PATH=/opt/pbs/bin:\$PATH; command -v qsub; . $HERE/env.sh; command -v qsub; readlink -f \$(command -v qsub); qsub -help | head -1"

hdr "8. down"
cd /
chk run "time $HERE/down.sh"
chk run "$HERE/down.sh   # again: idempotent no-op"
left() {
  local d p exe env
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" = Z ] && continue
    exe=$(readlink "$d/exe" 2>/dev/null)
    env=$({ tr '\0' '\n' < "$d/environ"; } 2>/dev/null)
    if [[ $exe == /usr/lib/gridengine/* ]] || grep -qx "SGELAB_DAEMON=$SGELAB" <<<"$env" ||
       { grep -qx "SGE_ROOT=$SGE_ROOT" <<<"$env" && grep -q '^JOB_ID=' <<<"$env"; }; then
      echo "left: pid $p $exe $({ tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null | cut -c1-100)"
    fi
  done
}
L=$(left)
[ -z "$L" ] && ok "no process left (no /usr/lib/gridengine executable, no SGELAB_DAEMON=$SGELAB marker, no job with SGE_ROOT=$SGE_ROOT)" || { bad "processes left:"; echo "$L"; }
run "ss -ltn | grep -E ':($SGE_QMASTER_PORT|$SGE_EXECD_PORT) ' || echo 'ports $SGE_QMASTER_PORT/$SGE_EXECD_PORT closed'"
echo "SELFTEST: $FAIL failed checks, $(since "$T0") in all"
exit $FAIL
