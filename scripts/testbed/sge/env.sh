# env.sh -- source me:  . scripts/testbed/sge/env.sh      (POSIX sh / bash)
# Client environment for the SGE bed.
#  * SGE_ROOT/SGE_CELL: the private cell made by up.sh (without them the Debian
#    wrappers fall back to /etc/default/gridengine = /var/lib/gridengine, default).
#  * SGE_QMASTER_PORT/SGE_EXECD_PORT: the bed's non-default ports.
#  * PATH: $SGELAB/bin FIRST (links to /usr/bin/qsub, qstat, qdel, qconf, ...):
#    OpenPBS's /opt/pbs/bin has commands with the same names.
export SGELAB=${SGELAB:-/tmp/mpi-cluster-sge}
export SGE_ROOT=$SGELAB/root SGE_CELL=default
export SGE_QMASTER_PORT=${SGE_QMASTER_PORT:-16444} SGE_EXECD_PORT=${SGE_EXECD_PORT:-16445}
PATH=$(printf %s ":$PATH:" | sed -e "s#:$SGELAB/bin:#:#g" -e 's#^:*##' -e 's#:*$##')
export PATH=$SGELAB/bin${PATH:+:$PATH}
