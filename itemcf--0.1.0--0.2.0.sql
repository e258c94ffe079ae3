-- itemcf 0.1.0 -> 0.2.0.  Every change to SQL objects made after the 0.1.0 release, in the
-- order made; scripts/checks/upgrade.sh checks that 0.1.0 plus this script gives exactly the
-- objects of a fresh 0.2.0 install.
\echo Use "ALTER EXTENSION itemcf UPDATE TO '0.2.0'" to load this file. \quit

-- trust: rebuilds lock the model row instead of advisory locks; failed builds keep their
-- SQLSTATE and show their error only to roles that can read the source; serving follows the
-- settings of the build (built_settings); model owners hold a grant on itemcf_owned_models so
-- DROP ROLE fails; 'default' is reserved; out-of-range weights are bad weights
ALTER TABLE @extschema@.itemcf_models ADD COLUMN built_settings jsonb;
ALTER TABLE @extschema@.itemcf_models ADD COLUMN built_source regclass;
ALTER TABLE @extschema@.itemcf_runs ADD COLUMN sqlstate text;
ALTER TABLE @extschema@.itemcf_runs ADD COLUMN items_with_neighbors bigint;
-- the lists of the versions models serve, counted once here (later builds count them as they write)
UPDATE @extschema@.itemcf_runs r SET items_with_neighbors =
	(SELECT pg_catalog.count(*) FROM @extschema@.itemcf_neighbors n WHERE n.model_id = r.model_id AND n.version = r.version)
	WHERE r.status = 'succeeded'
	  AND r.version = (SELECT m.current_version FROM @extschema@.itemcf_models m WHERE m.model_id = r.model_id);
COMMENT ON COLUMN @extschema@.itemcf_runs.error IS
	'why the build failed, in full: may quote the source''s data, so grant itemcf_model_stats (which shows it only to roles that can read the source), not this table';
COMMENT ON COLUMN @extschema@.itemcf_models.built_settings IS
	'the settings serving follows, as of the current version''s build (itemcf_alter_model() takes effect at the next rebuild)';
COMMENT ON COLUMN @extschema@.itemcf_models.built_source IS
	'the source serving reads, as of the current version''s build (a regclass, so that pg_dump and renames keep it)';
-- models built under 0.1.0 were built with their current settings
UPDATE @extschema@.itemcf_models SET built_source = source, built_settings = pg_catalog.jsonb_build_object(
		'user_column', user_column, 'item_column', item_column, 'weight_column', weight_column,
		'time_column', time_column, 'time_window', time_window::text, 'history_cap', history_cap,
		'labels', false, 'window_end', NULL::text)		-- 0.1.0 windows ended at now
	WHERE current_version IS NOT NULL;
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM @extschema@.itemcf_models
	           WHERE name = 'default' AND source <> '@extschema@.itemcf_purchases'::regclass) THEN
		RAISE WARNING 'the model named "default" does not read itemcf_purchases: it may have been registered by another role before its first use'
			USING HINT = 'Check its owner and source in itemcf_models; drop it if it is not yours (recommend() serves it when no model is named).';
	END IF;
END
$$;

-- register and alter take window_anchor: new signatures, so the functions are dropped and
-- made again, revoked from PUBLIC as before.  Grants a site gave on the old ones are not
-- carried over: a GRANT run by this script would become an "initial privilege" of the
-- extension (pg_init_privs), which pg_dump leaves out and DROP ROLE (before 17) leaves
-- behind; so the update warns with the GRANT statements to run again, after it
SELECT pg_catalog.set_config('itemcf_update.itemcf_register_model_acl', coalesce((SELECT p.proacl::text FROM pg_catalog.pg_proc p
        WHERE p.oid = '@extschema@.itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer)'::pg_catalog.regprocedure), ''), true);
SELECT pg_catalog.set_config('itemcf_update.itemcf_alter_model_acl', coalesce((SELECT p.proacl::text FROM pg_catalog.pg_proc p
        WHERE p.oid = '@extschema@.itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[])'::pg_catalog.regprocedure), ''), true);
DROP FUNCTION @extschema@.itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer);
DROP FUNCTION @extschema@._itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, regrole);
DROP FUNCTION @extschema@.itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[]);
DROP FUNCTION @extschema@._itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], regrole);
ALTER TABLE @extschema@.itemcf_models ADD COLUMN window_anchor text NOT NULL DEFAULT 'now'
	CHECK (window_anchor IN ('now', 'newest'));

-- Labels: a model may name a label source; each version keeps its items' labels
ALTER TABLE @extschema@.itemcf_models ADD COLUMN label_source regclass, ADD COLUMN label_column name,
	ADD COLUMN label_key name,
	ADD CONSTRAINT itemcf_models_labels_check
		CHECK ((label_source IS NULL) = (label_column IS NULL) AND (label_key IS NULL OR label_source IS NOT NULL));
