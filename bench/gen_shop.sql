-- bench/gen_shop.sql — generate the reference shop inside PostgreSQL.
--
-- Users 1..users each buy a basket whose size is geometric with mean 10
-- (P(size = n) = 0.1 * 0.9^(n-1)), capped at 500.  Each line is an item drawn
-- from a Zipf-like popularity with exponent ~0.9:
--     item = floor((1 + random() * (items^0.1 - 1))^10)      (1 = most popular)
-- and a purchase time uniform over the `days` days before `anchor`.  Repeat
-- purchases of an item by a user happen (popular items), as in real data.
-- Weights are 1.  The same parameters always give the same rows: setseed()
-- fixes random(), and INSERT ... SELECT never runs in parallel.
--
-- At the default (reference) scale — 600,000 users, 400,000 items — this makes
-- ~6.0 M rows, Σ basket² ≈ 114 M co-purchase pair updates (see shared/NOTES.md).
--
-- psql variables (all optional):
--   users   number of users                      (default 600000)
--   items   number of items                      (default 400000)
--   days    span of purchase times in days       (default 30)
--   seed    setseed() argument, in [-1, 1]       (default 0.42)
--   anchor  end of the time span                 (default 2026-11-22 00:00:00+00;
--                                                 'now' makes time windows useful in demos)
--   target  table to fill                        (default itemcf_purchases)
--
-- The target table is created if missing, with columns
-- (user_id bigint, item_id bigint, weight real, purchased_at timestamptz), and
-- TRUNCATEd first.  Examples:
--   psql -d mydb -f bench/gen_shop.sql                                 # reference shop
--   psql -d mydb -v users=6000 -v items=4000 -f bench/gen_shop.sql     # a small one
--   psql -d mydb -v target=shop -v anchor=now -f bench/gen_shop.sql

\set ON_ERROR_STOP on
\if :{?users}
\else
\set users 600000
\endif
\if :{?items}
\else
\set items 400000
\endif
\if :{?days}
\else
\set days 30
\endif
\if :{?seed}
\else
\set seed 0.42
\endif
\if :{?anchor}
\else
\set anchor '2026-11-22 00:00:00+00'
\endif
\if :{?target}
\else
\set target itemcf_purchases
\endif

SET client_min_messages = warning;

CREATE TABLE IF NOT EXISTS :target (
	user_id      bigint,
	item_id      bigint,
	weight       real,
	purchased_at timestamptz
);
TRUNCATE :target;

-- The order of random() calls is fixed by the plan: a serial nested loop over
-- users (basket size first, then one item and one time per line).
SELECT setseed(:seed) AS seeded \gset gen_
INSERT INTO :target (user_id, item_id, weight, purchased_at)
SELECT b.user_id,
       least(:items, floor((1 + random() * (power(:items::float8, 0.1) - 1)) ^ 10))::bigint,
       1::real,
       date_trunc('second', :'anchor'::timestamptz - random() * (:days * interval '1 day'))
FROM (SELECT u::bigint AS user_id,
             least(500, 1 + floor(ln(1 - random()) / ln(0.9)))::integer AS basket
      FROM generate_series(1, :users) AS u) AS b
CROSS JOIN LATERAL generate_series(1, b.basket) AS line;

-- Set hint bits and the visibility map now, so that the first timed read does not pay for it
VACUUM (ANALYZE) :target;

SELECT count(*) AS rows, count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS items,
       min(purchased_at) AS first_purchase, max(purchased_at) AS last_purchase
FROM :target;
