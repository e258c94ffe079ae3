-- Id mapping: small non-negative ids go through an array, others through a
-- hash table, and an array that grows takes over ids hashed before.  Every
-- path must give the same lists as any other order-preserving numbering.
SET max_parallel_workers_per_gather = 0;
SET extra_float_digits = 0;

-- 3000 users buying from items 0..1999 and 600000..600099; the rows with the
-- big ids come first, so they are hashed and later moved into the array
CREATE TEMP TABLE ids_rows AS
SELECT u, CASE WHEN g % 5 = 0 THEN 600000 + (u * 7 + g) % 100 ELSE (u * 13 + g * g) % 2000 END AS i
FROM generate_series(1, 3000) u, generate_series(1, 1 + u % 9) g;

-- Lists as (item, neighbour, score), ids mapped back through f⁻¹
CREATE FUNCTION ids_lists(r bytea, shift bigint, scale bigint)
RETURNS TABLE (item bigint, nbr bigint, score real) LANGUAGE sql AS $$
	SELECT (n.item_id - shift) / scale, (e.index - shift) / scale, e.value
	FROM item_neighbors(r) n, svec_each(n.neighbors) e
$$;

CREATE TEMP TABLE ids_ref AS
SELECT * FROM ids_lists((SELECT item_neighbors_agg(u, i, 1) FROM (SELECT * FROM ids_rows ORDER BY i DESC, u) s), 0, 1);
SELECT count(*) > 5000 AS enough_entries, count(DISTINCT item) AS items FROM ids_ref;

-- Every id far out of the array's reach (hash only), negative ids, and a
-- mix of array, hash and negatives: the same lists each time
SELECT shift, scale,
       (SELECT count(*) FROM (
           (SELECT * FROM ids_ref EXCEPT ALL
            SELECT * FROM ids_lists((SELECT item_neighbors_agg(u * scale + shift, i * scale + shift, 1)
                                     FROM (SELECT * FROM ids_rows ORDER BY i DESC, u) s), shift, scale))
           UNION ALL
           (SELECT * FROM ids_lists((SELECT item_neighbors_agg(u * scale + shift, i * scale + shift, 1)
                                     FROM (SELECT * FROM ids_rows ORDER BY i DESC, u) s), shift, scale)
            EXCEPT ALL SELECT * FROM ids_ref)) d) AS differences
FROM (VALUES (1125899906842624::bigint, 1::bigint), (-5000000, 1), (-700000, 1), (0, 1000),
             (-4611686018427387904, 1), (0, 1)) v(shift, scale)
ORDER BY 1, 2;

-- The same through parallel workers: serialised states, combined maps
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- fillfactor 10: enough pages that both workers get some (retried until they do)
CREATE TABLE ids_par WITH (fillfactor = 10) AS SELECT * FROM ids_rows;
ALTER TABLE ids_par SET (parallel_workers = 2);
-- CREATE TABLE AS runs in parallel (PL/pgSQL's SELECT INTO would not)
CREATE TABLE ids_par_result (r bytea);
DO $$
BEGIN
	FOR attempt IN 1 .. 20 LOOP
		DROP TABLE ids_par_result;
		CREATE TABLE ids_par_result (r) AS
			SELECT item_neighbors_agg(u - 700000, i - 700000, 1) FROM ids_par;
		EXIT WHEN (SELECT (item_neighbors_stats(r)->>'partials')::integer >= 2 FROM ids_par_result);
	END LOOP;
END $$;
SELECT (SELECT count(*) FROM (
           (SELECT * FROM ids_ref EXCEPT ALL
            SELECT * FROM ids_lists((SELECT r FROM ids_par_result), -700000, 1))
           UNION ALL
           (SELECT * FROM ids_lists((SELECT r FROM ids_par_result), -700000, 1)
            EXCEPT ALL SELECT * FROM ids_ref)) d) AS parallel_differences,
       (SELECT (item_neighbors_stats(r)->>'partials')::integer >= 2 FROM ids_par_result) AS combined_partials;
DROP TABLE ids_par, ids_par_result;
DROP FUNCTION ids_lists(bytea, bigint, bigint);

-- An id first hashed (far above the array) and later covered by the growing
-- array keeps its one local id: user 1 buys items 1000000..1060000 (hashed),
-- then user 2 buys 1000000 and 1000001 after the array has grown over them;
-- the same for users 1000000..1060000 buying item 1, then two of them item 2
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE ids_grow_items AS
SELECT item_neighbors_agg(u, i, 1, '{"k": 3}') AS r
FROM (SELECT 1 AS u, g AS i, 0 AS o FROM generate_series(1000000, 1060000) g
      UNION ALL VALUES (2, 1000000, 1), (2, 1000001, 1) ORDER BY o) s;
SELECT item_neighbors_stats(r)->'items' AS items, item_neighbors_stats(r)->'users' AS users,
       (SELECT sum(buyers) FROM item_buyers(r)) AS buyers,
       (SELECT neighbors FROM item_neighbors(r) WHERE item_id = 1000000) AS nbrs_1000000
FROM ids_grow_items;
CREATE TEMP TABLE ids_grow_users AS
SELECT item_neighbors_agg(u, i, 1, '{"k": 3}') AS r
FROM (SELECT g AS u, 1 AS i, 0 AS o FROM generate_series(1000000, 1060000) g
      UNION ALL VALUES (1000000, 2, 1), (1000001, 2, 1) ORDER BY o) s;
SELECT item_neighbors_stats(r)->'items' AS items, item_neighbors_stats(r)->'users' AS users,
       (SELECT string_agg(item_id || ':' || buyers, ',' ORDER BY item_id) FROM item_buyers(r)) AS buyers,
       (SELECT neighbors FROM item_neighbors(r) WHERE item_id = 2) AS nbrs_2
FROM ids_grow_users;
DROP TABLE ids_grow_items, ids_grow_users;
