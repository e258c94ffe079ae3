-- itemcf install script, part 4: itemcf_rebuild_scheduled(), the rebuild for pg_cron.
--
-- itemcf_rebuild() rebuilds every model in one transaction: one snapshot (and
-- the xmin horizon) is held for the whole run, a slow source delays every
-- other model, and a model that fails is only a row with status 'failed', so
-- psql and pg_cron see success.  The procedure itemcf_rebuild_scheduled()
-- builds each model in a transaction of its own (COMMIT after each, so each
-- gets a fresh snapshot and the horizon advances), cancels a model that
-- exceeds its time limit (itemcf.model_time_limit or the time_limit argument)
-- and records it as failed, reclaims the replaced versions as itemcf_rebuild()
-- does, and, once everything else is committed, ends in an ERROR (SQLSTATE
-- ICF01) naming the models that failed.
--
-- Rights (see schedule.c): a procedure that commits can be neither SECURITY
-- DEFINER nor have a SET clause, so it runs as the caller and reaches the
-- extension's tables only through the gates _itemcf_scheduled_models(),
-- _itemcf_scheduled_build() and _itemcf_scheduled_reclaim(): C functions that
-- check the caller's EXECUTE privilege on the procedure and run the
-- implementations *_impl() as the extension's owner.  Because the procedure
-- cannot pin its search_path with SET, every function, operator and type in
-- its body is schema-qualified (pg_catalog. or @extschema@.), so that nothing
-- on the caller's search_path is called in its place.

-- The time limit: a timeout of its own (statement_timeout is armed once per CALL)
CREATE FUNCTION @extschema@._itemcf_time_limit_arm(ms integer)
	RETURNS integer AS 'MODULE_PATHNAME', 'itemcf_time_limit_arm' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._itemcf_time_limit_arm(integer) IS
	'internal: cancel the running statement after ms milliseconds (NULL: itemcf.model_time_limit, 0: none); returns the limit armed';
REVOKE ALL ON FUNCTION @extschema@._itemcf_time_limit_arm(integer) FROM PUBLIC;

CREATE FUNCTION @extschema@._itemcf_time_limit_disarm()
	RETURNS boolean AS 'MODULE_PATHNAME', 'itemcf_time_limit_disarm' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._itemcf_time_limit_disarm() IS
	'internal: stop the time limit''s timer; true if it fired since it was armed';
REVOKE ALL ON FUNCTION @extschema@._itemcf_time_limit_disarm() FROM PUBLIC;

-- Implementations, run as the extension's owner by the gates below

-- Check the arguments, create the default model if needed; the ids of the models to build
CREATE FUNCTION @extschema@._itemcf_scheduled_models_impl(model text, time_limit interval)
RETURNS integer[]
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ids integer[];
BEGIN
	IF time_limit < interval '0' THEN
		RAISE EXCEPTION 'time_limit must not be negative, not %', time_limit
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Give 0 for no limit, or NULL for itemcf.model_time_limit.';
	END IF;
	IF model IS NULL OR model = 'default' THEN
		PERFORM @extschema@._itemcf_ensure_default();
	END IF;
	-- All models: as itemcf_rebuild(), but without the default model while it is unused (never
	-- built, itemcf_purchases empty), so that it does not fail every night where nobody uses it
	SELECT array_agg(m.model_id ORDER BY m.name) INTO ids
		FROM @extschema@.itemcf_models m
		WHERE CASE WHEN _itemcf_scheduled_models_impl.model IS NOT NULL
		           THEN m.name = _itemcf_scheduled_models_impl.model
		           ELSE NOT (m.name = 'default' AND m.current_version IS NULL
		                     AND m.source = '@extschema@.itemcf_purchases'::regclass
		                     AND NOT EXISTS (SELECT FROM @extschema@.itemcf_purchases)) END;
	IF ids IS NULL AND model IS NOT NULL THEN
		RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
	END IF;
	RETURN coalesce(ids, '{}');
END
$$;
COMMENT ON FUNCTION @extschema@._itemcf_scheduled_models_impl(text, interval) IS
	'internal: check the arguments of itemcf_rebuild_scheduled() and list the ids of the models to build, in name order';

