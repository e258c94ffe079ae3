/*
 * svec.c — the svec type: I/O, constructors, accessors, arithmetic and
 * similarity functions.
 *
 * Parsing and decoding live in svec_parse.c and the merge kernels in
 * svec_math.c (both plain C); this file is the PostgreSQL glue around them:
 * it allocates, detoasts and turns parse results into ereport() calls.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "common/shortest_dec.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"

#include "svec.h"
#include "svec_math.h"

/* Check an svec's format version and flags */
static inline SVec *
CheckSVec(SVec *v)
{
	if (unlikely(v->version != SVEC_VERSION || (v->flags & ~SVEC_FLAG_INDEX32) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("unsupported svec format version %d", v->version),
				 errhint("The value was written by a newer or incompatible version of itemcf.")));
	return v;
}

/* Detoast an svec argument and check its format version */
SVec *
DatumGetSVecChecked(Datum d)
{
	return CheckSVec((SVec *) PG_DETOAST_DATUM(d));
}

/* An aligned stack buffer for small svec arguments */
typedef union SVecBuf
{
	double		align;
	char		data[256];
} SVecBuf;

/*
 * Get svec argument n for a read-only use within this call.  Values under
 * 127 bytes are stored with a 1-byte header, unaligned, so detoasting copies
 * them into palloc'd memory; copy them into the caller's stack buffer
 * instead, which makes the distance operators cheaper on small vectors.
 */
static inline SVec *
GetSVecArg(FunctionCallInfo fcinfo, int n, SVecBuf *buf)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(n));

	/* (an external TOAST pointer also has a 1-byte header: leave it to detoasting) */
	if (VARATT_IS_SHORT(p) && !VARATT_IS_EXTERNAL(p))
	{
		Size		len = VARSIZE_SHORT(p) - VARHDRSZ_SHORT;

		if (len + VARHDRSZ <= sizeof(buf->data))
		{
			SET_VARSIZE(buf->data, len + VARHDRSZ);
			memcpy(buf->data + VARHDRSZ, VARDATA_SHORT(p), len);
			return CheckSVec((SVec *) buf->data);
		}
	}
	return DatumGetSVecChecked(PG_GETARG_DATUM(n));
}

/* Allocate a zeroed svec for nnz entries whose sorted indices run from first to last */
SVec *
SVecInit(int nnz, int64 first, int64 last)
{
	bool		compact = nnz == 0 || SVEC_FITS32(first, last);
	Size		size = SVEC_SIZE(nnz, compact);
	SVec	   *v = (SVec *) palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	SET_VARSIZE(v, size);
	v->version = SVEC_VERSION;
	v->flags = compact ? SVEC_FLAG_INDEX32 : 0;
	v->nnz = nnz;
	return v;
}

