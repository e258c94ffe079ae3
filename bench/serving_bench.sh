#!/usr/bin/env bash
# recommend() against the plain SQL a user would write, in one run on the same data (see the
# "Serving benchmark" section of bench/README.md):
#   setup  bench/gen_shop.sql into itemcf_purchases, itemcf_rebuild(), and the plain-SQL
#          alternative: sim(item_id, neighbor_id, score) copied from itemcf_similarities, indexed
#          on item_id (itemcf_purchases is already indexed on user_id)
#   (A)    pgbench -M prepared, CLIENTS clients, THREADS threads, random existing users:
#          SELECT * FROM recommend(:u, 10)                          (bench/serving/recommend.pgbench)
#   (B)    the same load with the plain-SQL top 10 over sim         (bench/serving/plain.pgbench)
#   (0)    the floor: `SELECT :u` under the same load, i.e. what pgbench, the protocol round trip and
#          the transaction cost without any query work    (bench/serving/floor.pgbench)
#   (C)    (A) again while itemcf_rebuild() runs back to back in another session for the whole
#          measurement, and a checker (bench/serving/check.pgbench) stores live answers of
#          sampled users; they must have 10 rows and equal the answers of the old model (snapshot
#          taken before any load) or of the new model (taken after).  Every rebuild recomputes
#          the same data, so old = new, and every answer must equal the stored snapshot.  A
#          negative control shows that the check catches a half-built model: inside a
#          transaction that is rolled back, the current version loses the neighbour lists of
#          every even item id, and the sampled answers are compared with the snapshot.
# TPS, latency p50/p99 and errors come from the per-transaction logs (pgbench -l, column 3 =
# latency in µs), written into a temporary directory.  Output: a table on stdout, also written to
# bench/out/serving_bench-<scale>-<stamp>.txt; progress on stderr.
#
# Environment:
#   SCALE          full (600,000 users, 400,000 items, ~6 M rows; default) or small (60,000 / 40,000)
#   USERS, ITEMS   override the scale's numbers
#   DURATION       seconds of each measured load (default 60)
#   WARMUP         seconds of unmeasured load before (A) and before (B) (default 10; 0 = none)
#   CLIENTS        pgbench clients (default 8); THREADS pgbench threads (default 2)
#   SAMPLE         users whose answers are snapshotted and checked in (C) (default 200)
#   CHECK_RATE     checks per second in (C), pgbench -R (default 50; 0 = as fast as it can)
#   REBUILD_LEAD   seconds the rebuild loop runs before the (C) load starts (default: 60 % of the
#                  set-up rebuild's time), so that the first rebuild commits inside the measurement
#                  even when a rebuild under load takes longer than DURATION
#   FLOOR          seconds of the (0) floor run (default 20; 0 = skip it)
#   PERF           seconds of `perf record` on the recommend() backends during an extra,
#                  unmeasured recommend() load after (B) (default 0 = no profile); needs perf,
#                  root (or perf_event_paranoid <= 1) and a server on this machine
#   BENCH_REGEN    1 regenerates the data even if itemcf_purchases already holds this scale
#   BENCH_RECREATE 1 drops and re-creates the extension first (its tables go too)
#   BENCH_KEEP_LOGS 1 keeps the temporary directory with the pgbench logs
# Server: if PGHOST is set, that server (and PGPORT/PGUSER; PGDATABASE defaults to bench_serving,
# created if missing; itemcf must be installed there).  Otherwise scripts/lib.sh builds and installs
# itemcf (BENCH_NO_BUILD=1 skips that) and starts the project's throwaway cluster.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCALE="${SCALE:-full}"
case "$SCALE" in
    full)  USERS="${USERS:-600000}"; ITEMS="${ITEMS:-400000}" ;;
    small) USERS="${USERS:-60000}";  ITEMS="${ITEMS:-40000}" ;;
    *) echo "serving_bench: SCALE must be full or small" >&2; exit 2 ;;
esac
DURATION="${DURATION:-60}"
WARMUP="${WARMUP:-10}"
CLIENTS="${CLIENTS:-8}"
THREADS="${THREADS:-2}"
SAMPLE="${SAMPLE:-200}"
CHECK_RATE="${CHECK_RATE:-50}"
FLOOR="${FLOOR:-20}"
PERF="${PERF:-0}"
BENCH_REGEN="${BENCH_REGEN:-0}"
K=10
[[ -z "${REBUILD_LEAD:-}" || "${REBUILD_LEAD}" =~ ^[0-9]+$ ]] ||
    { echo "serving_bench: REBUILD_LEAD must be a whole number" >&2; exit 2; }
