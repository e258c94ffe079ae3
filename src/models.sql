-- itemcf install script, part 3: stored models, itemcf_rebuild() and the dashboard views.
--
-- Storage is a fixed set of tables keyed by model (never one table per model),
-- so that pg_dump keeps every row through pg_extension_config_dump below.
-- A rebuild writes a new version of a model's rows and flips the model's
-- current_version in one transaction: under MVCC readers see exactly the old
-- rows until the rebuild commits and exactly the new ones after, and never
-- wait on it.  The replaced versions are deleted by itemcf_reclaim(), in a
-- background worker once the rebuild has committed (reclaim.c), or before
-- the rebuild returns when itemcf.reclaim = 'immediate'.
--
-- The model named 'default' (over itemcf_purchases) is not inserted by this
-- script but on first use (_itemcf_ensure_default), so that every row of
-- itemcf_models can be dumped and restored without clashing with the script.
--
-- Privileges: the functions that register, alter, drop and rebuild models are
-- revoked from PUBLIC.  Register, alter and drop are the C dispatcher in
-- manage.c: it takes the true caller (current user at the call) and runs the
-- PL/pgSQL implementation (_itemcf_register_model, ...) as the extension's
-- owner with the caller as its last argument.  itemcf_rebuild() is SECURITY
-- DEFINER.  A model's source is always read as the model's owner, so nobody
-- reads through itemcf what they could not read themselves, and row-level
-- security applies.

-- The default purchases table, read by the model named 'default'.
-- DROP EXTENSION drops it, with its rows.
CREATE TABLE @extschema@.itemcf_purchases (
	user_id      bigint,
	item_id      bigint,
	weight       real DEFAULT 1,
	purchased_at timestamptz DEFAULT now()
);
CREATE INDEX itemcf_purchases_user_idx
	ON @extschema@.itemcf_purchases (user_id, purchased_at DESC) INCLUDE (item_id, weight);
COMMENT ON TABLE @extschema@.itemcf_purchases IS
	'purchases read by the model named default; dropped with the extension';

-- A model's engine options (its columns) as the aggregate's options object:
-- what the model's CHECK, _itemcf_check_options and the build query pass to
-- the engine, which owns the names, defaults and ranges (src/cf_options.c)
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

CREATE TABLE @extschema@.itemcf_models (
	model_id        serial PRIMARY KEY,
	name            text NOT NULL UNIQUE CHECK (name <> ''),
	source          regclass NOT NULL,
	user_column     name NOT NULL,
	item_column     name NOT NULL,
	weight_column   name,
	time_column     name,
	-- the engine's options: no defaults and no ranges here, item_neighbors_options() has them
	measure         text NOT NULL,
	alpha           real,
	weights         text NOT NULL,
	k               integer NOT NULL,
	min_support     integer NOT NULL,
	shrinkage       real NOT NULL,
	time_window     interval CHECK (time_window > interval '0'),
	history_cap     integer NOT NULL,
	owner           regrole NOT NULL,
	current_version bigint,
	built_at        timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	built_settings  jsonb,
	built_source    regclass,
	window_anchor   text NOT NULL DEFAULT 'now' CHECK (window_anchor IN ('now', 'newest')),
	label_source    regclass,		-- where an item's label is (labels.sql in the README)
	label_column    name,
	label_key       name,			-- the item id column of label_source; NULL: the item_column's name
	CONSTRAINT itemcf_models_labels_check
		CHECK ((label_source IS NULL) = (label_column IS NULL) AND (label_key IS NULL OR label_source IS NOT NULL)),
	CONSTRAINT itemcf_models_options_check CHECK (@extschema@._itemcf_options(
		@extschema@._itemcf_model_options(measure, alpha, weights, k, min_support, shrinkage, history_cap)) IS NOT NULL),
	CONSTRAINT itemcf_models_window_check CHECK (time_window IS NULL OR time_column IS NOT NULL)
);
COMMENT ON TABLE @extschema@.itemcf_models IS
	'registered models: a source of purchases and the options of its similarity build';

