#!/usr/bin/env bash
# PBS/Torque launcher:  qsub -v CONFIG=configs/pile-v1.json jobs/pbs.sh
#PBS -N pilemix
#PBS -l select=4:ncpus=16:mpiprocs=16:mem=64gb
#PBS -l walltime=12:00:00
set -euo pipefail
cd "${PBS_O_WORKDIR:-.}"
mpirun pilemix run "$CONFIG" --mem-per-rank 3GiB --progress 60 ${EXTRA_ARGS:-}
