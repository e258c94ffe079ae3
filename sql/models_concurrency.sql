--
-- Rebuilds and readers in two sessions (the second through dblink): a second rebuild
-- of a model being rebuilt skips at once, and readers neither wait nor see the new
-- version before it commits.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
DO $$ BEGIN PERFORM itemcf_drop_model(name) FROM itemcf_models WHERE name = 'mc'; END $$;
RESET client_min_messages;
CREATE TABLE mc_orders (user_id bigint, item_id bigint);
CREATE INDEX ON mc_orders (user_id);
-- items 1, 2, 3: 1 and 2 bought together twice, 1 and 3 once
INSERT INTO mc_orders VALUES (1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 3);
SELECT itemcf_register_model('mc', 'mc_orders', k => 2) > 0 AS registered;
SELECT status FROM itemcf_rebuild('mc');
SELECT dblink_connect('mc_other', format('host=%s port=%s dbname=%s',
       split_part(current_setting('unix_socket_directories'), ',', 1),
       current_setting('port'), current_database())) AS connected;

-- The new version keeps one neighbour per item
SELECT itemcf_alter_model('mc', k => 1);
BEGIN;
SELECT status, entries_written FROM itemcf_rebuild('mc');
-- this session already sees the new version ...
SELECT count(*) AS here FROM similar_items(1, 10, 'mc');
-- ... the other one still sees the old one, without waiting
SET LOCAL statement_timeout = '5s';
SELECT * FROM dblink('mc_other', $$SELECT count(*) FROM similar_items(1, 10, 'mc')$$) AS t(there bigint);
SELECT * FROM dblink('mc_other', $$SELECT array_agg(item_id ORDER BY item_id) FROM recommend(3, 5, 'mc')$$) AS t(there bigint[]);
-- a second rebuild of the same model does not wait: it skips and says why
SELECT * FROM dblink('mc_other', $$SELECT status, error FROM itemcf_rebuild('mc')$$) AS t(status text, error text);
COMMIT;
-- once committed, the other session sees the new version
SELECT * FROM dblink('mc_other', $$SELECT count(*) FROM similar_items(1, 10, 'mc')$$) AS t(there bigint);
SELECT status, count(*) FROM itemcf_runs WHERE model = 'mc' GROUP BY status ORDER BY status;

SELECT dblink_disconnect('mc_other');
SELECT itemcf_drop_model('mc');
DROP TABLE mc_orders;
