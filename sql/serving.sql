--
-- Serving: recommend(), recommend_for_items(), similar_items() on tiny fixtures whose
-- cosine scores are computed by hand (in the comments), with ties, reasons, filters,
-- popular fill, keep_bought, repeat purchases, the history cap (by time and by hash
-- sample), the time window, recency weighting, bad input, a model never rebuilt,
-- a read-only role, and a rebuild rolled back.
-- Errors are followed by their SQLSTATE (\echo :LAST_ERROR_SQLSTATE).
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA serving;
SET search_path = serving, public;
SET TimeZone = 'UTC';
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_itemcf_serving_ro;
RESET client_min_messages;

-- Start from an empty default model: drop it (if an earlier test made it) and empty its table.
DO $$ BEGIN PERFORM itemcf_drop_model(name) FROM itemcf_models WHERE name = 'default'; END $$;
DELETE FROM itemcf_purchases;

------------------------------------------------------------------------------
-- The model named 'default' exists before its first rebuild, with nothing to serve: no rows
------------------------------------------------------------------------------
SELECT * FROM recommend(1);
\echo :LAST_ERROR_SQLSTATE

\i sql/include/serving_fixture.sql
-- 29 users (1..11, 101..116, 201, 202), 11 items, 4+4+4+4+3+3+1+1 = 24 neighbour entries
SELECT status, users, items, entries_written FROM itemcf_rebuild('default');
SELECT item_id, string_agg(neighbor_id || ':' || score, ' ' ORDER BY rank) AS neighbors
FROM itemcf_similarities WHERE model = 'default' GROUP BY item_id ORDER BY item_id;
SELECT p.rank, p.item_id, p.buyers FROM itemcf_popular p JOIN itemcf_models m USING (model_id)
WHERE m.name = 'default' AND p.version = m.current_version ORDER BY p.rank;

------------------------------------------------------------------------------
-- recommend() for user 1 (bought 10 and 20; 20 is the more recent, so it is read first)
--   30: .25 (from 10) + .5 (from 20) = .75, reason 20 (.5 > .25)
--   35: .25 (from 10) + .25 (from 20) = .5, equal contributions: reason the smaller, 10
--   40: .5 (from 10) = .5, reason 10          50: .5 (from 20) = .5, reason 20
--   10 and 20 (neighbours of each other, .25) are bought: dropped
-- 35, 40, 50 tie at .5: smaller id first.  20 is counted once although bought twice
-- (else 30 would score .25 + 2 * .5 = 1.25).  Then popular items not bought nor listed:
-- 95 85 90 (10 20 bought, 30 35 40 50 listed) 60 70 -> 9 rows although k = 10.
------------------------------------------------------------------------------
SELECT * FROM recommend(1);
-- k = 2: the two best
SELECT * FROM recommend(1, 2);
-- k = 5: the four scored items, then the most popular
SELECT * FROM recommend(1, 5);
-- keep_bought: 10 (.25 from 20) and 20 (.25 from 10) come back, after the .5 items
SELECT * FROM recommend(1, 7, keep_bought => true);
-- The purchases are read live: user 1 buys 30 now (no rebuild).  30 is dropped and adds
-- its list: 10 and 20 bought; 40: .5 + .25 = .75 (reason 10); 50: .5 + .25 = .75 (20);
-- 35: .5 (10, equal .25 and .25 from 10 and 20); then popular 95.
BEGIN;
INSERT INTO itemcf_purchases (user_id, item_id) VALUES (1, 30);
SELECT * FROM recommend(1, 4);
ROLLBACK;

-- Cold user (no purchases): popular items in popularity order, score 0, no because_item
SELECT * FROM recommend(999);
SELECT * FROM recommend(999, 3);

-- User 201 bought 60 and 70, whose only neighbours are each other: all bought, so only
-- popular items, never 60 or 70 (both popular)
SELECT * FROM recommend(201);
-- ... unless keep_bought: 60 (1 from 70) and 70 (1 from 60), then popular
SELECT * FROM recommend(201, 4, keep_bought => true);

------------------------------------------------------------------------------
-- Filters: exclude and allow (NULL elements ignored; NULL array = no filter)
------------------------------------------------------------------------------
-- exclude 30 and 95: 35 40 50 (.5), then popular 85 90 60 70
SELECT * FROM recommend(1, exclude => '{30,95}');
-- exclude with a NULL element and an unknown item: only 30 is excluded
SELECT * FROM recommend(1, 3, exclude => '{NULL,30,12345}');
-- allow-list without the best (30): still k = 3 results from the scored items
SELECT * FROM recommend(1, 3, allow => '{35,40,50,95,85}');
-- allow-list short of scored items: 40 50 scored, then allowed popular items 85 60
SELECT * FROM recommend(1, 5, allow => '{60,85,50,40,10}');
-- both: allowed and not excluded; 10 is allowed but bought
SELECT * FROM recommend(1, allow => '{10,30,40,50}', exclude => '{30}');
-- an empty allow-list allows nothing
SELECT count(*) AS rows FROM recommend(1, allow => '{}');
-- NULL filters: the same as none
SELECT (SELECT array_agg(item_id) FROM recommend(1, 10, 'default', NULL, NULL))
     = (SELECT array_agg(item_id) FROM recommend(1)) AS null_filters_are_no_filters;
-- popular fill for a cold user also honours the filters
SELECT * FROM recommend(999, 4, exclude => '{85}', allow => '{70,85,90,95,10}');

