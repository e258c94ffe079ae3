--
-- Scores beyond real's range are clamped to the largest real (3.4028235e+38),
-- never turned into infinity or NaN, and the neighbour is kept.  Weights near
-- 3e38 with weights "sum": asymmetric cosine with alpha 0 is dot / |j|^2, and
-- conditional probability dot / |i|^2, both far above FLT_MAX here; cosine of
-- such vectors needs squared norms near 1e77 (beyond real) and is still exact.
--
SET max_parallel_workers_per_gather = 0;
SET itemcf.threads = 1;
CREATE TEMP TABLE big (u bigint, i bigint, w real);
-- users 1 and 2: item 10 with 3e38, item 20 with 0.5, item 30 with 1e-30;
-- user 3 buys item 10 twice with 3e38 (the sum saturates at the largest real) and item 20 once
INSERT INTO big VALUES (1, 10, 3e38), (1, 20, 0.5), (1, 30, 1e-30),
                       (2, 10, 3e38), (2, 20, 0.5), (2, 30, 1e-30),
                       (3, 10, 3e38), (3, 10, 3e38), (3, 20, 0.5);
-- item 10 -> 20: (3 * 3e38 * 0.5) / (3 * 0.25) > FLT_MAX; 10 -> 30: 6e8 / 2e-60
SELECT n.item_id, n.neighbors
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"weights": "sum", "measure": "asymmetric_cosine", "alpha": 0}')
                     FROM big)) n ORDER BY 1;
SELECT n.item_id, n.neighbors
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"weights": "sum", "measure": "conditional_probability"}')
                     FROM big)) n ORDER BY 1;
-- shrinkage scales the clamped double, then it is clamped again
SELECT n.item_id, n.neighbors
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"weights": "sum", "measure": "asymmetric_cosine", "alpha": 0, "shrinkage": 1}')
                     FROM big)) n ORDER BY 1;
-- cosine of 10 and 20 over users 1..3: (3e38 * 0.5 * 2 + FLT_MAX * 0.5) / sqrt(|10|^2 |20|^2)
SELECT n.item_id, n.neighbors
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"weights": "sum"}') FROM big)) n ORDER BY 1;
-- every score is finite and positive; nothing was dropped
SELECT count(*) AS entries, bool_and(e.value > 0 AND e.value <= 3.4028235e38) AS finite_positive
FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{"weights": "sum", "measure": "asymmetric_cosine", "alpha": 0}')
                     FROM big)) n, svec_each(n.neighbors) e;
DROP TABLE big;
