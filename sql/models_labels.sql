--
-- Labels for people: a model may name a label source (a relation, its item id column
-- label_key and a label_column).  The rebuild keeps the labels of the version's items in
-- itemcf_labels (a snapshot, like the neighbour lists); recommend() says "because you
-- bought <label>", and the dashboard views carry the labels.  Without a label source the
-- output stays as it was.  Oracles: the labels picked by hand from the source (one per
-- item: the bytewise smallest, NULLs skipped) and the same model built without labels.
--
\set VERBOSITY terse
CREATE SCHEMA models_labels;
SET search_path = models_labels, public;

\i sql/include/helpers.sql

-- 120 customers buying among 30 products
CREATE TABLE sales AS
  SELECT c AS customer, ((c * 7 + j * j * 3) % 30 + 1)::bigint AS product
  FROM generate_series(1, 120) c, generate_series(1, 1 + c % 5) j;
CREATE INDEX ON sales (customer);
-- the catalogue: most products have a description; 7 has two (the bytewise smallest
-- counts: 'Zebra' before 'apple'), 8 only a NULL one, 9 none, 31..33 are not sold
CREATE TABLE products (code integer, description text, price numeric);
INSERT INTO products
  SELECT p, 'PRODUCT ' || p || CASE WHEN p % 2 = 0 THEN ' (even)' ELSE '' END, p
  FROM generate_series(1, 33) p WHERE p NOT IN (7, 8, 9);
INSERT INTO products VALUES (7, 'apple', 1), (7, 'Zebra', 1), (8, NULL, 1), (NULL, 'no code', 1);

-- bad settings
SELECT try($$SELECT itemcf_register_model('ml_x', 'sales', 'customer', 'product', label_source => 'products')$$) AS no_column,
       try($$SELECT itemcf_register_model('ml_x', 'sales', 'customer', 'product', label_key => 'code')$$) AS key_alone,
       try($$SELECT itemcf_register_model('ml_x', 'sales', 'customer', 'product', label_source => 'products', label_column => 'description')$$) AS key_defaults_to_item_column,
       try($$SELECT itemcf_register_model('ml_x', 'sales', 'customer', 'product', label_source => 'products', label_column => 'nope', label_key => 'code')$$) AS bad_column,
       try($$SELECT itemcf_register_model('ml_x', 'sales', 'customer', 'product', label_source => 'products', label_column => 'code', label_key => 'description')$$) AS text_key;

-- a model with labels and the same without
SELECT itemcf_register_model('ml_labels', 'sales', 'customer', 'product', history_cap => 0,
                             label_source => 'products', label_column => 'description', label_key => 'code') IS NOT NULL AS registered;
SELECT itemcf_register_model('ml_plain', 'sales', 'customer', 'product', history_cap => 0) IS NOT NULL AS registered;
SELECT model, status FROM itemcf_rebuild('ml_labels') UNION ALL SELECT model, status FROM itemcf_rebuild('ml_plain');

-- the labels kept: one per sold item with a label, as picked by hand
CREATE VIEW expected_labels AS
  SELECT code::bigint AS item_id, min(description COLLATE "C") AS label FROM products
  WHERE code IS NOT NULL AND description IS NOT NULL AND code IN (SELECT product FROM sales)
  GROUP BY code;
SELECT (SELECT count(*) FROM expected_labels) AS expected,
       (SELECT count(*) FROM itemcf_labels l JOIN itemcf_models m USING (model_id) WHERE m.name = 'ml_labels') AS kept,
       (SELECT count(*) FROM ((SELECT item_id, label FROM itemcf_labels l JOIN itemcf_models m USING (model_id)
                               WHERE m.name = 'ml_labels' AND l.version = m.current_version
                               EXCEPT ALL SELECT * FROM expected_labels)
                              UNION ALL
                              (SELECT * FROM expected_labels EXCEPT ALL
                               SELECT item_id, label FROM itemcf_labels l JOIN itemcf_models m USING (model_id)
                               WHERE m.name = 'ml_labels' AND l.version = m.current_version)) d) AS differing;
SELECT item_id, label FROM itemcf_labels l JOIN itemcf_models m USING (model_id)
WHERE m.name = 'ml_labels' AND item_id IN (6, 7, 8, 9) ORDER BY item_id;

-- recommend(): every customer's answer is the unlabelled one with the reason's id replaced
-- by its label (kept as the id when the item has none)
SELECT count(*) AS answers,
       count(*) FILTER (WHERE l.reason LIKE 'because you bought PRODUCT%') AS with_label,
       count(*) FILTER (WHERE l.reason ~ '^because you bought [0-9]+$') AS with_id,
       count(*) FILTER (WHERE l.item_id IS DISTINCT FROM p.item_id OR l.score IS DISTINCT FROM p.score
                          OR l.because_item IS DISTINCT FROM p.because_item
                          OR l.reason IS DISTINCT FROM coalesce('because you bought ' ||
                               (SELECT label FROM expected_labels e WHERE e.item_id = p.because_item), p.reason)) AS differing
FROM generate_series(1, 120) c,
     LATERAL (SELECT row_number() OVER () AS n, * FROM recommend(c, 10, 'ml_labels')) l
     FULL JOIN LATERAL (SELECT row_number() OVER () AS n, * FROM recommend(c, 10, 'ml_plain')) p ON p.n = l.n;
