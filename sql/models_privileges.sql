--
-- Models and privileges: the management functions are denied until granted; a model
-- is owned by the role that registers it, its source is read as that owner (table
-- privileges and row-level security apply, whoever rebuilds); nobody alters or drops
-- another's model; a read-only role reads the views.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_itemcf_alice;
DROP ROLE IF EXISTS regress_itemcf_bob;
DROP ROLE IF EXISTS regress_itemcf_reader;
RESET client_min_messages;
CREATE ROLE regress_itemcf_alice;
CREATE ROLE regress_itemcf_bob;
CREATE ROLE regress_itemcf_reader;

CREATE SCHEMA models_privileges;
SET search_path = models_privileges, public;
GRANT USAGE, CREATE ON SCHEMA models_privileges TO regress_itemcf_alice, regress_itemcf_bob;
GRANT USAGE ON SCHEMA models_privileges TO regress_itemcf_reader;

\i sql/include/helpers.sql
GRANT EXECUTE ON FUNCTION try(text) TO PUBLIC;

-- sims(model): the current neighbour lists, 'neighbour:score' by rank (6 digits)
CREATE FUNCTION sims(m text) RETURNS TABLE (item_id bigint, neighbors text) LANGUAGE sql AS $$
  SELECT s.item_id, string_agg(s.neighbor_id || ':' || s.score::numeric, ' ' ORDER BY s.rank)
  FROM public.itemcf_similarities s WHERE s.model = m GROUP BY s.item_id ORDER BY s.item_id $$;

-- A shop with two regions.  In 'eu': u1: 10 20, u2: 10 20 30; in 'us': u3: 10 30, u4: 30 40
--   all rows:  10: u1 u2 u3, 20: u1 u2, 30: u2 u3 u4, 40: u4
--              10-20 2/sqrt(6) = 0.816497, 10-30 2/3, 20-30 1/sqrt(6) = 0.408248, 30-40 1/sqrt(3) = 0.57735
--   eu only:   10: u1 u2, 20: u1 u2, 30: u2
--              10-20 2/2 = 1, 10-30 = 20-30 1/sqrt(2) = 0.707107; no 40
CREATE TABLE shop (region text, user_id bigint, item_id bigint);
CREATE INDEX ON shop (user_id);
INSERT INTO shop VALUES ('eu', 1, 10), ('eu', 1, 20), ('eu', 2, 10), ('eu', 2, 20), ('eu', 2, 30),
                        ('us', 3, 10), ('us', 3, 30), ('us', 4, 30), ('us', 4, 40);
ALTER TABLE shop ENABLE ROW LEVEL SECURITY;
CREATE POLICY alice_sees_eu ON shop FOR SELECT TO regress_itemcf_alice USING (region = 'eu');
CREATE POLICY bob_sees_all ON shop FOR SELECT TO regress_itemcf_bob USING (true);
GRANT SELECT ON shop TO regress_itemcf_alice, regress_itemcf_bob;
-- a table alice may not read
CREATE TABLE secret (user_id bigint, item_id bigint);
CREATE INDEX ON secret (user_id);
INSERT INTO secret SELECT user_id, item_id FROM shop;

------------------------------------------------------------------------------
-- Not granted: every management function is denied (42501), so are the internals
------------------------------------------------------------------------------
SET ROLE regress_itemcf_alice;
SELECT try($$SELECT itemcf_register_model('mp_alice', 'models_privileges.shop')$$) AS register;
SELECT try($$SELECT itemcf_alter_model('mp_alice', k => 5)$$) AS alter,
       try($$SELECT itemcf_drop_model('mp_alice')$$) AS drop;
SELECT try($$SELECT count(*) FROM itemcf_rebuild()$$) AS rebuild;
SELECT try($$SELECT itemcf_build_model('regress_itemcf_alice', 'SELECT NULL::bytea', 1, 1, 0)$$) AS build_model,
       try($$SELECT _itemcf_rebuild_one(1)$$) AS rebuild_one;
SELECT try($$SELECT count(*) FROM itemcf_models$$) AS models_table,
       try($$SELECT count(*) FROM itemcf_similarities$$) AS similarities_view;
-- the aggregate itself is for everyone, on what one can read
SELECT try($$SELECT item_neighbors_stats(item_neighbors_agg(user_id, item_id, 1))->'rows' FROM models_privileges.shop$$) AS aggregate_rls,
       try($$SELECT item_neighbors_stats(item_neighbors_agg(user_id, item_id, 1))->'rows' FROM models_privileges.secret$$) AS aggregate_secret;
RESET ROLE;

GRANT EXECUTE ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name),
                          itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name),
                          itemcf_drop_model(text), itemcf_rebuild(text)
  TO regress_itemcf_alice, regress_itemcf_bob;

