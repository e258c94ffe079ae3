#!/usr/bin/env bash
# Driver for make check / make run (see Makefile):  fuzz.sh SECONDS MODE   (MODE: check | run)
# FUZZ_TARGET chooses the harness: svec (default: build/fuzz_svec, corpus/, svec.dict) or cf
# (build/fuzz_cf, corpus_cf/, no dictionary: the aggregate's result and state validators).
#  1. replay every file of the corpus through the harness (any crash fails);
#  2. copy the corpus to build/corpus-TARGET (scratch: the committed corpus never grows) and fuzz
#     it for SECONDS seconds, one process, crash artifacts in crashes/;
#  3. print a summary line (and, in run mode, libFuzzer's final stats) on stdout.
# Exits non-zero on any crash, leak, timeout or sanitizer report.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

SECONDS_WANTED=${1:?usage: fuzz.sh SECONDS check|run}
MODE=${2:-check}
TARGET=${FUZZ_TARGET:-svec}
case $TARGET in
    svec) BIN=build/fuzz_svec; CORPUS=corpus; DICT=(-dict=svec.dict) ;;
    cf) BIN=build/fuzz_cf; CORPUS=corpus_cf; DICT=() ;;
    *) echo "fuzz: unknown FUZZ_TARGET $TARGET"; exit 2 ;;
esac
LOG=build/fuzz-$TARGET-$MODE.log
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

mkdir -p crashes build
[[ -x $BIN ]] || { echo "fuzz: $BIN is missing (make build)"; exit 2; }

# 1. replay
shopt -s nullglob
seeds=("$CORPUS"/*)
if [[ ${#seeds[@]} -eq 0 ]]; then
    echo "fuzz: $CORPUS/ is empty"
    exit 2
fi
if ! "$BIN" -artifact_prefix=crashes/ "${seeds[@]}" > "build/replay-$TARGET.log" 2>&1; then
    echo "---- replay log (last 60 lines) ----"
    tail -n 60 "build/replay-$TARGET.log"
    echo "fuzz: FAILED replaying $CORPUS/ (${#seeds[@]} files)"
    exit 1
fi
echo "fuzz $TARGET: replayed ${#seeds[@]} corpus files, no crash"

# 2. bounded fuzzing on a scratch copy of the corpus
rm -rf "build/corpus-$TARGET"
mkdir -p "build/corpus-$TARGET"
cp "$CORPUS"/* "build/corpus-$TARGET/"
clang_version=$(${CLANG:-clang} --version 2>/dev/null | head -n 1)
start=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
rc=0
"$BIN" -max_total_time="$SECONDS_WANTED" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    "${DICT[@]}" -artifact_prefix=crashes/ -print_final_stats=1 \
    "build/corpus-$TARGET" > "$LOG" 2>&1 || rc=$?

# 3. summary
last=$(grep -E '^#[0-9]+' "$LOG" | tail -n 1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -n 1)
newunits=$(sed -n 's/^stat::new_units_added: *//p' "$LOG" | tail -n 1)
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$LOG" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
corp=$(sed -n 's/.* corp: \([0-9]*\)\/\([^ ]*\).*/\1 (\2)/p' <<< "$last")

if [[ $rc -ne 0 || -z $execs ]] || ! grep -q 'DONE' <<< "$last"; then
    echo "---- libFuzzer log $LOG (last 80 lines) ----"
    tail -n 80 "$LOG"
    echo "---- crashes/ ----"
    ls -l crashes/ 2>/dev/null
    echo "fuzz $TARGET: FAILED (libFuzzer exit $rc) after ${execs:-?} executions; reproduce with: $BIN crashes/<file>"
    exit 1
fi

if [[ $MODE == run ]]; then
    echo "---- libFuzzer final stats ----"
    echo "started:          $start"
    echo "duration:         ${SECONDS_WANTED} s (-max_total_time)"
    echo "compiler:         $clang_version"
    echo "executions:       $execs"
    echo "exec/s:           $rate"
    echo "cov:              $cov"
    echo "ft:               $ft"
    echo "corpus:           $corp (seed ${#seeds[@]} files, new units $newunits)"
    echo "peak rss MB:      $rss"
    echo "final line:       $last"
    grep '^stat::' "$LOG"
fi
echo "fuzz $TARGET: OK - ${SECONDS_WANTED}s, $execs executions ($rate exec/s), cov $cov, ft $ft, corpus $corp, no crash"
