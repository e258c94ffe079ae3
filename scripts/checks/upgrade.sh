#!/usr/bin/env bash
# Check: the released 0.1.0 updated with ALTER EXTENSION itemcf UPDATE has exactly the SQL
# objects of a fresh install of the current version (scripts/checks/describe_extension.sql,
# compared line by line), its models serve the same answers after the update without a
# rebuild, a pg_dump of the updated database restores into a fresh one that serves the same
# answers, and they rebuild afterwards.  Runs against the test cluster (scripts/lib.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

fresh=itemcf_upgrade_fresh
old=itemcf_upgrade_old
restored=itemcf_upgrade_restored
tmp="$(mktemp -d /tmp/itemcf_upgrade.XXXXXX)"
cleanup() {
    rm -rf "$tmp"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $fresh" -c "DROP DATABASE IF EXISTS $old" \
        -c "DROP DATABASE IF EXISTS $restored" >/dev/null 2>&1 || true
}
trap cleanup EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
say() { printf 'upgrade check: %s\n' "$*"; }

version="$(sed -n "s/^default_version = '\([^']*\)'$/\1/p" itemcf.control)"
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $fresh" -c "DROP DATABASE IF EXISTS $old" \
    -c "DROP DATABASE IF EXISTS $restored" -c "CREATE DATABASE $fresh" -c "CREATE DATABASE $old" -c "CREATE DATABASE $restored"
q -d "$fresh" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION itemcf'

# 0.1.0 with two models built, and their answers
q -d "$old" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION itemcf VERSION '0.1.0';
INSERT INTO itemcf_purchases (user_id, item_id, purchased_at)
	SELECT u, (u * 7 + j * j) % 60, '2026-01-01'::timestamptz + (u * j) * interval '1 hour'
	FROM generate_series(1, 300) u, generate_series(1, 6) j;
CREATE TABLE shop (customer bigint, product bigint);
INSERT INTO shop SELECT u, (u * 5 + j * 3) % 40 FROM generate_series(1, 200) u, generate_series(1, 5) j;
CREATE INDEX ON shop (customer);
SELECT itemcf_register_model('shop', 'shop', 'customer', 'product', k => 10, measure => 'jaccard');
SET itemcf.reclaim = immediate;
SELECT count(*) FROM itemcf_rebuild();
-- a site's grants on the management functions (revoked from PUBLIC), to be carried over
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'itemcf_upgrade_manager') THEN
    CREATE ROLE itemcf_upgrade_manager;
  END IF;
END $$;
GRANT EXECUTE ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer) TO itemcf_upgrade_manager;
GRANT EXECUTE ON FUNCTION itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[]) TO itemcf_upgrade_manager WITH GRANT OPTION;
SQL
answers() {
    q -d "${1:-$old}" -c "SELECT string_agg(format('%s %s %s %s', u, r.item_id, r.score, r.reason), E'\n' ORDER BY u, r.score DESC, r.item_id)
                   FROM generate_series(1, 320, 7) u, recommend(u, 10) r" \
      -c "SELECT string_agg(format('%s %s %s', u, r.item_id, r.score), E'\n' ORDER BY u, r.score DESC, r.item_id)
          FROM generate_series(1, 220, 9) u, recommend(u, 5, 'shop') r" \
      -c "SELECT string_agg(format('%s %s %s', i, s.item_id, s.score), E'\n' ORDER BY i, s.score DESC, s.item_id)
          FROM generate_series(0, 59) i, similar_items(i, 10) s"
}
answers >"$tmp/before"
stats() { q -d "$old" -c "SELECT model, users, items, items_with_neighbors, entries, last_status FROM itemcf_model_stats ORDER BY model"; }
stats >"$tmp/stats_before"
if ! q -d "$old" -c 'SET client_min_messages = warning' -c 'ALTER EXTENSION itemcf UPDATE' 2>"$tmp/update.log"; then
    say "FAILED: ALTER EXTENSION itemcf UPDATE:"; cat "$tmp/update.log"; exit 1
fi
got="$(q -d "$old" -c "SELECT extversion FROM pg_extension WHERE extname = 'itemcf'")"
if [[ "$got" != "$version" ]]; then
    say "FAILED: ALTER EXTENSION itemcf UPDATE gave version $got, not $version"
    exit 1