/* The indices as int64, expanded into a new array for compact vectors */
int64 *
SVecIndices64(const SVec *v)
{
	int64	   *out;
	int			i;

	if (!SVEC_IS32(v))
		return (int64 *) SVEC_IDX64(v);
	out = palloc_extended(Max(v->nnz, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	for (i = 0; i < v->nnz; i++)
		out[i] = SVEC_IDX32(v)[i];
	return out;
}

/* Compute the cached sum of squares once indices and values are filled in */
void
SVecFinish(SVec *v)
{
	v->norm2 = svec_norm2(SVEC_VALUES(v), v->nnz);
}

/* Build an svec from normalised entries (ascending, unique, non-zero) */
SVec *
SVecFromEntries(const SVecEntry *entries, int n)
{
	SVec	   *v = SVecInit(n, n > 0 ? entries[0].index : 0, n > 0 ? entries[n - 1].index : 0);
	float	   *values = SVEC_VALUES(v);
	int			i;

	for (i = 0; i < n; i++)
	{
		SVecSetIndex(v, i, entries[i].index);
		values[i] = entries[i].value;
	}
	SVecFinish(v);
	return v;
}

/* Raise "svec cannot have more than SVEC_MAX_NNZ entries", with an optional detail */
void
SVecTooManyError(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("svec cannot have more than %d entries", SVEC_MAX_NNZ),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Raise the error of a NaN or infinite value svec cannot store, the same from
 * every input path (text, arrays, binary, functions): NaN is 22000 as in
 * pgvector, infinity 22003 as any value beyond real's range
 */
void
SVecBadValueError(bool nan, const char *detail)
{
	ereport(ERROR,
			(errcode(nan ? ERRCODE_DATA_EXCEPTION : ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s not allowed in svec", nan ? "NaN" : "infinite value"),
			 errdetail("%s", detail)));
}

/* Raise the error of an index given twice (errcode code) */
static void
DuplicateError(int code, int64 index)
{
	ereport(ERROR,
			(errcode(code),
			 errmsg("svec indices must not contain duplicates"),
			 errdetail("Index " INT64_FORMAT " appears more than once.", index)));
}

/* Character position (1-based) of byte offset pos in str */
static int
CharPosition(const char *str, size_t pos)
{
	return pg_mbstrlen_with_len(str, (int) pos) + 1;
}

/* Raise the error a failed text parse describes */
static void
ReportTextError(const char *str, const SVecParseResult *res)
{
	const char *tok = str + res->pos;
	int			toklen = (int) res->toklen;

	switch (res->status)
	{
		case SVEC_ERR_SYNTAX:
			if (*tok == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid input syntax for type svec: \"%s\"", str),
						 errdetail("Unexpected end of input, expected %s.", res->expected)));
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type svec: \"%s\"", str),
					 errdetail("Unexpected \"%.*s\" at position %d, expected %s.",
							   pg_mblen(tok), tok, CharPosition(str, res->pos),
							   res->expected)));
			break;
		case SVEC_ERR_INDEX_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index \"%.*s\" is out of range for type bigint", toklen, tok),
					 errdetail("Found at position %d.", CharPosition(str, res->pos))));
			break;
		case SVEC_ERR_BAD_DIMS:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec dimensions \"%.*s\" are out of range", toklen, tok),
					 errdetail("Dimensions must be between 1 and 9223372036854775807.")));
			break;
		case SVEC_ERR_DIMS_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("svec index " INT64_FORMAT " is outside dimensions " INT64_FORMAT,
							(int64) res->index, (int64) res->dims),
					 errdetail("With a \"/dims\" suffix, indices must be between 1 and dims.")));
			break;
		case SVEC_ERR_VALUE_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%.*s\" is out of range for type real", toklen, tok),
					 errdetail("Found at position %d.", CharPosition(str, res->pos))));
			break;
		case SVEC_ERR_NAN:
		case SVEC_ERR_INF:
			SVecBadValueError(res->status == SVEC_ERR_NAN,
							  psprintf("Found \"%.*s\" at position %d.", toklen, tok,
									   CharPosition(str, res->pos)));
			break;
		case SVEC_ERR_DUPLICATE:
			DuplicateError(ERRCODE_INVALID_TEXT_REPRESENTATION, (int64) res->index);
			break;
		case SVEC_ERR_TOO_MANY:
			SVecTooManyError(NULL);
			break;
		case SVEC_OK:
			break;
	}
}

/* Raise the error a failed binary decode describes */
static void
ReportBinaryError(const SVecParseResult *res, size_t len)
{
	switch (res->status)
	{
		case SVEC_ERR_NAN:
		case SVEC_ERR_INF:
			SVecBadValueError(res->status == SVEC_ERR_NAN,
							  psprintf("Found at index " INT64_FORMAT ".", (int64) res->index));
			break;
		case SVEC_ERR_DUPLICATE:
			DuplicateError(ERRCODE_INVALID_BINARY_REPRESENTATION, (int64) res->index);
			break;
		case SVEC_ERR_TOO_MANY:
			SVecTooManyError(NULL);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid binary representation of svec"),
					 errdetail("Expected %s; got %zu bytes.",
							   res->expected ? res->expected : "a valid value", len)));
	}
}

