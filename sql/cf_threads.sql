--
-- itemcf.max_threads and itemcf.max_build_memory: superuser-only caps on the
-- settings any role can change (itemcf.threads, itemcf.build_memory).  SET above
-- a cap fails; a value above it from elsewhere (or a cap lowered later) is
-- clamped when a build uses it.  A thread the build cannot create is an ERROR
-- (53000), never an exit of the backend: the server stays up.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
SET max_parallel_workers_per_gather = 0;
SELECT '{1:1}'::svec AS load_the_library;
SELECT name, unit, min_val, max_val, context FROM pg_settings
WHERE name IN ('itemcf.max_threads', 'itemcf.max_build_memory') ORDER BY name;
-- defaults: one thread per core (like nproc), 8 GB; the test cluster's itemcf.conf sets
-- max_threads to at least 4
CREATE TEMP TABLE cores(n int);
COPY cores FROM PROGRAM 'nproc';
SELECT boot_val::int = least((SELECT n FROM cores), 1024) AS max_threads_default_is_nproc
FROM pg_settings WHERE name = 'itemcf.max_threads';
SELECT boot_val FROM pg_settings WHERE name = 'itemcf.max_build_memory';
SELECT setting::int >= 4 AS at_least_4, source FROM pg_settings WHERE name = 'itemcf.max_threads';
SET itemcf.max_threads = 4;

------------------------------------------------------------------------------
-- An ordinary role cannot raise the caps, nor ask more than they allow
------------------------------------------------------------------------------
SET client_min_messages = warning;
DROP ROLE IF EXISTS itemcf_threads_user;	-- left by an interrupted run
RESET client_min_messages;
CREATE ROLE itemcf_threads_user;
SET ROLE itemcf_threads_user;
SET itemcf.max_threads = 1024;
SET itemcf.max_build_memory = '1TB';
ALTER SYSTEM SET itemcf.max_threads = 1024;
SET itemcf.threads = 1024;
SET itemcf.threads = 5;
SET itemcf.build_memory = '1000TB';
SET itemcf.build_memory = '100GB';
SET itemcf.build_memory = '8GB';
SHOW itemcf.build_memory;
SET itemcf.build_memory = '8193MB';
ALTER ROLE itemcf_threads_user SET itemcf.threads = 64;
CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql SET itemcf.threads = 64 AS 'SELECT 1';
-- up to the cap is fine
SET itemcf.threads = 4;
SHOW itemcf.threads;
RESET itemcf.threads;
RESET itemcf.build_memory;
RESET ROLE;
DROP ROLE itemcf_threads_user;
RESET itemcf.max_threads;

------------------------------------------------------------------------------
-- A superuser can raise the caps; a cap lowered below the setting clamps it
------------------------------------------------------------------------------
SET itemcf.max_threads = 8;
SET itemcf.threads = 8;
SET itemcf.max_threads = 2;
SHOW itemcf.threads;
-- the build runs on the cap, with a NOTICE
SELECT item_neighbors_stats(item_neighbors_agg(u, (u + i) % 40, 1))->'threads' AS threads
FROM generate_series(1, 50) u, generate_series(1, 20) i;
RESET itemcf.threads;
RESET itemcf.max_threads;
-- memory: the cap applies to a build_memory set before it was lowered
SET itemcf.threads = 2;
SET itemcf.max_build_memory = 16;
SHOW itemcf.build_memory;
CREATE FUNCTION try_detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text; msg text; det text;
BEGIN
  EXECUTE sql;
  RETURN 'OK';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || msg || ' / ' || regexp_replace(det, 'needs [0-9]+ MB', 'needs N MB');
END $$;
SELECT try_detail($$SELECT item_neighbors_agg(1, i, 1) FROM generate_series(1, 200000) i$$) AS capped;
RESET itemcf.max_build_memory;
SELECT try_detail($$SELECT item_neighbors_agg(1, i, 1) FROM generate_series(1, 200000) i$$) AS default_cap;
RESET itemcf.threads;

------------------------------------------------------------------------------
-- A thread that cannot be created: ERROR, the backend and the server stay up
------------------------------------------------------------------------------
-- a new backend: libgomp has no threads yet
\c
SET max_parallel_workers_per_gather = 0;
SELECT pg_postmaster_start_time() AS started, pg_backend_pid() AS pid \gset
-- soft RLIMIT_NPROC 1 for this backend: its OS user has more processes already, so
-- it can create no thread (nor fork: nothing below needs to)
CREATE TEMP TABLE sink(line text);
DO $$ BEGIN
  EXECUTE format('COPY sink FROM PROGRAM %L',
                 format('prlimit --pid %s --nproc=1:', pg_backend_pid()));
END $$;
SET itemcf.threads = 2;
SELECT item_neighbors_agg(u, (u + i) % 40, 1) IS NOT NULL AS built
FROM generate_series(1, 50) u, generate_series(1, 20) i;
SELECT pg_backend_pid() = :pid AS same_backend;
-- on one thread the build needs no new thread
SET itemcf.threads = 1;
SELECT item_neighbors_stats(item_neighbors_agg(u, (u + i) % 40, 1))->'entries' AS entries
FROM generate_series(1, 50) u, generate_series(1, 20) i;
-- a new backend (without the limit) builds on 2 threads; the postmaster never restarted
\c
SET max_parallel_workers_per_gather = 0;
SET itemcf.threads = 2;
SELECT item_neighbors_stats(item_neighbors_agg(u, (u + i) % 40, 1))->'entries' AS entries,
       item_neighbors_stats(item_neighbors_agg(u, (u + i) % 40, 1))->'threads' AS threads
FROM generate_series(1, 50) u, generate_series(1, 20) i;
SELECT pg_postmaster_start_time() = :'started' AS postmaster_not_restarted;
