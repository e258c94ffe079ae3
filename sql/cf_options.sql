--
-- item_neighbors_agg options: errors, constant-ness, history_cap (with and without
-- purchase times), since, shard_count / shard_index.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA engine_options;
SET search_path = engine_options, public;
SET TimeZone = 'UTC';

\i sql/include/helpers.sql

-- show(result): one line per item, 'neighbour:score' by ascending neighbour id (6 digits)
CREATE FUNCTION show(r bytea) RETURNS TABLE (item_id bigint, neighbors text)
LANGUAGE sql AS $$
  SELECT n.item_id,
         coalesce(string_agg(e.index || ':' || e.value::numeric, ' ' ORDER BY e.index), '')
  FROM public.item_neighbors(r) n
  LEFT JOIN LATERAL public.svec_each(n.neighbors) e ON true
  GROUP BY n.item_id ORDER BY n.item_id $$;

-- same(a, b): do two results hold exactly the same items and neighbour lists?
CREATE FUNCTION same(a bytea, b bytea) RETURNS boolean LANGUAGE sql AS $$
  SELECT NOT EXISTS (
    SELECT FROM public.item_neighbors(a) x FULL JOIN public.item_neighbors(b) y USING (item_id)
    WHERE x.neighbors IS NULL OR y.neighbors IS NULL OR x.neighbors::text <> y.neighbors::text) $$;

CREATE TABLE p (u bigint, i bigint, w real, t timestamptz);
INSERT INTO p VALUES (1, 10, 1, '2024-01-01'), (1, 20, 1, '2024-01-02'), (2, 10, 1, '2024-01-03'),
                     (2, 20, 1, '2024-01-04'), (2, 30, 1, '2024-01-05'), (3, 30, 1, '2024-01-06');

------------------------------------------------------------------------------
-- Option errors (22023 invalid_parameter_value unless said otherwise)
------------------------------------------------------------------------------
SELECT opts, try(format('SELECT item_neighbors_agg(u, i, w, %L) IS NOT NULL FROM engine_options.p', opts)) AS result
FROM (VALUES ('{"neighbours": 5}'), ('{"measure": "pearson"}'), ('{"measure": "Cosine"}'),
             ('{"measure": 1}'), ('{"k": 0}'), ('{"k": 1001}'), ('{"k": -1}'), ('{"k": 2.5}'),
             ('{"k": "5"}'), ('{"k": null}'), ('{"alpha": 0.3}'), ('{"measure": "jaccard", "alpha": 0.3}'),
             ('{"measure": "asymmetric_cosine", "alpha": 1.5}'), ('{"measure": "asymmetric_cosine", "alpha": -0.1}'),
             ('{"weights": "max"}'), ('{"min_support": 0}'), ('{"shrinkage": -1}'), ('{"history_cap": -1}'),
             ('{"shard_count": 0}'), ('{"shard_count": 4097}'), ('{"shard_count": 3, "shard_index": 3}'),
             ('{"shard_index": 1}'), ('{"since": "2024-01-01"}'), ('[]'), ('5'), ('"k"'),
             ('{"k": 1000}'), ('{"k": 1}'), ('{"measure": "asymmetric_cosine", "alpha": 0}'),
             ('{"shard_count": 4096, "shard_index": 4095}'), ('{"history_cap": 0}')) v(opts);
-- "since" needs the time argument; in the time variant it must be a valid timestamp string
SELECT opts, try(format('SELECT item_neighbors_agg(u, i, w, t, %L) IS NOT NULL FROM engine_options.p', opts)) AS result
FROM (VALUES ('{"since": "yesterday-ish"}'), ('{"since": 20240101}'), ('{"since": "2024-01-03"}'),
             ('{"since": "-infinity"}')) v(opts);
-- Numeric options far outside any range (1e400 has 401 digits) and overlong strings:
-- the messages show a bounded value (at most 20 characters and the length); the
-- whole message stays short
SELECT key, val, length(res) < 200 AS bounded, res
FROM (VALUES ('k'), ('min_support'), ('history_cap'), ('shard_count'), ('shard_index'), ('alpha'), ('shrinkage')) k(key),
     (VALUES ('1e400'), ('-1e400'), ('1e-400'), ('1.0000000000000000000000001'), ('123456789012345678901234567890.5'),
             ('20.000')) v(val),
     LATERAL try_detail(format('SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, %L))->%L FROM engine_options.p',
                               format('{"%s": %s%s}', key, val, CASE key WHEN 'alpha' THEN ', "measure": "asymmetric_cosine"' ELSE '' END),
                               key)) res
