#!/usr/bin/env bash
# Dashboard queries against the views, and the same queries against the 0.1.0 view
# definitions (recreated inline in schema dash_old), in one run on the same models:
#   top pairs of a model (itemcf_top_pairs; 0.1.0: itemcf_similarities by score), an item's
#   neighbours, the top 5 of 100 items, two models compared, per-model statistics, the last
#   runs, a model's popular items by name (0.1.0: the table joined by hand).
# Prints a table (median execution time of BENCH_RUNS runs, EXPLAIN ANALYZE with TIMING OFF)
# and writes every plan (EXPLAIN ANALYZE, BUFFERS) to bench/out/dashboard_plans-<scale>-<time>.txt.
#
# Data: bench/gen_shop.sql into table dash_shop, and BENCH_MODELS models over it (cosine k = 50,
# jaccard k = 20, conditional_probability k = 50, ... cycling; default 3).
# Environment:
#   SCALE              full (600,000 users, 400,000 items, ~6 M rows; default) or small (60,000 / 40,000)
#   USERS, ITEMS       override the scale's numbers
#   BENCH_MODELS       models to build (default 3)
#   BENCH_RUNS         timed runs per query (default 3)
#   BENCH_OLD_TIMEOUT  statement_timeout in seconds for the 0.1.0 queries (default 300; "> N s")
#   BENCH_REGEN        1 regenerates the shop and rebuilds the models even if present
# Server: if PGHOST is set, that server (PGDATABASE defaults to bench_dash, created if missing;
# itemcf must be installed there); otherwise scripts/lib.sh builds and installs itemcf
# (BENCH_NO_BUILD=1 skips that) and starts the project's throwaway cluster.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"

SCALE="${SCALE:-full}"
case "$SCALE" in
    full)  USERS="${USERS:-600000}"; ITEMS="${ITEMS:-400000}" ;;
    small) USERS="${USERS:-60000}";  ITEMS="${ITEMS:-40000}" ;;
    *) echo "dashboard_bench: SCALE must be full or small" >&2; exit 2 ;;
esac
MODELS="${BENCH_MODELS:-3}"
RUNS="${BENCH_RUNS:-3}"
OLD_TIMEOUT="${BENCH_OLD_TIMEOUT:-300}"
log() { printf '[bench] %s\n' "$*" >&2; }

if [[ -z "${PGHOST:-}" && -f scripts/lib.sh ]]; then
    # shellcheck source=scripts/lib.sh
    source scripts/lib.sh
    itemcf_install_deps >&2
    if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        itemcf_build >&2 || itemcf_die "build failed"
    fi
    itemcf_cluster_start >&2
    BENCH_OWN_CLUSTER=1
fi
export PGDATABASE="${PGDATABASE:-bench_dash}"
mkdir -p bench/out
STAMP="$(date +%Y%m%d-%H%M%S)"
PLANS="$ROOT/bench/out/dashboard_plans-$SCALE-$STAMP.txt"
cleanup() { if [[ "${BENCH_OWN_CLUSTER:-0}" == 1 ]]; then itemcf_cluster_stop >&2 || true; fi; }
trap cleanup EXIT

PSQL=(psql -X -q -v ON_ERROR_STOP=1)
q() { "${PSQL[@]}" -At "$@"; }
if ! PGDATABASE=postgres q -c "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1; then
    log "creating database $PGDATABASE"
    PGDATABASE=postgres q -c "CREATE DATABASE \"$PGDATABASE\""
fi
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS itemcf'

