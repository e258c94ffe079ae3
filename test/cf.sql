-- pgTAP suite for the similarity engine: the catalog shape of item_neighbors_agg and
-- its result functions, properties that hold for any input (symmetry, ranges, top-k
-- prefixes, permutation invariance, shards), and the SQLSTATEs of its errors.
-- Run with: pg_prove -d <db> test/*.sql   (in a database with CREATE EXTENSION pgtap)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS itemcf;
SET LOCAL TimeZone = 'UTC';
SET LOCAL itemcf.threads = 2;

SELECT plan(84);

------------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------------
CREATE TEMP TABLE cf_funcs (fname name, args name[], rettype text, vol text, strict boolean) ON COMMIT DROP;
INSERT INTO cf_funcs VALUES
  ('item_neighbors_transfn',      ARRAY['internal', 'bigint', 'bigint', 'real'],                          'internal',     'i', false),
  ('item_neighbors_transfn_opts', ARRAY['internal', 'bigint', 'bigint', 'real', 'jsonb'],                 'internal',     'i', false),
  ('item_neighbors_transfn_time', ARRAY['internal', 'bigint', 'bigint', 'real', 'timestamp with time zone', 'jsonb'],  'internal',     'i', false),
  ('item_neighbors_combinefn',    ARRAY['internal', 'internal'],                                          'internal',     'i', false),
  ('item_neighbors_serialfn',     ARRAY['internal'],                                                      'bytea',        'i', true),
  ('item_neighbors_deserialfn',   ARRAY['bytea', 'internal'],                                             'internal',     'i', true),
  ('item_neighbors_finalfn',      ARRAY['internal'],                                                      'bytea',        's', false),
  ('item_neighbors',              ARRAY['bytea'],                                                         'setof record', 'i', true),
  ('item_buyers',                 ARRAY['bytea'],                                                         'setof record', 'i', true),
  ('item_neighbors_stats',        ARRAY['bytea'],                                                         'jsonb',        'i', true);

-- 1-10: every support function exists with its argument types and return type
SELECT function_returns(fname, args, rettype) FROM cf_funcs ORDER BY fname;
-- 11: volatility (the final function is STABLE: it reads settings), strictness, PARALLEL SAFE
SELECT is((SELECT count(*) FROM cf_funcs f JOIN pg_proc p ON p.proname = f.fname
           WHERE p.provolatile = f.vol AND p.proisstrict = f.strict AND p.proparallel = 's'),
          10::bigint, 'support functions: volatility, strictness and PARALLEL SAFE as designed');
-- 12-14: the three aggregates
SELECT is_aggregate('item_neighbors_agg', ARRAY['bigint', 'bigint', 'real']);
SELECT is_aggregate('item_neighbors_agg', ARRAY['bigint', 'bigint', 'real', 'jsonb']);
SELECT is_aggregate('item_neighbors_agg', ARRAY['bigint', 'bigint', 'real', 'timestamp with time zone', 'jsonb']);
-- 15: each is parallel: combine, serial and deserial functions, PARALLEL SAFE, READ_WRITE final
SELECT is((SELECT count(*) FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
           WHERE p.proname = 'item_neighbors_agg' AND a.aggcombinefn <> 0 AND a.aggserialfn <> 0
             AND a.aggdeserialfn <> 0 AND p.proparallel = 's' AND a.aggfinalmodify = 'w'
             AND a.aggtranstype = 'internal'::regtype AND a.aggkind = 'n'),
          3::bigint, 'the three aggregates are parallel, with a READ_WRITE final function');
-- 16-17: result columns
SELECT is(pg_get_function_arguments('item_neighbors(bytea)'::regprocedure),
          'result bytea, OUT item_id bigint, OUT neighbors svec', 'item_neighbors yields (item_id bigint, neighbors svec)');
SELECT is(pg_get_function_arguments('item_buyers(bytea)'::regprocedure),
          'result bytea, OUT item_id bigint, OUT buyers integer', 'item_buyers yields (item_id bigint, buyers integer)');

------------------------------------------------------------------------------
-- Data: 400 users, 1..12 rows each, items 1..80 skewed; repeats, weights 1..3
------------------------------------------------------------------------------
CREATE TEMP TABLE p ON COMMIT DROP AS
  SELECT u::bigint AS u,
         (floor(80 * power(((u * 7919 + j * 104729) % 1009) / 1009.0, 2)) + 1)::bigint AS i,
         (1 + (u * j) % 3)::real AS w,
         timestamptz '2024-01-01' + ((u * 31 + j * 17) % 100) * interval '1 day' AS t
  FROM generate_series(1, 400) u, generate_series(1, 12) j
  WHERE j <= 1 + u % 12;
CREATE TEMP TABLE res (name text PRIMARY KEY, r bytea) ON COMMIT DROP;
INSERT INTO res
  SELECT 'cosine', item_neighbors_agg(u, i, w, '{"k": 1000}') FROM p UNION ALL
  SELECT 'cosine5', item_neighbors_agg(u, i, w, '{"k": 5}') FROM p UNION ALL
  SELECT 'jaccard', item_neighbors_agg(u, i, w, '{"k": 1000, "measure": "jaccard"}') FROM p UNION ALL
  SELECT 'cond', item_neighbors_agg(u, i, w, '{"k": 1000, "measure": "conditional_probability"}') FROM p UNION ALL
  SELECT 'sum', item_neighbors_agg(u, i, w, '{"k": 1000, "weights": "sum"}') FROM p UNION ALL
  SELECT 'support3', item_neighbors_agg(u, i, w, '{"k": 1000, "min_support": 3}') FROM p UNION ALL
  SELECT 'shrunk', item_neighbors_agg(u, i, w, '{"k": 1000, "shrinkage": 10}') FROM p UNION ALL
  SELECT 'reversed', item_neighbors_agg(u, i, w, '{"k": 1000}')
    FROM (SELECT * FROM p ORDER BY i DESC, u DESC) x;
CREATE TEMP VIEW e AS
  SELECT r.name, n.item_id AS i, x.index AS j, x.value AS s
  FROM res r, item_neighbors(r.r) n, svec_each(n.neighbors) x;

------------------------------------------------------------------------------
-- Properties
------------------------------------------------------------------------------
-- 18: no item is its own neighbour, in any result
SELECT is((SELECT count(*) FROM e WHERE i = j), 0::bigint, 'no item is its own neighbour');
-- 19-20: cosine and jaccard are symmetric (bit for bit)
SELECT is((SELECT count(*) FROM e a LEFT JOIN e b ON b.name = a.name AND b.i = a.j AND b.j = a.i
           WHERE a.name = 'cosine' AND (b.s IS NULL OR b.s <> a.s)), 0::bigint, 'cosine is symmetric');
SELECT is((SELECT count(*) FROM e a LEFT JOIN e b ON b.name = a.name AND b.i = a.j AND b.j = a.i
           WHERE a.name = 'jaccard' AND (b.s IS NULL OR b.s <> a.s)), 0::bigint, 'jaccard is symmetric');
-- 21: conditional probability is not: P(j|i) n_i = P(i|j) n_j = c_ij
SELECT is((SELECT count(*) FROM e a JOIN e b ON b.name = a.name AND b.i = a.j AND b.j = a.i
           JOIN item_buyers((SELECT r FROM res WHERE name = 'cond')) ni ON ni.item_id = a.i
           JOIN item_buyers((SELECT r FROM res WHERE name = 'cond')) nj ON nj.item_id = a.j
           WHERE a.name = 'cond' AND abs(a.s * ni.buyers - b.s * nj.buyers) > 1e-5 * a.s * ni.buyers),
          0::bigint, 'conditional probability: P(j|i) n_i = P(i|j) n_j');
-- 22: binary scores are in (0, 1]
SELECT is((SELECT count(*) FROM e WHERE name IN ('cosine', 'jaccard', 'cond') AND NOT (s > 0 AND s <= 1.0000001)),
          0::bigint, 'binary cosine, jaccard and conditional probability lie in (0, 1]');
-- 23: cosine >= jaccard for the same pair (c/sqrt(ab) >= c/(a+b-c))
SELECT is((SELECT count(*) FROM e a JOIN e b USING (i, j) WHERE a.name = 'cosine' AND b.name = 'jaccard'
           AND b.s > a.s * (1 + 1e-6)), 0::bigint, 'cosine is never below jaccard');
-- 24: the same candidates whatever the measure (binary)
SELECT is((SELECT count(*) FROM (SELECT i, j FROM e WHERE name = 'cosine'
                                 EXCEPT SELECT i, j FROM e WHERE name = 'jaccard') x), 0::bigint,
          'cosine and jaccard list the same pairs when k is large');
-- 25: the top 5 are the best 5 of the full list, with the same scores
SELECT is((SELECT count(*) FROM e a LEFT JOIN e b ON b.name = 'cosine' AND b.i = a.i AND b.j = a.j
           WHERE a.name = 'cosine5' AND (b.s IS NULL OR b.s <> a.s)), 0::bigint, 'k 5: every entry is in the full list');
-- 26
SELECT is((SELECT count(*) FROM
             (SELECT i, j, row_number() OVER (PARTITION BY i ORDER BY s DESC, j) AS rn FROM e WHERE name = 'cosine') f
           LEFT JOIN e a ON a.name = 'cosine5' AND a.i = f.i AND a.j = f.j
           WHERE (f.rn <= 5) <> (a.j IS NOT NULL)), 0::bigint, 'k 5: exactly the 5 best (score, then smaller id)');
-- 27: no item has more than k neighbours
SELECT is((SELECT max(nnz(n.neighbors)) FROM item_neighbors((SELECT r FROM res WHERE name = 'cosine5')) n),
          5, 'k bounds the list');
-- 28: svec indices ascend (svec_each order) and scores are finite
SELECT is((SELECT count(*) FROM res r, item_neighbors(r.r) n
           WHERE svec_indices(n.neighbors) <> (SELECT array_agg(x ORDER BY x) FROM unnest(svec_indices(n.neighbors)) x)),
          0::bigint, 'neighbour ids ascend in every svec');
-- 29: the row order does not matter
SELECT is((SELECT count(*) FROM e a FULL JOIN (SELECT * FROM e WHERE name = 'reversed') b USING (i, j)
           WHERE a.name = 'cosine' AND (b.s IS NULL OR a.s <> b.s)), 0::bigint, 'the row order does not matter');
-- 30: min_support keeps exactly the pairs with enough co-buyers
SELECT is((SELECT count(*) FROM e WHERE name = 'support3'),
          (SELECT count(*) FROM (SELECT x.i, y.i FROM (SELECT DISTINCT u, i FROM p) x
                                 JOIN (SELECT DISTINCT u, i FROM p) y ON x.u = y.u AND x.i <> y.i
                                 GROUP BY 1, 2 HAVING count(*) >= 3) z), 'min_support 3 keeps the pairs with 3 co-buyers');
-- 31: shrinkage only lowers scores, and keeps the pairs
SELECT is((SELECT count(*) FROM e a JOIN e b USING (i, j) WHERE a.name = 'cosine' AND b.name = 'shrunk' AND b.s < a.s),
          (SELECT count(*) FROM e WHERE name = 'cosine'), 'shrinkage lowers every score');
-- 32: summed weights list the same pairs as binary
SELECT is((SELECT count(*) FROM (SELECT i, j FROM e WHERE name = 'cosine' EXCEPT SELECT i, j FROM e WHERE name = 'sum') x
           ), 0::bigint, 'summed weights keep the same pairs');
-- 33: buyers add up to the distinct (user, item) pairs
SELECT is((SELECT sum(buyers) FROM item_buyers((SELECT r FROM res WHERE name = 'cosine'))),
          (SELECT count(DISTINCT (u, i)) FROM p), 'item_buyers adds up to the distinct pairs');
-- 34: stats
SELECT is((SELECT item_neighbors_stats(r) ?& ARRAY['rows', 'rows_null_id', 'rows_bad_weight', 'rows_outside_window',
                                                   'users', 'items', 'entries', 'partials', 'k', 'shard_count',
                                                   'shard_index', 'read_seconds', 'compute_seconds']
           FROM res WHERE name = 'cosine'), true, 'item_neighbors_stats has the documented keys');
-- 35
SELECT is((SELECT (s->>'rows')::bigint = (SELECT count(*) FROM p) AND (s->>'users')::int = 400
                  AND (s->>'items')::int = (SELECT count(DISTINCT i) FROM p)
                  AND (s->>'entries')::bigint = (SELECT count(*) FROM e WHERE name = 'cosine')
           FROM (SELECT item_neighbors_stats(r) s FROM res WHERE name = 'cosine') x), true, 'stats count rows, users, items, entries');

-- 36-38: shards partition the items and together give the whole result
CREATE TEMP TABLE shards ON COMMIT DROP AS
  SELECT 0 AS s, item_neighbors_agg(u, i, w, '{"k": 1000, "shard_count": 3, "shard_index": 0}') AS r FROM p UNION ALL
  SELECT 1, item_neighbors_agg(u, i, w, '{"k": 1000, "shard_count": 3, "shard_index": 1}') FROM p UNION ALL
  SELECT 2, item_neighbors_agg(u, i, w, '{"k": 1000, "shard_count": 3, "shard_index": 2}') FROM p;
SELECT is((SELECT count(*) FROM shards, item_neighbors(r) n WHERE n.item_id % 3 <> s), 0::bigint, 'a shard lists its items only');
SELECT is((SELECT count(*) FROM (SELECT n.item_id, n.neighbors::text FROM shards, item_neighbors(r) n
                                 EXCEPT SELECT n.item_id, n.neighbors::text FROM res, item_neighbors(res.r) n WHERE res.name = 'cosine') x),
          0::bigint, 'every shard entry is in the whole result');
SELECT is((SELECT count(*) FROM shards, item_neighbors(r) n), (SELECT count(DISTINCT i) FROM p), 'the shards cover every item');

-- 39-41: the time variant: since drops older rows, a large cap changes nothing
SELECT is((SELECT item_neighbors_stats(item_neighbors_agg(u, i, w, t, '{"since": "2024-02-20"}'))->>'rows_outside_window'
           FROM p)::bigint, (SELECT count(*) FROM p WHERE t < '2024-02-20'), 'since counts the rows outside the window');
SELECT is((SELECT count(*) FROM (SELECT n.item_id, n.neighbors::text FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, t, '{"k": 1000}') FROM p)) n
                                 EXCEPT SELECT n.item_id, n.neighbors::text FROM res, item_neighbors(res.r) n WHERE res.name = 'cosine') x),
          0::bigint, 'times without since or a binding cap do not change the result');
SELECT is((SELECT (item_neighbors_stats(item_neighbors_agg(u, i, w, t, '{"history_cap": 3}'))->>'pairs')::bigint FROM p),
          (SELECT sum(least(n, 3)) FROM (SELECT count(DISTINCT i) AS n FROM p GROUP BY u) x)::bigint,
          'history_cap 3 keeps min(3, distinct items) per user');

-- 42-45: with GROUP BY, FILTER, DISTINCT, ORDER BY inside the aggregate
SELECT is((SELECT count(*) FROM (SELECT u % 4 AS g, item_neighbors_agg(u, i, w) AS r FROM p GROUP BY 1) x WHERE r IS NOT NULL),
          4::bigint, 'one result per group');
SELECT is((SELECT item_neighbors_stats(item_neighbors_agg(u, i, w) FILTER (WHERE i <= 10))->>'items' FROM p)::int,
          (SELECT count(DISTINCT i) FROM p WHERE i <= 10)::int, 'FILTER');
SELECT is((SELECT item_neighbors_stats(item_neighbors_agg(DISTINCT u, i, 1))->>'rows' FROM p)::bigint,
          (SELECT count(DISTINCT (u, i)) FROM p), 'DISTINCT');
SELECT is((SELECT item_neighbors_agg(u, i, w, '{"k": 1000}' ORDER BY t DESC) FROM p) IS NOT NULL, true, 'ORDER BY inside');
-- 46: no window use (a READ_WRITE final function)
SELECT throws_ok($$SELECT item_neighbors_agg(u, i, w) OVER () FROM pg_temp.p$$, '0A000', NULL, 'not a window function');

------------------------------------------------------------------------------
-- Errors and their SQLSTATEs
------------------------------------------------------------------------------
-- 47-62: options
SELECT throws_ok(format('SELECT item_neighbors_agg(u, i, w, %L) FROM pg_temp.p', o), '22023', NULL, 'options ' || o)
FROM unnest(ARRAY['{"x": 1}', '{"measure": "pearson"}', '{"k": 0}', '{"k": 1001}', '{"k": 1.5}', '{"alpha": 0.5}',
                  '{"measure": "jaccard", "alpha": 0.5}', '{"measure": "asymmetric_cosine", "alpha": 2}',
                  '{"weights": "mean"}', '{"min_support": 0}', '{"shrinkage": -1}', '{"history_cap": -1}',
                  '{"shard_count": 2, "shard_index": 2}', '{"since": "2024-01-01"}', '[1]', '"cosine"']) o;
-- 63-64
SELECT throws_ok($$SELECT item_neighbors_agg(u, i, w, NULL) FROM pg_temp.p$$, '22004', NULL, 'NULL options');
SELECT throws_ok($$SELECT item_neighbors_agg(u, i, w, jsonb_build_object('k', u)) FROM pg_temp.p$$, '22023',
                 'item_neighbors_agg options must be a constant', 'options from the rows');
-- 65: since needs a valid timestamp
SELECT throws_ok($$SELECT item_neighbors_agg(u, i, w, t, '{"since": "soon"}') FROM pg_temp.p$$, '22007', NULL, 'since: bad timestamp');
-- 66-67: settings
SET LOCAL itemcf.build_memory = 16;
SELECT throws_ok($$SELECT item_neighbors_agg(1, i, 1) FROM generate_series(1, 200000) i$$, '53200', NULL, 'build_memory exceeded');
RESET itemcf.build_memory;
-- 1 kB holds not even the item dictionary (every shard holds it): refused before computing,
-- not with the "result exceeds" message itemcf_rebuild() retries on (see sql/cf_limits.sql)
SET LOCAL itemcf.max_result_size = 1;
SELECT throws_ok($$SELECT item_neighbors_agg(u, i, w) FROM pg_temp.p$$, '54000',
                 'item dictionary of item_neighbors_agg does not fit in itemcf.max_result_size', 'max_result_size exceeded');
RESET itemcf.max_result_size;
-- 68-73: forged results
SELECT throws_ok(format('SELECT count(*) FROM %s(%L::bytea)', f, v), '22P03', NULL, f || ' of a forged value')
FROM unnest(ARRAY['item_neighbors', 'item_buyers', 'item_neighbors_stats']) f, unnest(ARRAY['\x', '\x0100000032000000']) v;
-- 74-76: a damaged real result
SELECT throws_ok(format('SELECT count(*) FROM %s(%L::bytea)', f, (SELECT substr(r, 1, length(r) - 8) FROM res WHERE name = 'cosine5')),
                 '22P03', NULL, f || ' of a truncated result')
FROM unnest(ARRAY['item_neighbors', 'item_buyers', 'item_neighbors_stats']) f;
-- 77-78: empty input, NULL result
SELECT is((SELECT item_neighbors_agg(u, i, w) FROM p WHERE false), NULL, 'no rows: NULL');
SELECT is((SELECT count(*) FROM item_neighbors(NULL)), 0::bigint, 'item_neighbors(NULL) is empty');
-- 79-80: skipped rows
SELECT is((SELECT item_neighbors_stats(item_neighbors_agg(u, i, w)) - 'read_seconds' - 'compute_seconds' - 'threads' - 'bytes'
                  - 'updates' - 'memory_bytes' - 'pairs' - 'k' - 'shard_count' - 'shard_index' - 'partials' - 'capped_users'
                  - 'items_out' - 'entries'
           FROM (VALUES (1::bigint, 1::bigint, 1::real), (NULL, 1, 1), (1, NULL, 1), (1, 2, 0), (1, 3, 'NaN'),
                        (1, 4, '-Infinity'), (1, 5, NULL), (2, 1, 2)) v(u, i, w)),
          '{"rows": 2, "users": 2, "items": 1, "rows_null_id": 2, "rows_bad_weight": 4, "rows_outside_window": 0}'::jsonb,
          'skipped rows are counted');
SELECT lives_ok($$SELECT item_neighbors_agg(u, i, w) FROM (VALUES (NULL::bigint, NULL::bigint, NULL::real)) v(u, i, w)$$,
                'only NULL rows: no error');
-- 81-84: itemcf.threads does not change the result
SET LOCAL itemcf.threads = 1;
SELECT is((SELECT count(*) FROM (SELECT n.item_id, n.neighbors::text FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"k": 5}') FROM p)) n
                                 EXCEPT SELECT n.item_id, n.neighbors::text FROM res, item_neighbors(res.r) n WHERE res.name = 'cosine5') x),
          0::bigint, 'one thread: same top 5');
SET LOCAL itemcf.threads = 3;
SELECT is((SELECT count(*) FROM (SELECT n.item_id, n.neighbors::text FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"k": 5}') FROM p)) n
                                 EXCEPT SELECT n.item_id, n.neighbors::text FROM res, item_neighbors(res.r) n WHERE res.name = 'cosine5') x),
          0::bigint, 'three threads: same top 5');
SELECT is((SELECT item_neighbors_stats(item_neighbors_agg(u, i, w))->>'threads' FROM p), '3', 'stats report the threads set by itemcf.threads');
SELECT is((SELECT item_neighbors_stats(item_neighbors_agg(u, i, w))->>'partials' FROM p), '1', 'a serial build has one partial state');

SELECT * FROM finish();
ROLLBACK;