PG_FUNCTION_INFO_V1(svec_in);
/* Convert text "{i:v,...}" (or pgvector's "{i:v,...}/dims") to an svec */
Datum
svec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		cap = Min(svec_text_max_entries(str), (size_t) SVEC_MAX_NNZ);
	SVecEntry  *entries = palloc_extended(Max(cap, 1) * sizeof(SVecEntry), MCXT_ALLOC_HUGE);
	SVecParseResult res;

	if (svec_parse_text(str, entries, cap, &res) != SVEC_OK)
		ReportTextError(str, &res);
	PG_RETURN_SVEC_P(SVecFromEntries(entries, res.nnz));
}

PG_FUNCTION_INFO_V1(svec_out);
/* Convert an svec to canonical text: ascending indices, shortest round-trip floats */
Datum
svec_out(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	float	   *values = SVEC_VALUES(v);
	char	   *buf;
	char	   *p;
	int			i;

	/* "{}" + per entry: 20 (index) + ":" + FLOAT_SHORTEST_DECIMAL_LEN + "," */
	buf = palloc_extended(3 + (Size) v->nnz * (22 + FLOAT_SHORTEST_DECIMAL_LEN),
						  MCXT_ALLOC_HUGE);
	p = buf;
	*p++ = '{';
	for (i = 0; i < v->nnz; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += pg_lltoa(SVecIndex(v, i), p);
		*p++ = ':';
		p += float_to_shortest_decimal_bufn(values[i], p);
	}
	*p++ = '}';
	*p = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(svec_recv);
/* Convert the binary wire format to an svec, validating like svec_in */
Datum
svec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = (size_t) (buf->len - buf->cursor);
	size_t		cap = len >= SVEC_WIRE_HEADER ? (len - SVEC_WIRE_HEADER) / SVEC_WIRE_ENTRY : 0;
	SVecEntry  *entries;
	SVecParseResult res;

	cap = Min(cap, (size_t) SVEC_MAX_NNZ);
	entries = palloc_extended(Max(cap, 1) * sizeof(SVecEntry), MCXT_ALLOC_HUGE);
	if (svec_decode_binary(data, len, entries, cap, &res) != SVEC_OK)
		ReportBinaryError(&res, len);
	buf->cursor = buf->len;
	PG_RETURN_SVEC_P(SVecFromEntries(entries, res.nnz));
}

PG_FUNCTION_INFO_V1(svec_send);
/* Convert an svec to the binary wire format */
Datum
svec_send(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	Size		len = SVEC_WIRE_HEADER + (Size) v->nnz * SVEC_WIRE_ENTRY;
	bytea	   *result = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);

	SET_VARSIZE(result, VARHDRSZ + len);
	svec_encode_binary(SVecIndices64(v), SVEC_VALUES(v), v->nnz, (unsigned char *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

/* Deconstruct a one-dimensional array without NULLs */
static void
GetArrayElements(ArrayType *a, Oid elemtype, const char *name, Datum **elems, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool	   *nulls;
	int			i;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s array must be one-dimensional", name)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, elems, &nulls, n);
	for (i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s array must not contain nulls", name),
					 errdetail("Element %d is null.", i + 1)));
}

PG_FUNCTION_INFO_V1(svec_from_arrays);
/* Build an svec from parallel arrays of indices and values */
Datum
svec_from_arrays(PG_FUNCTION_ARGS)
{
	ArrayType  *ia = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *va = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *ielems;
	Datum	   *velems;
	int			ni;
	int			nv;
	int			i;
	SVecEntry  *entries;
	SVecParseResult res;

	GetArrayElements(ia, INT8OID, "index", &ielems, &ni);
	GetArrayElements(va, FLOAT4OID, "value", &velems, &nv);
	if (ni != nv)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("index and value arrays must have the same length"),
				 errdetail("There are %d indices and %d values.", ni, nv)));
	if (ni > SVEC_MAX_NNZ)
		SVecTooManyError(NULL);

	entries = palloc_extended(Max(ni, 1) * sizeof(SVecEntry), MCXT_ALLOC_HUGE);
	for (i = 0; i < ni; i++)
	{
		entries[i].index = DatumGetInt64(ielems[i]);
		entries[i].value = DatumGetFloat4(velems[i]);
		if (isnan(entries[i].value) || isinf(entries[i].value))
			SVecBadValueError(isnan(entries[i].value),
							  psprintf("Found at array position %d.", i + 1));
	}
	if (svec_normalize_entries(entries, ni, &res) != SVEC_OK)
		DuplicateError(ERRCODE_INVALID_PARAMETER_VALUE, (int64) res.index);
	PG_RETURN_SVEC_P(SVecFromEntries(entries, res.nnz));
}