fi
# register and alter changed signature (window_anchor, labels): their grants are not kept (a GRANT
# in the update script would become an initial privilege pg_dump leaves out); the update
# warned with the statements to run again, which work
if ! grep -q 'WARNING:  itemcf_register_model() and itemcf_alter_model() have new parameters' "$tmp/update.log" ||
   ! grep -q 'GRANT EXECUTE ON FUNCTION public.itemcf_alter_model TO itemcf_upgrade_manager WITH GRANT OPTION; GRANT EXECUTE ON FUNCTION public.itemcf_register_model TO itemcf_upgrade_manager;' "$tmp/update.log"; then
    say "FAILED: the update did not warn with the grants to run again:"
    cat "$tmp/update.log"
    exit 1
fi
hint="$(sed -n 's/^HINT:  Run again: //p' "$tmp/update.log")"
q -d "$old" -c "$hint"
grants="$(q -d "$old" -F ' ' -c "
    SELECT p.proname, r.rolname, has_function_privilege(r.oid, p.oid, 'EXECUTE'),
           has_function_privilege(r.oid, p.oid, 'EXECUTE WITH GRANT OPTION'),
           (SELECT count(*) FROM aclexplode(p.proacl) a WHERE a.grantee = 0)
    FROM pg_proc p, pg_roles r
    WHERE p.proname IN ('itemcf_register_model', 'itemcf_alter_model') AND r.rolname = 'itemcf_upgrade_manager'
    ORDER BY 1")"
want="itemcf_alter_model itemcf_upgrade_manager t t 0
itemcf_register_model itemcf_upgrade_manager t f 0"
if [[ "$grants" != "$want" ]]; then
    say "FAILED: grants on the management functions after running the hint:"
    printf '%s\n' "$grants"
    exit 1
fi
q -d "$old" -c "REVOKE ALL ON FUNCTION itemcf_register_model FROM itemcf_upgrade_manager" \
    -c "REVOKE ALL ON FUNCTION itemcf_alter_model FROM itemcf_upgrade_manager CASCADE" -c "DROP ROLE itemcf_upgrade_manager"
q -d "$fresh" -f scripts/checks/describe_extension.sql >"$tmp/fresh.txt"
q -d "$old" -f scripts/checks/describe_extension.sql >"$tmp/updated.txt"
if ! diff -u "$tmp/fresh.txt" "$tmp/updated.txt" >"$tmp/diff"; then
    say "FAILED: 0.1.0 updated to $version differs from a fresh $version install (- fresh, + updated):"
    head -n 80 "$tmp/diff"
    exit 1
fi
answers >"$tmp/after"
stats >"$tmp/stats_after"
if ! diff -u "$tmp/stats_before" "$tmp/stats_after" >"$tmp/sdiff" || [[ $(grep -c '|' "$tmp/stats_before") -lt 2 ]]; then
    say "FAILED: itemcf_model_stats differs after the update (it counts lists from the runs now):"
    cat "$tmp/sdiff" "$tmp/stats_before"
    exit 1
fi
if ! diff -u "$tmp/before" "$tmp/after" >"$tmp/adiff"; then
    say "FAILED: models serve different answers after the update:"
    head -n 40 "$tmp/adiff"
    exit 1
fi
if [[ $(wc -l <"$tmp/before") -lt 100 ]]; then
    say "FAILED: too few answers to compare ($(wc -l <"$tmp/before") lines)"
    exit 1
fi
# pg_dump of the updated database, restored into a fresh one: the same answers, no rebuild
pg_dump -Fc -d "$old" -f "$tmp/dump"
pg_restore -d "$restored" --exit-on-error "$tmp/dump"
answers "$restored" >"$tmp/restored"
if ! diff -u "$tmp/before" "$tmp/restored" >"$tmp/rdiff"; then
    say "FAILED: the updated database, dumped and restored, serves different answers:"
    head -n 40 "$tmp/rdiff"
    exit 1
fi
st="$(q -d "$old" -c 'SET itemcf.reclaim = immediate' -c "SELECT string_agg(model || ' ' || status, ', ' ORDER BY model) FROM itemcf_rebuild()")"
if [[ "$st" != "default succeeded, shop succeeded" ]]; then
    say "FAILED: rebuild after the update: $st"
    exit 1
fi
answers >"$tmp/rebuilt"
if ! diff -q "$tmp/before" "$tmp/rebuilt" >/dev/null; then
    say "FAILED: the rebuild after the update gives different answers"
    diff -u "$tmp/before" "$tmp/rebuilt" | head -n 40
    exit 1
fi
say "ok: 0.1.0 -> $version gives the $(wc -l <"$tmp/fresh.txt") object lines of a fresh install; $(wc -l <"$tmp/before") answers identical before and after the update, after a dump and restore of the updated database, and after a rebuild"
