#!/bin/sh
# run.sh NP PROGRAM [ARGS...]: run an MPI test program on NP ranks of this machine.
# Exit 77 (CTest: skipped) when mpirun is missing. Loopback only: shared memory
# (vader) between the ranks, oversubscribed (more ranks than cores is fine).
np=$1
shift
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipped"; exit 77; }
: "${OMPI_MCA_btl:=self,vader}"
# No Open MPI help-file aggregation delays, no warnings about the loopback setup.
: "${OMPI_MCA_rmaps_base_oversubscribe:=1}"
export OMPI_MCA_btl OMPI_MCA_rmaps_base_oversubscribe
exec mpirun --allow-run-as-root --oversubscribe -np "$np" "$@"