PG_FUNCTION_INFO_V1(svec_each);
/* Expand an svec into (index, value) rows in ascending index order */
Datum
svec_each(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	float	   *values = SVEC_VALUES(v);
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < v->nnz; i++)
	{
		Datum		row[2];
		bool		nulls[2] = {false, false};

		row[0] = Int64GetDatum(SVecIndex(v, i));
		row[1] = Float4GetDatum(values[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(svec_indices);
/* Get the indices as bigint[] */
Datum
svec_indices(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	Datum	   *elems = palloc_extended(Max(v->nnz, 1) * sizeof(Datum), MCXT_ALLOC_HUGE);
	int			i;

	for (i = 0; i < v->nnz; i++)
		elems[i] = Int64GetDatum(SVecIndex(v, i));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, v->nnz, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(svec_values);
/* Get the values as real[] */
Datum
svec_values(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	float	   *values = SVEC_VALUES(v);
	Datum	   *elems = palloc_extended(Max(v->nnz, 1) * sizeof(Datum), MCXT_ALLOC_HUGE);
	int			i;

	for (i = 0; i < v->nnz; i++)
		elems[i] = Float4GetDatum(values[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, v->nnz, FLOAT4OID, sizeof(float4),
										  true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(svec_nnz);
/* Get the number of stored (non-zero) entries */
Datum
svec_nnz(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);

	PG_RETURN_INT32(v->nnz);
}

PG_FUNCTION_INFO_V1(svec_l2_norm);
/* Get the Euclidean norm */
Datum
svec_l2_norm(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(v->norm2));
}

/* Copy v's entries into a new svec, keeping only non-zero values */
static SVec *
SVecCompact(const int64 *indices, const float *values, int n)
{
	int			kept = 0;
	int			i;
	int64		first = 0;
	int64		last = 0;
	SVec	   *result;
	float	   *rv;

	for (i = 0; i < n; i++)
		if (values[i] != 0.0f)
		{
			if (kept++ == 0)
				first = indices[i];
			last = indices[i];
		}
	result = SVecInit(kept, first, last);
	rv = SVEC_VALUES(result);
	for (i = 0, kept = 0; i < n; i++)
		if (values[i] != 0.0f)
		{
			SVecSetIndex(result, kept, indices[i]);
			rv[kept++] = values[i];
		}
	SVecFinish(result);
	return result;
}

PG_FUNCTION_INFO_V1(svec_normalize);
/* Scale to unit Euclidean norm (the empty vector stays empty) */
Datum
svec_normalize(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	float	   *values = SVEC_VALUES(v);
	float	   *scaled = palloc_extended(Max(v->nnz, 1) * sizeof(float), MCXT_ALLOC_HUGE);
	double		norm = sqrt(v->norm2);
	int			i;

	for (i = 0; i < v->nnz; i++)
		scaled[i] = (float) (values[i] / norm);
	PG_RETURN_SVEC_P(SVecCompact(SVecIndices64(v), scaled, v->nnz));
}

/* A candidate of svec_top: value, then position (ascending position = ascending index) */
typedef struct TopItem
{
	float		value;
	int			pos;
} TopItem;

/* Order by value descending, then by index ascending */
static int
CompareTopItems(const void *a, const void *b)
{
	const TopItem *x = (const TopItem *) a;
	const TopItem *y = (const TopItem *) b;

	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return x->pos - y->pos;
}

/* Ascending int comparator */
static int
CompareInts(const void *a, const void *b)
{
	return *(const int *) a - *(const int *) b;
}

PG_FUNCTION_INFO_V1(svec_top);
/* Keep the k entries with the largest values (ties: smaller index first) */
Datum
svec_top(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	int32		k = PG_GETARG_INT32(1);
	float	   *values = SVEC_VALUES(v);
	TopItem    *items;
	int		   *keep;
	SVec	   *result;
	float	   *rv;
	int			i;

	if (k < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must not be negative"),
				 errdetail("k is %d.", k)));
	if (k >= v->nnz)
		PG_RETURN_SVEC_P(SVecCompact(SVecIndices64(v), values, v->nnz));

	items = palloc_extended(Max(v->nnz, 1) * sizeof(TopItem), MCXT_ALLOC_HUGE);
	for (i = 0; i < v->nnz; i++)
	{
		items[i].value = values[i];
		items[i].pos = i;
	}
	qsort(items, v->nnz, sizeof(TopItem), CompareTopItems);

	keep = palloc(Max(k, 1) * sizeof(int));
	for (i = 0; i < k; i++)
		keep[i] = items[i].pos;
	qsort(keep, k, sizeof(int), CompareInts);

	result = SVecInit(k, k > 0 ? SVecIndex(v, keep[0]) : 0, k > 0 ? SVecIndex(v, keep[k - 1]) : 0);
	rv = SVEC_VALUES(result);
	for (i = 0; i < k; i++)
	{
		SVecSetIndex(result, i, SVecIndex(v, keep[i]));
		rv[i] = values[keep[i]];
	}
	SVecFinish(result);
	PG_RETURN_SVEC_P(result);
}

PG_FUNCTION_INFO_V1(svec_add);
/* Add two svecs entry by entry; entries that cancel out are dropped */
Datum
svec_add(PG_FUNCTION_ARGS)
{
	SVec	   *a = PG_GETARG_SVEC_P(0);
	SVec	   *b = PG_GETARG_SVEC_P(1);
	float	   *av = SVEC_VALUES(a);
	float	   *bv = SVEC_VALUES(b);
	int64	   *ai = SVecIndices64(a);
	int64	   *bi = SVecIndices64(b);
	int			cap = a->nnz + b->nnz;
	int64	   *ri = palloc_extended(Max(cap, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	float	   *rv = palloc_extended(Max(cap, 1) * sizeof(float), MCXT_ALLOC_HUGE);
	int			i = 0;
	int			j = 0;
	int			n = 0;

	while (i < a->nnz || j < b->nnz)
	{
		if (j >= b->nnz || (i < a->nnz && ai[i] < bi[j]))
		{
			ri[n] = ai[i];
			rv[n++] = av[i++];
		}
		else if (i >= a->nnz || bi[j] < ai[i])
		{
			ri[n] = bi[j];
			rv[n++] = bv[j++];
		}
		else
		{
			float		sum = av[i] + bv[j];

			if (unlikely(isinf(sum)))
				float_overflow_error();
			ri[n] = ai[i];
			rv[n++] = sum;
			i++;
			j++;
		}
	}
	if (n > SVEC_MAX_NNZ)
		SVecTooManyError(NULL);
	PG_RETURN_SVEC_P(SVecCompact(ri, rv, n));
}

PG_FUNCTION_INFO_V1(svec_mul);
/* Multiply every value by a real, with real's overflow and underflow checks */
Datum
svec_mul(PG_FUNCTION_ARGS)
{
	SVec	   *v = PG_GETARG_SVEC_P(0);
	float4		s = PG_GETARG_FLOAT4(1);
	float	   *values = SVEC_VALUES(v);
	float	   *scaled;
	int			i;

	if (isnan(s) || isinf(s))
		SVecBadValueError(isnan(s), "The multiplier must be finite.");
	scaled = palloc_extended(Max(v->nnz, 1) * sizeof(float), MCXT_ALLOC_HUGE);
	for (i = 0; i < v->nnz; i++)
	{
		float		r = values[i] * s;

		if (unlikely(isinf(r)))
			float_overflow_error();
		if (unlikely(r == 0.0f && s != 0.0f))
			float_underflow_error();
		scaled[i] = r;
	}
	PG_RETURN_SVEC_P(SVecCompact(SVecIndices64(v), scaled, v->nnz));
}

/* Are a and b the same vector? */
static bool
SVecEquals(const SVec *a, const SVec *b)
{
	/* the format is canonical: equal vectors have equal bytes */
	return a->nnz == b->nnz && a->flags == b->flags &&
		memcmp(a->data, b->data, SVEC_SIZE(a->nnz, SVEC_IS32(a)) - offsetof(SVec, data)) == 0;
}

PG_FUNCTION_INFO_V1(svec_eq);
/* Equality: same indices with the same values */
Datum
svec_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SVecEquals(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)));
}

PG_FUNCTION_INFO_V1(svec_ne);
/* Inequality */
Datum
svec_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!SVecEquals(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)));
}

