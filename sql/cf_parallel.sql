--
-- item_neighbors_agg in parallel query: a Partial Aggregate under Gather, partial states
-- combined (partials >= 2), and exactly the serial result; and the same result on 1 or
-- 2 kernel threads (itemcf.threads).
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA engine_parallel;
SET search_path = engine_parallel, public;
SET TimeZone = 'UTC';

-- same(a, b): the same items with exactly the same neighbour lists (svec equality is
-- exact, value by value), the same buyers, and the same deterministic counters
CREATE FUNCTION same(a bytea, b bytea) RETURNS boolean LANGUAGE sql AS $$
  SELECT a IS NOT NULL AND b IS NOT NULL
     AND NOT EXISTS (
       SELECT FROM public.item_neighbors(a) x FULL JOIN public.item_neighbors(b) y USING (item_id)
       WHERE x.neighbors IS NULL OR y.neighbors IS NULL OR NOT x.neighbors OPERATOR(public.=) y.neighbors)
     AND NOT EXISTS (
       SELECT FROM public.item_buyers(a) x FULL JOIN public.item_buyers(b) y USING (item_id)
       WHERE x.buyers IS DISTINCT FROM y.buyers)
     AND (SELECT jsonb_object_agg(key, value) FROM jsonb_each(public.item_neighbors_stats(a))
          WHERE key IN ('rows', 'rows_null_id', 'rows_bad_weight', 'rows_outside_window', 'users', 'items',
                        'items_out', 'pairs', 'entries', 'capped_users', 'k'))
       = (SELECT jsonb_object_agg(key, value) FROM jsonb_each(public.item_neighbors_stats(b))
          WHERE key IN ('rows', 'rows_null_id', 'rows_bad_weight', 'rows_outside_window', 'users', 'items',
                        'items_out', 'pairs', 'entries', 'capped_users', 'k')) $$;

-- 50,000 rows: 2,500 users with 20 rows each, items 1..2000 skewed towards small ids
-- (repeat purchases happen), some NULL users, some zero weights, times over 500 hours;
-- fillfactor 20: five times the pages, so that the parallel scan lasts long enough for
-- both workers to get pages
CREATE TABLE big WITH (fillfactor = 20) AS
  SELECT CASE WHEN (u * 20 + j) % 997 = 0 THEN NULL ELSE u END::bigint AS u,
         (floor(2000 * power(((u * 7919 + j * 104729) % 10007) / 10007.0, 3)) + 1)::bigint AS i,
         CASE WHEN (u + j) % 501 = 0 THEN 0 ELSE 1 + (u * j) % 5 END::real AS w,
         timestamptz '2024-01-01' + ((u * 31 + j * 17) % 500) * interval '1 hour' AS t
  FROM generate_series(1, 2500) u, generate_series(1, 20) j;
ANALYZE big;
SELECT count(*) AS rows, count(*) FILTER (WHERE u IS NULL) AS null_users, count(*) FILTER (WHERE w = 0) AS zero_weights,
       count(DISTINCT i) AS items, count(*) - count(DISTINCT (u, i)) AS repeats
FROM big;

-- the options tried, serial results first (one kernel thread)
CREATE TABLE cases (name text PRIMARY KEY, query text);
INSERT INTO cases VALUES
  ('cosine',         $$SELECT item_neighbors_agg(u, i, w) FROM engine_parallel.big$$),
  ('jaccard k 5',    $$SELECT item_neighbors_agg(u, i, w, '{"measure": "jaccard", "k": 5}') FROM engine_parallel.big$$),
  ('sum',            $$SELECT item_neighbors_agg(u, i, w, '{"weights": "sum", "k": 20}') FROM engine_parallel.big$$),
  ('asymmetric',     $$SELECT item_neighbors_agg(u, i, w, '{"measure": "asymmetric_cosine", "alpha": 0.3, "shrinkage": 2, "min_support": 2}') FROM engine_parallel.big$$),
  ('time, cap 10',   $$SELECT item_neighbors_agg(u, i, w, t, '{"history_cap": 10, "since": "2024-01-05"}') FROM engine_parallel.big$$),
  ('hash cap 7',     $$SELECT item_neighbors_agg(u, i, w, '{"history_cap": 7, "k": 10}') FROM engine_parallel.big$$),
  ('shard 2 of 3',   $$SELECT item_neighbors_agg(u, i, w, '{"shard_count": 3, "shard_index": 2}') FROM engine_parallel.big$$);

