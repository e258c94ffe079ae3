/*
 * svec_agg.c — the svec_agg(index, value) aggregate.
 *
 * The state is a flat array of (index, double value) pairs in the aggregate
 * context.  Rows are appended and only sorted (by index, then value) and
 * summed at the end, so the result does not depend on row order or plan.
 * Past SVEC_AGG_COMPACT_AT pairs the array is compacted (duplicates summed
 * early) to bound memory by the number of distinct indices; only such huge
 * groups may then see the last bits of a sum depend on row order.
 * Serialisation writes the compacted pairs; combine concatenates.  The final
 * function rounds each sum to real once.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/float.h"

#include "svec.h"

#define SVEC_AGG_SERIAL_VERSION 1
#define SVEC_AGG_INITIAL_CAP 64
#define SVEC_AGG_COMPACT_AT (16 * 1024 * 1024)

typedef struct AggPair
{
	int64		index;
	double		value;
} AggPair;

typedef struct SVecAggState
{
	int64		n;				/* pairs in use */
	int64		cap;			/* pairs allocated */
	AggPair    *pairs;
} SVecAggState;

/* Serialised state: header, then n raw AggPairs (same machine, so native byte order) */
typedef struct SVecAggSerial
{
	int32		vl_len_;
	int32		version;
	int64		n;
	AggPair		pairs[FLEXIBLE_ARRAY_MEMBER];
} SVecAggSerial;

/* Order pairs by index, then value, so sums do not depend on arrival order */
static int
ComparePairs(const void *a, const void *b)
{
	const AggPair *x = (const AggPair *) a;
	const AggPair *y = (const AggPair *) b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return 0;
}

/* Create an empty state in the aggregate context */
static SVecAggState *
CreateState(MemoryContext aggcontext, int64 cap)
{
	SVecAggState *state = MemoryContextAlloc(aggcontext, sizeof(SVecAggState));

	state->n = 0;
	state->cap = Max(cap, SVEC_AGG_INITIAL_CAP);
	state->pairs = MemoryContextAllocHuge(aggcontext, state->cap * sizeof(AggPair));
	return state;
}

/* Sort the pairs and sum duplicates in place; enforce the entry limit */
static void
CompactState(SVecAggState *state)
{
	int64		i;
	int64		out = 0;

	if (state->n <= 1)
		return;
	qsort(state->pairs, state->n, sizeof(AggPair), ComparePairs);
	for (i = 1; i < state->n; i++)
	{
		if (state->pairs[i].index == state->pairs[out].index)
			state->pairs[out].value += state->pairs[i].value;
		else
			state->pairs[++out] = state->pairs[i];
	}
	state->n = out + 1;
	if (state->n > SVEC_MAX_NNZ)
		SVecTooManyError(psprintf("svec_agg saw more than %d distinct indices.", SVEC_MAX_NNZ));
}

/* Make room for extra more pairs, compacting before growing */
static void
ReserveState(SVecAggState *state, int64 extra)
{
	if (state->n + extra <= state->cap)
		return;
	if (state->cap >= SVEC_AGG_COMPACT_AT)
		CompactState(state);
	if (state->n + extra > state->cap / 2)
	{
		int64		newcap = Max(state->cap * 2, state->n + extra);

		state->pairs = repalloc_huge(state->pairs, newcap * sizeof(AggPair));
		state->cap = newcap;
	}
}

/* The aggregate context, or an error if called outside an aggregate */
static MemoryContext
GetAggContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcontext;
}

