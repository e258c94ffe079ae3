--
-- Security: code of one role must never run with another role's rights or change another
-- session's settings.  Every attack of the adversarial review, run as unprivileged roles
-- (mallory: may register models and rebuild; victim: may call recommend(); owner: a model
-- owner with a table only it may read), each asserting that no role gains anything and that
-- the settings of every session are unchanged.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_itemcf_mallory;
DROP ROLE IF EXISTS regress_itemcf_victim;
DROP ROLE IF EXISTS regress_itemcf_owner;
DROP ROLE IF EXISTS regress_itemcf_heir;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
CREATE ROLE regress_itemcf_mallory LOGIN;
CREATE ROLE regress_itemcf_victim LOGIN;
CREATE ROLE regress_itemcf_owner LOGIN;
CREATE ROLE regress_itemcf_heir LOGIN;
GRANT EXECUTE ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name),
                          itemcf_drop_model(text), itemcf_rebuild(text)
  TO regress_itemcf_mallory, regress_itemcf_owner;
GRANT EXECUTE ON FUNCTION recommend(bigint, integer, text, bigint[], bigint[], boolean, interval)
  TO regress_itemcf_victim, regress_itemcf_mallory;
SELECT format('GRANT CREATE ON DATABASE %I TO regress_itemcf_mallory, regress_itemcf_owner', current_database()) \gexec
CREATE SCHEMA security;
GRANT USAGE, CREATE ON SCHEMA security TO regress_itemcf_mallory, regress_itemcf_owner;
GRANT USAGE ON SCHEMA security TO regress_itemcf_victim;
SET itemcf.reclaim = immediate;

-- settings(): the settings an attack could change, as one text
CREATE FUNCTION security.settings() RETURNS text LANGUAGE sql AS
  $$ SELECT current_setting('search_path') || ' | ' || current_setting('work_mem') || ' | ' || current_user $$;
GRANT EXECUTE ON FUNCTION security.settings() TO PUBLIC;
SET search_path = security;
\i sql/include/helpers.sql
RESET search_path;
GRANT EXECUTE ON FUNCTION security.try(text) TO PUBLIC;
-- wait_for(sql): true as soon as the boolean query gives true (fresh activity statistics each
-- time), false after 20 s
CREATE FUNCTION security.wait_for(sql text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
  FOR i IN 1 .. 400 LOOP
    PERFORM pg_stat_clear_snapshot();
    EXECUTE sql INTO ok;
    IF ok THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;

------------------------------------------------------------------------------
-- 1. mallory's source changes search_path, hoping the rest of the rebuild (run as the
--    extension's owner) or the next statement of whoever rebuilds or serves resolves
--    now() / clock_timestamp() to her functions, which try to make her superuser
------------------------------------------------------------------------------
SET ROLE regress_itemcf_mallory;
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
CREATE TABLE evil.log (who text, what text);
GRANT INSERT ON evil.log TO PUBLIC;
CREATE FUNCTION evil.grab(what text) RETURNS void LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
  INSERT INTO evil.log VALUES (current_user, what);
  BEGIN
    EXECUTE 'ALTER ROLE regress_itemcf_mallory SUPERUSER';
    INSERT INTO evil.log VALUES (current_user, 'became superuser');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.grab('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.grab('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.grab('nextval'); RETURN pg_catalog.nextval($1); END $$;
-- poison(x): x, after switching search_path and work_mem for the rest of the session
CREATE FUNCTION evil.poison(x bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO evil.log VALUES (current_user, 'poison');
  PERFORM pg_catalog.set_config('search_path', 'evil, pg_catalog', false);
  PERFORM pg_catalog.set_config('work_mem', '1234kB', false);
  RETURN x;
END $$;
CREATE TABLE security.m_rows (u bigint, i bigint);
INSERT INTO security.m_rows SELECT u, (u * 3 + j) % 20 FROM generate_series(1, 60) u, generate_series(1, 4) j;
CREATE INDEX ON security.m_rows (u);
-- a) a view whose column calls poison()
CREATE VIEW security.m_view AS SELECT evil.poison(u) AS u, i FROM security.m_rows;
-- b) a plain table whose row-level security policy calls poison()
CREATE TABLE security.m_rls (u bigint, i bigint);
INSERT INTO security.m_rls SELECT * FROM security.m_rows;
CREATE INDEX ON security.m_rls (u);
CREATE FUNCTION evil.poison_ok(x bigint) RETURNS boolean LANGUAGE sql AS $$ SELECT evil.poison(x) IS NOT NULL $$;
ALTER TABLE security.m_rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE security.m_rls FORCE ROW LEVEL SECURITY;
CREATE POLICY p ON security.m_rls USING (evil.poison_ok(u));
-- c) an operator and a cast in the source
CREATE FUNCTION evil.poison_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM evil.poison($1); RETURN $1 = $2; END $$;
CREATE OPERATOR evil.=== (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.poison_eq);
CREATE TYPE evil.code AS (v bigint);
CREATE FUNCTION evil.code_to_bigint(evil.code) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN RETURN evil.poison(($1).v); END $$;
-- d) a function with its own SET clause (restored by PostgreSQL) calling set_config
CREATE FUNCTION evil.poison_set(x bigint) RETURNS bigint LANGUAGE plpgsql SET work_mem = '2MB' AS
  $$ BEGIN PERFORM pg_catalog.set_config('search_path', 'evil, pg_catalog', false); RETURN x; END $$;