-- Neighbour lists of every model version: item -> svec(neighbour id -> score)
CREATE TABLE @extschema@.itemcf_neighbors (
	model_id  integer NOT NULL,
	version   bigint NOT NULL,
	item_id   bigint NOT NULL,
	neighbors @extschema@.svec NOT NULL,
	PRIMARY KEY (model_id, version, item_id)	-- a new version appends at the index's right end
);

-- Popular items of every model version, for cold-start fallback
CREATE TABLE @extschema@.itemcf_popular (
	model_id integer NOT NULL,
	version  bigint NOT NULL,
	rank     integer NOT NULL,
	item_id  bigint NOT NULL,
	buyers   integer NOT NULL,
	PRIMARY KEY (model_id, version, rank)
);

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

-- The labels of the items of every model version that has a label source, read from it
-- by the rebuild (a snapshot, like the neighbour lists: serving and the views read them here)
CREATE TABLE @extschema@.itemcf_labels (
	model_id integer NOT NULL,
	version  bigint NOT NULL,
	item_id  bigint NOT NULL,
	label    text NOT NULL,
	PRIMARY KEY (model_id, version, item_id)
);

-- Every build, successful or not, for dashboards
CREATE TABLE @extschema@.itemcf_runs (
	run_id              bigserial PRIMARY KEY,
	model               text NOT NULL,
	model_id            integer,
	started_at          timestamptz NOT NULL,
	finished_at         timestamptz NOT NULL,
	status              text NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
	error               text,
	parameters          jsonb,
	version             bigint,
	rows_read           bigint,
	rows_null_id        bigint,
	rows_bad_weight     bigint,
	rows_outside_window bigint,
	users               integer,
	items               integer,
	entries_written     bigint,
	partial_states      integer,
	shards              integer,
	read_seconds        double precision,
	compute_seconds     double precision,
	write_seconds       double precision,
	total_seconds       double precision,
	sqlstate            text,
	items_with_neighbors bigint
);
CREATE INDEX itemcf_runs_model_idx ON @extschema@.itemcf_runs (model, started_at DESC);
COMMENT ON TABLE @extschema@.itemcf_runs IS
	'history of itemcf_rebuild(): one row per model build, with counts and per-phase seconds';
COMMENT ON COLUMN @extschema@.itemcf_runs.error IS
	'why the build failed, in full: may quote the source''s data, so grant itemcf_model_stats (which shows it only to roles that can read the source), not this table';
COMMENT ON COLUMN @extschema@.itemcf_models.built_settings IS
	'the settings serving follows, as of the current version''s build (itemcf_alter_model() takes effect at the next rebuild)';
COMMENT ON COLUMN @extschema@.itemcf_models.built_source IS
	'the source serving reads, as of the current version''s build (a regclass, so that pg_dump and renames keep it)';

CREATE SEQUENCE @extschema@.itemcf_version_seq;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_purchases', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_models', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_models_model_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_neighbors', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_popular', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_best_pairs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_labels', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.itemcf_version_seq', '');

-- Internal helpers

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

-- Check a model's source and columns; raises a clear error when they do not fit
CREATE FUNCTION @extschema@._itemcf_check_source(
	model text, source oid, user_column name, item_column name,
	weight_column name, time_column name, reader regrole)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel record;
	col record;
	c name;
