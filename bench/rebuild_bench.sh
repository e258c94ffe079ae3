#!/usr/bin/env bash
# itemcf_rebuild() against the alternatives, in one run on the same data (see bench/README.md):
#   1. itemcf_rebuild('default') wall time by phase (read, compute, write) and total, median of runs
#   2. peak private memory (VmRSS - RssShmem) of the backend and its parallel workers during it
#   3. the compute alone with itemcf.threads = 1 and = all cores (item_neighbors_stats), and
#      bench/kernel_bench.c (the kernel without PostgreSQL, on its own generated shop)
#   4. the plain-SQL item-item cosine top-50 a user would write, into a table
#   5. scipy.sparse + scikit-learn cosine_similarity + top-50 per item (Debian's /usr/bin/python3)
# then the ratios against the project's targets, and whether the top-50 lists agree.
#
# Data: bench/gen_shop.sql into itemcf_purchases (the table the 'default' model reads).
#
# Environment:
#   SCALE          full (600,000 users, 400,000 items, ~6 M rows; default) or small (60,000 / 40,000)
#   USERS, ITEMS   override the scale's numbers
#   BENCH_SQL      full (default) | skip | sample:N  (plain SQL on the users with user_id % N = 0;
#                  its time is then also extrapolated × N, and marked so)
#   BENCH_SQL_SETTINGS  settings for the plain-SQL session, e.g. "enable_hashagg=off work_mem=64MB"
#                  (default: none, the server's own; shown in the table)
#   BENCH_SQL_TIMEOUT   statement_timeout in seconds for the plain SQL (default 0 = none); when it
#                  fires, the table reports "> N s" and the ratio as a bound
#   BENCH_SCIPY    1 (default) | 0 to skip scipy
#   BENCH_RUNS     timed rebuilds and in-PG kernel runs per thread count (default 3; medians)
#   BENCH_SAMPLE   items whose top-50 lists are compared (default 200)
#   BENCH_REGEN    1 regenerates the data even if itemcf_purchases already holds this scale
#   BENCH_RECREATE 1 drops and re-creates the extension first (after a `make install` that changed
#                  the install script; this drops itemcf_purchases, so the data is regenerated)
#   PYTHON         the Python with scipy and scikit-learn (default /usr/bin/python3)
#   BENCH_RENDER   path of a bench/out/rebuild_bench-*.raw file: only print its table again
# Server: if PGHOST is set, that server (and PGPORT/PGUSER; PGDATABASE defaults to bench_engine,
# created if missing; itemcf must be installed there, and the server must run on this machine for
# the memory columns).  Otherwise scripts/lib.sh builds and installs itemcf (BENCH_NO_BUILD=1
# skips that) and starts the project's throwaway cluster.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd -P)"

SCALE="${SCALE:-full}"
case "$SCALE" in
    full)  USERS="${USERS:-600000}"; ITEMS="${ITEMS:-400000}" ;;
    small) USERS="${USERS:-60000}";  ITEMS="${ITEMS:-40000}" ;;
    *) echo "rebuild_bench: SCALE must be full or small" >&2; exit 2 ;;
esac
BENCH_SQL="${BENCH_SQL:-full}"
BENCH_SCIPY="${BENCH_SCIPY:-1}"
BENCH_SQL_SETTINGS="${BENCH_SQL_SETTINGS:-}"
BENCH_SQL_TIMEOUT="${BENCH_SQL_TIMEOUT:-0}"
BENCH_RUNS="${BENCH_RUNS:-3}"
BENCH_SAMPLE="${BENCH_SAMPLE:-200}"
BENCH_REGEN="${BENCH_REGEN:-0}"
PY="${PYTHON:-/usr/bin/python3}"
case "$BENCH_SQL" in
    full|skip) SQL_MOD=1 ;;
    sample:[0-9]*) SQL_MOD="${BENCH_SQL#sample:}"; [[ "$SQL_MOD" -ge 1 ]] || { echo "rebuild_bench: bad BENCH_SQL" >&2; exit 2; } ;;
    *) echo "rebuild_bench: BENCH_SQL must be full, skip or sample:N" >&2; exit 2 ;;
esac

log() { printf '[bench] %s\n' "$*" >&2; }

