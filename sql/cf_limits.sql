--
-- item_neighbors_agg limits: itemcf.build_memory (53200), itemcf.max_result_size (54000),
-- statement_timeout during the compute (57014, the session still works), the
-- settings' ranges; forged or damaged results are refused with a clean error.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA engine_limits;
SET search_path = engine_limits, public;

\i sql/include/helpers.sql

------------------------------------------------------------------------------
-- Settings and their ranges (the settings exist once the library is loaded)
------------------------------------------------------------------------------
SELECT '{1:1}'::svec AS load_the_library;
-- (itemcf.max_threads: the test cluster sets max(4, cores); see cf_threads)
SELECT name, CASE name WHEN 'itemcf.max_threads' THEN '-' ELSE setting END AS setting,
       unit, min_val, max_val, context FROM pg_settings WHERE name LIKE 'itemcf.%' ORDER BY name;
-- (PostgreSQL's own range message: its unit formatting differs between versions, so only
-- the SQLSTATE is shown; the bounds are in the table above)
\set VERBOSITY sqlstate
SET itemcf.build_memory = 15;
SET itemcf.build_memory = '15MB';
SET itemcf.threads = -1;
SET itemcf.threads = 1025;
SET itemcf.max_result_size = '2GB';
SET itemcf.max_result_size = 0;
\set VERBOSITY default
SET itemcf.no_such_setting = 1;

------------------------------------------------------------------------------
-- itemcf.build_memory: a build that would not fit fails before allocating (53200)
------------------------------------------------------------------------------
SET itemcf.build_memory = 16;
SHOW itemcf.build_memory;
-- the compute: 200,000 items bought by one user need more than 16 MB of buffers
SELECT try($$SELECT item_neighbors_agg(1, i, 1) IS NOT NULL FROM generate_series(1, 200000) i$$) AS compute;
-- the aggregate state: 1,000,000 rows with weights and times (20 bytes each) do not fit
SELECT try($$SELECT item_neighbors_agg(i % 1000, i % 5000, 1, now(), '{"weights": "sum"}') IS NOT NULL
             FROM generate_series(1, 1000000) i$$) AS state;
-- the same builds with the default budget
RESET itemcf.build_memory;
SELECT try($$SELECT item_neighbors_stats(item_neighbors_agg(1, i, 1))->'items' FROM generate_series(1, 200000) i$$) AS compute;
-- a small build fits in 16 MB
SET itemcf.build_memory = 16;
SELECT try($$SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1))->'entries'
             FROM generate_series(1, 100) u, generate_series(1, 10) i$$) AS small;
RESET itemcf.build_memory;

------------------------------------------------------------------------------
-- itemcf.max_result_size: a bigger result fails (54000); item shards fit
-- 500 items, each the neighbour of the 49 others bought with it: ~200 kB
------------------------------------------------------------------------------
CREATE TABLE m AS SELECT u, (u * 7 + j) % 500 AS i FROM generate_series(1, 500) u, generate_series(1, 50) j;
SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1))->'entries' AS entries FROM m;
SET itemcf.max_result_size = '64kB';
SELECT try($$SELECT item_neighbors_agg(u, i, 1) IS NOT NULL FROM engine_limits.m$$) AS whole;
SELECT s AS shard, try(format($$SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1, '{"shard_count": 4, "shard_index": %s}'))->'items_out'
                              FROM engine_limits.m$$, s)) AS result
FROM generate_series(0, 3) s;
RESET itemcf.max_result_size;
-- the item dictionary alone (12 bytes per item, in every shard) over the limit:
-- 500 items need 6 kB; fails before computing, with 54000, not the 54I01 of
-- "item_neighbors_agg result exceeds ..." (itemcf_rebuild() retries on that one
-- with more shards, which cannot help here), and whatever the shards
SET itemcf.max_result_size = '5kB';
SELECT try($$SELECT item_neighbors_agg(u, i, 1) IS NOT NULL FROM engine_limits.m$$) AS whole;
SELECT try($$SELECT item_neighbors_agg(u, i, 1, '{"shard_count": 4096, "shard_index": 7}') IS NOT NULL
             FROM engine_limits.m$$) AS shard_7_of_4096;
SELECT item_neighbors_agg(u, i, 1) IS NOT NULL FROM m;
-- so itemcf_rebuild() fails at once with that message (it used to retry with 2, 4, ...
-- 4096 shards and end with "result exceeds")
SELECT itemcf_register_model('engine_limits_dict', 'engine_limits.m', 'u', 'i') IS NOT NULL AS registered;
SELECT model, status, error, shards FROM itemcf_rebuild('engine_limits_dict');
SELECT itemcf_drop_model('engine_limits_dict') IS NOT NULL AS dropped;
-- 7 kB: the dictionary fits, the whole result does not (the retryable 54I01),
-- and a shard of 4096 fits
SET itemcf.max_result_size = '7kB';
SELECT try($$SELECT item_neighbors_agg(u, i, 1) IS NOT NULL FROM engine_limits.m$$) AS whole;
SELECT try($$SELECT item_neighbors_agg(u, i, 1, '{"shard_count": 4096, "shard_index": 7}') IS NOT NULL
             FROM engine_limits.m$$) AS shard_7_of_4096;
