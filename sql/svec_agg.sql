--
-- svec_agg(bigint, real): build an svec from (index, value) rows
--
\set VERBOSITY default
\set SHOW_CONTEXT never

\i sql/include/helpers.sql

------------------------------------------------------------------------------
-- Basic results
------------------------------------------------------------------------------
-- duplicate indices are summed: 1 -> 1 + 3 = 4, 2 -> 2; output sorted by index
SELECT svec_agg(i, v) FROM (VALUES (1, 1::real), (2, 2), (1, 3)) t(i, v);
SELECT svec_agg(i, v) FROM (VALUES (30, 1::real), (-5, 2), (10, 3)) t(i, v);
-- extreme indices
SELECT svec_agg(i, v) FROM (VALUES (9223372036854775807, 1::real), (-9223372036854775808, 2)) t(i, v);
-- rows with a NULL index or a NULL value are skipped
SELECT svec_agg(i, v) FROM (VALUES (1, 1::real), (NULL, 5), (2, NULL), (1, 1)) t(i, v);
-- no rows, or only NULL rows: NULL
SELECT svec_agg(i, v) IS NULL AS no_rows FROM (VALUES (1, 1::real)) t(i, v) WHERE false;
SELECT svec_agg(i, v) IS NULL AS only_nulls FROM (VALUES (NULL::bigint, 1::real), (1, NULL)) t(i, v);
SELECT try_detail($$SELECT svec_agg(NULL, 'NaN')$$) AS null_index_nan_skipped;
-- everything cancels, or zero values: {} (not NULL)
SELECT svec_agg(i, v) FROM (VALUES (1, 1::real), (2, -2), (1, -1), (2, 2)) t(i, v);
SELECT svec_agg(i, v) FROM (VALUES (1, 0::real), (2, '-0')) t(i, v);
SELECT svec_agg(i, v) FROM (VALUES (NULL::bigint, 1::real), (1, 0)) t(i, v);
-- partial cancellation
SELECT svec_agg(i, v) FROM (VALUES (1, 1::real), (2, 5), (1, -1), (3, 0.5)) t(i, v);
-- sums are taken in double precision and rounded to real once:
-- 16777216 + 1 + 1 = 16777218 (in real arithmetic each + 1 would round back to 16777216)
SELECT svec_agg(i, v) FROM (VALUES (1, 16777216::real), (1, 1), (1, 1)) t(i, v);
-- 3e38 + 3e38 - 3e38 = 3e38: no overflow in the intermediate sum
SELECT svec_agg(1, v) FROM (VALUES (3e38::real), (3e38), (-3e38)) t(v);
-- argument types are bigint and real; smaller types are cast
SELECT pg_typeof(svec_agg(1, 1)), svec_agg(1::int, 1::int), svec_agg(2::smallint, 2.5::numeric);
-- input order does not matter; ORDER BY, FILTER and DISTINCT work as for any aggregate
SELECT svec_agg(i, v) AS plain, svec_agg(i, v ORDER BY i DESC) AS ordered,
       svec_agg(i, v) FILTER (WHERE i > 1) AS filtered, svec_agg(DISTINCT i, v) AS distinct_rows
FROM (VALUES (1, 1::real), (1, 1), (2, 2), (3, 0.5)) t(i, v);

-- errors: NaN 22023, infinity 22003, overflow of a sum 22003
SELECT try_detail($$SELECT svec_agg(i, 'NaN') FROM generate_series(1, 3) i$$) AS nan,
       try_detail($$SELECT svec_agg(5, 'Infinity')$$) AS inf,
       try_detail($$SELECT svec_agg(i, '-Infinity') FROM (VALUES (1)) t(i)$$) AS minus_inf;
SELECT try_detail($$SELECT svec_agg(1, v) FROM (VALUES (3e38::real), (3e38)) t(v)$$) AS overflow,
       try_detail($$SELECT svec_agg(1, v) FROM (VALUES (-3e38::real), (-3e38)) t(v)$$) AS negative_overflow;

------------------------------------------------------------------------------
-- Many rows: the state grows and is compacted; results match a GROUP BY sum
------------------------------------------------------------------------------
-- 10000 rows over 1000 indices, each index 10 times in scattered order: every value is 10
SELECT nnz(v), svec_indices(v) = ARRAY(SELECT generate_series(0, 999)::bigint) AS indices_ok,
       svec_values(v) = array_fill(10::real, ARRAY[1000]) AS values_ok
FROM (SELECT svec_agg((i * 7919) % 1000, 1) AS v FROM generate_series(1, 10000) i) s;
-- 100000 distinct indices
SELECT nnz(v), l2_norm(v) = sqrt(100000 * 2.25::float8) AS norm_ok
FROM (SELECT svec_agg(i, 1.5) AS v FROM generate_series(1, 100000) i) s;
-- against SQL: sum in double, round to real, drop zeros
WITH d AS (SELECT (k * 31) % 997 AS i, (((k % 9) - 4) * 0.125)::real AS v FROM generate_series(1, 30000) k)
SELECT (SELECT svec_agg(i, v) FROM d)
       = (SELECT svec(array_agg(i), array_agg(s))
          FROM (SELECT i, sum(v::float8)::real AS s FROM d GROUP BY i HAVING sum(v::float8) <> 0) x) AS matches;

