--
-- Popular items stored by a rebuild (the cold-start fallback and the fill of
-- short answers): every item of the model, buyers descending then id, with or
-- without a history cap; and only the current version is kept.
--
\set VERBOSITY default
CREATE SCHEMA models_popular;
SET search_path = models_popular, public;

-- 4000 users buying up to 3 distinct items among 1500: buyer counts 1..~20,
-- with ties everywhere
CREATE TABLE buys AS
SELECT DISTINCT u AS user_id, 1 + (u * m + m * m) % 1500 AS item_id
FROM generate_series(1, 4000) u, generate_series(1, 3) m
WHERE (u + m) % 4 <> 0;
CREATE INDEX ON buys (user_id);
SELECT count(DISTINCT item_id) AS items, max(c) AS max_buyers
FROM (SELECT item_id, count(*) c FROM buys GROUP BY item_id) s;

-- popular(model): the stored list of the current version
CREATE FUNCTION popular(model text) RETURNS TABLE (rank integer, item_id bigint, buyers integer)
LANGUAGE sql AS $$
	SELECT p.rank, p.item_id, p.buyers FROM public.itemcf_popular p
	JOIN public.itemcf_models m USING (model_id)
	WHERE m.name = model AND p.version = m.current_version $$;

-- expected(n): the first n items by buyers descending, then id (all of them for NULL)
CREATE FUNCTION expected(n integer) RETURNS TABLE (rank integer, item_id bigint, buyers integer)
LANGUAGE sql AS $$
	SELECT (row_number() OVER (ORDER BY count(*) DESC, b.item_id))::integer, b.item_id, count(*)::integer
	FROM models_popular.buys b GROUP BY b.item_id
	ORDER BY count(*) DESC, b.item_id LIMIT n $$;

SELECT itemcf_register_model('mp_capped', 'buys', history_cap => 5) > 0 AS registered;
SELECT model, status, error FROM itemcf_rebuild('mp_capped');
-- every item (not only history_cap + 1000 of them, as in 0.1.0), in the sorted order
SELECT count(*) AS stored, min(rank) AS first_rank, max(rank) AS last_rank FROM popular('mp_capped');
SELECT count(*) AS differences FROM (
	(SELECT * FROM popular('mp_capped') EXCEPT SELECT * FROM expected(NULL))
	UNION ALL
	(SELECT * FROM expected(NULL) EXCEPT SELECT * FROM popular('mp_capped'))) d;

-- no history cap: every item that has a buyer
SELECT itemcf_register_model('mp_uncapped', 'buys', history_cap => 0) > 0 AS registered;
SELECT model, status FROM itemcf_rebuild('mp_uncapped');
SELECT count(*) AS stored FROM popular('mp_uncapped');
SELECT count(*) AS differences FROM (
	(SELECT * FROM popular('mp_uncapped') EXCEPT SELECT * FROM expected(NULL))
	UNION ALL
	(SELECT * FROM expected(NULL) EXCEPT SELECT * FROM popular('mp_uncapped'))) d;

-- a second rebuild replaces the lists; the old version stays until the
-- rebuild commits, then a background worker deletes it: one version left
BEGIN;
SELECT model, status FROM itemcf_rebuild('mp_capped');
SELECT count(DISTINCT n.version) AS neighbor_versions_before_commit
FROM itemcf_neighbors n JOIN itemcf_models m USING (model_id) WHERE m.name = 'mp_capped';
COMMIT;
DO $$
BEGIN
	FOR i IN 1 .. 600 LOOP
		EXIT WHEN (SELECT count(DISTINCT n.version) = 1 FROM itemcf_neighbors n
		           JOIN itemcf_models m USING (model_id) WHERE m.name = 'mp_capped');
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT count(DISTINCT p.version) AS versions, count(*) AS rows
FROM itemcf_popular p JOIN itemcf_models m USING (model_id) WHERE m.name = 'mp_capped';
SELECT count(DISTINCT n.version) AS neighbor_versions
FROM itemcf_neighbors n JOIN itemcf_models m USING (model_id) WHERE m.name = 'mp_capped';

-- itemcf.reclaim = immediate: the rebuild deletes it itself, before it returns
SET itemcf.reclaim = immediate;
BEGIN;
SELECT model, status FROM itemcf_rebuild('mp_capped');
SELECT count(DISTINCT n.version) AS neighbor_versions_before_commit
FROM itemcf_neighbors n JOIN itemcf_models m USING (model_id) WHERE m.name = 'mp_capped';
COMMIT;
RESET itemcf.reclaim;
SELECT itemcf_reclaim() AS nothing_left;

SELECT itemcf_drop_model('mp_capped'), itemcf_drop_model('mp_uncapped');
SET client_min_messages = warning;
DROP SCHEMA models_popular CASCADE;
