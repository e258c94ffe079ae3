#!/usr/bin/env bash
# Test: install what is needed, build itemcf from clean with warnings as errors, install it,
# start a throwaway PostgreSQL 15 cluster (under .pg/, never the system one) and run every
# suite, going on past a failing suite:
#   pg_regress   make installcheck            (sql/*.sql against expected/*.out)
#   pgTAP        pg_prove test/*.sql          (in a fresh database itemcf_tap)
#   C tests      make ctest                   (test/c, TAP lines "ok N - name")
#   fuzz         make fuzz-check              (test/fuzz, one test)
#   checks       scripts/checks/*.sh          (one test each)
# A suite whose sources are missing counts as one failure (it cannot run), never as a skip.  Ends with the line
# "N passed, N failed"; exits 1 if anything failed or nothing ran.
# Knobs: ITEMCF_FUZZ_SECONDS (default 30), ITEMCF_PGPORT (default 54315).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

FUZZ_SECONDS="${ITEMCF_FUZZ_SECONDS:-30}"
TOTAL_PASSED=0
TOTAL_FAILED=0
SUMMARY=()

header() { printf '\n======== %s ========\n' "$*"; }

# record SUITE PASSED FAILED
record() {
    TOTAL_PASSED=$((TOTAL_PASSED + $2))
    TOTAL_FAILED=$((TOTAL_FAILED + $3))
    SUMMARY+=("$(printf '%-12s %4d passed, %4d failed' "$1" "$2" "$3")")
}

# missing SUITE WHY: a suite that cannot run is a failure, not a skip
missing() {
    echo "FAILED: suite $1 cannot run: $2"
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    SUMMARY+=("$(printf '%-12s FAILED: cannot run (%s)' "$1" "$2")")
}

# count_lines REGEX FILE: how many lines of FILE match the extended REGEX.
count_lines() { grep -cE "$1" "$2" || true; }

finish() {
    itemcf_cluster_stop
    header "summary"
    printf '%s\n' "${SUMMARY[@]}"
    echo
    if [[ $((TOTAL_PASSED + TOTAL_FAILED)) -eq 0 ]]; then echo "no test ran: that counts as a failure"; fi
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    if [[ $TOTAL_FAILED -gt 0 || $((TOTAL_PASSED + TOTAL_FAILED)) -eq 0 ]]; then
        exit 1
    fi
    exit 0
}

header "dependencies"
itemcf_install_deps
echo "all Debian packages present"

header "build"
make clean PG_CONFIG="$ITEMCF_PGBIN/pg_config" >/dev/null || true   # so WERROR sees every file
if ! itemcf_build; then
    record build 0 1
    finish
fi

header "cluster"
itemcf_cluster_start
LOGS="$ITEMCF_PGBASE/test-logs"
mkdir -p "$LOGS"

# ---- pg_regress ----------------------------------------------------------------------------
header "pg_regress (make installcheck)"
if compgen -G 'sql/*.sql' >/dev/null; then
    rc=0
    make installcheck PG_CONFIG="$ITEMCF_PGBIN/pg_config" 2>&1 | tee "$LOGS/regress.log" || rc=$?
    # PG15 prints "test NAME ... ok   12 ms" (or "     NAME ... FAILED" inside parallel groups);
    # PG16 and later print TAP: "ok 1  - NAME  12 ms", "not ok 2  - NAME  30 ms".
    p=$(count_lines '\.\.\. (ok|failed \(ignored\))|^ok [0-9]+ +[-+] ' "$LOGS/regress.log")
    f=$(count_lines '\.\.\. FAILED|^not ok [0-9]+ +[-+] ' "$LOGS/regress.log")
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    if [[ $rc -ne 0 && -f regression.diffs ]]; then
        echo "---- regression.diffs (first 200 lines) ----"
        head -n 200 regression.diffs
    fi
    record pg_regress "$p" "$f"
else
    missing pg_regress "no sql/*.sql"
fi

