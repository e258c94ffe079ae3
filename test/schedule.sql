-- pgTAP suite for itemcf_rebuild_scheduled(): the catalog (a plain procedure without a SET
-- clause, so that it may COMMIT; its steps are C gates over PL/pgSQL implementations with a
-- pinned search_path; privileges; comments; the setting itemcf.model_time_limit) and its
-- refusal to run inside a transaction block.  What it does when called (per-model commit,
-- the time limit, the final error, a granted role) needs CALL outside a transaction: see
-- sql/schedule.sql and scripts/checks/cron.sh.
-- Everything runs in one transaction, rolled back.
-- Run with: pg_prove -d <db> test/schedule.sql   (in a database with CREATE EXTENSION pgtap)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE EXTENSION IF NOT EXISTS itemcf;
SET LOCAL client_min_messages = error;

SELECT plan(13);

-- 1-2: a procedure, neither SECURITY DEFINER nor with a SET clause (either would forbid COMMIT)
SELECT is((SELECT prokind FROM pg_proc WHERE oid = 'itemcf_rebuild_scheduled(text, interval)'::regprocedure),
          'p'::"char", 'itemcf_rebuild_scheduled(text, interval) is a procedure');
SELECT is((SELECT (prosecdef, proconfig IS NULL) FROM pg_proc WHERE oid = 'itemcf_rebuild_scheduled(text, interval)'::regprocedure),
          (false, true), 'it is SECURITY INVOKER and has no SET clause, so that it may COMMIT');
-- 3: both arguments default to NULL (CALL itemcf_rebuild_scheduled() rebuilds all models)
SELECT is((SELECT pronargdefaults FROM pg_proc WHERE oid = 'itemcf_rebuild_scheduled(text, interval)'::regprocedure),
          2::smallint, 'model and time_limit have defaults');
-- 4: PUBLIC may not call it
SELECT ok(NOT has_function_privilege('public', 'itemcf_rebuild_scheduled(text, interval)', 'EXECUTE'),
          'PUBLIC may not call itemcf_rebuild_scheduled()');
-- 5-6: the gates are the C dispatcher, SECURITY INVOKER (they must see the true caller)
SELECT is((SELECT array_agg(proname::text || ' ' || prosrc ORDER BY proname) FROM pg_proc
           WHERE proname IN ('_itemcf_scheduled_models', '_itemcf_scheduled_build', '_itemcf_scheduled_reclaim')
             AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') AND NOT prosecdef),
          ARRAY['_itemcf_scheduled_build itemcf_scheduled_gate', '_itemcf_scheduled_models itemcf_scheduled_gate',
                '_itemcf_scheduled_reclaim itemcf_scheduled_gate'],
          'the three gates are itemcf_scheduled_gate, SECURITY INVOKER');
SELECT is((SELECT count(*) FROM pg_proc WHERE proname IN ('_itemcf_scheduled_models_impl', '_itemcf_scheduled_build_impl',
                                                           '_itemcf_scheduled_reclaim_impl')
             AND NOT prosecdef AND proconfig @> ARRAY['search_path=pg_catalog, pg_temp']),
          3::bigint, 'the implementations pin search_path (the gates run them as the owner)');
-- 7: PUBLIC may execute none of the implementations and timer functions
SELECT is((SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc
           WHERE proname IN ('_itemcf_scheduled_models_impl', '_itemcf_scheduled_build_impl', '_itemcf_scheduled_reclaim_impl',
                             '_itemcf_time_limit_arm', '_itemcf_time_limit_disarm')
             AND has_function_privilege('public', oid, 'EXECUTE')),
          NULL, 'PUBLIC may execute none of the implementations and timer functions');
-- 8: every new object is part of the extension and has a comment
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'itemcf'
           WHERE (p.proname LIKE '%itemcf\_%scheduled%' OR p.proname LIKE '\_itemcf\_time\_limit%')
             AND obj_description(p.oid, 'pg_proc') IS NULL),
          NULL, 'every function of the scheduled rebuild has a comment');
SELECT is((SELECT count(*) FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'itemcf'
           WHERE p.proname LIKE '%itemcf\_%scheduled%' OR p.proname LIKE '\_itemcf\_time\_limit%'),
          9::bigint, 'the procedure, three gates, three implementations and two timer functions');
-- 10-11: the setting: milliseconds, default one hour, 0 = none, no negative value
SELECT is((SELECT (setting, unit, boot_val, min_val) FROM pg_settings WHERE name = 'itemcf.model_time_limit'),
          ('3600000'::text, 'ms'::text, '3600000'::text, '0'::text), 'itemcf.model_time_limit: ms, default 1h, minimum 0');
SELECT throws_ok($$SET LOCAL itemcf.model_time_limit = '-1s'$$, '22023', NULL, 'a negative time limit is refused');
-- 12-13: inside a transaction block, a clear error before anything runs (the procedure and each gate)
SELECT throws_ok($$CALL itemcf_rebuild_scheduled()$$, '25001',
                 'itemcf_rebuild_scheduled() cannot run inside a transaction block', 'CALL inside a transaction block');
SELECT throws_ok($$SELECT _itemcf_scheduled_build(1, NULL)$$, '25001', NULL, 'a gate inside a transaction block');

SELECT * FROM finish();
ROLLBACK;