SELECT * FROM recommend(1, 4, 'ml_labels');
SELECT * FROM recommend_for_items('{7, 9}', 4, 'ml_labels');
-- a new user: popular items, no labels needed
SELECT * FROM recommend(99999, 2, 'ml_labels');

-- the views carry the labels (NULL without a label source)
SELECT count(*) AS entries,
       count(*) FILTER (WHERE item_label IS DISTINCT FROM (SELECT label FROM expected_labels e WHERE e.item_id = s.item_id)
                          OR neighbor_label IS DISTINCT FROM (SELECT label FROM expected_labels e WHERE e.item_id = s.neighbor_id)) AS differing
FROM itemcf_similarities s WHERE model = 'ml_labels';
SELECT count(*) FILTER (WHERE item_label IS NOT NULL OR neighbor_label IS NOT NULL) AS plain_with_labels
FROM itemcf_similarities WHERE model = 'ml_plain';
SELECT rank, item_id, buyers, label FROM itemcf_popular_items WHERE model = 'ml_labels' ORDER BY rank LIMIT 3;
SELECT count(*) FILTER (WHERE item_label IS DISTINCT FROM (SELECT label FROM expected_labels e WHERE e.item_id = t.item_id)) AS differing
FROM itemcf_top_pairs t WHERE model = 'ml_labels';

-- a snapshot: a changed catalogue shows at the next rebuild, not before
UPDATE products SET description = 'RENAMED ' || code WHERE code = 1;
SELECT label FROM itemcf_popular_items WHERE model = 'ml_labels' AND item_id = 1;
SELECT status FROM itemcf_rebuild('ml_labels');
SELECT label FROM itemcf_popular_items WHERE model = 'ml_labels' AND item_id = 1;
SELECT count(*) AS versions_with_labels FROM (SELECT DISTINCT version FROM itemcf_labels l JOIN itemcf_models m USING (model_id) WHERE m.name = 'ml_labels') v;

-- a renamed label source is the same relation (a regclass); a dropped one fails the
-- rebuild, and the version built keeps serving with its labels
ALTER TABLE products RENAME TO products_renamed;
SELECT status FROM itemcf_rebuild('ml_labels');
CREATE TABLE products AS SELECT * FROM products_renamed;
SET client_min_messages = warning;
DROP TABLE products_renamed CASCADE;	-- and the view expected_labels over it
RESET client_min_messages;
SELECT status, sqlstate, error FROM itemcf_rebuild('ml_labels');
SELECT count(*) FILTER (WHERE reason LIKE 'because you bought PRODUCT%' OR reason LIKE 'because you bought RENAMED%') > 0 AS still_labelled
FROM recommend(1, 10, 'ml_labels');
SELECT itemcf_alter_model('ml_labels', label_source => 'products');
SELECT status FROM itemcf_rebuild('ml_labels');

-- the label source's owner must be able to read it
CREATE ROLE regress_itemcf_ml_owner;
GRANT USAGE ON SCHEMA models_labels TO regress_itemcf_ml_owner;
GRANT SELECT ON sales TO regress_itemcf_ml_owner;
GRANT EXECUTE ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name)
  TO regress_itemcf_ml_owner;
SET ROLE regress_itemcf_ml_owner;
SELECT try($$SELECT itemcf_register_model('ml_denied', 'models_labels.sales', 'customer', 'product',
                                         label_source => 'models_labels.products', label_column => 'description', label_key => 'code')$$) AS unreadable_labels;
RESET ROLE;
REVOKE ALL ON FUNCTION itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name)
  FROM regress_itemcf_ml_owner;

-- reset label_source: the next version has no labels, the reasons say ids again
SELECT itemcf_alter_model('ml_labels', reset => '{label_source}');
SELECT label_source, label_column, label_key FROM itemcf_models WHERE name = 'ml_labels';
SELECT status FROM itemcf_rebuild('ml_labels');
SELECT count(*) FILTER (WHERE reason ~ '^because you bought [0-9]+$') = count(*) FILTER (WHERE reason <> 'popular') AS ids_again
FROM generate_series(1, 120) c, LATERAL recommend(c, 10, 'ml_labels');
-- and a label source given by alter
SELECT itemcf_alter_model('ml_plain', label_source => 'products', label_column => 'description', label_key => 'code');
SELECT status FROM itemcf_rebuild('ml_plain');
SELECT * FROM recommend(1, 2, 'ml_plain');

-- the replaced versions' labels are reclaimed, and a dropped model's with it
SELECT itemcf_reclaim() >= 0 AS reclaimed;
SELECT m.name, count(DISTINCT l.version) AS versions FROM itemcf_labels l JOIN itemcf_models m USING (model_id)
WHERE m.name LIKE 'ml\_%' GROUP BY m.name ORDER BY 1;
SELECT count(itemcf_drop_model(name)) AS dropped FROM itemcf_models WHERE name LIKE 'ml\_%';
SELECT count(*) AS labels_left FROM itemcf_labels;
SET client_min_messages = warning;
DROP SCHEMA models_labels CASCADE;
DROP ROLE regress_itemcf_ml_owner;
