--
-- svec constructors, accessors, arithmetic and equality
--
\set VERBOSITY default
\set SHOW_CONTEXT never

\i sql/include/helpers.sql

------------------------------------------------------------------------------
-- svec(bigint[], real[])
------------------------------------------------------------------------------
SELECT q, try_detail('SELECT ' || q) AS result FROM (VALUES
  ($$svec('{1,2,3}'::bigint[], '{1.5,-2,3}'::real[])$$),
  ($$svec('{3,1,2}'::bigint[], '{1,2,3}'::real[])$$),          -- sorted by index
  ($$svec('{}'::bigint[], '{}'::real[])$$),
  ($$svec(ARRAY[]::bigint[], ARRAY[]::real[])$$),
  ($$svec('{1,2,3}'::bigint[], '{0,-0,5}'::real[])$$),         -- zeros dropped
  ($$svec('{1,2}'::bigint[], '{0,0}'::real[])$$),
  ($$svec('{-9223372036854775808,9223372036854775807}'::bigint[], '{1e-45,3.4028235e38}'::real[])$$),
  ($$svec('[0:1]={5,6}'::bigint[], '[3:4]={1,2}'::real[])$$),  -- lower bounds do not matter
  ($$svec(ARRAY[1,2]::bigint[], ARRAY[0.1,0.2]::real[])$$),
  -- mismatched lengths
  ($$svec('{1,2}'::bigint[], '{1}'::real[])$$),
  ($$svec('{1}'::bigint[], '{}'::real[])$$),
  ($$svec('{}'::bigint[], '{1}'::real[])$$),
  -- NULL elements: 22004
  ($$svec('{1,NULL}'::bigint[], '{1,2}'::real[])$$),
  ($$svec('{1,2}'::bigint[], '{1,NULL}'::real[])$$),
  ($$svec('{NULL}'::bigint[], '{NULL}'::real[])$$),
  -- more than one dimension
  ($$svec('{{1,2}}'::bigint[], '{1,2}'::real[])$$),
  ($$svec('{1,2}'::bigint[], '{{1,2}}'::real[])$$),
  ($$svec('{{1},{2}}'::bigint[], '{{1},{2}}'::real[])$$),
  -- duplicates: 22023, even when the values are zero
  ($$svec('{1,2,1}'::bigint[], '{1,2,3}'::real[])$$),
  ($$svec('{1,2,1}'::bigint[], '{0,2,0}'::real[])$$),
  ($$svec('{7,7}'::bigint[], '{1,1}'::real[])$$),
  -- NaN: 22023, infinities: 22003
  ($$svec('{1,2}'::bigint[], '{NaN,1}'::real[])$$),
  ($$svec('{1,2}'::bigint[], '{1,Infinity}'::real[])$$),
  ($$svec('{1,2}'::bigint[], '{1,-Infinity}'::real[])$$),
  ($$svec('{1,1}'::bigint[], '{1,NaN}'::real[])$$)
) t(q);

------------------------------------------------------------------------------
-- svec_each, svec_indices, svec_values, nnz
------------------------------------------------------------------------------
SELECT * FROM svec_each('{3:1.5,-7:2,100:-0.25}');
SELECT * FROM svec_each('{}');
SELECT index, value, pg_typeof(index), pg_typeof(value) FROM svec_each('{9223372036854775807:1e-45}');
SELECT e.* FROM (VALUES (1, '{1:1,2:2}'::svec), (2, '{}'), (3, '{5:-5}')) t(id, v), svec_each(v) e ORDER BY id, index;

SELECT svec_indices('{3:1.5,-7:2,100:-0.25}'), svec_values('{3:1.5,-7:2,100:-0.25}');
SELECT svec_indices('{}'), svec_values('{}'), cardinality(svec_indices('{}')), cardinality(svec_values('{}'));
SELECT array_dims(svec_indices('{4:1,5:2}')), array_dims(svec_values('{4:1,5:2}')),
       pg_typeof(svec_indices('{1:1}')), pg_typeof(svec_values('{1:1}'));
SELECT svec(svec_indices(v), svec_values(v)) = v AS round_trip
FROM (VALUES ('{3:1.5,-7:2,100:-0.25}'::svec), ('{}')) t(v);

SELECT nnz('{}'), nnz('{1:1}'), nnz('{1:1,5:0,9:2}'), nnz('{-1:1,0:1,1:1}'), pg_typeof(nnz('{}'));

------------------------------------------------------------------------------
-- l2_norm, svec_normalize
------------------------------------------------------------------------------
-- sqrt(9 + 16) = 5; sqrt(4) = 2; empty = 0
SELECT l2_norm('{1:3,2:4}'), l2_norm('{}'), l2_norm('{1:-2}'), l2_norm('{1:1,2:1,3:1,4:1}');
-- 2^-149 exactly; sqrt(FLT_MAX^2 + FLT_MAX^2) (no overflow: computed in double)
SELECT l2_norm('{1:1e-45}') = 2 ^ -149::float8 AS denormal,
       l2_norm('{1:3.4028235e38,2:3.4028235e38}')
         = sqrt(2 * (3.4028234663852886e38::float8 * 3.4028234663852886e38::float8)) AS flt_max;

