--
-- svec's total order and hash (src/svec_order.c): lexicographic over the entries
-- in index order, smaller index first, then smaller value, a proper prefix first.
-- The oracle: the same vectors as arrays of (index, value) records, which
-- PostgreSQL orders exactly so (arrays element by element, a shorter prefix
-- first; records field by field).
--
CREATE TYPE svec_order_entry AS (i bigint, v real);
CREATE FUNCTION svec_order_key(s svec) RETURNS svec_order_entry[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(array_agg(ROW(e.index, e.value)::svec_order_entry ORDER BY e.index), '{}')
  FROM svec_each(s) e $$;

-- hand-picked: the empty vector first; a prefix before its extensions; index before value
SELECT v FROM unnest(ARRAY['{2:1}', '{1:2}', '{1:1,2:1}', '{}', '{1:1}', '{1:-1}', '{-5:3}',
                           '{9000000000:1}', '{1:1,9000000000:1}', '{1:1,3:0.5}']::svec[]) v
ORDER BY v;
SELECT '{1:1}'::svec < '{1:1,2:1}'::svec AS prefix_first,
       '{1:1,5:1}'::svec < '{2:1}'::svec AS index_decides,
       '{1:-2}'::svec < '{1:-1}'::svec AS value_decides,
       '{}'::svec <= '{}'::svec AS empty_le, '{}'::svec >= '{}'::svec AS empty_ge,
       svec_cmp('{3:1}', '{3:1}') AS cmp_equal, svec_cmp('{3:1}', '{4:1}') AS cmp_less,
       svec_cmp('{4:1}', '{3:1}') AS cmp_greater;
-- compact (int32) and wide (int64) indices compare by value
SELECT '{2147483647:1}'::svec < '{2147483648:1}'::svec AS across_int32,
       '{-2147483649:1}'::svec < '{-2147483648:1}'::svec AS below_int32;

-- Randomized: 3 seeds x 400 vectors with 0..6 entries over small, negative and wide
-- indices and few distinct values (many ties, prefixes and duplicates)
CREATE TEMP TABLE vecs (seed int, id int, v svec);
DO $$
DECLARE seed float8;
BEGIN
  FOREACH seed IN ARRAY ARRAY[0.11, -0.42, 0.73] LOOP
    PERFORM setseed(seed);
    INSERT INTO vecs
    SELECT (seed * 100)::int, g,
           svec(coalesce(array_agg(ix ORDER BY ix) FILTER (WHERE ix IS NOT NULL), '{}'),
                coalesce(array_agg(val ORDER BY ix) FILTER (WHERE ix IS NOT NULL), '{}'))
    FROM generate_series(1, 400) g
    LEFT JOIN LATERAL (
      SELECT DISTINCT ON (ix) ix, val FROM (
        SELECT (CASE floor(random() * 4)
                  WHEN 0 THEN floor(random() * 5)
                  WHEN 1 THEN -floor(random() * 5)
                  WHEN 2 THEN 2147483646 + floor(random() * 4)
                  ELSE 9000000000 + floor(random() * 3) END)::bigint AS ix,
               (floor(random() * 3) - 1 + 0.5)::real AS val
        FROM generate_series(1, (floor(random() * 7))::int + (g * 0)) ) r
      ORDER BY ix) e ON true
    GROUP BY g;
  END LOOP;
END $$;
-- each vector's oracle key, computed once
ALTER TABLE vecs ADD COLUMN k svec_order_entry[];
UPDATE vecs SET k = svec_order_key(v);
SELECT count(*) AS vectors, count(DISTINCT v) AS distinct_vectors,
       count(*) FILTER (WHERE nnz(v) = 0) AS empty FROM vecs;
-- ORDER BY v gives the oracle's order (ties broken by id on both sides)
SELECT bool_and(a.id = b.id) AS same_order, count(*) AS compared FROM
  (SELECT seed, id, row_number() OVER (PARTITION BY seed ORDER BY v, id) r FROM vecs) a JOIN
  (SELECT seed, id, row_number() OVER (PARTITION BY seed ORDER BY k, id) r FROM vecs) b
  USING (seed, r);
-- every operator agrees with the oracle on every pair of one seed
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE (x.v < y.v) IS DISTINCT FROM (x.k < y.k)) AS lt_wrong,
       count(*) FILTER (WHERE (x.v <= y.v) IS DISTINCT FROM (x.k <= y.k)) AS le_wrong,
       count(*) FILTER (WHERE (x.v = y.v) IS DISTINCT FROM (x.k = y.k)) AS eq_wrong,
       count(*) FILTER (WHERE (x.v >= y.v) IS DISTINCT FROM (x.k >= y.k)) AS ge_wrong,
       count(*) FILTER (WHERE (x.v > y.v) IS DISTINCT FROM (x.k > y.k)) AS gt_wrong,
       count(*) FILTER (WHERE sign(svec_cmp(x.v, y.v)) <> CASE WHEN x.k < y.k THEN -1
                                                             WHEN x.k > y.k THEN 1 ELSE 0 END) AS cmp_wrong,
       count(*) FILTER (WHERE x.v = y.v AND (svec_hash(x.v) <> svec_hash(y.v)
                                             OR svec_hash_extended(x.v, 7) <> svec_hash_extended(y.v, 7))) AS hash_wrong,
       count(*) FILTER (WHERE x.v = y.v AND x.id <> y.id) AS equal_pairs