for v in USERS ITEMS DURATION WARMUP CLIENTS THREADS SAMPLE CHECK_RATE FLOOR PERF; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "serving_bench: $v must be a whole number" >&2; exit 2; }
done
[[ "$DURATION" -ge 1 && "$CLIENTS" -ge 1 && "$THREADS" -ge 1 && "$SAMPLE" -ge 1 ]] ||
    { echo "serving_bench: DURATION, CLIENTS, THREADS and SAMPLE must be at least 1" >&2; exit 2; }

log() { printf '[serving] %s\n' "$*" >&2; }
die() { printf '[serving] error: %s\n' "$*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
num() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/; ta'; }   # 1234567 -> 1,234,567

if [[ -z "${PGHOST:-}" && -f scripts/lib.sh ]]; then
    # shellcheck source=scripts/lib.sh
    source scripts/lib.sh
    itemcf_install_deps
    if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        itemcf_build || itemcf_die "build failed"
    fi
    itemcf_cluster_start            # exports PGHOST/PGPORT/PGUSER; stops the server on exit
fi
export PGDATABASE="${PGDATABASE:-bench_serving}"
command -v pgbench >/dev/null || die "pgbench is not installed (Debian: postgresql-client-15)"

mkdir -p bench/out
STAMP="$(date +%Y%m%d-%H%M%S)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/serving_bench.XXXXXX")"
RES="$TMP/results"                   # key=value lines, rendered at the end
: >"$RES"
BG_PIDS=()
cleanup() {
    local p
    touch "$TMP/stop_rebuilds" 2>/dev/null || true
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ "${BENCH_KEEP_LOGS:-0}" == 1 ]]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap 'cleanup' EXIT
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
get() { sed -n "s/^$1=//p" "$RES" | tail -n1; }

PSQL=(psql -X -q -v ON_ERROR_STOP=1)
q() { "${PSQL[@]}" -At -F '|' "$@"; }
if ! PGDATABASE=postgres q -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1; then
    log "creating database $PGDATABASE"
    PGDATABASE=postgres "${PSQL[@]}" -c "CREATE DATABASE \"$PGDATABASE\""
fi
if [[ "${BENCH_RECREATE:-0}" == 1 ]]; then
    log "BENCH_RECREATE=1: dropping and re-creating extension itemcf in $PGDATABASE (its tables go too)"
    "${PSQL[@]}" -c 'SET client_min_messages = warning' -c 'DROP EXTENSION IF EXISTS itemcf CASCADE'
fi
"${PSQL[@]}" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS itemcf'
EXT="$(q -c "SELECT quote_ident(extnamespace::regnamespace::text) FROM pg_extension WHERE extname = 'itemcf'")"
# The pgbench scripts name the extension's objects and the bench tables unqualified.
export PGOPTIONS="${PGOPTIONS:-} -c search_path=$EXT,public"

put date "$(date '+%Y-%m-%d %H:%M')"
put scale "$SCALE"; put users_param "$USERS"; put items_param "$ITEMS"
put server "$(q -c 'SHOW server_version')"
put settings "shared_buffers $(q -c 'SHOW shared_buffers'), max_parallel_workers_per_gather $(q -c 'SHOW max_parallel_workers_per_gather'), synchronous_commit $(q -c 'SHOW synchronous_commit'), jit $(q -c 'SHOW jit')"
put cores "$(nproc)"
put cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
put load_before "$(load)"
log "load average before: $(load)"

# --- data ---------------------------------------------------------------------------------------
"${PSQL[@]}" -c 'SET client_min_messages = warning' \
    -c 'CREATE TABLE IF NOT EXISTS bench_shop_meta (users integer, items integer, rows bigint)'
have="$(q -c "SELECT users || ':' || items || ':' || rows FROM bench_shop_meta")"
now_rows="$(q -c "SELECT count(*) FROM $EXT.itemcf_purchases")"
regen=0
if [[ "$BENCH_REGEN" == 1 || "$have" != "$USERS:$ITEMS:$now_rows" ]]; then
    regen=1
    log "generating the shop: $USERS users, $ITEMS items (bench/gen_shop.sql)"
    t0=$(now)
    "${PSQL[@]}" -v users="$USERS" -v items="$ITEMS" -v target="$EXT.itemcf_purchases" \
        -f bench/gen_shop.sql >/dev/null
    now_rows="$(q -c "SELECT count(*) FROM $EXT.itemcf_purchases")"
    q -c "TRUNCATE bench_shop_meta" -c "INSERT INTO bench_shop_meta VALUES ($USERS, $ITEMS, $now_rows)" >/dev/null
    log "generated $now_rows rows in $(elapsed "$t0") s"
