-- itemcf install script, part 1: the svec sparse-vector type.
-- (The Makefile concatenates src/*.sql into itemcf--<version>.sql.)

\echo Use "CREATE EXTENSION itemcf" to load this file. \quit

-- Type and I/O

CREATE TYPE @extschema@.svec;

CREATE FUNCTION @extschema@.svec_in(cstring, oid, integer) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_out(@extschema@.svec) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_recv(internal, oid, integer) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_send(@extschema@.svec) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.svec (
	INPUT     = @extschema@.svec_in,
	OUTPUT    = @extschema@.svec_out,
	RECEIVE   = @extschema@.svec_recv,
	SEND      = @extschema@.svec_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE   = external
);

COMMENT ON FUNCTION @extschema@.svec_in(cstring, oid, integer) IS 'svec text input: {index:value,...} or {index:value,...}/dims';
COMMENT ON FUNCTION @extschema@.svec_out(@extschema@.svec) IS 'svec canonical text output';
COMMENT ON FUNCTION @extschema@.svec_recv(internal, oid, integer) IS 'svec binary input, validated like text input';
COMMENT ON FUNCTION @extschema@.svec_send(@extschema@.svec) IS 'svec binary output: int32 nnz, int64 indices, float4 values';

COMMENT ON TYPE @extschema@.svec IS
	'sparse vector of real values keyed by bigint indices, text form {index:value,...}';

-- Constructors and accessors

CREATE FUNCTION @extschema@.svec(bigint[], real[]) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME', 'svec_from_arrays' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec(bigint[], real[]) IS
	'build an svec from parallel arrays of indices and values (sorted; zeros dropped; duplicate indices rejected)';

CREATE FUNCTION @extschema@.svec_each(@extschema@.svec, OUT index bigint, OUT value real)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION @extschema@.svec_each(@extschema@.svec) IS
	'expand an svec into (index, value) rows in ascending index order';

CREATE FUNCTION @extschema@.svec_indices(@extschema@.svec) RETURNS bigint[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_indices(@extschema@.svec) IS
	'indices of the stored entries, ascending';

CREATE FUNCTION @extschema@.svec_values(@extschema@.svec) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_values(@extschema@.svec) IS
	'values of the stored entries, in ascending index order';

CREATE FUNCTION @extschema@.nnz(@extschema@.svec) RETURNS integer
	AS 'MODULE_PATHNAME', 'svec_nnz' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.nnz(@extschema@.svec) IS
	'number of stored (non-zero) entries';

CREATE FUNCTION @extschema@.l2_norm(@extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_l2_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.l2_norm(@extschema@.svec) IS
	'Euclidean norm';

CREATE FUNCTION @extschema@.svec_normalize(@extschema@.svec) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_normalize(@extschema@.svec) IS
	'scale to unit Euclidean norm; the empty vector stays empty';

CREATE FUNCTION @extschema@.svec_top(@extschema@.svec, integer) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_top(@extschema@.svec, integer) IS
	'keep the k entries with the largest values (ties: smaller index first)';

-- Arithmetic and equality

CREATE FUNCTION @extschema@.svec_add(@extschema@.svec, @extschema@.svec) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_add(@extschema@.svec, @extschema@.svec) IS
	'entry-wise sum; entries that cancel out are dropped';

CREATE FUNCTION @extschema@.svec_mul(@extschema@.svec, real) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_mul(@extschema@.svec, real) IS
	'multiply every value by a real';

CREATE FUNCTION @extschema@.svec_eq(@extschema@.svec, @extschema@.svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_eq(@extschema@.svec, @extschema@.svec) IS
	'same indices with the same values';

CREATE FUNCTION @extschema@.svec_ne(@extschema@.svec, @extschema@.svec) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.svec_ne(@extschema@.svec, @extschema@.svec) IS
	'not the same indices with the same values';

CREATE OPERATOR @extschema@.+ (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_add, COMMUTATOR = OPERATOR(@extschema@.+)
);

CREATE OPERATOR @extschema@.* (
	LEFTARG = @extschema@.svec, RIGHTARG = real,
	FUNCTION = @extschema@.svec_mul
);

CREATE OPERATOR @extschema@.= (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_eq,
	COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel
);

CREATE OPERATOR @extschema@.<> (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.svec_ne,
	COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);

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

-- Similarity and distance (pgvector's meanings)

CREATE FUNCTION @extschema@.cosine_similarity(@extschema@.svec, @extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_cosine_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cosine_similarity(@extschema@.svec, @extschema@.svec) IS
	'cosine similarity in [-1, 1]; 0 when either vector is empty';

CREATE FUNCTION @extschema@.cosine_distance(@extschema@.svec, @extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cosine_distance(@extschema@.svec, @extschema@.svec) IS
	'1 - cosine similarity (the <=> operator); 1 when either vector is empty';

CREATE FUNCTION @extschema@.inner_product(@extschema@.svec, @extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.inner_product(@extschema@.svec, @extschema@.svec) IS
	'inner (dot) product, accumulated in double precision';

CREATE FUNCTION @extschema@.negative_inner_product(@extschema@.svec, @extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.negative_inner_product(@extschema@.svec, @extschema@.svec) IS
	'minus the inner product (the <#> operator)';

CREATE FUNCTION @extschema@.l2_distance(@extschema@.svec, @extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.l2_distance(@extschema@.svec, @extschema@.svec) IS
	'Euclidean distance (the <-> operator)';

CREATE FUNCTION @extschema@.jaccard_similarity(@extschema@.svec, @extschema@.svec) RETURNS double precision
	AS 'MODULE_PATHNAME', 'svec_jaccard_similarity' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jaccard_similarity(@extschema@.svec, @extschema@.svec) IS
	'Jaccard similarity of the index sets, ignoring values; 0 when both are empty';

CREATE OPERATOR @extschema@.<=> (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.cosine_distance, COMMUTATOR = OPERATOR(@extschema@.<=>)
);

CREATE OPERATOR @extschema@.<#> (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.negative_inner_product, COMMUTATOR = OPERATOR(@extschema@.<#>)
);

CREATE OPERATOR @extschema@.<-> (
	LEFTARG = @extschema@.svec, RIGHTARG = @extschema@.svec,
	FUNCTION = @extschema@.l2_distance, COMMUTATOR = OPERATOR(@extschema@.<->)
);

-- svec_agg(index, value): build an svec from rows; duplicate indices are summed

CREATE FUNCTION @extschema@.svec_agg_transfn(internal, bigint, real) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_agg_combinefn(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_agg_serialfn(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_agg_deserialfn(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.svec_agg_finalfn(internal) RETURNS @extschema@.svec
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.svec_agg_transfn(internal, bigint, real) IS 'svec_agg transition';
COMMENT ON FUNCTION @extschema@.svec_agg_combinefn(internal, internal) IS 'svec_agg combine (parallel)';
COMMENT ON FUNCTION @extschema@.svec_agg_serialfn(internal) IS 'svec_agg state serialization (parallel)';
COMMENT ON FUNCTION @extschema@.svec_agg_deserialfn(bytea, internal) IS 'svec_agg state deserialization (parallel)';
COMMENT ON FUNCTION @extschema@.svec_agg_finalfn(internal) IS 'svec_agg final: sums rounded to real';

CREATE AGGREGATE @extschema@.svec_agg(bigint, real) (
	SFUNC        = @extschema@.svec_agg_transfn,
	STYPE        = internal,
	COMBINEFUNC  = @extschema@.svec_agg_combinefn,
	SERIALFUNC   = @extschema@.svec_agg_serialfn,
	DESERIALFUNC = @extschema@.svec_agg_deserialfn,
	FINALFUNC    = @extschema@.svec_agg_finalfn,
	PARALLEL     = SAFE
);
COMMENT ON AGGREGATE @extschema@.svec_agg(bigint, real) IS
	'build an svec from (index, value) rows; values of the same index are summed in double precision; NULL rows are skipped';