CREATE VIEW security.m_set AS SELECT evil.poison_set(u) AS u, i FROM security.m_rows;
RESET ROLE;
-- the cast needs a superuser (or the type's owner with function ownership): make it as such
CREATE CAST (evil.code AS bigint) WITH FUNCTION evil.code_to_bigint(evil.code);
SET ROLE regress_itemcf_mallory;
CREATE VIEW security.m_ops AS SELECT ROW(u)::evil.code::bigint AS u, i FROM security.m_rows WHERE u OPERATOR(evil.===) u;
SELECT itemcf_register_model('sec_view', 'security.m_view', 'u', 'i') IS NOT NULL AS registered,
       itemcf_register_model('sec_rls', 'security.m_rls', 'u', 'i') IS NOT NULL AS registered,
       itemcf_register_model('sec_ops', 'security.m_ops', 'u', 'i') IS NOT NULL AS registered,
       itemcf_register_model('sec_set', 'security.m_set', 'u', 'i') IS NOT NULL AS registered;
-- mallory rebuilds them herself
SELECT security.settings() AS before;
SELECT model, status, error FROM itemcf_rebuild('sec_view');
SELECT security.settings() AS after_own_rebuild;
RESET ROLE;
-- the nightly rebuild, as a superuser (pg_cron)
SET search_path = public;
SELECT security.settings() AS before;
SELECT model, status, error FROM itemcf_rebuild() WHERE model LIKE 'sec\_%' ORDER BY model;
SELECT security.settings() AS after_superuser_rebuild;
-- serving reads the view through the query path, as the owner: the callers' sessions stay theirs
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_view');
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_rls');
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_ops');
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_set');
SELECT security.settings() AS after_superuser_recommend;
SET ROLE regress_itemcf_victim;
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_view');
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_rls');
SELECT security.settings() AS after_victim_recommend;
SELECT now() IS NOT NULL AS now_is_pg_catalog;
RESET ROLE;
-- nobody became superuser; the poison ran, as mallory only, and none of the functions it
-- hoped to hijack ever ran
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'regress_itemcf_mallory';
SELECT who, what FROM evil.log GROUP BY 1, 2 ORDER BY 1, 2;

------------------------------------------------------------------------------
-- 2. A hostile caller's search_path must not reach the owner's code: the owner's view calls
--    a function of the owner that calls abs() unqualified; the caller defines mine.abs(bigint)
--    that copies the owner's secret table
------------------------------------------------------------------------------
SET ROLE regress_itemcf_owner;
CREATE TABLE security.owner_secret (code text);
INSERT INTO security.owner_secret VALUES ('the owner''s secret');
CREATE TABLE security.owner_rows (u bigint, i bigint);
INSERT INTO security.owner_rows SELECT u, (u * 3 + j) % 20 FROM generate_series(1, 60) u, generate_series(1, 4) j;
CREATE FUNCTION security.owner_norm(x bigint) RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN abs(x); END $$;
CREATE VIEW security.owner_view AS SELECT security.owner_norm(u) AS u, i FROM security.owner_rows;
SELECT itemcf_register_model('sec_owner', 'security.owner_view', 'u', 'i') IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild('sec_owner');
RESET ROLE;
SET ROLE regress_itemcf_victim;
SELECT security.try($$SELECT count(*) FROM security.owner_secret$$) AS victim_reads_secret;
RESET ROLE;
SET ROLE regress_itemcf_mallory;
CREATE SCHEMA mine;
GRANT USAGE ON SCHEMA mine TO PUBLIC;
CREATE TABLE mine.loot (who text, code text);
GRANT INSERT ON mine.loot TO PUBLIC;
CREATE FUNCTION mine.abs(x bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mine.loot VALUES (current_user, 'ran');
  INSERT INTO mine.loot SELECT current_user, code FROM security.owner_secret;
  RETURN pg_catalog.abs(x);
EXCEPTION WHEN OTHERS THEN
  RETURN pg_catalog.abs(x);
END $$;
SET search_path = mine, pg_catalog;
SELECT count(*) AS rows FROM public.recommend(7, 5, 'sec_owner');
SELECT public.itemcf_rebuild('sec_owner') IS NOT NULL AS rebuilt;
SELECT security.settings() AS mallory_settings;
RESET search_path;
RESET ROLE;
SELECT who, code FROM mine.loot ORDER BY 1, 2;

------------------------------------------------------------------------------
-- 3. The model named 'default' cannot be squatted: recommend(user) serves it
------------------------------------------------------------------------------
SET ROLE regress_itemcf_mallory;
SELECT security.try($$SELECT itemcf_register_model('default', 'security.m_rows', 'u', 'i')$$) AS squat;
RESET ROLE;
GRANT EXECUTE ON FUNCTION itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name)
  TO regress_itemcf_mallory;
SET ROLE regress_itemcf_mallory;
SELECT security.try($$SELECT itemcf_alter_model('sec_view', new_name => 'default')$$) AS rename_to_default;
RESET ROLE;
SELECT security.try($$SELECT itemcf_alter_model('default', new_name => 'other')$$) AS rename_default;
SELECT name, source FROM itemcf_models WHERE name = 'default';

------------------------------------------------------------------------------
-- 4. Nobody can stall rebuilds or reclaims: the key 0.1.0's rebuild locked, held by a role
--    with no grants, changes nothing; the locks itemcf uses now are not open to such roles
------------------------------------------------------------------------------
SELECT dblink_connect('stall', format('host=%s port=%s dbname=%s user=regress_itemcf_victim',
                      current_setting('unix_socket_directories'), current_setting('port'), current_database())) AS connected;
SELECT m.model_id AS sec_view_id FROM itemcf_models m WHERE m.name = 'sec_view' \gset
SELECT * FROM dblink('stall', format('SELECT ''held'' FROM (SELECT pg_advisory_lock(1769235814, %s), pg_advisory_lock(1769235814, 0)) l', :sec_view_id)) AS t(locked text);
SELECT model, status FROM itemcf_rebuild('sec_view');
SELECT security.try($$SELECT itemcf_reclaim()::text$$) AS reclaim;
-- even a role that may read itemcf_models (a dashboard) cannot lock its rows or the reclaim's table
GRANT SELECT ON itemcf_models, itemcf_popular TO regress_itemcf_victim;
SELECT * FROM dblink('stall', 'SELECT security.try($q$SELECT model_id FROM public.itemcf_models FOR KEY SHARE$q$)') AS t(row_lock text);
SELECT * FROM dblink('stall', 'SELECT security.try($q$LOCK TABLE public.itemcf_popular IN SHARE UPDATE EXCLUSIVE MODE$q$)') AS t(table_lock text);
SELECT dblink_disconnect('stall');
REVOKE SELECT ON itemcf_models, itemcf_popular FROM regress_itemcf_victim;
-- one reclaim worker at a time: while one waits for this transaction, no second one starts
BEGIN;
SELECT _itemcf_reclaim_later() AS first_worker;
SELECT security.wait_for($$SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'itemcf reclaim'$$) AS worker_waits;
-- another session's rebuild finds it running and reclaims itself (false: no second worker)
SELECT dblink_connect('other', format('host=%s port=%s dbname=%s user=postgres',
                      current_setting('unix_socket_directories'), current_setting('port'), current_database())) AS connected;
SELECT * FROM dblink('other', 'SELECT public._itemcf_reclaim_later()') AS t(other_session_worker boolean);
SELECT dblink_disconnect('other');
-- a second rebuild in this transaction leaves its versions to the worker already waiting for it
SELECT _itemcf_reclaim_later() AS same_transaction_worker;
SELECT pg_sleep(0.3) IS NOT NULL AS slept;
SELECT count(*) AS reclaim_workers FROM pg_stat_activity WHERE backend_type = 'itemcf reclaim';
ROLLBACK;

------------------------------------------------------------------------------
-- 5. A failed build's error may quote the source's data: only roles that can read the
--    source see it (the rebuild's result and itemcf_model_stats)
------------------------------------------------------------------------------
SET ROLE regress_itemcf_owner;
CREATE TABLE security.emails (u text, i bigint);
INSERT INTO security.emails VALUES ('alice@example.com', 1);
CREATE VIEW security.email_view AS SELECT u::bigint AS u, i FROM security.emails;
SELECT itemcf_register_model('sec_leak', 'security.email_view', 'u', 'i') IS NOT NULL AS registered;
SELECT model, status, error, sqlstate FROM itemcf_rebuild('sec_leak');
RESET ROLE;
SET ROLE regress_itemcf_mallory;
SELECT model, status, error, sqlstate FROM itemcf_rebuild('sec_leak');
RESET ROLE;
GRANT SELECT ON itemcf_model_stats TO regress_itemcf_mallory, regress_itemcf_owner;
SET ROLE regress_itemcf_mallory;
SELECT model, last_status, last_error FROM itemcf_model_stats WHERE model = 'sec_leak';
RESET ROLE;
SET ROLE regress_itemcf_owner;
SELECT model, last_status, last_error FROM itemcf_model_stats WHERE model = 'sec_leak';
RESET ROLE;
REVOKE SELECT ON itemcf_model_stats FROM regress_itemcf_mallory, regress_itemcf_owner;

------------------------------------------------------------------------------
-- 6. A model's owner cannot be dropped while it owns models; models are handed on with
--    itemcf_reassign_models(); a model whose owner is gone fails with a clear error
------------------------------------------------------------------------------
SELECT security.try($$DROP ROLE regress_itemcf_owner$$) AS drop_owner;
GRANT EXECUTE ON FUNCTION itemcf_reassign_models(oid, regrole) TO regress_itemcf_mallory;
SET ROLE regress_itemcf_mallory;
SELECT model FROM itemcf_owned_models ORDER BY 1;
SELECT security.try($$SELECT itemcf_reassign_models('regress_itemcf_owner'::regrole, 'regress_itemcf_mallory')::text$$) AS steal;
RESET ROLE;
GRANT SELECT ON security.owner_rows TO regress_itemcf_heir;
GRANT EXECUTE ON FUNCTION security.owner_norm(bigint) TO regress_itemcf_heir;
GRANT USAGE ON SCHEMA security TO regress_itemcf_heir;
SELECT security.try($$SELECT itemcf_reassign_models('regress_itemcf_owner'::regrole, 'regress_itemcf_heir')::text$$) AS reassign_no_access;
-- the owner's view reads as the view's owner: the heir needs only SELECT on the view
GRANT SELECT ON security.owner_view, security.email_view TO regress_itemcf_heir;
SELECT security.try($$SELECT itemcf_reassign_models('regress_itemcf_owner'::regrole, 'regress_itemcf_heir')::text$$) AS reassign;
SELECT name, owner FROM itemcf_models WHERE name IN ('sec_owner', 'sec_leak') ORDER BY name;
SELECT count(*) AS rows FROM recommend(7, 5, 'sec_owner');
-- the heir's models: DROP OWNED BY revokes the grant, and then the role can go; the models
-- left behind fail clearly and can be handed on by a superuser
SELECT security.try($$DROP ROLE regress_itemcf_heir$$) AS drop_heir;
DROP OWNED BY regress_itemcf_heir;
DROP ROLE regress_itemcf_heir;
SELECT model, status, regexp_replace(error, 'role [0-9]+', 'role N') AS error FROM itemcf_rebuild('sec_owner');
-- serving reads the user's purchases as the owner: the same clear error, not a permission error
SELECT regexp_replace(security.try($$SELECT count(*)::text FROM recommend(7, 5, 'sec_owner')$$), 'role [0-9]+', 'role N') AS serve_without_owner;
SELECT itemcf_reassign_models(owner::oid, 'regress_itemcf_owner') AS reassigned
  FROM (SELECT DISTINCT owner FROM itemcf_models WHERE name = 'sec_owner') o;
SELECT model, status FROM itemcf_rebuild('sec_owner');

------------------------------------------------------------------------------
-- 7. Dropping a model while it is rebuilt leaves none of its rows; reclaim removes rows of
--    models that no longer exist
------------------------------------------------------------------------------
SELECT itemcf_register_model('sec_dropped', 'security.m_rows', 'u', 'i') IS NOT NULL AS registered;
SELECT m.model_id AS dropped_id FROM itemcf_models m WHERE m.name = 'sec_dropped' \gset
SELECT dblink_connect('dropper', format('host=%s port=%s dbname=%s user=postgres',
                      current_setting('unix_socket_directories'), current_setting('port'), current_database())) AS connected;
BEGIN;
SELECT model, status FROM itemcf_rebuild('sec_dropped');
SELECT dblink_send_query('dropper', 'SELECT public.itemcf_drop_model(''sec_dropped'')') AS sent;
-- the drop waits for the rebuild's lock on the model's row
SELECT security.wait_for($$SELECT count(*) > 0 FROM pg_stat_activity
                          WHERE wait_event_type = 'Lock' AND query LIKE '%public.itemcf_drop_model%'$$) AS drop_waits;
COMMIT;
SELECT * FROM dblink_get_result('dropper') AS t(dropped text);
SELECT dblink_disconnect('dropper');
SELECT (SELECT count(*) FROM itemcf_neighbors WHERE model_id = :dropped_id) AS neighbor_rows,
       (SELECT count(*) FROM itemcf_popular WHERE model_id = :dropped_id) AS popular_rows;
-- rows of a model id that does not exist (as a drop during a 0.1.0 rebuild left them)
INSERT INTO itemcf_neighbors VALUES (999999, 1, 1, '{2:0.5}'), (999999, 1, 2, '{1:0.5}');
INSERT INTO itemcf_popular VALUES (999999, 1, 1, 1, 1);
SELECT itemcf_reclaim() >= 2 AS reclaimed;
SELECT (SELECT count(*) FROM itemcf_neighbors WHERE model_id = 999999) AS neighbor_rows,
       (SELECT count(*) FROM itemcf_popular WHERE model_id = 999999) AS popular_rows;

------------------------------------------------------------------------------
-- Cleanup
------------------------------------------------------------------------------
SELECT itemcf_drop_model(name) FROM itemcf_models WHERE name LIKE 'sec\_%';
DROP SCHEMA security, evil, mine CASCADE;
DROP OWNED BY regress_itemcf_mallory, regress_itemcf_victim, regress_itemcf_owner;
DROP ROLE regress_itemcf_mallory, regress_itemcf_victim, regress_itemcf_owner;
