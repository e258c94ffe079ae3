#!/usr/bin/env bash
# svec cosine benchmark: `a <=> b` over stored pairs, against a plain-SQL cosine over arrays.
#
# Connects with the standard libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE); the database
# defaults to bench_svec and is created if missing.  Needs the itemcf extension installed
# (`make install`).  bench/run_svec.sh starts the project's throwaway cluster and runs this.
# See bench/README.md for what is measured and how to read the table.
#
# Knobs (environment):
#   BENCH_TARGET_SEC   minimum wall time of one timed measurement, in seconds (default 1)
#   BENCH_RUNS         timed measurements per query; the median is reported (default 5)
#   BENCH_SIZES        "nnz:svec_pairs:naive_pairs ..." (default below)
#   BENCH_GALLOP       "short_nnz:long_nnz:svec_pairs:naive_pairs", empty to skip (default 10:10000:200:20)
#   BENCH_INLINE       sizes also measured in a copy WITH (toast_tuple_target = 8160), so that both
#                      vectors of a pair stay in the heap row instead of one going to TOAST
#                      (default 100; empty to skip; only useful where a pair fits in a page)
#   BENCH_UNIVERSE     fixed index universe for every size; default 10 x nnz (see README)
#   BENCH_CLOCK        auto (CPU time of the backend when readable, else wall), cpu or wall
#   BENCH_KEEP_TABLES  1 to reuse existing tables when their parameters match (default 0: rebuild)
#   BENCH_OUT          where to write the raw TSV (default bench/out/svec_cosine-<time>.tsv)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB="${PGDATABASE:-bench_svec}"
TARGET_SEC="${BENCH_TARGET_SEC:-1}"
RUNS="${BENCH_RUNS:-5}"
SIZES="${BENCH_SIZES:-10:50000:5000 100:10000:1000 1000:2000:200 10000:200:20}"
INLINE="${BENCH_INLINE-100}"
GALLOP="${BENCH_GALLOP-10:10000:200:20}"
UNIVERSE="${BENCH_UNIVERSE:-}"
KEEP="${BENCH_KEEP_TABLES:-0}"
OUT="${BENCH_OUT:-bench/out/svec_cosine-$(date +%Y%m%d-%H%M%S).tsv}"
TOL=1e-6

# pgvector sparsevec <=> (v0.8.6), microseconds per call, from shared/NOTES.md: quoted, not measured.
declare -A PGVECTOR_US=([10]=0.25 [100]=2.1 [1000]=27 [10000]=255)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

unset PGDATABASE
if ! psql -X -q -d "$DB" -c 'SELECT 1' >/dev/null 2>&1; then
    log "creating database $DB"
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
fi

# One psql per step; every session runs serial (one core, like pgvector's reference) and without
# JIT, so that the numbers do not depend on the cost model's choices.
export PGOPTIONS="${PGOPTIONS:-} -c max_parallel_workers_per_gather=0 -c jit=off -c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# --- helpers in the database ---------------------------------------------------------------------
q <<'SQL'
CREATE EXTENSION IF NOT EXISTS itemcf;

-- n distinct indices drawn uniformly from [0, universe), ascending, with values in (0, 1] that
-- are exact float4s.  Pure function of (seed, n, universe): hashing, no random(), so every run,
-- machine and plan builds the same data.  Draws 1.25 n + 33 candidates (at most 10% density
-- that leaves > 10% spare after collisions) and keeps the first n distinct ones.
CREATE OR REPLACE FUNCTION bench_vec(seed bigint, n int, universe bigint,
                                     OUT idx bigint[], OUT val real[])
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(i ORDER BY i),
           array_agg((((hashint8extended(i, ~seed) & 16777215) + 1)::float8 / 16777216)::real
                     ORDER BY i)
    FROM (SELECT i
          FROM (SELECT k, (hashint8extended(k, seed) & 9223372036854775807) % universe AS i
                FROM generate_series(0, n + n / 4 + 32) AS k) AS draws
          GROUP BY i
          ORDER BY min(k)
          LIMIT n) AS kept
$$;

-- The cosine a user without svec writes: join the two unnested (index, value) lists on index
-- for the dot product, sqrt(sum(v*v)) for the norms.  Similarity; distance is 1 - this.
CREATE OR REPLACE FUNCTION naive_cosine(a_idx bigint[], a_val real[], b_idx bigint[], b_val real[])
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce((SELECT sum(x.v::float8 * y.v::float8)
                     FROM unnest(a_idx, a_val) AS x(i, v)
                     JOIN unnest(b_idx, b_val) AS y(i, v) USING (i)), 0)
           / (sqrt((SELECT sum(v::float8 * v::float8) FROM unnest(a_val) AS v))
              * sqrt((SELECT sum(v::float8 * v::float8) FROM unnest(b_val) AS v)))