# The table, from a raw key=value results file
render() {
    "$PY" - "$1" <<'PYEOF'
import sys
r = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("=")
    r[k] = v
runs = int(r.get("runs", "3"))
def f(k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None
def s(x, fmt="%.2f"):
    return "-" if x is None else fmt % x
cores = int(r["cores"])
print("itemcf rebuild benchmark, %s, SCALE=%s: %s users, %s items, %s rows (%s distinct user-item pairs, "
      "sum of distinct baskets^2 = %.0f M pair updates)" % (r["date"], r["scale"], format(int(r["users"]), ","), format(int(r["items"]), ","),
                                     format(int(r["rows"]), ","), format(int(r["pairs"]), ","), int(r["basket_sq"]) / 1e6))
print("PostgreSQL %s, %d cores (%s), max_parallel_workers_per_gather %s, work_mem %s; "
      "load average %s before, %s after" % (r["server"], cores, r["cpu"], r["workers_per_gather"], r["work_mem"],
                                             r["load_before"].split()[0], r.get("load_after", "? (run incomplete)").split()[0]))
print()
rows = []
def row(what, sec, mem, note=""):
    rows.append((what, sec, mem, note))
row("itemcf_rebuild() total (median of %d)" % runs, s(f("rb_total")), s(f("mem_sum_mb"), "%.0f"),
    "%s partial states, %s shard(s); totals %s" % (r["rb_partials"], r["rb_shards"], r["rb_totals"].strip()))
row("  read: parallel scan + aggregate", s(f("rb_read")), "", "")
row("  compute: model build + top-50", s(f("rb_compute")), "", "")
row("  write: neighbour lists + flip", s(f("rb_write")), "", "%s entries" % format(int(r["rb_entries"]), ","))
if f("rb_reclaim") is not None:
    row("then, after commit: delete the old version", s(f("rb_reclaim")), "",
        "background worker (itemcf.reclaim); median, each %s; not in the total" % r["rb_reclaims"].strip())
if "mem_error" in r:
    row("  peak private memory", "", "-", r["mem_error"])
else:
    row("  peak private memory, backend", "", s(f("mem_backend_mb"), "%.0f"), "idle backend %s MB" % r["mem_baseline_mb"])
    row("  peak private memory, backend + workers", "", s(f("mem_sum_mb"), "%.0f"),
        "up to %s parallel workers; VmRSS - RssShmem, every 50 ms" % r["mem_workers"])
row("compute in PG, itemcf.threads = 1", s(f("k1_compute")), "", "median of %d; read %.2f s" % (runs, f("k_read")))
row("compute in PG, itemcf.threads = %d" % cores, s(f("kN_compute")), "",
    "median of %d; speedup %.2fx; machine's parallel capacity %sx / %sx (before / after)"
    % (runs, f("k1_compute") / f("kN_compute"), r["capacity_before"], r["capacity_after"]))
row("kernel_bench, 1 thread (build + compute)", "%s + %s" % (r["kb_build_1"], r["kb_compute_1"]), "", "no PostgreSQL; own generated shop")
row("kernel_bench, %d threads (build + compute)" % cores, "%s + %s" % (r["kb_build_N"], r["kb_compute_N"]), "",
    "compute speedup %.2fx" % (f("kb_compute_1") / f("kb_compute_N")))
if f("scipy_total") is not None:
    row("scipy.sparse + sklearn cosine + top-50", s(f("scipy_total")), s(f("scipy_maxrss_mb"), "%.0f"),
        "build %.2f, cosine %.2f, top-k %.2f; maxrss (arrays loaded: %s MB)"
        % (f("scipy_build"), f("scipy_cosine"), f("scipy_topk"), r["scipy_loaded_mb"]))
else:
    row("scipy.sparse + sklearn", "skipped", "", "")
sql_est = None
sql_bound = False
sql_set = (" with " + r["sql_settings"]) if r.get("sql_settings") else ""
if f("sql_timeout") is not None:
    mod = int(r.get("sql_mod", "1"))
    sql_est = f("sql_timeout") * mod
    sql_bound = True
    row("plain SQL into a table" + ("" if mod == 1 else " (1/%d of users)" % mod), "> %.0f" % f("sql_timeout"), "",
        "%s%s" % (r.get("sql_cancel_note", "cancelled by statement_timeout"), sql_set))
elif f("sql_seconds") is not None:
    mod = int(r.get("sql_mod", "1"))
    if mod > 1:
        sql_est = f("sql_seconds") * mod
        row("plain SQL into a table (1/%d of users)" % mod, s(f("sql_seconds")), "", "%s rows; x%d = %.0f s estimated for all"
            % (format(int(r["sql_rows"]), ","), mod, sql_est))
    else:
        sql_est = f("sql_seconds")
        row("plain SQL into a table", s(f("sql_seconds")), "", "%s rows%s" % (format(int(r["sql_rows"]), ","), sql_set))
else:
    row("plain SQL", "skipped", "", "")
w = [max(len(x[i]) for x in rows + [("what", "seconds", "peak MB", "notes")]) for i in range(4)]
fmt = "%%-%ds | %%%ds | %%%ds | %%s" % (w[0], w[1], w[2])
print(fmt % ("what", "seconds", "peak MB", "notes"))
print("-" * (w[0] + 1) + "+" + "-" * (w[1] + 2) + "+" + "-" * (w[2] + 2) + "+" + "-" * (w[3] + 1))
for x in rows:
    print(fmt % x)
print()
tg = []
def target(name, val, goal, ok, note=""):
    tg.append((name, val, goal, "-" if ok is None else ("met" if ok else "MISSED"), note))
rb = f("rb_total")
if f("scipy_total"):
    v = rb / f("scipy_total")
    target("rebuild / scipy", "%.3f" % v, "<= 0.4", v <= 0.4)
else:
    target("rebuild / scipy", "-", "<= 0.4", None, "scipy skipped")
if sql_est:
    v = rb / sql_est
    # with a cancelled SQL the ratio is only an upper bound: it can prove the target, not refute it
    target("rebuild / plain SQL", ("< " if sql_bound else "") + "1/%.0f" % (1 / v), "<= 1/60",
           True if v <= 1 / 60.0 else (None if sql_bound else False),
           "; ".join(x for x in ("SQL extrapolated from a sample" if int(r.get("sql_mod", "1")) > 1 else "",
                                 "SQL did not finish: " + r.get("sql_cancel_note", "statement_timeout") if sql_bound else "") if x))
else:
    target("rebuild / plain SQL", "-", "<= 1/60", None, "SQL skipped")
sp_ = f("k1_compute") / f("kN_compute")
target("compute speedup, %d threads (in PG)" % cores, "%.2fx" % sp_, ">= 1.7x", sp_ >= 1.7,
       "kernel_bench: %.2fx; %d busy loops got %sx / %sx of one"
       % (f("kb_compute_1") / f("kb_compute_N"), cores, r["capacity_before"], r["capacity_after"]))
if f("mem_sum_mb") is not None:
    target("peak private memory, backend + workers", "%.0f MB" % f("mem_sum_mb"), "< 1536 MB", f("mem_sum_mb") < 1536)
else:
    target("peak private memory", "-", "< 1536 MB", None, r.get("mem_error", ""))
w = [max(len(x[i]) for x in tg + [("target", "value", "goal", "verdict")]) for i in range(4)]
fmt = "%%-%ds | %%%ds | %%-%ds | %%-%ds | %%s" % tuple(w)
print(fmt % ("target", "value", "goal", "verdict", "notes"))
print("-" * (w[0] + 1) + "+" + "-" * (w[1] + 2) + "+" + "-" * (w[2] + 2) + "+" + "-" * (w[3] + 2) + "+"
      + "-" * (max(len(x[4]) for x in tg) + 1))
for x in tg:
    print(fmt % x)
print()
for tag, name in (("itemcf", "itemcf vs scipy"), ("sqlcmp", "itemcf vs plain SQL")):
    if tag + "_agree_items" in r:
        n = int(r[tag + "_agree_items"])
        print("top-50 agreement, %s: %s/%d items identical, %s equal up to tied scores, %s differ; "
              "max relative score error %s%s" % (name, r[tag + "_agree_same"], n, r[tag + "_agree_ties"],
                                                  r[tag + "_agree_bad"], r[tag + "_agree_maxrel"],
                                                  ("; e.g. items " + r[tag + "_agree_bad_items"]) if tag + "_agree_bad_items" in r else ""))
PYEOF
}
if [[ -n "${BENCH_RENDER:-}" ]]; then
    render "$BENCH_RENDER"
    exit 0
fi

if [[ -z "${PGHOST:-}" && -f scripts/lib.sh ]]; then
    # shellcheck source=scripts/lib.sh
    source scripts/lib.sh
    itemcf_install_deps >&2
    if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        itemcf_build >&2 || itemcf_die "build failed"
    fi
    itemcf_cluster_start >&2        # exports PGHOST/PGPORT/PGUSER; stopped again by cleanup below
    BENCH_OWN_CLUSTER=1
fi
export PGDATABASE="${PGDATABASE:-bench_engine}"

"$PY" -c 'import numpy, scipy, sklearn' 2>/dev/null ||
    { echo "rebuild_bench: $PY lacks numpy/scipy/scikit-learn (Debian: apt-get install python3-sklearn)" >&2; exit 1; }

mkdir -p bench/out
STAMP="$(date +%Y%m%d-%H%M%S)"
TMP="$ROOT/bench/out/rebuild-tmp-$$"
mkdir -p "$TMP"
RES="$ROOT/bench/out/rebuild_bench-$SCALE-$STAMP.raw"   # key=value lines, rendered at the end (kept)
: >"$RES"
# (this replaces scripts/lib.sh's EXIT trap, so it stops the throwaway cluster itself)
cleanup() {
    rm -rf "$TMP"
    if [[ "${BENCH_OWN_CLUSTER:-0}" == 1 ]]; then itemcf_cluster_stop >&2 || true; fi
}
trap 'cleanup' EXIT
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }

PSQL=(psql -X -q -v ON_ERROR_STOP=1)
if ! PGDATABASE=postgres "${PSQL[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1; then
    log "creating database $PGDATABASE"
    PGDATABASE=postgres "${PSQL[@]}" -c "CREATE DATABASE \"$PGDATABASE\""
fi
if [[ "${BENCH_RECREATE:-0}" == 1 ]]; then
    log "BENCH_RECREATE=1: dropping and re-creating extension itemcf in $PGDATABASE (its tables go too)"
    "${PSQL[@]}" -c 'SET client_min_messages = warning' -c 'DROP EXTENSION IF EXISTS itemcf CASCADE'
fi
"${PSQL[@]}" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS itemcf'
EXT="$("${PSQL[@]}" -Atc "SELECT quote_ident(extnamespace::regnamespace::text) FROM pg_extension WHERE extname = 'itemcf'")"
q() { "${PSQL[@]}" -At -F '|' "$@"; }

CORES="$(nproc)"
put date "$(date '+%Y-%m-%d %H:%M')"
put runs "$BENCH_RUNS"; put scale "$SCALE"; put users_param "$USERS"; put items_param "$ITEMS"; put cores "$CORES"
put server "$(q -c 'SHOW server_version')"
put workers_per_gather "$(q -c 'SHOW max_parallel_workers_per_gather')"
put work_mem "$(q -c 'SHOW work_mem')"
put cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
put load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- data ---------------------------------------------------------------------------------------
"${PSQL[@]}" -c 'SET client_min_messages = warning' \
    -c 'CREATE TABLE IF NOT EXISTS bench_shop_meta (users integer, items integer, rows bigint)'
