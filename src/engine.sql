-- itemcf install script, part 2: the similarity aggregate and its result.

-- item_neighbors_agg(user_id, item_id, weight [, purchased_at] [, options jsonb])
-- collects purchase rows; its result (a compact bytea) holds every item's top-k
-- neighbours and is expanded by item_neighbors(result).

CREATE FUNCTION @extschema@.item_neighbors_transfn(internal, bigint, bigint, real)
	RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.item_neighbors_transfn_opts(internal, bigint, bigint, real, jsonb)
	RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.item_neighbors_transfn_time(internal, bigint, bigint, real, timestamptz, jsonb)
	RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.item_neighbors_combinefn(internal, internal)
	RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.item_neighbors_serialfn(internal)
	RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.item_neighbors_deserialfn(bytea, internal)
	RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STABLE, not IMMUTABLE: the result depends on itemcf.build_memory and itemcf.max_result_size
CREATE FUNCTION @extschema@.item_neighbors_finalfn(internal)
	RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.item_neighbors_transfn(internal, bigint, bigint, real) IS 'item_neighbors_agg transition (default options)';
COMMENT ON FUNCTION @extschema@.item_neighbors_transfn_opts(internal, bigint, bigint, real, jsonb) IS 'item_neighbors_agg transition';
COMMENT ON FUNCTION @extschema@.item_neighbors_transfn_time(internal, bigint, bigint, real, timestamptz, jsonb) IS 'item_neighbors_agg transition with purchase times';
COMMENT ON FUNCTION @extschema@.item_neighbors_combinefn(internal, internal) IS 'item_neighbors_agg combine (parallel)';
COMMENT ON FUNCTION @extschema@.item_neighbors_serialfn(internal) IS 'item_neighbors_agg state serialization (parallel)';
COMMENT ON FUNCTION @extschema@.item_neighbors_deserialfn(bytea, internal) IS 'item_neighbors_agg state deserialization (parallel)';
COMMENT ON FUNCTION @extschema@.item_neighbors_finalfn(internal) IS 'item_neighbors_agg final: the similarity computation';

CREATE AGGREGATE @extschema@.item_neighbors_agg(user_id bigint, item_id bigint, weight real) (
	SFUNC = @extschema@.item_neighbors_transfn, STYPE = internal,
	COMBINEFUNC = @extschema@.item_neighbors_combinefn,
	SERIALFUNC = @extschema@.item_neighbors_serialfn,
	DESERIALFUNC = @extschema@.item_neighbors_deserialfn,
	FINALFUNC = @extschema@.item_neighbors_finalfn, FINALFUNC_MODIFY = READ_WRITE,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.item_neighbors_agg(user_id bigint, item_id bigint, weight real, options jsonb) (
	SFUNC = @extschema@.item_neighbors_transfn_opts, STYPE = internal,
	COMBINEFUNC = @extschema@.item_neighbors_combinefn,
	SERIALFUNC = @extschema@.item_neighbors_serialfn,
	DESERIALFUNC = @extschema@.item_neighbors_deserialfn,
	FINALFUNC = @extschema@.item_neighbors_finalfn, FINALFUNC_MODIFY = READ_WRITE,
	PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.item_neighbors_agg(user_id bigint, item_id bigint, weight real,
												purchased_at timestamptz, options jsonb) (
	SFUNC = @extschema@.item_neighbors_transfn_time, STYPE = internal,
	COMBINEFUNC = @extschema@.item_neighbors_combinefn,
	SERIALFUNC = @extschema@.item_neighbors_serialfn,
	DESERIALFUNC = @extschema@.item_neighbors_deserialfn,
	FINALFUNC = @extschema@.item_neighbors_finalfn, FINALFUNC_MODIFY = READ_WRITE,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE @extschema@.item_neighbors_agg(bigint, bigint, real) IS
	'top-50 cosine neighbours of every item from (user, item, weight) rows; expand with item_neighbors()';
COMMENT ON AGGREGATE @extschema@.item_neighbors_agg(bigint, bigint, real, jsonb) IS
	'top-k neighbours of every item; options: measure, alpha, weights, k, min_support, shrinkage, history_cap, shard_count, shard_index';
COMMENT ON AGGREGATE @extschema@.item_neighbors_agg(bigint, bigint, real, timestamptz, jsonb) IS
	'top-k neighbours of every item; the history cap keeps each user''s most recent purchases';

CREATE FUNCTION @extschema@.item_neighbors(result bytea, OUT item_id bigint, OUT neighbors @extschema@.svec)
	RETURNS SETOF record AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.item_neighbors(bytea) IS
	'expand an item_neighbors_agg result: each item with its neighbours as an svec (neighbour id -> score)';

CREATE FUNCTION @extschema@.item_buyers(result bytea, OUT item_id bigint, OUT buyers integer)
	RETURNS SETOF record AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.item_buyers(bytea) IS
	'distinct buyers of every item seen by an item_neighbors_agg build (after the history cap)';

CREATE FUNCTION @extschema@.item_neighbors_stats(result bytea) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.item_neighbors_stats(bytea) IS
	'what an item_neighbors_agg build did: rows, users, items, entries, partial states combined, seconds';

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
