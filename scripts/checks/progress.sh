#!/usr/bin/env bash
# Check: a rebuild reports its progress (src/progress.c) and itemcf_rebuild_progress shows it
# from another session: the phases in order (building, computing, writing), the items done
# rising to the total while the threads compute, and the rows read; when the build ends, or
# fails, the backend's pg_stat_activity query is the statement again.  A scratch database of
# the running test cluster (PGHOST/PGPORT/PGUSER from scripts/lib.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

db=itemcf_progress_check
log="$(mktemp /tmp/itemcf_progress.XXXXXX)"
trap 'rm -f "$log"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION itemcf;
SELECT setseed(0.5);
CREATE TABLE shop AS
SELECT (random() * 60000)::bigint AS user_id, (random() * random() * 40000)::bigint AS item_id
FROM generate_series(1, 1500000);
CREATE INDEX ON shop (user_id);
SELECT itemcf_register_model('shop', 'shop');
SQL

# the rebuild, reporting every 20 ms, on one thread (so that computing takes a while)
q -c "SET itemcf.progress_interval = 20" -c "SET itemcf.threads = 1" \
  -c "SELECT status FROM itemcf_rebuild('shop')" > "$log" 2>&1 &
builder=$!

# the observer: itemcf_rebuild_progress every 5 ms until the build is over
q <<'SQL'
CREATE TABLE seen AS SELECT 0 AS n, * FROM itemcf_rebuild_progress WHERE false;
DO $$
DECLARE
  n integer := 0;
  rows integer;
BEGIN
  FOR i IN 1 .. 12000 LOOP				-- at most a minute
    PERFORM pg_stat_clear_snapshot();
    INSERT INTO seen SELECT i, * FROM itemcf_rebuild_progress;
    GET DIAGNOSTICS rows = ROW_COUNT;
    n := n + rows;
    EXIT WHEN rows = 0 AND n > 0;
    PERFORM pg_sleep(0.005);
  END LOOP;
END $$;
SQL
wait "$builder"
grep -qx succeeded "$log" || { echo "progress check: the rebuild did not succeed:" >&2; cat "$log" >&2; exit 1; }

fail=0
check() { # name, SQL giving t
    local got
    got="$(q -c "$2")"
    if [[ "$got" != t ]]; then echo "progress check: $1 (got '$got')" >&2; fail=1; fi
}
check "every row names the model" "SELECT bool_and(model = 'shop' AND shard = 1 AND shards = 1) FROM seen"
check "the phases come in order" "
  SELECT array_agg(phase ORDER BY first) @> '{building,computing,writing}'
     AND array_agg(phase ORDER BY first) <@ '{reading,building,computing,writing}'
     AND (SELECT array_agg(phase ORDER BY first) FROM (SELECT phase, min(n) first FROM seen GROUP BY phase) y
          WHERE phase IN ('building', 'computing', 'writing')) = '{building,computing,writing}'
  FROM (SELECT phase, min(n) first FROM seen GROUP BY phase) x"
check "computing is seen moving (3 or more values of done, below the total)" "
  SELECT count(DISTINCT done) >= 3 AND bool_and(done <= total) AND min(done) < max(total) FROM seen WHERE phase = 'computing'"
check "done never goes back within a phase" "
  SELECT coalesce(bool_and(done >= prev), true) FROM (
    SELECT done, lag(done) OVER (PARTITION BY phase ORDER BY n) prev FROM seen) x WHERE prev IS NOT NULL"
check "the computing total is the model's item count" "
  SELECT max(total) = (SELECT items FROM itemcf_model_stats WHERE model = 'shop') FROM seen WHERE phase = 'computing'"
check "the reading rows and building rows are counts of rows" "
  SELECT coalesce(bool_and(done BETWEEN 0 AND 1500000 AND total IS NULL), true) FROM seen WHERE phase IN ('reading', 'building')"

# after a build, and after a failed one, the backend shows its statement again
got="$(q <<'SQL'
SET itemcf.progress_interval = 10;
SET client_min_messages = warning;
DO $$
DECLARE
  mine text;
  status text;
BEGIN
  PERFORM itemcf_rebuild('shop');
  PERFORM pg_stat_clear_snapshot();
  SELECT query INTO mine FROM pg_stat_activity WHERE pid = pg_backend_pid();
  IF mine LIKE 'itemcf_rebuild progress:%' THEN
    RAISE EXCEPTION 'after a build the activity still says %', mine;
  END IF;
  -- a build that fails (too little memory) after it reported
  SET LOCAL itemcf.build_memory = '16MB';
  SELECT r.status INTO status FROM itemcf_rebuild('shop') r;
  IF status <> 'failed' THEN
    RAISE EXCEPTION 'the small-memory build did not fail: %', status;
  END IF;
  PERFORM pg_stat_clear_snapshot();
  SELECT query INTO mine FROM pg_stat_activity WHERE pid = pg_backend_pid();
  IF mine LIKE 'itemcf_rebuild progress:%' THEN
    RAISE EXCEPTION 'after a failed build the activity still says %', mine;
  END IF;
END $$;
SELECT 'restored';
SQL
)" || true
[[ "$got" == restored ]] || { echo "progress check: statement not restored: $got" >&2; fail=1; }

[[ $fail == 0 ]] || exit 1
echo "progress: $(q -c "SELECT format('%s reports seen (%s), computing %s..%s of %s items; the statement is shown again after a build and a failed build',
  count(*), string_agg(DISTINCT phase, ', '), min(done) FILTER (WHERE phase = 'computing'),
  max(done) FILTER (WHERE phase = 'computing'), max(total) FILTER (WHERE phase = 'computing')) FROM seen")"