BEGIN
	SELECT cl.oid, cl.relkind INTO rel FROM pg_class cl WHERE cl.oid = source;
	IF NOT FOUND OR rel.relkind NOT IN ('r', 'v', 'm', 'p', 'f') THEN
		RAISE EXCEPTION 'source of model "%" does not exist', model
			USING ERRCODE = 'undefined_table',
			      HINT = 'The table or view was dropped; point the model at a new one with itemcf_alter_model().';
	END IF;
	-- column privileges are enough (checked per column below)
	IF NOT has_any_column_privilege(reader, source, 'SELECT') THEN
		RAISE EXCEPTION 'role "%" cannot read the source of model "%"', reader, model
			USING ERRCODE = 'insufficient_privilege',
			      HINT = format('GRANT SELECT ON %s TO %I.', source::regclass, reader::text);
	END IF;
	FOREACH c IN ARRAY ARRAY[user_column, item_column, weight_column, time_column] LOOP
		CONTINUE WHEN c IS NULL;
		SELECT a.attname, a.atttypid::regtype AS typ INTO col
			FROM pg_attribute a
			WHERE a.attrelid = source AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of the source of model "%" does not exist', c, model
				USING ERRCODE = 'undefined_column',
				      HINT = format('%s has no column %I; fix the model with itemcf_alter_model().', source::regclass, c);
		END IF;
		IF c IN (user_column, item_column)
		   AND col.typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
			RAISE EXCEPTION 'column "%" of the source of model "%" must be an integer type, not %', c, model, col.typ
				USING ERRCODE = 'datatype_mismatch',
				      HINT = 'Map other ids to bigint in a view, for example with a lookup table.';
		END IF;
		IF c = weight_column
		   AND col.typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
		                       'real'::regtype, 'double precision'::regtype, 'numeric'::regtype) THEN
			RAISE EXCEPTION 'weight column "%" of model "%" must be numeric, not %', c, model, col.typ
				USING ERRCODE = 'datatype_mismatch';
		END IF;
		IF c = time_column
		   AND col.typ NOT IN ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype,
		                       'date'::regtype) THEN
			RAISE EXCEPTION 'time column "%" of model "%" must be a timestamp or date, not %', c, model, col.typ
				USING ERRCODE = 'datatype_mismatch';
		END IF;
		IF NOT has_column_privilege(reader, source, c, 'SELECT') THEN
			RAISE EXCEPTION 'role "%" cannot read column "%" of the source of model "%"', reader, c, model
				USING ERRCODE = 'insufficient_privilege';
		END IF;
	END LOOP;
END
$$;

-- Raise unless the label source of a model can be read by reader: it exists, has the key
-- column (an integer type, like item ids) and the label column, both readable
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

-- Warn when a table source has no index leading with the user column (serving reads by user)
CREATE FUNCTION @extschema@._itemcf_check_index(source oid, user_column name)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF (SELECT relkind FROM pg_class WHERE oid = source) IN ('r', 'p', 'm')
	   AND NOT EXISTS (
		SELECT 1 FROM pg_index i JOIN pg_attribute a
			ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = source AND a.attname = user_column) THEN
		RAISE WARNING 'source % has no index usable for per-user lookups', source::regclass
			USING HINT = format('CREATE INDEX ON %s (%I);', source::regclass, user_column);
	END IF;
END
$$;

-- Create the model named 'default' over itemcf_purchases if it does not exist yet
CREATE FUNCTION @extschema@._itemcf_ensure_default() RETURNS void
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

-- Model management

-- Raise a clear error (22023) for an option value a model cannot have; the
-- table's CHECK constraints stay as the last line of defence
CREATE FUNCTION @extschema@._itemcf_check_options(m @extschema@.itemcf_models)
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
COMMENT ON FUNCTION @extschema@.itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name) IS
	'register a model over a purchases table or view; the caller becomes its owner and must be able to read the source';

-- Raise unless the acting role owns the model (or is superuser); returns the model row
CREATE FUNCTION @extschema@._itemcf_owned_model(model text, invoker regrole)
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
COMMENT ON FUNCTION @extschema@.itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name) IS
	'change a model''s source or options (NULL keeps a setting; reset lists settings to put back to their defaults or clear); takes effect at the next rebuild';