$$;

-- CPU time used so far by this backend, in clock ticks (utime + stime, fields 14 and 15 of
-- /proc/<pid>/stat), or with what = 'hz' the tick rate.  Read through COPY FROM PROGRAM, so it
-- needs a superuser (or pg_execute_server_program) and a Linux server; the script falls back to
-- wall-clock time without it.
CREATE OR REPLACE FUNCTION bench_cpu_ticks(what text DEFAULT 'ticks') RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    stat text;
    f text[];
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS bench_proc(line text);
    TRUNCATE bench_proc;
    IF what = 'hz' THEN
        COPY bench_proc FROM PROGRAM 'getconf CLK_TCK';
        RETURN (SELECT p.line::bigint FROM bench_proc AS p);
    END IF;
    EXECUTE format('COPY bench_proc FROM PROGRAM %L', 'cat /proc/' || pg_backend_pid() || '/stat');
    SELECT p.line INTO stat FROM bench_proc AS p;
    f := string_to_array(substr(stat, strpos(stat, ') ') + 2), ' ');   -- f[1] is field 3
    RETURN f[12]::bigint + f[13]::bigint;
END
$$;

-- Time a one-row query: run it once to warm the cache and calibrate, then `runs` measurements,
-- each executing it back to back `reps` times so that one measurement lasts >= target seconds.
-- Wall clock: clock_timestamp() differences around the EXECUTE loop, in this function (server
-- side: no client round trip; includes parse/plan of each EXECUTE, ~0.1 ms, against >= 10 ms per
-- execution).  CPU clock (with_cpu): the backend's CPU ticks around the same loop.  Returns
-- seconds per execution: median, min and max over the runs, for each clock.
CREATE OR REPLACE FUNCTION bench_time(q text, target float8, runs int, with_cpu boolean,
                                      OUT wall_median float8, OUT wall_min float8, OUT wall_max float8,
                                      OUT cpu_median float8, OUT cpu_min float8, OUT cpu_max float8,
                                      OUT reps int, OUT result float8)
LANGUAGE plpgsql AS $$
DECLARE
    hz float8;
    t0 timestamptz;
    c0 bigint;
    t float8;
    walls float8[] := '{}';
    cpus float8[] := '{}';
    r int;
    i int;
BEGIN
    IF with_cpu THEN
        hz := bench_cpu_ticks('hz');
    END IF;
    t0 := clock_timestamp();
    EXECUTE q INTO result;                                  -- warm-up, not counted
    t := extract(epoch FROM clock_timestamp() - t0);
    reps := greatest(1, ceil(target / greatest(t, 1e-6)))::int;
    FOR r IN 1 .. runs LOOP
        IF with_cpu THEN
            c0 := bench_cpu_ticks();
        END IF;
        t0 := clock_timestamp();
        FOR i IN 1 .. reps LOOP
            EXECUTE q INTO result;
        END LOOP;
        walls := walls || extract(epoch FROM clock_timestamp() - t0) / reps;
        IF with_cpu THEN
            cpus := cpus || (bench_cpu_ticks() - c0) / hz / reps;
        END IF;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), min(x), max(x)
      INTO wall_median, wall_min, wall_max FROM unnest(walls) AS x;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), min(x), max(x)
      INTO cpu_median, cpu_min, cpu_max FROM unnest(cpus) AS x;
END
$$;

CREATE TABLE IF NOT EXISTS bench_params(tbl text PRIMARY KEY, params text NOT NULL);
SQL

