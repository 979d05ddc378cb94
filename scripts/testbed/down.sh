#!/bin/bash
# down.sh -- undo up.sh completely: cancel jobs, stop every daemon the lab started (by PID),
# delete its namespaces, veths and bridge, and remove $LAB. Idempotent.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lab-env.sh"
rc=0
"$HERE/slurm-down.sh" --purge || rc=1
"$HERE/netns-down.sh" || rc=1
# Only what the lab writes; $LAB itself goes if nothing else is left in it.
rm -rf "$LAB/cluster" "$LAB/munge" "$LAB/net" "$LAB/jobs"
rmdir "$LAB" 2>/dev/null || true
[ -e "$LAB" ] && { echo "down.sh: $LAB still holds: $(ls -A "$LAB" | tr '\n' ' ')" >&2; }
exit $rc
