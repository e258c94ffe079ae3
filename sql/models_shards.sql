--
-- itemcf_rebuild() building in item shards when a result would exceed
-- itemcf.max_result_size, and reading the source in parallel: both give exactly the
-- neighbours of a plain serial build.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA models_shards;
SET search_path = models_shards, public;

\i sql/include/helpers.sql

------------------------------------------------------------------------------
-- Shards: 1,000 items, k = 20: 20,000 neighbour entries, a result of ~180 kB
------------------------------------------------------------------------------
CREATE TABLE orders AS
  SELECT u AS customer, (u * 13 + j * j) % 1000 AS product, 1 + j % 3 AS amount
  FROM generate_series(1, 600) u, generate_series(1, 30) j;
CREATE INDEX ON orders (customer);
SELECT count(*) AS rows, count(DISTINCT product) AS items FROM orders;
SELECT itemcf_register_model('ms_whole', 'orders', 'customer', 'product', 'amount', k => 20, weights => 'sum') IS NOT NULL AS registered;
SELECT itemcf_register_model('ms_sharded', 'orders', 'customer', 'product', 'amount', k => 20, weights => 'sum') IS NOT NULL AS registered;
SELECT model, status, shards FROM itemcf_rebuild('ms_whole');
-- a 64 kB limit: one shard fails (54I01, the result does not fit), so does two; four fit
SET itemcf.max_result_size = '64kB';
SELECT model, status, error, shards, entries_written FROM itemcf_rebuild('ms_sharded');
SELECT (SELECT count(*) FROM itemcf_similarities WHERE model = 'ms_sharded') AS entries;
-- exactly the unsharded neighbours, scores and ranks, and the same popular items
SELECT * FROM differences('ms_whole', 'ms_sharded');
-- the next rebuild starts with as many shards as the last one needed
SELECT model, status, shards FROM itemcf_rebuild('ms_sharded');
SELECT * FROM differences('ms_whole', 'ms_sharded');
-- back to the default limit: the unsharded model rebuilds in one piece
RESET itemcf.max_result_size;
SELECT model, status, shards FROM itemcf_rebuild('ms_whole');
-- the aggregate itself refuses a whole result over the limit
SET itemcf.max_result_size = '64kB';
DO $$
BEGIN
  PERFORM item_neighbors_agg(customer, product, amount, '{"k": 20, "weights": "sum"}') FROM models_shards.orders;
EXCEPTION WHEN program_limit_exceeded THEN	-- the class of 54I01
  RAISE NOTICE 'aggregate: % (%)', SQLERRM, SQLSTATE;
END $$;
RESET itemcf.max_result_size;

------------------------------------------------------------------------------
-- Parallel rebuild: two workers read the source, the leader only gathers; the
-- partial states are combined and the neighbours equal a serial rebuild's
------------------------------------------------------------------------------
-- (fillfactor 10: ten times the pages for the same rows, so that the parallel scan lasts
-- long enough for both workers to get pages)
CREATE TABLE clicks WITH (fillfactor = 10) AS
  SELECT u AS user_id, (floor(800 * power(((u * 7919 + j * 104729) % 10007) / 10007.0, 2)) + 1)::bigint AS item_id
  FROM generate_series(1, 2000) u, generate_series(1, 15) j;
CREATE INDEX ON clicks (user_id);
ANALYZE clicks;
SELECT itemcf_register_model('ms_serial', 'clicks', k => 10, measure => 'jaccard') IS NOT NULL AS registered;
SELECT itemcf_register_model('ms_parallel', 'clicks', k => 10, measure => 'jaccard') IS NOT NULL AS registered;
SET max_parallel_workers_per_gather = 0;
SELECT model, status, partial_states, shards FROM itemcf_rebuild('ms_serial');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- a worker that starts late may find no page left to scan: retry (up to 10 times)
-- until both workers contributed
CREATE TABLE parallel_runs AS SELECT * FROM itemcf_runs WHERE false;
DO $$
DECLARE
  attempt integer;
  r public.itemcf_runs;
BEGIN
  FOR attempt IN 1 .. 10 LOOP
    SELECT * INTO r FROM itemcf_rebuild('ms_parallel');
    INSERT INTO models_shards.parallel_runs SELECT r.*;
    EXIT WHEN r.partial_states >= 2;
  END LOOP;
