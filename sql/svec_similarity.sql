--
-- Similarity and distance: cosine_similarity, cosine_distance (<=>), inner_product,
-- negative_inner_product (<#>), l2_distance (<->), jaccard_similarity
--
\set VERBOSITY default
\set SHOW_CONTEXT never

------------------------------------------------------------------------------
-- Hand-computed fixture
--   a = {1:1, 2:2, 4:3}      b = {2:4, 3:1, 4:-1}
--   a.b     = 2*4 + 3*(-1)                     = 5
--   |a|^2   = 1 + 4 + 9 = 14,  |b|^2 = 16 + 1 + 1 = 18
--   cosine  = 5 / sqrt(14 * 18) = 5 / sqrt(252) = 0.314970394174356...
--   l2      = sqrt(1^2 + (2-4)^2 + (0-1)^2 + (3+1)^2) = sqrt(1 + 4 + 1 + 16) = sqrt(22) = 4.690415759823...
--   jaccard = |{2,4}| / |{1,2,3,4}| = 2 / 4 = 0.5
------------------------------------------------------------------------------
CREATE TEMP TABLE fx (a svec, b svec);
INSERT INTO fx VALUES ('{1:1,2:2,4:3}', '{2:4,3:1,4:-1}');

SELECT round(cosine_similarity(a, b)::numeric, 12) AS cos_sim,
       round(cosine_distance(a, b)::numeric, 12) AS cos_dist,
       round((a <=> b)::numeric, 12) AS "<=>",
       inner_product(a, b), negative_inner_product(a, b), a <#> b AS "<#>",
       l2_distance(a, b), a <-> b AS "<->", jaccard_similarity(a, b)
FROM fx;
SELECT abs(cosine_similarity(a, b) - 5 / sqrt(252::float8)) < 1e-15 AS cos_ok,
       cosine_distance(a, b) = 1 - cosine_similarity(a, b) AS dist_is_one_minus_sim,
       l2_distance(a, b) = sqrt(22::float8) AS l2_exact,
       inner_product(a, b) = 5 AS ip_exact
FROM fx;
-- every function and operator is symmetric
SELECT cosine_similarity(a, b) = cosine_similarity(b, a) AS cos, a <=> b = b <=> a AS "<=>",
       inner_product(a, b) = inner_product(b, a) AS ip, a <#> b = b <#> a AS "<#>",
       a <-> b = b <-> a AS "<->", jaccard_similarity(a, b) = jaccard_similarity(b, a) AS jaccard
FROM fx;

------------------------------------------------------------------------------
-- Negative values
--   a = {1:-1, 2:2}   b = {1:3, 2:-4}
--   a.b = -3 - 8 = -11;  |a| = sqrt(5), |b| = 5
--   cosine = -11 / (5 sqrt(5)) = -0.983869910099907...
--   l2 = sqrt((-1-3)^2 + (2+4)^2) = sqrt(16 + 36) = sqrt(52) = 7.211102550927...
--   jaccard = 2 / 2 = 1 (values are ignored)
------------------------------------------------------------------------------
SELECT round(cosine_similarity(a, b)::numeric, 12) AS cos_sim,
       round((a <=> b)::numeric, 12) AS "<=>",
       inner_product(a, b), a <#> b AS "<#>",
       l2_distance(a, b) = sqrt(52::float8) AS l2_exact, round((a <-> b)::numeric, 12) AS "<->",
       jaccard_similarity(a, b)
FROM (VALUES ('{1:-1,2:2}'::svec, '{1:3,2:-4}'::svec)) t(a, b);

------------------------------------------------------------------------------
-- Empty vectors: cosine similarity 0 and distance 1 (as scikit-learn),
-- inner product 0, l2 = norm of the other, jaccard 0
------------------------------------------------------------------------------
SELECT a, b, cosine_similarity(a, b) AS cos_sim, a <=> b AS "<=>", cosine_distance(a, b) AS cos_dist,
       inner_product(a, b) AS ip, (a <#> b) = 0 AS "<#> = 0", negative_inner_product(a, b) = 0 AS nip_zero,
       l2_distance(a, b) AS l2, a <-> b AS "<->", jaccard_similarity(a, b) AS jaccard
FROM (VALUES ('{}'::svec, '{}'::svec), ('{}', '{1:3,2:4}'), ('{1:3,2:4}', '{}')) t(a, b);

------------------------------------------------------------------------------
-- Disjoint vectors: cosine 0, distance 1, inner product 0, jaccard 0
--   l2 = sqrt(1 + 4 + 1 + 4) = sqrt(10)
------------------------------------------------------------------------------
SELECT a, b, cosine_similarity(a, b) AS cos_sim, a <=> b AS "<=>", inner_product(a, b) AS ip,
       (a <#> b) = 0 AS "<#> = 0", l2_distance(a, b) = sqrt(10::float8) AS l2_exact,
       jaccard_similarity(a, b) AS jaccard
FROM (VALUES ('{1:1,2:2}'::svec, '{3:1,4:2}'::svec),         -- disjoint ranges
             ('{1:1,3:2}', '{2:1,4:2}'),                     -- interleaved
             ('{-9223372036854775808:1,9223372036854775807:2}', '{0:1,1:2}')) t(a, b);

------------------------------------------------------------------------------
-- Identical vectors: cosine similarity exactly 1, cosine distance exactly 0,
-- l2 exactly 0, jaccard exactly 1
------------------------------------------------------------------------------
SELECT v, cosine_similarity(v, v) AS cos_sim, v <=> v AS "<=>", cosine_distance(v, v) AS cos_dist,
       v <-> v AS "<->", jaccard_similarity(v, v) AS jaccard
FROM (VALUES ('{1:1}'::svec), ('{1:1,2:2}'), ('{1:1,2:1}'), ('{1:0.1,5:0.7,9:-0.3333}'),
             ('{1:1e-45}'), ('{1:3e38,2:3e38}'), ('{7:-4}')) t(v);
SELECT count(*) AS vectors,
       count(*) FILTER (WHERE cosine_similarity(v, v) <> 1) AS cos_not_1,
       count(*) FILTER (WHERE (v <=> v) <> 0) AS dist_not_0,
       count(*) FILTER (WHERE (v <-> v) <> 0) AS l2_not_0,
       count(*) FILTER (WHERE jaccard_similarity(v, v) <> 1) AS jaccard_not_1
FROM (SELECT svec_agg(i, ((g * 7 + i * 13) % 11) - 5) AS v
      FROM generate_series(1, 200) g, generate_series(1, g % 17 + 1) i GROUP BY g) s
WHERE nnz(v) > 0;
-- opposite vectors: cosine -1 and distance 2 (to rounding), inner product -|v|^2
SELECT round(cosine_similarity(a, b)::numeric, 14) AS cos_sim, round((a <=> b)::numeric, 14) AS "<=>",
       inner_product(a, b), l2_distance(a, b) = 2 * sqrt(5::float8) AS l2_exact
FROM (VALUES ('{1:1,2:2}'::svec, '{1:-1,2:-2}'::svec)) t(a, b);
-- cosine stays within [-1, 1]
SELECT count(*) FILTER (WHERE cosine_similarity(a, b) NOT BETWEEN -1 AND 1) AS out_of_range,
       count(*) FILTER (WHERE (a <=> b) NOT BETWEEN 0 AND 2) AS dist_out_of_range
FROM (SELECT svec_agg(i, ((g * 7 + i * 13) % 11) - 5) AS a,
             svec_agg(i, ((g * 7 + i * 13) % 11) - 5) * (((g % 3) - 1) * 2 + 0.5)::real AS b
      FROM generate_series(1, 200) g, generate_series(1, g % 17 + 1) i GROUP BY g) s;

------------------------------------------------------------------------------
-- Galloping: a short vector against a 1000-entry one (ratio >= 16), compared
-- with a brute-force computation over svec_each.  The short vector probes an
-- index before the first, the first, absent indices between, the middle, the
-- last and one after the last.
------------------------------------------------------------------------------
CREATE TEMP TABLE gal (name text, v svec);
INSERT INTO gal SELECT 'long', svec(array_agg(3 * i), array_agg((i / 7.0)::real)) FROM generate_series(1, 1000) i;
INSERT INTO gal VALUES ('short', '{1:1,3:2,1500:3,1501:4,1502:-5,2999:5,3000:6,4000:7}'),
                       ('short_disjoint', '{1:1,2:2,3001:3}'),
                       ('one', '{1500:2}'),
                       ('first', '{3:1}'),
                       ('last', '{3000:-1}');
-- at the ratio boundary: 160 entries against 10 (gallop) and against 11 (merge)
INSERT INTO gal SELECT 'long160', svec(array_agg(2 * i), array_agg((i % 5 + 1)::real)) FROM generate_series(1, 160) i;
INSERT INTO gal SELECT 'ten', svec(array_agg(i * 31), array_agg(i::real)) FROM generate_series(1, 10) i;
INSERT INTO gal SELECT 'eleven', svec(array_agg(i * 29), array_agg(-i::real)) FROM generate_series(1, 11) i;

-- brute force: sums over the joined entries in ascending index order, in double
CREATE FUNCTION bf_dot(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
  SELECT coalesce(sum(x.value::float8 * y.value::float8 ORDER BY x.index), 0)
  FROM svec_each(a) x JOIN svec_each(b) y USING (index)
$$;
CREATE FUNCTION bf_norm(a svec) RETURNS float8 LANGUAGE sql AS $$
  SELECT sqrt(coalesce(sum(x.value::float8 * x.value::float8 ORDER BY x.index), 0)) FROM svec_each(a) x
$$;
CREATE FUNCTION bf_cos(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
  SELECT CASE WHEN bf_norm(a) = 0 OR bf_norm(b) = 0 THEN 0
              ELSE greatest(-1, least(1, bf_dot(a, b) / sqrt(bf_dot(a, a) * bf_dot(b, b)))) END
$$;
CREATE FUNCTION bf_l2(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
  SELECT sqrt(coalesce(sum((coalesce(x.value, 0)::float8 - coalesce(y.value, 0)::float8) ^ 2
                           ORDER BY coalesce(x.index, y.index)), 0))
  FROM svec_each(a) x FULL JOIN svec_each(b) y USING (index)
$$;
CREATE FUNCTION bf_jaccard(a svec, b svec) RETURNS float8 LANGUAGE sql AS $$
  SELECT CASE WHEN count(*) = 0 THEN 0
              ELSE count(x.index) FILTER (WHERE y.index IS NOT NULL)::float8 / count(*) END
  FROM svec_each(a) x FULL JOIN svec_each(b) y USING (index)
$$;
-- close(x, y): equal within 1e-9 relative
CREATE FUNCTION close(x float8, y float8) RETURNS boolean LANGUAGE sql AS $$
  SELECT abs(x - y) <= 1e-9 * greatest(abs(x), abs(y))
$$;

-- long . short = 3:2 -> 1/7*2, 1500 -> 500/7*3, 1501/1502 absent, 3000 -> 1000/7*6
--   = (2 + 1500 + 6000) / 7 = 7502/7 (up to real rounding of i/7)
SELECT s.name, nnz(s.v) AS short_nnz, nnz(l.v) AS long_nnz,
       inner_product(s.v, l.v) AS ip, inner_product(s.v, l.v) = bf_dot(s.v, l.v) AS ip_exact,
       inner_product(l.v, s.v) = bf_dot(s.v, l.v) AS ip_swapped_exact,
       close(cosine_similarity(s.v, l.v), bf_cos(s.v, l.v)) AS cos_ok,
       close(s.v <=> l.v, 1 - bf_cos(s.v, l.v)) AS "<=> ok",
       close(l2_distance(s.v, l.v), bf_l2(s.v, l.v)) AS l2_ok,
       jaccard_similarity(s.v, l.v) = bf_jaccard(s.v, l.v) AS jaccard_exact,
       jaccard_similarity(l.v, s.v) = bf_jaccard(s.v, l.v) AS jaccard_swapped_exact
FROM gal s, gal l
WHERE l.name = 'long' AND s.name IN ('short', 'short_disjoint', 'one', 'first', 'last')
ORDER BY s.name;
SELECT round(inner_product(s.v, l.v)::numeric, 4) AS ip, round(7502 / 7.0, 4) AS hand,
       jaccard_similarity(s.v, l.v) AS jaccard, round(3 / 1005.0, 15) AS "hand: 3 common / 1005"
FROM gal s, gal l WHERE s.name = 'short' AND l.name = 'long';
SELECT s.name, inner_product(s.v, l.v) = bf_dot(s.v, l.v) AS ip_exact,
       close(cosine_similarity(l.v, s.v), bf_cos(s.v, l.v)) AS cos_ok,
       jaccard_similarity(l.v, s.v) = bf_jaccard(s.v, l.v) AS jaccard_exact,
       jaccard_similarity(l.v, s.v) AS jaccard
FROM gal s, gal l
WHERE l.name = 'long160' AND s.name IN ('ten', 'eleven')
ORDER BY s.name;

------------------------------------------------------------------------------
-- Consistency on random pairs: every operator and function against the
-- brute-force formulas, within 1e-9 relative; symmetric bit for bit
------------------------------------------------------------------------------
SELECT setseed(0.42);
CREATE TEMP TABLE rv AS
SELECT g, svec_agg(i, v) AS v
FROM (SELECT g, i, ((random() - 0.5) * 100)::real AS v
      FROM generate_series(1, 400) g,
           LATERAL (SELECT DISTINCT (random() * CASE WHEN g % 4 = 0 THEN 5000 ELSE 300 END)::bigint AS i
                    FROM generate_series(1, CASE WHEN g % 4 = 0 THEN 800
                                                 WHEN g % 4 = 1 THEN (g % 7)
                                                 ELSE 20 + g % 50 END) k
                    WHERE g > 0) idx) e
GROUP BY g;
INSERT INTO rv VALUES (401, '{}'), (402, '{}');
CREATE TEMP TABLE pairs AS
SELECT a.v AS a, b.v AS b FROM rv a JOIN rv b ON b.g = a.g % 400 + 1 + (a.g % 3)
UNION ALL SELECT a.v, a.v FROM rv a WHERE a.g <= 10
UNION ALL SELECT '{}', v FROM rv WHERE g <= 5;
SELECT count(*) >= 200 AS enough_pairs,
       count(*) FILTER (WHERE nnz(a) * 16 <= nnz(b) OR nnz(b) * 16 <= nnz(a)) > 20 AS enough_galloping
FROM pairs;
SELECT count(*) FILTER (WHERE NOT close(inner_product(a, b), bf_dot(a, b))) AS ip,
       count(*) FILTER (WHERE NOT close(negative_inner_product(a, b), -bf_dot(a, b))) AS nip,
       count(*) FILTER (WHERE NOT close(a <#> b, -bf_dot(a, b))) AS "<#>",
       count(*) FILTER (WHERE NOT close(cosine_similarity(a, b), bf_cos(a, b))) AS cos,
       count(*) FILTER (WHERE NOT close(cosine_distance(a, b), 1 - bf_cos(a, b))) AS cos_dist,
       count(*) FILTER (WHERE NOT close(a <=> b, 1 - bf_cos(a, b))) AS "<=>",
       count(*) FILTER (WHERE NOT close(l2_distance(a, b), bf_l2(a, b))) AS l2,
       count(*) FILTER (WHERE NOT close(a <-> b, bf_l2(a, b))) AS "<->",
       count(*) FILTER (WHERE NOT close(jaccard_similarity(a, b), bf_jaccard(a, b))) AS jaccard,
       count(*) FILTER (WHERE NOT close(l2_norm(a), bf_norm(a))) AS norm
FROM pairs;
SELECT count(*) FILTER (WHERE inner_product(a, b) <> inner_product(b, a)) AS ip,
       count(*) FILTER (WHERE cosine_similarity(a, b) <> cosine_similarity(b, a)) AS cos,
       count(*) FILTER (WHERE (a <=> b) <> (b <=> a)) AS "<=>",
       count(*) FILTER (WHERE (a <#> b) <> (b <#> a)) AS "<#>",
       count(*) FILTER (WHERE (a <-> b) <> (b <-> a)) AS "<->",
       count(*) FILTER (WHERE jaccard_similarity(a, b) <> jaccard_similarity(b, a)) AS jaccard,
       count(*) FILTER (WHERE cosine_distance(a, b) <> 1 - cosine_similarity(a, b)) AS dist_vs_sim,
       count(*) FILTER (WHERE (a <#> b) <> -inner_product(a, b)) AS nip_vs_ip
FROM pairs;

-- Short values (under 127 bytes) are read in place from the table, unaligned;
-- the same values rebuilt in memory (a + '{}' has a 4-byte header) go the
-- usual way.  Both must agree bit for bit, for int32 and int64 indices alike.
CREATE TEMP TABLE short_pairs AS
SELECT a, b FROM (VALUES ('{}'::svec, '{}'::svec), ('{}', '{1:1}'), ('{1:1}', '{1:-2}'),
	('{1:0.5,2:0.25,7:3}', '{2:4,7:-1,9:2}'), ('{-5:1,0:2,5:3}', '{-5:1,5:-3}'),
	('{1:1,2:2,3:3,4:4,5:5,6:6,7:7,8:8,9:9,10:10,11:11,12:12,13:13}', '{2:1,4:1,6:1,8:1,10:1,12:1,14:1}'),
	('{3000000000:1,3000000001:2}', '{3000000001:3}'), ('{1:1}', '{3000000000:1}')) v(a, b)
UNION ALL
SELECT a, b FROM pairs WHERE pg_column_size(a) < 127 AND pg_column_size(b) < 127;
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE pg_column_size(a) < 127 AND pg_column_size(b) < 127) AS both_short,
       count(*) FILTER (WHERE (a <=> b) IS DISTINCT FROM ((a + '{}') <=> (b + '{}'))) AS "<=>",
       count(*) FILTER (WHERE (a <#> b) IS DISTINCT FROM ((a + '{}') <#> (b + '{}'))) AS "<#>",
       count(*) FILTER (WHERE cosine_similarity(a, b) IS DISTINCT FROM cosine_similarity(a + '{}', b + '{}')) AS cos,
       count(*) FILTER (WHERE inner_product(a, b) IS DISTINCT FROM inner_product(a + '{}', b + '{}')) AS ip,
       count(*) FILTER (WHERE (a <=> b) IS DISTINCT FROM (a <=> (b + '{}'))) AS mixed
FROM short_pairs;
SELECT a, b, a <=> b AS cos_dist, a <#> b AS neg_ip FROM short_pairs LIMIT 8;

DROP FUNCTION close(float8, float8);
DROP FUNCTION bf_jaccard(svec, svec);
DROP FUNCTION bf_l2(svec, svec);
DROP FUNCTION bf_cos(svec, svec);
DROP FUNCTION bf_norm(svec);
DROP FUNCTION bf_dot(svec, svec);