# --- data ------------------------------------------------------------------------------------------
# build NAME NNZ_A NNZ_B UNIV_A UNIV_B PAIRS NAIVE_PAIRS
#   NAME        svec table (id, a svec, b svec); NAME_naive holds the first NAIVE_PAIRS pairs as arrays
# Pair p's vectors are bench_vec(4p, ...) and bench_vec(4p+1, ...): the same across tables of the
# same size, whatever the pair count.
build() {
    local name=$1 na=$2 nb=$3 ua=$4 ub=$5 pairs=$6 npairs=$7
    local params="v1 a=$na/$ua b=$nb/$ub pairs=$pairs naive=$npairs"
    if [[ "$KEEP" == 1 ]] && [[ "$(q -c "SELECT params FROM bench_params WHERE tbl = '$name'")" == "$params" ]]; then
        log "$name: reusing ($params)"
        return 0
    fi
    log "$name: building $pairs pairs ($params)"
    q <<SQL
DROP TABLE IF EXISTS ${name}, ${name}_naive;
DELETE FROM bench_params WHERE tbl = '$name';
CREATE UNLOGGED TABLE ${name}_raw AS
    SELECT p AS id, va.idx AS a_idx, va.val AS a_val, vb.idx AS b_idx, vb.val AS b_val
    FROM generate_series(1, $pairs) AS p,
         LATERAL bench_vec(4 * p, $na, $ua) AS va,
         LATERAL bench_vec(4 * p + 1, $nb, $ub) AS vb;
CREATE TABLE ${name} (id int PRIMARY KEY, a svec NOT NULL, b svec NOT NULL);
INSERT INTO ${name} SELECT id, svec(a_idx, a_val), svec(b_idx, b_val) FROM ${name}_raw ORDER BY id;
CREATE TABLE ${name}_naive (id int PRIMARY KEY, a_idx bigint[] NOT NULL, a_val real[] NOT NULL,
                                               b_idx bigint[] NOT NULL, b_val real[] NOT NULL);
INSERT INTO ${name}_naive SELECT * FROM ${name}_raw WHERE id <= $npairs ORDER BY id;
DROP TABLE ${name}_raw;
SQL
    # Every vector has exactly the requested number of non-zeros.
    local bad
    bad="$(q -c "SELECT count(*) FROM ${name} WHERE nnz(a) <> $na OR nnz(b) <> $nb")"
    [[ "$bad" == 0 ]] || die "$name: $bad pairs do not have exactly $na/$nb non-zeros"
    q -c "VACUUM ANALYZE ${name}" -c "VACUUM ANALYZE ${name}_naive"
    q -c "INSERT INTO bench_params VALUES ('$name', '$params')"
}

# inline NAME: a copy of NAME whose rows keep both vectors in the heap (no TOAST)
inline() {
    local name=$1 toast
    log "${name}_inline: copying $name WITH (toast_tuple_target = 8160)"
    q <<SQL
DROP TABLE IF EXISTS ${name}_inline;
CREATE TABLE ${name}_inline (id int PRIMARY KEY, a svec NOT NULL, b svec NOT NULL)
    WITH (toast_tuple_target = 8160);
INSERT INTO ${name}_inline SELECT * FROM ${name} ORDER BY id;
SQL
    q -c "VACUUM ANALYZE ${name}_inline"
    toast="$(q -c "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = '${name}_inline'::regclass")"
    [[ "$toast" == 0 ]] || log "warning: ${name}_inline still has $toast bytes in TOAST"
}

# Where a table's bytes are: "heap_bytes toast_bytes"; warn when a sequential scan of the heap would
# go through PostgreSQL's small bulk-read ring (heap > shared_buffers / 4) and so not stay cached.
SHARED_BUFFERS="$(q -c "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'")"
storage() {
    local name=$1 heap toast
    read -r heap toast <<<"$(q -F ' ' -c "SELECT pg_relation_size(oid), coalesce(pg_relation_size(nullif(reltoastrelid, 0)), 0)
                                         FROM pg_class WHERE oid = '$name'::regclass")"
    if (( heap > SHARED_BUFFERS / 4 )); then
        log "warning: $name heap is $heap bytes > shared_buffers/4: its scans use a ring buffer and read from the OS cache"
    fi
    echo "$heap $toast"
}

# check SVEC_TABLE NAIVE_TABLE: svec's cosine equals the SQL cosine on every pair of the naive sample,
# and the stored svecs hold exactly the generated arrays.
check() {
    local svec=$1 naive=$2 res n maxdiff ok
    res="$(q -F ' ' <<SQL
SELECT count(*), max(abs((p.a <=> p.b) - (1 - naive_cosine(n.a_idx, n.a_val, n.b_idx, n.b_val)))),
       bool_and(abs((p.a <=> p.b) - (1 - naive_cosine(n.a_idx, n.a_val, n.b_idx, n.b_val))) <= $TOL
                AND svec_indices(p.a) = n.a_idx AND svec_values(p.a) = n.a_val
                AND svec_indices(p.b) = n.b_idx AND svec_values(p.b) = n.b_val)
FROM ${svec} p JOIN ${naive} n USING (id);
SQL
)"
    read -r n maxdiff ok <<<"$res"
    [[ "$ok" == t ]] || die "$svec: svec cosine differs from the SQL cosine by $maxdiff (> $TOL) on $n pairs"
    log "$svec: correctness ok on $n pairs (max |svec - SQL| = $maxdiff)"
    echo "$maxdiff"
}