ORDER BY key, val;
SELECT what, length(res) < 300 AS bounded, res
FROM (VALUES ('measure'), ('weights'), ('key'), ('since')) w(what),
     LATERAL try_detail(format('SELECT item_neighbors_agg(u, i, w, t, %L) IS NOT NULL FROM engine_options.p',
                               CASE what WHEN 'key' THEN jsonb_build_object(repeat('x', 100000), 1)
                                         ELSE jsonb_build_object(what, repeat('x', 100000)) END)) res;
-- NULL options: 22004, whatever the form
SELECT try($$SELECT item_neighbors_agg(u, i, w, NULL) IS NOT NULL FROM engine_options.p$$) AS null_options,
       try($$SELECT item_neighbors_agg(u, i, w, t, NULL) IS NOT NULL FROM engine_options.p$$) AS null_options_time;
-- options must be the same for every row: taken from a column, a per-row
-- expression or a subquery, they are refused (even when every row has the same value)
CREATE TABLE o AS SELECT *, '{"k": 5}'::jsonb AS opts FROM p;
SELECT try($$SELECT item_neighbors_agg(u, i, w, opts) IS NOT NULL FROM engine_options.o$$) AS from_column,
       try($$SELECT item_neighbors_agg(u, i, w, jsonb_build_object('k', u)) IS NOT NULL FROM engine_options.o$$) AS per_row,
       try($$SELECT item_neighbors_agg(u, i, w, (SELECT opts FROM engine_options.o LIMIT 1)) IS NOT NULL FROM engine_options.o$$) AS subquery,
       try($$SELECT item_neighbors_agg(u, i, w, t, opts) IS NOT NULL FROM engine_options.o$$) AS from_column_time;
-- constants folded by the planner are fine: a cast, a concatenation, a PL/pgSQL variable
SELECT try($$SELECT item_neighbors_agg(u, i, w, '{"k": 5}'::text::jsonb) IS NOT NULL FROM engine_options.p$$) AS cast,
       try($$SELECT item_neighbors_agg(u, i, w, '{"k": 5}'::jsonb || '{"measure": "jaccard"}') IS NOT NULL FROM engine_options.p$$) AS concat;
DO $$
DECLARE
  opts jsonb := '{"k": 1, "measure": "jaccard"}';
  r bytea;
BEGIN
  SELECT item_neighbors_agg(u, i, w, opts) INTO r FROM engine_options.p;
  RAISE NOTICE 'k from a PL/pgSQL variable: %', item_neighbors_stats(r)->'k';
END $$;
-- a later key wins in jsonb, as usual
SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, '{"k": 5, "k": 7}'))->'k' AS k FROM p;

------------------------------------------------------------------------------
-- since (time variant only): rows older than "since" are skipped and counted;
-- a row exactly at "since" is kept; a NULL time counts as -infinity
------------------------------------------------------------------------------
-- since 2024-01-03: u1's rows go (2 outside), u2 10 20 30, u3 30
--   10-20 1/sqrt(1*1) = 1   10-30 = 20-30 1/sqrt(1*2) = 0.707107
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, t, '{"since": "2024-01-03"}') FROM p));
SELECT s->'rows' AS rows, s->'rows_outside_window' AS outside, s->'users' AS users
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, t, '{"since": "2024-01-03 00:00:00+00"}')) s FROM p) x;
-- an ISO timestamp with another time zone: 2024-01-02 20:00-05 = 2024-01-03 01:00 UTC, so the
-- row at 2024-01-03 00:00 UTC is outside too
SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, t, '{"since": "2024-01-02T20:00:00-05:00"}'))->'rows_outside_window'
       AS outside FROM p;
-- NULL times: kept without "since", outside with a "since" ...
SELECT s->'rows' AS rows, s->'rows_outside_window' AS outside
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, NULL::timestamptz, '{"since": "1900-01-01"}')) s FROM p) x;
-- ... except "since": "-infinity", which keeps every row
SELECT s->'rows' AS rows, s->'rows_outside_window' AS outside
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, NULL::timestamptz, '{"since": "-infinity"}')) s FROM p) x;
-- everything outside: a result with no items
SELECT s->'rows' AS rows, s->'rows_outside_window' AS outside, s->'items' AS items
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, t, '{"since": "2030-01-01"}')) s FROM p) x;

