#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 / Ubuntu with Node 20: system packages, npm
# dependencies, the native MPI binding for every MPI flavour, the TypeScript build, and
# OpenPBS for the PBS test bed when its source is given.
#   scripts/setup.sh                                        (as root, or a user with sudo)
#   PBS_SOURCE=path/to/openpbs-src.tar.xz scripts/setup.sh  also builds OpenPBS into /opt/pbs
#                                                           (once, ~2.5 min; scripts/testbed/pbs/build.sh)
set -euo pipefail

# A relative PBS_SOURCE is relative to where setup was called from.
if [ -n "${PBS_SOURCE:-}" ] && [ -e "$PBS_SOURCE" ]; then PBS_SOURCE=$(realpath "$PBS_SOURCE"); fi
cd "$(dirname "$0")/.."

# MPI implementations and the native toolchain.
BASE_PACKAGES="openmpi-bin libopenmpi-dev mpich libmpich-dev cmake g++ make python3"
# >>> Later layers add their system packages here (Slurm test cluster, networking tools,
# Son of Grid Engine for the SGE test bed, Chromium for the dashboard's browser test).
# python3-distributed: Dask, the peer npm run bench measures ours against (bench/dask_peer.py).
EXTRA_PACKAGES="slurm-wlm slurmctld slurmd slurm-client munge iproute2
  gridengine-master gridengine-exec gridengine-client chromium python3-distributed"
# <<<
PACKAGES="$BASE_PACKAGES $EXTRA_PACKAGES"

step() { echo "setup: $*"; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  SUDO="unavailable"
fi

missing=""
for package in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done

if [ -n "$missing" ]; then
  if [ "$SUDO" = "unavailable" ]; then
    echo "setup: missing system packages:$missing; run as root or install sudo" >&2
    exit 1
  fi
  step "installing system packages:$missing"
  # gridengine: answer "Configure SGE automatically?" with no, so the packages set up no cell
  # of their own (scripts/testbed/sge/up.sh makes a private one).
  $SUDO debconf-set-selections <<'EOF'
gridengine-common shared/gridengineconfig boolean false
gridengine-master shared/gridengineconfig boolean false
gridengine-exec shared/gridengineconfig boolean false
gridengine-client shared/gridengineconfig boolean false
EOF
  # No daemon of these packages (sge_qmaster, sge_execd, munged, slurmctld, exim4, ...) is
  # started by their install scripts: the test beds start their own. A temporary
  # policy-rc.d says no, unless the system already has one.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $SUDO apt-get update -qq
  apt_rc=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing || apt_rc=$?
  if [ "$made_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
  [ "$apt_rc" = 0 ] || exit "$apt_rc"
else
  step "system packages present"
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

step "installing npm dependencies (npm install, as locked)"
# Not `npm ci`: npm 11 writes lock entries only for this platform's optional packages (jest's
# unrs-resolver bindings) and `npm ci` then refuses the lock as out of sync. `npm install` with
# the lock installs the same versions; --no-save keeps it from writing this platform's entries
# into package-lock.json, so the tree stays clean after set-up.
npm install --no-audit --no-fund --no-save

step "building the native MPI binding for every MPI flavour found"
node scripts/build-native.js --all

step "building TypeScript (dist/)"
npx tsc -p tsconfig.build.json

# OpenPBS has no Debian package: the PBS test bed (scripts/testbed/pbs) needs it built from
# source into /opt/pbs, which build.sh does (with its own apt build dependencies).
if [ -x /opt/pbs/sbin/pbs_server.bin ] && [ -e /opt/pbs/.testbed-build ]; then
  step "OpenPBS present in /opt/pbs ($(/opt/pbs/bin/qstat --version 2>/dev/null || echo 'version unknown'))"
elif [ -n "${PBS_SOURCE:-}" ] && [ -f "$PBS_SOURCE" ]; then
  if [ "$SUDO" = "unavailable" ]; then
    echo "setup: building OpenPBS needs root or sudo" >&2
    exit 1
  fi
  step "building OpenPBS from $PBS_SOURCE into /opt/pbs (~2.5 min)"
  $SUDO env PBS_SOURCE="$PBS_SOURCE" scripts/testbed/pbs/build.sh
else
  step "OpenPBS not built (set PBS_SOURCE=path/to/openpbs-src.tar.xz to build it); the PBS tests will be skipped"
fi

step "done: try \`mpirun -np 4 node examples/mpi-hello.js\`"