-- {3,4} / 5 = {0.6, 0.8}; {-2} / 2 = {-1}; each of three 1s / sqrt(3) = 0.57735026 as real
SELECT svec_normalize('{1:3,2:4}'), svec_normalize('{}'), svec_normalize('{5:-2}'),
       svec_normalize('{1:1,2:1,3:1}'), svec_normalize('{1:3.4028235e38,2:3.4028235e38}');
-- values that become zero after scaling are dropped
SELECT svec_normalize('{1:1e-45,2:1}'), svec_normalize('{1:1e-45,2:1e30}');
-- the result has norm 1 (to real precision) and keeps the direction
SELECT count(*) FILTER (WHERE abs(l2_norm(svec_normalize(v)) - 1) > 1e-6) AS bad_norm,
       count(*) FILTER (WHERE svec_indices(svec_normalize(v)) <> svec_indices(v)) AS bad_indices,
       count(*) FILTER (WHERE cosine_similarity(svec_normalize(v), v) < 1 - 1e-6) AS bad_direction
FROM (SELECT svec_agg(i, (random() * 200 - 100)::real) AS v
      FROM generate_series(1, 100) g, generate_series(1, (g % 13) + 1) i GROUP BY g) s;

------------------------------------------------------------------------------
-- svec_top
------------------------------------------------------------------------------
-- values 5,3,5,1,3 at 1..5: ties go to the smaller index; the result keeps index order
SELECT k, svec_top('{1:5,2:3,3:5,4:1,5:3}', k) FROM generate_series(0, 7) k;
SELECT svec_top('{}', 0), svec_top('{}', 3), svec_top('{1:1}', 2147483647),
       svec_top('{1:-1,2:-3,3:2}', 2), svec_top('{1:-1,2:-1,3:-1}', 1), svec_top('{10:-1,2:-1,3:-1}', 2),
       svec_top('{1:1e-45,2:-1e-45}', 1), svec_top('{-5:2,5:2}', 1);
SELECT try_detail($$SELECT svec_top('{1:1}', -1)$$) AS try, try_detail($$SELECT svec_top('{}', -2147483648)$$) AS try;
-- agrees with ORDER BY value DESC, index LIMIT k on random vectors
SELECT count(*) AS mismatches
FROM (SELECT g, svec_agg(i, (random() * 10)::int - 5) AS v
      FROM generate_series(1, 50) g, generate_series(1, 40) i GROUP BY g) s,
     generate_series(0, 45) k
WHERE svec_top(v, k) <> (SELECT coalesce(svec_agg(index, value), '{}')
                         FROM (SELECT * FROM svec_each(v) ORDER BY value DESC, index LIMIT k) e);

------------------------------------------------------------------------------
-- + (entry-wise sum)
------------------------------------------------------------------------------
-- {1:1,3:2} + {2:5,3:-2,4:1}: index 3 cancels (2 - 2 = 0) and is dropped
SELECT '{1:1,3:2}'::svec + '{2:5,3:-2,4:1}' AS sum;
SELECT '{}'::svec + '{}' AS a, '{1:1}'::svec + '{}' AS b, '{}'::svec + '{1:1}' AS c,
       '{1:1,2:2}'::svec + '{1:-1,2:-2}' AS cancel, '{1:0.1}'::svec + '{1:0.2}' AS tenths,
       '{-9223372036854775808:1}'::svec + '{9223372036854775807:1}' AS extremes;
-- FLT_MIN + -(largest denormal) = smallest denormal, no underflow error
SELECT '{1:1.17549435e-38}'::svec + '{1:-1.1754942e-38}' AS tiny;
-- commutative, and svec_add is the same function
SELECT ('{1:1,3:2}'::svec + '{2:5,3:-1}') = ('{2:5,3:-1}'::svec + '{1:1,3:2}') AS commutes,
       svec_add('{1:1}', '{1:2,2:1}');
-- FLT_MAX + 1 rounds back to FLT_MAX; 3e38 + 3e38 overflows: 22003
SELECT try_detail($$SELECT '{1:3.4028235e38}'::svec + '{1:1}'$$) AS no_overflow,
       try_detail($$SELECT '{1:3e38,2:1}'::svec + '{1:3e38}'$$) AS overflow,
       try_detail($$SELECT '{1:-3e38}'::svec + '{1:-3e38}'$$) AS negative_overflow;