else
    log "itemcf_purchases already holds the shop ($now_rows rows); BENCH_REGEN=1 regenerates it"
fi
put rows "$now_rows"
put purchases_size "$(q -c "SELECT pg_size_pretty(pg_total_relation_size('$EXT.itemcf_purchases'))")"

# --- the model and the plain-SQL similarity table -------------------------------------------------
log "itemcf_rebuild('default')"
IFS='|' read -r rb_status rb_secs rb_items rb_entries rb_version < <(q -c "
    SELECT status, round(total_seconds::numeric, 2), items, entries_written, version
    FROM $EXT.itemcf_rebuild('default')")
[[ "$rb_status" == succeeded ]] || die "itemcf_rebuild('default') returned status $rb_status"
put build "$rb_secs s, $rb_items items, $rb_entries neighbour entries (version $rb_version)"
log "model built in $rb_secs s: $rb_items items, $rb_entries entries"

log "plain-SQL alternative: CREATE TABLE sim AS ... FROM itemcf_similarities, index on sim(item_id)"
t0=$(now)
"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS sim;
CREATE TABLE sim AS SELECT item_id, neighbor_id, score FROM $EXT.itemcf_similarities WHERE model = 'default';
CREATE INDEX sim_item_id_idx ON sim (item_id);
VACUUM (ANALYZE) sim;
SQL
put sim "$(q -c "SELECT to_char(count(*), 'FM999,999,999') || ' rows, ' || pg_size_pretty(pg_total_relation_size('sim')) FROM sim") (built in $(elapsed "$t0") s)"
# A fresh shop was just vacuumed by gen_shop.sql; an old one may have lost its visibility map.
[[ "$regen" == 1 ]] || "${PSQL[@]}" -c "VACUUM (ANALYZE) $EXT.itemcf_purchases"

# --- sampled users, the old model's answers, negative control ------------------------------------
# serving_answer(u): recommend(u, 10) as one text, "item:score:because_item" in rank order.
"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION serving_answer(u bigint, OUT nrows integer, OUT answer text)
LANGUAGE sql STABLE AS \$\$
    SELECT count(*)::integer,
           string_agg(r.item_id || ':' || r.score || ':' || coalesce(r.because_item::text, 'popular'),
                      ' ' ORDER BY r.ord)
    FROM $EXT.recommend(u, $K) WITH ORDINALITY AS r(item_id, score, reason, because_item, ord)
\$\$;
DROP TABLE IF EXISTS serving_sample, serving_snap, serving_checks;
CREATE TABLE serving_sample (idx integer PRIMARY KEY, user_id bigint NOT NULL);
INSERT INTO serving_sample
SELECT row_number() OVER (ORDER BY hashint8extended(u, 42), u), u
FROM generate_series(1, $USERS::bigint) AS u
ORDER BY hashint8extended(u, 42), u LIMIT $SAMPLE;
CREATE TABLE serving_snap (phase text, user_id bigint, version bigint, nrows integer, answer text,
                           PRIMARY KEY (phase, user_id));
CREATE TABLE serving_checks (checked_at timestamptz DEFAULT clock_timestamp(), user_id bigint,
                             version bigint, nrows integer, answer text);
INSERT INTO serving_snap
SELECT 'old', s.user_id, (SELECT current_version FROM $EXT.itemcf_models WHERE name = 'default'), a.nrows, a.answer
FROM serving_sample s, serving_answer(s.user_id) a;
SQL
nsample="$(q -c "SELECT count(*) FROM serving_sample s WHERE EXISTS (SELECT 1 FROM $EXT.itemcf_purchases p WHERE p.user_id = s.user_id)")"
[[ "$nsample" == "$SAMPLE" ]] || die "only $nsample of the $SAMPLE sampled users have purchases"
put snapshot "$(q -c "SELECT count(*) || ' users, ' || count(*) FILTER (WHERE nrows = $K) || ' with $K rows, '
                     || count(*) FILTER (WHERE answer LIKE '%popular%') || ' with popular fill-ins'
                     FROM serving_snap WHERE phase = 'old'")"

log "negative control: a half-built model (rolled back)"
IFS='|' read -r nc_deleted nc_flagged nc_short < <("${PSQL[@]}" -At -F '|' <<SQL | tail -n1
BEGIN;
CREATE TEMP TABLE nc_deleted ON COMMIT DROP AS
WITH d AS (
    DELETE FROM $EXT.itemcf_neighbors n USING $EXT.itemcf_models m
    WHERE m.name = 'default' AND n.model_id = m.model_id AND n.version = m.current_version
      AND n.item_id % 2 = 0
    RETURNING 1)
SELECT count(*) AS n FROM d;
SELECT (SELECT n FROM nc_deleted),
       count(*) FILTER (WHERE a.nrows <> $K OR a.answer IS DISTINCT FROM o.answer),
       count(*) FILTER (WHERE a.nrows <> $K)
FROM serving_snap o, serving_answer(o.user_id) a
WHERE o.phase = 'old';
ROLLBACK;
SQL
)
put negative_control "$(num "$nc_deleted") of the model's neighbour lists deleted (every even item id), inside a transaction that was rolled back: $nc_flagged of $SAMPLE sampled answers flagged ($nc_short with fewer than $K rows)"
[[ "$nc_flagged" -gt 0 ]] || log "WARNING: the negative control flagged no answer"

# Rebuilds leave the old versions' rows dead until (auto)vacuum, and the control's rolled-back
# delete leaves hint bits to set: start (A) and (B) from the state after a vacuum.
"${PSQL[@]}" -c "VACUUM (ANALYZE) $EXT.itemcf_neighbors, $EXT.itemcf_popular, $EXT.itemcf_models"
put neighbors_size "$(q -c "SELECT pg_size_pretty(pg_total_relation_size('$EXT.itemcf_neighbors'))")"

# --- pgbench runs ---------------------------------------------------------------------------------
# run_pgbench LABEL SCRIPT SECONDS [pgbench options...]; logs into $TMP/log_LABEL/
run_pgbench() {
    local label="$1" script="$2" secs="$3"
    shift 3
    mkdir -p "$TMP/log_$label"
    local rc=0
    pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$secs" -D users="$USERS" \
        -f "$script" "$@" >"$TMP/$label.out" 2>"$TMP/$label.err" || rc=$?
    echo "$rc" >"$TMP/$label.rc"
}
measure() {      # measure LABEL SCRIPT [SECONDS]: a logged run of DURATION seconds
    run_pgbench "$1" "$2" "${3:-$DURATION}" -l --log-prefix="$TMP/log_$1/tx"
}
# stats LABEL [SECONDS] -> "n|failed|tps|p50_ms|p99_ms|max_ms|errors|pgbench_tps|rc" from the logs
stats() {
    local label="$1" secs="${2:-$DURATION}" n failed p50 p99 pmax errors ptps rc
    # column 3: latency in µs, or "failed" / "skipped"
    cat "$TMP/log_$label"/tx.* 2>/dev/null | awk '{print $3}' >"$TMP/$label.lat"
    failed="$(grep -cv '^[0-9]' "$TMP/$label.lat" || true)"
    grep '^[0-9]' "$TMP/$label.lat" | sort -n >"$TMP/$label.sorted" || true
    n="$(wc -l <"$TMP/$label.sorted")"
    read -r p50 p99 pmax < <(awk -v n="$n" '
        function rank(q,  r) { r = int(q * n); if (r < q * n) r++; if (r < 1) r = 1; return r }
        NR == rank(0.50) { p50 = $1 } NR == rank(0.99) { p99 = $1 } { last = $1 }
        END { if (n == 0) print "nan nan nan"; else printf "%.3f %.3f %.3f\n", p50 / 1000, p99 / 1000, last / 1000 }' \
        "$TMP/$label.sorted")
    # errors: failed transactions in the log + every ERROR or aborted client pgbench reported
    errors=$(( failed + $(grep -Ec 'ERROR|aborted' "$TMP/$label.err" || true) ))
    ptps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/$label.out" | head -n1)"
    rc="$(cat "$TMP/$label.rc")"
    printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$n" "$failed" \
        "$(awk -v n="$n" -v d="$secs" 'BEGIN {printf "%.0f", n / d}')" \
        "$p50" "$p99" "$pmax" "$errors" "${ptps:-?}" "$rc"
}

REC=bench/serving/recommend.pgbench
PLAIN=bench/serving/plain.pgbench
CHECK=bench/serving/check.pgbench
FLOORSQL=bench/serving/floor.pgbench

if [[ "$WARMUP" -gt 0 ]]; then
    log "(A) warm-up: recommend(), $WARMUP s"
    run_pgbench warm_a "$REC" "$WARMUP"
fi
log "(A) recommend(): $CLIENTS clients, $THREADS threads, $DURATION s (load $(load))"
put load_a "$(load)"
measure A "$REC"
put stats_A "$(stats A)"

if [[ "$WARMUP" -gt 0 ]]; then
    log "(B) warm-up: plain SQL, $WARMUP s"
    run_pgbench warm_b "$PLAIN" "$WARMUP"
fi
log "(B) plain SQL: $CLIENTS clients, $THREADS threads, $DURATION s (load $(load))"
put load_b "$(load)"
measure B "$PLAIN"
put stats_B "$(stats B)"

if [[ "$FLOOR" -gt 0 ]]; then
    log "(0) floor: SELECT :u, $FLOOR s (load $(load))"
    measure F "$FLOORSQL" "$FLOOR"
    put stats_F "$(stats F "$FLOOR")"
fi

# Do recommend() and the plain SQL give the same top 10 on the sampled users?
put agreement "$(q -c "
    WITH r AS (SELECT s.user_id,
                      (SELECT array_agg(item_id ORDER BY ord) FROM $EXT.recommend(s.user_id, $K)
                           WITH ORDINALITY AS x(item_id, score, reason, because_item, ord)
                       WHERE reason <> 'popular') AS rec,
                      (SELECT array_agg(neighbor_id ORDER BY score DESC, neighbor_id) FROM (
                           SELECT s2.neighbor_id, sum(s2.score) AS score
                           FROM (SELECT DISTINCT item_id FROM $EXT.itemcf_purchases WHERE user_id = s.user_id) p
                           JOIN sim s2 ON s2.item_id = p.item_id
                           WHERE NOT EXISTS (SELECT 1 FROM $EXT.itemcf_purchases q
                                             WHERE q.user_id = s.user_id AND q.item_id = s2.neighbor_id)
                           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $K) t) AS sql
               FROM serving_sample s)
    SELECT count(*) FILTER (WHERE rec IS NOT DISTINCT FROM sql) || ' of ' || count(*)
           || ' sampled users get the same list in the same order, '
           || count(*) FILTER (WHERE rec IS DISTINCT FROM sql
                               AND coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(rec) x), '{}')
                                 = coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(sql) x), '{}'))
           || ' the same items in another order (ties); '
           || count(*) FILTER (WHERE cardinality(sql) IS DISTINCT FROM $K)
           || ' have fewer than $K items in plain SQL (recommend() fills with popular items)'
    FROM r")"

