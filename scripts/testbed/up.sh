#!/bin/bash
# up.sh [--nodes N | --netns-only N] -- bring the lab up, ready for the Slurm / multi-host tests.
#   up.sh              single-node Slurm on this host (127.0.0.1)
#   up.sh --nodes 3    emulated hosts n1..n3 (netns, ib0) with one slurmd each
#   up.sh --netns-only 3   only the emulated hosts, no Slurm (mpirun across hosts)
# Then: . scripts/testbed/env.sh  (SLURM_CONF, PATH, OMPI_ALLOW_RUN_AS_ROOT*).
# Undo everything with down.sh. Settings (LAB, LAB_PREFIX, LAB_NET, ...): lab-env.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lab-env.sh"
case ${1:-} in
  "") exec "$HERE/slurm-up.sh" ;;
  --nodes) exec "$HERE/slurm-up.sh" --nodes "${2:?--nodes N}" ;;
  --netns-only) exec "$HERE/netns-up.sh" "${2:?--netns-only N}" ;;
  *) echo "usage: $0 [--nodes N | --netns-only N]" >&2; exit 2 ;;
esac
