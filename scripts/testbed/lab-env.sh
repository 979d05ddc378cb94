# lab-env.sh -- sourced by every testbed script: where the lab lives and how it is named.
# All of it can be set from the environment, so several labs can run side by side
# (the test suite gives each test file its own).
#   LAB          state directory (config, logs, keys, hosts file)   /tmp/mpi-cluster-lab
#   LAB_PREFIX   emulated host / netns / Slurm node names PREFIX1..N  n
#   LAB_NET      first three octets of the hosts' ib0 subnet          10.77.0
#   LAB_BRIDGE   bridge in the root netns (<= 15 characters)           ${LAB_PREFIX}labbr0
#   CTLD_PORT / SLURMD_PORT                                            16817 / 16818
LAB=${LAB:-/tmp/mpi-cluster-lab}
LAB_PREFIX=${LAB_PREFIX:-n}
LAB_NET=${LAB_NET:-10.77.0}
LAB_BRIDGE=${LAB_BRIDGE:-${LAB_PREFIX}labbr0}
CTLD_PORT=${CTLD_PORT:-16817}
SLURMD_PORT=${SLURMD_PORT:-16818}
export LAB LAB_PREFIX LAB_NET LAB_BRIDGE CTLD_PORT SLURMD_PORT