have="$(q -c "SELECT users || ':' || items || ':' || rows FROM bench_shop_meta")"
now_rows="$(q -c "SELECT count(*) FROM $EXT.itemcf_purchases")"
if [[ "$BENCH_REGEN" == 1 || "$have" != "$USERS:$ITEMS:$now_rows" ]]; then
    log "generating the shop: $USERS users, $ITEMS items (bench/gen_shop.sql)"
    t0=$(date +%s.%N)
    "${PSQL[@]}" -v users="$USERS" -v items="$ITEMS" -v target="$EXT.itemcf_purchases" \
        -f bench/gen_shop.sql >/dev/null
    now_rows="$(q -c "SELECT count(*) FROM $EXT.itemcf_purchases")"
    q -c "TRUNCATE bench_shop_meta" -c "INSERT INTO bench_shop_meta VALUES ($USERS, $ITEMS, $now_rows)" >/dev/null
    log "generated $now_rows rows in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
    # Flush the ~1 GB the generator dirtied now: a spread checkpoint would otherwise write it out
    # during the timed runs (a nightly rebuild reads a table written long before)
    "${PSQL[@]}" -c 'CHECKPOINT' || log "CHECKPOINT failed (not superuser?); the first runs may be slower"
else
    log "itemcf_purchases already holds the shop ($now_rows rows); BENCH_REGEN=1 regenerates it"
fi
# (distinct users, items and pairs come from item_neighbors_stats below: counting them in SQL
# takes minutes at full scale)
put rows "$now_rows"
put table_size "$(q -c "SELECT pg_size_pretty(pg_table_size('$EXT.itemcf_purchases'))")"

# --- helper scripts -----------------------------------------------------------------------------
# Memory sampler: every ~50 ms, VmRSS - RssShmem (kB) of the backend and of every
# "parallel worker for PID <backend>" process; keeps the max of the backend and the max sum.
cat >"$TMP/sampler.py" <<'PYEOF'
import json, os, sys, time
bpid, stop, ready, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
needle = b"parallel worker for PID %d" % bpid

def private_kb(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            rss = shm = None
            for line in f:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"RssShmem:"):
                    shm = int(line.split()[1])
            return None if rss is None else rss - (shm or 0)
    except OSError:
        return None

seen = {}          # pid -> is a worker of our backend; cleared every 2 s (pid reuse)
def workers():
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            w = seen.get(d)
            if w is None:
                try:
                    with open("/proc/" + d + "/cmdline", "rb") as f:
                        w = needle in f.read()
                except OSError:
                    w = False
                seen[d] = w
            if w:
                found.append(int(d))
    return found

res = {"samples": 0, "max_backend_kb": 0, "max_sum_kb": 0, "max_workers": 0, "error": None}
try:
    with open("/proc/%d/cmdline" % bpid, "rb") as f:
        if b"postgres" not in f.read():
            res["error"] = "pid %d is not a postgres process" % bpid
except OSError:
    res["error"] = "backend pid %d is not on this machine (remote server?)" % bpid
res["baseline_backend_kb"] = private_kb(bpid) if res["error"] is None else None
open(ready, "w").close()
deadline = time.time() + 6 * 3600
while res["error"] is None:
    done = os.path.exists(stop)
    b = private_kb(bpid)
    if b is None:
        break
    total, ws = b, workers()
    for w in ws:
        total += private_kb(w) or 0
    res["samples"] += 1
    res["max_backend_kb"] = max(res["max_backend_kb"], b)
    res["max_sum_kb"] = max(res["max_sum_kb"], total)
    res["max_workers"] = max(res["max_workers"], len(ws))
    if done or time.time() > deadline:
        break
    if res["samples"] % 40 == 0:
        seen.clear()
    time.sleep(0.05)
with open(out + ".part", "w") as f:
    json.dump(res, f)
