-- pgTAP suite for stored models: the catalog (tables, views, functions, privileges,
-- dump configuration), the model named 'default' over itemcf_purchases, rebuild
-- versions, runs, popular items, and the SQLSTATEs of the management functions.
-- Run with: pg_prove -d <db> test/*.sql   (in a database with CREATE EXTENSION pgtap)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS itemcf;
SET LOCAL TimeZone = 'UTC';
SET LOCAL client_min_messages = error;

SELECT plan(79);

------------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------------
-- 1-5: tables, 6-7: views
SELECT has_table(t) FROM unnest(ARRAY['itemcf_purchases', 'itemcf_models', 'itemcf_neighbors', 'itemcf_popular', 'itemcf_runs']::name[]) t;
SELECT has_view(v) FROM unnest(ARRAY['itemcf_similarities', 'itemcf_model_stats']::name[]) v;
-- 8-12: the columns of the views
SELECT columns_are('itemcf_similarities', ARRAY['model', 'item_id', 'neighbor_id', 'score', 'rank', 'item_label', 'neighbor_label']);
SELECT col_type_is('itemcf_similarities', 'item_id', 'bigint');
SELECT col_type_is('itemcf_similarities', 'neighbor_id', 'bigint');
SELECT col_type_is('itemcf_similarities', 'score', 'real');
SELECT col_type_is('itemcf_similarities', 'rank', 'integer');
-- 13-14: the default purchases table and its per-user index
SELECT columns_are('itemcf_purchases', ARRAY['user_id', 'item_id', 'weight', 'purchased_at']);
SELECT has_index('itemcf_purchases', 'itemcf_purchases_user_idx');
-- 15-19: register/alter/drop are the C dispatcher (SECURITY INVOKER: it must see the
-- true caller) over PL/pgSQL implementations with a fixed search_path; rebuild is
-- SECURITY DEFINER with a fixed search_path
SELECT isnt_definer(f, a) FROM (VALUES
  ('itemcf_register_model'::name, ARRAY['text', 'regclass', 'name', 'name', 'name', 'name', 'text', 'integer', 'integer', 'real', 'real', 'text', 'interval', 'integer', 'text', 'regclass', 'name', 'name']::name[]),
  ('itemcf_alter_model', ARRAY['text', 'regclass', 'name', 'name', 'name', 'name', 'text', 'integer', 'integer', 'real', 'real', 'text', 'interval', 'integer', 'text', 'text[]', 'text', 'regclass', 'name', 'name']),
  ('itemcf_drop_model', ARRAY['text'])) v(f, a);
SELECT isnt_definer('itemcf_rebuild', ARRAY['text']);	-- the C dispatcher: it must know the caller
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'itemcf'
           JOIN pg_language l ON l.oid = p.prolang
           WHERE l.lanname IN ('sql', 'plpgsql') AND p.prokind <> 'p'
             AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)), NULL,
          'every SQL and PL/pgSQL function of the extension pins search_path to pg_catalog, pg_temp');
-- 20: PUBLIC may execute none of the management and internal functions
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'itemcf'
           WHERE (p.proname LIKE 'itemcf\_%' OR p.proname IN ('_itemcf_rebuild_one', '_itemcf_build_query',
                  '_itemcf_check_source', '_itemcf_owned_model', '_itemcf_ensure_default', '_itemcf_reclaim_later'))
             AND has_function_privilege('public', p.oid, 'EXECUTE')), NULL,
          'no management or internal function is executable by PUBLIC');
-- 21: ... nor read or write the tables
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relname IN ('itemcf_purchases', 'itemcf_models', 'itemcf_neighbors', 'itemcf_popular', 'itemcf_runs',
                               'itemcf_similarities', 'itemcf_model_stats')
             AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT'))),
          0::bigint, 'PUBLIC has no privilege on the tables and views');
-- 22: every table (and sequence) is dumped by pg_dump
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_extension e, unnest(e.extconfig) x(oid)
           JOIN pg_class c ON c.oid = x.oid WHERE e.extname = 'itemcf'),
          ARRAY['itemcf_best_pairs', 'itemcf_labels', 'itemcf_models', 'itemcf_models_model_id_seq', 'itemcf_neighbors', 'itemcf_popular', 'itemcf_purchases',
                'itemcf_runs', 'itemcf_runs_run_id_seq', 'itemcf_version_seq'], 'the tables are extension configuration');

------------------------------------------------------------------------------
-- The model named 'default', made on first use over itemcf_purchases
------------------------------------------------------------------------------
-- 23-25
SELECT is((SELECT count(*) FROM itemcf_models WHERE name = 'default'), 0::bigint, 'no default model before first use');
SELECT is((SELECT status || ': ' || error FROM itemcf_rebuild('default')), 'failed: source of model "default" has no rows',
          'an empty itemcf_purchases: failed run');
SELECT is((SELECT source::text || ' ' || user_column || ' ' || item_column || ' ' || weight_column || ' ' || time_column
           FROM itemcf_models WHERE name = 'default'),
          'itemcf_purchases user_id item_id weight purchased_at', 'the default model reads itemcf_purchases');
-- u1: 1 2 3, u2: 1 2, u3: 3 4 (weights default 1, times default now())
INSERT INTO itemcf_purchases (user_id, item_id) VALUES (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (3, 3), (3, 4);
-- 26-29
SELECT is((SELECT status FROM itemcf_rebuild('default')), 'succeeded', 'default rebuilds');
SELECT results_eq($$SELECT item_id, neighbor_id, rank FROM itemcf_similarities WHERE model = 'default' ORDER BY 1, 3$$,
                  $$VALUES (1::bigint, 2::bigint, 1), (1, 3, 2), (2, 1, 1), (2, 3, 2), (3, 4, 1), (3, 1, 2), (3, 2, 3), (4, 3, 1)$$,
                  'default: neighbours by rank');
SELECT is((SELECT round(score::numeric, 5) FROM itemcf_similarities WHERE model = 'default' AND item_id = 1 AND neighbor_id = 2),
          round(2 / sqrt(2 * 2)::numeric, 5), 'default: cosine 1-2 = 2/sqrt(2*2)');
SELECT is((SELECT round(score::numeric, 5) FROM itemcf_similarities WHERE model = 'default' AND item_id = 3 AND neighbor_id = 4),
          round(1 / sqrt(2 * 1)::numeric, 5), 'default: cosine 3-4 = 1/sqrt(2*1)');
-- 30: itemcf_rebuild() (all models) includes the default model once
SELECT is((SELECT count(*) FROM itemcf_rebuild() WHERE model = 'default' AND status = 'succeeded'), 1::bigint,
          'itemcf_rebuild() rebuilds the default model');

------------------------------------------------------------------------------
-- Versions, runs, popular items
------------------------------------------------------------------------------
CREATE TABLE tap_src (user_id bigint, item_id bigint, w numeric, at date);
CREATE INDEX ON tap_src (user_id);
INSERT INTO tap_src SELECT u, (u * 7 + j) % 40, 1 + j % 2, date '2024-01-01' + j
  FROM generate_series(1, 100) u, generate_series(1, 6) j;
-- 31-32
SELECT lives_ok($$SELECT itemcf_register_model('tap', 'tap_src', weight_column => 'w', time_column => 'at', weights => 'sum', k => 7)$$,
                'register over numeric weights and a date column');
SELECT is((SELECT current_version FROM itemcf_models WHERE name = 'tap'), NULL, 'no version before the first build');
CREATE TEMP TABLE first_run ON COMMIT DROP AS SELECT * FROM itemcf_rebuild('tap');
CREATE TEMP TABLE second_run ON COMMIT DROP AS SELECT * FROM itemcf_rebuild('tap');
-- 33-40
SELECT is((SELECT status FROM second_run), 'succeeded', 'second build succeeded');
SELECT cmp_ok((SELECT version FROM second_run), '>', (SELECT version FROM first_run), 'each build gets a newer version');
SELECT is((SELECT current_version FROM itemcf_models WHERE name = 'tap'), (SELECT version FROM second_run), 'the model points at the last build');
-- (the replaced version goes after commit, in the background; this transaction never commits)
SELECT is((SELECT array_agg(DISTINCT n.version ORDER BY n.version) FROM itemcf_neighbors n JOIN itemcf_models m USING (model_id) WHERE m.name = 'tap'),
          ARRAY[(SELECT version FROM first_run), (SELECT version FROM second_run)], 'the replaced version stays until the rebuild commits');
SELECT cmp_ok(itemcf_reclaim(), '>', 0::bigint, 'itemcf_reclaim() deletes it');
SELECT is((SELECT array_agg(DISTINCT n.version) FROM itemcf_neighbors n JOIN itemcf_models m USING (model_id) WHERE m.name = 'tap'),
          ARRAY[(SELECT version FROM second_run)], 'only the current version is kept');
SELECT is((SELECT count(*) FROM itemcf_runs WHERE model = 'tap'), 2::bigint, 'one run row per build');
SELECT is((SELECT rows_read = 600 AND users = 100 AND items = 40 AND entries_written = 280 AND shards = 1
                  AND partial_states >= 1 AND read_seconds >= 0 AND compute_seconds >= 0 AND write_seconds >= 0
                  AND total_seconds >= 0 AND finished_at >= started_at AND error IS NULL
           FROM second_run), true, 'the run row counts rows, users, items, entries; seconds are set');
-- 41: the parameters of the build are recorded
SELECT is((SELECT parameters->>'measure' || ' ' || (parameters->>'k') || ' ' || (parameters->>'weights') FROM second_run),
          'cosine 7 sum', 'the run records the parameters');
-- 42-43: popular items: ranks 1..n, buyers descending then id
SELECT is((SELECT array_agg(rank::bigint ORDER BY rank) = array_agg(r ORDER BY rank)
           FROM (SELECT p.rank, row_number() OVER (ORDER BY p.buyers DESC, p.item_id) AS r
                 FROM itemcf_popular p JOIN itemcf_models m USING (model_id) WHERE m.name = 'tap' AND p.version = m.current_version) x),
          true, 'popular: ranked by buyers, then id');
SELECT is((SELECT count(*) FROM itemcf_popular p JOIN itemcf_models m USING (model_id) WHERE m.name = 'tap'), 40::bigint,
          'popular: every item');
-- 44-45: the stats view
SELECT is((SELECT users || ' ' || items || ' ' || items_with_neighbors || ' ' || entries || ' ' || last_status
           FROM itemcf_model_stats WHERE model = 'tap'), '100 40 40 280 succeeded', 'itemcf_model_stats');
SELECT is((SELECT neighbor_coverage FROM itemcf_model_stats WHERE model = 'tap'), 1::float8, 'coverage 1');
-- 46: equal to the aggregate run directly (numeric weights cast to real, date to timestamptz)
SELECT is((SELECT count(*) FROM (
             (SELECT n.item_id, n.neighbors::text FROM itemcf_neighbors n JOIN itemcf_models m USING (model_id)
              WHERE m.name = 'tap' AND n.version = m.current_version)
             EXCEPT
             (SELECT x.item_id, x.neighbors::text FROM item_neighbors((SELECT item_neighbors_agg(user_id, item_id, w::real, at::timestamptz,
                                                                          '{"k": 7, "weights": "sum"}') FROM tap_src)) x)) d),
          0::bigint, 'the stored lists are the aggregate''s');
-- 47-49: a time window on a date column
SELECT lives_ok($$SELECT itemcf_alter_model('tap', time_window => '1 day')$$, 'alter: a time window');
SELECT is((SELECT status || ': ' || error FROM itemcf_rebuild('tap')) LIKE 'failed: source of model "tap" has no usable rows%',
          true, 'every row outside the window: failed');
SELECT is((SELECT rows_outside_window FROM itemcf_runs WHERE model = 'tap' ORDER BY run_id DESC LIMIT 1), 600::bigint,
          'the run counts the rows outside the window');
-- 50-51: the failed build kept the last version
SELECT is((SELECT current_version FROM itemcf_models WHERE name = 'tap'), (SELECT version FROM second_run), 'the failed build kept the version');
SELECT is((SELECT count(*) FROM itemcf_similarities WHERE model = 'tap'), 280::bigint, 'the old lists are served');

------------------------------------------------------------------------------
-- Errors of the management functions
------------------------------------------------------------------------------
CREATE TABLE tap_bad (user_id text, item_id bigint, w text, at integer, amount real);
-- 52-62
SELECT throws_ok($$SELECT itemcf_register_model('tap', 'tap_src')$$, '42710', 'model "tap" already exists', 'duplicate name');
SELECT throws_ok($$SELECT itemcf_register_model('tap2', 'tap_src', user_column => 'nope')$$, '42703', NULL, 'missing column');
SELECT throws_ok($$SELECT itemcf_register_model('tap2', 'tap_bad')$$, '42804', NULL, 'text user column');
SELECT throws_ok($$SELECT itemcf_register_model('tap2', 'tap_src', item_column => 'at')$$, '42804', NULL, 'date item column');
SELECT throws_ok($$SELECT itemcf_register_model('tap2', 'tap_bad', user_column => 'item_id', weight_column => 'w')$$, '42804', NULL, 'text weight');
SELECT throws_ok($$SELECT itemcf_register_model('tap2', 'tap_bad', user_column => 'item_id', time_column => 'at')$$, '42804', NULL, 'integer time');
SELECT throws_ok($$SELECT itemcf_register_model('tap2', 'tap_src', k => 0)$$, '22023', 'option "k" must be an integer between 1 and 1000', 'k out of range');
SELECT throws_ok($$SELECT itemcf_register_model(NULL, 'tap_src')$$, '22004', NULL, 'NULL name');
SELECT throws_ok($$SELECT itemcf_alter_model('nope', k => 3)$$, '42704', 'model "nope" does not exist', 'alter a missing model');
SELECT throws_ok($$SELECT itemcf_drop_model('nope')$$, '42704', 'model "nope" does not exist', 'drop a missing model');
SELECT throws_ok($$SELECT * FROM itemcf_rebuild('nope')$$, '42704', 'model "nope" does not exist', 'rebuild a missing model');
-- 63-64: a real weight column and a view source
SELECT lives_ok($$SELECT itemcf_register_model('tap_real', 'tap_bad', user_column => 'item_id', item_column => 'item_id', weight_column => 'amount')$$,
                'a real weight column');
SELECT lives_ok($$SELECT itemcf_drop_model('tap_real')$$, 'drop');

------------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------------
CREATE ROLE tap_itemcf_owner;
CREATE ROLE tap_itemcf_other;
GRANT SELECT ON tap_src TO tap_itemcf_owner;
GRANT USAGE ON SCHEMA public TO tap_itemcf_owner, tap_itemcf_other;
-- 65-66: denied until granted
SET LOCAL ROLE tap_itemcf_owner;
SELECT throws_ok($$SELECT itemcf_register_model('tap_owned', 'tap_src')$$, '42501', NULL, 'register is not granted by default');
SELECT throws_ok($$SELECT * FROM itemcf_rebuild('tap')$$, '42501', NULL, 'rebuild is not granted by default');
RESET ROLE;
GRANT EXECUTE ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name),
                          itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name),
                          itemcf_drop_model(text), itemcf_rebuild(text)
  TO tap_itemcf_owner, tap_itemcf_other;
-- 67-69
SET LOCAL ROLE tap_itemcf_owner;
SELECT lives_ok($$SELECT itemcf_register_model('tap_owned', 'tap_src')$$, 'register once granted');
SELECT throws_ok($$SELECT itemcf_register_model('tap_bad_owned', 'tap_bad')$$, '42501', NULL, 'not on an unreadable table');
SELECT is((SELECT status FROM itemcf_rebuild('tap_owned')), 'succeeded', 'the owner rebuilds');
RESET ROLE;
-- 70
SELECT is((SELECT owner::text FROM itemcf_models WHERE name = 'tap_owned'), 'tap_itemcf_owner', 'owned by the registering role');
-- 71-73
SET LOCAL ROLE tap_itemcf_other;
SELECT throws_ok($$SELECT itemcf_alter_model('tap_owned', k => 2)$$, '42501', 'must be owner of model "tap_owned"', 'no alter of another''s model');
SELECT throws_ok($$SELECT itemcf_drop_model('tap_owned')$$, '42501', 'must be owner of model "tap_owned"', 'no drop of another''s model');
SELECT throws_ok($$SELECT itemcf_build_model('tap_itemcf_owner', 'SELECT NULL::bytea', 1, 1, 0)$$, '42501', NULL, 'itemcf_build_model is internal');
RESET ROLE;
-- 74-75: the source is read as the owner: without the privilege, the build fails
REVOKE SELECT ON tap_src FROM tap_itemcf_owner;
SELECT is((SELECT status || ': ' || error FROM itemcf_rebuild('tap_owned')),
          'failed: role "tap_itemcf_owner" cannot read the source of model "tap_owned"', 'read as the owner');
SELECT cmp_ok((SELECT count(*) FROM itemcf_similarities WHERE model = 'tap_owned'), '>', 0::bigint, 'the last lists are kept');
-- 76-77: row-level security on the source applies to the owner
GRANT SELECT ON tap_src TO tap_itemcf_owner;
ALTER TABLE tap_src ENABLE ROW LEVEL SECURITY;
CREATE POLICY tap_half ON tap_src FOR SELECT TO tap_itemcf_owner USING (user_id <= 50);
SELECT is((SELECT users FROM itemcf_rebuild('tap_owned')), 50, 'RLS: the owner''s build sees its 50 users');
SELECT itemcf_alter_model('tap', time_window => '100 years');
SELECT is((SELECT users FROM itemcf_rebuild('tap')), 100, 'a superuser''s model sees all 100');
-- 78-79: drop
SET LOCAL ROLE tap_itemcf_owner;
SELECT lives_ok($$SELECT itemcf_drop_model('tap_owned')$$, 'the owner drops');
RESET ROLE;
SELECT is((SELECT count(*) FROM itemcf_neighbors n WHERE NOT EXISTS (SELECT FROM itemcf_models m WHERE m.model_id = n.model_id)),
          0::bigint, 'no neighbour list outlives its model');

SELECT * FROM finish();
ROLLBACK;