# --- optional profile of recommend() --------------------------------------------------------------
# Self time of the top symbols, and the inclusive time of the steps of one call, as a share of the
# samples taken in the recommend() backends (perf's cpu-clock: only on-CPU time is sampled).
# The steps of a call: PostgreSQL's, then itemcf's (src/serving.c, serving_model.c, serving_purchases.c,
# run_as.c); a static function may carry a compiler suffix (.constprop.0, .isra.0), matched below.
PERF_STEPS='PostgresMain|exec_bind_message|exec_execute_message|PortalRun|standard_ExecutorStart|ExecMakeTableFunctionResult|Recommend|OpenServe|ServeGetModel|ServeReadPurchases|ReadPurchasesDirect|ReadPurchasesQuery|PurchasesPlan|itemcf_run_as|RunPurchasesQuery|SPI_execute_plan|GetNeighbors|Accumulate|TopK|FillFrom|GetLabel|EmitRows|CommitTransactionCommand|StartTransactionCommand|finish_xact_command|pq_getbyte|secure_read|secure_write|__send|ReadyForQuery|pq_flush'
if [[ "$PERF" -gt 0 ]]; then
    if command -v perf >/dev/null; then
        log "profile: recommend() load for $((PERF + 4)) s, perf record on its backends for $PERF s"
        run_pgbench perf "$REC" "$((PERF + 4))" &
        perf_load=$!
        sleep 2
        pids="$(q -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity
                      WHERE datname = current_database() AND application_name = 'pgbench'")"
        perf_rc=0
        if [[ -n "$pids" ]]; then
            perf record -q -F 999 -g -p "$pids" -o "$TMP/perf.data" -- sleep "$PERF" \
                >"$TMP/perf.err" 2>&1 || perf_rc=$?
        fi
        if [[ -s "$TMP/perf.data" ]]; then
            wait "$perf_load" || true
            nsamp="$(perf report -i "$TMP/perf.data" --stdio --no-children --sort symbol 2>/dev/null \
                     | sed -n 's/^# Samples: \([0-9kKM.]*\).*/\1/p' | head -n1 || true)"
            tps_perf="$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$TMP/perf.out" | head -n1)"
            {
                echo "$nsamp samples at 999 Hz over $PERF s in $(tr ',' '\n' <<<"$pids" | wc -l) backends (${tps_perf:-?} TPS while profiled; perf slows it down)"
                echo "inclusive (children) time of the steps of a call:"
                perf report -i "$TMP/perf.data" --stdio --children --sort symbol 2>/dev/null \
                    | grep -E "^ +[0-9.]+% +[0-9.]+% +\[[.k]\] ($PERF_STEPS)(\.[a-z]+\.[0-9]+)* " \
                    | awk '{printf "  %7s  %s\n", $1, $4}' | head -n 30 || true
                echo "self time, top symbols:"
                perf report -i "$TMP/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null \
                    | grep -E '^ +[0-9.]+%' | awk '{printf "  %7s  %-18s %s\n", $1, $2, $4}' | head -n 25 || true
            } >"$TMP/perf.top"
        else
            wait "$perf_load" || true
            echo "perf record failed (exit $perf_rc, backends '$pids'): $(head -n3 "$TMP/perf.err" 2>/dev/null)" >"$TMP/perf.top"
        fi
    else
        echo "perf is not installed" >"$TMP/perf.top"
    fi