CREATE FUNCTION @extschema@.itemcf_drop_model(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'itemcf_manage' LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@._itemcf_drop_model(name text, invoker regrole)
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
COMMENT ON FUNCTION @extschema@.itemcf_drop_model(text) IS
	'drop a model and its neighbour lists (its run history stays)';

-- The SQL of a weight column's value as the aggregate's weight: a value real cannot hold
-- becomes NULL, a bad weight (CfWeightSql in src/cf_collect.c; serving reads weights the same way)
CREATE FUNCTION @extschema@._itemcf_weight_sql(column_name name) RETURNS text
	AS 'MODULE_PATHNAME', 'itemcf_weight_sql' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The aggregate query of a model (one shard), built with quoted identifiers only; a time
-- window ends at window_end (the newest purchase, for window_anchor newest) or now
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

-- Build one model in a subtransaction and record the run; NULL if the model no longer exists.
-- The model's row is locked for the build (FOR NO KEY UPDATE: a row lock needs UPDATE on
-- itemcf_models, which no role but the extension's owner has, unlike an advisory lock), so a
-- second rebuild of the model skips it, and altering or dropping the model waits for it.
CREATE FUNCTION @extschema@._itemcf_rebuild_one(id integer)
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

-- A failed run's error as `reader` may see it: in full if the role may read the model's
-- source (the message may quote its rows, e.g. a value that did not convert to bigint),
-- else only the SQLSTATE.  Executable by all (itemcf_model_stats calls it as the querying
-- role): it reads no table
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

-- Delete the versions of every model older than its current one, and the rows of models
-- that no longer exist.  One reclaim at a time: it locks itemcf_popular in SHARE UPDATE
-- EXCLUSIVE mode, which only the extension's owner can take (no role can stall it the way
-- anyone can hold an advisory lock) and which neither readers nor rebuilds' inserts conflict
-- with; it waits at most itemcf.reclaim's lock_timeout of 60 s, then leaves the work to the
-- next reclaim with a warning.
CREATE FUNCTION @extschema@.itemcf_reclaim()
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
REVOKE ALL ON FUNCTION @extschema@.itemcf_reclaim() FROM PUBLIC;

CREATE FUNCTION @extschema@._itemcf_reclaim_later()
	RETURNS boolean AS 'MODULE_PATHNAME', 'itemcf_reclaim_later' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@._itemcf_reclaim_later() IS
	'internal: start a background worker that runs itemcf_reclaim() once this transaction ends; false if none could start or one is already running';
REVOKE ALL ON FUNCTION @extschema@._itemcf_reclaim_later() FROM PUBLIC;

CREATE FUNCTION @extschema@.itemcf_rebuild(model text DEFAULT NULL)
RETURNS SETOF @extschema@.itemcf_runs
AS 'MODULE_PATHNAME', 'itemcf_manage' LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@._itemcf_rebuild(model text, invoker regrole)
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