RESET itemcf.max_result_size;

------------------------------------------------------------------------------
-- statement_timeout during the compute: 60 users x 5,000 items (300,000 rows, no
-- history cap) need 1.5e9 pair updates, several seconds; reading the rows takes
-- well under 200 ms, so the timeout strikes inside the kernel
------------------------------------------------------------------------------
CREATE FUNCTION timed_out() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  st text;
BEGIN
  PERFORM item_neighbors_agg(u, i, 1, '{"history_cap": 0}') FROM generate_series(1, 60) u, generate_series(1, 5000) i;
  RETURN 'not cancelled';
EXCEPTION WHEN query_canceled THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
  -- cancelled promptly: far sooner than the build would have taken
  RETURN st || ', within 3 s: ' || (clock_timestamp() - t0 < interval '3 s');
END $$;
SET statement_timeout = '200ms';
SELECT timed_out();
-- and without catching it
SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 0}') IS NOT NULL FROM generate_series(1, 60) u, generate_series(1, 5000) i;
RESET statement_timeout;
-- the session still works, the kernel too (on every thread)
SELECT 1 AS still_alive;
SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1))->'entries' AS entries
FROM generate_series(1, 50) u, generate_series(1, 20) i;
SET itemcf.threads = 2;
SELECT item_neighbors_stats(item_neighbors_agg(u, (u + i) % 40, 1))->'entries' AS entries
FROM generate_series(1, 50) u, generate_series(1, 20) i;
RESET itemcf.threads;

------------------------------------------------------------------------------
-- Forged or damaged results: item_neighbors, item_buyers and item_neighbors_stats
-- check the value in full and refuse it with 22P03, never crash
------------------------------------------------------------------------------
CREATE TABLE good AS
  SELECT item_neighbors_agg(u, i, 1, '{"k": 3}') AS r
  FROM (VALUES (1, 10), (1, 20), (2, 10), (2, 20), (2, 30), (3, 30), (3, -40), (4, 50)) v(u, i);
SELECT item_id, nnz(neighbors) FROM item_neighbors((SELECT r FROM good)) ORDER BY item_id;
SELECT f, v AS value, try(format('SELECT count(*) FROM %s(%L::bytea)', f, b)) AS result
FROM unnest(ARRAY['item_neighbors', 'item_buyers', 'item_neighbors_stats']) f,
     (VALUES ('empty', '\x'::bytea), ('one zero byte', '\x00'), ('deadbeef', '\xdeadbeef'),
             ('300 zero bytes', decode(repeat('00', 300), 'hex')), ('300 0xff bytes', decode(repeat('ff', 300), 'hex')),
             ('an svec', svec_send('{1:1,2:2}'))) v(v, b)
ORDER BY f, v;
-- damaged copies of a real result: one byte short, one byte more, two results end to end
SELECT f, d AS damage, try(format('SELECT count(*) FROM %s(%L::bytea)', f, b)) AS result
FROM unnest(ARRAY['item_neighbors', 'item_buyers', 'item_neighbors_stats']) f,
     LATERAL (SELECT 'truncated', substr(r, 1, length(r) - 1) FROM good
              UNION ALL SELECT 'one more byte', r || '\x00'::bytea FROM good
              UNION ALL SELECT 'twice', r || r FROM good) x(d, b)
ORDER BY f, d;
-- every byte of the result set to 0x00, 0x01, 0x7f, 0x80 and 0xff in turn: each copy is
-- either accepted or refused with a clean error (item_neighbors and item_buyers: 22P03)
CREATE TABLE sweep AS
SELECT p, v, f, try(format('SELECT count(*) FROM %s(%L::bytea)', f, set_byte(r, p, v))) AS outcome
FROM good, generate_series(0, length(r) - 1) p, unnest(ARRAY[0, 1, 127, 128, 255]) v,
     unnest(ARRAY['item_neighbors', 'item_buyers', 'item_neighbors_stats']) f;
SELECT f, count(*) > 300 AS tried, count(*) FILTER (WHERE outcome LIKE '22P03: %') > 0 AS some_refused,
       count(*) FILTER (WHERE outcome NOT LIKE 'OK: %' AND outcome NOT LIKE '22%') AS not_a_data_error
FROM sweep GROUP BY f ORDER BY f;
SELECT DISTINCT outcome FROM sweep
WHERE outcome NOT LIKE 'OK: %' AND f IN ('item_neighbors', 'item_buyers') ORDER BY 1;
-- ... and the original still reads fine
SELECT count(*) AS items FROM item_neighbors((SELECT r FROM good));

RESET ALL;
SET client_min_messages = warning;
DROP SCHEMA engine_limits CASCADE;