os.rename(out + ".part", out)
PYEOF

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# --- 1 + 2: itemcf_rebuild() --------------------------------------------------------------------
# One rebuild in a psql session that starts the sampler on its own backend first.
rebuild_once() {        # $1 = label; writes $TMP/rb_$1.row and $TMP/rb_$1.mem
    local label="$1"
    export BENCH_PY="$PY" BENCH_SAMPLER="$TMP/sampler.py" BENCH_STOP="$TMP/stop_$label" \
        BENCH_READY="$TMP/ready_$label" BENCH_MEMOUT="$TMP/rb_$label.mem"
    rm -f "$BENCH_STOP" "$BENCH_READY" "$BENCH_MEMOUT"
    "${PSQL[@]}" -At -F '|' -v ext="$EXT" >"$TMP/rb_$label.row" <<'SQL'
SELECT pg_backend_pid() AS bpid \gset
\setenv BENCH_BPID :bpid
\! "$BENCH_PY" "$BENCH_SAMPLER" "$BENCH_BPID" "$BENCH_STOP" "$BENCH_READY" "$BENCH_MEMOUT" </dev/null >/dev/null 2>&1 &
\! n=0; while [ ! -e "$BENCH_READY" ] && [ $n -lt 500 ]; do sleep 0.02; n=$((n+1)); done
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT status, coalesce(error, ''), read_seconds, compute_seconds, write_seconds, total_seconds,
       partial_states, shards, entries_written
FROM :ext.itemcf_rebuild('default') \gset r_
SELECT extract(epoch FROM clock_timestamp()) AS t1 \gset
\! touch "$BENCH_STOP"
SELECT :'r_status', :'r_coalesce', :r_read_seconds, :r_compute_seconds, :r_write_seconds,
       :r_total_seconds, :r_partial_states, :r_shards, :r_entries_written, :t1 - :t0, :t1;
SQL
    local n=0
    while [[ ! -e "$BENCH_MEMOUT" && $n -lt 600 ]]; do sleep 0.05; n=$((n + 1)); done
    local status err
    IFS='|' read -r status err _ <"$TMP/rb_$label.row"
    if [[ "$status" != succeeded ]]; then
        echo "rebuild_bench: itemcf_rebuild('default') $status: $err" >&2
        exit 1
    fi
}

# The replaced version is deleted after the rebuild commits, by a background worker (itemcf.reclaim):
# wait until no such worker is left in this database; prints the seconds from the end of the
# rebuild ($1, epoch) to then.  The next timed run starts after it, so the two never compete.
wait_reclaim() {
    local t0="$1" t1 n=0
    while [[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'itemcf reclaim' AND datname = current_database()")" != 0 ]]; do
        sleep 0.02
        n=$((n + 1))
        [[ $n -lt 6000 ]] || { echo "rebuild_bench: the reclaim worker did not finish" >&2; exit 1; }
    done
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

log "itemcf_rebuild('default'): 1 warm-up + $BENCH_RUNS timed runs"
rebuild_once warmup
log "  warm-up: $(cut -d'|' -f3-6,10 "$TMP/rb_warmup.row" | tr '|' ' ') (read compute write total wall); reclaim $(wait_reclaim "$(cut -d'|' -f11 "$TMP/rb_warmup.row")") s"
for r in $(seq 1 "$BENCH_RUNS"); do
    "${PSQL[@]}" -c "VACUUM $EXT.itemcf_neighbors, $EXT.itemcf_popular"
    rebuild_once "$r"
    wait_reclaim "$(cut -d'|' -f11 "$TMP/rb_$r.row")" >"$TMP/rb_$r.reclaim"
    log "  run $r: $(cut -d'|' -f3-6,10 "$TMP/rb_$r.row" | tr '|' ' ') (read compute write total wall); then reclaim $(cat "$TMP/rb_$r.reclaim") s; memory $(cat "$TMP/rb_$r.mem")"
done
put rb_reclaim "$(cat "$TMP"/rb_*.reclaim | median)"
put rb_reclaims "$(cat $(for r in $(seq 1 "$BENCH_RUNS"); do echo "$TMP/rb_$r.reclaim"; done) | xargs printf '%.2f ')"
# the run with the median total
med_run="$(for r in $(seq 1 "$BENCH_RUNS"); do printf '%s %s\n' "$(cut -d'|' -f6 "$TMP/rb_$r.row")" "$r"; done |
    sort -g | awk '{a[NR]=$2} END {print a[int((NR+1)/2)]}')"
IFS='|' read -r _ _ rb_read rb_compute rb_write rb_total rb_partials rb_shards rb_entries rb_wall _ <"$TMP/rb_$med_run.row"
put rb_read "$rb_read"; put rb_compute "$rb_compute"; put rb_write "$rb_write"; put rb_total "$rb_total"
put rb_wall "$rb_wall"; put rb_partials "$rb_partials"; put rb_shards "$rb_shards"; put rb_entries "$rb_entries"
put rb_totals "$(for r in $(seq 1 "$BENCH_RUNS"); do cut -d'|' -f6 "$TMP/rb_$r.row"; done | xargs printf '%.2f ' )"
"$PY" - "$TMP" "$BENCH_RUNS" >>"$RES" <<'PYEOF'
import json, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
ms = [json.load(open("%s/rb_%d.mem" % (tmp, r))) for r in range(1, runs + 1)]
err = [m["error"] for m in ms if m["error"]]
if err:
    print("mem_error=" + err[0])
