--
-- Stored models: register (checks, index warning), rebuild, the views, alter, drop,
-- failing sources (dropped, empty, only unusable rows) that keep the old model,
-- skipped rows in itemcf_runs, rebuild = the aggregate, hostile names.
-- Only deterministic columns are shown (no ids, versions, times or seconds).
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA models_basic;
SET search_path = models_basic, public;
SET TimeZone = 'UTC';

\i sql/include/helpers.sql

-- sims(model): the current neighbour lists, 'neighbour:score' by rank (6 digits)
CREATE FUNCTION sims(m text) RETURNS TABLE (item_id bigint, neighbors text) LANGUAGE sql AS $$
  SELECT s.item_id, string_agg(s.neighbor_id || ':' || s.score::numeric, ' ' ORDER BY s.rank)
  FROM public.itemcf_similarities s WHERE s.model = m GROUP BY s.item_id ORDER BY s.item_id $$;

-- runs(model): the deterministic columns of the runs of a model since the last call
CREATE TABLE seen (run_id bigint PRIMARY KEY);
CREATE FUNCTION runs(m text)
RETURNS TABLE (model text, status text, error text, rows_read bigint, rows_null_id bigint,
               rows_bad_weight bigint, rows_outside_window bigint, users integer, items integer,
               entries_written bigint, shards integer)
LANGUAGE sql AS $$
  WITH new AS (INSERT INTO models_basic.seen SELECT r.run_id FROM public.itemcf_runs r
               WHERE r.model = m AND r.run_id NOT IN (SELECT run_id FROM models_basic.seen) RETURNING run_id)
  SELECT r.model, r.status, r.error, r.rows_read, r.rows_null_id, r.rows_bad_weight, r.rows_outside_window,
         r.users, r.items, r.entries_written, r.shards
  FROM public.itemcf_runs r JOIN new USING (run_id) ORDER BY r.run_id $$;