have="$(q -c "SELECT count(*) FROM pg_class WHERE relname = 'dash_shop'")"
built="$(q -c "SELECT count(*) FROM itemcf_models WHERE name LIKE 'dash\_m%' AND current_version IS NOT NULL")"
if [[ "$have" == 0 || "$built" -lt "$MODELS" || "${BENCH_REGEN:-0}" == 1 ]]; then
    log "generating the shop: $USERS users, $ITEMS items (bench/gen_shop.sql into dash_shop)"
    q -v users="$USERS" -v items="$ITEMS" -v target=dash_shop -f bench/gen_shop.sql >/dev/null
    q -c "CREATE INDEX IF NOT EXISTS dash_shop_user_idx ON dash_shop (user_id)" -c "ANALYZE dash_shop"
    q -c "SELECT count(itemcf_drop_model(name)) FROM itemcf_models WHERE name LIKE 'dash\_m%'" >/dev/null
    for ((m = 1; m <= MODELS; m++)); do
        case $(( (m - 1) % 3 )) in
            0) opts="measure => 'cosine', k => 50" ;;
            1) opts="measure => 'jaccard', k => 20" ;;
            2) opts="measure => 'conditional_probability', k => 50" ;;
        esac
        q -c "SET client_min_messages = warning" -c "SELECT itemcf_register_model('dash_m$m', 'dash_shop', $opts)" >/dev/null
        log "rebuilding dash_m$m ($opts)"
        q -c "SET itemcf.reclaim = immediate" -c "SELECT status, entries_written, round(total_seconds::numeric, 1) FROM itemcf_rebuild('dash_m$m')" >&2
    done
fi
q -c "VACUUM ANALYZE itemcf_neighbors" -c "VACUUM ANALYZE itemcf_popular" -c "ANALYZE itemcf_runs" -c "ANALYZE itemcf_models"

# The 0.1.0 definitions, for the comparison
q >/dev/null <<SQL
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS dash_old CASCADE;
CREATE SCHEMA dash_old;
CREATE VIEW dash_old.similarities AS
  SELECT m.name AS model, n.item_id, e.index AS neighbor_id, e.value AS score,
         row_number() OVER (PARTITION BY m.model_id, n.item_id ORDER BY e.value DESC, e.index)::integer AS rank
  FROM itemcf_models m
  JOIN itemcf_neighbors n ON n.model_id = m.model_id AND n.version = m.current_version
  CROSS JOIN LATERAL svec_each(n.neighbors) e;
CREATE VIEW dash_old.model_stats AS
  SELECT m.name AS model, m.measure, m.k, m.current_version AS version, m.built_at,
         r.users, r.items, n.items_with_neighbors, n.entries, r.rows_read, r.total_seconds AS last_build_seconds,
         last.status AS last_status, last.started_at AS last_run_at
  FROM itemcf_models m
  LEFT JOIN LATERAL (SELECT count(*) AS items_with_neighbors, sum(nnz(x.neighbors)) AS entries
                     FROM itemcf_neighbors x WHERE x.model_id = m.model_id AND x.version = m.current_version) n ON true
  LEFT JOIN itemcf_runs r ON r.model_id = m.model_id AND r.version = m.current_version AND r.status = 'succeeded'
  LEFT JOIN LATERAL (SELECT * FROM itemcf_runs l WHERE l.model_id = m.model_id ORDER BY l.run_id DESC LIMIT 1) last ON true;
SQL