-- The labels of the items of every model version that has a label source, read from it
-- by the rebuild (a snapshot, like the neighbour lists: serving and the views read them here)
CREATE TABLE @extschema@.itemcf_labels (
	model_id integer NOT NULL,
	version  bigint NOT NULL,
	item_id  bigint NOT NULL,
	label    text NOT NULL,
	PRIMARY KEY (model_id, version, item_id)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_labels', '');

CREATE FUNCTION @extschema@._itemcf_check_labels(
	model text, label_source oid, label_key name, label_column name, reader regrole)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel record;
	typ regtype;
	c name;
BEGIN
	SELECT cl.oid, cl.relkind INTO rel FROM pg_class cl WHERE cl.oid = label_source;
	IF NOT FOUND OR rel.relkind NOT IN ('r', 'v', 'm', 'p', 'f') THEN
		RAISE EXCEPTION 'label source of model "%" does not exist', model
			USING ERRCODE = 'undefined_table',
			      HINT = 'Point the model at another with itemcf_alter_model(), or reset label_source.';
	END IF;
	FOREACH c IN ARRAY ARRAY[label_key, label_column] LOOP
		SELECT a.atttypid::regtype INTO typ FROM pg_attribute a
			WHERE a.attrelid = label_source AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of the label source of model "%" does not exist', c, model
				USING ERRCODE = 'undefined_column',
				      HINT = CASE WHEN c = label_key
				                  THEN format('%s has no column %I; name its item id column with label_key.', label_source::regclass, c)
				                  ELSE format('%s has no column %I.', label_source::regclass, c) END;
		END IF;
		IF c = label_key AND typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
			RAISE EXCEPTION 'label key "%" of model "%" must be an integer type, not %', c, model, typ
				USING ERRCODE = 'datatype_mismatch', HINT = 'It holds the item ids the model''s source holds.';
		END IF;
		IF NOT has_column_privilege(reader, label_source, c, 'SELECT') THEN
			RAISE EXCEPTION 'role "%" cannot read column "%" of the label source of model "%"', reader, c, model
				USING ERRCODE = 'insufficient_privilege',
				      HINT = format('GRANT SELECT ON %s TO %I.', label_source::regclass, reader::text);
		END IF;
	END LOOP;
END
$$;


-- The labels of a label source, read as its model's owner, sealed off (run_as.c): one per
-- item id (the smallest by bytes when the source has several), NULL ids and labels skipped
CREATE FUNCTION @extschema@._itemcf_read_labels(owner regrole, label_source regclass, label_key name,
                                                label_column name, OUT item_id bigint, OUT label text)
RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'itemcf_read_labels' LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION @extschema@._itemcf_read_labels(regrole, regclass, name, name) FROM PUBLIC;


-- The engine's options have one definition, the option table in src/cf_options.c: the
-- model table keeps no defaults or ranges of its own and checks its row through the engine
-- The aggregate's options, from the one table that defines them (src/cf_options.c)
CREATE FUNCTION @extschema@.item_neighbors_options(
	OUT name text, OUT type text, OUT default_value jsonb,
	OUT min double precision, OUT max double precision, OUT choices text[])
RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.item_neighbors_options() IS
	'the options of item_neighbors_agg: name, type, default (NULL: none), range, choices';

-- Options checked by the aggregate's own parser and completed with the defaults
-- (every option except since, and alpha only when given): what models validate
-- and reset through
CREATE FUNCTION @extschema@._itemcf_options(options jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'itemcf_options' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@._itemcf_model_options(measure text, alpha real, weights text, k integer,
                                                  min_support integer, shrinkage real, history_cap integer)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.jsonb_build_object('measure', measure, 'weights', weights, 'k', k,
	                                     'min_support', min_support, 'shrinkage', shrinkage,
	                                     'history_cap', history_cap)
	       OPERATOR(pg_catalog.||) CASE WHEN alpha IS NULL THEN '{}'::pg_catalog.jsonb
	                                    ELSE pg_catalog.jsonb_build_object('alpha', alpha) END
$$;

ALTER TABLE @extschema@.itemcf_models
	ALTER COLUMN measure DROP DEFAULT, ALTER COLUMN weights DROP DEFAULT, ALTER COLUMN k DROP DEFAULT,
	ALTER COLUMN min_support DROP DEFAULT, ALTER COLUMN shrinkage DROP DEFAULT,
	ALTER COLUMN history_cap DROP DEFAULT,
	DROP CONSTRAINT itemcf_models_measure_check, DROP CONSTRAINT itemcf_models_alpha_check,
	DROP CONSTRAINT itemcf_models_weights_check, DROP CONSTRAINT itemcf_models_k_check,
	DROP CONSTRAINT itemcf_models_min_support_check, DROP CONSTRAINT itemcf_models_shrinkage_check,
	DROP CONSTRAINT itemcf_models_history_cap_check, DROP CONSTRAINT itemcf_models_check,
	ADD CONSTRAINT itemcf_models_options_check CHECK (@extschema@._itemcf_options(
		@extschema@._itemcf_model_options(measure, alpha, weights, k, min_support, shrinkage, history_cap)) IS NOT NULL);
ALTER TABLE @extschema@.itemcf_models RENAME CONSTRAINT itemcf_models_check1 TO itemcf_models_window_check;

CREATE OR REPLACE FUNCTION @extschema@._itemcf_ensure_default() RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO @extschema@.itemcf_models
		(name, source, user_column, item_column, weight_column, time_column, owner,
		 measure, weights, k, min_support, shrinkage, history_cap)
	SELECT 'default', '@extschema@.itemcf_purchases'::regclass, 'user_id', 'item_id', 'weight',
	       'purchased_at', current_user::regrole,
	       d->>'measure', d->>'weights', (d->>'k')::integer, (d->>'min_support')::integer,
	       (d->>'shrinkage')::real, (d->>'history_cap')::integer
	FROM @extschema@._itemcf_options('{}') d
	ON CONFLICT (name) DO NOTHING
$$;


CREATE OR REPLACE FUNCTION @extschema@._itemcf_check_options(m @extschema@.itemcf_models)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF m.name = '' THEN
		RAISE EXCEPTION 'a model name must not be empty' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the engine's options, by the engine's parser (its messages name the option and its range)
	PERFORM @extschema@._itemcf_options(@extschema@._itemcf_model_options(
		m.measure, m.alpha, m.weights, m.k, m.min_support, m.shrinkage, m.history_cap));
	IF m.time_window IS NOT NULL AND m.time_window <= interval '0' THEN
		RAISE EXCEPTION 'time_window must be positive, not %', m.time_window
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF m.time_window IS NOT NULL AND m.time_column IS NULL THEN
		RAISE EXCEPTION 'a time_window needs a time_column' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Name the column holding the purchase time.';
	END IF;
	IF m.window_anchor IS NULL OR m.window_anchor NOT IN ('now', 'newest') THEN
		RAISE EXCEPTION 'window_anchor must be now or newest, not %', coalesce(pg_catalog.quote_literal(m.window_anchor), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use now (the window ends at the rebuild) or newest (it ends at the newest purchase in the source).';
	END IF;
	IF (m.label_source IS NULL) <> (m.label_column IS NULL) OR (m.label_key IS NOT NULL AND m.label_source IS NULL) THEN
		RAISE EXCEPTION 'a label_source needs a label_column, and label_key a label_source'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Give label_source and label_column together, or reset label_source.';
	END IF;
	IF m.window_anchor = 'newest' AND m.time_window IS NULL THEN
		RAISE EXCEPTION 'window_anchor newest needs a time_window' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Give a time_window, or reset window_anchor with it.';
	END IF;
END
$$;

CREATE FUNCTION @extschema@.itemcf_register_model(
	name          text,
	source        regclass,
	user_column   name     DEFAULT 'user_id',
	item_column   name     DEFAULT 'item_id',
	weight_column name     DEFAULT NULL,
	time_column   name     DEFAULT NULL,
	measure       text     DEFAULT 'cosine',
	k             integer  DEFAULT 50,
	min_support   integer  DEFAULT 1,
	shrinkage     real     DEFAULT 0,
	alpha         real     DEFAULT NULL,
	weights       text     DEFAULT 'binary',
	time_window   interval DEFAULT NULL,
	history_cap   integer  DEFAULT 500,
	window_anchor text     DEFAULT 'now',
	label_source  regclass DEFAULT NULL,
	label_column  name     DEFAULT NULL,
	label_key     name     DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'itemcf_manage' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name) FROM PUBLIC;

CREATE FUNCTION @extschema@._itemcf_register_model(
	name text, source regclass, user_column name, item_column name, weight_column name,
	time_column name, measure text, k integer, min_support integer, shrinkage real, alpha real,
	weights text, time_window interval, history_cap integer, window_anchor text,
	label_source regclass, label_column name, label_key name, invoker regrole)
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
	IF name = 'default' THEN
		RAISE EXCEPTION 'the model name "default" is reserved'
			USING ERRCODE = 'reserved_name',
			      DETAIL = 'The model named default reads itemcf_purchases and is made by the extension on first use; recommend() serves it when no model is named.',
			      HINT = 'Choose another name.';
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.itemcf_models m WHERE m.name = _itemcf_register_model.name) THEN
		RAISE EXCEPTION 'model "%" already exists', name
			USING ERRCODE = 'duplicate_object', HINT = 'Use itemcf_alter_model() to change it.';
	END IF;
	PERFORM @extschema@._itemcf_check_options(ROW(NULL, name, source, user_column, item_column,
		weight_column, time_column, measure, alpha, weights, k, min_support, shrinkage,
		time_window, history_cap, invoker, NULL, NULL, NULL, NULL, NULL, window_anchor,
		label_source, label_column, label_key)::@extschema@.itemcf_models);
	PERFORM @extschema@._itemcf_check_source(name, source, user_column, item_column,
	                                          weight_column, time_column, invoker);
	IF label_source IS NOT NULL THEN
		PERFORM @extschema@._itemcf_check_labels(name, label_source, coalesce(label_key, item_column),
		                                          label_column, invoker);
	END IF;
	INSERT INTO @extschema@.itemcf_models AS m
		(name, source, user_column, item_column, weight_column, time_column, measure, k,
		 min_support, shrinkage, alpha, weights, time_window, history_cap, owner, window_anchor,
		 label_source, label_column, label_key)
	VALUES (name, source, user_column, item_column, weight_column, time_column, measure, k,
	        min_support, shrinkage, alpha, weights, time_window, history_cap, invoker, window_anchor,
	        label_source, label_column, label_key)
	RETURNING m.model_id INTO id;
	PERFORM @extschema@._itemcf_mark_owner(invoker);
	PERFORM @extschema@._itemcf_check_index(source, user_column);
	RETURN id;
END
$$;
REVOKE ALL ON FUNCTION @extschema@._itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name, regrole) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name) IS
	'register a model over a purchases table or view; the caller becomes its owner and must be able to read the source';

