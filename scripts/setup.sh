#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 / Ubuntu with Node 20: system packages, npm
# dependencies, the native MPI binding for every MPI flavour, and the TypeScript build.
#   scripts/setup.sh          (as root, or a user with sudo)
set -euo pipefail

cd "$(dirname "$0")/.."

# MPI implementations and the native toolchain.
BASE_PACKAGES="openmpi-bin libopenmpi-dev mpich libmpich-dev cmake g++ make python3"
# >>> Later layers add their system packages here (Slurm test cluster, networking tools).
EXTRA_PACKAGES="slurm-wlm slurmctld slurmd slurm-client munge iproute2"
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
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
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

step "done: try \`mpirun -np 4 node examples/mpi-hello.js\`"