------------------------------------------------------------------------------
-- GROUP BY
------------------------------------------------------------------------------
CREATE TEMP TABLE ratings (user_id int, item bigint, rating real);
INSERT INTO ratings VALUES
  (1, 10, 5), (1, 20, 3), (1, 10, -1),
  (2, 30, 4),
  (3, 10, 2), (3, 10, -2),
  (4, NULL, 1), (4, 5, NULL),
  (5, 7, 1.5), (5, 3, 2.5), (5, 7, 1.5);
SELECT user_id, svec_agg(item, rating) FROM ratings GROUP BY user_id ORDER BY user_id;
SET enable_hashagg = off;
SELECT user_id, svec_agg(item, rating) FROM ratings GROUP BY user_id ORDER BY user_id;
RESET enable_hashagg;
-- the same aggregate twice shares its state: both results are complete
SELECT user_id, svec_agg(item, rating) AS a, svec_agg(item, rating) AS b,
       nnz(svec_agg(item, rating)) AS n
FROM ratings GROUP BY user_id ORDER BY user_id;
-- as a window function, running and with a moving frame
SELECT user_id, item, rating, svec_agg(item, rating) OVER (ORDER BY user_id, item, rating) AS running,
       svec_agg(item, rating) OVER (ORDER BY user_id, item, rating ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS pairwise
FROM ratings ORDER BY user_id, item, rating;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE w = (SELECT svec_agg(j % 97, 1) FROM generate_series(1, o) j)) AS matching
FROM (SELECT o, svec_agg(o % 97, 1) OVER (ORDER BY o) AS w FROM generate_series(1, 300) o) s;

------------------------------------------------------------------------------
-- Parallel aggregation (combine, serialize, deserialize): same result as serial
------------------------------------------------------------------------------
-- 200000 rows, 5000 distinct indices (spread over bigint), 50 groups; values are
-- multiples of 0.25 so every sum is exact whatever the order of addition
CREATE TABLE svec_agg_par AS
SELECT g % 50 AS grp, ((g::bigint * 7919) % 5000) * 1000003 AS idx, (((g % 13) - 6) * 0.25)::real AS val
FROM generate_series(1, 200000) g;
INSERT INTO svec_agg_par VALUES (0, NULL, 1), (1, 1, NULL);
ANALYZE svec_agg_par;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT svec_agg(idx, val) FROM svec_agg_par;
CREATE TEMP TABLE par_all AS SELECT svec_agg(idx, val) AS v FROM svec_agg_par;
-- grouped: check the plan is parallel without depending on its exact shape
CREATE FUNCTION plan_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line || E'\n'; END LOOP;
  RETURN plan;
END $$;
SELECT plan_text('SELECT grp, svec_agg(idx, val) FROM svec_agg_par GROUP BY grp') ~ 'Partial' AS partial,
       plan_text('SELECT grp, svec_agg(idx, val) FROM svec_agg_par GROUP BY grp') ~ 'Gather' AS gather;
CREATE TEMP TABLE par_grp AS SELECT grp, svec_agg(idx, val) AS v FROM svec_agg_par GROUP BY grp;

SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT svec_agg(idx, val) FROM svec_agg_par;
CREATE TEMP TABLE ser_all AS SELECT svec_agg(idx, val) AS v FROM svec_agg_par;
CREATE TEMP TABLE ser_grp AS SELECT grp, svec_agg(idx, val) AS v FROM svec_agg_par GROUP BY grp;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

SELECT p.v = s.v AS parallel_equals_serial, p.v::text = s.v::text AS same_text, nnz(p.v),
       nnz(p.v) = (SELECT count(*) FROM (SELECT idx FROM svec_agg_par WHERE idx IS NOT NULL AND val IS NOT NULL
                                         GROUP BY idx HAVING sum(val) <> 0) x) AS nnz_ok
FROM par_all p, ser_all s;
SELECT count(*) AS groups, count(*) FILTER (WHERE p.v = s.v) AS equal
FROM par_grp p JOIN ser_grp s USING (grp);
-- and both equal the SQL computation
SELECT s.v = (SELECT svec(array_agg(idx), array_agg(t))
              FROM (SELECT idx, sum(val::float8)::real AS t FROM svec_agg_par
                    WHERE idx IS NOT NULL AND val IS NOT NULL
                    GROUP BY idx HAVING sum(val::float8) <> 0) x) AS serial_matches_sql
FROM ser_all s;

DROP TABLE svec_agg_par;
DROP FUNCTION plan_text(text);
DROP FUNCTION try(text), try_detail(text);
