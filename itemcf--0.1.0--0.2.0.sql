-- itemcf 0.1.0 -> 0.2.0.  Every change to SQL objects made after the 0.1.0 release, in the
-- order made; scripts/checks/upgrade.sh checks that 0.1.0 plus this script gives exactly the
-- objects of a fresh 0.2.0 install.
\echo Use "ALTER EXTENSION itemcf UPDATE TO '0.2.0'" to load this file. \quit

-- serving: the settings a model was built with, which serving reads (itemcf_alter_model takes
-- effect at the rebuild), filled for models built under 0.1.0 from their settings (what 0.1.0
-- served); every item stored in itemcf_popular, so that serving can fill k from the whole
-- catalogue (models built under 0.1.0 keep their shorter lists until their next rebuild)
ALTER TABLE @extschema@.itemcf_models ADD COLUMN built_settings jsonb;
UPDATE @extschema@.itemcf_models SET built_settings = jsonb_build_object('source', source::oid::bigint,
	'user_column', user_column, 'item_column', item_column, 'time_column', time_column,
	'time_window', time_window::text, 'history_cap', history_cap)
WHERE current_version IS NOT NULL;

CREATE OR REPLACE FUNCTION @extschema@._itemcf_register_model(
	name text, source regclass, user_column name, item_column name, weight_column name,
	time_column name, measure text, k integer, min_support integer, shrinkage real, alpha real,
	weights text, time_window interval, history_cap integer, invoker regrole)
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id integer;
BEGIN
	IF name IS NULL OR source IS NULL OR user_column IS NULL OR item_column IS NULL THEN
		RAISE EXCEPTION 'name, source, user_column and item_column must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.itemcf_models m WHERE m.name = _itemcf_register_model.name) THEN
		RAISE EXCEPTION 'model "%" already exists', name
			USING ERRCODE = 'duplicate_object', HINT = 'Use itemcf_alter_model() to change it.';
	END IF;
	PERFORM @extschema@._itemcf_check_options(ROW(NULL, name, source, user_column, item_column,
		weight_column, time_column, measure, alpha, weights, k, min_support, shrinkage,
		time_window, history_cap, invoker, NULL, NULL, NULL, NULL)::@extschema@.itemcf_models);
	PERFORM @extschema@._itemcf_check_source(name, source, user_column, item_column,
	                                          weight_column, time_column, invoker);
	INSERT INTO @extschema@.itemcf_models AS m
		(name, source, user_column, item_column, weight_column, time_column, measure, k,
		 min_support, shrinkage, alpha, weights, time_window, history_cap, owner)
	VALUES (name, source, user_column, item_column, weight_column, time_column, measure, k,
	        min_support, shrinkage, alpha, weights, time_window, history_cap, invoker)
	RETURNING m.model_id INTO id;
	PERFORM @extschema@._itemcf_check_index(source, user_column);
	RETURN id;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._itemcf_rebuild_one(id integer)
RETURNS @extschema@.itemcf_runs
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.itemcf_models;
	run @extschema@.itemcf_runs;
	st jsonb;
	shards integer := 1;
	shard integer;
	prev record;
	limit_bytes bigint := pg_size_bytes(coalesce(current_setting('itemcf.max_result_size', true), '1048575kB'));
	t_write timestamptz;
	detail text;