------------------------------------------------------------------------------
-- Recency weighting: weight = 0.5 ^ (age / half-life), age from now() (the transaction
-- start), purchase times set relative to now() in the same transaction.  A repeat
-- purchase counts once, at its most recent time.
------------------------------------------------------------------------------
BEGIN;
-- 10 exactly one day old (weight .5); 20 now (weight 1), its repeat 20 days ago ignored
UPDATE itemcf_purchases SET purchased_at = now() - interval '24 hours' WHERE user_id = 1 AND item_id = 10;
UPDATE itemcf_purchases SET purchased_at = now() WHERE user_id = 1 AND item_id = 20 AND purchased_at > now() - interval '6 days';
-- half-life 1 day: 30: .5*.25 + 1*.5 = .625 (20)   50: 1*.5 = .5 (20)
--                  35: .5*.25 + 1*.25 = .375 (20: .25 > .125)   40: .5*.5 = .25 (10)
SELECT * FROM recommend(1, 4, recency_half_life => '1 day');
-- half-life 12 hours: 10 is two half-lives old, weight .25
--   30: .25*.25 + .5 = .5625   50: .5   35: .0625 + .25 = .3125   40: .25*.5 = .125
SELECT * FROM recommend(1, 4, recency_half_life => '12 hours');
-- Now 10 is bought now (weight 1) and 20 two days ago (weight .25), half-life 1 day:
--   40: 1*.5 = .5 (10)   30: 1*.25 + .25*.5 = .375 (10: .25 > .125)
--   35: .25 + .25*.25 = .3125 (10)   50: .25*.5 = .125 (20)
UPDATE itemcf_purchases SET purchased_at = now() WHERE user_id = 1 AND item_id = 10;
UPDATE itemcf_purchases SET purchased_at = now() - interval '48 hours' WHERE user_id = 1 AND item_id = 20 AND purchased_at > now() - interval '6 days';
SELECT * FROM recommend(1, 4, recency_half_life => '1 day');
-- without a half-life the weights are 1 again: the unweighted scores
SELECT * FROM recommend(1, 4, recency_half_life => NULL);
ROLLBACK;
-- a half-life must be positive
SELECT * FROM recommend(1, recency_half_life => '0 seconds');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, recency_half_life => '-1 day');
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- History cap and time window, on models over a table of our own
--   users 1, 2, 3 bought (1, 11), (2, 12), (3, 13) one day ago;
--   user 9 bought 1 forty days ago, 2 three days ago, 3 two days ago.
------------------------------------------------------------------------------
CREATE TABLE hist (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON hist (user_id, ts);
INSERT INTO hist VALUES
  (1, 1, now() - interval '1 day'), (1, 11, now() - interval '1 day'),
  (2, 2, now() - interval '1 day'), (2, 12, now() - interval '1 day'),
  (3, 3, now() - interval '1 day'), (3, 13, now() - interval '1 day'),
  (9, 1, now() - interval '40 days'), (9, 2, now() - interval '3 days'), (9, 3, now() - interval '2 days');
SELECT itemcf_register_model('capped', 'hist', time_column => 'ts', history_cap => 2) IS NOT NULL AS registered;
SELECT itemcf_register_model('uncapped', 'hist', time_column => 'ts', history_cap => 0) IS NOT NULL AS registered;
SELECT itemcf_register_model('windowed', 'hist', time_column => 'ts', time_window => '30 days', history_cap => 0) IS NOT NULL AS registered;
-- capped (2 most recent per user): user 9 keeps 3 and 2, so 1 {1}, 11 {1}, 2 {2,9}, 12 {2},
-- 3 {3,9}, 13 {3}: 1-11 = 1/sqrt(1*1) = 1, 2-12 = 3-13 = 1/sqrt(2*1) = 0.70710677,
-- 2-3 = 1/sqrt(2*2) = .5: lists 1:[11] 11:[1] 2:[12 3] 12:[2] 3:[13 2] 13:[3], 8 entries.
-- windowed (30 days): user 9's purchase of 1 is skipped: the same lists, 1 row outside.
-- uncapped: 1 {1,9} 2 {2,9} 3 {3,9}: 1-11 = 2-12 = 3-13 = 1/sqrt(2) and 1-2 = 1-3 = 2-3 = .5,
-- 12 entries.
SELECT model, status, users, items, entries_written, rows_outside_window
FROM itemcf_rebuild('capped') UNION ALL SELECT model, status, users, items, entries_written, rows_outside_window
FROM itemcf_rebuild('uncapped') UNION ALL SELECT model, status, users, items, entries_written, rows_outside_window
FROM itemcf_rebuild('windowed');
SELECT model, item_id, string_agg(neighbor_id || ':' || score, ' ' ORDER BY rank) AS neighbors
FROM itemcf_similarities WHERE model IN ('capped', 'uncapped', 'windowed') GROUP BY 1, 2 ORDER BY 1, 2;
-- uncapped: user 9's three items each bring their own neighbour: 11, 12, 13 at 1/sqrt(2)
-- (the .5 neighbours among 1, 2, 3 are bought); equal scores, so by id
SELECT * FROM recommend(9, 3, 'uncapped');
-- capped: serving reads only the 2 most recent items, 3 and 2: 12 and 13 at 0.70710677.
-- Item 1 still has neighbour 11 at score 1 (from user 1): had it been read, 11 would come first.
SELECT * FROM recommend(9, 2, 'capped');
-- windowed: the purchase of 1 forty days ago is outside the window: the same two
SELECT * FROM recommend(9, 2, 'windowed');
-- ... while purchases inside it count: user 2 bought 2 and 12 a day ago; 2's list gives
-- 3 at .5 (12 is bought; 12's only neighbour, 2, too)
SELECT * FROM recommend(2, 1, 'windowed');

-- History cap without a time column: a deterministic hash sample, the same in the build
-- and in serving.  User 7 bought 1, 2, 3, alone; the build keeps 2 of them (x, y: x-y = 1).
-- If serving sampled the same two, keep_bought scores exactly x and y, and without it
-- nothing is scored (the only neighbours, x and y, are bought).
CREATE TABLE basket (user_id bigint, item_id bigint);
CREATE INDEX ON basket (user_id);
INSERT INTO basket VALUES (7, 1), (7, 2), (7, 3);
SELECT itemcf_register_model('sampled', 'basket', history_cap => 2) IS NOT NULL AS registered;
SELECT status, users, entries_written FROM itemcf_rebuild('sampled');
SELECT count(*) AS scored, array_agg(item_id ORDER BY item_id)
       = (SELECT array_agg(DISTINCT item_id ORDER BY item_id) FROM itemcf_similarities WHERE model = 'sampled') AS same_sample,
       min(score) AS min_score, max(score) AS max_score
FROM recommend(7, 3, 'sampled', keep_bought => true) WHERE reason <> 'popular';
SELECT count(*) AS scored FROM recommend(7, 3, 'sampled') WHERE reason <> 'popular';
-- a model without a time column cannot weight by recency
SELECT * FROM recommend(7, model => 'sampled', recency_half_life => '1 day');
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- recommend_for_items(): a cart or session
------------------------------------------------------------------------------
-- {30, 40, 30}: 30 counted once.  From 30: 20 .5, 10 .25, 40 .25, 50 .25;
-- from 40: 10 .5, 35 .5, 30 .25.  10: .25 + .5 = .75 (40); 20: .5 (30); 35: .5 (40);
-- 50: .25 (30); 30 and 40 are given: dropped.  Then popular 95 85 90 60 70.
-- (Counted twice, 30 would give 20 a score of 1.)
SELECT * FROM recommend_for_items('{30,40,30}');
-- keep_given: 30 (.25 from 40) and 40 (.25 from 30) tie with 50 at .25, by id
SELECT * FROM recommend_for_items('{40,30}', 6, keep_given => true);
-- filters
SELECT * FROM recommend_for_items('{30,40}', 3, exclude => '{10}', allow => '{10,20,35,50,95}');
-- NULL elements are ignored: {30}: 20 .5, then 10 40 50 at .25
SELECT * FROM recommend_for_items('{NULL,30}', 4);
-- unknown items, or none: only popular items
SELECT * FROM recommend_for_items('{12345,54321}', 3);
SELECT * FROM recommend_for_items('{}', 2);
-- an isolated item (no neighbours): popular items, without itself
SELECT * FROM recommend_for_items('{95}', 2);
-- 10000 ids are fine (none known: 10 popular items), 10001 are too many
SELECT count(*) AS rows FROM recommend_for_items(ARRAY(SELECT generate_series(1001, 11000)::bigint));
SELECT count(*) FROM recommend_for_items(ARRAY(SELECT generate_series(1001, 11001)::bigint));
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- similar_items(): the stored list, score desc then id
------------------------------------------------------------------------------
SELECT * FROM similar_items(10);
SELECT * FROM similar_items(10, 2);
SELECT * FROM similar_items(10, exclude => '{40,20}');
SELECT * FROM similar_items(10, allow => '{35,30,12345}');
SELECT * FROM similar_items(10, 1, exclude => '{40}', allow => '{35,40}');
SELECT * FROM similar_items(60);
-- an unknown item, an item without neighbours (popular, isolated): no rows
SELECT count(*) AS rows FROM similar_items(12345);
SELECT count(*) AS rows FROM similar_items(95);
SELECT * FROM similar_items(2, 5, 'uncapped');

------------------------------------------------------------------------------
-- Bad input: NULL user / items / item / k / model / flag give no rows (even for an
-- unknown model); NULL exclude / allow are no filter; k outside 1..1000; unknown model
------------------------------------------------------------------------------
SELECT (SELECT count(*) FROM recommend(NULL)) AS null_user,
       (SELECT count(*) FROM recommend(1, NULL)) AS null_k,
       (SELECT count(*) FROM recommend(1, 10, NULL)) AS null_model,
       (SELECT count(*) FROM recommend(1, keep_bought => NULL)) AS null_keep,
       (SELECT count(*) FROM recommend(NULL, 10, 'nope')) AS null_user_unknown_model,
       (SELECT count(*) FROM recommend(1, 10, 'default', NULL, NULL, false, NULL)) AS null_filters;
SELECT (SELECT count(*) FROM recommend_for_items(NULL)) AS null_items,
       (SELECT count(*) FROM recommend_for_items('{30}', NULL)) AS null_k,
       (SELECT count(*) FROM recommend_for_items('{30}', 10, NULL)) AS null_model,
       (SELECT count(*) FROM recommend_for_items('{30}', keep_given => NULL)) AS null_keep;
SELECT (SELECT count(*) FROM similar_items(NULL)) AS null_item,
       (SELECT count(*) FROM similar_items(10, NULL)) AS null_k,
       (SELECT count(*) FROM similar_items(10, 10, NULL)) AS null_model,
       (SELECT count(*) FROM similar_items(10, 10, 'default', NULL, NULL)) AS null_filters;
-- k = 1 and k = 1000 are fine
SELECT (SELECT count(*) FROM recommend(1, 1)) AS k1, (SELECT count(*) FROM recommend(1, 1000)) AS k1000,
       (SELECT count(*) FROM recommend_for_items('{30}', 1000)) AS items_k1000,
       (SELECT count(*) FROM similar_items(10, 1000)) AS similar_k1000;
SELECT * FROM recommend(1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, 1001);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, -5);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend_for_items('{30}', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM similar_items(10, 1001);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, model => 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend_for_items('{30}', model => 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM similar_items(10, model => 'nope');
\echo :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- A model registered but never rebuilt: no neighbours, no popular items, so no rows
-- (no error), even for a user with purchases in its source
------------------------------------------------------------------------------
SELECT itemcf_register_model('never', 'hist') IS NOT NULL AS registered;
SELECT (SELECT count(*) FROM recommend(9, model => 'never')) AS user_with_purchases,
       (SELECT count(*) FROM recommend(12345, model => 'never')) AS cold_user,
       (SELECT count(*) FROM recommend_for_items('{1,2}', model => 'never')) AS items,
       (SELECT count(*) FROM similar_items(2, model => 'never')) AS similar;

------------------------------------------------------------------------------
-- A read-only role: EXECUTE on the three functions is all it needs (public's USAGE
-- is PUBLIC's); it cannot read itemcf_purchases itself
------------------------------------------------------------------------------
CREATE ROLE regress_itemcf_serving_ro;
SELECT has_table_privilege('regress_itemcf_serving_ro', 'itemcf_purchases', 'SELECT') AS can_read_purchases,
       has_schema_privilege('regress_itemcf_serving_ro', 'public', 'USAGE') AS public_usage;
SET ROLE regress_itemcf_serving_ro;
-- not granted yet
SELECT * FROM recommend(1, 3);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend_for_items('{30}', 3);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM similar_items(10, 3);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT EXECUTE ON FUNCTION
  recommend(bigint, integer, text, bigint[], bigint[], boolean, interval),
  recommend_for_items(bigint[], integer, text, bigint[], bigint[], boolean),
  similar_items(bigint, integer, text, bigint[], bigint[])
  TO regress_itemcf_serving_ro;
SET ROLE regress_itemcf_serving_ro;
SELECT current_user;
-- served: user 1's purchases are read as the model's owner
SELECT * FROM recommend(1, 3);
-- (recency weights depend on the clock here: only items and reasons)
SELECT item_id, reason FROM recommend(1, 2, recency_half_life => '1 day');
SELECT * FROM recommend_for_items('{30,40}', 2);
SELECT * FROM similar_items(10, 2);
-- but the tables stay closed
SELECT * FROM itemcf_purchases;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM itemcf_neighbors;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP OWNED BY regress_itemcf_serving_ro;
DROP ROLE regress_itemcf_serving_ro;

------------------------------------------------------------------------------
-- A rebuild rolled back: recommend() answers from the old model exactly
------------------------------------------------------------------------------
CREATE TEMP TABLE before_rebuild AS SELECT * FROM recommend(1);
SELECT current_version AS version_before FROM itemcf_models WHERE name = 'default' \gset
BEGIN;
SELECT itemcf_alter_model('default', k => 1);
SELECT status, entries_written FROM itemcf_rebuild('default');
-- inside the transaction the new model (k = 1) serves: 10:[40 .5], 20:[30 .5] (30 and 50
-- tie at .5, the smaller id kept): 30 .5 (20), 40 .5 (10), then popular 95 85
SELECT * FROM recommend(1, 4);
ROLLBACK;
SELECT current_version = :version_before AS same_version FROM itemcf_models WHERE name = 'default';
SELECT * FROM recommend(1);
SELECT count(*) AS differences
FROM ((TABLE before_rebuild EXCEPT ALL SELECT * FROM recommend(1))
      UNION ALL (SELECT * FROM recommend(1) EXCEPT ALL TABLE before_rebuild)) d;

------------------------------------------------------------------------------
-- Regressions: serving reads exactly what the build read, with the build's settings
--
-- got(call): the scored (not popular) item ids of a recommend() call, in result order.
-- scored(model, items, weights, dropped, k): the same computed by brute force from the
-- stored lists: every neighbour n of the given items (with weight > 0) scores
-- sum(weight * score), bought items dropped, the top k by score (double) then id.
------------------------------------------------------------------------------
CREATE FUNCTION got(call text) RETURNS bigint[] LANGUAGE plpgsql AS $f$
DECLARE r bigint[];
BEGIN
  EXECUTE format($q$SELECT coalesce(array_agg(x.item_id ORDER BY x.n), '{}')
                    FROM %s WITH ORDINALITY x(item_id, score, reason, because_item, n)
                    WHERE x.reason <> 'popular'$q$, call) INTO r;
  RETURN r;
END $f$;
CREATE FUNCTION scored(model text, items bigint[], weights float8[], dropped bigint[], k integer)
RETURNS bigint[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(n ORDER BY sc DESC, n), '{}') FROM (
    SELECT s.neighbor_id AS n, sum(w.w * s.score::float8) AS sc
    FROM unnest(items, weights) w(i, w)
    JOIN public.itemcf_similarities s ON s.model = scored.model AND s.item_id = w.i
    WHERE w.w > 0 AND s.neighbor_id <> ALL (dropped)
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT k) t $$;

-- 1. An inheritance parent as the source: the build reads the children too, and so must
-- serving.  User 50 bought 1 (in the parent) and 2 (in the child); 51 bought 1 and 2,
-- 52 bought 2 and 3, 53 bought 1 and 4.  Serving must drop both 1 and 2 and score 3 and 4
-- (reading only the parent, it would recommend 2, which the user bought).
CREATE TABLE inh_parent (user_id bigint, item_id bigint);
CREATE TABLE inh_child () INHERITS (inh_parent);
CREATE INDEX ON inh_parent (user_id);
CREATE INDEX ON inh_child (user_id);
INSERT INTO inh_parent VALUES (50, 1), (51, 1), (53, 1), (53, 4);
INSERT INTO inh_child VALUES (50, 2), (51, 2), (52, 2), (52, 3);
SELECT itemcf_register_model('inh', 'inh_parent', history_cap => 0) IS NOT NULL AS registered;
SELECT status, users, items FROM itemcf_rebuild('inh');
SELECT * FROM recommend(50, 3, 'inh');
SELECT got($$recommend(50, 10, 'inh')$$) = scored('inh', '{1,2}', '{1,1}', '{1,2}', 10) AS inh_as_brute_force;
-- a partitioned source goes through the query as well
CREATE TABLE part_src (user_id bigint, item_id bigint) PARTITION BY RANGE (item_id);
CREATE TABLE part_lo PARTITION OF part_src FOR VALUES FROM (0) TO (2);
CREATE TABLE part_hi PARTITION OF part_src FOR VALUES FROM (2) TO (100);
CREATE INDEX ON part_src (user_id);
INSERT INTO part_src SELECT * FROM inh_parent;
SELECT itemcf_register_model('part', 'part_src', history_cap => 0) IS NOT NULL AS registered;
SELECT status FROM itemcf_rebuild('part');
SELECT got($$recommend(50, 10, 'part')$$) = scored('part', '{1,2}', '{1,1}', '{1,2}', 10) AS part_as_brute_force;

-- 2. The owner's privileges, checked as the query would check them: USAGE on the source's
-- schema (the build needs it too), and SELECT on the table or on each column read.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_itemcf_h3_owner;
RESET client_min_messages;
CREATE ROLE regress_itemcf_h3_owner;
CREATE SCHEMA h3priv;
CREATE TABLE h3priv.buys (user_id bigint, item_id bigint, ts timestamptz, secret text);
CREATE INDEX ON h3priv.buys (user_id);
INSERT INTO h3priv.buys VALUES (1, 1, now(), 'x'), (1, 2, now(), 'x'), (2, 2, now(), 'x'), (2, 3, now(), 'x');
CREATE VIEW h3priv.buys_view AS SELECT user_id, item_id FROM h3priv.buys;
GRANT USAGE ON SCHEMA h3priv TO regress_itemcf_h3_owner;
GRANT SELECT (user_id, item_id, ts) ON h3priv.buys TO regress_itemcf_h3_owner;
GRANT SELECT ON h3priv.buys_view TO regress_itemcf_h3_owner;
GRANT EXECUTE ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name)
  TO regress_itemcf_h3_owner;
SET ROLE regress_itemcf_h3_owner;
SELECT itemcf_register_model('priv_t', 'h3priv.buys', time_column => 'ts') IS NOT NULL AS registered;
SELECT itemcf_register_model('priv_v', 'h3priv.buys_view') IS NOT NULL AS registered;
RESET ROLE;
SELECT model, status FROM itemcf_rebuild('priv_t') UNION ALL SELECT model, status FROM itemcf_rebuild('priv_v');
-- user 1 bought 1 and 2: 3 (from 2) is scored, in both (column privileges suffice)
SELECT got($$recommend(1, 3, 'priv_t')$$) AS table_source, got($$recommend(1, 3, 'priv_v')$$) AS view_source;
-- the owner loses USAGE on the schema: serving refuses, like the rebuild
REVOKE USAGE ON SCHEMA h3priv FROM regress_itemcf_h3_owner;
SELECT * FROM recommend(1, 3, 'priv_t');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, 3, 'priv_v');
\echo :LAST_ERROR_SQLSTATE
SELECT model, status, error FROM itemcf_rebuild('priv_t');
GRANT USAGE ON SCHEMA h3priv TO regress_itemcf_h3_owner;
SELECT got($$recommend(1, 3, 'priv_t')$$) AS table_source_again;
-- without SELECT on the time column the query could not run: neither may serving
REVOKE SELECT (ts) ON h3priv.buys FROM regress_itemcf_h3_owner;
SELECT * FROM recommend(1, 3, 'priv_t');
\echo :LAST_ERROR_SQLSTATE
GRANT SELECT (ts) ON h3priv.buys TO regress_itemcf_h3_owner;

-- 3. One history-cap rule: the build keeps the history_cap most recent items, NULL times
-- last, ties (NULLs included) by the smaller id; serving must read the same history.
-- User 60 bought 1 (with a time) and 2..10 (NULL times); cap 4: the build keeps 1, 2, 3, 4.
-- Users 61..69 each bought one item i of 1..9 and 100 + i, so item i's best neighbour is
-- 100 + i (score 1/sqrt(2) for i <= 4, 1 otherwise) and only 101..104 may be scored.
-- Item 10 was bought by user 60 alone: after the cap it has no buyer and no neighbour.
CREATE TABLE nulltimes (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON nulltimes (user_id);
INSERT INTO nulltimes VALUES (60, 1, now() - interval '1 day');
INSERT INTO nulltimes SELECT 60, i, NULL FROM generate_series(2, 10) i;
INSERT INTO nulltimes SELECT 60 + i, i, NULL FROM generate_series(1, 9) i;
INSERT INTO nulltimes SELECT 60 + i, 100 + i, NULL FROM generate_series(1, 9) i;
SELECT itemcf_register_model('nullcap', 'nulltimes', time_column => 'ts', history_cap => 4) IS NOT NULL AS registered;
SELECT status, users, items FROM itemcf_rebuild('nullcap');
-- the build's history of user 60: the items with neighbours among 1..10
SELECT array_agg(DISTINCT item_id ORDER BY item_id) AS built_history
FROM itemcf_similarities WHERE model = 'nullcap' AND neighbor_id BETWEEN 1 AND 10;
SELECT * FROM recommend(60, 4, 'nullcap');
SELECT got($$recommend(60, 10, 'nullcap')$$)
       = scored('nullcap', ARRAY(SELECT item_id FROM nulltimes WHERE user_id = 60
                                 ORDER BY ts DESC NULLS LAST, item_id LIMIT 4),
                '{1,1,1,1}', ARRAY(SELECT item_id FROM nulltimes WHERE user_id = 60), 10) AS cap_as_brute_force;
-- the same through the query path (a view over the table)
CREATE VIEW nulltimes_view AS SELECT * FROM nulltimes;
SELECT itemcf_register_model('nullcap_v', 'nulltimes_view', time_column => 'ts', history_cap => 4) IS NOT NULL AS registered;
SELECT status FROM itemcf_rebuild('nullcap_v');
SELECT got($$recommend(60, 10, 'nullcap_v')$$) = got($$recommend(60, 10, 'nullcap')$$) AS view_as_table;

-- Every user of a shop with many NULL and equal purchase times (whole days, a third NULL),
-- repeat purchases, cap 3: each answer equals brute force over the build's rule (distinct
-- items by latest time descending, NULLs last, then id; the first 3), through the direct
-- read and through the query; and so do recency-weighted answers (half-life 1 day, times in
-- whole days, so every weight and product is exact).
CREATE TABLE capshop (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON capshop (user_id);
INSERT INTO capshop
SELECT u, (u * 7 + j * j * 3) % 40, CASE WHEN (u + j) % 3 = 0 THEN NULL
                                          ELSE '2026-01-01'::timestamptz + ((u * j) % 5) * interval '1 day' END
FROM generate_series(1, 300) u, generate_series(1, 1 + u % 7) j;
CREATE VIEW capshop_view AS SELECT * FROM capshop;
SELECT itemcf_register_model('capshop', 'capshop', time_column => 'ts', history_cap => 3) IS NOT NULL AS registered;
SELECT itemcf_register_model('capshop_v', 'capshop_view', time_column => 'ts', history_cap => 3) IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild('capshop') UNION ALL SELECT model, status FROM itemcf_rebuild('capshop_v');
CREATE FUNCTION capped(u bigint) RETURNS TABLE (item_id bigint, ts timestamptz) LANGUAGE sql AS $$
  SELECT item_id, max(ts) FROM serving.capshop WHERE user_id = u GROUP BY item_id
  ORDER BY max(ts) DESC NULLS LAST, item_id LIMIT 3 $$;
SELECT count(*) AS users,
       count(*) FILTER (WHERE (SELECT count(DISTINCT item_id) FROM capshop c WHERE c.user_id = u) > 3) AS capped_users,
       count(*) FILTER (WHERE got(format('recommend(%s, 10, %L)', u, 'capshop'))
         <> scored('capshop', ARRAY(SELECT item_id FROM capped(u)), array_fill(1::float8, ARRAY[3]),
                   ARRAY(SELECT item_id FROM capshop c WHERE c.user_id = u), 10)) AS table_differences,
       count(*) FILTER (WHERE got(format('recommend(%s, 10, %L)', u, 'capshop_v'))
         <> scored('capshop_v', ARRAY(SELECT item_id FROM capped(u)), array_fill(1::float8, ARRAY[3]),
                   ARRAY(SELECT item_id FROM capshop c WHERE c.user_id = u), 10)) AS view_differences,
       count(*) FILTER (WHERE got(format('recommend(%s, 10, %L, recency_half_life => %L)', u, 'capshop', '1 day'))
         <> scored('capshop', ARRAY(SELECT item_id FROM capped(u) ORDER BY item_id),
                   ARRAY(SELECT coalesce(0.5 ^ (extract(epoch FROM (SELECT max(ts) FROM capped(u)) - ts) / 86400), 0)
                         FROM capped(u) ORDER BY item_id),
                   ARRAY(SELECT item_id FROM capshop c WHERE c.user_id = u), 10)) AS recency_differences
FROM generate_series(1, 300) u;

-- One purchase rule (cf_purchase.h) with weights: a row whose weight is NULL, zero, negative,
-- NaN, infinite or beyond real's range is no purchase, in the build (counted as a bad
-- weight) and in serving (neither scored nor dropped from the answer).  Weight columns of
-- four types, read directly (real, double precision, integer) or through the query
-- (numeric, and every type through a view).  Oracle: the purchases are the rows whose
-- weight, as a numeric, lies in [1e-45, 3.4028234e38].
CREATE TABLE wshop (user_id bigint, item_id bigint, w_real real, w_dbl double precision, w_int integer, w_num numeric);
CREATE INDEX ON wshop (user_id);
INSERT INTO wshop
SELECT u, (u * 5 + j * j) % 30, r.v::real, d.v::double precision, i.v::integer, n.v::numeric
FROM generate_series(1, 200) u, generate_series(1, 2 + u % 5) j,
     LATERAL (SELECT (ARRAY['1', '2.5', 'NaN', '0', '-1', NULL, 'Infinity', '3e38', '1e-45'])[1 + (u * 3 + j) % 9] AS v) r,
     LATERAL (SELECT (ARRAY['1', '1e300', '1e-50', 'NaN', NULL, '-2', '0.5', '-Infinity', '3.4028234e38', '3.5e38'])[1 + (u + j * 7) % 10] AS v) d,
     LATERAL (SELECT (ARRAY['1', '0', '-3', NULL, '7'])[1 + (u * j) % 5] AS v) i,
     LATERAL (SELECT (ARRAY['1', '1e400', '-1e400', 'NaN', '1e-400', NULL, '0.25', '0'])[1 + (u + 2 * j) % 8] AS v) n;
CREATE VIEW wshop_view AS SELECT * FROM wshop;
CREATE FUNCTION usable(w numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS
  $$ SELECT coalesce(w BETWEEN 1e-45 AND 3.4028234e38, false) $$;
CREATE TEMP TABLE wmodels (model text, src text, col text);
INSERT INTO wmodels
SELECT format('w_%s%s', c, v), CASE WHEN v = '' THEN 'wshop' ELSE 'wshop_view' END, 'w_' || c
FROM unnest(ARRAY['real', 'dbl', 'int', 'num']) c, unnest(ARRAY['', '_v']) v;
SELECT count(*) FILTER (WHERE itemcf_register_model(model, src::regclass, weight_column => col::name,
                                                     history_cap => 0) IS NOT NULL) AS registered
FROM wmodels;
SELECT w.model, r.status,
       r.rows_bad_weight = (SELECT count(*) FROM wshop t WHERE NOT usable((to_jsonb(t) ->> w.col)::numeric)) AS bad_weights_as_oracle,
       r.rows_bad_weight > 0 AS some_bad
FROM wmodels w, LATERAL itemcf_rebuild(w.model) r ORDER BY 1;
CREATE FUNCTION wbought(col text, u bigint) RETURNS bigint[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(DISTINCT item_id ORDER BY item_id), '{}') FROM serving.wshop t
  WHERE user_id = u AND serving.usable((to_jsonb(t) ->> col)::numeric) $$;
SELECT w.model,
       count(*) FILTER (WHERE got(format('recommend(%s, 10, %L)', u, w.model))
         <> scored(w.model, wbought(w.col, u), array_fill(1::float8, ARRAY[cardinality(wbought(w.col, u))]),
                   wbought(w.col, u), 10)) AS differences,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM wshop t WHERE t.user_id = u
                                      AND NOT usable((to_jsonb(t) ->> w.col)::numeric)
                                      AND t.item_id <> ALL (wbought(w.col, u)))) AS users_with_unbought_rows
FROM wmodels w, generate_series(1, 200) u GROUP BY 1 ORDER BY 1;

-- 4. Every item of the model can fill an answer: item 10 (no buyer left after the cap, so no
-- neighbours) is still an item of the model
SELECT * FROM recommend(99999, 3, 'nullcap', allow => '{10,104,12345}');
-- a wide catalogue of items without neighbours (1500 items, one buyer each, history_cap 1:
-- 0.1.0 stored only the 1001 most popular): all 1500 can be served
CREATE TABLE wide (user_id bigint, item_id bigint);
CREATE INDEX ON wide (user_id);
INSERT INTO wide SELECT 10000 + i, i FROM generate_series(1, 1500) i;
SELECT itemcf_register_model('wide', 'wide', history_cap => 1) IS NOT NULL AS registered;
SELECT status, items, entries_written FROM itemcf_rebuild('wide');
SELECT * FROM recommend(99999, 3, 'wide', allow => '{1400,1450,1500,1501}');
SELECT count(*) AS rows, min(item_id), max(item_id)
FROM recommend(99999, 1000, 'wide', exclude => ARRAY(SELECT generate_series(1, 1000)::bigint));
SELECT count(*) AS rows FROM recommend_for_items('{1,2,3}', 1000, 'wide');

-- 5. Recency weighting on an old history: weights relative to the user's most recent
-- purchase (it weighs 1).  User 70 bought 1, 2 and 3 about 300 days ago, one day apart
-- (2 is the newest): with a half-life of one day the weights are 1, .5 and .25 (not
-- 0.5^300, which a real rounds to 0, leaving only the id order).  Users 71..73 bought
-- (1, 201), (2, 203), (3, 202): 203 scores 1/sqrt(2), 201 half that, 202 a quarter.
CREATE TABLE oldbuys (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON oldbuys (user_id);
INSERT INTO oldbuys VALUES
  (70, 1, now() - interval '301 days'), (70, 2, now() - interval '300 days'), (70, 3, now() - interval '302 days'),
  (71, 1, now() - interval '400 days'), (71, 201, now() - interval '400 days'),
  (72, 2, now() - interval '400 days'), (72, 203, now() - interval '400 days'),
  (73, 3, now() - interval '400 days'), (73, 202, now() - interval '400 days');
SELECT itemcf_register_model('old', 'oldbuys', time_column => 'ts', history_cap => 0) IS NOT NULL AS registered;
SELECT status FROM itemcf_rebuild('old');
SELECT item_id, round(score::numeric, 4) AS score, reason FROM recommend(70, 3, 'old', recency_half_life => '1 day');
SELECT got($$recommend(70, 10, 'old', recency_half_life => '1 day')$$)
       = scored('old', ARRAY(SELECT item_id FROM oldbuys WHERE user_id = 70 ORDER BY item_id),
                ARRAY(SELECT 0.5 ^ (extract(epoch FROM (SELECT max(ts) FROM oldbuys WHERE user_id = 70) - ts) / 86400)
                      FROM oldbuys WHERE user_id = 70 ORDER BY item_id),
                '{1,2,3}', 10) AS recency_as_brute_force;
-- and over 1100 half-lives (a double underflows from the present too): the same order
SELECT got($$recommend(70, 10, 'old', recency_half_life => '6 hours')$$)
       = scored('old', ARRAY(SELECT item_id FROM oldbuys WHERE user_id = 70 ORDER BY item_id),
                ARRAY(SELECT 0.5 ^ (extract(epoch FROM (SELECT max(ts) FROM oldbuys WHERE user_id = 70) - ts) / 21600)
                      FROM oldbuys WHERE user_id = 70 ORDER BY item_id),
                '{1,2,3}', 10) AS recency_6h_as_brute_force,
       got($$recommend(70, 10, 'old', recency_half_life => '6 hours')$$) AS recency_6h;

-- 6. A renamed column or a dropped source: a clear error naming the model
CREATE TABLE gone (user_id bigint, item_id bigint);
CREATE INDEX ON gone (user_id);
INSERT INTO gone VALUES (1, 1), (1, 2), (2, 2), (2, 3);
CREATE VIEW gone_view AS SELECT * FROM gone;
SELECT itemcf_register_model('gone', 'gone') IS NOT NULL AS registered;
SELECT itemcf_register_model('gone_v', 'gone_view') IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild('gone') UNION ALL SELECT model, status FROM itemcf_rebuild('gone_v');
SELECT got($$recommend(1, 3, 'gone')$$) AS table_source, got($$recommend(1, 3, 'gone_v')$$) AS view_source;
ALTER TABLE gone RENAME COLUMN item_id TO product_id;
ALTER VIEW gone_view RENAME COLUMN item_id TO product_id;
SELECT * FROM recommend(1, 3, 'gone');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, 3, 'gone_v');
\echo :LAST_ERROR_SQLSTATE
-- a renamed source is still the source (by OID), read under its new name
ALTER TABLE gone RENAME COLUMN product_id TO item_id;
ALTER VIEW gone_view RENAME COLUMN product_id TO item_id;
ALTER VIEW gone_view RENAME TO gone_view2;
SELECT got($$recommend(1, 3, 'gone_v')$$) AS renamed_view;
DROP VIEW gone_view2;
DROP TABLE gone;
SELECT * FROM recommend(1, 3, 'gone');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recommend(1, 3, 'gone_v');
\echo :LAST_ERROR_SQLSTATE
-- recommend_for_items and similar_items do not read the source
SELECT count(*) AS items_rows FROM recommend_for_items('{2}', 3, 'gone');

-- 7. recommend_for_items counts distinct items for its limit: 10,001 elements, 10,000 distinct
SELECT count(*) AS rows FROM recommend_for_items(ARRAY(SELECT generate_series(1001, 11000)::bigint) || 1001::bigint);

-- 8. itemcf_alter_model() takes effect at the rebuild: until then serving reads the source
-- with the settings the model was built with.  User 80 bought 1 (10 days ago) and 2 (an
-- hour ago); 81 bought 1 and 11, 82 bought 2 and 12: 11 and 12 score 1/sqrt(2) each.
-- alt_b holds other purchases: user 80 bought only 3, 83 bought 3 and 13.
CREATE TABLE alt_a (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON alt_a (user_id);
INSERT INTO alt_a VALUES (80, 1, now() - interval '10 days'), (80, 2, now() - interval '1 hour'),
  (81, 1, now()), (81, 11, now()), (82, 2, now()), (82, 12, now());
CREATE TABLE alt_b (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON alt_b (user_id);
INSERT INTO alt_b VALUES (80, 3, now()), (83, 3, now()), (83, 13, now());
SELECT itemcf_register_model('alt', 'alt_a', time_column => 'ts', history_cap => 0) IS NOT NULL AS registered;
SELECT status FROM itemcf_rebuild('alt');
SELECT built_settings = jsonb_build_object('user_column', 'user_id',
         'item_column', 'item_id', 'weight_column', NULL, 'time_column', 'ts', 'time_window', NULL, 'history_cap', 0, 'labels', false, 'window_end', NULL) AS built_settings_ok,
       built_source = 'alt_a'::regclass AS built_source_ok
FROM itemcf_models WHERE name = 'alt';
CREATE TEMP TABLE alt_before AS SELECT * FROM recommend(80, 5, 'alt');
SELECT * FROM alt_before;
-- same(): recommend(80) answers exactly as before
CREATE FUNCTION same() RETURNS boolean LANGUAGE sql AS $$
  SELECT NOT EXISTS ((TABLE alt_before EXCEPT ALL SELECT * FROM public.recommend(80, 5, 'alt'))
                     UNION ALL (SELECT * FROM public.recommend(80, 5, 'alt') EXCEPT ALL TABLE alt_before)) $$;
SELECT itemcf_alter_model('alt', history_cap => 1);
SELECT same() AS same_after_history_cap;
SELECT itemcf_alter_model('alt', time_window => '1 day');
SELECT same() AS same_after_time_window;
SELECT itemcf_alter_model('alt', source => 'alt_b');
SELECT same() AS same_after_source;
-- (a cap of 1 leaves no pairs to build from: 2 for the rebuild)
SELECT itemcf_alter_model('alt', history_cap => 2);
SELECT same() AS same_after_history_cap_2;
-- the rebuild applies them all: user 80 bought 3 in alt_b, whose neighbour is 13
SELECT status FROM itemcf_rebuild('alt');
SELECT same() AS same_after_rebuild;
SELECT * FROM recommend(80, 2, 'alt');
SELECT got($$recommend(80, 10, 'alt')$$) = scored('alt', '{3}', '{1}', '{3}', 10) AS rebuilt_as_brute_force;
SELECT built_settings->>'time_window' AS time_window, built_settings->'history_cap' AS history_cap,
       built_source = 'alt_b'::regclass AS source_ok
FROM itemcf_models WHERE name = 'alt';

-- 9. NULL arguments keep giving no rows, also for these models
SELECT (SELECT count(*) FROM recommend(80, 3, NULL)) AS null_model,
       (SELECT count(*) FROM recommend(80, 3, 'alt', recency_half_life => NULL)) AS null_half_life,
       (SELECT count(*) FROM similar_items(3, 3, NULL)) AS similar_null_model,
       (SELECT count(*) FROM recommend_for_items('{3}', NULL, 'alt')) AS items_null_k;

SELECT itemcf_drop_model(m) FROM unnest(ARRAY['inh', 'part', 'priv_t', 'priv_v', 'nullcap', 'nullcap_v', 'capshop', 'capshop_v', 'wide', 'old', 'gone', 'gone_v', 'alt']) m;
DROP OWNED BY regress_itemcf_h3_owner;
DROP SCHEMA h3priv CASCADE;
DROP ROLE regress_itemcf_h3_owner;

------------------------------------------------------------------------------
-- Sums beyond real's range: a recommendation's score adds the scores of every
-- bought item that lists it; two stored scores of 2e38 sum to 4e38, which is
-- returned as the largest real (3.4028235e+38), never as Infinity.  (Conditional
-- probability with weights "sum" over weights of 3e38 stores 20 -> 10 and
-- 40 -> 10 as 2e38 each, as similar_items shows.)
------------------------------------------------------------------------------
CREATE TABLE big_w (user_id bigint, item_id bigint, w real);
CREATE INDEX ON big_w (user_id);
INSERT INTO big_w VALUES (1, 10, 3e38), (1, 20, 0.5), (1, 40, 0.5),
                         (2, 10, 3e38), (2, 20, 0.5), (2, 40, 0.5),
                         (4, 20, 1), (4, 40, 1);
SELECT itemcf_register_model('big_w', 'big_w', weight_column => 'w', weights => 'sum',
                             measure => 'conditional_probability') IS NOT NULL AS registered;
SELECT status FROM itemcf_rebuild('big_w');
SELECT item_id, score, score = 3.4028235e38::real AS largest_real FROM similar_items(20, 5, 'big_w');
SELECT item_id, score, score = 3.4028235e38::real AS largest_real, reason FROM recommend(4, 5, 'big_w');
SELECT item_id, score, score = 3.4028235e38::real AS largest_real FROM recommend_for_items('{20,40}', 5, 'big_w');
SELECT itemcf_drop_model('big_w') IS NOT NULL AS dropped;
DROP TABLE big_w;

------------------------------------------------------------------------------
-- Clean up
------------------------------------------------------------------------------
SELECT itemcf_drop_model(m) FROM unnest(ARRAY['capped', 'uncapped', 'windowed', 'sampled', 'never', 'default']) m;
DELETE FROM itemcf_purchases;
DROP SCHEMA serving CASCADE;