else:
    print("mem_backend_mb=%.0f" % (max(m["max_backend_kb"] for m in ms) / 1024))
    print("mem_sum_mb=%.0f" % (max(m["max_sum_kb"] for m in ms) / 1024))
    print("mem_baseline_mb=%.0f" % (min(m["baseline_backend_kb"] for m in ms) / 1024))
    print("mem_workers=%d" % max(m["max_workers"] for m in ms))
    print("mem_samples=%d" % sum(m["samples"] for m in ms))
PYEOF

# --- 3: the compute alone, 1 thread vs all --------------------------------------------------------
# How much parallel CPU the machine has right now: the throughput of CORES concurrent CPU-bound
# processes against one alone (median of 3).  On a shared machine this bounds any thread speedup.
capacity() {
    local r t0 t1 t2 i
    for r in 1 2 3; do
        t0=$(date +%s.%N)
        awk 'BEGIN { for (i = 0; i < 2e7; i++) s += i }'
        t1=$(date +%s.%N)
        for i in $(seq 1 "$CORES"); do awk 'BEGIN { for (i = 0; i < 2e7; i++) s += i }' & done
        wait
        t2=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$CORES" 'BEGIN { printf "%.2f\n", n * (b - a) / (c - b) }'
    done | median
}
put capacity_before "$(capacity)"
log "parallel CPU capacity now: $(tail -n1 "$RES" | cut -d= -f2)x of $CORES (concurrent busy loops)"
BUILD_QUERY="$(q -c "SELECT $EXT._itemcf_build_query(m, 1, 0) FROM $EXT.itemcf_models m WHERE name = 'default'")"
log "in-PG kernel: $BUILD_QUERY"
for r in $(seq 1 "$BENCH_RUNS"); do
    for t in 1 "$CORES"; do
        q -c "SET itemcf.threads = $t" -c "
            SELECT s->>'read_seconds', s->>'compute_seconds', s->>'threads', s->>'partials', s->>'updates'
            FROM (SELECT $EXT.item_neighbors_stats(r) AS s FROM ($BUILD_QUERY) AS b(r)) x" >>"$TMP/kern_$t"
    done
done
for t in 1 "$CORES"; do
    log "  threads=$t: read compute: $(cut -d'|' -f1,2 "$TMP/kern_$t" | tr '\n|' '; ')"
    [[ "$(cut -d'|' -f3 "$TMP/kern_$t" | sort -u)" == "$t" ]] || { echo "rebuild_bench: itemcf.threads=$t not honoured" >&2; exit 1; }
