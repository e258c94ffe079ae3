--
-- CALL itemcf_rebuild_scheduled(): each model in its own transaction, a failing or slow
-- model (canceled at its time limit) does not roll back or stop the others, the CALL ends
-- in error ICF01 naming the failed models, it refuses a transaction block, and a role
-- granted EXECUTE on the procedure (and nothing else) can run it.
-- In a database of its own: the procedure rebuilds every model of its database.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_itemcf_scheduled WITH (FORCE);
DROP ROLE IF EXISTS regress_itemcf_scheduler;
RESET client_min_messages;
CREATE ROLE regress_itemcf_scheduler;
CREATE DATABASE regress_itemcf_scheduled;
\c regress_itemcf_scheduled
SET client_min_messages = warning;
CREATE EXTENSION itemcf;
RESET client_min_messages;
-- the replaced versions are deleted before the CALL ends (checked below)
SET itemcf.reclaim = immediate;

-- runs(): the runs since the last mark, in order
CREATE TABLE mark (run_id bigint);
INSERT INTO mark VALUES (0);
CREATE FUNCTION runs() RETURNS TABLE (model text, status text, error text) LANGUAGE sql AS $$
  SELECT model, status, error FROM itemcf_runs WHERE run_id > (SELECT run_id FROM mark) ORDER BY run_id $$;
CREATE PROCEDURE set_mark() LANGUAGE sql AS $$
  UPDATE mark SET run_id = (SELECT coalesce(max(run_id), 0) FROM itemcf_runs) $$;

-- Purchases: 40 users, 12 items.  b_bad divides by zero, c_slow sleeps a second.
CREATE TABLE shop (user_id bigint, item_id bigint);
CREATE INDEX ON shop (user_id);
INSERT INTO shop SELECT u, (u * 5 + j * 3) % 12 FROM generate_series(1, 40) u, generate_series(1, 4) j;
CREATE VIEW bad AS SELECT user_id, item_id / (user_id - user_id) AS item_id FROM shop;
CREATE VIEW slow AS SELECT user_id, item_id FROM shop WHERE (SELECT pg_sleep(1)) IS NOT NULL;
SELECT itemcf_register_model('a_good', 'shop', k => 5) > 0 AS a_good,
       itemcf_register_model('d_good', 'shop', k => 3, measure => 'jaccard') > 0 AS d_good;

------------------------------------------------------------------------------
-- Every model succeeds: CALL returns normally; one transaction per model
------------------------------------------------------------------------------
CALL itemcf_rebuild_scheduled();
-- (the default model is left out while unused: never built, itemcf_purchases empty)
SELECT * FROM runs();
SELECT count(DISTINCT xmin::text) AS transactions FROM itemcf_runs;
SELECT name, current_version IS NOT NULL AS built FROM itemcf_models ORDER BY name;
CALL set_mark();

-- The xmin horizon advances between models: a source that notes its backend's xmin, built
-- after a_good, sees one newer than a_good's committed transaction; not so in itemcf_rebuild()
-- (the source runs with search_path = pg_catalog, pg_temp: names qualified)
CREATE TABLE xmins (form text, backend_xmin xid, a_good_xid xid);
CREATE FUNCTION note_xmin() RETURNS boolean LANGUAGE sql AS $$
  INSERT INTO public.xmins
  SELECT current_setting('test.form'), a.backend_xmin,
         (SELECT r.xmin FROM public.itemcf_runs r WHERE r.model = 'a_good' ORDER BY r.run_id DESC LIMIT 1)
  FROM pg_stat_activity a WHERE a.pid = pg_backend_pid() RETURNING true $$;
CREATE VIEW watched AS SELECT user_id, item_id FROM shop WHERE (SELECT public.note_xmin());
SELECT itemcf_register_model('e_watched', 'watched') > 0 AS e_watched;
SET test.form = 'procedure';
CALL itemcf_rebuild_scheduled();
SET test.form = 'function';
SELECT model, status FROM itemcf_rebuild() WHERE model <> 'default' ORDER BY model;
SELECT form, backend_xmin::text::bigint > a_good_xid::text::bigint AS newer_than_a_good
FROM xmins ORDER BY form DESC;
SELECT itemcf_drop_model('e_watched');
CALL set_mark();

------------------------------------------------------------------------------
-- A failing and a slow model between two good ones: the good ones are built and
-- committed, the CALL ends in ICF01 naming the others
------------------------------------------------------------------------------
SELECT itemcf_register_model('b_bad', 'bad') > 0 AS b_bad,
       itemcf_register_model('c_slow', 'slow') > 0 AS c_slow;
CREATE TEMP TABLE before AS SELECT name, current_version FROM itemcf_models;
CALL itemcf_rebuild_scheduled(time_limit => '200ms');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
SELECT * FROM runs();
-- the good models flipped to a new version and serve it; the failed ones keep none
SELECT m.name, m.current_version > b.current_version AS new_version,
       (SELECT count(*) FROM itemcf_similarities s WHERE s.model = m.name) > 0 AS serves,
       (SELECT count(DISTINCT version) FROM itemcf_neighbors n WHERE n.model_id = m.model_id) AS versions_kept
FROM itemcf_models m LEFT JOIN before b USING (name) ORDER BY m.name;
-- four runs, each committed in a transaction of its own
SELECT count(*) AS runs, count(DISTINCT xmin::text) AS transactions FROM itemcf_runs
WHERE run_id > (SELECT run_id FROM mark);
CALL set_mark();