fi

# --- (C) recommend() under back-to-back rebuilds, with the checker ----------------------------------
ver_before="$(q -c "SELECT current_version FROM $EXT.itemcf_models WHERE name = 'default'")"
rm -f "$TMP/stop_rebuilds"
: >"$TMP/rebuilds"
(
    # one line per rebuild: start|end|status|version|total_seconds|error
    while [[ ! -e "$TMP/stop_rebuilds" ]]; do
        t0=$(now)
        if r="$(psql -X -At -F '|' -c "SELECT status, version, round(total_seconds::numeric, 2), coalesce(error, '')
                                       FROM $EXT.itemcf_rebuild('default')" 2>&1)"; then
            echo "$t0|$(now)|$r" >>"$TMP/rebuilds"
        else
            echo "$t0|$(now)|psql-error|||$(echo "$r" | tr '\n|' '  ')" >>"$TMP/rebuilds"
            sleep 1
        fi
    done
) &
rebuild_loop=$!
BG_PIDS+=("$rebuild_loop")
lead="${REBUILD_LEAD:-$(awk -v s="$rb_secs" 'BEGIN {printf "%d", s * 0.6 + 0.5}')}"
put rebuild_lead "$lead"
if [[ "$lead" -gt 0 ]]; then
    log "(C) rebuild loop started; the load starts in $lead s"
    sleep "$lead"