------------------------------------------------------------------------------
-- Granted: alice registers on what she can read; her model is hers
------------------------------------------------------------------------------
SET ROLE regress_itemcf_alice;
SELECT itemcf_register_model('mp_alice', 'models_privileges.shop') IS NOT NULL AS registered;
-- not on a table she cannot read
SELECT try($$SELECT itemcf_register_model('mp_secret', 'models_privileges.secret')$$) AS secret;
-- her own table
CREATE TABLE alice_orders (user_id bigint, item_id bigint);
CREATE INDEX ON alice_orders (user_id);
INSERT INTO alice_orders VALUES (1, 1), (1, 2), (2, 1), (2, 2);
SELECT itemcf_register_model('mp_alice_own', 'models_privileges.alice_orders') IS NOT NULL AS registered;
-- a view of hers over the table she cannot read registers (she owns the view) but
-- cannot be built: the view reads as its owner
CREATE VIEW alice_peek AS SELECT user_id, item_id FROM secret;
SELECT itemcf_register_model('mp_alice_peek', 'models_privileges.alice_peek') IS NOT NULL AS registered;
-- she cannot move her model onto the table she cannot read
SELECT try($$SELECT itemcf_alter_model('mp_alice_own', source => 'models_privileges.secret')$$) AS alter_to_secret;
SELECT model, status, error FROM itemcf_rebuild('mp_alice');
SELECT model, status, error FROM itemcf_rebuild('mp_alice_own');
SELECT model, status, error FROM itemcf_rebuild('mp_alice_peek');
RESET ROLE;
SELECT name, source, owner FROM itemcf_models WHERE name LIKE 'mp\_%' ORDER BY name;

------------------------------------------------------------------------------
-- Row-level security: alice's model holds only what alice sees (the eu rows)
------------------------------------------------------------------------------
SELECT * FROM sims('mp_alice');
-- the same as the aggregate over the eu rows, not over all rows
SELECT (SELECT string_agg(n.item_id || '=' || n.neighbors, ' ' ORDER BY n.item_id)
        FROM itemcf_neighbors n JOIN itemcf_models m ON m.model_id = n.model_id AND n.version = m.current_version
        WHERE m.name = 'mp_alice')
     = (SELECT string_agg(n.item_id || '=' || n.neighbors, ' ' ORDER BY n.item_id)
        FROM item_neighbors((SELECT item_neighbors_agg(user_id, item_id, 1) FROM shop WHERE region = 'eu')) n
        WHERE nnz(n.neighbors) > 0) AS same_as_eu_rows;
-- a superuser's rebuild still reads as alice
SELECT model, status, users, items FROM itemcf_rebuild('mp_alice');
SELECT * FROM sims('mp_alice');
-- bob registers the same source and sees every row
SET ROLE regress_itemcf_bob;
SELECT itemcf_register_model('mp_bob', 'models_privileges.shop') IS NOT NULL AS registered;
SELECT model, status, users, items FROM itemcf_rebuild('mp_bob');
RESET ROLE;
SELECT * FROM sims('mp_bob');

------------------------------------------------------------------------------
-- Someone else's model: bob can neither alter nor drop alice's; rebuilding it reads
-- as alice, not as bob
------------------------------------------------------------------------------
SET ROLE regress_itemcf_bob;
SELECT try($$SELECT itemcf_alter_model('mp_alice', k => 1)$$) AS alter,
       try($$SELECT itemcf_alter_model('mp_alice', new_name => 'mp_bobs_now')$$) AS rename,
       try($$SELECT itemcf_drop_model('mp_alice')$$) AS drop;
SELECT model, status, users, items FROM itemcf_rebuild('mp_alice');
-- nor write the extension's tables directly
SELECT try($$UPDATE itemcf_models SET owner = 'regress_itemcf_bob' WHERE name = 'mp_alice' RETURNING name$$) AS update_models,
       try($$DELETE FROM itemcf_neighbors RETURNING item_id$$) AS delete_neighbors;
RESET ROLE;
SELECT name, k, owner FROM itemcf_models WHERE name = 'mp_alice';
SELECT * FROM sims('mp_alice');
-- a superuser may alter and drop anyone's model
SELECT itemcf_alter_model('mp_bob', k => 1);
SELECT k FROM itemcf_models WHERE name = 'mp_bob';

------------------------------------------------------------------------------
-- Losing the privilege: the rebuild fails and the last neighbours stay
------------------------------------------------------------------------------
REVOKE SELECT ON shop FROM regress_itemcf_alice;
SELECT model, status, error FROM itemcf_rebuild('mp_alice');
SELECT count(*) AS still_served FROM itemcf_similarities WHERE model = 'mp_alice';
GRANT SELECT ON shop TO regress_itemcf_alice;
SELECT model, status FROM itemcf_rebuild('mp_alice');

