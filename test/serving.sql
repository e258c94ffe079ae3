-- pgTAP suite for serving: recommend(), recommend_for_items(), similar_items().
-- The signatures and privileges, then the hand-computed fixture sql/include/serving_fixture.sql
-- (see the arithmetic there and below): scores, ties, reasons, filters, popular fill,
-- keep_bought, repeat purchases, live reads, recency weights, the history cap and the
-- time window, bad input with its SQLSTATEs, a model never rebuilt, a read-only role,
-- a rebuild rolled back; and regressions of bugs these tests found.
-- Everything runs in one transaction, rolled back.
-- Run with: pg_prove -d <db> test/serving.sql   (in a database with CREATE EXTENSION pgtap)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS itemcf;
SET LOCAL TimeZone = 'UTC';
SET LOCAL client_min_messages = error;

SELECT plan(85);

-- top(call): the rows of a recommend() / recommend_for_items() call as 'item:score:because'
-- in result order; 'pop' for a popular row (score 0, no because_item); BAD:<reason> when
-- the reason does not name because_item with the function's verb.
CREATE FUNCTION pg_temp.top(call text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  verb text := CASE WHEN call LIKE 'recommend_for_items%' THEN 'because of ' ELSE 'because you bought ' END;
  r text;
BEGIN
  EXECUTE format($q$SELECT coalesce(string_agg(x.item_id || ':' || x.score || ':' || CASE
        WHEN x.reason = 'popular' AND x.because_item IS NULL AND x.score = 0 THEN 'pop'
        WHEN x.reason = %L || x.because_item THEN x.because_item::text
        ELSE 'BAD:' || coalesce(x.reason, 'NULL') END, ' ' ORDER BY x.n), '')
      FROM %s WITH ORDINALITY x(item_id, score, reason, because_item, n)$q$, verb, call) INTO r;
  RETURN r;
END $f$;
-- sim(call): the rows of a similar_items() call as 'item:score'
CREATE FUNCTION pg_temp.sim(call text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE r text;
BEGIN
  EXECUTE format($q$SELECT coalesce(string_agg(x.item_id || ':' || x.score, ' ' ORDER BY x.n), '')
      FROM %s WITH ORDINALITY x(item_id, score, n)$q$, call) INTO r;
  RETURN r;
END $f$;

------------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------------
-- 1-3
SELECT is(pg_get_function_arguments('recommend'::regproc),
          'user_id bigint, k integer DEFAULT 10, model text DEFAULT ''default''::text, exclude bigint[] DEFAULT NULL::bigint[], allow bigint[] DEFAULT NULL::bigint[], keep_bought boolean DEFAULT false, recency_half_life interval DEFAULT NULL::interval',
          'recommend() arguments and defaults');
SELECT is(pg_get_function_arguments('recommend_for_items'::regproc),
          'item_ids bigint[], k integer DEFAULT 10, model text DEFAULT ''default''::text, exclude bigint[] DEFAULT NULL::bigint[], allow bigint[] DEFAULT NULL::bigint[], keep_given boolean DEFAULT false',
          'recommend_for_items() arguments and defaults');
SELECT is(pg_get_function_arguments('similar_items'::regproc),
          'item bigint, k integer DEFAULT 10, model text DEFAULT ''default''::text, exclude bigint[] DEFAULT NULL::bigint[], allow bigint[] DEFAULT NULL::bigint[]',
          'similar_items() arguments and defaults');
-- 4-5
SELECT is((SELECT string_agg(pg_get_function_result(oid), ' | ' ORDER BY proname) FROM pg_proc
           WHERE proname IN ('recommend', 'recommend_for_items', 'similar_items')),
          'TABLE(item_id bigint, score real, reason text, because_item bigint) | TABLE(item_id bigint, score real, reason text, because_item bigint) | TABLE(item_id bigint, score real)',
          'result columns');
SELECT is((SELECT string_agg(proname || ' ' || provolatile::text || '/' || proparallel::text || '/' || prosecdef::text, ', ' ORDER BY proname) FROM pg_proc
           WHERE proname IN ('recommend', 'recommend_for_items', 'similar_items')),
          'recommend s/r/false, recommend_for_items s/r/false, similar_items s/r/false',
          'STABLE, PARALLEL RESTRICTED, not SECURITY DEFINER');
-- 6
SELECT is((SELECT count(*) FROM pg_proc WHERE proname IN ('recommend', 'recommend_for_items', 'similar_items')
           AND has_function_privilege('public', oid, 'EXECUTE')), 0::bigint, 'PUBLIC may not execute them');

------------------------------------------------------------------------------
-- Fixture (sql/include/serving_fixture.sql): every core item has 4 buyers, cosine = common / 4
--   10 {1,2,3,4}  20 {1,5,6,7}  30 {2,5,6,8}  35 {4,7,9,10}  40 {3,4,8,9}  50 {6,7,10,11}
--   lists 10: 40 .5, 20 30 35 .25 | 20: 30 50 .5, 10 35 .25 | 30: 20 .5, 10 40 50 .25
--         35: 40 50 .5, 10 20 .25 | 40: 10 35 .5, 30 .25   | 50: 20 35 .5, 30 .25
--   60-70: 1 (users 201, 202); 95, 85, 90 isolated with 6, 5, 5 buyers.
--   popular: 95 85 90 10 20 30 35 40 50 60 70
------------------------------------------------------------------------------
DO $$ BEGIN PERFORM itemcf_drop_model(name) FROM itemcf_models WHERE name = 'default'; END $$;
DELETE FROM itemcf_purchases;
-- 7: no model named default before the first rebuild
SELECT is((SELECT count(*) FROM recommend(1)), 0::bigint, 'default model before its first rebuild: no rows');

\i sql/include/serving_fixture.sql
-- 8-9
SELECT is((SELECT status || ' ' || users || ' ' || items || ' ' || entries_written FROM itemcf_rebuild('default')),
          'succeeded 29 11 24', 'default model built');
SELECT is((SELECT string_agg(item_id || '>' || neighbor_id || ':' || score, ' ' ORDER BY item_id, rank)
           FROM itemcf_similarities WHERE model = 'default'),
          '10>40:0.5 10>20:0.25 10>30:0.25 10>35:0.25 20>30:0.5 20>50:0.5 20>10:0.25 20>35:0.25 '
          '30>20:0.5 30>10:0.25 30>40:0.25 30>50:0.25 35>40:0.5 35>50:0.5 35>10:0.25 35>20:0.25 '
          '40>10:0.5 40>35:0.5 40>30:0.25 50>20:0.5 50>35:0.5 50>30:0.25 60>70:1 70>60:1',
          'the hand-computed neighbour lists');

------------------------------------------------------------------------------
-- recommend()
------------------------------------------------------------------------------
-- user 1 bought 10 and 20 (twice): 30 .25+.5 = .75 (20); 35 .25+.25 = .5 (equal: the smaller, 10);
-- 40 .5 (10); 50 .5 (20); then popular, not bought nor listed
-- 10-19
SELECT is(pg_temp.top('recommend(1)'),
          '30:0.75:20 35:0.5:10 40:0.5:10 50:0.5:20 95:0:pop 85:0:pop 90:0:pop 60:0:pop 70:0:pop',
          'user 1: sums of neighbour scores, ties by id, reasons, popular fill');
SELECT is(pg_temp.top('recommend(1, 2)'), '30:0.75:20 35:0.5:10', 'k = 2');
SELECT is(pg_temp.top('recommend(1, 7, keep_bought => true)'),
          '30:0.75:20 35:0.5:10 40:0.5:10 50:0.5:20 10:0.25:20 20:0.25:10 95:0:pop', 'keep_bought');
SELECT is(pg_temp.top('recommend(999)'),
          '95:0:pop 85:0:pop 90:0:pop 10:0:pop 20:0:pop 30:0:pop 35:0:pop 40:0:pop 50:0:pop 60:0:pop',
          'cold user: popular items in popularity order');
SELECT is(pg_temp.top('recommend(201)'),
          '95:0:pop 85:0:pop 90:0:pop 10:0:pop 20:0:pop 30:0:pop 35:0:pop 40:0:pop 50:0:pop',
          'every neighbour bought: popular fill, never a bought item');
SELECT is(pg_temp.top('recommend(1, exclude => ''{30,95}'')'),
          '35:0.5:10 40:0.5:10 50:0.5:20 85:0:pop 90:0:pop 60:0:pop 70:0:pop', 'exclude');
SELECT is(pg_temp.top('recommend(1, 3, allow => ''{35,40,50,95,85}'')'),
          '35:0.5:10 40:0.5:10 50:0.5:20', 'allow-list: still k results');
SELECT is(pg_temp.top('recommend(1, 5, allow => ''{60,85,50,40,10}'')'),
          '40:0.5:10 50:0.5:20 85:0:pop 60:0:pop', 'allow-list: popular fill filtered too');
-- (values computed inside a savepoint are kept with \gset: rolling back to it would
-- also roll back pgTAP's own bookkeeping)
SAVEPOINT repeat;
INSERT INTO itemcf_purchases (user_id, item_id) VALUES (1, 10), (1, 10), (999, 60);
SELECT pg_temp.top('recommend(1, 4)') AS repeat_top, pg_temp.top('recommend(999, 3)') AS live_top \gset
ROLLBACK TO SAVEPOINT repeat;
SELECT is(:'repeat_top'::text, '30:0.75:20 35:0.5:10 40:0.5:10 50:0.5:20', 'repeat purchases count once');
-- 999 bought 60 (no rebuild): 70 at 1
SELECT is(:'live_top'::text, '70:1:60 95:0:pop 85:0:pop', 'purchases are read live');

-- Recency: times relative to now() in this transaction
-- 10 one day old (weight .5), 20 now (1; its repeat 20 days ago is ignored):
--   30 .125+.5 = .625 (20), 50 .5 (20), 35 .125+.25 = .375 (20), 40 .25 (10)
-- half-life 12 hours (10 weighs .25): 30 .5625, 50 .5, 35 .3125, 40 .125
-- 20-24
SAVEPOINT recency;
UPDATE itemcf_purchases SET purchased_at = now() - interval '24 hours' WHERE user_id = 1 AND item_id = 10;
UPDATE itemcf_purchases SET purchased_at = now() WHERE user_id = 1 AND item_id = 20 AND purchased_at > now() - interval '6 days';
SELECT pg_temp.top('recommend(1, 4, recency_half_life => ''1 day'')') AS rec_day,
       pg_temp.top('recommend(1, 4, recency_half_life => ''12 hours'')') AS rec_half_day,
       pg_temp.top('recommend(1, 4, recency_half_life => NULL)') AS rec_none \gset
ROLLBACK TO SAVEPOINT recency;
SELECT is(:'rec_day'::text, '30:0.625:20 50:0.5:20 35:0.375:20 40:0.25:10', 'recency: one half-life weighs .5');
SELECT is(:'rec_half_day'::text, '30:0.5625:20 50:0.5:20 35:0.3125:20 40:0.125:10', 'recency: two half-lives weigh .25');
SELECT is(:'rec_none'::text, '30:0.75:20 35:0.5:10 40:0.5:10 50:0.5:20', 'no half-life: weight 1');
SELECT throws_ok($$SELECT * FROM recommend(1, recency_half_life => '0 seconds')$$, '22023',
                 'recency half-life must be positive', 'zero half-life');
SELECT throws_ok($$SELECT * FROM recommend(1, recency_half_life => '-1 day')$$, '22023',
                 'recency half-life must be positive', 'negative half-life');

------------------------------------------------------------------------------
-- History cap and time window (see sql/serving.sql): user 9 bought 1 (40 days ago),
-- 2 (3 days), 3 (2 days); users 1, 2, 3 bought (1,11), (2,12), (3,13) a day ago.
------------------------------------------------------------------------------
CREATE TABLE tap_hist (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON tap_hist (user_id, ts);
INSERT INTO tap_hist VALUES
  (1, 1, now() - interval '1 day'), (1, 11, now() - interval '1 day'),
  (2, 2, now() - interval '1 day'), (2, 12, now() - interval '1 day'),
  (3, 3, now() - interval '1 day'), (3, 13, now() - interval '1 day'),
  (9, 1, now() - interval '40 days'), (9, 2, now() - interval '3 days'), (9, 3, now() - interval '2 days');
CREATE TABLE tap_basket (user_id bigint, item_id bigint);
CREATE INDEX ON tap_basket (user_id);
INSERT INTO tap_basket VALUES (7, 1), (7, 2), (7, 3);
DO $$ BEGIN
  PERFORM itemcf_register_model('tap_capped', 'tap_hist', time_column => 'ts', history_cap => 2);
  PERFORM itemcf_register_model('tap_uncapped', 'tap_hist', time_column => 'ts', history_cap => 0);
  PERFORM itemcf_register_model('tap_windowed', 'tap_hist', time_column => 'ts', time_window => '30 days', history_cap => 0);
  PERFORM itemcf_register_model('tap_never', 'tap_hist');
  PERFORM itemcf_register_model('tap_sampled', 'tap_basket', history_cap => 2);
END $$;
-- 25
SELECT is((SELECT string_agg(r.model || ' ' || r.status, ', ' ORDER BY r.model)
           FROM unnest(ARRAY['tap_capped', 'tap_sampled', 'tap_uncapped', 'tap_windowed']) m, itemcf_rebuild(m) r),
          'tap_capped succeeded, tap_sampled succeeded, tap_uncapped succeeded, tap_windowed succeeded', 'built');
-- 26-31
-- uncapped: 11, 12, 13 at 1/sqrt(2*1); capped/windowed: item 1 not read, so 11 (score 1 from 1) absent
SELECT is(pg_temp.top('recommend(9, 3, ''tap_uncapped'')'), '11:0.70710677:1 12:0.70710677:2 13:0.70710677:3', 'no cap: all three count');
SELECT is(pg_temp.top('recommend(9, 2, ''tap_capped'')'), '12:0.70710677:2 13:0.70710677:3', 'history cap 2: the 2 most recent count');
SELECT is(pg_temp.top('recommend(9, 2, ''tap_windowed'')'), '12:0.70710677:2 13:0.70710677:3', 'time window: older purchases do not count');
SELECT is(pg_temp.top('recommend(2, 1, ''tap_windowed'')'), '3:0.5:2', 'time window: recent purchases count');
SELECT is((SELECT array_agg(item_id ORDER BY item_id) FROM recommend(7, 3, 'tap_sampled', keep_bought => true) WHERE reason <> 'popular'),
          (SELECT array_agg(DISTINCT item_id ORDER BY item_id) FROM itemcf_similarities WHERE model = 'tap_sampled'),
          'hash-sampled cap: serving keeps the items the build kept');
SELECT throws_ok($$SELECT * FROM recommend(7, model => 'tap_sampled', recency_half_life => '1 day')$$, '22023',
                 'model "tap_sampled" has no time column, so purchases cannot be weighted by recency', 'recency needs a time column');

------------------------------------------------------------------------------
-- recommend_for_items()
------------------------------------------------------------------------------
-- {30,40}: 10 .25+.5 = .75 (40), 20 .5 (30), 35 .5 (40), 50 .25 (30)
-- 32-37
SELECT is(pg_temp.top('recommend_for_items(''{30,40,30}'')'),
          '10:0.75:40 20:0.5:30 35:0.5:40 50:0.25:30 95:0:pop 85:0:pop 90:0:pop 60:0:pop 70:0:pop', 'a cart');
SELECT is(pg_temp.top('recommend_for_items(''{30,40,30,40,40}'')'), pg_temp.top('recommend_for_items(''{40,30}'')'),
          'duplicates count once');
SELECT is(pg_temp.top('recommend_for_items(''{40,30}'', 6, keep_given => true)'),
          '10:0.75:40 20:0.5:30 35:0.5:40 30:0.25:40 40:0.25:30 50:0.25:30', 'keep_given');
SELECT is(pg_temp.top('recommend_for_items(''{12345,54321}'', 3)'), '95:0:pop 85:0:pop 90:0:pop', 'unknown items: only popular');
SELECT is((SELECT count(*) FROM recommend_for_items(ARRAY(SELECT generate_series(1001, 11000)::bigint))), 10::bigint, '10000 ids');
SELECT throws_ok($$SELECT * FROM recommend_for_items(ARRAY(SELECT generate_series(1001, 11001)::bigint))$$, '54000',
                 'at most 10000 distinct items can be given', '10001 ids: 54000');

------------------------------------------------------------------------------
-- similar_items()
------------------------------------------------------------------------------
-- 38-43
SELECT is(pg_temp.sim('similar_items(10)'), '40:0.5 20:0.25 30:0.25 35:0.25', 'the stored list, score desc then id');
SELECT is(pg_temp.sim('similar_items(10, 2)'), '40:0.5 20:0.25', 'k');
SELECT is(pg_temp.sim('similar_items(10, exclude => ''{40,20}'')'), '30:0.25 35:0.25', 'exclude');
SELECT is(pg_temp.sim('similar_items(10, allow => ''{35,30,12345}'')'), '30:0.25 35:0.25', 'allow');
SELECT is_empty($$SELECT * FROM similar_items(12345)$$, 'unknown item: no rows');
SELECT is_empty($$SELECT * FROM similar_items(95)$$, 'item without neighbours: no rows');

------------------------------------------------------------------------------
-- Bad input
------------------------------------------------------------------------------
-- 44-46: NULL arguments give no rows (even with an unknown model); NULL filters none
SELECT is(ARRAY[(SELECT count(*) FROM recommend(NULL)), (SELECT count(*) FROM recommend(1, NULL)),
                (SELECT count(*) FROM recommend(1, 10, NULL)), (SELECT count(*) FROM recommend(1, keep_bought => NULL)),
                (SELECT count(*) FROM recommend(NULL, 10, 'nope')),
                (SELECT count(*) FROM recommend(1, 10, 'default', NULL, NULL, false, NULL))],
          ARRAY[0, 0, 0, 0, 0, 9]::bigint[], 'recommend: NULL user / k / model / flag: no rows; NULL filters: none');
SELECT is(ARRAY[(SELECT count(*) FROM recommend_for_items(NULL)), (SELECT count(*) FROM recommend_for_items('{30}', NULL)),
                (SELECT count(*) FROM recommend_for_items('{30}', 10, NULL)),
                (SELECT count(*) FROM recommend_for_items('{30}', keep_given => NULL))],
          ARRAY[0, 0, 0, 0]::bigint[], 'recommend_for_items: NULL items / k / model / flag: no rows');
SELECT is(ARRAY[(SELECT count(*) FROM similar_items(NULL)), (SELECT count(*) FROM similar_items(10, NULL)),
                (SELECT count(*) FROM similar_items(10, 10, NULL)),
                (SELECT count(*) FROM similar_items(10, 10, 'default', NULL, NULL))],
          ARRAY[0, 0, 0, 4]::bigint[], 'similar_items: NULL item / k / model: no rows; NULL filters: none');
-- 47-54
SELECT throws_ok($$SELECT * FROM recommend(1, 0)$$, '22023', 'k must be between 1 and 1000', 'recommend: k = 0');
SELECT throws_ok($$SELECT * FROM recommend(1, 1001)$$, '22023', 'k must be between 1 and 1000', 'recommend: k = 1001');
SELECT throws_ok($$SELECT * FROM recommend_for_items('{30}', 0)$$, '22023', 'k must be between 1 and 1000', 'recommend_for_items: k = 0');
SELECT throws_ok($$SELECT * FROM recommend_for_items('{30}', 1001)$$, '22023', 'k must be between 1 and 1000', 'recommend_for_items: k = 1001');
SELECT throws_ok($$SELECT * FROM similar_items(10, 0)$$, '22023', 'k must be between 1 and 1000', 'similar_items: k = 0');
SELECT throws_ok($$SELECT * FROM similar_items(10, 1001)$$, '22023', 'k must be between 1 and 1000', 'similar_items: k = 1001');
SELECT is(ARRAY[(SELECT count(*) FROM recommend(1, 1)), (SELECT count(*) FROM recommend(1, 1000)),
                (SELECT count(*) FROM similar_items(10, 1000))], ARRAY[1, 9, 4]::bigint[], 'k = 1 and k = 1000');
SELECT throws_ok($$SELECT * FROM recommend(1, model => 'nope')$$, '42704', 'model "nope" does not exist', 'recommend: unknown model');
-- 55-56
SELECT throws_ok($$SELECT * FROM recommend_for_items('{30}', model => 'nope')$$, '42704', 'model "nope" does not exist', 'recommend_for_items: unknown model');
SELECT throws_ok($$SELECT * FROM similar_items(10, model => 'nope')$$, '42704', 'model "nope" does not exist', 'similar_items: unknown model');

------------------------------------------------------------------------------
-- A model never rebuilt: no rows, no error
------------------------------------------------------------------------------
-- 57-59
SELECT is_empty($$SELECT * FROM recommend(9, model => 'tap_never')$$, 'never rebuilt: recommend gives no rows');
SELECT is_empty($$SELECT * FROM recommend_for_items('{1,2}', model => 'tap_never')$$, 'never rebuilt: recommend_for_items gives no rows');
SELECT is_empty($$SELECT * FROM similar_items(2, model => 'tap_never')$$, 'never rebuilt: similar_items gives no rows');

------------------------------------------------------------------------------
-- A read-only role
------------------------------------------------------------------------------
CREATE ROLE tap_serving_ro;
-- 60-62
SET LOCAL ROLE tap_serving_ro;
SELECT throws_ok($$SELECT * FROM recommend(1, 3)$$, '42501', NULL, 'recommend is not granted by default');
SELECT throws_ok($$SELECT * FROM recommend_for_items('{30}', 3)$$, '42501', NULL, 'recommend_for_items is not granted by default');
SELECT throws_ok($$SELECT * FROM similar_items(10, 3)$$, '42501', NULL, 'similar_items is not granted by default');
RESET ROLE;
GRANT EXECUTE ON FUNCTION
  recommend(bigint, integer, text, bigint[], bigint[], boolean, interval),
  recommend_for_items(bigint[], integer, text, bigint[], bigint[], boolean),
  similar_items(bigint, integer, text, bigint[], bigint[])
  TO tap_serving_ro;
-- 63-66
SET LOCAL ROLE tap_serving_ro;
SELECT is(pg_temp.top('recommend(1, 3)'), '30:0.75:20 35:0.5:10 40:0.5:10', 'EXECUTE is enough to be served');
SELECT is(pg_temp.top('recommend_for_items(''{30,40}'', 2)'), '10:0.75:40 20:0.5:30', '... for a cart');
SELECT is(pg_temp.sim('similar_items(10, 2)'), '40:0.5 20:0.25', '... and similar items');
SELECT throws_ok($$SELECT * FROM itemcf_purchases$$, '42501', 'permission denied for table itemcf_purchases',
                 'the role cannot read the purchases');
RESET ROLE;

------------------------------------------------------------------------------
-- A rebuild rolled back: the old model answers, exactly
------------------------------------------------------------------------------
CREATE TEMP TABLE tap_before ON COMMIT DROP AS SELECT current_version AS v FROM itemcf_models WHERE name = 'default';
SAVEPOINT rebuild;
SELECT itemcf_alter_model('default', k => 1) \g /dev/null
SELECT (SELECT status FROM itemcf_rebuild('default')) AS rebuilt, pg_temp.top('recommend(1, 4)') AS inside \gset
ROLLBACK TO SAVEPOINT rebuild;
-- 67-70: inside, k = 1 lists 10:[40 .5] and 20:[30 .5] (30 and 50 tie: the smaller id)
SELECT is(:'rebuilt'::text, 'succeeded', 'rebuild with k = 1, then rolled back');
SELECT is(:'inside'::text, '30:0.5:20 40:0.5:10 95:0:pop 85:0:pop', 'inside the transaction the new model serves');
SELECT is(pg_temp.top('recommend(1)'),
          '30:0.75:20 35:0.5:10 40:0.5:10 50:0.5:20 95:0:pop 85:0:pop 90:0:pop 60:0:pop 70:0:pop',
          'after the rollback the old model answers, exactly');
SELECT is((SELECT current_version FROM itemcf_models WHERE name = 'default'), (SELECT v FROM tap_before),
          'the old version is current');

------------------------------------------------------------------------------
-- Regressions: bugs found by these tests, now fixed
------------------------------------------------------------------------------
-- a model over a schema the caller has no USAGE on; never served before in this session
CREATE SCHEMA tap_private;
CREATE TABLE tap_private.src (user_id bigint, item_id bigint);
CREATE INDEX ON tap_private.src (user_id);
INSERT INTO tap_private.src VALUES (1, 1), (1, 2), (2, 1), (2, 2), (3, 1);
-- a model whose user column is integer (user = $1 is int4 = int8), and a hostile operator
CREATE TABLE tap_hij_src (user_id integer, item_id bigint);
CREATE INDEX ON tap_hij_src (user_id);
INSERT INTO tap_hij_src VALUES (1, 1), (1, 2), (2, 1), (2, 2);
CREATE SCHEMA tap_evil;
CREATE FUNCTION tap_evil.eq(integer, bigint) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'operator hijacked: ran as %', current_user; END $$;
CREATE OPERATOR tap_evil.= (LEFTARG = integer, RIGHTARG = bigint, FUNCTION = tap_evil.eq);
-- user 9 bought 1 with no time and 2 ten days ago; 1-11 and 2-12 are 1/sqrt(2)
CREATE TABLE tap_times (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON tap_times (user_id);
INSERT INTO tap_times VALUES (1, 1, now()), (1, 11, now()), (2, 2, now()), (2, 12, now()),
  (9, 1, NULL), (9, 2, now() - interval '10 days');
DO $$ BEGIN
  PERFORM itemcf_register_model('tap_private', 'tap_private.src');
  PERFORM itemcf_register_model('tap_hij', 'tap_hij_src');
  PERFORM itemcf_register_model('tap_times', 'tap_times', time_column => 'ts');
  PERFORM itemcf_rebuild('tap_private'); PERFORM itemcf_rebuild('tap_hij'); PERFORM itemcf_rebuild('tap_times');
END $$;
-- 71-75
SET LOCAL ROLE tap_serving_ro;
SELECT lives_ok($$SELECT * FROM recommend(3, 3, 'tap_private')$$,
                'a source in a schema the caller cannot use is still read (as the owner)');
RESET ROLE;
SET LOCAL search_path = tap_evil, pg_catalog, public;
SELECT lives_ok($$SELECT * FROM recommend(1, 3, 'tap_hij')$$,
                'the caller''s search_path cannot put an operator into the purchases query');
RESET search_path;
SELECT ok(NOT EXISTS (SELECT FROM recommend(9, 10, 'tap_capped') WHERE item_id = 1),
          'an item bought before the history cap is never recommended');
SELECT ok(NOT EXISTS (SELECT FROM recommend(7, 10, 'tap_sampled') WHERE item_id IN (1, 2, 3)),
          'an item left out of the hash sample is never recommended to its buyer');
SELECT ok((SELECT coalesce(max(score) FILTER (WHERE item_id = 11), 0) <= max(score) FILTER (WHERE item_id = 12)
           FROM recommend(9, 2, 'tap_times', allow => '{11,12}', recency_half_life => '1 day')),
          'a purchase without a time does not weigh like one made now');

-- Regressions of the serving review (the arithmetic is in sql/serving.sql, section
-- 'Regressions'): an inheritance child, NULL times under the cap, an old history under
-- recency weighting, the fill over every item, itemcf_alter_model() before the rebuild,
-- a renamed column and a dropped source
CREATE TABLE tap_inh (user_id bigint, item_id bigint);
CREATE TABLE tap_inh_child () INHERITS (tap_inh);
CREATE INDEX ON tap_inh (user_id);
CREATE INDEX ON tap_inh_child (user_id);
INSERT INTO tap_inh VALUES (50, 1), (51, 1), (53, 1), (53, 4);
INSERT INTO tap_inh_child VALUES (50, 2), (51, 2), (52, 2), (52, 3);
CREATE TABLE tap_nt (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON tap_nt (user_id);
INSERT INTO tap_nt VALUES (60, 1, now() - interval '1 day');
INSERT INTO tap_nt SELECT 60, i, NULL FROM generate_series(2, 10) i;
INSERT INTO tap_nt SELECT 60 + i, i, NULL FROM generate_series(1, 9) i;
INSERT INTO tap_nt SELECT 60 + i, 100 + i, NULL FROM generate_series(1, 9) i;
CREATE TABLE tap_old (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON tap_old (user_id);
INSERT INTO tap_old VALUES
  (70, 1, now() - interval '301 days'), (70, 2, now() - interval '300 days'), (70, 3, now() - interval '302 days'),
  (71, 1, now()), (71, 201, now()), (72, 2, now()), (72, 203, now()), (73, 3, now()), (73, 202, now());
CREATE TABLE tap_alt_a (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON tap_alt_a (user_id);
INSERT INTO tap_alt_a VALUES (80, 1, now() - interval '10 days'), (80, 2, now() - interval '1 hour'),
  (81, 1, now()), (81, 11, now()), (82, 2, now()), (82, 12, now());
CREATE TABLE tap_alt_b (user_id bigint, item_id bigint, ts timestamptz);
CREATE INDEX ON tap_alt_b (user_id);
INSERT INTO tap_alt_b VALUES (80, 3, now()), (83, 3, now()), (83, 13, now());
CREATE TABLE tap_gone (user_id bigint, item_id bigint);
CREATE INDEX ON tap_gone (user_id);
INSERT INTO tap_gone VALUES (1, 1), (1, 2), (2, 2), (2, 3);
DO $$ BEGIN
  PERFORM itemcf_register_model('tap_inh', 'tap_inh', history_cap => 0);
  PERFORM itemcf_register_model('tap_nt', 'tap_nt', time_column => 'ts', history_cap => 4);
  PERFORM itemcf_register_model('tap_old', 'tap_old', time_column => 'ts', history_cap => 0);
  PERFORM itemcf_register_model('tap_alt', 'tap_alt_a', time_column => 'ts', history_cap => 0);
  PERFORM itemcf_register_model('tap_gone', 'tap_gone');
  PERFORM itemcf_rebuild(m) FROM unnest(ARRAY['tap_inh', 'tap_nt', 'tap_old', 'tap_alt', 'tap_gone']) m;
END $$;
-- 76-80
SELECT is(pg_temp.top('recommend(50, 3, ''tap_inh'')'), '3:0.57735026:2 4:0.57735026:1',
          'an inheritance parent: the child''s purchases are read too (2 is not recommended back)');
SELECT is(pg_temp.top('recommend(60, 4, ''tap_nt'')'), '101:0.70710677:1 102:0.70710677:2 103:0.70710677:3 104:0.70710677:4',
          'NULL times under the cap: serving keeps the items the build kept (ties by id)');
SELECT is(pg_temp.top('recommend(99999, 2, ''tap_nt'', allow => ''{10,12345}'')'), '10:0:pop',
          'the fill reaches an item without buyers after the cap and without neighbours');
SELECT is((SELECT array_agg(item_id ORDER BY n) FROM recommend(70, 3, 'tap_old', recency_half_life => '1 day') WITH ORDINALITY r(item_id, score, reason, because_item, n)),
          '{203,201,202}'::bigint[], 'recency on a 300-day-old history: weights from the latest purchase, not all 0');
SELECT is((SELECT count(*) FROM recommend_for_items(ARRAY(SELECT generate_series(1001, 11000)::bigint) || 1001::bigint)), 10::bigint,
          '10,001 ids of which 10,000 distinct are accepted');
SELECT pg_temp.top('recommend(80, 5, ''tap_alt'')') AS alt_before \gset
SELECT itemcf_alter_model('tap_alt', history_cap => 1, time_window => '1 day', source => 'tap_alt_b') \g /dev/null
-- 81-83
SELECT is(pg_temp.top('recommend(80, 5, ''tap_alt'')'), :'alt_before', 'itemcf_alter_model: serving unchanged until the rebuild');
SELECT itemcf_alter_model('tap_alt', history_cap => 2) \g /dev/null
SELECT is((SELECT status FROM itemcf_rebuild('tap_alt')), 'succeeded', 'the rebuild with the altered settings');
SELECT is(pg_temp.top('recommend(80, 1, ''tap_alt'')'), '13:0.70710677:3', '... which then serve');
ALTER TABLE tap_gone RENAME COLUMN item_id TO product_id;
-- 84-85
SELECT throws_ok($$SELECT * FROM recommend(1, 3, 'tap_gone')$$, '42703',
                 'column "item_id" of the source of model "tap_gone" does not exist', 'a renamed column: 42703 naming the model');
DROP TABLE tap_gone;
SELECT throws_ok($$SELECT * FROM recommend(1, 3, 'tap_gone')$$, '42P01',
                 'source of model "tap_gone" does not exist', 'a dropped source: 42P01 naming the model');

SELECT * FROM finish();
ROLLBACK;
