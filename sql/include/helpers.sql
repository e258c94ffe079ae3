\set ECHO none
--
-- Helpers shared by the pg_regress tests: \i sql/include/helpers.sql (psql runs in the
-- top directory, for pg_regress and pg_prove alike).  The functions are created (or
-- replaced) in the current schema, the first of search_path: a test that drops its
-- schema at the end drops them with it.  Nothing here is echoed, so the expected
-- outputs show only the \i line and this file's first line.
--
-- try(sql): run a query returning one value: 'OK: <value>' or '<SQLSTATE>: <message>'
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
\set ECHO all