CREATE OR REPLACE FUNCTION @extschema@._itemcf_owned_model(model text, invoker regrole)
RETURNS @extschema@.itemcf_models
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.itemcf_models;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF model = 'default' THEN
		PERFORM @extschema@._itemcf_ensure_default();
	END IF;
	SELECT * INTO m FROM @extschema@.itemcf_models WHERE name = model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT pg_has_role(invoker, m.owner, 'MEMBER')
	   AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = invoker) THEN
		RAISE EXCEPTION 'must be owner of model "%"', model USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN m;
END
$$;

CREATE FUNCTION @extschema@.itemcf_alter_model(
	name          text,
	source        regclass DEFAULT NULL,
	user_column   name     DEFAULT NULL,
	item_column   name     DEFAULT NULL,
	weight_column name     DEFAULT NULL,
	time_column   name     DEFAULT NULL,
	measure       text     DEFAULT NULL,
	k             integer  DEFAULT NULL,
	min_support   integer  DEFAULT NULL,
	shrinkage     real     DEFAULT NULL,
	alpha         real     DEFAULT NULL,
	weights       text     DEFAULT NULL,
	time_window   interval DEFAULT NULL,
	history_cap   integer  DEFAULT NULL,
	new_name      text     DEFAULT NULL,
	reset         text[]   DEFAULT NULL,
	window_anchor text     DEFAULT NULL,
	label_source  regclass DEFAULT NULL,
	label_column  name     DEFAULT NULL,
	label_key     name     DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'itemcf_manage' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name) FROM PUBLIC;

CREATE FUNCTION @extschema@._itemcf_alter_model(
	name text, source regclass, user_column name, item_column name, weight_column name,
	time_column name, measure text, k integer, min_support integer, shrinkage real, alpha real,
	weights text, time_window interval, history_cap integer, new_name text, reset text[],
	window_anchor text, label_source regclass, label_column name, label_key name, invoker regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.itemcf_models := @extschema@._itemcf_owned_model(name, invoker);
	was_asymmetric boolean := m.measure = 'asymmetric_cosine';
	-- the settings given a value in this call
	given jsonb := jsonb_strip_nulls(jsonb_build_object(
		'weight_column', weight_column, 'time_column', time_column, 'time_window', time_window,
		'alpha', alpha, 'measure', measure, 'k', k, 'min_support', min_support,
		'shrinkage', shrinkage, 'weights', weights, 'history_cap', history_cap,
		'window_anchor', window_anchor, 'label_source', label_source, 'label_column', label_column,
		'label_key', label_key));
	defaults jsonb := @extschema@._itemcf_options('{}');	-- the engine's defaults
	setting text;
BEGIN
	-- Settings to put back to their defaults (optional columns: to clear)
	FOREACH setting IN ARRAY coalesce(reset, '{}') LOOP
		IF setting IS NULL OR setting NOT IN ('weight_column', 'time_column', 'time_window', 'alpha',
		                                      'measure', 'k', 'min_support', 'shrinkage', 'weights', 'history_cap',
		                                      'window_anchor', 'label_source', 'label_key') THEN
			RAISE EXCEPTION 'cannot reset "%"', setting USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Settings that can be reset: weight_column, time_column, time_window, alpha, measure, k, min_support, shrinkage, weights, history_cap, window_anchor, label_source (with label_column and label_key), label_key.';
		END IF;
		IF given ? setting THEN
			RAISE EXCEPTION '"%" is both given and reset', setting USING ERRCODE = 'invalid_parameter_value';
		END IF;
		CASE setting
			WHEN 'weight_column' THEN m.weight_column := NULL;
			WHEN 'time_column' THEN m.time_column := NULL;
			WHEN 'time_window' THEN m.time_window := NULL;
			WHEN 'alpha' THEN m.alpha := NULL;
			WHEN 'measure' THEN m.measure := defaults->>'measure';
			WHEN 'k' THEN m.k := defaults->>'k';
			WHEN 'min_support' THEN m.min_support := defaults->>'min_support';
			WHEN 'shrinkage' THEN m.shrinkage := defaults->>'shrinkage';
			WHEN 'weights' THEN m.weights := defaults->>'weights';
			WHEN 'history_cap' THEN m.history_cap := defaults->>'history_cap';
			WHEN 'window_anchor' THEN m.window_anchor := 'now';
			WHEN 'label_source' THEN m.label_source := NULL; m.label_column := NULL; m.label_key := NULL;
			WHEN 'label_key' THEN m.label_key := NULL;
		END CASE;
	END LOOP;
	m.name          := coalesce(new_name, m.name);
	m.source        := coalesce(source, m.source);
	m.user_column   := coalesce(user_column, m.user_column);
	m.item_column   := coalesce(item_column, m.item_column);
	m.weight_column := coalesce(weight_column, m.weight_column);
	m.time_column   := coalesce(time_column, m.time_column);
	m.measure       := coalesce(measure, m.measure);
	m.k             := coalesce(k, m.k);
	m.min_support   := coalesce(min_support, m.min_support);
	m.shrinkage     := coalesce(shrinkage, m.shrinkage);
	m.alpha         := coalesce(alpha, m.alpha);
	m.weights       := coalesce(weights, m.weights);
	m.time_window   := coalesce(time_window, m.time_window);
	m.history_cap   := coalesce(history_cap, m.history_cap);
	m.window_anchor := coalesce(window_anchor, m.window_anchor);
	m.label_source  := coalesce(label_source, m.label_source);
	m.label_column  := coalesce(label_column, m.label_column);
	m.label_key     := coalesce(label_key, m.label_key);
	-- leaving asymmetric_cosine drops its alpha, unless one is given (then it is an error)
	IF was_asymmetric AND m.measure <> 'asymmetric_cosine' AND alpha IS NULL THEN
		m.alpha := NULL;
	END IF;
	PERFORM @extschema@._itemcf_check_options(m);
	PERFORM @extschema@._itemcf_check_source(m.name, m.source, m.user_column, m.item_column,
	                                          m.weight_column, m.time_column, m.owner);
	IF m.label_source IS NOT NULL THEN
		PERFORM @extschema@._itemcf_check_labels(m.name, m.label_source, coalesce(m.label_key, m.item_column),
		                                          m.label_column, m.owner);
	END IF;
	IF new_name IS NOT NULL AND new_name <> name AND (new_name = 'default' OR name = 'default') THEN
		RAISE EXCEPTION 'the model name "default" is reserved'
			USING ERRCODE = 'reserved_name',
			      DETAIL = 'The model named default is made by the extension and served when no model is named; it cannot be renamed, nor another model take its name.';
	END IF;
	IF new_name IS NOT NULL AND new_name <> name
	   AND EXISTS (SELECT 1 FROM @extschema@.itemcf_models t WHERE t.name = new_name) THEN
		RAISE EXCEPTION 'model "%" already exists', new_name USING ERRCODE = 'duplicate_object';
	END IF;
	UPDATE @extschema@.itemcf_models AS t SET
		name = m.name, source = m.source, user_column = m.user_column,
		item_column = m.item_column, weight_column = m.weight_column, time_column = m.time_column,
		measure = m.measure, k = m.k, min_support = m.min_support, shrinkage = m.shrinkage,
		alpha = m.alpha, weights = m.weights, time_window = m.time_window, history_cap = m.history_cap,
		window_anchor = m.window_anchor, label_source = m.label_source, label_column = m.label_column,
		label_key = m.label_key
	WHERE t.model_id = m.model_id;
	IF source IS NOT NULL OR user_column IS NOT NULL THEN
		PERFORM @extschema@._itemcf_check_index(m.source, m.user_column);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@._itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name, regrole) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name) IS
	'change a model''s source or options (NULL keeps a setting; reset lists settings to put back to their defaults or clear); takes effect at the next rebuild';

