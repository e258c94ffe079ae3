--
-- item_neighbors_agg: every measure and option on small hand-computed fixtures,
-- item_neighbors / item_buyers / item_neighbors_stats, skipped rows, empty input.
--
-- Scores are float4 and are shown with 6 significant digits (real -> numeric), so
-- that a last-bit difference does not change the expected output; the exact
-- comparisons with brute-force SQL are in cf_bruteforce.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA engine_basic;
SET search_path = engine_basic, public;

-- show(result): one line per item, 'neighbour:score' by ascending neighbour id
CREATE FUNCTION show(r bytea) RETURNS TABLE (item_id bigint, neighbors text)
LANGUAGE sql AS $$
  SELECT n.item_id,
         coalesce(string_agg(e.index || ':' || e.value::numeric, ' ' ORDER BY e.index), '')
  FROM public.item_neighbors(r) n
  LEFT JOIN LATERAL public.svec_each(n.neighbors) e ON true
  GROUP BY n.item_id ORDER BY n.item_id $$;

-- stats(result): the deterministic counters of item_neighbors_stats
CREATE FUNCTION stats(r bytea) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_object_agg(key, value) FROM jsonb_each(public.item_neighbors_stats(r))
  WHERE key IN ('rows', 'rows_null_id', 'rows_bad_weight', 'rows_outside_window', 'users',
                'items', 'items_out', 'pairs', 'entries', 'k', 'partials', 'capped_users',
                'shard_count', 'shard_index') $$;

------------------------------------------------------------------------------
-- Fixture A (5 users, 5 items):
--   u1: 10 20 30     u2: 10 20     u3: 20 40     u4: 30 40     u5: 50
-- buyers n: 10:2  20:3  30:2  40:2  50:1
-- co-buyers c: (10,20)=2 (10,30)=1 (20,30)=1 (20,40)=1 (30,40)=1, no other pair
-- The rows come in descending id order: the result must not depend on it.
------------------------------------------------------------------------------
CREATE TABLE a (u bigint, i bigint, w real);
INSERT INTO a VALUES (5, 50, 1), (4, 40, 1), (4, 30, 1), (3, 40, 1), (3, 20, 1),
                     (2, 20, 1), (2, 10, 1), (1, 30, 1), (1, 20, 1), (1, 10, 1);

-- cosine (the default) c / sqrt(ni nj):
--   10-20 2/sqrt(6) = 0.816497   10-30 1/sqrt(4) = 0.5   20-30 = 20-40 = 1/sqrt(6) = 0.408248
--   30-40 1/sqrt(4) = 0.5; item 50 has no co-buyer: an empty svec
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w) FROM a));
-- the 3-argument form is the 4-argument form with '{}' and with the default options spelled out
SELECT (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w) FROM a)) s)
     = (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w, '{}') FROM a)) s)
       AS same_as_empty_options,
       (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w) FROM a)) s)
     = (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w,
           '{"measure": "cosine", "weights": "binary", "k": 50, "min_support": 1, "shrinkage": 0,
             "history_cap": 500, "shard_count": 1, "shard_index": 0}') FROM a)) s)
       AS same_as_explicit_defaults;

-- jaccard c / (ni + nj - c):
--   10-20 2/(2+3-2) = 2/3   10-30 1/(2+2-1) = 1/3   20-30 = 20-40 = 1/(3+2-1) = 1/4   30-40 = 1/3
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "jaccard"}') FROM a));

-- conditional_probability P(j | i) = c / ni (asymmetric):
--   10: 20 2/2 = 1, 30 1/2        20: 10 2/3, 30 1/3, 40 1/3
--   30: 10 1/2, 20 1/2, 40 1/2    40: 20 1/2, 30 1/2
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "conditional_probability"}') FROM a));
-- ... which is asymmetric_cosine with alpha 1
SELECT (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "conditional_probability"}') FROM a)) s)
     = (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "asymmetric_cosine", "alpha": 1}') FROM a)) s)
       AS conditional_probability_is_alpha_1;

-- asymmetric_cosine c / (ni^alpha nj^(1-alpha)), alpha = 0.25:
--   10->20 2/(2^.25 3^.75) = 0.737788   10->30 1/(2^.25 2^.75) = 0.5
--   20->10 2/(3^.25 2^.75) = 0.903602   20->30 = 20->40 1/(3^.25 2^.75) = 0.451801
--   30->10 = 30->40 0.5                 30->20 1/(2^.25 3^.75) = 0.368894
--   40->20 0.368894                     40->30 0.5
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "asymmetric_cosine", "alpha": 0.25}') FROM a));
-- the same numbers from the formula in SQL (6 significant digits)
SELECT round(2 / (2 ^ 0.25 * 3 ^ 0.75)::numeric, 6) AS "10->20", round(2 / (3 ^ 0.25 * 2 ^ 0.75)::numeric, 6) AS "20->10",
       round(1 / (3 ^ 0.25 * 2 ^ 0.75)::numeric, 6) AS "20->30", round(1 / (2 ^ 0.25 * 3 ^ 0.75)::numeric, 6) AS "30->20";