# Which clock the table reports: backend CPU time when it can be read (see bench_cpu_ticks), else
# wall-clock time.  Both are written to the TSV when available.
case "${BENCH_CLOCK:-auto}" in
    wall) CPU=false ;;
    cpu|auto)
        if [[ "${BENCH_CLOCK:-auto}" == auto ]] && awk -v t="$TARGET_SEC" 'BEGIN { exit !(t < 0.5) }'; then
            log "BENCH_TARGET_SEC < 0.5: CPU ticks (10 ms) are too coarse, reporting wall-clock time"
            CPU=false
        elif q -c "SELECT bench_cpu_ticks('hz'), bench_cpu_ticks()" >/dev/null 2>&1; then
            CPU=true
        elif [[ "${BENCH_CLOCK:-auto}" == cpu ]]; then
            die "BENCH_CLOCK=cpu, but the backend's CPU time cannot be read (needs a superuser and a Linux server)"
        else
            log "cannot read the backend's CPU time (needs a superuser and a Linux server): reporting wall-clock time"
            CPU=false
        fi ;;
    *) die "BENCH_CLOCK must be auto, cpu or wall" ;;
esac
CLOCK_NAME="$([[ $CPU == true ]] && echo 'backend CPU time (utime+stime)' || echo 'wall-clock time')"

# timeit QUERY -> "wall_median wall_min wall_max cpu_median cpu_min cpu_max reps" (cpu_* empty without CPU)
timeit() {
    local query=${1//\'/\'\'}
    q -F ' ' -c "SELECT round(wall_median::numeric, 9), round(wall_min::numeric, 9), round(wall_max::numeric, 9),
                        round(cpu_median::numeric, 9), round(cpu_min::numeric, 9), round(cpu_max::numeric, 9), reps
                 FROM bench_time('$query', $TARGET_SEC, $RUNS, $CPU)"
}

mkdir -p "$(dirname "$OUT")"
printf 'row\tnnz_a\tnnz_b\tpairs\tnaive_pairs\theap_bytes\ttoast_bytes\tquery\treps\twall_median_s\twall_min_s\twall_max_s\tcpu_median_s\tcpu_min_s\tcpu_max_s\tns_per_call\n' >"$OUT"

declare -a ROWS=()

# measure LABEL SVEC_TABLE NAIVE_TABLE NNZ_A NNZ_B PAIRS NAIVE_PAIRS REF_US
measure() {
    local label=$1 svec=$2 naive=$3 na=$4 nb=$5 pairs=$6 npairs=$7 ref=$8
    local maxdiff kind query wmed wmin wmax cmed cmin cmax reps ns n heap toast
    local -A NS=()
    maxdiff="$(check "$svec" "$naive")"
    read -r heap toast <<<"$(storage "$svec")"
    log "$label: $svec heap $heap bytes, TOAST $toast bytes"
    for kind in svec scan naive; do
        case $kind in
            svec)  query="SELECT sum(a <=> b) FROM ${svec}"; n=$pairs ;;
            scan)  query="SELECT sum(nnz(a) + nnz(b)) FROM ${svec}"; n=$pairs ;;
            naive) query="SELECT sum(1 - naive_cosine(a_idx, a_val, b_idx, b_val)) FROM ${naive}"; n=$npairs ;;
        esac
        if [[ $CPU == true ]]; then
            read -r wmed wmin wmax cmed cmin cmax reps <<<"$(timeit "$query")"
        else
            read -r wmed wmin wmax reps <<<"$(timeit "$query")"
            cmed='' cmin='' cmax=''
        fi
        ns="$(awk -v s="${cmed:-$wmed}" -v n="$n" 'BEGIN { printf "%.1f", s * 1e9 / n }')"
        NS[$kind]=$ns
        log "$label $kind: $ns ns/call; $reps executions of $n pairs per measurement; per execution:" \
            "wall $wmed s (min $wmin, max $wmax), CPU ${cmed:--} s (min ${cmin:--}, max ${cmax:--})"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$na" "$nb" "$pairs" \
            "$npairs" "$heap" "$toast" "$kind" "$reps" "$wmed" "$wmin" "$wmax" "$cmed" "$cmin" "$cmax" "$ns" >>"$OUT"
    done
    ROWS+=("$label|$na|$nb|${NS[svec]}|${NS[scan]}|${NS[naive]}|$ref|$maxdiff")
}

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