CREATE OR REPLACE FUNCTION @extschema@._itemcf_drop_model(name text, invoker regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.itemcf_models := @extschema@._itemcf_owned_model(name, invoker);
BEGIN
	-- The model row first: this waits for a rebuild of the model that is running (it holds
	-- the row), so the next statements see the rows that rebuild wrote, and delete them too
	DELETE FROM @extschema@.itemcf_models WHERE model_id = m.model_id;
	DELETE FROM @extschema@.itemcf_neighbors WHERE model_id = m.model_id;
	DELETE FROM @extschema@.itemcf_popular WHERE model_id = m.model_id;
	DELETE FROM @extschema@.itemcf_best_pairs WHERE model_id = m.model_id;
	DELETE FROM @extschema@.itemcf_labels WHERE model_id = m.model_id;
	PERFORM @extschema@._itemcf_mark_owner(m.owner);
END
$$;

-- The SQL of a weight column as the aggregate's weight, shared by the build query and serving
CREATE FUNCTION @extschema@._itemcf_weight_sql(column_name name) RETURNS text
	AS 'MODULE_PATHNAME', 'itemcf_weight_sql' LANGUAGE C IMMUTABLE PARALLEL SAFE;

DROP FUNCTION @extschema@._itemcf_build_query(@extschema@.itemcf_models, integer, integer);
CREATE FUNCTION @extschema@._itemcf_build_query(m @extschema@.itemcf_models, shards integer, shard integer,
                                                window_end timestamptz)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	opts jsonb := @extschema@._itemcf_model_options(m.measure, m.alpha, m.weights, m.k, m.min_support,
	                                                m.shrinkage, m.history_cap)
	              || jsonb_build_object('shard_count', shards, 'shard_index', shard);
	-- the weight as the aggregate's real (cf_collect.c, the rule serving applies too)
	weight text := @extschema@._itemcf_weight_sql(m.weight_column);
BEGIN
	IF m.time_column IS NULL THEN
		RETURN format('SELECT @extschema@.item_neighbors_agg(%I::bigint, %I::bigint, %s, %L::jsonb) FROM %s',
		              m.user_column, m.item_column, weight, opts, m.source);
	END IF;
	IF m.time_window IS NOT NULL THEN
		opts := opts || jsonb_build_object('since', coalesce(window_end, now()) - m.time_window);
	END IF;
	RETURN format('SELECT @extschema@.item_neighbors_agg(%I::bigint, %I::bigint, %s, %I::timestamptz, %L::jsonb) FROM %s',
	              m.user_column, m.item_column, weight, m.time_column, opts, m.source);
END
$$;
REVOKE ALL ON FUNCTION @extschema@._itemcf_build_query(@extschema@.itemcf_models, integer, integer, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._itemcf_build_query(@extschema@.itemcf_models, integer, integer, timestamptz) IS 'internal: the aggregate query of one shard of a model';

-- itemcf_build_model() returns a row (itemcf_build_stats), not jsonb taken apart again;
-- the C function of the 0.1.0 declaration stays in the library for 0.1.0 installs
DROP FUNCTION @extschema@.itemcf_build_model(regrole, text, integer, bigint, bigint);
-- The counts and timings of one build, as itemcf_build_model() returns them (CfResultStatsTuple)
CREATE TYPE @extschema@.itemcf_build_stats AS (
	rows                bigint,
	rows_null_id        bigint,
	rows_bad_weight     bigint,
	rows_outside_window bigint,
	users               integer,
	items               integer,
	items_out           integer,
	pairs               bigint,
	entries             bigint,
	k                   integer,
	partials            integer,
	capped_users        bigint,
	updates             bigint,
	memory_bytes        bigint,
	threads             integer,
	shard_count         integer,
	shard_index         integer,
	read_seconds        double precision,
	compute_seconds     double precision,
	bytes               bigint,
	write_seconds       double precision,
	lists               bigint				-- neighbour lists written: items with neighbours
);
COMMENT ON TYPE @extschema@.itemcf_build_stats IS
	'internal: the counts and timings of one build (the fields of item_neighbors_stats() and write_seconds)';

CREATE FUNCTION @extschema@.itemcf_build_model(owner regrole, query text, model_id integer,
                                               version bigint, popular_limit bigint)
	RETURNS @extschema@.itemcf_build_stats AS 'MODULE_PATHNAME', 'itemcf_build_model_0_2' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.itemcf_build_model(regrole, text, integer, bigint, bigint) IS
	'internal: run a model''s aggregate query as its owner (parallel plans allowed) and store the neighbour lists and popular items of the result';
REVOKE ALL ON FUNCTION @extschema@.itemcf_build_model(regrole, text, integer, bigint, bigint) FROM PUBLIC;

-- How many item shards a build needs under the current itemcf.max_result_size, from the
-- items and entries of the last build (the size rule of the result format, cf_result.c)
CREATE FUNCTION @extschema@._itemcf_result_shards(items integer, entries bigint)
	RETURNS integer AS 'MODULE_PATHNAME', 'itemcf_result_shards' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._itemcf_result_shards(integer, bigint) IS
	'internal: the item shards a build of that many items and entries needs under itemcf.max_result_size';

-- The newest purchase time of a source, read as the model's owner, sealed off (run_as.c)
CREATE FUNCTION @extschema@._itemcf_newest_time(owner regrole, source regclass, time_column name)
	RETURNS timestamptz AS 'MODULE_PATHNAME', 'itemcf_newest_time' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._itemcf_newest_time(regrole, regclass, name) IS
	'internal: max(time_column) of a source, read as the model''s owner';
REVOKE ALL ON FUNCTION @extschema@._itemcf_newest_time(regrole, regclass, name) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._itemcf_rebuild_one(id integer)
RETURNS @extschema@.itemcf_runs
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.itemcf_models;
	run @extschema@.itemcf_runs;
	st @extschema@.itemcf_build_stats;
	shards integer := 1;
	shard integer;
	prev record;
	t_write timestamptz;
	window_end timestamptz;
	keep integer;
	detail text;
	context text;
BEGIN
	SELECT * INTO m FROM @extschema@.itemcf_models WHERE model_id = id FOR NO KEY UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		SELECT * INTO m FROM @extschema@.itemcf_models WHERE model_id = id;
		IF NOT FOUND THEN
			RETURN NULL;		-- dropped since the caller listed it
		END IF;
	END IF;
	run.model := m.name;
	run.model_id := m.model_id;
	run.started_at := pg_catalog.clock_timestamp();
	run.parameters := pg_catalog.to_jsonb(m) - 'model_id' - 'current_version' - 'built_at' - 'created_at' - 'built_settings' - 'built_source';

	IF NOT EXISTS (SELECT 1 FROM @extschema@.itemcf_models x WHERE x.model_id = id FOR NO KEY UPDATE SKIP LOCKED) THEN
		run.status := 'skipped';
		run.error := pg_catalog.format('another rebuild of model "%s" is running, or the model is being altered or dropped', m.name);
	ELSE
		-- Start with as many item shards as the last build needed
		SELECT r.items, r.entries_written INTO prev FROM @extschema@.itemcf_runs r
			WHERE r.model_id = m.model_id AND r.status = 'succeeded'
			ORDER BY r.run_id DESC LIMIT 1;
		IF prev.items IS NOT NULL THEN
			shards := @extschema@._itemcf_result_shards(prev.items, prev.entries_written);
		END IF;

		BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = m.owner::oid) THEN
				RAISE EXCEPTION 'the owner of model "%" (role %) no longer exists', m.name, m.owner::oid
					USING ERRCODE = 'undefined_object',
					      HINT = 'Hand the model to another role with itemcf_reassign_models(), or drop it.';
			END IF;
			PERFORM @extschema@._itemcf_check_source(m.name, m.source, m.user_column, m.item_column,
			                                          m.weight_column, m.time_column, m.owner);
			-- a window anchored at the newest purchase: read it as the owner, sealed off
			IF m.time_window IS NOT NULL AND m.window_anchor = 'newest' THEN
				window_end := @extschema@._itemcf_newest_time(m.owner, m.source, m.time_column);
				IF window_end IS NULL OR NOT pg_catalog.isfinite(window_end) THEN
					RAISE EXCEPTION 'source of model "%" has no finite purchase time to end its window at', m.name
						USING ERRCODE = 'no_data_found',
						      DETAIL = pg_catalog.format('The newest %s is %s.', m.time_column, coalesce(window_end::text, 'NULL')),
						      HINT = 'The previous version of the model is kept.';
				END IF;
			END IF;
			run.version := pg_catalog.nextval('@extschema@.itemcf_version_seq');
			<<attempt>>
			LOOP
				BEGIN
					run.rows_read := 0; run.rows_null_id := 0; run.rows_bad_weight := 0;
					run.rows_outside_window := 0; run.entries_written := 0; run.partial_states := 0;
					run.items_with_neighbors := 0;
					run.read_seconds := 0; run.compute_seconds := 0; run.write_seconds := 0;
					FOR shard IN 0 .. shards - 1 LOOP
						-- shard 0 also stores the popular items: every item, so that serving can fill k from the whole catalogue
						st := @extschema@.itemcf_build_model(m.owner, @extschema@._itemcf_build_query(m, shards, shard, window_end),
						                                      m.model_id, run.version,
						                                      CASE WHEN shard > 0 THEN 0 END);
						IF st.rows IS NULL THEN
							RAISE EXCEPTION 'source of model "%" has no rows', m.name
								USING ERRCODE = 'no_data_found', HINT = 'The previous version of the model is kept.';
						END IF;
						run.entries_written := run.entries_written + st.entries;
						run.items_with_neighbors := run.items_with_neighbors + st.lists;
						IF shard = 0 THEN
							run.rows_null_id := st.rows_null_id;
							run.rows_bad_weight := st.rows_bad_weight;
							run.rows_outside_window := st.rows_outside_window;
							run.rows_read := st.rows + run.rows_null_id
								+ run.rows_bad_weight + run.rows_outside_window;
							run.users := st.users;
							run.items := st.items;
							IF st.rows = 0 THEN
								RAISE EXCEPTION 'source of model "%" has no usable rows', m.name
									USING ERRCODE = 'no_data_found',
									      DETAIL = pg_catalog.format('%s rows read: %s with a NULL id, %s with a NULL, non-positive, non-finite or out-of-range weight, %s outside the time window.',
									                      run.rows_read, run.rows_null_id, run.rows_bad_weight, run.rows_outside_window),
									      HINT = 'The previous version of the model is kept.';
							END IF;
						END IF;
						run.partial_states := run.partial_states + st.partials;
						run.read_seconds := run.read_seconds + st.read_seconds;
						run.compute_seconds := run.compute_seconds + st.compute_seconds;
						run.write_seconds := run.write_seconds + st.write_seconds;
					END LOOP;
					EXIT attempt;
				EXCEPTION WHEN SQLSTATE '54I01' THEN		-- ERRCODE_ITEMCF_RESULT_TOO_LARGE (cf_result.h)
					IF shards >= 4096 THEN
						RAISE;
					END IF;
					shards := LEAST(shards * 2, 4096);
				END;
			END LOOP;
			run.shards := shards;

			-- Labels: read from the label source as the owner (sealed off), kept for the version's items
			IF m.label_source IS NOT NULL THEN
				PERFORM @extschema@._itemcf_check_labels(m.name, m.label_source, coalesce(m.label_key, m.item_column),
				                                          m.label_column, m.owner);
				INSERT INTO @extschema@.itemcf_labels (model_id, version, item_id, label)
				SELECT m.model_id, run.version, l.item_id, l.label
				FROM @extschema@._itemcf_read_labels(m.owner, m.label_source, coalesce(m.label_key, m.item_column),
				                                     m.label_column) l
				JOIN @extschema@.itemcf_popular p
				  ON p.model_id = m.model_id AND p.version = run.version AND p.item_id = l.item_id;
			END IF;

			-- Flip to the new version (the old one is reclaimed after the loop, see itemcf_rebuild);
			-- serving follows the settings of the build, not later itemcf_alter_model() calls
			t_write := pg_catalog.clock_timestamp();
			UPDATE @extschema@.itemcf_models SET current_version = run.version, built_at = pg_catalog.now(),
				built_source = m.source,
				built_settings = pg_catalog.jsonb_build_object('user_column', m.user_column,
					'item_column', m.item_column, 'weight_column', m.weight_column, 'time_column', m.time_column,
					'time_window', m.time_window::text, 'history_cap', m.history_cap,
					'labels', m.label_source IS NOT NULL,
					-- ISO 8601 in UTC, which reads back the same under any DateStyle and TimeZone
					'window_end', pg_catalog.to_char(pg_catalog.timezone('UTC', window_end),
					                                 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
				WHERE model_id = m.model_id;
			run.write_seconds := run.write_seconds +
				pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - t_write);
			run.status := 'succeeded';
		EXCEPTION WHEN OTHERS THEN
			-- The subtransaction's work is gone; keep the failure and why (in full: itemcf_rebuild()
			-- and the views show it only to roles that may read the source)
			GET STACKED DIAGNOSTICS run.error = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
			                        run.sqlstate = RETURNED_SQLSTATE, context = PG_EXCEPTION_CONTEXT;
			IF detail <> '' THEN
				run.error := run.error || ': ' || detail;
			END IF;
			IF pg_catalog.strpos(context, 'while reading the source of an itemcf model') > 0 THEN
				run.error := 'reading the source failed: ' || run.error;
			END IF;
			run.status := 'failed';
			run.version := NULL;
		END;
	END IF;

	run.finished_at := pg_catalog.clock_timestamp();
	run.total_seconds := pg_catalog.date_part('epoch', run.finished_at - run.started_at);
	run.run_id := pg_catalog.nextval('@extschema@.itemcf_runs_run_id_seq');
	INSERT INTO @extschema@.itemcf_runs SELECT run.*;
	-- Retention: the model's newest itemcf.run_history runs, and always the run of the version it serves
	keep := COALESCE(pg_catalog.current_setting('itemcf.run_history', true), '1000')::integer;
	IF keep > 0 THEN
		DELETE FROM @extschema@.itemcf_runs r
		WHERE r.model_id = id
		  AND r.run_id OPERATOR(pg_catalog.<) (SELECT k.run_id FROM @extschema@.itemcf_runs k WHERE k.model_id = id
		                                        ORDER BY k.run_id DESC OFFSET keep - 1 LIMIT 1)
		  AND r.version IS DISTINCT FROM (SELECT c.current_version FROM @extschema@.itemcf_models c WHERE c.model_id = id);
	END IF;
	RETURN run;
END
$$;

CREATE FUNCTION @extschema@._itemcf_visible_error(error text, sqlstate text, status text, source oid, reader regrole)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN error IS NULL THEN NULL
		WHEN status <> 'failed' THEN error		-- a skipped run says why: no data in it
		-- (NULL: the source is gone, and with it the data an error could quote)
		WHEN COALESCE(pg_catalog.has_any_column_privilege(reader::oid, source, 'SELECT'), true) THEN error
		ELSE pg_catalog.format('the build failed with SQLSTATE %s; the message is shown only to roles that can read the model''s source',
		                       COALESCE(sqlstate, 'unknown'))
	END
$$;

CREATE OR REPLACE FUNCTION @extschema@.itemcf_reclaim()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET lock_timeout = '60s'
AS $$
DECLARE
	m record;
	n bigint;
	total bigint := 0;
BEGIN
	BEGIN
		LOCK TABLE @extschema@.itemcf_popular IN SHARE UPDATE EXCLUSIVE MODE;
	EXCEPTION WHEN lock_not_available THEN
		RAISE WARNING 'itemcf_reclaim() skipped: another reclaim (or a VACUUM of itemcf_popular) held its lock for 60 s'
			USING HINT = 'The replaced versions are deleted by the next reclaim.';
		RETURN 0;
	END;
	FOR m IN SELECT model_id, current_version FROM @extschema@.itemcf_models
	         WHERE current_version IS NOT NULL ORDER BY model_id LOOP
		DELETE FROM @extschema@.itemcf_neighbors
			WHERE model_id = m.model_id AND version < m.current_version;
		GET DIAGNOSTICS n = ROW_COUNT;
		total := total + n;
		DELETE FROM @extschema@.itemcf_popular
			WHERE model_id = m.model_id AND version < m.current_version;
		DELETE FROM @extschema@.itemcf_best_pairs
			WHERE model_id = m.model_id AND version < m.current_version;
		DELETE FROM @extschema@.itemcf_labels
			WHERE model_id = m.model_id AND version < m.current_version;
	END LOOP;
	-- rows left by a model dropped while it was being rebuilt (each distinct model id of the
	-- tables, found by walking their primary keys)
	FOR m IN WITH RECURSIVE ids(model_id) AS (
	             (SELECT n.model_id FROM @extschema@.itemcf_neighbors n ORDER BY n.model_id LIMIT 1)
	             UNION ALL
	             SELECT (SELECT n.model_id FROM @extschema@.itemcf_neighbors n
	                     WHERE n.model_id > ids.model_id ORDER BY n.model_id LIMIT 1)
	             FROM ids WHERE ids.model_id IS NOT NULL)
	         SELECT ids.model_id FROM ids
	         WHERE ids.model_id IS NOT NULL
	           AND NOT EXISTS (SELECT 1 FROM @extschema@.itemcf_models x WHERE x.model_id = ids.model_id)
	         UNION
	         SELECT DISTINCT p.model_id FROM @extschema@.itemcf_popular p
	         WHERE NOT EXISTS (SELECT 1 FROM @extschema@.itemcf_models x WHERE x.model_id = p.model_id) LOOP
		DELETE FROM @extschema@.itemcf_neighbors WHERE model_id = m.model_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		total := total + n;
		DELETE FROM @extschema@.itemcf_popular WHERE model_id = m.model_id;
		DELETE FROM @extschema@.itemcf_best_pairs WHERE model_id = m.model_id;
		DELETE FROM @extschema@.itemcf_labels WHERE model_id = m.model_id;
	END LOOP;
	RETURN total;
END
$$;

COMMENT ON FUNCTION @extschema@.itemcf_reclaim() IS
	'delete the neighbour lists, popular items, top pairs and labels of model versions a rebuild replaced and of dropped models; returns the neighbour rows deleted (itemcf_rebuild() runs it)';
COMMENT ON FUNCTION @extschema@._itemcf_reclaim_later() IS
	'internal: start a background worker that runs itemcf_reclaim() once this transaction ends; false if none could start or one is already running';

CREATE OR REPLACE FUNCTION @extschema@.itemcf_rebuild(model text DEFAULT NULL)
RETURNS SETOF @extschema@.itemcf_runs
AS 'MODULE_PATHNAME', 'itemcf_manage' LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@._itemcf_rebuild(model text, invoker regrole)
RETURNS SETOF @extschema@.itemcf_runs
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id integer;
	found_any boolean := false;
	built boolean := false;
	run @extschema@.itemcf_runs;
BEGIN
	IF model IS NULL OR model = 'default' THEN
		PERFORM @extschema@._itemcf_ensure_default();
	END IF;
	FOR id IN SELECT m.model_id FROM @extschema@.itemcf_models m
	          WHERE _itemcf_rebuild.model IS NULL OR m.name = _itemcf_rebuild.model
	          ORDER BY m.name LOOP
		run := @extschema@._itemcf_rebuild_one(id);
		CONTINUE WHEN run.run_id IS NULL;		-- dropped meanwhile
		found_any := true;
		built := built OR run.status = 'succeeded';
		run.error := @extschema@._itemcf_visible_error(run.error, run.sqlstate, run.status,
			(SELECT x.source::oid FROM @extschema@.itemcf_models x WHERE x.model_id = run.model_id), invoker);
		RETURN NEXT run;
	END LOOP;
	IF NOT found_any AND model IS NOT NULL THEN
		RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
	END IF;
	-- The replaced versions: deleted after commit by a background worker, else now
	IF built THEN
		IF COALESCE(pg_catalog.current_setting('itemcf.reclaim', true), 'background') = 'immediate'
		   OR NOT @extschema@._itemcf_reclaim_later() THEN
			PERFORM @extschema@.itemcf_reclaim();
		END IF;
	END IF;
END
$$;

COMMENT ON FUNCTION @extschema@.itemcf_rebuild(text) IS
	'rebuild one model (NULL: all) in parallel; each in its own subtransaction; returns the run history rows (a failed build''s error in full only to roles that can read its source)';
COMMENT ON FUNCTION @extschema@._itemcf_rebuild(text, regrole) IS
	'internal: itemcf_rebuild() as the extension owner, for the calling role';

CREATE VIEW @extschema@.itemcf_owned_models AS
	SELECT m.name AS model, m.source, m.current_version AS version, m.built_at
	FROM @extschema@.itemcf_models m
	WHERE pg_catalog.pg_has_role(CURRENT_USER, m.owner::oid, 'USAGE');
COMMENT ON VIEW @extschema@.itemcf_owned_models IS
	'the models of the current role; every model owner is granted SELECT on it, so DROP ROLE of an owner fails until its models are reassigned or dropped';

CREATE FUNCTION @extschema@._itemcf_mark_owner(role regrole)
RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- a dropped role has nothing to hold; the extension's owner owns the view itself
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = role::oid)
	   OR role::oid = (SELECT c.relowner FROM pg_catalog.pg_class c
	                   WHERE c.oid = '@extschema@.itemcf_owned_models'::regclass) THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT 1 FROM @extschema@.itemcf_models m WHERE m.owner = role) THEN
		EXECUTE pg_catalog.format('GRANT SELECT ON @extschema@.itemcf_owned_models TO %I', role::text);
	ELSE
		EXECUTE pg_catalog.format('REVOKE SELECT ON @extschema@.itemcf_owned_models FROM %I', role::text);
	END IF;