/* Inner product of two svecs (compact ones by the int32 kernels) */
static double
SVecDot(const SVec *a, const SVec *b)
{
	if (SVEC_IS32(a) && SVEC_IS32(b))
		return svec_dot_32(SVEC_IDX32(a), SVEC_VALUES(a), a->nnz,
						   SVEC_IDX32(b), SVEC_VALUES(b), b->nnz);
	return svec_dot(SVecIndices64(a), SVEC_VALUES(a), a->nnz,
					SVecIndices64(b), SVEC_VALUES(b), b->nnz);
}

/* Cosine from the inner product and the squared norms (both non-zero), clamped to [-1, 1] */
static inline double
CosineOf(double dot, double norm2a, double norm2b)
{
	/* one square root of the product: exactly 1 for a vector with itself */
	double		sim = dot / sqrt(norm2a * norm2b);

	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return sim;
}

/* Cosine similarity, 0 when either vector is empty, clamped to [-1, 1] */
static double
SVecCosine(const SVec *a, const SVec *b)
{
	if (a->norm2 == 0.0 || b->norm2 == 0.0)
		return 0.0;
	return CosineOf(SVecDot(a, b), a->norm2, b->norm2);
}

/*
 * A compact svec read in place.  Values under 127 bytes (about 13 entries)
 * are stored with a 1-byte header, unaligned; rather than copy them, the
 * distance functions read their header with memcpy and their entries through
 * the unaligned-access kernels (svec_dot_32u).
 */
