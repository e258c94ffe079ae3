-- itemcf demo, run by scripts/demo.sh in a fresh database:
--   psql -X -v ON_ERROR_STOP=1 -d itemcf_demo -f scripts/demo.sql
-- Builds a small made-up shop and finds the items that the same people buy.
-- Everything is deterministic (purchases come from md5 of the ids, not random()),
-- so every run prints the same thing.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset footer off
SET client_min_messages = warning;

CREATE EXTENSION itemcf;

\echo
\echo '== 1. The svec type: a sparse vector written {index:value,...} =='
\echo 'Only the non-zero entries are stored; the indices can be any bigint (user ids, item ids, ...).'
SELECT '{3:1,42:0.5}'::svec                                 AS a,
       '{3:2,7:1}'::svec                                    AS b,
       nnz('{3:1,42:0.5}'::svec)                            AS "nnz(a)",
       round(l2_norm('{3:1,42:0.5}'::svec)::numeric, 4)     AS "l2_norm(a)",
       round(cosine_similarity('{3:1,42:0.5}'::svec,
                               '{3:2,7:1}'::svec)::numeric, 4) AS "cosine_similarity(a, b)";

\echo 'Vectors add entry by entry, and scale by a number:'
SELECT '{3:1,42:0.5}'::svec + '{3:2,7:1}'::svec AS "a + b",
       '{3:1,42:0.5}'::svec * 2                 AS "a * 2";

\echo
\echo '== 2. A small shop: 200 users, 50 items in 5 categories =='
\echo 'Each user has a favourite category: they buy about 40% of its items,'
\echo 'and only about 2% of the items in other categories.'
CREATE TABLE users AS
    SELECT u AS user_id, u % 5 AS favourite_category
    FROM generate_series(1, 200) AS u;

CREATE TABLE items AS
    SELECT i AS item_id,
           i % 5 AS category,
           (ARRAY['book', 'game', 'plant', 'pan', 'record'])[i % 5 + 1] || ' #' || i AS name
    FROM generate_series(1, 50) AS i;

-- A pseudo-random but fixed byte (0..255) per (user, item) pair decides the purchase.
CREATE TABLE purchases AS
    SELECT u.user_id, i.item_id
    FROM users AS u
    CROSS JOIN items AS i
    WHERE get_byte(decode(md5(u.user_id || '/' || i.item_id), 'hex'), 0)
          < CASE WHEN u.favourite_category = i.category THEN 100 ELSE 6 END;

SELECT count(*) AS purchases,
       count(DISTINCT user_id) AS buyers,
       count(DISTINCT item_id) AS items_sold
FROM purchases;

\echo
\echo '== 3. One vector per item: who bought it =='
\echo 'svec_agg(user_id, 1) collects the buyers of each item into a sparse vector'
\echo 'whose indices are user ids.  Two items are similar when the same people buy both.'
CREATE TABLE item_vectors AS
    SELECT item_id, svec_agg(user_id, 1) AS buyers
    FROM purchases
    GROUP BY item_id;

SELECT v.item_id, i.name,
       nnz(v.buyers)                       AS "nnz (buyers)",
       round(l2_norm(v.buyers)::numeric, 3) AS l2_norm,
       v.buyers
FROM item_vectors AS v
JOIN items AS i USING (item_id)
ORDER BY v.item_id
LIMIT 3;

\echo
\echo '== 4. The 5 most similar pairs of items (cosine similarity of their buyer vectors) =='
\echo 'Pairs in the same category should come out on top: the same users like them.'
SELECT a.item_id AS item_a, ia.name AS name_a,
       b.item_id AS item_b, ib.name AS name_b,
       round(cosine_similarity(a.buyers, b.buyers)::numeric, 4) AS cosine_similarity
FROM item_vectors AS a
JOIN item_vectors AS b ON a.item_id < b.item_id
JOIN items AS ia ON ia.item_id = a.item_id
JOIN items AS ib ON ib.item_id = b.item_id
ORDER BY cosine_similarity(a.buyers, b.buyers) DESC, a.item_id, b.item_id
LIMIT 5;

\echo
\echo '== 5. "People who bought book #5 also bought ..." =='
\echo 'The same query for one item, with the <=> operator: a <=> b is the cosine distance,'
\echo '1 - cosine_similarity(a, b), so smaller means more similar.'
SELECT v.item_id, i.name,
       round((v.buyers <=> target.buyers)::numeric, 4) AS "distance (<=>)"
