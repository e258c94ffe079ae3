--
-- Limits: an svec holds at most 10,000,000 entries (SVEC_MAX_NNZ)
--
\set VERBOSITY default
\set SHOW_CONTEXT never

\i sql/include/helpers.sql

------------------------------------------------------------------------------
-- Exactly 10,000,000 entries: {1:1, 2:1, ..., 10000000:1}, built once in a
-- subquery (no table, no TOAST) and checked in the same query.
------------------------------------------------------------------------------
SELECT nnz(v),
       l2_norm(v) = sqrt(10000000::float8) AS "l2_norm = sqrt(1e7)",
       svec_top(v, 3) AS top3,
       inner_product(v, v) AS "v . v",
       v <-> v AS "v <-> v",
       -- {5:1, 20000000:1} . v = 1; |v| = sqrt(1e7), |w| = sqrt(2): cosine = 1 / sqrt(2e7)
       cosine_similarity(v, '{5:1,20000000:1}') = 1 / sqrt(20000000::float8) AS cos_ok,
       -- 1 common index / (1e7 + 2 - 1)
       jaccard_similarity('{5:1,20000000:1}', v) = 1 / 10000001::float8 AS jaccard_ok
FROM (SELECT svec(ARRAY(SELECT generate_series(1, 10000000)::bigint),
                  array_fill(1::real, ARRAY[10000000])) AS v
      OFFSET 0) s;

------------------------------------------------------------------------------
-- 10,000,001 entries: 54000 from every way of building an svec
------------------------------------------------------------------------------
SELECT try_detail($$SELECT nnz(svec(ARRAY(SELECT generate_series(1, 10000001)::bigint),
                              array_fill(1::real, ARRAY[10000001])))$$) AS from_arrays;
-- text: 10,000,001 entries (duplicates, but the count is checked first)
SELECT try_detail($$SELECT nnz(('{' || repeat('1:1,', 10000000) || '1:1}')::svec)$$) AS from_text;
-- sum of two disjoint 5,000,001-entry vectors (stored first, to build one at a time)
CREATE TEMP TABLE halves (id int, v svec);
INSERT INTO halves SELECT 1, svec(ARRAY(SELECT generate_series(1, 5000001)::bigint), array_fill(1::real, ARRAY[5000001]));
INSERT INTO halves SELECT 2, svec(ARRAY(SELECT generate_series(5000002, 10000002)::bigint), array_fill(-1::real, ARRAY[5000001]));
SELECT sum(nnz(v)) AS total_entries FROM halves;
SELECT try_detail($$SELECT nnz(a.v + b.v) FROM halves a, halves b WHERE a.id = 1 AND b.id = 2$$) AS from_sum;
-- but a half plus itself is fine: 5,000,001 entries of 2
SELECT nnz(v + v), svec_top(v + v, 2) FROM halves WHERE id = 1;
DROP TABLE halves;
-- svec_agg with 10,000,001 distinct indices
SELECT try_detail($$SELECT nnz(svec_agg(i, 1)) FROM generate_series(1, 10000001) i$$) AS from_agg;
-- (binary input with a count above the limit: see svec_io)

------------------------------------------------------------------------------
-- A large vector through text: 100,000 entries
------------------------------------------------------------------------------
CREATE TEMP TABLE big_text AS
SELECT '{' || string_agg((i::bigint * 1000003) || ':' || ((i % 1000) / 7.0)::real, ',' ORDER BY i) || '}' AS t
FROM generate_series(-50000, 49999) i WHERE i % 1000 <> 0;
SELECT length(t) > 1000000 AS long_text FROM big_text;
SELECT nnz(t::svec) AS nnz,
       t::svec::text = t AS canonical_round_trip,
       t::svec = svec(ARRAY(SELECT i::bigint * 1000003 FROM generate_series(-50000, 49999) i WHERE i % 1000 <> 0 ORDER BY i),
                      ARRAY(SELECT ((i % 1000) / 7.0)::real FROM generate_series(-50000, 49999) i WHERE i % 1000 <> 0 ORDER BY i))
         AS equals_array_form,
       t::svec::text::svec = t::svec AS svec_round_trip
FROM big_text;
-- the same entries in reverse order parse to the same svec
SELECT (SELECT '{' || string_agg(index || ':' || value, ',' ORDER BY index DESC) || '}'
        FROM svec_each(t::svec))::svec = t::svec AS reversed_equal
FROM big_text;

DROP FUNCTION try(text), try_detail(text);
