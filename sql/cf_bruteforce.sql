--
-- item_neighbors_agg against brute-force SQL on a few thousand pseudo-random rows:
-- every measure and option, compared score by score (relative 1e-6: scores are
-- float4); only counts are printed, and every mismatch count must be 0.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA engine_bruteforce;
SET search_path = engine_bruteforce, public;
-- one thread: many small builds, where starting threads would cost more than computing
SET itemcf.threads = 1;

-- 300 users, 1..15 rows each; items 1..150 skewed towards small ids; repeat
-- purchases happen; weights 1, 1.5, 2 or 2.5 (exact in binary)
CREATE TABLE p AS
  SELECT u::bigint AS u,
         (floor(150 * power(((u * 7919 + j * 104729) % 1000) / 1000.0, 2)) + 1)::bigint AS i,
         (1 + ((u * j) % 4) * 0.5)::real AS w
  FROM generate_series(1, 300) u, generate_series(1, 15) j
  WHERE j <= 1 + u % 15;
SELECT count(*) AS rows, count(DISTINCT (u, i)) AS pairs, count(DISTINCT u) AS users, count(DISTINCT i) AS items FROM p;

-- entries(result): the result in long form
CREATE FUNCTION entries(r bytea) RETURNS TABLE (i bigint, j bigint, s real) LANGUAGE sql AS $$
  SELECT n.item_id, e.index, e.value FROM public.item_neighbors(r) n, public.svec_each(n.neighbors) e $$;

-- Brute force, binary: n_i buyers, c_ij co-buyers
CREATE TABLE bp AS SELECT DISTINCT u, i FROM p;
CREATE TABLE n AS SELECT i, count(*)::float8 AS n FROM bp GROUP BY i;
CREATE TABLE c AS
  SELECT x.i, y.i AS j, count(*)::float8 AS c FROM bp x JOIN bp y ON x.u = y.u AND x.i <> y.i GROUP BY 1, 2;
-- Brute force, summed weights: one svec of user -> summed weight per item
CREATE TABLE v AS SELECT i, svec_agg(u, w) AS vec FROM p GROUP BY i;
-- and one svec of user -> 1 per item, for jaccard_similarity
CREATE TABLE b AS SELECT i, svec_agg(u, 1) AS vec FROM bp GROUP BY i;

-- compare(options, expected): builds item_neighbors_agg(u, i, w, options) over p; expected
-- (i, j, s) is every candidate with its exact score, and the result must hold, for each
-- item, the min(k, candidates) best of them.  Counts: entries of the result; entries
-- whose score is off by more than 1e-6 relative, or that are no candidate; items with
-- the wrong number of entries; candidates left out although better than the worst kept
-- one by more than 1e-6 relative.
CREATE FUNCTION compare(opts jsonb, expected text)
RETURNS TABLE (entries bigint, wrong_scores bigint, wrong_counts bigint, better_left_out bigint)
LANGUAGE plpgsql AS $$
DECLARE
  k integer := coalesce((opts->>'k')::integer, 50);
  r bytea;
BEGIN
  EXECUTE format('SELECT public.item_neighbors_agg(u, i, w, %L::jsonb) FROM engine_bruteforce.p', opts) INTO r;
  EXECUTE format('CREATE TEMP TABLE exp (i, j, s) AS %s', expected);
  CREATE TEMP TABLE got AS SELECT * FROM entries(r);
  RETURN QUERY
  SELECT (SELECT count(*) FROM got),
         (SELECT count(*) FROM got g LEFT JOIN exp e USING (i, j)
           WHERE e.s IS NULL OR abs(g.s - e.s) > 1e-6 * e.s),
         (SELECT count(*) FROM (SELECT i, count(*) AS cnt FROM exp GROUP BY i) e
                               FULL JOIN (SELECT i, count(*) AS cnt FROM got GROUP BY i) g USING (i)
           WHERE coalesce(g.cnt, 0) <> least(k, coalesce(e.cnt, 0))),
         (SELECT count(*) FROM exp e
           JOIN (SELECT i, min(s) AS worst FROM got GROUP BY i) w USING (i)
           WHERE NOT EXISTS (SELECT FROM got g WHERE g.i = e.i AND g.j = e.j)
             AND e.s > w.worst * (1 + 1e-6));
  DROP TABLE exp, got;
END $$;

-- the candidates of each measure, with exact scores (double precision)
CREATE VIEW cosine AS
  SELECT c.i, c.j, c.c, c.c / sqrt(ni.n * nj.n) AS s FROM c JOIN n ni ON ni.i = c.i JOIN n nj ON nj.i = c.j;
CREATE VIEW jaccard AS
  SELECT c.i, c.j, c.c, c.c / (ni.n + nj.n - c.c) AS s FROM c JOIN n ni ON ni.i = c.i JOIN n nj ON nj.i = c.j;
CREATE FUNCTION asym(alpha float8) RETURNS TABLE (i bigint, j bigint, c float8, s float8) LANGUAGE sql AS $$
  SELECT c.i, c.j, c.c, c.c / (ni.n ^ alpha * nj.n ^ (1 - alpha)) FROM c JOIN n ni ON ni.i = c.i JOIN n nj ON nj.i = c.j $$;