FROM vecs x JOIN vecs y ON x.seed = y.seed WHERE x.seed = 11;
-- the extended hash with seed 0 has the standard hash in its low 32 bits (PostgreSQL's rule)
SELECT bool_and((svec_hash_extended(v, 0) & 4294967295) = (svec_hash(v)::bigint & 4294967295)) AS low_bits_agree,
       count(DISTINCT svec_hash_extended(v, 1)) = count(DISTINCT v) AS seed_1_no_collision FROM vecs;

-- DISTINCT, GROUP BY, UNION, count(DISTINCT) by sort and by hash give the oracle's counts
SELECT count(DISTINCT k) AS oracle_distinct FROM vecs;
SET enable_hashagg = off;
SELECT (SELECT count(*) FROM (SELECT DISTINCT v FROM vecs) d) AS distinct_sorted,
       (SELECT count(*) FROM (SELECT v FROM vecs GROUP BY v) g) AS group_by_sorted,
       (SELECT count(*) FROM (SELECT v FROM vecs UNION SELECT v FROM vecs) u) AS union_sorted;
RESET enable_hashagg;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT v FROM vecs GROUP BY v;
SELECT (SELECT count(*) FROM (SELECT DISTINCT v FROM vecs) d) AS distinct_hashed,
       (SELECT count(*) FROM (SELECT v FROM vecs GROUP BY v) g) AS group_by_hashed,
       (SELECT count(*) FROM (SELECT v FROM vecs UNION SELECT v FROM vecs) u) AS union_hashed;
RESET enable_sort;
-- the groups are the oracle's groups
SELECT count(*) AS mismatched_groups FROM
  ((SELECT v, count(*) FROM vecs GROUP BY v EXCEPT ALL
    SELECT (array_agg(v))[1], count(*) FROM vecs GROUP BY k)
   UNION ALL
   (SELECT (array_agg(v))[1], count(*) FROM vecs GROUP BY k EXCEPT ALL
    SELECT v, count(*) FROM vecs GROUP BY v)) d;

-- btree and hash indexes answer as the table does
CREATE INDEX vecs_btree ON vecs USING btree (v);
CREATE INDEX vecs_hash ON vecs USING hash (v);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM vecs WHERE v < '{0:0.5}';
SELECT (SELECT count(*) FROM vecs WHERE v = '{1:0.5}') AS eq_by_index,
       (SELECT count(*) FROM vecs WHERE v < '{0:0.5}') AS lt_by_index,
       (SELECT count(*) FROM vecs WHERE v >= '{2147483647:-0.5}') AS ge_by_index;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT (SELECT count(*) FROM vecs WHERE k = svec_order_key('{1:0.5}')) AS eq_oracle,
       (SELECT count(*) FROM vecs WHERE k < svec_order_key('{0:0.5}')) AS lt_oracle,
       (SELECT count(*) FROM vecs WHERE k >= svec_order_key('{2147483647:-0.5}')) AS ge_oracle;
-- a unique btree index refuses a duplicate
CREATE TABLE svec_unique (v svec PRIMARY KEY);
INSERT INTO svec_unique VALUES ('{1:1}'), ('{1:1,2:1}');
INSERT INTO svec_unique VALUES ('{1:1}');
-- hash partitioning uses the extended hash
CREATE TABLE svec_parts (v svec) PARTITION BY HASH (v);
CREATE TABLE svec_parts_0 PARTITION OF svec_parts FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE svec_parts_1 PARTITION OF svec_parts FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO svec_parts SELECT v FROM vecs;
SELECT (SELECT count(*) FROM svec_parts_0) > 0 AND (SELECT count(*) FROM svec_parts_1) > 0 AS both_used,
       (SELECT count(*) FROM svec_parts WHERE v = '{1:0.5}') = (SELECT count(*) FROM vecs WHERE v = '{1:0.5}') AS pruned_lookup;
DROP TABLE svec_parts, svec_unique;
DROP FUNCTION svec_order_key(svec);
DROP TYPE svec_order_entry;