CREATE TABLE serial (name text PRIMARY KEY, r bytea);
CREATE TABLE threaded (name text PRIMARY KEY, r bytea);
CREATE TABLE parallel (name text PRIMARY KEY, r bytea, attempts integer);

SET max_parallel_workers_per_gather = 0;
SET itemcf.threads = 1;
DO $$
DECLARE
  c record;
  r bytea;
BEGIN
  FOR c IN SELECT * FROM engine_parallel.cases LOOP
    EXECUTE c.query INTO r;
    INSERT INTO engine_parallel.serial VALUES (c.name, r);
  END LOOP;
END $$;
-- a serial build combines nothing
SELECT name, item_neighbors_stats(r)->'partials' AS partials, item_neighbors_stats(r)->'threads' AS threads
FROM serial ORDER BY name;
SELECT name, item_neighbors_stats(r)->'rows' AS rows, item_neighbors_stats(r)->'rows_null_id' AS null_id,
       item_neighbors_stats(r)->'rows_bad_weight' AS bad_weight, item_neighbors_stats(r)->'rows_outside_window' AS outside,
       item_neighbors_stats(r)->'capped_users' AS capped_users
FROM serial ORDER BY name;

-- the same, serial, on two kernel threads
SET itemcf.threads = 2;
DO $$
DECLARE
  c record;
  r bytea;
BEGIN
  FOR c IN SELECT * FROM engine_parallel.cases LOOP
    EXECUTE c.query INTO r;
    INSERT INTO engine_parallel.threaded VALUES (c.name, r);
  END LOOP;
END $$;
SELECT s.name, item_neighbors_stats(t.r)->'threads' AS threads, same(s.r, t.r) AS same_as_one_thread
FROM serial s JOIN threaded t USING (name) ORDER BY name;

-- parallel query: two workers, the leader only gathers
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT item_neighbors_agg(u, i, w) FROM big;
EXPLAIN (COSTS OFF) SELECT item_neighbors_agg(u, i, w, t, '{"history_cap": 10}') FROM big;

-- CREATE TABLE AS runs its query in parallel (PL/pgSQL's SELECT INTO would not).  A
-- worker that starts late may find no page left to scan, so a build is retried (up to 10
-- times) until both workers contributed a partial state.
CREATE TABLE one (r bytea);
DO $$
DECLARE
  c record;
  r bytea;
  attempt integer;
BEGIN
  FOR c IN SELECT * FROM engine_parallel.cases LOOP
    FOR attempt IN 1 .. 10 LOOP
      DROP TABLE engine_parallel.one;
      EXECUTE format('CREATE TABLE engine_parallel.one (r) AS %s', c.query);
      SELECT one.r INTO r FROM engine_parallel.one;
      EXIT WHEN (item_neighbors_stats(r)->>'partials')::integer >= 2;
    END LOOP;
    INSERT INTO engine_parallel.parallel VALUES (c.name, r, attempt);
  END LOOP;
  DROP TABLE engine_parallel.one;
END $$;
SELECT p.name, (item_neighbors_stats(p.r)->>'partials')::integer >= 2 AS combined_partials,
       same(s.r, p.r) AS same_as_serial, same(t.r, p.r) AS same_as_two_threads
FROM serial s JOIN parallel p USING (name) JOIN threaded t USING (name) ORDER BY name;
-- ... the neighbour lists of every item are equal, svec by svec
SELECT count(*) AS items, count(*) FILTER (WHERE NOT x.neighbors OPERATOR(public.=) y.neighbors) AS different
FROM item_neighbors((SELECT r FROM serial WHERE name = 'cosine')) x
JOIN item_neighbors((SELECT r FROM parallel WHERE name = 'cosine')) y USING (item_id);

-- the same rows in another physical order give the same result
RESET parallel_leader_participation;
CREATE TABLE shuffled AS SELECT * FROM big ORDER BY md5(i::text || u::text);
SELECT same((SELECT item_neighbors_agg(u, i, w, t, '{"history_cap": 10, "since": "2024-01-05"}') FROM shuffled),
            (SELECT r FROM serial WHERE name = 'time, cap 10')) AS shuffled_same;

RESET ALL;
SET client_min_messages = warning;
DROP SCHEMA engine_parallel CASCADE;