BEGIN
	SELECT * INTO m FROM @extschema@.itemcf_models WHERE model_id = id;
	run.model := m.name;
	run.model_id := m.model_id;
	run.started_at := clock_timestamp();
	run.parameters := to_jsonb(m) - 'model_id' - 'current_version' - 'built_at' - 'created_at' - 'built_settings';

	-- One rebuild per model at a time: a second one skips (key: 'itemcf' in ASCII, model id)
	IF NOT pg_try_advisory_xact_lock(1769235814, m.model_id) THEN
		run.status := 'skipped';
		run.error := format('another rebuild of model "%s" is running', m.name);
	ELSE
		-- Start with as many item shards as the last build needed
		SELECT r.items, r.entries_written INTO prev FROM @extschema@.itemcf_runs r
			WHERE r.model_id = m.model_id AND r.status = 'succeeded'
			ORDER BY r.run_id DESC LIMIT 1;
		IF prev.items IS NOT NULL AND limit_bytes > prev.items * 12 + 4096 THEN
			shards := greatest(1, ceil(prev.entries_written * 8 * 1.2
			                           / (limit_bytes - prev.items * 12 - 4096)))::integer;
		END IF;

		BEGIN
			PERFORM @extschema@._itemcf_check_source(m.name, m.source, m.user_column, m.item_column,
			                                          m.weight_column, m.time_column, m.owner);
			run.version := nextval('@extschema@.itemcf_version_seq');
			<<attempt>>
			LOOP
				BEGIN
					run.rows_read := 0; run.rows_null_id := 0; run.rows_bad_weight := 0;
					run.rows_outside_window := 0; run.entries_written := 0; run.partial_states := 0;
					run.read_seconds := 0; run.compute_seconds := 0; run.write_seconds := 0;
					FOR shard IN 0 .. shards - 1 LOOP
						-- shard 0 also stores the popular items: every item, so that serving can fill k from the whole catalogue
						st := @extschema@.itemcf_build_model(m.owner, @extschema@._itemcf_build_query(m, shards, shard),
						                                      m.model_id, run.version,
						                                      CASE WHEN shard > 0 THEN 0 END);
						IF st IS NULL THEN
							RAISE EXCEPTION 'source of model "%" has no rows', m.name
								USING ERRCODE = 'no_data_found', HINT = 'The previous version of the model is kept.';
						END IF;
						run.entries_written := run.entries_written + (st->>'entries')::bigint;
						IF shard = 0 THEN
							run.rows_read := (st->>'rows')::bigint + (st->>'rows_null_id')::bigint
								+ (st->>'rows_bad_weight')::bigint + (st->>'rows_outside_window')::bigint;
							run.rows_null_id := (st->>'rows_null_id')::bigint;
							run.rows_bad_weight := (st->>'rows_bad_weight')::bigint;
							run.rows_outside_window := (st->>'rows_outside_window')::bigint;
							run.users := (st->>'users')::integer;
							run.items := (st->>'items')::integer;
							IF (st->>'rows')::bigint = 0 THEN
								RAISE EXCEPTION 'source of model "%" has no usable rows', m.name
									USING ERRCODE = 'no_data_found',
									      DETAIL = format('%s rows read: %s with a NULL id, %s with a NULL, non-positive or non-finite weight, %s outside the time window.',
									                      run.rows_read, run.rows_null_id, run.rows_bad_weight, run.rows_outside_window),
									      HINT = 'The previous version of the model is kept.';
							END IF;
						END IF;
						run.partial_states := run.partial_states + (st->>'partials')::integer;
						run.read_seconds := run.read_seconds + (st->>'read_seconds')::double precision;
						run.compute_seconds := run.compute_seconds + (st->>'compute_seconds')::double precision;
						run.write_seconds := run.write_seconds + (st->>'write_seconds')::double precision;
					END LOOP;
					EXIT attempt;
				EXCEPTION WHEN program_limit_exceeded THEN
					GET STACKED DIAGNOSTICS detail = MESSAGE_TEXT;
					IF detail NOT LIKE 'item_neighbors_agg result exceeds%' OR shards >= 4096 THEN
						RAISE;
					END IF;
					shards := least(shards * 2, 4096);
				END;
			END LOOP;
			run.shards := shards;

			-- Flip to the new version (the old one is reclaimed after the loop, see itemcf_rebuild)
			t_write := clock_timestamp();
			UPDATE @extschema@.itemcf_models SET current_version = run.version, built_at = now(),
				built_settings = jsonb_build_object('source', m.source::oid::bigint, 'user_column', m.user_column,
					'item_column', m.item_column, 'time_column', m.time_column,
					'time_window', m.time_window::text, 'history_cap', m.history_cap)
				WHERE model_id = m.model_id;
			run.write_seconds := run.write_seconds + extract(epoch FROM clock_timestamp() - t_write)::double precision;
			run.status := 'succeeded';
		EXCEPTION WHEN OTHERS THEN
			-- The subtransaction's work is gone; keep the failure and why
			GET STACKED DIAGNOSTICS run.error = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
			IF detail <> '' THEN
				run.error := run.error || ': ' || detail;
			END IF;
			run.status := 'failed';
			run.version := NULL;
		END;
	END IF;

	run.finished_at := clock_timestamp();
	run.total_seconds := extract(epoch FROM run.finished_at - run.started_at)::double precision;
	run.run_id := nextval('@extschema@.itemcf_runs_run_id_seq');
	INSERT INTO @extschema@.itemcf_runs SELECT run.*;
	RETURN run;
END
$$;

-- serving: recency weights measured from the user's most recent purchase (documented)
COMMENT ON FUNCTION @extschema@.recommend(bigint, integer, text, bigint[], bigint[], boolean, interval) IS
	'top k items for a user from the items they bought (live from the model''s source, read with the settings of its last rebuild), filled with popular items; with recency_half_life each purchase weighs 0.5^(age / half-life), its age measured from the user''s most recent purchase';
