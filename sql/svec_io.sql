--
-- svec text and binary input/output
--
\set VERBOSITY default
\set SHOW_CONTEXT never

\i sql/include/helpers.sql

-- svec_try(text): the text input function applied to one string
CREATE OR REPLACE FUNCTION svec_try(input text) RETURNS text LANGUAGE sql AS $$
  SELECT try_detail(format('SELECT %L::svec', input))
$$;

------------------------------------------------------------------------------
-- Valid text input: canonical output is ascending indices, zeros dropped,
-- shortest round-trip floats (as real's output).
------------------------------------------------------------------------------
SELECT input, svec_try(input) AS result FROM (VALUES
  ('{}'),
  (' { } '),
  ('{1:1}'),
  ('{ 1 : 1 , 2 : 2 }'),
  ('{1 :1}'),
  ('{1: 1}'),
  ('{3:1,1:2,2:3}'),                          -- unsorted -> sorted
  ('{10:1,-10:2,0:3}'),
  ('{1:0,2:-0,3:0.0,4:1,5:-0.0e5}'),          -- zeros and -0 dropped
  ('{1:0}'),
  ('{1:-0}'),
  ('{-0:1}'),                                 -- index -0 is index 0
  ('{+5:+1}'),
  ('{007:1}'),
  ('{1:00001.000}'),
  ('{1:.5,2:5.,3:1E3,4:1e+2,5:1e-2,6:-.25}'),
  ('{-9223372036854775808:1,9223372036854775807:2}'),
  ('{1:1.5,3:2}/5'),                          -- pgvector sparsevec form
  ('{5:1}/5'),
  ('{1:1}/1'),
  ('{} /1'),
  ('{}/9223372036854775807'),
  ('{1:1} / 5 '),
  ('{1:0.1}'),
  ('{1:0.333333343267}'),
  ('{1:1e-45}'),                              -- smallest denormal
  ('{1:1.4e-45}'),
  ('{1:7.1e-46}'),                            -- rounds up to the smallest denormal
  ('{1:1.1754942e-38}'),                      -- largest denormal
  ('{1:1.17549435e-38}'),                     -- FLT_MIN
  ('{1:3.4028235e38}'),                       -- FLT_MAX
  ('{1:-3.4028235e38}'),
  ('{1:3.40282356e38}'),                      -- still rounds to FLT_MAX
  ('{1:123456789}'),
  ('{1:16777217}')                            -- rounds to 16777216
) t(input);

-- whitespace as PostgreSQL arrays accept it: space, \t, \n, \r, \v, \f
SELECT svec_try(E'\t{\n1\t:\r2 ,\f3:' || chr(11) || E'4}\n' || chr(11));
SELECT svec_try(E'{\n}\n/\n3\n');

-- canonical output round-trips exactly, and matches real's output
SELECT v::text AS canonical, v::text::svec = v AS round_trip,
       svec_values(v)::text AS real_output
FROM (VALUES
  ('{1:0.1,2:0.33333334,3:1e-45,4:3.4028235e+38,5:-1.1754944e-38,6:1.1754942e-38}'::svec),
  (format('{1:%s,2:%s}', 1::real / 3::real, -2::real / 3::real)::svec),
  ('{}'::svec)
) t(v);
SELECT (1::real / 3::real)::text AS one_third, format('{7:%s}', 1::real / 3::real)::svec AS svec,
       svec_values(format('{7:%s}', 1::real / 3::real)::svec) = ARRAY[1::real / 3::real] AS same_value;

-- every float written by real's output reads back to the same svec
SELECT count(*) AS mismatches
FROM (SELECT svec(array_agg(i), array_agg(v)) AS v
      FROM (SELECT i, (sign(random() - 0.5) * (0.5 + random()) * 10 ^ (random() * 76 - 38))::real AS v
            FROM generate_series(1, 2000) i) s) t
WHERE v::text::svec <> v OR v::text <> (SELECT '{' || string_agg(index || ':' || value, ',' ORDER BY index) || '}' FROM svec_each(v));

------------------------------------------------------------------------------
-- Malformed text input
------------------------------------------------------------------------------
SELECT input, svec_try(input) AS result FROM (VALUES
  (''),
  ('   '),
  ('1:1'),                         -- missing braces
  ('1:1}'),
  ('{1:1'),
  ('{'),
  ('}'),
  ('[1:1]'),
  ('{1:}'),
  ('{:1}'),
  ('{1:1,}'),
  ('{,1:1}'),
  ('{,}'),
  ('{1}'),
  ('{1:1 2:2}'),
  ('{1:1;2:2}'),
  ('{1:1:1}'),
  ('{1.5:1}'),
  ('{1e3:1}'),
  ('{- 1:1}'),
  ('{1:- 1}'),
  ('{1:.}'),
  ('{1:-}'),
  ('{1:e5}'),
  ('{1:1e}'),
  ('{1:1e+}'),
  ('{1:1.5.5}'),
  ('{1:1 .5}'),
  ('{1:0x1p3}'),                   -- hex floats are values, as real reads them (8, 16)
  ('{1:0x10}'),
  ('{0x10:1}'),                    -- but indices are decimal (pgvector: strtol base 10)
  ('{1:0x}'),
  ('{1:0x1p}'),
  ('{1:1} x'),                     -- trailing garbage
  ('{1:1}}'),
  ('{1:1}{}'),
  ('{1:1}/'),
  ('{1:1}/-1'),
  ('{1:1}/-0'),
  ('{1:1}/+5'),                    -- accepted: pgvector's strtol takes the sign
  ('{1:1}/5x'),
  ('{1:1}/5/5'),
  ('{1:1}/1.5'),
  ('{1:1é}'),                      -- positions count characters, not bytes
  ('{é:1}'),
  ('{"1":1}')
) t(input);

-- numbers out of range: 22003
SELECT input, svec_try(input) AS result FROM (VALUES
  ('{9223372036854775808:1}'),
  ('{-9223372036854775809:1}'),
  ('{99999999999999999999999:1}'),
  ('{1:1,18446744073709551616:1}'),
  ('{1:1e40}'),
  ('{1:-1e40}'),
  ('{1:3.5e38}'),
  ('{1:1e-50}'),
  ('{1:1e-46}'),
  ('{1:1e-45,2:1e-50}'),
  ('{1:1e99999}'),
  ('{1:1}/0'),                     -- dims must be >= 1
  ('{}/0'),
  ('{1:1}/9223372036854775808'),
  ('{6:1}/5'),                     -- index outside 1..dims
  ('{0:1}/5'),
  ('{-1:1}/5'),
  ('{1:0}/0')
) t(input);

-- NaN (22P02) and infinities (22003)
SELECT input, svec_try(input) AS result FROM (VALUES
  ('{1:nan}'),
  ('{1:NaN}'),
  ('{1:-nan}'),
  ('{1:+NAN}'),
  ('{1:1,2:nan}'),
  ('{1:inf}'),
  ('{1:+inf}'),
  ('{1:-inf}'),
  ('{1:Infinity}'),
  ('{1:-Infinity}'),
  ('{1:INFINITY}')
) t(input);

-- duplicate indices: 22P02, even when the values are zero
SELECT input, svec_try(input) AS result FROM (VALUES
  ('{1:1,1:2}'),
  ('{2:1,1:1,2:3}'),
  ('{1:0,1:0}'),
  ('{5:1,3:1,4:1,3:2}'),
  ('{1:1,01:1}'),
  ('{0:1,-0:1}')
) t(input);

-- the error as the client sees it (message, detail and cursor)
-- a hex float reads as real reads it
SELECT x, format('{1:%s}', x)::svec = svec(ARRAY[1::bigint], ARRAY[x::real]) AS same_as_real
FROM unnest(ARRAY['0x1p3', '-0x1.8p1', '0x.8', '0X1E', '0x1p-149', '0x1.fffffep127', '+0xAbC.dEp-4']) x;
SELECT '{1:1,}'::svec;
SELECT '{1:1e40}'::svec;
SELECT '{1:NaN}'::svec;
SELECT '{1:1,1:2}'::svec;
SELECT 'x'::svec;

------------------------------------------------------------------------------
-- Binary output (svec_send): int32 nnz, int64 indices[nnz], float4 values[nnz], big-endian
------------------------------------------------------------------------------
SELECT svec_send('{}');
SELECT svec_send('{1:1.5,3:2}');
SELECT svec_send('{-1:-0.1}');
SELECT svec_send('{-9223372036854775808:1e-45,9223372036854775807:-3.4028235e38}');
SELECT svec_send('{3:2,1:1.5}') = int4send(2) || int8send(1) || int8send(3) || float4send(1.5) || float4send(2) AS same;

------------------------------------------------------------------------------
-- Binary round trip through COPY (FORMAT binary), files under /tmp named after
-- the backend's PID so that concurrent runs do not collide
------------------------------------------------------------------------------
CREATE TEMP TABLE bin_src (id int, v svec);
INSERT INTO bin_src VALUES
  (1, '{}'),
  (2, '{1:1}'),
  (3, '{-9223372036854775808:1e-45,0:-1,9223372036854775807:3.4028235e38}'),
  (4, NULL),
  (5, '{1:0.1,2:0.2,3:0.33333334,4:-1.1754942e-38}');
INSERT INTO bin_src SELECT 6, svec(array_agg(i * 7), array_agg((i / 3.0)::real)) FROM generate_series(1, 5000) i;
CREATE TEMP TABLE bin_dst (LIKE bin_src);

DO $$
DECLARE path text := format('/tmp/itemcf_regress_%s_roundtrip.bin', pg_backend_pid());
BEGIN
  EXECUTE format('COPY bin_src TO %L (FORMAT binary)', path);
  EXECUTE format('COPY bin_dst FROM %L (FORMAT binary)', path);
END $$;

SELECT count(*) AS src_rows, (SELECT count(*) FROM bin_dst) AS dst_rows FROM bin_src;
SELECT s.id, s.v = d.v AS equal, s.v::text = d.v::text AS same_text,
       (s.v IS NULL AND d.v IS NULL) AS both_null, nnz(d.v)
FROM bin_src s JOIN bin_dst d USING (id) ORDER BY s.id;

-- exact bytes of a binary COPY file of one svec
DO $$
DECLARE path text := format('/tmp/itemcf_regress_%s_bytes.bin', pg_backend_pid());
BEGIN
  EXECUTE format('COPY (SELECT %L::svec) TO %L (FORMAT binary)', '{2:-1,1:0.5}', path);
  CREATE TEMP TABLE bin_bytes AS SELECT pg_read_binary_file(path) AS file;
END $$;
SELECT file FROM bin_bytes;
SELECT file = '\x5047434f50590aff0d0a00'::bytea || int4send(0) || int4send(0)     -- signature, flags, extension
            || int2send(1::int2) || int4send(28)                                -- one field of 28 bytes
            || int4send(2) || int8send(1) || int8send(2) || float4send(0.5) || float4send(-1)
            || int2send(-1::int2) AS as_expected                                -- trailer
FROM bin_bytes;

------------------------------------------------------------------------------
-- Crafted binary input through COPY FROM a file
------------------------------------------------------------------------------
-- pgcopy(fields...): a complete PGCOPY file, one single-column tuple per field (NULL = SQL NULL)
CREATE FUNCTION pgcopy(VARIADIC fields bytea[]) RETURNS bytea LANGUAGE sql AS $$
  SELECT '\x5047434f50590aff0d0a00'::bytea || int4send(0) || int4send(0)
      || coalesce((SELECT string_agg(int2send(1::int2)
                                     || CASE WHEN f IS NULL THEN int4send(-1)
                                             ELSE int4send(length(f)) || f END,
                                     ''::bytea ORDER BY n)
                   FROM unnest(fields) WITH ORDINALITY u(f, n)), '')
      || int2send(-1::int2)
$$;

-- copy_try(file): write the bytes to a file, COPY it into copy_in, return the rows or the error
CREATE TEMP TABLE copy_in (v svec);
CREATE FUNCTION copy_try(file bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  path text := format('/tmp/itemcf_regress_%s_in.bin', pg_backend_pid());
  lo oid;
  r text; st text; msg text; det text;
BEGIN
  lo := lo_from_bytea(0, file);
  PERFORM lo_export(lo, path);
  PERFORM lo_unlink(lo);
  TRUNCATE copy_in;
  EXECUTE format('COPY copy_in FROM %L (FORMAT binary)', path);
  SELECT string_agg(coalesce(v::text, 'NULL'), ' ; ') INTO r FROM copy_in;
  RETURN 'OK: ' || coalesce(r, '(no rows)');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END $$;

SELECT label, copy_try(file) AS result FROM (VALUES
  ('valid',               pgcopy(int4send(2) || int8send(1) || int8send(3) || float4send(1.5) || float4send(2))),
  ('empty',               pgcopy(int4send(0))),
  ('several rows, NULL',  pgcopy(int4send(0), NULL, int4send(1) || int8send(-5) || float4send(-0.25))),
  ('extreme indices',     pgcopy(int4send(2) || int8send(-9223372036854775808) || int8send(9223372036854775807) || float4send(1) || float4send(2))),
  ('denormal bits',       pgcopy(int4send(1) || int8send(1) || '\x00000001'::bytea)),
  -- svec_send writes indices in ascending order and only that order is read back
  ('unsorted: refused',   pgcopy(int4send(3) || int8send(9) || int8send(-2) || int8send(4) || float4send(1) || float4send(2) || float4send(3))),
  ('zero and -0 dropped', pgcopy(int4send(3) || int8send(-2) || int8send(4) || int8send(9) || float4send(0) || '\x80000000'::bytea || float4send(3))),
  ('only zeros',          pgcopy(int4send(2) || int8send(1) || int8send(2) || float4send(0) || float4send(0))),
  ('NaN bits',            pgcopy(int4send(1) || int8send(1) || '\x7fc00000'::bytea)),
  ('negative NaN bits',   pgcopy(int4send(2) || int8send(1) || int8send(7) || float4send(1) || '\xffc00001'::bytea)),
  ('signalling NaN bits', pgcopy(int4send(1) || int8send(1) || '\x7f800001'::bytea)),
  ('+Inf bits',           pgcopy(int4send(1) || int8send(1) || '\x7f800000'::bytea)),
  ('-Inf bits',           pgcopy(int4send(1) || int8send(4) || '\xff800000'::bytea)),
  ('duplicate index',     pgcopy(int4send(2) || int8send(3) || int8send(3) || float4send(1) || float4send(2))),
  ('duplicate, unsorted', pgcopy(int4send(3) || int8send(3) || int8send(1) || int8send(3) || float4send(1) || float4send(2) || float4send(3))),
  -- pgvector's sparsevec {1:1.5,2:2.5}/2 in its own wire format (dims, nnz, unused, 0-based
  -- int32 indices, values): 28 bytes, as many as an svec of two entries; read as an svec its
  -- indices would be 2^33 and 1, out of order, so it is refused rather than misread
  ('pgvector sparsevec',  pgcopy(int4send(2) || int4send(2) || int4send(0) || int4send(0) || int4send(1) || float4send(1.5) || float4send(2.5))),
  ('negative count',      pgcopy(int4send(-1))),
  ('count -2^31',         pgcopy(int4send(-2147483648) || int8send(1) || float4send(1))),
  ('count > max',         pgcopy(int4send(10000001))),
  ('count 2^31-1',        pgcopy(int4send(2147483647))),
  ('zero-length field',   pgcopy(''::bytea)),
  ('2-byte field',        pgcopy('\x0000'::bytea)),
  ('count > entries',     pgcopy(int4send(2) || int8send(1) || float4send(1))),
  ('count < entries',     pgcopy(int4send(1) || int8send(1) || int8send(2) || float4send(1) || float4send(1))),
  ('trailing NUL byte',   pgcopy(int4send(1) || int8send(1) || float4send(1) || '\x00'::bytea)),
  ('trailing garbage',    pgcopy(int4send(0) || convert_to('garbage', 'UTF8'))),
  ('text, not binary',    pgcopy(convert_to('{1:1}', 'UTF8'))),
  ('truncated file',      substring(pgcopy(int4send(1) || int8send(1) || float4send(1)) FROM 1 FOR 30)),
  -- the tuple's field length says 12 but the svec needs 16: svec_recv sees 12 bytes
  ('field length < data', substring(pgcopy(int4send(0)) FROM 1 FOR 19) || int2send(1::int2) || int4send(12)
                          || int4send(1) || int8send(1) || float4send(1) || int2send(-1::int2)),
  -- the field length runs past the end of the file: COPY's own error
  ('field length > file', substring(pgcopy(int4send(0)) FROM 1 FOR 19) || int2send(1::int2) || int4send(100)
                          || int4send(1) || int8send(1) || float4send(1) || int2send(-1::int2))
) t(label, file);

-- remove the files this test wrote
DO $$
BEGIN
  EXECUTE format('COPY (SELECT 1 WHERE false) TO PROGRAM %L',
                 format('rm -f /tmp/itemcf_regress_%s_roundtrip.bin /tmp/itemcf_regress_%s_bytes.bin /tmp/itemcf_regress_%s_in.bin',
                        pg_backend_pid(), pg_backend_pid(), pg_backend_pid()));
END $$;

DROP FUNCTION copy_try(bytea);
DROP FUNCTION pgcopy(bytea[]);
DROP FUNCTION svec_try(text);
DROP FUNCTION try(text), try_detail(text);