END
$$;

CREATE FUNCTION @extschema@.itemcf_reassign_models(old_owner oid, new_owner regrole)
RETURNS integer
AS 'MODULE_PATHNAME', 'itemcf_manage' LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@._itemcf_reassign_models(old_owner oid, new_owner regrole, invoker regrole)
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
	superuser boolean := (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = invoker::oid);
	old_exists boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = old_owner);
	m @extschema@.itemcf_models;
BEGIN
	IF old_owner IS NULL OR new_owner IS NULL THEN
		RAISE EXCEPTION 'old_owner and new_owner must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT superuser AND NOT (old_exists AND pg_catalog.pg_has_role(invoker::oid, old_owner, 'USAGE')
	                          AND pg_catalog.pg_has_role(invoker::oid, new_owner::oid, 'USAGE')) THEN
		RAISE EXCEPTION 'permission denied to reassign models'
			USING ERRCODE = 'insufficient_privilege',
			      DETAIL = 'Only roles with the privileges of both the old and the new owner (a superuser if the old owner was dropped) can reassign models.';
	END IF;
	-- the new owner must be able to read each source, as at registration
	FOR m IN SELECT * FROM @extschema@.itemcf_models x WHERE x.owner::oid = old_owner ORDER BY x.name LOOP
		PERFORM @extschema@._itemcf_check_source(m.name, m.source, m.user_column, m.item_column,
		                                          m.weight_column, m.time_column, new_owner);
	END LOOP;
	UPDATE @extschema@.itemcf_models SET owner = new_owner WHERE owner::oid = old_owner;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM @extschema@._itemcf_mark_owner(old_owner::regrole);
	PERFORM @extschema@._itemcf_mark_owner(new_owner);
	RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.itemcf_reassign_models(oid, regrole) IS
	'hand every model of old_owner (a role, or the OID of a dropped one) to new_owner; returns how many; like REASSIGN OWNED, needs the privileges of both roles (a superuser for a dropped one)';