-- asymmetric_cosine with alpha 0.5 is the cosine; the default alpha is 0.5
SELECT (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "asymmetric_cosine", "alpha": 0.5}') FROM a)) s)
     = (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w) FROM a)) s) AS alpha_half_is_cosine,
       (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "asymmetric_cosine"}') FROM a)) s)
     = (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w) FROM a)) s) AS default_alpha_is_half;

-- shrinkage 1: cosine * c / (c + 1)
--   10-20 0.816497 * 2/3 = 0.544331   10-30 = 30-40 0.5 * 1/2 = 0.25   20-30 = 20-40 0.408248 / 2 = 0.204124
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"shrinkage": 1}') FROM a));
-- shrinkage applies to every measure: jaccard 10-20 2/3 * 2/(2+2) = 1/3, 10-30 1/3 * 1/(1+2) = 1/9
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"measure": "jaccard", "shrinkage": 2}') FROM a)) WHERE item_id = 10;

-- min_support 2: only (10,20) has 2 co-buyers; every item is still listed
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"min_support": 2}') FROM a));
-- min_support 3: nothing left
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"min_support": 3}') FROM a));

-- buyers of every item
SELECT * FROM item_buyers((SELECT item_neighbors_agg(u, i, w) FROM a)) ORDER BY item_id;
SELECT stats(item_neighbors_agg(u, i, w)) FROM a;

-- item_neighbors yields (item_id bigint, neighbors svec)
SELECT item_id, pg_typeof(item_id), neighbors, pg_typeof(neighbors)
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"measure": "conditional_probability"}') FROM a))
ORDER BY item_id LIMIT 1;

------------------------------------------------------------------------------
-- Repeat purchases: binary (each counts once, the weight is ignored) vs sum
-- A plus: u1 buys 10 again with weight 2; u2 buys 20 again with weight 2
------------------------------------------------------------------------------
CREATE TABLE r AS SELECT * FROM a;
INSERT INTO r VALUES (1, 10, 2), (2, 20, 2);
-- binary: exactly the result of A
SELECT (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w) FROM r)) s)
     = (SELECT array_agg(s ORDER BY s.item_id) FROM show((SELECT item_neighbors_agg(u, i, w) FROM a)) s)
       AS binary_ignores_repeats_and_weights;
-- sum: vectors over users  10: u1 1+2=3, u2 1  |10| = sqrt(10)
--                          20: u1 1, u2 1+2=3, u3 1  |20| = sqrt(11)
--                          30: u1 1, u4 1  |30| = sqrt(2);  40: u3 1, u4 1  |40| = sqrt(2)
--   10-20 (3*1 + 1*3)/sqrt(110) = 6/sqrt(110) = 0.572078   10-30 3/sqrt(20) = 0.670820
--   20-30 = 20-40 1/sqrt(22) = 0.213201                     30-40 1/2 = 0.5
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w, '{"weights": "sum"}') FROM r));
-- summed weights in SQL with svec_agg + cosine_similarity give the same (6 digits)
WITH v AS (SELECT i, svec_agg(u, w) AS vec FROM r GROUP BY i)
SELECT x.i, y.i AS j, cosine_similarity(x.vec, y.vec)::real::numeric AS cosine
FROM v x JOIN v y ON x.i < y.i
WHERE cosine_similarity(x.vec, y.vec) > 0 ORDER BY 1, 2;
-- in binary mode repeat purchases and weights do not change the stats' pairs
SELECT stats(item_neighbors_agg(u, i, w))->'rows' AS rows, stats(item_neighbors_agg(u, i, w))->'pairs' AS pairs,
       stats(item_neighbors_agg(u, i, w, '{"weights": "sum"}'))->'pairs' AS pairs_sum
FROM r;