# name | query on the views | the same on the 0.1.0 views ("-": no 0.1.0 counterpart)
S_OLD=dash_old.similarities
QUERIES=(
"top pairs of a model|SELECT item_id, neighbor_id, score FROM itemcf_top_pairs WHERE model = 'dash_m1' ORDER BY rank LIMIT 20|SELECT item_id, neighbor_id, score FROM $S_OLD WHERE model = 'dash_m1' ORDER BY score DESC, item_id, neighbor_id LIMIT 20"
"an item's neighbours|SELECT rank, neighbor_id, score FROM itemcf_similarities WHERE model = 'dash_m1' AND item_id = 7 ORDER BY rank|SELECT rank, neighbor_id, score FROM $S_OLD WHERE model = 'dash_m1' AND item_id = 7 ORDER BY rank"
"top 5 of 100 items|SELECT item_id, rank, neighbor_id FROM itemcf_similarities WHERE model = 'dash_m1' AND item_id BETWEEN 1 AND 100 AND rank <= 5|SELECT item_id, rank, neighbor_id FROM $S_OLD WHERE model = 'dash_m1' AND item_id BETWEEN 1 AND 100 AND rank <= 5"
"two models compared (top 10)|SELECT count(*) FROM itemcf_similarities a JOIN itemcf_similarities b ON b.item_id = a.item_id AND b.neighbor_id = a.neighbor_id WHERE a.model = 'dash_m1' AND b.model = 'dash_m2' AND a.rank <= 10 AND b.rank <= 10|SELECT count(*) FROM $S_OLD a JOIN $S_OLD b ON b.item_id = a.item_id AND b.neighbor_id = a.neighbor_id WHERE a.model = 'dash_m1' AND b.model = 'dash_m2' AND a.rank <= 10 AND b.rank <= 10"
"per-model statistics|SELECT model, items_with_neighbors, entries, last_status FROM itemcf_model_stats|SELECT model, items_with_neighbors, entries, last_status FROM dash_old.model_stats"
"one model's statistics|SELECT model, items_with_neighbors, entries FROM itemcf_model_stats WHERE model = 'dash_m1'|SELECT model, items_with_neighbors, entries FROM dash_old.model_stats WHERE model = 'dash_m1'"
"the last runs|SELECT run_id, model, status, total_seconds FROM itemcf_runs ORDER BY run_id DESC LIMIT 20|-"
"popular items by name|SELECT rank, item_id, buyers FROM itemcf_popular_items WHERE model = 'dash_m1' ORDER BY rank LIMIT 20|SELECT p.rank, p.item_id, p.buyers FROM itemcf_popular p JOIN itemcf_models m ON m.model_id = p.model_id AND p.version = m.current_version WHERE m.name = 'dash_m1' ORDER BY p.rank LIMIT 20"
)

# median execution time (ms) of RUNS runs, or "> N s" on timeout; $1 = SQL, $2 = timeout seconds
timeit() {
    local sql="$1" to="$2" i t ts=()
    for ((i = 0; i < RUNS; i++)); do
        if ! t="$(q -c "SET statement_timeout = '${to}s'" -c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $sql" 2>/dev/null |
                  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])' 2>/dev/null)"; then
            echo "> ${to} s"
            return
        fi
        ts+=("$t")
    done
    printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}
plan() {
    { printf '==== %s: %s\n' "$1" "$2"; q -c "SET statement_timeout = '${3}s'" -c "EXPLAIN (ANALYZE, BUFFERS) $2" 2>&1 || true; echo; } >>"$PLANS"
}

entries="$(q -c "SELECT count(*) FROM itemcf_models WHERE name LIKE 'dash\_m%'")"
total="$(q -c "SELECT coalesce(sum(nnz(n.neighbors)), 0) FROM itemcf_models m JOIN itemcf_neighbors n ON n.model_id = m.model_id AND n.version = m.current_version")"
printf '\ndashboard_bench: %s users, %s items, %s models, %s neighbour entries served in all; median of %s runs (ms)\n\n' \
    "$USERS" "$ITEMS" "$entries" "$total" "$RUNS"
printf '| %-30s | %12s | %12s | %9s |\n' "query" "0.1.0 views" "views" "speed-up"
printf '|%s|%s|%s|%s|\n' "--------------------------------" "--------------" "--------------" "-----------"
for entry in "${QUERIES[@]}"; do
    name="${entry%%|*}"; rest="${entry#*|}"; new="${rest%%|*}"; old="${rest#*|}"
    tn="$(timeit "$new" 600)"; plan "$name (views)" "$new" 600
    if [[ "$old" == "-" ]]; then
        printf '| %-30s | %12s | %12s | %9s |\n' "$name" "(none)" "$tn" ""
        continue
    fi
    to="$(timeit "$old" "$OLD_TIMEOUT")"; plan "$name (0.1.0 views)" "$old" "$OLD_TIMEOUT"
    ratio="$(awk -v a="$to" -v b="$tn" 'BEGIN { if (a ~ /^>/) { split(a, x, " "); printf "> %.0f×", x[2] * 1000 / b } else printf "%.0f×", a / b }')"
    printf '| %-30s | %12s | %12s | %9s |\n' "$name" "$to" "$tn" "$ratio"
done
printf '\nplans: %s\n' "${PLANS#"$ROOT"/}"