COMMENT ON FUNCTION @extschema@._itemcf_reassign_models(oid, regrole, regrole) IS
	'internal: itemcf_reassign_models() as the extension owner, for the calling role';

CREATE OR REPLACE VIEW @extschema@.itemcf_model_stats AS
	SELECT m.name AS model, m.measure, m.k, m.current_version AS version, m.built_at,
	       -- the lists and entries as the version's build counted them (its run is kept, see
	       -- itemcf.run_history), not counted again over every list
	       r.users, r.items,
	       CASE WHEN m.current_version IS NULL THEN 0 ELSE r.items_with_neighbors END AS items_with_neighbors,
	       CASE WHEN r.items > 0 THEN r.items_with_neighbors::double precision / r.items END AS neighbor_coverage,
	       r.entries_written AS entries, CASE WHEN r.items_with_neighbors > 0
	                       THEN r.entries_written::double precision / r.items_with_neighbors END AS avg_neighbors,
	       r.rows_read, r.total_seconds AS last_build_seconds,
	       last.status AS last_status, last.started_at AS last_run_at,
	       @extschema@._itemcf_visible_error(last.error, last.sqlstate, last.status, m.source::oid, CURRENT_USER::regrole) AS last_error
	FROM @extschema@.itemcf_models m
	LEFT JOIN @extschema@.itemcf_runs r ON r.model_id = m.model_id AND r.version = m.current_version
	                                   AND r.status = 'succeeded'
	LEFT JOIN LATERAL (SELECT * FROM @extschema@.itemcf_runs l WHERE l.model_id = m.model_id
	                   ORDER BY l.run_id DESC LIMIT 1) last ON true;