------------------------------------------------------------------------------
-- The time limit: itemcf.model_time_limit, the time_limit argument, 0 for none
------------------------------------------------------------------------------
SHOW itemcf.model_time_limit;
SET itemcf.model_time_limit = '300ms';
CALL itemcf_rebuild_scheduled('c_slow');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
-- the argument wins over the setting: 0 is no limit (the source's second is waited for)
CALL itemcf_rebuild_scheduled('c_slow', time_limit => '0');
RESET itemcf.model_time_limit;
SELECT * FROM runs();
-- the cancel of the limit does not linger: this session goes on normally
SELECT pg_sleep(0.4), 'still here' AS after_the_limit;
CALL set_mark();

------------------------------------------------------------------------------
-- Errors of the arguments and of the context
------------------------------------------------------------------------------
CALL itemcf_rebuild_scheduled('nope');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
CALL itemcf_rebuild_scheduled('a_good', '-1 second');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
-- inside a transaction block: a clear error before anything is built
BEGIN;
CALL itemcf_rebuild_scheduled('a_good');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
ROLLBACK;
-- from a function (an atomic context): PostgreSQL's own error at the first COMMIT
CREATE FUNCTION rebuild_in_function() RETURNS void LANGUAGE plpgsql AS $$
BEGIN CALL itemcf_rebuild_scheduled('a_good'); END $$;
SELECT rebuild_in_function();
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
-- a DO block at top level may commit
DO $$ BEGIN CALL itemcf_rebuild_scheduled('a_good'); END $$;
SELECT * FROM runs();
CALL set_mark();

------------------------------------------------------------------------------
-- Privileges: PUBLIC may not run it, nor the steps; one GRANT is enough
------------------------------------------------------------------------------
SELECT has_function_privilege('public', 'itemcf_rebuild_scheduled(text, interval)', 'EXECUTE') AS public_may_call;
SET ROLE regress_itemcf_scheduler;
CALL itemcf_rebuild_scheduled('a_good');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
-- the gates refuse without the grant; the implementations are not executable
SELECT _itemcf_scheduled_models('a_good', NULL);
SELECT _itemcf_scheduled_build(1, NULL);
SELECT _itemcf_scheduled_reclaim();
SELECT _itemcf_scheduled_build_impl(1, NULL);
SELECT _itemcf_time_limit_arm(1);
RESET ROLE;
GRANT EXECUTE ON PROCEDURE itemcf_rebuild_scheduled(text, interval) TO regress_itemcf_scheduler;
SET ROLE regress_itemcf_scheduler;
SELECT current_user, has_table_privilege('itemcf_models', 'SELECT') AS reads_models,
       has_table_privilege('itemcf_runs', 'INSERT') AS writes_runs;
CALL itemcf_rebuild_scheduled('a_good');
CALL itemcf_rebuild_scheduled(time_limit => '200ms');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
-- still nothing else
SELECT _itemcf_scheduled_build_impl(1, NULL);
RESET ROLE;
SELECT * FROM runs();
SELECT name, (SELECT count(DISTINCT version) FROM itemcf_neighbors n WHERE n.model_id = m.model_id) AS versions_kept
FROM itemcf_models m ORDER BY name;

------------------------------------------------------------------------------
-- No SET clause pins the procedure's search_path: its body is qualified, so nothing
-- on the caller's search_path runs in place of its functions and operators
------------------------------------------------------------------------------
CREATE SCHEMA evil;
CREATE FUNCTION evil.hijacked(text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hijacked: %', $1; END $$;
CREATE FUNCTION evil.array_append(text[], text) RETURNS text[] LANGUAGE sql AS $$ SELECT NULL::text[] WHERE evil.hijacked('array_append') $$;
CREATE FUNCTION evil.format(text, text, text) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text WHERE evil.hijacked('format') $$;
CREATE FUNCTION evil.cardinality(text[]) RETURNS integer LANGUAGE sql AS $$ SELECT NULL::integer WHERE evil.hijacked('cardinality') $$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.hijacked('=') $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
SET search_path = evil, pg_catalog, public;
CALL itemcf_rebuild_scheduled(time_limit => '200ms');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
RESET search_path;

------------------------------------------------------------------------------
-- An error _itemcf_rebuild_one() does not catch itself (here a trigger refusing the
-- model's run row) is recorded as the model's failed run, and the others go on
------------------------------------------------------------------------------
CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.model = 'e_refused' AND NEW.status = 'succeeded' THEN
    RAISE EXCEPTION 'run row refused' USING DETAIL = 'A trigger said no.';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_run BEFORE INSERT ON itemcf_runs FOR EACH ROW EXECUTE FUNCTION refuse_run();
SELECT itemcf_register_model('e_refused', 'shop') > 0 AS e_refused;
CALL set_mark();
CALL itemcf_rebuild_scheduled(time_limit => '200ms');
\echo 'SQLSTATE' :LAST_ERROR_SQLSTATE
SELECT * FROM runs();
SELECT current_version IS NULL AS e_refused_not_built FROM itemcf_models WHERE name = 'e_refused';
DROP TRIGGER refuse_run ON itemcf_runs;

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_itemcf_scheduled WITH (FORCE);
DROP ROLE regress_itemcf_scheduler;
