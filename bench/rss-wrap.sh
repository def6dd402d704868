#!/bin/sh
# bench/rss-wrap.sh DIR CMD [ARGS...]: run CMD under /usr/bin/time and write
# "peak_rss_KiB user_s sys_s wall_s" to DIR/rank.R, R = this process's MPI rank.
# Launched by bench/run.sh as: mpirun -np N bench/rss-wrap.sh DIR pilemix run ...
# (one wrapper per rank, so each rank's peak RSS is measured on its own).
# The exit status is CMD's.
dir=$1
shift
rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-${SLURM_PROCID:-0}}}}
exec /usr/bin/time -f "%M %U %S %e" -o "$dir/rank.$rank" "$@"