REVOKE ALL ON FUNCTION @extschema@._itemcf_rebuild(text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.itemcf_reassign_models(oid, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_reassign_models(oid, regrole, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_mark_owner(regrole) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._itemcf_mark_owner(regrole) IS 'internal: grant a model owner SELECT on itemcf_owned_models (so DROP ROLE fails while it owns models), revoke it when it owns none';
COMMENT ON FUNCTION @extschema@._itemcf_visible_error(text, text, text, oid, regrole) IS 'internal: a failed run''s error in full for roles that can read the model''s source, else only its SQLSTATE';
-- owners of models registered under 0.1.0
SELECT @extschema@._itemcf_mark_owner(o.owner) FROM (SELECT DISTINCT owner FROM @extschema@.itemcf_models) o;

-- schedule: itemcf_rebuild_scheduled(), the procedure for pg_cron that commits each model on its own
-- (time limit per model, ends in error ICF01 naming the failed models); see src/schedule.sql

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

-- serving: recency weights measured from the user's most recent purchase (documented)
COMMENT ON FUNCTION @extschema@.recommend(bigint, integer, text, bigint[], bigint[], boolean, interval) IS
	'top k items for a user from the items they bought (live from the model''s source, read with the settings of its last rebuild), filled with popular items; with recency_half_life each purchase weighs 0.5^(age / half-life), its age measured from the user''s most recent purchase';

-- svec: a total order and a hash (btree and hash operator classes)
-- A total order and a hash (src/svec_order.c): lexicographic over the entries in index order
-- (the smaller index first, then the smaller value; a proper prefix first, '{}' smallest),
-- so svec works in ORDER BY, DISTINCT, GROUP BY, UNION, btree and hash indexes

CREATE FUNCTION @extschema@.svec_cmp(@extschema@.svec, @extschema@.svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_cmp(@extschema@.svec, @extschema@.svec) IS
	'-1, 0 or 1: lexicographic over the entries in index order (btree support)';

CREATE FUNCTION @extschema@.svec_lt(@extschema@.svec, @extschema@.svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_lt(@extschema@.svec, @extschema@.svec) IS
	'sorts before (lexicographic over the entries in index order)';

CREATE FUNCTION @extschema@.svec_le(@extschema@.svec, @extschema@.svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_le(@extschema@.svec, @extschema@.svec) IS
	'sorts before or equal';

CREATE FUNCTION @extschema@.svec_gt(@extschema@.svec, @extschema@.svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_gt(@extschema@.svec, @extschema@.svec) IS
	'sorts after';

CREATE FUNCTION @extschema@.svec_ge(@extschema@.svec, @extschema@.svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_ge(@extschema@.svec, @extschema@.svec) IS
	'sorts after or equal';

CREATE FUNCTION @extschema@.svec_hash(@extschema@.svec) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_hash(@extschema@.svec) IS
	'hash, equal for equal vectors (hash support)';

CREATE FUNCTION @extschema@.svec_hash_extended(@extschema@.svec, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_hash_extended(@extschema@.svec, bigint) IS
	'seeded 64-bit hash (hash support, hash partitioning)';

CREATE OPERATOR @extschema@.< (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_lt,
	COMMUTATOR = OPERATOR(@extschema@.>), NEGATOR = OPERATOR(@extschema@.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR @extschema@.<= (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_le,
	COMMUTATOR = OPERATOR(@extschema@.>=), NEGATOR = OPERATOR(@extschema@.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR @extschema@.> (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_gt,
	COMMUTATOR = OPERATOR(@extschema@.<), NEGATOR = OPERATOR(@extschema@.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR @extschema@.>= (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_ge,
	COMMUTATOR = OPERATOR(@extschema@.<=), NEGATOR = OPERATOR(@extschema@.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS @extschema@.svec_ops
	DEFAULT FOR TYPE @extschema@.svec USING btree AS
	OPERATOR 1 @extschema@.< ,
	OPERATOR 2 @extschema@.<= ,
	OPERATOR 3 @extschema@.= ,
	OPERATOR 4 @extschema@.>= ,
	OPERATOR 5 @extschema@.> ,
	FUNCTION 1 @extschema@.svec_cmp(@extschema@.svec, @extschema@.svec);

CREATE OPERATOR CLASS @extschema@.svec_hash_ops
	DEFAULT FOR TYPE @extschema@.svec USING hash AS
	OPERATOR 1 @extschema@.= ,
	FUNCTION 1 @extschema@.svec_hash(@extschema@.svec),
	FUNCTION 2 @extschema@.svec_hash_extended(@extschema@.svec, bigint);


COMMENT ON FUNCTION @extschema@._itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name, regrole) IS 'internal: itemcf_register_model() as the extension owner, for the calling role';
COMMENT ON FUNCTION @extschema@._itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name, regrole) IS 'internal: itemcf_alter_model() as the extension owner, for the calling role';

-- The grants of the old register and alter functions to run again (see above)
DO $$
DECLARE
	stmts text;
BEGIN
	SELECT pg_catalog.string_agg(pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.%s TO %s%s;', f.fn,
	           CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE a.grantee::pg_catalog.regrole::text END,
	           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), ' ' ORDER BY f.fn, a.grantee)
	INTO stmts
	FROM (VALUES ('itemcf_register_model', pg_catalog.current_setting('itemcf_update.itemcf_register_model_acl', true)),
	             ('itemcf_alter_model', pg_catalog.current_setting('itemcf_update.itemcf_alter_model_acl', true))) f(fn, acl),
	     pg_catalog.aclexplode(NULLIF(f.acl, '')::pg_catalog.aclitem[]) a
	WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
	  AND a.grantee OPERATOR(pg_catalog.<>) (SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname = 'itemcf');
	IF stmts IS NOT NULL THEN
		RAISE WARNING 'itemcf_register_model() and itemcf_alter_model() have new parameters (window_anchor, label_source, label_column, label_key); the grants on their old forms were not kept'
			USING HINT = 'Run again: ' || stmts;
	END IF;
END
$$;

-- Dashboards: similarities ranked per item (a filter on the model is applied first), and
-- popular items by model name
CREATE OR REPLACE VIEW @extschema@.itemcf_similarities AS
	SELECT m.name AS model, n.item_id, e.neighbor_id, e.score, e.rank,
	       -- labels, for models with a label source (NULL otherwise)
	       (SELECT l.label FROM @extschema@.itemcf_labels l WHERE l.model_id OPERATOR(pg_catalog.=) m.model_id AND l.version OPERATOR(pg_catalog.=) m.current_version AND l.item_id OPERATOR(pg_catalog.=) n.item_id) AS item_label,
	       (SELECT l.label FROM @extschema@.itemcf_labels l WHERE l.model_id OPERATOR(pg_catalog.=) m.model_id AND l.version OPERATOR(pg_catalog.=) m.current_version AND l.item_id OPERATOR(pg_catalog.=) e.neighbor_id) AS neighbor_label
	FROM @extschema@.itemcf_models m
	JOIN @extschema@.itemcf_neighbors n ON n.model_id = m.model_id AND n.version = m.current_version
	-- ranked within the item's own list, so a filter on the model or the item is applied
	-- before any ranking (a window over the whole join sorted every model's entries)
	CROSS JOIN LATERAL (SELECT x.index AS neighbor_id, x.value AS score,
	                           pg_catalog.row_number() OVER (ORDER BY x.value DESC, x.index)::integer AS rank
	                    FROM @extschema@.svec_each(n.neighbors) x) e;
CREATE VIEW @extschema@.itemcf_popular_items AS
	SELECT m.name AS model, p.rank, p.item_id, p.buyers,
	       (SELECT l.label FROM @extschema@.itemcf_labels l WHERE l.model_id OPERATOR(pg_catalog.=) m.model_id AND l.version OPERATOR(pg_catalog.=) m.current_version AND l.item_id OPERATOR(pg_catalog.=) p.item_id) AS label
	FROM @extschema@.itemcf_models m
	JOIN @extschema@.itemcf_popular p ON p.model_id = m.model_id AND p.version = m.current_version;
COMMENT ON VIEW @extschema@.itemcf_popular_items IS
	'the most bought items of every model''s current version, by model name, rank 1 first';

-- The highest-scoring (item, neighbour) pairs of every model version, up to 1,000 per item
-- shard (rebuild.c), so that the top pairs of a model are read without unnesting every list
CREATE TABLE @extschema@.itemcf_best_pairs (
	model_id    integer NOT NULL,
	version     bigint NOT NULL,
	item_id     bigint NOT NULL,
	neighbor_id bigint NOT NULL,
	score       real NOT NULL,
	PRIMARY KEY (model_id, version, item_id, neighbor_id)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_best_pairs', '');

CREATE VIEW @extschema@.itemcf_top_pairs AS
	SELECT t.model, t.rank, t.item_id, t.neighbor_id, t.score,
	       (SELECT l.label FROM @extschema@.itemcf_labels l WHERE l.model_id OPERATOR(pg_catalog.=) t.model_id AND l.version OPERATOR(pg_catalog.=) t.version AND l.item_id OPERATOR(pg_catalog.=) t.item_id) AS item_label,
	       (SELECT l.label FROM @extschema@.itemcf_labels l WHERE l.model_id OPERATOR(pg_catalog.=) t.model_id AND l.version OPERATOR(pg_catalog.=) t.version AND l.item_id OPERATOR(pg_catalog.=) t.neighbor_id) AS neighbor_label
	FROM (SELECT m.name AS model, m.model_id, m.current_version AS version, p.item_id, p.neighbor_id, p.score,
	             pg_catalog.row_number() OVER (PARTITION BY m.name
	                                           ORDER BY p.score DESC, p.item_id, p.neighbor_id)::integer AS rank
	      FROM @extschema@.itemcf_models m
	      JOIN @extschema@.itemcf_best_pairs p ON p.model_id = m.model_id AND p.version = m.current_version) t
	WHERE t.rank OPERATOR(pg_catalog.<=) 1000;
COMMENT ON VIEW @extschema@.itemcf_top_pairs IS
	'the 1,000 highest-scoring (item, neighbour) pairs of every model''s current version, rank 1 first (ties: smaller item, then neighbour id); the first rows of itemcf_similarities ordered by score';

-- The rebuilds building now, one row per backend: the progress it reports in its
-- pg_stat_activity query (src/progress.c).  PostgreSQL shows a backend's query only to its
-- role and to pg_read_all_stats, and so does this view.
CREATE VIEW @extschema@.itemcf_rebuild_progress AS
	SELECT a.pid, m.name AS model, p[2]::integer AS shard, p[3]::integer AS shards, p[4] AS phase,
	       p[5]::bigint AS done, p[6]::bigint AS total,
	       CASE WHEN p[6]::bigint OPERATOR(pg_catalog.>) 0
	            THEN p[5]::double precision OPERATOR(pg_catalog./) p[6]::bigint END AS fraction,
	       a.query_start AS statement_start
	FROM pg_catalog.pg_stat_activity a
	CROSS JOIN LATERAL pg_catalog.regexp_match(a.query,
		'^itemcf_rebuild progress: model_id=(\d{1,9}) shard=(\d{1,4})/(\d{1,4}) phase=([a-z]{1,20}) done=(\d{1,18})(?: total=(\d{1,18}))?$') p
	LEFT JOIN @extschema@.itemcf_models m ON m.model_id OPERATOR(pg_catalog.=) p[1]::integer
	WHERE p IS NOT NULL;
COMMENT ON VIEW @extschema@.itemcf_rebuild_progress IS
	'rebuilds running now: model, item shard, phase (reading, building, computing, writing), done of total';