FROM item_vectors AS v
JOIN items AS i USING (item_id)
CROSS JOIN (SELECT buyers FROM item_vectors WHERE item_id = 5) AS target
WHERE v.item_id <> 5
ORDER BY v.buyers <=> target.buyers, v.item_id
LIMIT 5;

\echo
\echo '== 6. The engine: a generated shop, itemcf_rebuild(), stored neighbours =='
\echo 'bench/gen_shop.sql makes the reference shop at any scale; here 20,000 users and'
\echo '5,000 items (Zipf-like popularity, baskets of 10 on average) go into itemcf_purchases,'
\echo 'the table the model named default reads.'
\o /dev/null
SELECT setseed(0.42);
\o
INSERT INTO itemcf_purchases (user_id, item_id, purchased_at)
SELECT b.u,
       least(5000, floor(power(1 + random() * (power(5000, 0.1) - 1), 10)))::bigint,
       timestamptz '2026-11-01' + random() * interval '20 days'
FROM (SELECT u, 1 + floor(ln(1 - random()) / ln(0.9))::int AS n
      FROM generate_series(1, 20000) AS u) AS b,
     LATERAL generate_series(1, least(b.n, 500)) AS g;
ANALYZE itemcf_purchases;

\echo 'itemcf_rebuild() reads the purchases (in parallel when the planner gives the query'
\echo 'workers), computes every item''s 50 most similar items on itemcf.threads cores, and'
\echo 'stores them (times vary from run to run):'
SELECT model, status, rows_read, users, items, entries_written, partial_states,
       round(read_seconds::numeric, 3) AS read_s, round(compute_seconds::numeric, 3) AS compute_s,
       round(write_seconds::numeric, 3) AS write_s, round(total_seconds::numeric, 3) AS total_s
FROM itemcf_rebuild();
\echo 'What this rebuild did (from itemcf_runs):'
SELECT CASE WHEN r.partial_states > 1
            THEN format('the source was read in parallel: %s processes each collected a partial state, then combined', r.partial_states)
            ELSE 'the source was read by one process (a serial plan: PostgreSQL gives a parallel scan only to tables over min_parallel_table_scan_size, '
                 || current_setting('min_parallel_table_scan_size') || ', with max_parallel_workers_per_gather = '
                 || current_setting('max_parallel_workers_per_gather') || ')' END AS reading,
       format('the similarities were computed with itemcf.threads = %s (0: one thread per core)', current_setting('itemcf.threads')) AS computing
FROM itemcf_runs r ORDER BY r.run_id DESC LIMIT 1;

\echo 'Top neighbours of the three most popular items (view itemcf_similarities):'
SELECT s.item_id, s.rank, s.neighbor_id, round(s.score::numeric, 4) AS score
FROM itemcf_similarities AS s
WHERE s.model = 'default'
  AND s.item_id IN (SELECT item_id FROM itemcf_popular ORDER BY rank LIMIT 3)
  AND s.rank <= 5
ORDER BY s.item_id, s.rank;

\echo 'Per-model statistics for dashboards (view itemcf_model_stats):'
SELECT model, measure, k, users, items, items_with_neighbors,
       round(neighbor_coverage::numeric, 3) AS coverage, round(avg_neighbors::numeric, 1) AS avg_neighbors,
       last_status
FROM itemcf_model_stats;

\echo
\echo '== 7. Serving: recommend(user_id, k) =='
\echo 'For each item a user bought, its neighbours'' scores add up; items already bought are'
\echo 'left out; the reason names the purchase that contributed most.  A new user (no'
\echo 'purchases) gets the most popular items instead.'
SELECT u.user_id, r.item_id, round(r.score::numeric, 4) AS score, r.reason
FROM (VALUES (7), (42), (1000000)) AS u(user_id),
     LATERAL recommend(u.user_id, 3) AS r
ORDER BY u.user_id, r.score DESC, r.item_id;

\echo 'A cart of items, for a visitor who is not logged in (recommend_for_items):'
SELECT item_id, round(score::numeric, 4) AS score, reason
FROM recommend_for_items(ARRAY[1, 2, 3], 5);

\echo '"Customers who bought item 1 also bought" (similar_items):'
SELECT item_id, round(score::numeric, 4) AS score FROM similar_items(1, 5);