-- Owners of models: each holds a grant on this view (its rows: the caller's models), so that
-- DROP ROLE of a model's owner fails, naming it, until the models are handed on with
-- itemcf_reassign_models() or dropped
CREATE VIEW @extschema@.itemcf_owned_models AS
	SELECT m.name AS model, m.source, m.current_version AS version, m.built_at
	FROM @extschema@.itemcf_models m
	WHERE pg_catalog.pg_has_role(CURRENT_USER, m.owner::oid, 'USAGE');
COMMENT ON VIEW @extschema@.itemcf_owned_models IS
	'the models of the current role; every model owner is granted SELECT on it, so DROP ROLE of an owner fails until its models are reassigned or dropped';

-- Keep role's grant on itemcf_owned_models exactly while it owns a model
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
COMMENT ON FUNCTION @extschema@.itemcf_reassign_models(oid, regrole) IS
	'hand every model of old_owner (a role, or the OID of a dropped one) to new_owner; returns how many; like REASSIGN OWNED, needs the privileges of both roles (a superuser for a dropped one)';

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
COMMENT ON FUNCTION @extschema@._itemcf_reassign_models(oid, regrole, regrole) IS
	'internal: itemcf_reassign_models() as the extension owner, for the calling role';

-- Dashboards

CREATE VIEW @extschema@.itemcf_similarities AS
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
COMMENT ON VIEW @extschema@.itemcf_similarities IS
	'current neighbour lists in long form: one row per (model, item, neighbour) with its rank';

CREATE VIEW @extschema@.itemcf_model_stats AS
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
COMMENT ON VIEW @extschema@.itemcf_model_stats IS
	'per model: users, items, neighbour coverage, entries, last build and its outcome';

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

CREATE VIEW @extschema@.itemcf_popular_items AS
	SELECT m.name AS model, p.rank, p.item_id, p.buyers,
	       (SELECT l.label FROM @extschema@.itemcf_labels l WHERE l.model_id OPERATOR(pg_catalog.=) m.model_id AND l.version OPERATOR(pg_catalog.=) m.current_version AND l.item_id OPERATOR(pg_catalog.=) p.item_id) AS label
	FROM @extschema@.itemcf_models m
	JOIN @extschema@.itemcf_popular p ON p.model_id = m.model_id AND p.version = m.current_version;
COMMENT ON VIEW @extschema@.itemcf_popular_items IS
	'the most bought items of every model''s current version, by model name, rank 1 first';

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

-- Managing and rebuilding are for roles granted them explicitly
REVOKE ALL ON FUNCTION @extschema@.itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.itemcf_drop_model(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.itemcf_rebuild(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_rebuild(text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.itemcf_reassign_models(oid, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_reassign_models(oid, regrole, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_mark_owner(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_rebuild_one(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_build_query(@extschema@.itemcf_models, integer, integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_check_source(text, oid, name, name, name, name, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_owned_model(text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_drop_model(text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._itemcf_ensure_default() FROM PUBLIC;

COMMENT ON FUNCTION @extschema@._itemcf_check_source(text, oid, name, name, name, name, regrole) IS 'internal: check a model''s source, columns and privileges';
COMMENT ON FUNCTION @extschema@._itemcf_check_index(oid, name) IS 'internal: warn when the source has no index on the user column';
COMMENT ON FUNCTION @extschema@._itemcf_ensure_default() IS 'internal: create the model named default on first use';
COMMENT ON FUNCTION @extschema@._itemcf_owned_model(text, regrole) IS 'internal: the model row, if the calling role owns it';
COMMENT ON FUNCTION @extschema@._itemcf_register_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, regclass, name, name, regrole) IS 'internal: itemcf_register_model() as the extension owner, for the calling role';
COMMENT ON FUNCTION @extschema@._itemcf_alter_model(text, regclass, name, name, name, name, text, integer, integer, real, real, text, interval, integer, text, text[], text, regclass, name, name, regrole) IS 'internal: itemcf_alter_model() as the extension owner, for the calling role';
COMMENT ON FUNCTION @extschema@._itemcf_drop_model(text, regrole) IS 'internal: itemcf_drop_model() as the extension owner, for the calling role';
COMMENT ON FUNCTION @extschema@._itemcf_build_query(@extschema@.itemcf_models, integer, integer, timestamptz) IS 'internal: the aggregate query of one shard of a model';
COMMENT ON FUNCTION @extschema@._itemcf_rebuild_one(integer) IS 'internal: build one model in a subtransaction and record the run';
COMMENT ON FUNCTION @extschema@._itemcf_mark_owner(regrole) IS 'internal: grant a model owner SELECT on itemcf_owned_models (so DROP ROLE fails while it owns models), revoke it when it owns none';
COMMENT ON FUNCTION @extschema@._itemcf_visible_error(text, text, text, oid, regrole) IS 'internal: a failed run''s error in full for roles that can read the model''s source, else only its SQLSTATE';