SELECT label, x.*
FROM (VALUES
  -- cosine, binary: c / sqrt(ni nj) ...
  ('cosine', '{"k": 1000}', 'SELECT i, j, s FROM cosine'),
  -- ... and svec_agg + cosine_similarity over 0/1 vectors
  ('cosine, svec', '{"k": 1000}',
   'SELECT x.i, y.i, cosine_similarity(x.vec, y.vec) FROM b x JOIN b y ON x.i <> y.i WHERE cosine_similarity(x.vec, y.vec) > 0'),
  -- cosine of summed weights (repeat purchases add up): svec_agg + cosine_similarity
  ('cosine, sum', '{"k": 1000, "weights": "sum"}',
   'SELECT x.i, y.i, cosine_similarity(x.vec, y.vec) FROM v x JOIN v y ON x.i <> y.i WHERE cosine_similarity(x.vec, y.vec) > 0'),
  -- jaccard: c / (ni + nj - c), and jaccard_similarity of the buyer sets
  ('jaccard', '{"k": 1000, "measure": "jaccard"}', 'SELECT i, j, s FROM jaccard'),
  ('jaccard, svec', '{"k": 1000, "measure": "jaccard"}',
   'SELECT x.i, y.i, jaccard_similarity(x.vec, y.vec) FROM b x JOIN b y ON x.i <> y.i WHERE jaccard_similarity(x.vec, y.vec) > 0'),
  -- asymmetric cosine c / (ni^alpha nj^(1-alpha)); conditional probability c / ni
  ('asymmetric 0', '{"k": 1000, "measure": "asymmetric_cosine", "alpha": 0}', 'SELECT i, j, s FROM asym(0)'),
  ('asymmetric 0.2', '{"k": 1000, "measure": "asymmetric_cosine", "alpha": 0.2}', 'SELECT i, j, s FROM asym(0.2)'),
  ('asymmetric 0.9', '{"k": 1000, "measure": "asymmetric_cosine", "alpha": 0.9}', 'SELECT i, j, s FROM asym(0.9)'),
  ('conditional_probability', '{"k": 1000, "measure": "conditional_probability"}',
   'SELECT c.i, c.j, c.c / n.n FROM c JOIN n USING (i)'),
  -- min_support: only pairs with enough co-buyers
  ('cosine, min_support 3', '{"k": 1000, "min_support": 3}', 'SELECT i, j, s FROM cosine WHERE c >= 3'),
  ('jaccard, min_support 2', '{"k": 1000, "measure": "jaccard", "min_support": 2}', 'SELECT i, j, s FROM jaccard WHERE c >= 2'),
  -- shrinkage: score * c / (c + lambda)
  ('cosine, shrinkage 5', '{"k": 1000, "shrinkage": 5}', 'SELECT i, j, s * c / (c + 5) FROM cosine'),
  ('asymmetric 0.3, shrinkage 0.5, min_support 2', '{"k": 1000, "measure": "asymmetric_cosine", "alpha": 0.3, "shrinkage": 0.5, "min_support": 2}',
   'SELECT i, j, s * c / (c + 0.5) FROM asym(0.3) WHERE c >= 2'),
  -- top-k below the number of candidates
  ('cosine, k 5', '{"k": 5}', 'SELECT i, j, s FROM cosine'),
  ('cosine, sum, k 3', '{"k": 3, "weights": "sum"}',
   'SELECT x.i, y.i, cosine_similarity(x.vec, y.vec) FROM v x JOIN v y ON x.i <> y.i WHERE cosine_similarity(x.vec, y.vec) > 0'),
  ('jaccard, k 1', '{"k": 1, "measure": "jaccard"}', 'SELECT i, j, s FROM jaccard'),
  ('conditional_probability, k 10', '{"k": 10, "measure": "conditional_probability"}',
   'SELECT c.i, c.j, c.c / n.n FROM c JOIN n USING (i)')
) t(label, opts, expected),
compare(t.opts::jsonb, t.expected) x;

-- the candidates themselves: how many pairs, and the fewest and most per item
SELECT sum(cnt) AS candidate_pairs, min(cnt) AS fewest_per_item, max(cnt) AS most_per_item
FROM (SELECT i, count(*) AS cnt FROM c GROUP BY i) x;

-- ties by smaller id in the top-k: under binary cosine and jaccard, neighbours j of i
-- with the same (c_ij, n_j) have bit-identical scores; among them the kept ones must be
-- the smallest ids.  Counts: tied candidates cut at k, and cut ones with a smaller id
-- than a kept tied one (must be 0).
CREATE FUNCTION ties(opts jsonb) RETURNS TABLE (ties_cut_at_k bigint, smaller_tied_id_left_out bigint)
LANGUAGE plpgsql AS $$
DECLARE
  r bytea;
BEGIN
  EXECUTE format('SELECT public.item_neighbors_agg(u, i, w, %L::jsonb) FROM engine_bruteforce.p', opts) INTO r;
  RETURN QUERY
  WITH got AS (SELECT * FROM entries(r)),
       cand AS (SELECT c.i, c.j, c.c, n.n FROM c JOIN n ON n.i = c.j),
       kept AS (SELECT cand.* FROM cand JOIN got USING (i, j)),
       dropped AS (SELECT cand.* FROM cand LEFT JOIN got USING (i, j) WHERE got.j IS NULL)
  SELECT count(*) FILTER (WHERE d.j > k.j), count(*) FILTER (WHERE d.j < k.j)
  FROM kept k JOIN dropped d ON d.i = k.i AND d.c = k.c AND d.n = k.n;
END $$;
SELECT opts, x.* FROM unnest(ARRAY['{"k": 1}', '{"k": 2}', '{"k": 5}', '{"k": 1, "measure": "jaccard"}',
                                   '{"k": 3, "measure": "jaccard"}']::jsonb[]) opts, ties(opts) x;

-- the comparison does catch a wrong measure
SELECT wrong_scores > 4000 AS jaccard_is_not_cosine
FROM compare('{"k": 1000, "measure": "jaccard"}', 'SELECT i, j, s FROM cosine');

SET client_min_messages = warning;
DROP SCHEMA engine_bruteforce CASCADE;