-- Build one model under the time limit and record the run; NULL if the model is gone.
-- An error that _itemcf_rebuild_one() lets through (the time limit's cancel, which
-- WHEN OTHERS does not catch, or any other) is recorded as the model's failed run,
-- so that the other models go on; a cancel of the whole CALL goes on up.
CREATE FUNCTION @extschema@._itemcf_scheduled_build_impl(id integer, time_limit interval)
RETURNS @extschema@.itemcf_runs
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.itemcf_models;
	run @extschema@.itemcf_runs;
	limit_ms integer;
	started timestamptz := clock_timestamp();
	err text;
	detail text;
	state text := '57014';
BEGIN
	SELECT * INTO m FROM @extschema@.itemcf_models WHERE model_id = id;
	IF NOT FOUND THEN
		RETURN NULL;			-- dropped since the list was made
	END IF;
	IF time_limit IS NOT NULL THEN
		limit_ms := least(ceil(extract(epoch FROM time_limit) * 1000), 2147483647)::integer;
	END IF;
	BEGIN
		limit_ms := @extschema@._itemcf_time_limit_arm(limit_ms);
		run := @extschema@._itemcf_rebuild_one(id);
		PERFORM @extschema@._itemcf_time_limit_disarm();
	EXCEPTION
		WHEN query_canceled THEN
			IF NOT @extschema@._itemcf_time_limit_disarm() THEN
				RAISE;
			END IF;
			err := format('canceled after the time limit of %s',
			              CASE WHEN limit_ms % 3600000 = 0 THEN (limit_ms / 3600000) || 'h'
			                   WHEN limit_ms % 60000 = 0 THEN (limit_ms / 60000) || 'min'
			                   WHEN limit_ms % 1000 = 0 THEN (limit_ms / 1000) || 's'
			                   ELSE limit_ms || 'ms' END);
		WHEN OTHERS THEN
			PERFORM @extschema@._itemcf_time_limit_disarm();
			GET STACKED DIAGNOSTICS err = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
			IF detail <> '' THEN
				err := err || ': ' || detail;
			END IF;
	END;
	IF err IS NOT NULL THEN
		-- the model's work is rolled back; record why, as _itemcf_rebuild_one() does
		run := NULL;
		run.model := m.name;
		run.model_id := m.model_id;
		run.started_at := started;
		run.parameters := to_jsonb(m) - 'model_id' - 'current_version' - 'built_at' - 'created_at' - 'built_settings' - 'built_source';
		run.status := 'failed';
		run.error := err;
		run.sqlstate := state;
		run.finished_at := clock_timestamp();
		run.total_seconds := extract(epoch FROM run.finished_at - run.started_at)::double precision;
		run.run_id := nextval('@extschema@.itemcf_runs_run_id_seq');
		INSERT INTO @extschema@.itemcf_runs SELECT run.*;
	END IF;
	RETURN run;
END
$$;
COMMENT ON FUNCTION @extschema@._itemcf_scheduled_build_impl(integer, interval) IS
	'internal: build one model for itemcf_rebuild_scheduled(), canceled and recorded as failed past its time limit; returns the run row';

-- Delete the versions replaced by the models built, as itemcf_rebuild() does
CREATE FUNCTION @extschema@._itemcf_scheduled_reclaim_impl()
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF coalesce(current_setting('itemcf.reclaim', true), 'background') = 'immediate'
	   OR NOT @extschema@._itemcf_reclaim_later() THEN
		PERFORM @extschema@.itemcf_reclaim();
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._itemcf_scheduled_reclaim_impl() IS
	'internal: reclaim the versions itemcf_rebuild_scheduled() replaced (a background worker, or now when itemcf.reclaim = immediate)';

