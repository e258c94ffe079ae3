#!/usr/bin/env bash
# A/B benchmark of two builds of itemcf on the same data, in one run: for a refactoring or an
# optimisation, "no loss beyond noise" is the ratio of the two measured side by side.
#
# Each side is a PostgreSQL installation (its bin directory) with its own build of itemcf
# installed (make PG_CONFIG=<bin>/pg_config install).  For each side the script creates a
# throwaway cluster, generates the same shop (bench/gen_shop.sql, fixed seed) into
# itemcf_purchases and builds the default model once (warm-up).  Then, for ROUNDS rounds, in
# alternating order (A B, B A, ...), on each side:
#   rebuild   SELECT itemcf_rebuild('default'): total and compute seconds from its run row
#   serving   pgbench -M prepared, CLIENTS clients, DURATION s of recommend(:u, 10) for random users
# Only one side works at a time; the other server is idle.  At the end both sides' neighbour
# lists and the answers of SAMPLE users must be identical (a refactoring changes no result).
# Prints a table: per side the median and range over the rounds, and the B/A ratio of medians
# with the range of per-round ratios.  Output also goes to bench/out/ab_bench-<stamp>.txt.
#
# Environment:
#   A_BIN, B_BIN     bin directories of the two installations (required)
#   A_NAME, B_NAME   labels (default "A", "B")
#   SCALE            small (60,000 users, 40,000 items; default) or full (600,000 / 400,000)
#   ROUNDS           rounds (default 5); DURATION seconds of each serving load (default 15)
#   CLIENTS          pgbench clients (default 2); SAMPLE users compared (default 300)
#   PORT_A, PORT_B   ports (default 54431, 54432)
# Run as root (the servers run as the postgres user) or as the user that owns the clusters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${A_BIN:?set A_BIN to the bin directory of installation A}"
: "${B_BIN:?set B_BIN to the bin directory of installation B}"
A_NAME="${A_NAME:-A}"
B_NAME="${B_NAME:-B}"
SCALE="${SCALE:-small}"
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-15}"
CLIENTS="${CLIENTS:-2}"
SAMPLE="${SAMPLE:-300}"
PORT_A="${PORT_A:-54431}"
PORT_B="${PORT_B:-54432}"
case "$SCALE" in
    small) USERS=60000 ITEMS=40000 ;;
    full) USERS=600000 ITEMS=400000 ;;
    *) echo "SCALE must be small or full" >&2; exit 2 ;;
esac
PY=/usr/bin/python3
BASE="$(mktemp -d /tmp/itemcf-ab.XXXXXX)"
mkdir -p bench/out
OUT="bench/out/ab_bench-$(date -u +%Y%m%d-%H%M%S).txt"
RAW="$BASE/raw"
: >"$RAW"

as_pg() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
log() { echo "[ab] $*" >&2; }

# side X: BIN PORT DIR
start_side() {
    local bin="$1" port="$2" dir="$BASE/$3"
    mkdir -p "$dir"
    if [[ $EUID -eq 0 ]]; then chown postgres: "$BASE" "$dir"; fi
    as_pg "$bin/initdb" -D "$dir/data" --auth=trust --username=postgres -E UTF8 --locale=C >/dev/null
    cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_worker_processes = 16
max_parallel_workers_per_gather = 2
shared_buffers = 512MB
log_min_messages = warning
EOF
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
}
stop_all() {
    for s in A B; do
        local bin dir="$BASE/$s"
        [[ $s == A ]] && bin="$A_BIN" || bin="$B_BIN"
        [[ -f "$dir/data/postmaster.pid" ]] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    done
    rm -rf "$BASE"
}
trap stop_all EXIT

# q SIDE SQL...: psql on a side
q() {
    local s="$1"; shift
    local bin port
    if [[ $s == A ]]; then bin="$A_BIN" port="$PORT_A"; else bin="$B_BIN" port="$PORT_B"; fi
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$BASE/$s" -p "$port" -U postgres -d postgres "$@"
}

for s in A B; do
    if [[ $s == A ]]; then start_side "$A_BIN" "$PORT_A" A; else start_side "$B_BIN" "$PORT_B" B; fi
    log "$s: generating the shop ($USERS users, $ITEMS items) and a first build"
    q "$s" -c "CREATE EXTENSION itemcf" >/dev/null
    q "$s" -v users="$USERS" -v items="$ITEMS" -f bench/gen_shop.sql >/dev/null
    q "$s" -c "SELECT status FROM itemcf_rebuild('default')" >/dev/null
    echo "version_$s=$(q "$s" -c "SELECT extversion FROM pg_extension WHERE extname = 'itemcf'")" >>"$RAW"