------------------------------------------------------------------------------
-- * real
------------------------------------------------------------------------------
SELECT '{1:2,2:-3}'::svec * 0.5 AS half, '{1:2,2:-3}'::svec * -1 AS neg, '{}'::svec * 5 AS empty,
       '{1:1e-45}'::svec * 1 AS denormal, '{1:3}'::svec * 0.1 AS tenth, svec_mul('{1:2}', 3);
-- by zero (or -0) gives {}
SELECT '{1:2,2:-3}'::svec * 0 AS zero, '{1:2,2:-3}'::svec * '-0'::real AS minus_zero, '{}'::svec * 0 AS empty_zero;
SELECT try_detail($$SELECT '{1:2e38}'::svec * 2$$) AS overflow,
       try_detail($$SELECT '{1:-2e38}'::svec * 2$$) AS negative_overflow,
       try_detail($$SELECT '{1:1e-40}'::svec * 1e-10$$) AS underflow,
       try_detail($$SELECT '{1:1e-45}'::svec * 0.5$$) AS denormal_underflow,
       try_detail($$SELECT '{1:1,2:1e-44}'::svec * 0.01$$) AS partial_underflow;
SELECT try_detail($$SELECT '{1:2}'::svec * 'NaN'$$) AS nan,
       try_detail($$SELECT '{}'::svec * 'NaN'$$) AS nan_empty,
       try_detail($$SELECT '{1:2}'::svec * 'Infinity'$$) AS inf,
       try_detail($$SELECT '{1:2}'::svec * '-Infinity'$$) AS minus_inf,
       try_detail($$SELECT '{}'::svec * 'Infinity'$$) AS inf_empty;
-- the operator is svec * real only
SELECT try_detail($$SELECT 2::real * '{1:1}'::svec$$) AS try;

------------------------------------------------------------------------------
-- = and <>
------------------------------------------------------------------------------
SELECT a, b, a = b AS eq, a <> b AS ne, svec_eq(a, b), svec_ne(a, b)
FROM (VALUES
  ('{1:1,2:2}'::svec, '{2:2,1:1}'::svec),
  ('{1:1}', '{1:1,2:0}'),
  ('{1:1}', '{1:1.0000001}'),
  ('{1:1}', '{2:1}'),
  ('{1:1}', '{1:1,2:1}'),
  ('{}', '{}'),
  ('{}', '{1:-0}'),
  ('{}', '{1:1}'),
  ('{1:1}', '{1:-1}'),
  ('{1:0.1}', '{1:0.1}/1')
) t(a, b);
SELECT ('{1:1}'::svec + '{1:-1}') = '{}' AS cancelled_is_empty,
       ('{1:2,2:4}'::svec * 0.5) = '{1:1,2:2}' AS scaled;

------------------------------------------------------------------------------
-- NULL handling: every function and operator is STRICT
------------------------------------------------------------------------------
SELECT q, try_detail('SELECT ' || q) AS result FROM (VALUES
  ('svec_out(NULL)'),
  ('svec_send(NULL)'),
  ('NULL::svec'),
  ('svec(NULL::bigint[], ''{1}''::real[])'),
  ('svec(''{1}''::bigint[], NULL::real[])'),
  ('svec(NULL, NULL)'),
  ('(SELECT count(*) FROM svec_each(NULL))'),
  ('svec_indices(NULL)'),
  ('svec_values(NULL)'),
  ('nnz(NULL)'),
  ('l2_norm(NULL)'),
  ('svec_normalize(NULL)'),
  ('svec_top(NULL, 1)'),
  ('svec_top(''{1:1}'', NULL)'),
  ('svec_top(''{1:1}'', -1 + NULL)'),
  ('svec_add(NULL, ''{1:1}'')'),
  ('''{1:1}''::svec + NULL'),
  ('NULL + ''{1:1}''::svec'),
  ('svec_mul(NULL, 2)'),
  ('svec_mul(''{1:1}'', NULL)'),
  ('NULL::svec * 2'),
  ('''{1:1}''::svec * NULL'),
  ('svec_eq(NULL, ''{}'')'),
  ('''{}''::svec = NULL'),
  ('NULL = ''{}''::svec'),
  ('svec_ne(''{}'', NULL)'),
  ('''{}''::svec <> NULL'),
  ('cosine_similarity(NULL, ''{1:1}'')'),
  ('cosine_similarity(''{1:1}'', NULL)'),
  ('cosine_distance(NULL, ''{}'')'),
  ('''{1:1}''::svec <=> NULL'),
  ('NULL <=> ''{1:1}''::svec'),
  ('inner_product(NULL, ''{1:1}'')'),
  ('negative_inner_product(''{1:1}'', NULL)'),
  ('''{1:1}''::svec <#> NULL'),
  ('l2_distance(NULL, ''{1:1}'')'),
  ('NULL <-> ''{1:1}''::svec'),
  ('jaccard_similarity(''{}'', NULL)')
) t(q);

DROP FUNCTION try(text), try_detail(text);
