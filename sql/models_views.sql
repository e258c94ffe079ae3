--
-- The dashboard views over several models: itemcf_similarities ranks within each
-- item's list (so a filter on the model comes first) and must give exactly the rows
-- of the 0.1.0 definition (a window over the whole join, recomputed here inline);
-- itemcf_model_stats takes entries from the run and must equal counting the lists;
-- itemcf_popular_items by name equals the table joined by hand; and
-- itemcf.run_history keeps the newest runs of each model and the current version's.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE SCHEMA models_views;
SET search_path = models_views, public;

CREATE TABLE buys AS
  SELECT u AS customer, (floor(300 * power(((u * 7919 + j * 104729) % 10007) / 10007.0, 2)) + 1)::bigint AS product,
         timestamptz '2011-06-01' + ((u * j) % 200) * interval '1 day' AS at
  FROM generate_series(1, 1500) u, generate_series(1, 8) j;
CREATE INDEX ON buys (customer);
SELECT itemcf_register_model('mv_cos', 'buys', 'customer', 'product', k => 15) IS NOT NULL AS registered;
SELECT itemcf_register_model('mv_jac', 'buys', 'customer', 'product', k => 7, measure => 'jaccard') IS NOT NULL AS registered;
SELECT itemcf_register_model('mv_ties', 'buys', 'customer', 'product', k => 30, measure => 'conditional_probability',
                             time_column => 'at') IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild() WHERE model LIKE 'mv\_%' ORDER BY model;
-- a second version of one model: only the current one is shown
SELECT model, status FROM itemcf_rebuild('mv_jac');

-- the 0.1.0 definition, inline
CREATE VIEW old_similarities AS
  SELECT m.name AS model, n.item_id, e.index AS neighbor_id, e.value AS score,
         row_number() OVER (PARTITION BY m.model_id, n.item_id ORDER BY e.value DESC, e.index)::integer AS rank
  FROM itemcf_models m
  JOIN itemcf_neighbors n ON n.model_id = m.model_id AND n.version = m.current_version
  CROSS JOIN LATERAL svec_each(n.neighbors) e;
SELECT model, count(*) AS entries, max(rank) AS max_rank,
       (SELECT count(*) FROM ((SELECT s.model, s.item_id, s.neighbor_id, s.score, s.rank FROM itemcf_similarities s WHERE s.model = o.model EXCEPT ALL
                               SELECT * FROM old_similarities x WHERE x.model = o.model)
                              UNION ALL
                              (SELECT * FROM old_similarities x WHERE x.model = o.model EXCEPT ALL
                               SELECT s.model, s.item_id, s.neighbor_id, s.score, s.rank FROM itemcf_similarities s WHERE s.model = o.model)) d) AS differing
FROM old_similarities o WHERE model LIKE 'mv\_%' GROUP BY model ORDER BY model;
-- tied scores are ranked by the smaller neighbour id, as before
SELECT count(*) FILTER (WHERE s.score = t.score AND s.neighbor_id > t.neighbor_id) AS tie_order_violations,
       count(*) FILTER (WHERE s.score = t.score) AS tied_pairs
FROM itemcf_similarities s JOIN itemcf_similarities t
  ON t.model = s.model AND t.item_id = s.item_id AND t.rank = s.rank + 1
WHERE s.model = 'mv_ties';
-- an item's list by model and item, and the top pairs of one model
SELECT rank, neighbor_id, round(score::numeric, 5) AS score FROM itemcf_similarities
WHERE model = 'mv_jac' AND item_id = 1 ORDER BY rank;
SELECT item_id, neighbor_id, round(score::numeric, 5) AS score FROM itemcf_similarities
WHERE model = 'mv_jac' ORDER BY score DESC, item_id, neighbor_id LIMIT 5;

-- itemcf_model_stats against counting every list
SELECT s.model, s.items_with_neighbors = b.lists AS lists_ok, s.entries = b.entries AS entries_ok,
       s.items_with_neighbors, s.entries
FROM itemcf_model_stats s
JOIN (SELECT m.name, count(*) AS lists, sum(nnz(n.neighbors)) AS entries
      FROM itemcf_models m JOIN itemcf_neighbors n ON n.model_id = m.model_id AND n.version = m.current_version
      GROUP BY m.name) b ON b.name = s.model
WHERE s.model LIKE 'mv\_%' ORDER BY s.model;

-- itemcf_popular_items against the table joined by hand
SELECT (SELECT count(*) FROM ((SELECT model, rank, item_id, buyers FROM itemcf_popular_items WHERE model LIKE 'mv\_%' EXCEPT ALL
                               SELECT m.name, p.rank, p.item_id, p.buyers FROM itemcf_popular p
                               JOIN itemcf_models m ON m.model_id = p.model_id AND p.version = m.current_version
                               WHERE m.name LIKE 'mv\_%')
                              UNION ALL
                              (SELECT m.name, p.rank, p.item_id, p.buyers FROM itemcf_popular p
                               JOIN itemcf_models m ON m.model_id = p.model_id AND p.version = m.current_version
                               WHERE m.name LIKE 'mv\_%' EXCEPT ALL
                               SELECT model, rank, item_id, buyers FROM itemcf_popular_items WHERE model LIKE 'mv\_%')) d) AS differing,
       (SELECT count(*) FROM itemcf_popular_items WHERE model = 'mv_cos') AS mv_cos_items;
SELECT rank, item_id, buyers FROM itemcf_popular_items WHERE model = 'mv_cos' ORDER BY rank LIMIT 3;