for spec in $SIZES; do
    IFS=: read -r n pairs npairs <<<"$spec"
    u="${UNIVERSE:-$((10 * n))}"
    build "pairs_$n" "$n" "$n" "$u" "$u" "$pairs" "$npairs"
    measure "$n" "pairs_$n" "pairs_${n}_naive" "$n" "$n" "$pairs" "$npairs" "${PGVECTOR_US[$n]:-}"
    if [[ " $INLINE " == *" $n "* ]]; then
        inline "pairs_$n"
        measure "$n inl" "pairs_${n}_inline" "pairs_${n}_naive" "$n" "$n" "$pairs" "$npairs" "${PGVECTOR_US[$n]:-}"
    fi
done

if [[ -n "$GALLOP" ]]; then
    IFS=: read -r ns nl pairs npairs <<<"$GALLOP"
    u="${UNIVERSE:-$((10 * nl))}"
    build "gallop_${ns}_${nl}" "$ns" "$nl" "$u" "$u" "$pairs" "$npairs"
    measure "${ns}x${nl}" "gallop_${ns}_${nl}" "gallop_${ns}_${nl}_naive" "$ns" "$nl" "$pairs" "$npairs" ""
fi

LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

# --- table -----------------------------------------------------------------------------------------
{
    printf '\n'
    printf '%-9s | %13s | %15s | %14s | %15s | %8s | %12s | %11s\n' \
        nnz 'svec ns/call' 'merged nnz/s' 'scan ns/call' 'naive ns/call' speedup 'pgvector µs' 'pgv / svec'
    printf -- '----------+---------------+-----------------+----------------+-----------------+----------+--------------+------------\n'
    for row in "${ROWS[@]}"; do
        IFS='|' read -r label na nb svec scan naive ref maxdiff <<<"$row"
        awk -v label="$label" -v na="$na" -v nb="$nb" -v svec="$svec" -v scan="$scan" \
            -v naive="$naive" -v ref="$ref" 'BEGIN {
            rate = (na + nb) / (svec * 1e-9)
            if (ref == "") { refs = "-"; ratio = "-" }
            else { refs = sprintf("%g", ref); ratio = sprintf("%.2fx", ref * 1000 / svec) }
            printf "%-9s | %13.1f | %13.1f M | %14.1f | %15.0f | %7.0fx | %12s | %11s\n",
                label, svec, rate / 1e6, scan, naive, naive / svec, refs, ratio
        }'
    done
    printf '\n'
    printf 'svec = SELECT sum(a <=> b); scan = SELECT sum(nnz(a) + nnz(b)) (scan + detoast baseline, not subtracted);\n'
    printf 'naive = plain-SQL cosine over bigint[]/real[] (fewer pairs); speedup = naive / svec;\n'
    printf 'merged nnz/s = (nnz_a + nnz_b) / svec time per call; pgvector µs = sparsevec <=> v0.8.6 from\n'
    printf 'shared/NOTES.md (quoted, not measured here); pgv / svec > 1 means svec is faster.\n'
    if [[ " ${ROWS[*]}" == *" inl|"* ]]; then
        printf '"N inl" = the same pairs in a table WITH (toast_tuple_target = 8160): both vectors in the heap row.\n'
    fi
    printf 'Clock: %s; median of %s measurements of >= %s s each; one backend, no parallel workers, jit off.\n' \
        "$CLOCK_NAME" "$RUNS" "$TARGET_SEC"
    printf 'Correctness: |svec - SQL cosine| <= %s on every naive pair (max:%s).\n' "$TOL" \
        "$(for row in "${ROWS[@]}"; do IFS='|' read -r label _ _ _ _ _ _ m <<<"$row"; printf ' %s: %s;' "$label" "$m"; done)"
    printf 'Started %s; load average %s at start, %s at end; %s\n' "$START" "$LOAD_START" "$LOAD_END" \
        "$(q -c "SELECT split_part(version(), ' on ', 1)")"
    printf 'Raw numbers: %s\n' "$OUT"
} | tee "${OUT%.tsv}.txt"
