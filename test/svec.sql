-- pgTAP suite for the svec type: catalog shape, properties of every function,
-- a few errors and results, and a clean DROP EXTENSION.
-- Run with: pg_prove -d <db> test/*.sql   (in a database with CREATE EXTENSION pgtap)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS itemcf;

SELECT plan(143);

-- The functions of the extension and their argument types
CREATE TEMP TABLE svec_funcs (fname name, args name[], rettype text, strict boolean) ON COMMIT DROP;
INSERT INTO svec_funcs VALUES
  ('svec_in',                ARRAY['cstring', 'oid', 'integer'],    'svec',             true),
  ('svec_out',               ARRAY['svec'],                         'cstring',          true),
  ('svec_recv',              ARRAY['internal', 'oid', 'integer'],   'svec',             true),
  ('svec_send',              ARRAY['svec'],                         'bytea',            true),
  ('svec',                   ARRAY['bigint[]', 'real[]'],           'svec',             true),
  ('svec_each',              ARRAY['svec'],                         'setof record',     true),
  ('svec_indices',           ARRAY['svec'],                         'bigint[]',         true),
  ('svec_values',            ARRAY['svec'],                         'real[]',           true),
  ('nnz',                    ARRAY['svec'],                         'integer',          true),
  ('l2_norm',                ARRAY['svec'],                         'double precision', true),
  ('svec_normalize',         ARRAY['svec'],                         'svec',             true),
  ('svec_top',               ARRAY['svec', 'integer'],              'svec',             true),
  ('svec_add',               ARRAY['svec', 'svec'],                 'svec',             true),
  ('svec_mul',               ARRAY['svec', 'real'],                 'svec',             true),
  ('svec_eq',                ARRAY['svec', 'svec'],                 'boolean',          true),
  ('svec_ne',                ARRAY['svec', 'svec'],                 'boolean',          true),
  ('cosine_similarity',      ARRAY['svec', 'svec'],                 'double precision', true),
  ('cosine_distance',        ARRAY['svec', 'svec'],                 'double precision', true),
  ('inner_product',          ARRAY['svec', 'svec'],                 'double precision', true),
  ('negative_inner_product', ARRAY['svec', 'svec'],                 'double precision', true),
  ('l2_distance',            ARRAY['svec', 'svec'],                 'double precision', true),
  ('jaccard_similarity',     ARRAY['svec', 'svec'],                 'double precision', true),
  ('svec_agg_transfn',       ARRAY['internal', 'bigint', 'real'],   'internal',         false),
  ('svec_agg_combinefn',     ARRAY['internal', 'internal'],         'internal',         false),
  ('svec_agg_serialfn',      ARRAY['internal'],                     'bytea',            true),
  ('svec_agg_deserialfn',    ARRAY['bytea', 'internal'],            'internal',         true),
  ('svec_agg_finalfn',       ARRAY['internal'],                     'svec',             false);

-- 1: the type
SELECT has_type('svec');

-- 2-28: every function exists with its argument types (27)
SELECT has_function(fname, args) FROM svec_funcs ORDER BY fname, args;
-- 29-55: ... and returns its type (27)
SELECT function_returns(fname, args, rettype) FROM svec_funcs ORDER BY fname, args;
-- 56-82: every function is IMMUTABLE (27)
SELECT volatility_is(fname, args, 'immutable') FROM svec_funcs ORDER BY fname, args;
-- 83-109: STRICT except the aggregate's transition, combine and final functions (27)
SELECT CASE WHEN strict THEN is_strict(fname, args) ELSE isnt_strict(fname, args) END
FROM svec_funcs ORDER BY fname, args;

-- 110-111: the aggregate
SELECT has_function('svec_agg', ARRAY['bigint', 'real']);
SELECT is_aggregate('svec_agg', ARRAY['bigint', 'real']);

-- 112: every function of the extension is PARALLEL SAFE
SELECT is(
  (SELECT count(*) FROM pg_proc p
     JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
     JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'itemcf'
    WHERE p.proname IN (SELECT fname FROM svec_funcs UNION SELECT 'svec_agg')
      AND p.proparallel <> 's'),
  0::bigint,
  'every svec function and svec_agg is PARALLEL SAFE');

-- 113-119: operators
SELECT has_operator(l, op, r, ret, format('operator %s(%s, %s) returns %s', op, l, r, ret))
FROM (VALUES ('svec'::name, '+'::name,   'svec'::name, 'svec'::name),
             ('svec',       '*',         'real',       'svec'),
             ('svec',       '=',         'svec',       'boolean'),
             ('svec',       '<>',        'svec',       'boolean'),
             ('svec',       '<=>',       'svec',       'double precision'),
             ('svec',       '<#>',       'svec',       'double precision'),
             ('svec',       '<->',       'svec',       'double precision')) t(l, op, r, ret);

-- 120-128: errors, with SQLSTATE and message
SELECT throws_ok($$SELECT '{1:1,}'::svec$$, '22P02',
                 'invalid input syntax for type svec: "{1:1,}"', 'trailing comma is 22P02');
SELECT throws_ok($$SELECT '{1:NaN}'::svec$$, '22000', 'NaN not allowed in svec', 'NaN in text is 22000, as from arrays, binary input and functions (and pgvector)');
SELECT throws_ok($$SELECT '{1:1,1:2}'::svec$$, '22P02',
                 'svec indices must not contain duplicates', 'duplicate index in text is 22P02');
SELECT throws_ok($$SELECT '{1:1e40}'::svec$$, '22003',
                 '"1e40" is out of range for type real', 'value overflow is 22003');
SELECT throws_ok($$SELECT '{9223372036854775808:1}'::svec$$, '22003',
                 'svec index "9223372036854775808" is out of range for type bigint', 'index overflow is 22003');
SELECT throws_ok($$SELECT '{1:-inf}'::svec$$, '22003', 'infinite value not allowed in svec', 'infinity is 22003');
SELECT throws_ok($$SELECT svec('{1,1}'::bigint[], '{1,2}'::real[])$$, '22023',
                 'svec indices must not contain duplicates', 'duplicate index in svec() is 22023');
SELECT throws_ok($$SELECT svec('{1,NULL}'::bigint[], '{1,2}'::real[])$$, '22004',
                 'index array must not contain nulls', 'NULL index is 22004');
SELECT throws_ok($$SELECT svec_top('{1:1}', -1)$$, '22023', 'k must not be negative', 'negative k is 22023');

-- 129-138: results
SELECT is('{3:1.5,1:-2,2:0}'::svec::text, '{1:-2,3:1.5}', 'text input is sorted, zeros dropped');
SELECT is('{1:1.5,3:2}/5'::svec::text, '{1:1.5,3:2}', 'pgvector''s sparsevec form is accepted');
SELECT is(svec_send('{1:1.5,3:2}'), '\x00000002000000000000000100000000000000033fc0000040000000'::bytea,
          'binary form: int32 nnz, int64 indices, float4 values, big-endian');
SELECT is(nnz(svec('{5,1,3}'::bigint[], '{1,0,2}'::real[])), 2, 'nnz counts non-zero entries');
SELECT is(l2_norm('{1:3,2:4}'), 5::float8, 'l2_norm');
SELECT is(svec_top('{1:5,2:3,3:5,4:1}', 2)::text, '{1:5,3:5}', 'svec_top keeps the largest values');
SELECT is(('{1:1,3:2}'::svec + '{2:5,3:-2}')::text, '{1:1,2:5}', '+ drops cancelled entries');
SELECT is(inner_product('{1:1,2:2,4:3}', '{2:4,3:1,4:-1}'), 5::float8, 'inner product 2*4 + 3*(-1) = 5');
SELECT is('{}'::svec <=> '{1:1}', 1::float8, 'cosine distance to the empty vector is 1');
SELECT is((SELECT svec_agg(i, v)::text FROM (VALUES (2, 1::real), (1, 2), (2, 3)) t(i, v)), '{1:2,2:4}',
          'svec_agg sums duplicate indices');

-- 139-143: DROP EXTENSION removes every member; CREATE EXTENSION brings them back
CREATE TEMP TABLE members ON COMMIT DROP AS
SELECT d.classid, d.objid, pg_describe_object(d.classid, d.objid, d.objsubid) AS descr
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'itemcf' AND d.deptype = 'e';

SELECT cmp_ok((SELECT count(*) FROM members), '>=', 36::bigint,
              'the extension has at least 36 members (1 type, 28 functions, 7 operators)');

DROP EXTENSION itemcf;

SELECT is((SELECT count(*) FROM members WHERE pg_describe_object(classid, objid, 0) IS NOT NULL), 0::bigint,
          'no member of the extension survives DROP EXTENSION');
SELECT is((SELECT count(*) FROM pg_type WHERE typname IN ('svec', '_svec'))
          + (SELECT count(*) FROM pg_proc WHERE proname IN (SELECT fname FROM svec_funcs UNION SELECT 'svec_agg'))
          + (SELECT count(*) FROM pg_operator o JOIN pg_type t ON t.oid IN (o.oprleft, o.oprright) WHERE t.typname = 'svec'),
          0::bigint, 'no svec type, function or operator is left');

CREATE EXTENSION itemcf;

SELECT is((SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
            WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'itemcf' AND d.deptype = 'e'),
          (SELECT count(*) FROM members), 'CREATE EXTENSION brings back the same number of members');
SELECT is(cosine_similarity('{1:1,2:2}', '{2:1}') > 0, true, 'the recreated extension works');

SELECT * FROM finish();
ROLLBACK;