------------------------------------------------------------------------------
-- A read-only role: the views when granted, nothing else
------------------------------------------------------------------------------
GRANT SELECT ON itemcf_similarities, itemcf_model_stats TO regress_itemcf_reader;
SET ROLE regress_itemcf_reader;
SELECT model, item_id, neighbor_id, score::numeric AS score, rank FROM itemcf_similarities
WHERE model = 'mp_alice' ORDER BY item_id, rank;
SELECT model, measure, k, users, items, items_with_neighbors, last_status FROM itemcf_model_stats
WHERE model LIKE 'mp\_%' ORDER BY model;
SELECT try($$SELECT count(*) FROM itemcf_rebuild('mp_alice')$$) AS rebuild,
       try($$SELECT itemcf_register_model('mp_reader', 'models_privileges.shop')$$) AS register;
SELECT try($$SELECT count(*) FROM itemcf_neighbors$$) AS neighbors_table,
       try($$SELECT count(*) FROM itemcf_runs$$) AS runs_table,
       try($$SELECT count(*) FROM shop$$) AS source_table;
RESET ROLE;

------------------------------------------------------------------------------
-- Clean up: the owners drop their models; then the roles go
------------------------------------------------------------------------------
SET ROLE regress_itemcf_alice;
-- (owners are not granted SELECT on itemcf_models: they name their models)
SELECT try($$SELECT count(*) FROM itemcf_models$$) AS models_table;
SELECT itemcf_drop_model('mp_alice'), itemcf_drop_model('mp_alice_own'), itemcf_drop_model('mp_alice_peek');

-- Confused deputy: alice (granted management) writes a SECURITY DEFINER function that
-- registers a model over a table only the reader role can read, and lures that role
-- into calling it.  The caller seen by itemcf is the function's owner (alice), not
-- the session role, so registering fails: alice cannot read the table.
RESET ROLE;
CREATE TABLE mp_reader_secret (user_id bigint, item_id bigint);
INSERT INTO mp_reader_secret VALUES (1, 1), (1, 2), (2, 1), (2, 2);
REVOKE ALL ON mp_reader_secret FROM PUBLIC;
GRANT SELECT ON mp_reader_secret TO regress_itemcf_reader;
SET ROLE regress_itemcf_alice;
CREATE FUNCTION mp_lure() RETURNS text LANGUAGE sql SECURITY DEFINER
  AS $$ SELECT try('SELECT itemcf_register_model(''mp_leak'', ''models_privileges.mp_reader_secret'')') $$;
GRANT EXECUTE ON FUNCTION mp_lure() TO regress_itemcf_reader;
RESET ROLE;
SET ROLE regress_itemcf_reader;
SELECT mp_lure() AS lured_register;
RESET ROLE;
SELECT count(*) AS leaked_models FROM itemcf_models WHERE name = 'mp_leak';

-- Column privileges are enough: bob may read only the columns the model uses
RESET ROLE;
CREATE TABLE mp_cols (user_id bigint, item_id bigint, secret text);
INSERT INTO mp_cols VALUES (1, 1, 'x'), (1, 2, 'y'), (2, 1, 'z'), (2, 2, 'w');
REVOKE ALL ON mp_cols FROM PUBLIC;
GRANT SELECT (user_id, item_id) ON mp_cols TO regress_itemcf_bob;
SET ROLE regress_itemcf_bob;
SELECT try('SELECT itemcf_register_model(''mp_cols'', ''models_privileges.mp_cols'')') LIKE 'OK:%' AS registered_with_column_grants,
       (SELECT count(*) FROM itemcf_rebuild('mp_cols') WHERE status = 'succeeded') AS rebuilt;
SELECT itemcf_drop_model('mp_cols');
RESET ROLE;
SET ROLE regress_itemcf_bob;
RESET ROLE;
SET ROLE regress_itemcf_bob;
SELECT itemcf_drop_model('mp_bob');
RESET ROLE;
SELECT count(*) AS models_left FROM itemcf_models WHERE name LIKE 'mp\_%';
SET client_min_messages = warning;
DROP SCHEMA models_privileges CASCADE;
REVOKE ALL ON itemcf_similarities, itemcf_model_stats FROM regress_itemcf_reader;
REVOKE ALL ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name),
                       itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name),
                       itemcf_drop_model(text), itemcf_rebuild(text)
  FROM regress_itemcf_alice, regress_itemcf_bob;
DROP ROLE regress_itemcf_alice;
DROP ROLE regress_itemcf_bob;
DROP ROLE regress_itemcf_reader;
