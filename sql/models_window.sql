--
-- Time windows that fit the data: window_anchor => 'newest' ends a model's
-- time_window at the newest purchase in its source instead of at now, so a
-- model over last year's data builds.  The oracle is the same data cut by hand
-- (a view keeping the rows of the last 60 days before the newest purchase) in
-- a model without a window: the windowed model must have exactly its
-- neighbours and popular items, and serve every customer exactly its answers.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA models_window;
SET search_path = models_window, public;
\i sql/include/helpers.sql

-- 400 customers, 12 purchases each, over 2011 (the newest on 2011-12-09 10:50 UTC)
CREATE TABLE sales AS
  SELECT c AS customer, ((c * 7919 + j * 104729) % 97 + 1)::bigint AS product,
         timestamptz '2011-12-09 12:50:00+00' - ((c * 31 + j * 17) % 340) * interval '1 day'
                                              - ((c + j) % 24) * interval '1 hour' AS sold_at
  FROM generate_series(1, 400) c, generate_series(1, 12) j;
CREATE INDEX ON sales (customer);
CREATE VIEW sales_last_60_days AS
  SELECT * FROM sales WHERE sold_at >= (SELECT max(sold_at) FROM sales) - interval '60 days';
SELECT count(*) AS rows, count(*) FILTER (WHERE sold_at >= (SELECT max(sold_at) FROM sales) - interval '60 days') AS in_window,
       count(*) FILTER (WHERE sold_at < (SELECT max(sold_at) FROM sales) - interval '60 days') AS outside_window,
       to_char(max(sold_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS newest_utc
FROM sales;

-- bad settings: an unknown anchor, newest without a window, and resetting the window alone
SELECT itemcf_register_model('mw_bad', 'sales', 'customer', 'product', time_column => 'sold_at',
                             time_window => '60 days', window_anchor => 'latest');
SELECT itemcf_register_model('mw_bad', 'sales', 'customer', 'product', time_column => 'sold_at',
                             window_anchor => 'newest');
SELECT itemcf_register_model('mw_newest', 'sales', 'customer', 'product', time_column => 'sold_at',
                             time_window => '60 days', window_anchor => 'newest', k => 10) IS NOT NULL AS registered;
SELECT itemcf_alter_model('mw_newest', reset => '{time_window}');
SELECT itemcf_register_model('mw_oracle', 'sales_last_60_days', 'customer', 'product', time_column => 'sold_at',
                             k => 10) IS NOT NULL AS registered;
-- anchored at now, the same window holds none of 2011's purchases
SELECT itemcf_register_model('mw_now', 'sales', 'customer', 'product', time_column => 'sold_at',
                             time_window => '60 days', k => 10) IS NOT NULL AS registered;
SELECT name, time_window, window_anchor FROM itemcf_models WHERE name LIKE 'mw\_%' ORDER BY name;

SELECT model, status, error, rows_read, rows_outside_window, users, items
FROM itemcf_rebuild() WHERE model LIKE 'mw\_%' ORDER BY model;
SELECT name, built_settings ->> 'window_end' AS window_end, built_settings ->> 'time_window' AS time_window
FROM itemcf_models WHERE name LIKE 'mw\_%' ORDER BY name;

-- the same neighbours, scores and ranks, and the same popular items, as the oracle
SELECT (SELECT count(*) FROM itemcf_similarities WHERE model = 'mw_newest') AS entries, * FROM differences('mw_newest', 'mw_oracle');

-- serving reads a customer's purchases from the window the build used: every customer's
-- answer equals the oracle's (which reads the cut view), including customers whose
-- purchases all fall outside the window (popular items only)
CREATE FUNCTION serving_differences() RETURNS TABLE (customers bigint, rows bigint, differing bigint, popular_only bigint)
LANGUAGE sql AS $$
  WITH a AS (SELECT c, r.* FROM generate_series(1, 401) c, public.recommend(c, 10, 'mw_newest') r),
       b AS (SELECT c, r.* FROM generate_series(1, 401) c, public.recommend(c, 10, 'mw_oracle') r)
  SELECT (SELECT count(DISTINCT c) FROM a), (SELECT count(*) FROM a),
         (SELECT count(*) FROM ((SELECT * FROM a EXCEPT ALL SELECT * FROM b) UNION ALL (SELECT * FROM b EXCEPT ALL SELECT * FROM a)) d),
         (SELECT count(*) FROM (SELECT c FROM a GROUP BY c HAVING bool_and(reason = 'popular')) p) $$;
SELECT * FROM serving_differences();
SELECT count(*) AS customers_outside_window FROM (
  SELECT customer FROM sales GROUP BY customer
  HAVING max(sold_at) < (SELECT max(sold_at) FROM sales) - interval '60 days') x;
-- window_end is kept as UTC ISO 8601: the same under another DateStyle and TimeZone
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Pacific/Chatham';
SELECT * FROM serving_differences();
RESET DateStyle;
RESET TimeZone;

-- newer purchases move the window's end at the next rebuild, not before
INSERT INTO sales VALUES (1, 1, timestamptz '2012-03-01 00:00:00+00');
CREATE FUNCTION personal_customers() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(DISTINCT c) FROM generate_series(1, 400) c, public.recommend(c, 10, 'mw_newest') r
  WHERE r.reason <> 'popular' $$;
SELECT personal_customers() AS personal_before_rebuild;
SELECT model, status, rows_outside_window FROM itemcf_rebuild('mw_newest');
SELECT built_settings ->> 'window_end' AS window_end FROM itemcf_models WHERE name = 'mw_newest';
SELECT personal_customers() AS personal_after_rebuild;
SELECT model, status FROM itemcf_rebuild('mw_oracle');
SELECT (SELECT count(*) FROM itemcf_similarities WHERE model = 'mw_newest') AS entries, * FROM differences('mw_newest', 'mw_oracle');
SELECT * FROM serving_differences();

-- no finite purchase time to end the window at: the build fails, the version stays
UPDATE sales SET sold_at = 'infinity' WHERE customer = 1 AND product = 1 AND sold_at > '2012-01-01';
SELECT model, status, error FROM itemcf_rebuild('mw_newest');
CREATE TABLE no_times AS SELECT customer, product, NULL::timestamptz AS sold_at FROM sales;
SELECT itemcf_register_model('mw_no_times', 'no_times', 'customer', 'product', time_column => 'sold_at',
                             time_window => '60 days', window_anchor => 'newest') IS NOT NULL AS registered;
SELECT model, status, error FROM itemcf_rebuild('mw_no_times');

-- back to now: reset the anchor, then the window too
SELECT itemcf_alter_model('mw_newest', reset => '{window_anchor}');
SELECT itemcf_alter_model('mw_newest', reset => '{time_window}');
SELECT itemcf_register_model('mw_x', 'sales', 'customer', 'product', time_column => 'sold_at',
                             time_window => '60 days', window_anchor => NULL);
SELECT name, time_window, window_anchor FROM itemcf_models WHERE name = 'mw_newest';

SELECT count(itemcf_drop_model(name)) AS dropped FROM itemcf_models WHERE name LIKE 'mw\_%';
SET client_min_messages = warning;
DROP SCHEMA models_window CASCADE;