REVOKE ALL ON FUNCTION @extschema@._itemcf_scheduled_models_impl(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_scheduled_build_impl(integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_scheduled_reclaim_impl() FROM PUBLIC;

-- Gates: executable by PUBLIC, but each checks EXECUTE on itemcf_rebuild_scheduled()
CREATE FUNCTION @extschema@._itemcf_scheduled_models(model text, time_limit interval)
	RETURNS integer[] AS 'MODULE_PATHNAME', 'itemcf_scheduled_gate' LANGUAGE C VOLATILE;
CREATE FUNCTION @extschema@._itemcf_scheduled_build(id integer, time_limit interval)
	RETURNS @extschema@.itemcf_runs AS 'MODULE_PATHNAME', 'itemcf_scheduled_gate' LANGUAGE C VOLATILE;
CREATE FUNCTION @extschema@._itemcf_scheduled_reclaim()
	RETURNS void AS 'MODULE_PATHNAME', 'itemcf_scheduled_gate' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@._itemcf_scheduled_models(text, interval) IS
	'internal: _itemcf_scheduled_models_impl() as the extension''s owner, for a caller that may execute itemcf_rebuild_scheduled()';
COMMENT ON FUNCTION @extschema@._itemcf_scheduled_build(integer, interval) IS
	'internal: _itemcf_scheduled_build_impl() as the extension''s owner, for a caller that may execute itemcf_rebuild_scheduled()';
COMMENT ON FUNCTION @extschema@._itemcf_scheduled_reclaim() IS
	'internal: _itemcf_scheduled_reclaim_impl() as the extension''s owner, for a caller that may execute itemcf_rebuild_scheduled()';

-- The procedure.  No SET clause (it could not COMMIT), hence every name qualified.
CREATE PROCEDURE @extschema@.itemcf_rebuild_scheduled(model pg_catalog.text DEFAULT NULL,
                                                      time_limit pg_catalog.interval DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
	ids pg_catalog.int4[];
	id pg_catalog.int4;
	run @extschema@.itemcf_runs;
	built pg_catalog.bool := false;
	total pg_catalog.int4 := 0;
	failed pg_catalog.text[] := '{}';
	why pg_catalog.text[] := '{}';
BEGIN
	ids := @extschema@._itemcf_scheduled_models(model, time_limit);
	COMMIT;
	FOREACH id IN ARRAY ids LOOP
		run := @extschema@._itemcf_scheduled_build(id, time_limit);
		COMMIT;
		CONTINUE WHEN run.run_id IS NULL;	-- dropped meanwhile
		total := total OPERATOR(pg_catalog.+) 1;
		IF run.status OPERATOR(pg_catalog.=) 'succeeded' THEN
			built := true;
		ELSIF run.status OPERATOR(pg_catalog.=) 'failed' THEN
			-- the error in full only if the caller may read the model's source (it may quote its rows)
			run.error := @extschema@._itemcf_visible_error(run.error, run.sqlstate, run.status,
				pg_catalog.to_regclass(run.parameters OPERATOR(pg_catalog.->>) 'source')::pg_catalog.oid,
				CURRENT_USER::pg_catalog.regrole);
			failed := pg_catalog.array_append(failed, pg_catalog.format('"%s"', run.model));
			why := pg_catalog.array_append(why, pg_catalog.format('Model "%s": %s.', run.model,
			                                                   pg_catalog.rtrim(run.error, '.')));
		ELSE
			RAISE WARNING 'model "%" was not rebuilt: %', run.model, run.error
				USING HINT = 'Its previous version stays current.';
		END IF;
	END LOOP;
	IF built THEN
		PERFORM @extschema@._itemcf_scheduled_reclaim();
		COMMIT;
	END IF;
	IF pg_catalog.cardinality(failed) OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION '% of % models failed to rebuild: %', pg_catalog.cardinality(failed), total,
			pg_catalog.array_to_string(failed, ', ')
			USING ERRCODE = 'ICF01',
			      DETAIL = pg_catalog.array_to_string(why, E'\n'),
			      HINT = 'The other models are rebuilt and committed; a failed model keeps its previous version. Every run is in itemcf_runs.';
	END IF;
END
$$;
COMMENT ON PROCEDURE @extschema@.itemcf_rebuild_scheduled(text, interval) IS
	'rebuild one model (NULL: all), each in its own transaction with a time limit (NULL: itemcf.model_time_limit, 0: none); ends in error ICF01 naming the models that failed; run it with CALL, outside a transaction block (for pg_cron)';
REVOKE ALL ON PROCEDURE @extschema@.itemcf_rebuild_scheduled(text, interval) FROM PUBLIC;