------------------------------------------------------------------------------
-- history_cap with purchase times: each user keeps the cap most recent distinct items
-- (a repeat purchase counts at its latest time)
--   u1: 10 (Jan 1), 20 (Jan 2), 30 (Jan 3), 10 again (Jan 4)  -> cap 2 keeps 10 and 30
--   u2: 10 20    u3: 20 30
-- kept: 10: u1 u2, 20: u2 u3, 30: u1 u3 -> every pair has 1 co-buyer of 2 x 2: 0.5
-- (keeping the first two purchases instead, 10 and 20, would give 10-20 2/sqrt(2*3) = 0.816497)
------------------------------------------------------------------------------
CREATE TABLE h (u bigint, i bigint, t timestamptz);
INSERT INTO h VALUES (1, 10, '2024-01-01'), (1, 20, '2024-01-02'), (1, 30, '2024-01-03'), (1, 10, '2024-01-04'),
                     (2, 10, '2024-01-01'), (2, 20, '2024-01-01'), (3, 20, '2024-01-01'), (3, 30, '2024-01-01');
SELECT * FROM show((SELECT item_neighbors_agg(u, i, 1, t, '{"history_cap": 2}') FROM h));
SELECT * FROM item_buyers((SELECT item_neighbors_agg(u, i, 1, t, '{"history_cap": 2}') FROM h)) ORDER BY item_id;
SELECT s->'capped_users' AS capped_users, s->'pairs' AS pairs
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1, t, '{"history_cap": 2}')) s FROM h) x;
-- the same as an uncapped build without u1's purchase of 20
SELECT same((SELECT item_neighbors_agg(u, i, 1, t, '{"history_cap": 2}') FROM h),
            (SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 0}') FROM h WHERE (u, i) <> (1, 20)))
       AS equals_most_recent_two;
-- history_cap 0 (no cap) and a cap at least the longest history change nothing
SELECT same((SELECT item_neighbors_agg(u, i, 1, t, '{"history_cap": 0}') FROM h),
            (SELECT item_neighbors_agg(u, i, 1) FROM h)) AS cap_0,
       same((SELECT item_neighbors_agg(u, i, 1, t, '{"history_cap": 3}') FROM h),
            (SELECT item_neighbors_agg(u, i, 1) FROM h)) AS cap_3;
-- "since" applies before the cap: since Jan 3 leaves u1 with 30 (Jan 3) and 10 (Jan 4), which
-- fit in a cap of 2, and nobody else
SELECT s->'rows' AS rows, s->'rows_outside_window' AS outside, s->'capped_users' AS capped_users, s->'pairs' AS pairs
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1, t, '{"history_cap": 2, "since": "2024-01-03"}')) s FROM h) x;
SELECT * FROM show((SELECT item_neighbors_agg(u, i, 1, t, '{"history_cap": 2, "since": "2024-01-03"}') FROM h));