------------------------------------------------------------------------------
-- k smaller than the candidates, with ties: the smaller neighbour id wins,
-- whatever the items' popularity or the row order
-- item 100: u1 u2 u3 u4 (n = 4)
--   -3 and 7: bought by u1 only (n = 1, c = 1): 1/sqrt(4*1) = 0.5
--   8: u2 u3 u7 u8; 9: u3 u4 u5 u6 (n = 4, c = 2): 2/sqrt(4*4) = 0.5
--   6: u4 u9 u10 u11 (n = 4, c = 1): 1/sqrt(16) = 0.25
-- so 100 has four neighbours tied at 0.5 (-3, 7, 8, 9) and 6 at 0.25; -3 and 7
-- are the least popular of them (they rank last in the kernel's popularity order)
------------------------------------------------------------------------------
CREATE TABLE t (u bigint, i bigint);
INSERT INTO t VALUES (11, 6), (10, 6), (9, 6), (8, 8), (7, 8), (6, 9), (5, 9), (4, 100), (4, 9), (4, 6),
                     (3, 100), (3, 9), (3, 8), (2, 100), (2, 8), (1, 100), (1, 7), (1, -3);
SELECT * FROM show((SELECT item_neighbors_agg(u, i, 1) FROM t)) WHERE item_id = 100;
-- k = 1 .. 5 through a prepared statement (options as a parameter)
PREPARE top100(jsonb) AS
  SELECT neighbors FROM show((SELECT item_neighbors_agg(u, i, 1, $1) FROM t)) WHERE item_id = 100;
EXECUTE top100('{"k": 1}');
EXECUTE top100('{"k": 2}');
EXECUTE top100('{"k": 3}');
EXECUTE top100('{"k": 4}');
EXECUTE top100('{"k": 5}');
-- after five executions the plan may be generic (options are then a Param): same answer
EXECUTE top100('{"k": 3}');
DEALLOCATE top100;
-- the same ties under jaccard: -3 and 7 1/(4+1-1) = 1/4, 8 and 9 2/(4+4-2) = 1/3, 6 1/7
SELECT * FROM show((SELECT item_neighbors_agg(u, i, 1, '{"measure": "jaccard", "k": 3}') FROM t)) WHERE item_id = 100;

------------------------------------------------------------------------------
-- An item is never its own neighbour, even bought twice by the same users
------------------------------------------------------------------------------
SELECT * FROM show((SELECT item_neighbors_agg(u, i, 1) FROM (VALUES (1, 1), (1, 1), (2, 1), (2, 1)) v(u, i)));
-- conditional probability with a repeat purchase: u1 buys 1 twice and 2, u2 buys 1
--   n1 = 2, n2 = 1, c = 1: 1->2 1/2, 2->1 1/1
SELECT * FROM show((SELECT item_neighbors_agg(u, i, 1, '{"measure": "conditional_probability"}')
                    FROM (VALUES (1, 1), (1, 1), (1, 2), (2, 1)) v(u, i)));
SELECT count(*) AS self_neighbours
FROM (SELECT item_neighbors_agg(u, i, 1) AS r FROM t
      UNION ALL SELECT item_neighbors_agg(u, i, w, '{"weights": "sum"}') FROM r
      UNION ALL SELECT item_neighbors_agg(u, i, w, '{"measure": "conditional_probability"}') FROM a) x,
     item_neighbors(x.r) n, svec_each(n.neighbors) e
WHERE e.index = n.item_id;

------------------------------------------------------------------------------
-- Skipped rows are counted, not errors: NULL user or item; NULL, zero, negative,
-- NaN, +/-Infinity weight.  Valid: (1,10) (1,20) (2,10) (3,30) (3,20) with weights
-- 1, 0.5, 3e38 (huge but finite), 1.4e-45 (the smallest positive real), 7
------------------------------------------------------------------------------
CREATE TABLE s (u bigint, i bigint, w real);
INSERT INTO s VALUES
  (1, 10, 1), (1, 20, 0.5), (2, 10, 3e38), (3, 30, 1.4e-45), (3, 20, 7),
  (NULL, 10, 1), (1, NULL, 1), (NULL, NULL, 1), (NULL, 10, 'NaN'),      -- 4 with a NULL id
  (4, 10, NULL), (4, 20, 0), (4, 30, '-0'), (4, 40, -1), (4, 50, 'NaN'),
  (5, 10, 'Infinity'), (5, 20, '-Infinity'), (5, 30, -3e38);            -- 8 with a bad weight
-- users 1 2 3, items 10 20 30; 10: u1 u2, 20: u1 u3, 30: u3
--   10-20 1/sqrt(4) = 0.5   20-30 1/sqrt(2) = 0.707107
SELECT * FROM show((SELECT item_neighbors_agg(u, i, w) FROM s));
SELECT stats(item_neighbors_agg(u, i, w)) FROM s;
-- the same counts in the time variant, where a NULL time is fine without "since"
SELECT stats(item_neighbors_agg(u, i, w, NULL::timestamptz, '{}')) FROM s;
-- only skipped rows: a result with no items (not NULL)
SELECT r IS NULL AS is_null, stats(r)
FROM (SELECT item_neighbors_agg(u, i, w) AS r FROM s WHERE u IS NULL OR NOT w > 0) x;
SELECT count(*) AS items FROM item_neighbors((SELECT item_neighbors_agg(u, i, w) FROM s WHERE u IS NULL));

------------------------------------------------------------------------------
-- Empty input: NULL, for every form; item_neighbors(NULL) is empty (STRICT)
------------------------------------------------------------------------------
SELECT item_neighbors_agg(u, i, w) IS NULL AS three_args,
       item_neighbors_agg(u, i, w, '{"measure": "jaccard"}') IS NULL AS four_args,
       item_neighbors_agg(u, i, w, now(), '{"since": "2020-01-01"}') IS NULL AS five_args
FROM a WHERE false;
SELECT count(*) FROM item_neighbors(NULL);
SELECT item_neighbors_stats(NULL) IS NULL AS stats_of_null;
-- GROUP BY: one result per group, an empty group gives no row
SELECT g, (SELECT string_agg(s.item_id || '=' || s.neighbors, '; ') FROM show(item_neighbors_agg(u, i, w)) s)
FROM (SELECT u % 2 AS g, * FROM a) x GROUP BY g ORDER BY g;

SET client_min_messages = warning;
DROP SCHEMA engine_basic CASCADE;
