#!/usr/bin/env bash
# The portable build with run-time dispatch against the old -march=native build, measured
# alternately in one run (no PostgreSQL needed).  Three builds of the same harnesses:
#   native    src/ of BENCH_OLD_REV (default b3b4fe5, the last commit built with -march=native)
#             compiled with -O2 -march=native, as the extension was
#   dispatch  the working tree, -O2 (the extension's default now): baseline code plus the AVX2
#             variant chosen at run time
#   baseline  the working tree, -O2 -DITEMCF_NO_DISPATCH: the baseline variant alone
# Each repeat runs every build once, in a rotating order: bench/isa_bench.c (svec kernels, ns per
# call, best of 5) at BENCH_SIZES, and bench/kernel_bench.c (the similarity kernel on one thread,
# compute seconds, median of 3) on BENCH_SHOP ("users items k").  Prints, per measurement and
# build, min / median / max over BENCH_REPEATS (default 5) repeats, and the ratio of medians to
# the native build with the range of the per-repeat ratios.  Raw TSV in bench/out/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OLD_REV="${BENCH_OLD_REV:-b3b4fe5}"
REPEATS="${BENCH_REPEATS:-5}"
SIZES="${BENCH_SIZES:-10:10 100:100 1000:1000 10:10000}"
SHOP="${BENCH_SHOP:-200000 100000 50}"
CC="${CC:-gcc}"
OUT=bench/out/isa
rm -rf "$OUT"
mkdir -p "$OUT/old/src" "$OUT/old/bench"
for f in svec_math.c svec_math.h svec_math_impl.h cf_kernel.c cf_kernel.h select_impl.h; do
    git show "$OLD_REV:src/$f" >"$OUT/old/src/$f"
done
git show "$OLD_REV:bench/kernel_bench.c" >"$OUT/old/bench/kernel_bench.c"   # the harness of that kernel's API

# build NAME SRCDIR KERNEL_BENCH_C "KERNEL_SOURCES" FLAGS...  (the kernel's files, relative to SRCDIR)
build() {
    local name=$1 src=$2 kb=$3 ksrc=()
    for f in $4; do ksrc+=("$src/$f"); done
    shift 4
    "$CC" -O2 "$@" -w -I"$src" -o "$OUT/isa_$name" bench/isa_bench.c "$src/svec_math.c"
    "$CC" -O2 "$@" -w -fopenmp -I"$src" -o "$OUT/kernel_$name" "$kb" "${ksrc[@]}" -lm
}
KERNEL="cf_model.c cf_score.c cf_threads.c"    # cf_kernel.c until the kernel was split by stage
build native "$OUT/old/src" "$OUT/old/bench/kernel_bench.c" cf_kernel.c -march=native
build dispatch src bench/kernel_bench.c "$KERNEL"
build baseline src bench/kernel_bench.c "$KERNEL" -DITEMCF_NO_DISPATCH
BUILDS=(native dispatch baseline)

TSV="bench/out/isa_bench-$(date +%Y%m%d-%H%M%S).tsv"
printf 'repeat\tbuild\tmeasure\tvalue\n' >"$TSV"
echo "[isa_bench] $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg); $REPEATS repeats" >&2
for ((r = 1; r <= REPEATS; r++)); do
    for ((o = 0; o < ${#BUILDS[@]}; o++)); do
        b=${BUILDS[$(((o + r) % ${#BUILDS[@]}))]}
        for spec in $SIZES; do
            IFS=: read -r na nb <<<"$spec"
            read -r _ _ dot dot32 l2 isect < <("$OUT/isa_$b" "$na" "$nb")
            printf '%s\t%s\t%s\t%s\n' "$r" "$b" "svec_dot ${na}x$nb ns" "$dot" \
                "$r" "$b" "svec_dot_32 ${na}x$nb ns" "$dot32" \
                "$r" "$b" "svec_l2_squared_32 ${na}x$nb ns" "$l2" \
                "$r" "$b" "svec_intersection_size_32 ${na}x$nb ns" "$isect" >>"$TSV"
        done
        # shellcheck disable=SC2086
        line="$("$OUT/kernel_$b" $SHOP 1 | tail -n 1)"
        printf '%s\t%s\t%s\t%s\n' "$r" "$b" "kernel build s" "$(awk '{print $2}' <<<"$line")" \
            "$r" "$b" "kernel compute s" "$(awk '{print $3}' <<<"$line")" >>"$TSV"
        echo "[isa_bench] repeat $r/$REPEATS: $b done" >&2
    done
done

/usr/bin/python3 - "$TSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
builds = ["native", "dispatch", "baseline"]
val = {}
for r in rows:
    val.setdefault(r["measure"], {}).setdefault(r["build"], {})[r["repeat"]] = float(r["value"])
print("| measure | native (old default) min / median / max | dispatch (new default) | baseline only | dispatch / native: median (per-repeat range) | baseline / native |")
print("| --- | --- | --- | --- | --- | --- |")
for m, per in val.items():
    cells = []
    for b in builds:
        v = sorted(per[b].values())
        cells.append("%.4g / **%.4g** / %.4g" % (v[0], statistics.median(v), v[-1]))
    ratios = []
    for b in builds[1:]:
        rr = sorted(per[b][k] / per["native"][k] for k in per["native"])
        ratios.append("%.3f (%.2f .. %.2f)" % (statistics.median(per[b].values()) / statistics.median(per["native"].values()), rr[0], rr[-1]))
    print("| %s | %s | %s |" % (m, " | ".join(cells), " | ".join(ratios)))
PY
echo "[isa_bench] raw: $TSV" >&2