------------------------------------------------------------------------------
-- history_cap without times: a deterministic sample of each long history.
-- u1 buys the 10 items 1..10; u2..u6 buy two of them each (never capped)
------------------------------------------------------------------------------
CREATE TABLE c (u bigint, i bigint);
INSERT INTO c SELECT 1, i FROM generate_series(1, 10) i;
INSERT INTO c VALUES (2, 1), (2, 2), (3, 3), (3, 4), (4, 5), (4, 6), (5, 7), (5, 8), (6, 9), (6, 10);
-- u1 keeps exactly 4 of its 10 items: the buyers of all items add up to 4 + 10
SELECT s->'capped_users' AS capped_users, s->'pairs' AS pairs, s->'rows' AS rows
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1, '{"history_cap": 4}')) s FROM c) x;
SELECT sum(buyers) AS buyers, count(*) FILTER (WHERE buyers = 2) AS kept_by_u1
FROM item_buyers((SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 4}') FROM c));
-- the result is the uncapped result over the kept rows (kept: the items with 2 buyers)
WITH kept AS (SELECT item_id FROM item_buyers((SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 4}') FROM c))
              WHERE buyers = 2)
SELECT same((SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 4}') FROM c),
            (SELECT item_neighbors_agg(u, i, 1) FROM c WHERE u <> 1 OR i IN (SELECT item_id FROM kept)))
       AS equals_uncapped_over_sample;
-- the sample does not depend on the row order, nor on repeat purchases
SELECT same((SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 4}') FROM c),
            (SELECT item_neighbors_agg(u, i, 1, '{"history_cap": 4}')
             FROM (SELECT * FROM c UNION ALL SELECT * FROM c ORDER BY i DESC, u DESC) x)) AS order_independent;
-- the default cap is 500: a user with 600 items is capped, one with 500 is not
SELECT item_neighbors_stats(item_neighbors_agg(u, i, 1))->'capped_users' AS capped_users,
       item_neighbors_stats(item_neighbors_agg(u, i, 1))->'pairs' AS pairs
FROM (SELECT 1 AS u, i FROM generate_series(1, 600) i UNION ALL SELECT 2, i FROM generate_series(1, 500) i) x;

------------------------------------------------------------------------------
-- Shards: items with id mod shard_count = shard_index (negative ids too); the
-- union of all shards is exactly the unsharded result
------------------------------------------------------------------------------
CREATE TABLE d AS
  SELECT u, ((u * 37 + j * j * 11) % 61) - 20 AS i, 1 + (u + j) % 3 AS w
  FROM generate_series(1, 120) u, generate_series(1, 6) j;
SELECT count(*) AS rows, count(DISTINCT i) AS items, min(i), max(i) FROM d;
DO $$
DECLARE
  opts jsonb;
  shard_opts jsonb;
  full_result bytea;
  part bytea;
  n integer;
  s integer;
  mismatches bigint;
  misplaced bigint;
BEGIN
  FOREACH opts IN ARRAY ARRAY['{}', '{"measure": "jaccard", "k": 3}', '{"weights": "sum", "k": 5, "min_support": 2}',
                              '{"measure": "asymmetric_cosine", "alpha": 0.2, "shrinkage": 3}']::jsonb[] LOOP
    SELECT item_neighbors_agg(u, i, w, opts) INTO full_result FROM engine_options.d;
    CREATE TEMP TABLE parts (item_id bigint, neighbors svec, shard integer);
    FOREACH n IN ARRAY ARRAY[2, 3, 7] LOOP
      TRUNCATE parts;
      FOR s IN 0 .. n - 1 LOOP
        shard_opts := opts || jsonb_build_object('shard_count', n, 'shard_index', s);
        SELECT item_neighbors_agg(u, i, w, shard_opts) INTO part FROM engine_options.d;
        INSERT INTO parts SELECT x.item_id, x.neighbors, s FROM item_neighbors(part) x;
        IF (SELECT count(*) FROM item_buyers(part)) <> (SELECT count(DISTINCT i) FROM engine_options.d) THEN
          RAISE EXCEPTION 'shard % of %: item_buyers does not list every item', s, n;
        END IF;
      END LOOP;
      SELECT count(*) INTO mismatches
        FROM item_neighbors(full_result) x FULL JOIN parts y USING (item_id)
        WHERE x.neighbors IS NULL OR y.neighbors IS NULL OR x.neighbors::text <> y.neighbors::text;
      SELECT count(*) INTO misplaced FROM parts WHERE (item_id % n + n) % n <> shard;
      RAISE NOTICE '% shard_count %: % mismatches with the unsharded result, % items in the wrong shard',
        opts, n, mismatches, misplaced;
    END LOOP;
    DROP TABLE parts;
  END LOOP;
END $$;
-- the stats of a shard
SELECT s->'shard_count' AS shard_count, s->'shard_index' AS shard_index, s->'items' AS items, s->'items_out' AS items_out
FROM (SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, '{"shard_count": 3, "shard_index": 1}')) s FROM d) x;
-- ids -20 .. 40 with id mod 3 = 1: -20 -17 ... -2 1 4 ... 40: 7 negative + 14 non-negative
SELECT count(*) AS items, min(item_id), max(item_id)
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"shard_count": 3, "shard_index": 1}') FROM d));