PG_FUNCTION_INFO_V1(svec_agg_transfn);
/* Add one (index, value) row; rows with a NULL index or value are skipped */
Datum
svec_agg_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = GetAggContext(fcinfo, "svec_agg_transfn");
	SVecAggState *state = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);
	float4		value;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	value = PG_GETARG_FLOAT4(2);
	if (isnan(value) || isinf(value))
		SVecBadValueError(isnan(value),
						  psprintf("svec_agg got it for index " INT64_FORMAT ".", PG_GETARG_INT64(1)));

	if (state == NULL)
		state = CreateState(aggcontext, SVEC_AGG_INITIAL_CAP);
	ReserveState(state, 1);
	state->pairs[state->n].index = PG_GETARG_INT64(1);
	state->pairs[state->n].value = value;
	state->n++;
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(svec_agg_combinefn);
/* Merge two partial states */
Datum
svec_agg_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = GetAggContext(fcinfo, "svec_agg_combinefn");
	SVecAggState *s1 = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);
	SVecAggState *s2 = PG_ARGISNULL(1) ? NULL : (SVecAggState *) PG_GETARG_POINTER(1);

	if (s2 == NULL || s2->n == 0)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		s1 = CreateState(aggcontext, s2->n);
	ReserveState(s1, s2->n);
	memcpy(s1->pairs + s1->n, s2->pairs, s2->n * sizeof(AggPair));
	s1->n += s2->n;
	PG_RETURN_POINTER(s1);
}

PG_FUNCTION_INFO_V1(svec_agg_serialfn);
/* Flatten a state into bytea for a parallel worker to send */
Datum
svec_agg_serialfn(PG_FUNCTION_ARGS)
{
	SVecAggState *state = (SVecAggState *) PG_GETARG_POINTER(0);
	SVecAggSerial *out;
	Size		size;

	CompactState(state);
	size = offsetof(SVecAggSerial, pairs) + state->n * sizeof(AggPair);
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	out->version = SVEC_AGG_SERIAL_VERSION;
	out->n = state->n;
	memcpy(out->pairs, state->pairs, state->n * sizeof(AggPair));
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(svec_agg_deserialfn);
/* Rebuild a state from svec_agg_serialfn's bytea, checking its layout */
Datum
svec_agg_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = GetAggContext(fcinfo, "svec_agg_deserialfn");
	SVecAggSerial *in = (SVecAggSerial *) PG_GETARG_BYTEA_P(0);
	Size		size = VARSIZE(in);
	SVecAggState *state;

	if (size < offsetof(SVecAggSerial, pairs) ||
		in->version != SVEC_AGG_SERIAL_VERSION ||
		in->n < 0 || in->n > SVEC_MAX_NNZ ||
		size != offsetof(SVecAggSerial, pairs) + in->n * sizeof(AggPair))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid svec_agg state"),
				 errdetail("The serialized state has %zu bytes and does not match its header.",
						   (size_t) size)));

	state = CreateState(aggcontext, in->n);
	memcpy(state->pairs, in->pairs, in->n * sizeof(AggPair));
	state->n = in->n;
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(svec_agg_finalfn);
/* Sum duplicates and round to real; NULL when no row had a non-NULL index and value */
Datum
svec_agg_finalfn(PG_FUNCTION_ARGS)
{
	SVecAggState *state = PG_ARGISNULL(0) ? NULL : (SVecAggState *) PG_GETARG_POINTER(0);
	SVec	   *result;
	float	   *values;
	int64		i;
	int			kept = 0;
	int64		first = 0;
	int64		last = 0;

	if (state == NULL)
		PG_RETURN_NULL();
	CompactState(state);

	for (i = 0; i < state->n; i++)
		if ((float) state->pairs[i].value != 0.0f)
		{
			if (kept++ == 0)
				first = state->pairs[i].index;
			last = state->pairs[i].index;
		}
	result = SVecInit(kept, first, last);
	values = SVEC_VALUES(result);
	kept = 0;
	for (i = 0; i < state->n; i++)
	{
		float		v = (float) state->pairs[i].value;

		if (unlikely(isinf(v)))
			float_overflow_error();
		if (v != 0.0f)
		{
			SVecSetIndex(result, kept, state->pairs[i].index);
			values[kept++] = v;
		}
	}
	SVecFinish(result);
	PG_RETURN_SVEC_P(result);
}