done

cat >"$BASE/recommend.pgbench" <<EOF
\\set u random(1, $USERS)
SELECT * FROM recommend(:u, 10);
EOF
if [[ $EUID -eq 0 ]]; then chown postgres: "$BASE/recommend.pgbench"; fi

measure() {
    local s="$1" r="$2" bin port line tps
    if [[ $s == A ]]; then bin="$A_BIN" port="$PORT_A"; else bin="$B_BIN" port="$PORT_B"; fi
    line="$(q "$s" -c "SELECT total_seconds, compute_seconds FROM itemcf_rebuild('default')")"
    echo "rebuild_${s}_$r=${line%%|*}" >>"$RAW"
    echo "compute_${s}_$r=${line##*|}" >>"$RAW"
    tps="$(as_pg "$bin/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" \
            -h "$BASE/$s" -p "$port" -U postgres -f "$BASE/recommend.pgbench" postgres 2>/dev/null \
          | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)"
    echo "tps_${s}_$r=$tps" >>"$RAW"
    log "round $r, $s: rebuild ${line%%|*} s, compute ${line##*|} s, $tps calls/s"
}
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then measure A "$r"; measure B "$r"; else measure B "$r"; measure A "$r"; fi
done

# The two builds must give the same results
sim_a="$(q A -c "SELECT md5(string_agg(item_id || ':' || neighbor_id || ':' || score, ',' ORDER BY item_id, rank)) FROM itemcf_similarities WHERE model = 'default'")"
sim_b="$(q B -c "SELECT md5(string_agg(item_id || ':' || neighbor_id || ':' || score, ',' ORDER BY item_id, rank)) FROM itemcf_similarities WHERE model = 'default'")"
rec_sql="SELECT md5(string_agg(u || ':' || r.item_id || ':' || r.score, ',' ORDER BY u, r.score DESC, r.item_id)) FROM generate_series(1, $USERS, $((USERS / SAMPLE))) u, recommend(u, 10) r"
rec_a="$(q A -c "$rec_sql")"
rec_b="$(q B -c "$rec_sql")"
{
    echo "same_neighbors=$([[ $sim_a == "$sim_b" ]] && echo yes || echo NO)"
    echo "same_answers=$([[ $rec_a == "$rec_b" ]] && echo yes || echo NO)"
    echo "rounds=$ROUNDS"
    echo "a=$A_NAME"
    echo "b=$B_NAME"
    echo "scale=$SCALE users=$USERS items=$ITEMS duration=$DURATION clients=$CLIENTS"
    echo "cores=$(nproc)"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
} >>"$RAW"

"$PY" - "$RAW" <<'PYEOF' | tee "$OUT"
import sys, statistics as st
r = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("=")
    r[k] = v
n = int(r["rounds"])
print("itemcf A/B benchmark, %s: A = %s, B = %s; %s; %s rounds, alternating; %s cores, load %s"
      % (r["date"], r["a"], r["b"], r["scale"], n, r["cores"], r["load"]))
print()
print("%-28s | %-22s | %-22s | %s" % ("what", "A median (range)", "B median (range)", "B/A median (per-round range)"))
print("-" * 29 + "+" + "-" * 24 + "+" + "-" * 24 + "+" + "-" * 30)
for key, label, fmt in (("rebuild", "itemcf_rebuild() total, s", "%.3f"),
                        ("compute", "  of which compute, s", "%.3f"),
                        ("tps", "recommend() calls/s", "%.0f")):
    a = [float(r["%s_A_%d" % (key, i)]) for i in range(1, n + 1)]
    b = [float(r["%s_B_%d" % (key, i)]) for i in range(1, n + 1)]
    ratios = [y / x for x, y in zip(a, b)]
    cell = lambda v: (fmt + " (" + fmt + " .. " + fmt + ")") % (st.median(v), min(v), max(v))
    print("%-28s | %-22s | %-22s | %.3f (%.3f .. %.3f)" % (label, cell(a), cell(b), st.median(b) / st.median(a), min(ratios), max(ratios)))
print()
print("same neighbour lists: %s; same answers for sampled users: %s" % (r["same_neighbors"], r["same_answers"]))
if r["same_neighbors"] != "yes" or r["same_answers"] != "yes":
    sys.exit(1)
PYEOF
