#!/usr/bin/env bash
# Run the svec benchmarks: bench/svec_cosine.sh against a server, then bench/svec_kernel.sh.
#
# With scripts/lib.sh (the project's helpers): build and install itemcf (skip with
# BENCH_NO_BUILD=1), start the throwaway PostgreSQL 15 cluster under .pg/, benchmark in database
# bench_svec, stop the cluster.  Without it: use whatever server PGHOST/PGPORT/PGUSER/PGDATABASE
# point at (itemcf must be installed there).  BENCH_KERNEL=0 skips the kernel benchmark.
# Every BENCH_* knob of bench/svec_cosine.sh applies.  See bench/README.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -f scripts/lib.sh ]]; then
    # shellcheck source=scripts/lib.sh
    source scripts/lib.sh
    if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        itemcf_build || itemcf_die "build failed"
    fi
    itemcf_cluster_start            # exports PGHOST/PGPORT/PGUSER; stops the server on exit
    export PGDATABASE=bench_svec
else
    echo "[bench] scripts/lib.sh not found: using the server named by PGHOST/PGPORT/PGUSER/PGDATABASE" >&2
fi

bench/svec_cosine.sh

if [[ "${BENCH_KERNEL:-1}" != 0 ]]; then
    printf '\nKernel alone (no PostgreSQL), best of 7:\n'
    bench/svec_kernel.sh | tee "bench/out/svec_kernel-$(date +%Y%m%d-%H%M%S).txt"
fi