done
put k1_compute "$(cut -d'|' -f2 "$TMP/kern_1" | median)"
put kN_compute "$(cut -d'|' -f2 "$TMP/kern_$CORES" | median)"
put capacity_after "$(capacity)"
put k_read "$(cat "$TMP/kern_1" "$TMP/kern_$CORES" | cut -d'|' -f1 | median)"
put k_partials "$(head -n1 "$TMP/kern_1" | cut -d'|' -f4)"
IFS='|' read -r n_users n_items n_pairs n_updates < <(q -c "SET itemcf.threads = $CORES" -c "
    SELECT s->>'users', s->>'items', s->>'pairs', s->>'updates'
    FROM (SELECT $EXT.item_neighbors_stats(r) AS s FROM ($BUILD_QUERY) AS b(r)) x")
put users "$n_users"; put items "$n_items"; put pairs "$n_pairs"; put basket_sq "$n_updates"
log "data: $now_rows rows, $n_pairs distinct (user, item) pairs, $n_users users, $n_items items, $n_updates pair updates"

log "kernel_bench (bench/kernel_bench.c, its own generated shop, no PostgreSQL)"
make -s -C bench kernel_bench >&2
bench/out/kernel_bench "$USERS" "$ITEMS" 50 "$CORES" >"$TMP/kernel_bench.txt"
cat "$TMP/kernel_bench.txt" >&2
kb() { awk -v t="$1" -v c="$2" '$1 == t {print $c}' "$TMP/kernel_bench.txt"; }
put kb_build_1 "$(kb 1 2)"; put kb_compute_1 "$(kb 1 3)"
put kb_build_N "$(kb "$CORES" 2)"; put kb_compute_N "$(kb "$CORES" 3)"

# --- the items whose lists are compared: the 10 % most bought + a fixed hash sample -----------
n_top=$((BENCH_SAMPLE / 10))
q -c "
    WITH i AS (SELECT item_id, count(*) AS bought FROM $EXT.itemcf_purchases GROUP BY item_id)
    (SELECT item_id FROM i ORDER BY bought DESC, item_id LIMIT $n_top)
    UNION
    (SELECT item_id FROM i ORDER BY hashint8(item_id), item_id LIMIT $((BENCH_SAMPLE - n_top)))" >"$TMP/sample_items"
"${PSQL[@]}" -c 'SET client_min_messages = warning' -c "DROP TABLE IF EXISTS bench_sample_items" \
    -c "CREATE TABLE bench_sample_items (item_id bigint PRIMARY KEY)" \
    -c "\\copy bench_sample_items FROM '$TMP/sample_items'"
"${PSQL[@]}" -c "\\copy (SELECT s.item_id, s.neighbor_id, s.score FROM $EXT.itemcf_similarities s JOIN bench_sample_items USING (item_id) WHERE s.model = 'default' ORDER BY 1, s.rank) TO '$TMP/itemcf_lists'"

# --- 5: scipy.sparse + scikit-learn --------------------------------------------------------------
if [[ "$BENCH_SCIPY" == 1 ]]; then
    log "exporting purchases for scipy (not timed)"
    "${PSQL[@]}" -c "\\copy (SELECT user_id, item_id FROM $EXT.itemcf_purchases) TO '$TMP/purchases.tsv'"
    log "scipy.sparse + sklearn cosine_similarity(X.T, dense_output=False) + top-50 ($PY)"
    "$PY" - "$TMP" >>"$RES" <<'PYEOF'
import json, resource, sys, time
import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity
tmp = sys.argv[1]
K = 50
data = np.loadtxt(tmp + "/purchases.tsv", dtype=np.int64, delimiter="\t", ndmin=2)
users, items = data[:, 0].copy(), data[:, 1].copy()
del data
rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

t0 = time.perf_counter()
# binary user x item matrix (a repeat purchase counts once), items numbered by ascending id
uid, ui = np.unique(users, return_inverse=True)
iid, ii = np.unique(items, return_inverse=True)
X = sp.csr_matrix((np.ones(len(ui), dtype=np.float64), (ui, ii)), shape=(len(uid), len(iid)))
X.sum_duplicates()
X.data[:] = 1.0
t1 = time.perf_counter()
S = cosine_similarity(X.T, dense_output=False).tocsr()
S.setdiag(0)
S.eliminate_zeros()
t2 = time.perf_counter()
# top-K per item, best first, ties by smaller id
nbr, sc = [], []
ip, ix, dv = S.indptr, S.indices, S.data
for r in range(S.shape[0]):
    a, b = ip[r], ip[r + 1]
    cols, vals = ix[a:b], dv[a:b]
    if b - a > K:
        part = np.argpartition(-vals, K - 1)[:K]
        cols, vals = cols[part], vals[part]
    o = np.lexsort((cols, -vals))
    nbr.append(cols[o]); sc.append(vals[o])
t3 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("scipy_build=%.3f" % (t1 - t0))
print("scipy_cosine=%.3f" % (t2 - t1))
print("scipy_topk=%.3f" % (t3 - t2))
print("scipy_total=%.3f" % (t3 - t0))
print("scipy_maxrss_mb=%.0f" % (rss / 1024))
print("scipy_loaded_mb=%.0f" % (rss_loaded / 1024))
print("scipy_s_nnz=%d" % S.nnz)
sys.stdout.flush()

# Agreement with another engine's lists for the sampled items
pos = {int(v): i for i, v in enumerate(iid)}
def agree(path, tag):
    lists = {}
    with open(path) as f:
        for line in f:
            i, j, s = line.split("\t")
            lists.setdefault(int(i), []).append((int(j), float(s)))
    sample = [int(l) for l in open(tmp + "/sample_items")]
    tol = 1e-6
    same = ties = bad = 0
    worst = 0.0
    first_bad = []
    for i in sample:
        r = pos[i]
        a = lists.get(i, [])
        bj = [int(iid[c]) for c in nbr[r]]
        bs = [float(v) for v in sc[r]]
        row = dict(zip(ix[ip[r]:ip[r + 1]].tolist(), dv[ip[r]:ip[r + 1]].tolist()))
        ok = len(a) == len(bj)
        # every score of the other list against the exact cosine of that pair
        for j, s in a:
            exact = row.get(pos.get(j, -1), 0.0)
            err = abs(s - exact) / max(abs(exact), 1e-30)
            worst = max(worst, err)
            ok = ok and err <= tol
        # the ranked scores agree position by position
        for (_, s), t in zip(a, bs):
            ok = ok and abs(s - t) <= tol * max(abs(t), 1e-30)
        if ok and [j for j, _ in a] == bj:
            same += 1
        elif ok:
            # same lists up to ties: the neighbours strictly above the last kept score must match
            cut = bs[-1] * (1 + tol) if bs else 0
            if {j for j, s in a if s > cut} == {j for j, s in zip(bj, bs) if s > cut}:
                ties += 1
            else:
                ok = False
        if not ok:
            bad += 1
            if len(first_bad) < 3:
                first_bad.append(i)
    print("%s_agree_items=%d" % (tag, len(sample)))
    print("%s_agree_same=%d" % (tag, same))
    print("%s_agree_ties=%d" % (tag, ties))
    print("%s_agree_bad=%d" % (tag, bad))
    print("%s_agree_maxrel=%.2e" % (tag, worst))
    if first_bad:
        print("%s_agree_bad_items=%s" % (tag, " ".join(map(str, first_bad))))

agree(tmp + "/itemcf_lists", "itemcf")
PYEOF
    rm -f "$TMP/purchases.tsv"
fi

# --- 4: plain SQL ---------------------------------------------------------------------------------
if [[ "$BENCH_SQL" != skip ]]; then
    where=""
    [[ "$SQL_MOD" -gt 1 ]] && where="WHERE user_id % $SQL_MOD = 0"
    put sql_mod "$SQL_MOD"
    "${PSQL[@]}" -c 'SET client_min_messages = warning' -c 'DROP TABLE IF EXISTS sql_neighbors'
    log "plain SQL top-50 into a table${where:+ ($where)}$( [[ "$SCALE" == full && "$SQL_MOD" == 1 ]] && echo ', takes minutes' || true)"
    cat >"$TMP/plain.sql" <<SQL
CREATE TABLE sql_neighbors AS
WITH purchases AS (
    SELECT DISTINCT user_id, item_id FROM $EXT.itemcf_purchases $where
), buyers AS (
    SELECT item_id, count(*) AS n FROM purchases GROUP BY item_id
), co AS (
    SELECT a.item_id, b.item_id AS neighbor_id, count(*) AS together
    FROM purchases a JOIN purchases b ON a.user_id = b.user_id AND a.item_id <> b.item_id
    GROUP BY a.item_id, b.item_id
), scored AS (
    SELECT co.item_id, co.neighbor_id, co.together / sqrt(bi.n::float8 * bj.n) AS score
    FROM co JOIN buyers bi ON bi.item_id = co.item_id JOIN buyers bj ON bj.item_id = co.neighbor_id
), ranked AS (
    SELECT item_id, neighbor_id, score,
           row_number() OVER (PARTITION BY item_id ORDER BY score DESC, neighbor_id) AS rank
    FROM scored
)
SELECT item_id, neighbor_id, score, rank FROM ranked WHERE rank <= 50;
SQL
    put sql_text "$(tr '\n' ' ' <"$TMP/plain.sql" | tr -s ' ')"
    sets=()
    for kv in $BENCH_SQL_SETTINGS; do sets+=(-c "SET ${kv%%=*} = '${kv#*=}'"); done
    put sql_settings "$BENCH_SQL_SETTINGS"
    [[ "$BENCH_SQL_TIMEOUT" -gt 0 ]] && sets+=(-c "SET statement_timeout = '${BENCH_SQL_TIMEOUT}s'")
    t0=$(date +%s.%N)
    sql_ok=1
    "${PSQL[@]}" "${sets[@]}" -f "$TMP/plain.sql" 2>"$TMP/plain.err" || sql_ok=0
    t1=$(date +%s.%N)
    if [[ $sql_ok == 0 ]]; then
        if grep -q 'statement timeout' "$TMP/plain.err"; then
            put sql_timeout "$BENCH_SQL_TIMEOUT"
            log "plain SQL: cancelled by statement_timeout after ${BENCH_SQL_TIMEOUT} s"
        else
            cat "$TMP/plain.err" >&2
            log "plain SQL failed; the table below has no SQL row"
        fi
    else
        put sql_seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
        put sql_rows "$(q -c 'SELECT count(*) FROM sql_neighbors')"
        log "plain SQL: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
    fi
    if [[ "$SQL_MOD" == 1 && $sql_ok == 1 ]]; then
        # agreement of the SQL lists with itemcf's, for the same sampled items
        "${PSQL[@]}" -c "\\copy (SELECT s.item_id, s.neighbor_id, s.score FROM sql_neighbors s JOIN bench_sample_items USING (item_id) ORDER BY 1, s.rank) TO '$TMP/sql_lists'"
        "$PY" - "$TMP" >>"$RES" <<'PYEOF'
import sys
tmp = sys.argv[1]
def load(p):
    d = {}
    for line in open(p):
        i, j, s = line.split("\t")
        d.setdefault(int(i), []).append((int(j), float(s)))
    return d
a, b = load(tmp + "/itemcf_lists"), load(tmp + "/sql_lists")
sample = [int(l) for l in open(tmp + "/sample_items")]
same = ties = bad = 0
worst = 0.0
for i in sample:
    x, y = a.get(i, []), b.get(i, [])
    ok = len(x) == len(y)
    for (_, s), (_, t) in zip(x, y):
        e = abs(s - t) / max(abs(t), 1e-30)
        worst = max(worst, e)
        ok = ok and e <= 1e-6
    if ok and [j for j, _ in x] == [j for j, _ in y]:
        same += 1
    elif ok:
        cut = y[-1][1] * (1 + 1e-6) if y else 0
        if {j for j, s in x if s > cut} == {j for j, s in y if s > cut}:
            ties += 1
        else:
            bad += 1
    else:
        bad += 1
print("sqlcmp_agree_items=%d" % len(sample))
print("sqlcmp_agree_same=%d" % same)
print("sqlcmp_agree_ties=%d" % ties)
print("sqlcmp_agree_bad=%d" % bad)
print("sqlcmp_agree_maxrel=%.2e" % worst)
PYEOF
    fi
fi

put load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the table ------------------------------------------------------------------------------------
render "$RES" | tee "${RES%.raw}.txt"