typedef struct SVecView
{
	int32		nnz;
	double		norm2;
	const svec_int32u *idx;
	const svec_floatu *val;
} SVecView;

/* Set up a view of argument d if it is a short compact svec of this format version */
static inline bool
ShortView(Datum d, SVecView *v)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	const char *b;

	if (!VARATT_IS_SHORT(p) || VARATT_IS_EXTERNAL(p))
		return false;
	/* the payload starts where SVec.version is (offset VARHDRSZ in the aligned form) */
	b = VARDATA_SHORT(p) - VARHDRSZ;
	if (((const uint8 *) b)[offsetof(SVec, version)] != SVEC_VERSION ||
		((const uint8 *) b)[offsetof(SVec, flags)] != SVEC_FLAG_INDEX32)
		return false;			/* int64 indices, or a format error the usual path raises */
	memcpy(&v->nnz, b + offsetof(SVec, nnz), sizeof(int32));
	memcpy(&v->norm2, b + offsetof(SVec, norm2), sizeof(double));
	v->idx = (const svec_int32u *) (b + offsetof(SVec, data));
	v->val = (const svec_floatu *) (b + offsetof(SVec, data) + (Size) v->nnz * sizeof(int32));
	return true;
}

/* Inner product of arguments 0 and 1 */
static double
DotArgs(FunctionCallInfo fcinfo)
{
	SVecView	a;
	SVecView	b;
	SVecBuf		ba;
	SVecBuf		bb;

	if (ShortView(PG_GETARG_DATUM(0), &a) && ShortView(PG_GETARG_DATUM(1), &b))
		return svec_dot_32u(a.idx, a.val, a.nnz, b.idx, b.val, b.nnz);
	return SVecDot(GetSVecArg(fcinfo, 0, &ba), GetSVecArg(fcinfo, 1, &bb));
}