-- same_as_agg(model, query): do the model's current neighbour lists equal item_neighbors()
-- of the aggregate query's result (items with no neighbour are not stored)?
CREATE FUNCTION same_as_agg(m text, query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  r bytea;
  bad bigint;
BEGIN
  EXECUTE query INTO r;
  SELECT count(*) INTO bad
  FROM (SELECT n.item_id, n.neighbors FROM public.itemcf_neighbors n
        JOIN public.itemcf_models mm ON mm.model_id = n.model_id AND n.version = mm.current_version
        WHERE mm.name = m) x
  FULL JOIN (SELECT * FROM public.item_neighbors(r) WHERE public.nnz(neighbors) > 0) y USING (item_id)
  WHERE x.neighbors IS NULL OR y.neighbors IS NULL OR NOT x.neighbors OPERATOR(public.=) y.neighbors;
  RETURN bad = 0;
END $$;

------------------------------------------------------------------------------
-- Fixture A (see cf_basic): u1: 10 20 30, u2: 10 20, u3: 20 40, u4: 30 40, u5: 50
-- cosine: 10-20 0.816497, 10-30 0.5, 20-30 = 20-40 0.408248, 30-40 0.5
------------------------------------------------------------------------------
CREATE TABLE purchases (user_id bigint, item_id bigint, qty integer, bought_at timestamptz, note text);
INSERT INTO purchases (user_id, item_id, qty, bought_at) VALUES
  (1, 10, 1, '2024-01-01'), (1, 20, 1, '2024-01-02'), (1, 30, 2, '2024-01-03'), (2, 10, 1, '2024-01-04'),
  (2, 20, 3, '2024-01-05'), (3, 20, 1, '2024-01-06'), (3, 40, 1, '2024-01-07'), (4, 30, 1, '2024-01-08'),
  (4, 40, 1, '2024-01-09'), (5, 50, 1, '2024-01-10');

------------------------------------------------------------------------------
-- Register
------------------------------------------------------------------------------
-- no index leading with the user column: a warning with the CREATE INDEX to run
SELECT itemcf_register_model('mb_cosine', 'purchases') IS NOT NULL AS registered;
CREATE INDEX ON purchases (user_id, item_id);
-- with the index: no warning
SELECT itemcf_register_model('mb_jaccard', 'purchases', measure => 'jaccard', k => 2) IS NOT NULL AS registered;
-- an index on another leading column does not count
CREATE TABLE other_index (user_id bigint, item_id bigint);
CREATE INDEX ON other_index (item_id, user_id);
SELECT itemcf_register_model('mb_other_index', 'other_index') IS NOT NULL AS registered;
SELECT itemcf_drop_model('mb_other_index');
-- a view: no index warning
CREATE VIEW purchases_view AS SELECT user_id AS buyer, item_id AS product, qty FROM purchases;
SELECT itemcf_register_model('mb_view', 'purchases_view', user_column => 'buyer', item_column => 'product',
                             weight_column => 'qty', weights => 'sum') IS NOT NULL AS registered;

-- what is stored
SELECT name, source, user_column, item_column, weight_column, time_column, measure, alpha, weights, k,
       min_support, shrinkage, time_window, history_cap, owner = current_user::regrole AS owned, current_version
FROM itemcf_models WHERE name LIKE 'mb\_%' ORDER BY name;

-- errors
SELECT try($$SELECT itemcf_register_model('mb_cosine', 'models_basic.purchases')$$) AS duplicate_name;
SELECT try($$SELECT itemcf_register_model('mb_x', 'models_basic.no_such_table')$$) AS no_table,
       try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', user_column => 'buyer')$$) AS no_user_column,
       try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', item_column => 'product')$$) AS no_item_column;
SELECT try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', weight_column => 'weight')$$) AS no_weight_column,
       try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', time_column => 'ts')$$) AS no_time_column;
SELECT try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', item_column => 'note')$$) AS text_item,
       try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', user_column => 'bought_at')$$) AS time_user;
SELECT try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', weight_column => 'note')$$) AS text_weight,
       try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', time_column => 'qty')$$) AS integer_time;
-- option values out of range: refused with 22023 and a message naming the option
SELECT o AS option, try(format('SELECT itemcf_register_model(''mb_x'', ''models_basic.purchases'', %s)', o)) AS result
FROM unnest(ARRAY['measure => ''pearson''', 'measure => NULL', 'k => 0', 'k => 1001', 'k => NULL',
                  'min_support => 0', 'shrinkage => -1', 'shrinkage => ''NaN''', 'shrinkage => ''Infinity''',
                  'alpha => 0.5', 'measure => ''asymmetric_cosine'', alpha => 2',
                  'measure => ''asymmetric_cosine'', alpha => ''NaN''', 'weights => ''max''',
                  'history_cap => -1', 'time_window => ''1 day''',
                  'time_column => ''bought_at'', time_window => ''-1 day''']) o;
SELECT try($$SELECT itemcf_register_model(NULL, 'models_basic.purchases')$$) AS null_name,
       try($$SELECT itemcf_register_model('mb_x', NULL)$$) AS null_source,
       try($$SELECT itemcf_register_model('', 'models_basic.purchases')$$) AS empty_name;
-- nothing was registered by the failures
SELECT count(*) AS mb_x FROM itemcf_models WHERE name = 'mb_x';

------------------------------------------------------------------------------
-- Rebuild one model; the views
------------------------------------------------------------------------------
SELECT model, status, error, rows_read, users, items, entries_written, partial_states, shards,
       version IS NOT NULL AS has_version, total_seconds >= 0 AS timed
FROM itemcf_rebuild('mb_cosine');
SELECT * FROM sims('mb_cosine');
SELECT model, item_id, neighbor_id, score::numeric AS score, rank FROM itemcf_similarities
WHERE model = 'mb_cosine' AND item_id IN (20, 50) ORDER BY item_id, rank;
-- not built yet: nothing in the views
SELECT count(*) AS jaccard_rows FROM itemcf_similarities WHERE model = 'mb_jaccard';
SELECT model, measure, k, users, items, items_with_neighbors, neighbor_coverage, entries, avg_neighbors, rows_read,
       last_status, last_error, version IS NOT NULL AS built
FROM itemcf_model_stats WHERE model LIKE 'mb\_%' ORDER BY model;
-- popular items: buyers descending, then id
SELECT p.rank, p.item_id, p.buyers FROM itemcf_popular p JOIN itemcf_models m USING (model_id)
WHERE m.name = 'mb_cosine' AND p.version = m.current_version ORDER BY p.rank;
-- the stored lists are exactly the aggregate's
SELECT same_as_agg('mb_cosine', 'SELECT item_neighbors_agg(user_id, item_id, 1) FROM models_basic.purchases') AS same;

-- the rebuild of a model that does not exist
SELECT try($$SELECT count(*) FROM itemcf_rebuild('no such model')$$) AS missing;

-- rebuild everything (creates the model 'default' over itemcf_purchases on first use)
SELECT model, status, error FROM itemcf_rebuild() WHERE model LIKE 'mb\_%' OR model = 'default' ORDER BY model;
SELECT name, source, owner = current_user::regrole AS owned FROM itemcf_models WHERE name = 'default';
-- jaccard, k 2: 10: 20 2/3, 30 1/3; 20: 10 2/3 then 30 and 40 tie at 1/4 -> 30;
-- 30: 10 = 40 1/3 > 20 1/4; 40: 30 1/3, 20 1/4
SELECT * FROM sims('mb_jaccard');
SELECT same_as_agg('mb_jaccard', $$SELECT item_neighbors_agg(user_id, item_id, 1, '{"measure": "jaccard", "k": 2}') FROM models_basic.purchases$$) AS same;
-- summed qty over the view: 10: u1 1, u2 1; 20: u1 1, u2 3, u3 1; 30: u1 2, u4 1; 40: u3 1, u4 1
--   10-20 (1 + 3)/sqrt(2 * 11) = 0.852803   10-30 2/sqrt(2 * 5) = 0.632456
--   20-30 2/sqrt(11 * 5) = 0.269680   20-40 1/sqrt(11 * 2) = 0.213201   30-40 1/sqrt(5 * 2) = 0.316228
SELECT * FROM sims('mb_view');
SELECT same_as_agg('mb_view', $$SELECT item_neighbors_agg(buyer, product, qty, '{"weights": "sum"}') FROM models_basic.purchases_view$$) AS same;

------------------------------------------------------------------------------
-- Alter
------------------------------------------------------------------------------
-- k 1 and shrinkage 1: cosine * c / (c + 1); 10: 20 0.544331; 20: 10 0.544331;
-- 30: 10 and 40 tie at 0.25 -> 10; 40: 30 0.25
SELECT itemcf_alter_model('mb_cosine', k => 1, shrinkage => 1);
SELECT model, status FROM itemcf_rebuild('mb_cosine');
SELECT * FROM sims('mb_cosine');
-- asymmetric with alpha, then back to cosine: alpha is cleared
SELECT itemcf_alter_model('mb_cosine', measure => 'asymmetric_cosine', alpha => 0.25);
SELECT measure, alpha, k, shrinkage FROM itemcf_models WHERE name = 'mb_cosine';
SELECT itemcf_alter_model('mb_cosine', measure => 'cosine');
SELECT measure, alpha, k, shrinkage FROM itemcf_models WHERE name = 'mb_cosine';
-- a time column and a window; the rename
SELECT itemcf_alter_model('mb_cosine', time_column => 'bought_at', time_window => '100 years', new_name => 'mb_renamed');
SELECT name, time_column, time_window, k FROM itemcf_models WHERE name IN ('mb_cosine', 'mb_renamed');
-- the neighbours follow the model under its new name (the last build still serves)
SELECT count(*) AS rows_under_new_name FROM itemcf_similarities WHERE model = 'mb_renamed';
-- bad alterations change nothing
SELECT try($$SELECT itemcf_alter_model('mb_renamed', user_column => 'nope')$$) AS bad_column,
       try($$SELECT itemcf_alter_model('mb_renamed', k => 5000)$$) AS bad_k,
       try($$SELECT itemcf_alter_model('mb_renamed', new_name => 'mb_jaccard')$$) AS taken_name,
       try($$SELECT itemcf_alter_model('mb_nope', k => 5)$$) AS no_model;
SELECT name, user_column, k FROM itemcf_models WHERE name = 'mb_renamed';
-- options are checked on alter too, and alpha only goes with asymmetric_cosine
SELECT try($$SELECT itemcf_alter_model('mb_renamed', min_support => 0)$$) AS bad_support,
       try($$SELECT itemcf_alter_model('mb_renamed', alpha => 0.5)$$) AS alpha_with_cosine,
       try($$SELECT itemcf_alter_model('mb_renamed', time_column => 'nope')$$) AS bad_time_column,
       try($$SELECT itemcf_alter_model('mb_renamed', new_name => '')$$) AS empty_name;
-- reset: back to the default, or cleared; never both given and reset; only known settings
SELECT itemcf_alter_model('mb_renamed', k => 7, measure => 'jaccard');
SELECT itemcf_alter_model('mb_renamed', reset => '{k,measure,time_window}');
SELECT name, measure, k, time_column, time_window FROM itemcf_models WHERE name = 'mb_renamed';
SELECT try($$SELECT itemcf_alter_model('mb_renamed', reset => '{time_column}', time_window => '1 day')$$) AS window_without_column,
       try($$SELECT itemcf_alter_model('mb_renamed', k => 3, reset => '{k}')$$) AS given_and_reset,
       try($$SELECT itemcf_alter_model('mb_renamed', reset => '{owner}')$$) AS unknown_setting,
       try($$SELECT itemcf_alter_model('mb_renamed', reset => '{NULL}')$$) AS null_setting;
SELECT itemcf_alter_model('mb_renamed', k => 1, shrinkage => 1, time_window => '100 years');
SELECT name, measure, k, shrinkage, time_column, time_window FROM itemcf_models WHERE name = 'mb_renamed';
-- rebuild with the time window: every purchase is within 100 years
SELECT model, status, rows_read, rows_outside_window FROM itemcf_rebuild('mb_renamed');
SELECT same_as_agg('mb_renamed', $$SELECT item_neighbors_agg(user_id, item_id, 1, '{"k": 1, "shrinkage": 1}') FROM models_basic.purchases$$) AS same;

------------------------------------------------------------------------------
-- Skipped rows are counted in itemcf_runs
------------------------------------------------------------------------------
CREATE TABLE dirty (user_id integer, item_id integer, w real, t timestamptz);
INSERT INTO dirty SELECT user_id, item_id, qty, now() - interval '1 day' FROM purchases;
INSERT INTO dirty VALUES (NULL, 10, 1, now()), (7, NULL, 1, now()),                      -- 2 NULL ids
                         (7, 10, 0, now()), (7, 20, -2, now()), (7, 30, 'NaN', now()),
                         (7, 40, NULL, now()), (7, 50, 'Infinity', now()),               -- 5 bad weights
                         (8, 10, 1, now() - interval '30 days'), (8, 20, 1, NULL);        -- 2 outside the window
SELECT itemcf_register_model('mb_dirty', 'dirty', weight_column => 'w', time_column => 't',
                             time_window => '7 days') IS NOT NULL AS registered;
SELECT count(*) AS runs FROM itemcf_rebuild('mb_dirty');
SELECT * FROM runs('mb_dirty');
SELECT model, rows_read, users, items, last_status FROM itemcf_model_stats WHERE model = 'mb_dirty';

------------------------------------------------------------------------------
-- A failing source keeps the model's current neighbours
------------------------------------------------------------------------------
CREATE TABLE shrinking (user_id bigint, item_id bigint, w real);
INSERT INTO shrinking SELECT user_id, item_id, qty FROM purchases;
SELECT itemcf_register_model('mb_shrinking', 'shrinking', weight_column => 'w') IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild('mb_shrinking');
SELECT * FROM runs('mb_shrinking');
CREATE TABLE before AS SELECT * FROM sims('mb_shrinking');
-- empty source: failed, with the reason; the old lists are still served
DELETE FROM shrinking;
SELECT model, status, error FROM itemcf_rebuild('mb_shrinking');
SELECT (SELECT string_agg(b::text, '; ' ORDER BY item_id) FROM before b)
     = (SELECT string_agg(s::text, '; ' ORDER BY item_id) FROM sims('mb_shrinking') s) AS old_lists_served;
-- only unusable rows: failed, and the error says what was skipped
INSERT INTO shrinking VALUES (NULL, 1, 1), (1, NULL, 1), (1, 2, 0), (2, 2, -1), (3, 3, 'NaN');
SELECT model, status, error, rows_read, rows_null_id, rows_bad_weight FROM itemcf_rebuild('mb_shrinking');
SELECT model, last_status, last_error, items_with_neighbors FROM itemcf_model_stats WHERE model = 'mb_shrinking';
SELECT (SELECT string_agg(b::text, '; ' ORDER BY item_id) FROM before b)
     = (SELECT string_agg(s::text, '; ' ORDER BY item_id) FROM sims('mb_shrinking') s) AS old_lists_served;

-- a dropped source: that model fails with a clear error, the others still rebuild
CREATE TABLE doomed AS SELECT user_id, item_id FROM purchases;
SELECT itemcf_register_model('mb_doomed', 'doomed') IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild('mb_doomed');
DROP TABLE doomed;
SELECT model, status, error FROM itemcf_rebuild() WHERE model LIKE 'mb\_%' ORDER BY model;
SELECT count(*) > 0 AS doomed_lists_served FROM itemcf_similarities WHERE model = 'mb_doomed';
-- point it at a new table: it builds again
CREATE TABLE reborn AS SELECT user_id, item_id FROM purchases WHERE user_id <= 2;
SELECT itemcf_alter_model('mb_doomed', source => 'reborn');
SELECT model, status, error, users, items FROM itemcf_rebuild('mb_doomed');
SELECT * FROM sims('mb_doomed');

------------------------------------------------------------------------------
-- Hostile names: a model named like an injection, a table and columns that need quoting
------------------------------------------------------------------------------
CREATE TABLE t (x integer);
CREATE TABLE "weird ""name""" ("user id" bigint, "item-id" bigint, "Weight (kg)" real, "when" timestamptz);
CREATE INDEX ON "weird ""name""" ("user id");
INSERT INTO "weird ""name""" SELECT user_id, item_id, qty, bought_at FROM purchases;
SELECT itemcf_register_model($$x'); DROP TABLE t; --$$, '"weird ""name"""', user_column => 'user id',
                             item_column => 'item-id', weight_column => 'Weight (kg)', time_column => 'when',
                             time_window => '100 years', history_cap => 2) IS NOT NULL AS registered;
SELECT name, source, user_column, item_column, weight_column, time_column FROM itemcf_models WHERE name LIKE 'x%';
SELECT model, status, error, rows_read, rows_outside_window FROM itemcf_rebuild($$x'); DROP TABLE t; --$$);
-- history cap 2 with times: u1 keeps 20 (Jan 2) and 30 (Jan 3): 10: u2; 20: u1 u2 u3; 30: u1 u4; 40: u3 u4
--   10-20 1/sqrt(3) = 0.57735   20-30 1/sqrt(6) = 0.408248   20-40 0.408248   30-40 1/2
SELECT * FROM sims($$x'); DROP TABLE t; --$$);
SELECT same_as_agg($$x'); DROP TABLE t; --$$,
                   $$SELECT item_neighbors_agg("user id", "item-id", "Weight (kg)", "when", '{"history_cap": 2}') FROM models_basic."weird ""name"""$$) AS same;
SELECT to_regclass('models_basic.t') IS NOT NULL AS t_still_exists;
-- hostile column names are refused when they do not exist, not executed
SELECT try($$SELECT itemcf_register_model('mb_x', 'models_basic.purchases', user_column => 'user_id"); DROP TABLE models_basic.t; --')$$) AS column_injection;
SELECT to_regclass('models_basic.t') IS NOT NULL AS t_still_exists;

------------------------------------------------------------------------------
-- Drop
------------------------------------------------------------------------------
SELECT itemcf_drop_model($$x'); DROP TABLE t; --$$);
SELECT try($$SELECT itemcf_drop_model('mb_nope')$$) AS no_model;
SELECT itemcf_drop_model(name) FROM itemcf_models WHERE name LIKE 'mb\_%' ORDER BY name;
SELECT count(*) AS models FROM itemcf_models WHERE name LIKE 'mb\_%' OR name LIKE 'x%';
SELECT count(*) AS similarities FROM itemcf_similarities WHERE model LIKE 'mb\_%' OR model LIKE 'x%';
-- the neighbour lists and popular items of dropped models are gone; their runs stay
SELECT count(*) AS orphan_neighbors FROM itemcf_neighbors WHERE model_id NOT IN (SELECT model_id FROM itemcf_models);
SELECT count(*) AS orphan_popular FROM itemcf_popular WHERE model_id NOT IN (SELECT model_id FROM itemcf_models);
SELECT count(*) > 0 AS runs_kept FROM itemcf_runs WHERE model LIKE 'mb\_%';
-- the model 'default' made by itemcf_rebuild() goes too (it is made again on first use)
SELECT itemcf_drop_model('default');

SET client_min_messages = warning;
DROP SCHEMA models_basic CASCADE;