fi
check_opts=(-n -M prepared -c 1 -j 1 -T "$DURATION" -D nsample="$SAMPLE" -f "$CHECK")
[[ "$CHECK_RATE" -gt 0 ]] && check_opts+=(-R "$CHECK_RATE")
pgbench "${check_opts[@]}" >"$TMP/check.out" 2>"$TMP/check.err" &
checker=$!
BG_PIDS+=("$checker")
log "(C) recommend() under back-to-back itemcf_rebuild(), $DURATION s (load $(load))"
put load_c "$(load)"
c_start=$(now)
measure C "$REC"
c_end=$(now)
check_rc=0
wait "$checker" || check_rc=$?
log "(C) load done; waiting for the rebuild in flight"
touch "$TMP/stop_rebuilds"
wait "$rebuild_loop" || true
put stats_C "$(stats C)"
ver_after="$(q -c "SELECT current_version FROM $EXT.itemcf_models WHERE name = 'default'")"

# rebuilds: how many finished inside the measurement, and how much of it they covered
put rebuilds "$(awk -F '|' -v a="$c_start" -v b="$c_end" '
    { s = ($1 > a ? $1 : a); e = ($2 < b ? $2 : b); if (e > s) busy += e - s
      if ($3 == "succeeded" && $2 >= a && $2 <= b) done++
      else if ($3 == "succeeded" && $2 < a) early++
      else if ($3 == "succeeded") late++
      else other[$3]++
      if ($3 == "succeeded") { secs = secs (secs == "" ? "" : " ") $5 } }
    END { printf "%d committed during the measurement (+%d before it, +%d after it), %.0f %% of it covered by a rebuild",
                 done, early, late, 100 * busy / (b - a)
          for (o in other) printf ", %d %s", other[o], o
          printf "; seconds each: %s", secs }' "$TMP/rebuilds")"
