# env.sh -- source me:  . scripts/testbed/pbs/env.sh      (POSIX sh / bash)
# Client environment for the OpenPBS bed (root namespace).
#  * PATH: /opt/pbs/bin + /opt/pbs/sbin moved to the FRONT -- SGE's /usr/bin/qsub,
#    qstat, qdel, qalter, qhold... have the same names.
#  * PBS_CONF_FILE: the clients' pbs.conf written by up.sh (server pbshead,
#    reached by its IP $PBS_NET.1 = 10.79.0.1); /etc/pbs.conf is neither written nor read.
#  * PBS_GW: the root namespace as seen from jobs: a scheduler for workers
#    started by PBS jobs must listen there (or on 0.0.0.0).
export PBSLAB=${PBSLAB:-/var/spool/mpi-cluster-pbs}
export PBS_CONF_FILE=$PBSLAB/etc/client.conf
export PBS_GW=${PBS_NET:-10.79.0}.254
PATH=$(printf %s ":$PATH:" | sed -e 's#:/opt/pbs/s*bin:#:#g' -e 's#:/opt/pbs/s*bin:#:#g' -e 's#^:*##' -e 's#:*$##')
export PATH=/opt/pbs/bin:/opt/pbs/sbin${PATH:+:$PATH}