/* Cosine similarity of arguments 0 and 1 */
static double
CosineArgs(FunctionCallInfo fcinfo)
{
	SVecView	a;
	SVecView	b;
	SVecBuf		ba;
	SVecBuf		bb;

	if (ShortView(PG_GETARG_DATUM(0), &a) && ShortView(PG_GETARG_DATUM(1), &b))
	{
		if (a.norm2 == 0.0 || b.norm2 == 0.0)
			return 0.0;
		return CosineOf(svec_dot_32u(a.idx, a.val, a.nnz, b.idx, b.val, b.nnz), a.norm2, b.norm2);
	}
	return SVecCosine(GetSVecArg(fcinfo, 0, &ba), GetSVecArg(fcinfo, 1, &bb));
}

PG_FUNCTION_INFO_V1(svec_cosine_similarity);
/* Get the cosine similarity (0 if either vector is empty) */
Datum
svec_cosine_similarity(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(CosineArgs(fcinfo));
}

PG_FUNCTION_INFO_V1(svec_cosine_distance);
/* Get the cosine distance, 1 - cosine similarity (1 if either vector is empty) */
Datum
svec_cosine_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(1.0 - CosineArgs(fcinfo));
}

PG_FUNCTION_INFO_V1(svec_inner_product);
/* Get the inner product */
Datum
svec_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(DotArgs(fcinfo));
}

PG_FUNCTION_INFO_V1(svec_negative_inner_product);
/* Get the negative inner product (the <#> operator, as in pgvector) */
Datum
svec_negative_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-DotArgs(fcinfo));
}

PG_FUNCTION_INFO_V1(svec_l2_distance);
/* Get the Euclidean distance */
Datum
svec_l2_distance(PG_FUNCTION_ARGS)
{
	SVecBuf		ba;
	SVecBuf		bb;
	SVec	   *a = GetSVecArg(fcinfo, 0, &ba);
	SVec	   *b = GetSVecArg(fcinfo, 1, &bb);

	if (SVEC_IS32(a) && SVEC_IS32(b))
		PG_RETURN_FLOAT8(sqrt(svec_l2_squared_32(SVEC_IDX32(a), SVEC_VALUES(a), a->nnz,
												 SVEC_IDX32(b), SVEC_VALUES(b), b->nnz)));
	PG_RETURN_FLOAT8(sqrt(svec_l2_squared(SVecIndices64(a), SVEC_VALUES(a), a->nnz,
										  SVecIndices64(b), SVEC_VALUES(b), b->nnz)));
}

PG_FUNCTION_INFO_V1(svec_jaccard_similarity);
/* Get the Jaccard similarity of the index sets (0 if both are empty) */
Datum
svec_jaccard_similarity(PG_FUNCTION_ARGS)
{
	SVecBuf		ba;
	SVecBuf		bb;
	SVec	   *a = GetSVecArg(fcinfo, 0, &ba);
	SVec	   *b = GetSVecArg(fcinfo, 1, &bb);
	int			common;

	if (a->nnz == 0 && b->nnz == 0)
		PG_RETURN_FLOAT8(0.0);
	if (SVEC_IS32(a) && SVEC_IS32(b))
		common = svec_intersection_size_32(SVEC_IDX32(a), a->nnz, SVEC_IDX32(b), b->nnz);
	else
		common = svec_intersection_size(SVecIndices64(a), a->nnz, SVecIndices64(b), b->nnz);
	PG_RETURN_FLOAT8((double) common / ((double) a->nnz + b->nnz - common));
}