put rebuild_errors "$(awk -F '|' '$3 != "succeeded" && $3 != "skipped"' "$TMP/rebuilds" | wc -l)"
put rebuild_error_text "$(awk -F '|' '$3 != "succeeded" && $3 != "skipped" {print $6}' "$TMP/rebuilds" | head -n1)"
put versions "$ver_before -> $ver_after"

"${PSQL[@]}" -c "INSERT INTO serving_snap
    SELECT 'new', s.user_id, (SELECT current_version FROM $EXT.itemcf_models WHERE name = 'default'), a.nrows, a.answer
    FROM serving_sample s, serving_answer(s.user_id) a"
IFS='|' read -r ck_n ck_short ck_old ck_new ck_neither ck_vers ck_users < <(q -c "
    SELECT count(*), count(*) FILTER (WHERE c.nrows <> $K),
           count(*) FILTER (WHERE c.answer = o.answer), count(*) FILTER (WHERE c.answer = n.answer),
           count(*) FILTER (WHERE c.answer IS DISTINCT FROM o.answer AND c.answer IS DISTINCT FROM n.answer),
           count(DISTINCT c.version), count(DISTINCT c.user_id)
    FROM serving_checks c
    JOIN serving_snap o ON o.phase = 'old' AND o.user_id = c.user_id
    JOIN serving_snap n ON n.phase = 'new' AND n.user_id = c.user_id")
ck_mismatch="$(q -c "SELECT count(*) FROM serving_checks c JOIN serving_snap o ON o.phase = 'old' AND o.user_id = c.user_id
                     WHERE c.nrows <> $K OR c.answer IS DISTINCT FROM o.answer")"
old_new="$(q -c "SELECT count(*) FROM serving_snap o JOIN serving_snap n ON n.phase = 'new' AND n.user_id = o.user_id
                 WHERE o.phase = 'old' AND (o.answer IS DISTINCT FROM n.answer OR o.nrows <> n.nrows)")"
check_errors=$(( $(grep -Ec 'ERROR|aborted' "$TMP/check.err" || true) ))
put checks "$ck_n|$ck_short|$ck_old|$ck_new|$ck_neither|$ck_vers|$ck_users|$ck_mismatch|$old_new|$check_errors|$check_rc"
put load_after "$(load)"
log "load average after: $(load)"

# --- report ---------------------------------------------------------------------------------------
OUT="bench/out/serving_bench-$SCALE-$STAMP.txt"
{
    echo "itemcf serving benchmark, $(get date), SCALE=$SCALE: $(num "$USERS") users, $(num "$ITEMS") items, $(num "$(get rows)") purchase rows ($(get purchases_size) with index)"
    echo "PostgreSQL $(get server), $(get cores) cores ($(get cpu)); $(get settings)"
    echo "model: $(num "$(get build)"); itemcf_neighbors $(get neighbors_size); sim: $(get sim)"
    echo "pgbench -M prepared -c $CLIENTS -j $THREADS -T $DURATION, random users 1..$USERS, warm-up $WARMUP s; load average before $(get load_before), at (A) $(get load_a), (B) $(get load_b), (C) $(get load_c), after $(get load_after)"
    echo
    printf '%-36s | %8s | %9s | %9s | %9s | %6s | %s\n' run TPS "p50 ms" "p99 ms" "max ms" errors transactions
    printf -- '-------------------------------------+----------+-----------+-----------+-----------+--------+-------------\n'
    for r in A B F C; do
        [[ -n "$(get "stats_$r")" ]] || continue
        case $r in
            A) name="(A) recommend(u, 10)" ;;
            B) name="(B) plain SQL over sim" ;;
            F) name="(0) floor: SELECT :u, $FLOOR s" ;;
            C) name="(C) recommend() under rebuilds" ;;
        esac
        IFS='|' read -r n failed tps p50 p99 pmax errors ptps rc <<<"$(get "stats_$r")"
        printf '%-36s | %8s | %9s | %9s | %9s | %6s | %s\n' "$name" "$(num "$tps")" "$p50" "$p99" "$pmax" "$errors" \
            "$(num "$n") (pgbench: tps ${ptps%%.*}, exit $rc)"
    done
    echo
    IFS='|' read -r _ _ tA _ p99A _ eA _ <<<"$(get stats_A)"
    IFS='|' read -r _ _ tB _ <<<"$(get stats_B)"
    IFS='|' read -r _ _ _ _ p99C _ eC _ <<<"$(get stats_C)"
    IFS='|' read -r ck_n ck_short ck_old ck_new ck_neither ck_vers ck_users ck_mismatch old_new check_errors check_rc <<<"$(get checks)"
    verdict() { if [[ "$1" == 1 ]]; then echo met; else echo MISSED; fi; }
    ratio="$(awk -v a="$tA" -v b="$tB" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "inf"}')"
    printf '%-44s | %10s | %8s | %s\n' target value goal verdict
    printf -- '---------------------------------------------+------------+----------+--------\n'
    printf '%-44s | %10s | %8s | %s\n' "TPS recommend / plain SQL" "${ratio}x" ">= 3x" \
        "$(verdict "$(awk -v r="$ratio" 'BEGIN {print (r + 0 >= 3) ? 1 : 0}')")"
    printf '%-44s | %10s | %8s | %s\n' "(A) p99" "$p99A ms" "< 5 ms" \
        "$(verdict "$(awk -v p="$p99A" 'BEGIN {print (p + 0 < 5) ? 1 : 0}')")"
    printf '%-44s | %10s | %8s | %s\n' "(A) errors" "$eA" "0" "$(verdict "$([[ "$eA" == 0 ]] && echo 1)")"
    printf '%-44s | %10s | %8s | %s\n' "(C) p99 under rebuilds" "$p99C ms" "< 20 ms" \
        "$(verdict "$(awk -v p="$p99C" 'BEGIN {print (p + 0 < 20) ? 1 : 0}')")"
    printf '%-44s | %10s | %8s | %s\n' "(C) errors (load + checker + rebuilds)" \
        "$((eC + check_errors + $(get rebuild_errors)))" "0" \
        "$(verdict "$([[ $((eC + check_errors + $(get rebuild_errors))) == 0 ]] && echo 1)")"
    printf '%-44s | %10s | %8s | %s\n' "(C) model versions the checker saw" "$ck_vers" ">= 2" \
        "$(verdict "$([[ "$ck_vers" -ge 2 ]] && echo 1)")"
    printf '%-44s | %10s | %8s | %s\n' "(C) checked answers not as snapshotted" "$ck_mismatch" "0" \
        "$(verdict "$([[ "$ck_mismatch" == 0 && "$ck_n" -gt 0 ]] && echo 1)")"
    if [[ -n "$(get stats_F)" ]]; then
        IFS='|' read -r _ _ tF _ <<<"$(get stats_F)"
        awk -v c="$(get cores)" -v a="$tA" -v b="$tB" -v f="$tF" 'BEGIN {
            if (a > 0 && b > 0 && f > 0) {
                ca = c * 1e6 / a; cb = c * 1e6 / b; cf = c * 1e6 / f
                printf "\nmachine time per transaction (cores / TPS, every process on the machine included): recommend %.0f µs, plain SQL %.0f µs, floor %.0f µs;\n", ca, cb, cf
                printf "net of the floor: recommend %.0f µs, plain SQL %.0f µs, ratio %.2fx\n", ca - cf, cb - cf, (ca > cf) ? (cb - cf) / (ca - cf) : 0 } }'
    fi
    echo
    echo "(C) rebuilds (loop started $(get rebuild_lead) s before the load): $(get rebuilds); model version $(get versions)"
    [[ "$(get rebuild_errors)" == 0 ]] || echo "(C) rebuild error: $(get rebuild_error_text)"
    echo "(C) checker: $ck_n live answers of $ck_users sampled users (pgbench -R $CHECK_RATE, exit $check_rc, $check_errors errors), seen under $ck_vers model versions;"
    echo "    $ck_short without $K rows, $ck_old equal to the old model's answer, $ck_new equal to the new model's, $ck_neither equal to neither;"
    echo "    old and new model differ for $old_new of $SAMPLE sampled users (every rebuild recomputes the same data)"
    echo "snapshot of the old model: $(get snapshot)"
    echo "negative control: $(get negative_control)"
    echo "recommend() vs plain SQL on the sample: $(get agreement)"
    if [[ -f "$TMP/perf.top" ]]; then
        echo
        echo "profile: perf record -F 999 -g on the recommend() backends during an extra, unmeasured load:"
        cat "$TMP/perf.top"
    fi
} | tee "$OUT"
log "written to $OUT"
