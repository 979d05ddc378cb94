# env.sh -- source me:  . scripts/testbed/env.sh
# Client-side environment for the lab cluster created by up.sh / slurm-up.sh.
#  * SLURM_CONF: all Slurm clients (srun/sbatch/squeue/sinfo/scancel/scontrol)
#    read the lab config instead of /etc/slurm/slurm.conf (which we never write).
#  * OMPI_ALLOW_RUN_AS_ROOT*: mpirun refuses to run as root without them.
#  * PATH: this directory (nsrun, rsh-netns, up.sh, ...).
_TESTBED=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_TESTBED/lab-env.sh"
export SLURM_CONF=$LAB/cluster/etc/slurm.conf
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
case ":$PATH:" in *":$_TESTBED:"*) ;; *) export PATH=$_TESTBED:$PATH ;; esac
unset _TESTBED