END $$;
SELECT model, status, error, partial_states >= 2 AS combined_partials, shards
FROM parallel_runs ORDER BY run_id DESC LIMIT 1;
SELECT * FROM differences('ms_serial', 'ms_parallel');
-- ... also with the kernel on one thread against two
SET itemcf.threads = 1;
SELECT model, status FROM itemcf_rebuild('ms_serial');
SET itemcf.threads = 2;
SELECT model, status FROM itemcf_rebuild('ms_parallel');
SELECT * FROM differences('ms_serial', 'ms_parallel');
-- parallel and sharded at once
SET itemcf.max_result_size = '20kB';
SELECT model, status, shards > 1 AS sharded FROM itemcf_rebuild('ms_parallel');
SELECT * FROM differences('ms_serial', 'ms_parallel');
RESET ALL;

------------------------------------------------------------------------------
-- The build's contract: itemcf_build_model() returns a row whose fields are
-- item_neighbors_stats() of the same aggregate (timings aside), and the shard
-- count comes from the result's size rule, here against values computed by
-- hand (a 128-byte header, 12 bytes per item in every shard, 8 per output item
-- and per entry, 20% room for an uneven split): under 64 kB, 100 items and
-- 1,000 entries fit one; 1,000/50,000 need ceil(488000/53408) = 10; 5,000 need
-- ceil(520000/5408) = 97; 5,450 items leave 8 bytes, so the 4,096 most; from
-- 5,451 items the dictionary alone does not fit and more shards cannot help (1,
-- the build then fails with that error); 0 items, 1
------------------------------------------------------------------------------
SELECT m.model_id AS serial_id FROM itemcf_models m WHERE m.name = 'ms_serial' \gset
WITH built AS (
  SELECT to_jsonb(itemcf_build_model(CURRENT_USER::regrole,
           $$SELECT public.item_neighbors_agg(user_id::bigint, item_id, 1::real, '{"k": 10, "measure": "jaccard"}'::jsonb) FROM models_shards.clicks$$,
           :serial_id, -1, 0)) AS j
), direct AS (
  SELECT item_neighbors_stats(item_neighbors_agg(user_id::bigint, item_id, 1, '{"k": 10, "measure": "jaccard"}')) AS j
  FROM models_shards.clicks
)
SELECT key, built.j -> key AS built, direct.j -> key AS direct
FROM built, direct, jsonb_object_keys(built.j) key
WHERE key NOT IN ('read_seconds', 'compute_seconds', 'write_seconds', 'lists')
  AND (built.j -> key) IS DISTINCT FROM (direct.j -> key);
-- the counts the run keeps, by name, and the timings present
SELECT rows, rows_null_id, rows_bad_weight, rows_outside_window, users, items, items_out, entries, k, partials, shard_count, shard_index, lists,
       read_seconds >= 0 AND compute_seconds >= 0 AND write_seconds > 0 AS timed
FROM itemcf_build_model(CURRENT_USER::regrole,
       $$SELECT public.item_neighbors_agg(user_id::bigint, item_id, 1::real) FROM models_shards.clicks$$,
       :serial_id, -2, 0);
SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'itemcf_build_stats'::regclass AND attnum > 0) AS fields,
       (SELECT count(*) FROM jsonb_object_keys(item_neighbors_stats(item_neighbors_agg(user_id::bigint, item_id, 1)))) + 2 AS stats_fields
FROM models_shards.clicks;
SELECT version, count(*) AS stored FROM itemcf_neighbors WHERE model_id = :serial_id AND version < 0 GROUP BY 1 ORDER BY 1;
DELETE FROM itemcf_neighbors WHERE model_id = :serial_id AND version < 0;
SET itemcf.max_result_size = '64kB';
SELECT items, entries, _itemcf_result_shards(items, entries) AS shards
FROM (VALUES (100, 1000::bigint), (1000, 50000), (5000, 50000), (5450, 50000), (5451, 50000), (6000, 50000),
             (1, 1000000000000), (0, 0)) v(items, entries);
RESET itemcf.max_result_size;

SELECT count(itemcf_drop_model(name)) AS dropped FROM itemcf_models WHERE name LIKE 'ms\_%';
SET client_min_messages = warning;
DROP SCHEMA models_shards CASCADE;
