#!/usr/bin/env bash
# The cosine kernel alone (no PostgreSQL): svec_dot from src/svec_math.c against a pgvector-like
# scalar merge, on cache-resident data.  See the comment at the top of bench/svec_kernel.c.
# Builds into bench/out/ with the extension's default flags (-O2, portable; the kernels dispatch to AVX2 at run time).
#   BENCH_KERNEL_SIZES  "nnz_a:nnz_b:universe ..." (default: the sizes of bench/svec_cosine.sh)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZES="${BENCH_KERNEL_SIZES:-10:10:100 100:100:1000 1000:1000:10000 10000:10000:100000 10:10000:100000}"

mkdir -p bench/out
"${CC:-gcc}" -O2 -Wall -Wextra -Isrc -o bench/out/svec_kernel \
    bench/svec_kernel.c src/svec_math.c -lm

printf '%7s | %7s | %9s | %12s | %9s | %16s | %8s\n' \
    nnz_a nnz_b universe 'svec ns/call' 'ns/merged' 'scalar i32 ns' 'scalar/svec'
printf -- '--------+---------+-----------+--------------+-----------+------------------+---------\n'
for spec in $SIZES; do
    IFS=: read -r na nb u <<<"$spec"
    bench/out/svec_kernel "$na" "$nb" "$u"
done