# ---- pgTAP -----------------------------------------------------------------------------------
header "pgTAP (pg_prove test/*.sql)"
if compgen -G 'test/*.sql' >/dev/null; then
    rc=0
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d postgres \
        -c 'DROP DATABASE IF EXISTS itemcf_tap' -c 'CREATE DATABASE itemcf_tap' &&
        psql -X -q -v ON_ERROR_STOP=1 -d itemcf_tap -c 'CREATE EXTENSION pgtap' || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "could not prepare database itemcf_tap"
        record pgTAP 0 1
    else
        pg_prove --verbose --nocolor -d itemcf_tap test/*.sql 2>&1 | tee "$LOGS/pgtap.log" || rc=$?
        # Assertions: "ok N ..." / "not ok N ..." ("not ok ... # TODO" is an expected failure).
        p=$(count_lines '^[[:space:]]*ok [0-9]+|^[[:space:]]*not ok [0-9]+.*# TODO' "$LOGS/pgtap.log")
        f=$(grep -E '^[[:space:]]*not ok [0-9]+' "$LOGS/pgtap.log" | grep -cv '# TODO' || true)
        # A file that crashed, stopped early or broke its plan is listed in the
        # "Test Summary Report" with "Failed: 0"; count each such file as one failure.
        broken=$(count_lines '^test/.*\(Wstat: .* Failed: 0\)' "$LOGS/pgtap.log")
        f=$((f + broken))
        if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
        record pgTAP "$p" "$f"
    fi
else
    missing pgTAP "no test/*.sql"
fi

# ---- C tests ---------------------------------------------------------------------------------
header "C tests (make ctest)"
if [[ -d test/c ]]; then
    rc=0
    make ctest 2>&1 | tee "$LOGS/ctest.log" || rc=$?
    p=$(count_lines '^ok [0-9]+' "$LOGS/ctest.log")
    f=$(count_lines '^not ok( [0-9]+| -)' "$LOGS/ctest.log")
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    record ctest "$p" "$f"
else
    missing ctest "no test/c"
fi

# ---- fuzz ------------------------------------------------------------------------------------
header "fuzz (make fuzz-check, ${FUZZ_SECONDS}s)"
if [[ -d test/fuzz ]]; then
    if make fuzz-check FUZZ_SECONDS="$FUZZ_SECONDS" 2>&1 | tee "$LOGS/fuzz.log"; then
        record fuzz 1 0
    else
        record fuzz 0 1
    fi
else
    missing fuzz "no test/fuzz"
fi

# ---- extra checks ----------------------------------------------------------------------------
header "checks (scripts/checks/*.sh)"
if compgen -G 'scripts/checks/*.sh' >/dev/null; then
    p=0 f=0
    for check in scripts/checks/*.sh; do
        if bash "$check"; then
            echo "ok - $check"
            p=$((p + 1))
        else
            echo "FAILED - $check"
            f=$((f + 1))
        fi
    done
    record checks "$p" "$f"
else
    missing checks "no scripts/checks/*.sh"
fi

# ---- other PostgreSQL versions ----------------------------------------------------------------
# The same suite against PostgreSQL 17 and 18, each in a clean Debian root (scripts/pgversions.sh).
# ITEMCF_VERSIONS lists them (default "17 18"; empty: this version only, as inside those roots).
itemcf_cluster_stop
for v in ${ITEMCF_VERSIONS-17 18}; do
    header "PostgreSQL $v (scripts/pgversions.sh $v)"
    rc=0
    timeout 2400 bash scripts/pgversions.sh "$v" 2>&1 | tee "$LOGS/pg$v.log" || rc=$?
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOGS/pg$v.log" | tail -1 || true)"
    p="${line%% passed*}"; f="${line#*passed, }"; f="${f%% failed}"
    if [[ -z "$line" ]]; then p=0 f=1; fi
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    # each suite of that run, as its own summary line
    sed -n '/^======== summary ========$/,$p' "$LOGS/pg$v.log" | grep -E '^[a-zA-Z_]+ +[0-9]+ passed' |
        while read -r l; do echo "pg$v $l"; done >"$LOGS/pg$v.summary" || true
    while read -r l; do SUMMARY+=("$l"); done <"$LOGS/pg$v.summary"
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    if [[ ! -s "$LOGS/pg$v.summary" ]]; then SUMMARY+=("$(printf 'pg%-10s %4d passed, %4d failed' "$v" "$p" "$f")"); fi
done

finish
