-- Co-buyer counts: items with fewer than 65536 buyers count in 16 bits, the
-- others in 32.  Here items 1 and 2 have more buyers than that and share
-- 66000 of them, a count a 16-bit counter would wrap; every score must equal
-- the exact cosine, jaccard and conditional probability from the counts.
SET max_parallel_workers_per_gather = 0;
SET extra_float_digits = 0;

CREATE TEMP TABLE wide_rows AS
SELECT u, i FROM generate_series(1, 70000) u, LATERAL (VALUES (1), (2), (3), (4)) v(i)
WHERE i = 1 OR (i = 2 AND u <= 66000) OR (i = 3 AND u % 3 = 0) OR (i = 4 AND u % 5 = 0 AND u <= 1000);

SELECT i, count(*) AS buyers FROM wide_rows GROUP BY i ORDER BY i;

-- Exact measures from the counts, computed in SQL
CREATE TEMP TABLE wide_expected AS
WITH n AS (SELECT i, count(*)::float8 AS n FROM wide_rows GROUP BY i),
     c AS (SELECT a.i AS item, b.i AS nbr, count(*)::float8 AS c
           FROM wide_rows a JOIN wide_rows b ON a.u = b.u AND a.i <> b.i GROUP BY 1, 2)
SELECT c.item, c.nbr,
       (c.c / sqrt(ni.n * nj.n))::real AS cosine,
       (c.c / (ni.n + nj.n - c.c))::real AS jaccard,
       (c.c / ni.n)::real AS conditional
FROM c JOIN n ni ON ni.i = c.item JOIN n nj ON nj.i = c.nbr;

CREATE TEMP TABLE wide_got AS
SELECT 'cosine' AS measure, n.item_id, e.index, e.value
FROM item_neighbors((SELECT item_neighbors_agg(u, i, 1) FROM wide_rows)) n, svec_each(n.neighbors) e
UNION ALL
SELECT 'jaccard', n.item_id, e.index, e.value
FROM item_neighbors((SELECT item_neighbors_agg(u, i, 1, '{"measure": "jaccard"}') FROM wide_rows)) n,
     svec_each(n.neighbors) e
UNION ALL
SELECT 'conditional', n.item_id, e.index, e.value
FROM item_neighbors((SELECT item_neighbors_agg(u, i, 1, '{"measure": "conditional_probability"}') FROM wide_rows)) n,
     svec_each(n.neighbors) e;

SELECT g.measure, count(*) AS entries,
       count(*) FILTER (WHERE g.value = CASE g.measure WHEN 'cosine' THEN x.cosine
                                                       WHEN 'jaccard' THEN x.jaccard
                                                       ELSE x.conditional END) AS exact
FROM wide_got g JOIN wide_expected x ON x.item = g.item_id AND x.nbr = g.index
GROUP BY g.measure ORDER BY g.measure;

-- The full lists of the cosine run, for the record
SELECT item_id, neighbors
FROM item_neighbors((SELECT item_neighbors_agg(u, i, 1) FROM wide_rows)) ORDER BY item_id;
