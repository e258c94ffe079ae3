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
