#!/usr/bin/env bash
# Check: pg_dump of a database with itemcf models, restored into a fresh database, keeps
# every model, its neighbour lists, popular items and run history (pg_extension_config_dump),
# and the restored database rebuilds to the same neighbours.
# Runs against the test cluster (PGHOST/PGPORT/PGUSER exported by scripts/lib.sh).
set -euo pipefail
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

src=itemcf_dump_src
dst=itemcf_dump_dst
dump="$(mktemp /tmp/itemcf_dump.XXXXXX)"
trap 'rm -f "$dump"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" >/dev/null 2>&1 || true' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

q -d postgres -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst" 2>/dev/null
q -d "$src" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION itemcf;
CREATE TABLE orders (customer bigint, sku bigint, qty real, at timestamptz);
CREATE INDEX ON orders (customer);
SELECT setseed(0.7);
INSERT INTO orders
SELECT u, 1 + floor(random() * random() * 300)::bigint, 1 + floor(random() * 3), timestamptz '2026-11-01' + u * interval '1 minute'
FROM generate_series(1, 3000) u, generate_series(1, 6) g;
INSERT INTO itemcf_purchases (user_id, item_id) SELECT customer, sku FROM orders WHERE customer <= 1000;
SELECT itemcf_register_model('orders by qty', 'orders', 'customer', 'sku', 'qty', 'at',
                             weights => 'sum', k => 10);
SELECT count(*) FROM itemcf_rebuild() WHERE status = 'succeeded';
SQL

snapshot() {
    q -d "$1" -c "SELECT model, item_id, neighbor_id, score, rank FROM itemcf_similarities ORDER BY 1, 2, 5" \
             -c "SELECT m.name, p.rank, p.item_id, p.buyers FROM itemcf_popular p JOIN itemcf_models m USING (model_id) ORDER BY 1, 2" \
             -c "SELECT model, rank, item_id, neighbor_id, score FROM itemcf_top_pairs ORDER BY 1, 2" \
             -c "SELECT name, source, owner, k, weights, current_version FROM itemcf_models ORDER BY name" \
             -c "SELECT model, status, rows_read, entries_written FROM itemcf_runs ORDER BY run_id"
}

pg_dump -Fc -d "$src" -f "$dump"
pg_restore -d "$dst" --exit-on-error "$dump"

a="$(snapshot "$src")"
b="$(snapshot "$dst")"
rows="$(printf '%s\n' "$a" | wc -l)"
if [[ "$a" != "$b" ]]; then
    echo "dump/restore: the restored database differs:"
    diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -20
    exit 1
fi
if (( rows < 100 )); then
    echo "dump/restore: too little data compared ($rows lines)"
    exit 1
fi

# The restored copy serves the same answers before any rebuild (the model's built source is
# kept by name, so the restored table's new OID is the one read)
serve() {
    q -d "$1" -c "SELECT u, r.item_id, r.score FROM generate_series(1, 3000, 7) u, recommend(u, 5, 'orders by qty') r ORDER BY 1, 2" \
             -c "SELECT u, r.item_id, r.score FROM generate_series(1, 1000, 7) u, recommend(u, 5) r ORDER BY 1, 2"
}
r1="$(serve "$src")"
r2="$(serve "$dst")"
if [[ "$r1" != "$r2" ]]; then
    echo "dump/restore: the restored database serves different recommendations:"
    diff <(printf '%s\n' "$r1") <(printf '%s\n' "$r2") | head -20
    exit 1
fi
if (( $(printf '%s\n' "$r1" | wc -l) < 500 )); then
    echo "dump/restore: too few recommendations compared"
    exit 1
fi

# The restored copy rebuilds to exactly the same neighbours
q -d "$dst" -c "SELECT count(*) FROM itemcf_rebuild() WHERE status = 'succeeded'" >/dev/null
s1="$(q -d "$src" -c "SELECT model, item_id, neighbor_id, score FROM itemcf_similarities ORDER BY 1, 2, 3")"
s2="$(q -d "$dst" -c "SELECT model, item_id, neighbor_id, score FROM itemcf_similarities ORDER BY 1, 2, 3")"
if [[ "$s1" != "$s2" ]]; then
    echo "dump/restore: rebuilding the restored database gives different neighbours"
    exit 1
fi
echo "dump/restore: $rows lines of models, neighbours, popular items, top pairs and runs identical after pg_dump/pg_restore; $(printf '%s\n' "$r1" | wc -l) recommendations served identically before a rebuild; rebuild identical"
