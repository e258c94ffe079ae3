\set ECHO none
--
-- Helpers shared by the pg_regress tests: \i sql/include/helpers.sql (psql runs in the
-- top directory, for pg_regress and pg_prove alike).  The functions are created (or
-- replaced) in the current schema, the first of search_path: a test that drops its
-- schema at the end drops them with it.  Nothing here is echoed, so the expected
-- outputs show only the \i line and this file's first line.
--
-- try(sql): run a query returning one value: 'OK: <value>' or '<SQLSTATE>: <message>'
-- (try_detail adds the error's detail; differences(a, b) compares two models' lists)
CREATE OR REPLACE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text; st text; msg text;
BEGIN
  EXECUTE sql INTO r;
  RETURN 'OK: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
  RETURN st || ': ' || msg;
END $$;
-- try_detail(sql): the same, and ' / <detail>' after the message when the error has a detail
CREATE OR REPLACE FUNCTION try_detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  r text; st text; msg text; det text;
BEGIN
  EXECUTE sql INTO r;
  RETURN 'OK: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END $$;
-- differences(a, b): (item, neighbour, score, rank) rows of one model's similarities
-- missing from, or different in, the other's; and the same for the popular items
CREATE OR REPLACE FUNCTION differences(a text, b text) RETURNS TABLE (similarities bigint, popular bigint) LANGUAGE sql AS $$
  WITH x AS (SELECT item_id, neighbor_id, score, rank FROM public.itemcf_similarities WHERE model = a),
       y AS (SELECT item_id, neighbor_id, score, rank FROM public.itemcf_similarities WHERE model = b),
       px AS (SELECT p.rank, p.item_id, p.buyers FROM public.itemcf_popular p JOIN public.itemcf_models m
              ON m.model_id = p.model_id AND p.version = m.current_version WHERE m.name = a),
       py AS (SELECT p.rank, p.item_id, p.buyers FROM public.itemcf_popular p JOIN public.itemcf_models m
              ON m.model_id = p.model_id AND p.version = m.current_version WHERE m.name = b)
  SELECT (SELECT count(*) FROM ((SELECT * FROM x EXCEPT ALL SELECT * FROM y)
                                UNION ALL (SELECT * FROM y EXCEPT ALL SELECT * FROM x)) d),
         (SELECT count(*) FROM ((SELECT * FROM px EXCEPT ALL SELECT * FROM py)
                                UNION ALL (SELECT * FROM py EXCEPT ALL SELECT * FROM px)) d) $$;
\set ECHO all