-- itemcf_top_pairs: the first 1,000 rows of itemcf_similarities by score (ties: smaller
-- item, then neighbour), for every model, and for a model built in item shards (each
-- shard keeps its own best 1,000; the view ranks their union)
SELECT itemcf_register_model('mv_sharded', 'buys', 'customer', 'product', k => 15) IS NOT NULL AS registered;
SET itemcf.max_result_size = '24kB';
SELECT model, status, shards FROM itemcf_rebuild('mv_sharded');
RESET itemcf.max_result_size;
CREATE FUNCTION top_pairs_differences(mname text) RETURNS bigint LANGUAGE sql AS $$
  WITH want AS (SELECT row_number() OVER (ORDER BY score DESC, item_id, neighbor_id)::integer AS rank,
                       item_id, neighbor_id, score
                FROM public.itemcf_similarities WHERE model = mname
                ORDER BY score DESC, item_id, neighbor_id LIMIT 1000),
       got AS (SELECT rank, item_id, neighbor_id, score FROM public.itemcf_top_pairs WHERE model = mname)
  SELECT count(*) FROM ((SELECT * FROM want EXCEPT ALL SELECT * FROM got)
                        UNION ALL (SELECT * FROM got EXCEPT ALL SELECT * FROM want)) d $$;
SELECT model, count(*) AS pairs, min(rank) AS first, max(rank) AS last, top_pairs_differences(model) AS differing
FROM itemcf_top_pairs WHERE model LIKE 'mv\_%' GROUP BY model ORDER BY model;
SELECT rank, item_id, neighbor_id, round(score::numeric, 5) AS score FROM itemcf_top_pairs
WHERE model = 'mv_jac' ORDER BY rank LIMIT 4;
-- the sharded model's 2 shards stored up to 2,000 pairs; its top 1,000 are the unsharded model's
SELECT count(*) > 1000 AS more_than_one_shard_stored FROM itemcf_best_pairs p JOIN itemcf_models m
  ON m.model_id = p.model_id AND p.version = m.current_version WHERE m.name = 'mv_sharded';
SELECT (SELECT count(*) FROM ((SELECT rank, item_id, neighbor_id, score FROM itemcf_top_pairs WHERE model = 'mv_sharded'
                               EXCEPT ALL SELECT rank, item_id, neighbor_id, score FROM itemcf_top_pairs WHERE model = 'mv_cos')
                              UNION ALL
                              (SELECT rank, item_id, neighbor_id, score FROM itemcf_top_pairs WHERE model = 'mv_cos'
                               EXCEPT ALL SELECT rank, item_id, neighbor_id, score FROM itemcf_top_pairs WHERE model = 'mv_sharded')) d)
       AS sharded_vs_whole;
-- replaced versions and dropped models leave no pairs behind
SET itemcf.reclaim = immediate;
SELECT model, status FROM itemcf_rebuild('mv_sharded');
SELECT itemcf_drop_model('mv_sharded');
RESET itemcf.reclaim;
SELECT count(*) FILTER (WHERE m.model_id IS NULL) AS of_dropped_models,
       count(*) FILTER (WHERE p.version <> m.current_version) AS of_replaced_versions
FROM itemcf_best_pairs p LEFT JOIN itemcf_models m ON m.model_id = p.model_id;

------------------------------------------------------------------------------
-- itemcf.run_history
------------------------------------------------------------------------------
SET itemcf.run_history = 3;
SELECT count(*) AS mv_jac_runs FROM itemcf_runs WHERE model = 'mv_jac';
-- four failures in a row (a 1-day window anchored at now: 2011 is outside): the newest
-- three runs stay, and the run of the version still served
SELECT itemcf_alter_model('mv_jac', time_column => 'at', time_window => '1 day');
SELECT g, (SELECT r.status FROM itemcf_rebuild(CASE WHEN g > 0 THEN 'mv_jac' END) r) AS status FROM generate_series(1, 4) g;
SELECT r.status, r.version IS NOT DISTINCT FROM m.current_version AS serves
FROM itemcf_runs r JOIN itemcf_models m ON m.model_id = r.model_id
WHERE r.model = 'mv_jac' ORDER BY r.run_id;
SELECT entries IS NOT NULL AND entries = (SELECT count(*) FROM itemcf_similarities WHERE model = 'mv_jac') AS stats_entries_ok
FROM itemcf_model_stats WHERE model = 'mv_jac';
-- a success: the old version's run goes with the rest beyond three
SELECT itemcf_alter_model('mv_jac', reset => '{time_window,time_column}');
SELECT model, status FROM itemcf_rebuild('mv_jac');
SELECT r.status, r.version IS NOT DISTINCT FROM m.current_version AS serves
FROM itemcf_runs r JOIN itemcf_models m ON m.model_id = r.model_id
WHERE r.model = 'mv_jac' ORDER BY r.run_id;
-- other models keep their runs
SELECT model, count(*) AS runs FROM itemcf_runs WHERE model IN ('mv_cos', 'mv_ties') GROUP BY model ORDER BY model;
-- 0 keeps every run
SET itemcf.run_history = 0;
SELECT g, (SELECT r.status FROM itemcf_rebuild(CASE WHEN g > 0 THEN 'mv_jac' END) r) AS status FROM generate_series(1, 4) g;
SELECT count(*) AS mv_jac_runs FROM itemcf_runs WHERE model = 'mv_jac';
RESET itemcf.run_history;
-- a setting for superusers only
CREATE ROLE regress_itemcf_views_user;
SET ROLE regress_itemcf_views_user;
SET itemcf.run_history = 1;
RESET ROLE;
DROP ROLE regress_itemcf_views_user;

SELECT count(itemcf_drop_model(name)) AS dropped FROM itemcf_models WHERE name LIKE 'mv\_%';
SET client_min_messages = warning;
DROP SCHEMA models_views CASCADE;