-- The option table as SQL sees it: item_neighbors_options() lists it, _itemcf_options()
-- validates with the aggregate's own parser and fills in the defaults
SELECT * FROM item_neighbors_options();
SELECT _itemcf_options('{}') AS defaults;
SELECT _itemcf_options('{"measure": "asymmetric_cosine", "alpha": 0.25, "k": 7, "since": "2024-01-01"}') AS given_kept;
-- seeded random option objects, good and bad: _itemcf_options() and the aggregate agree on
-- every one (the same error, or both accept), and what it fills in builds the same result
DO $$
DECLARE
  keys text[] := ARRAY['measure', 'alpha', 'weights', 'k', 'min_support', 'shrinkage', 'history_cap',
                       'shard_count', 'shard_index', 'neighbours'];
  vals jsonb[] := ARRAY['"cosine"', '"jaccard"', '"asymmetric_cosine"', '"conditional_probability"', '"max"',
                        '0', '1', '2', '0.5', '-1', '1001', '3.5', 'null', '"5"', '1e10', '0.999']::jsonb[];
  -- values each key accepts, taken two times in three so that many objects are valid
  good jsonb := '{"measure": ["cosine", "jaccard", "conditional_probability"], "alpha": [0, 0.3, 1],
                  "weights": ["binary", "sum"], "k": [1, 3, 1000], "min_support": [1, 2], "shrinkage": [0, 2.5],
                  "history_cap": [0, 2, 500], "shard_count": [1], "shard_index": [0], "neighbours": [1]}';
  key text;
  opts jsonb; via_sql text; via_agg text; filled jsonb; a bytea; b bytea;
  agree integer := 0; accepted integer := 0;
BEGIN
  PERFORM setseed(0.42);
  FOR t IN 1 .. 400 LOOP
    opts := '{}';
    FOR j IN 1 .. 1 + floor(random() * 3)::int LOOP
      key := keys[1 + floor(random() * array_length(keys, 1))::int];
      opts := opts || jsonb_build_object(key, CASE WHEN random() < 0.67
        THEN good->key->(floor(random() * jsonb_array_length(good->key))::int)
        ELSE vals[1 + floor(random() * array_length(vals, 1))::int] END);
    END LOOP;
    BEGIN filled := _itemcf_options(opts); via_sql := 'ok';
    EXCEPTION WHEN OTHERS THEN via_sql := SQLSTATE || ': ' || SQLERRM; filled := NULL; END;
    BEGIN a := item_neighbors_agg(u, i, w, opts) FROM engine_options.p; via_agg := 'ok';
    EXCEPTION WHEN OTHERS THEN via_agg := SQLSTATE || ': ' || SQLERRM; END;
    IF via_sql IS DISTINCT FROM via_agg THEN
      RAISE EXCEPTION '% : _itemcf_options says %, the aggregate %', opts, via_sql, via_agg;
    END IF;
    IF filled IS NOT NULL THEN
      b := item_neighbors_agg(u, i, w, filled) FROM engine_options.p;
      IF (SELECT array_agg(x.neighbors::text ORDER BY x.item_id) FROM item_neighbors(a) x)
         IS DISTINCT FROM (SELECT array_agg(x.neighbors::text ORDER BY x.item_id) FROM item_neighbors(b) x) THEN
        RAISE EXCEPTION '% filled as % builds another result', opts, filled;
      END IF;
      accepted := accepted + 1;
    END IF;
    agree := agree + 1;
  END LOOP;
  RAISE NOTICE '% option objects: _itemcf_options and the aggregate agree on all, % accepted (same result when filled)', agree, accepted;
END $$;
-- a model row the engine would refuse cannot be stored, even by the table's owner
SELECT try($$INSERT INTO itemcf_models (name, source, user_column, item_column, owner, measure, weights, k, min_support, shrinkage, history_cap)
            VALUES ('eo_bad', 'engine_options.p', 'u', 'i', current_user::regrole, 'cosine', 'binary', 0, 1, 0, 500)$$) AS k_zero,
       try($$INSERT INTO itemcf_models (name, source, user_column, item_column, owner, measure, weights, k, min_support, shrinkage, history_cap, alpha)
            VALUES ('eo_bad', 'engine_options.p', 'u', 'i', current_user::regrole, 'jaccard', 'binary', 5, 1, 0, 500, 0.5)$$) AS alpha_jaccard;

SET client_min_messages = warning;
DROP SCHEMA engine_options CASCADE;
