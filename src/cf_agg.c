/*
 * cf_agg.c — item_neighbors_agg(user, item, weight [, time], options): the
 * parallel aggregate that turns purchase rows into each item's top-k
 * neighbours, and item_neighbors(result) that expands its value.
 *
 * Transition: users and items get state-local dense ids (so a row costs 8
 * bytes, plus 4 for a summed weight and 8 for a time) and rows are appended
 * to fixed-size chunks (no reallocation peaks).  Ids are mapped through a
 * plain array while they are small non-negative numbers, as serial keys are
 * (one cached load per row), and through a hash table otherwise; the array
 * also yields the ids in ascending order for free at the final step.
 * Serial/deserial: a flat, versioned bytea of the id dictionaries and rows.
 * Combine: remap the second state's rows into the first's ids, in place, and
 * take its chunks over.
 * Final: the kernel (cf_model.c, cf_score.c) renumbers ids in ascending order, merges
 * and caps histories, then computes top-k lists on OpenMP threads (heavy items
 * first), stopping to handle interrupts when one is pending; the result is written straight
 * into the output value and compacted in place.
 *
 * Every allocation of the final step goes through BudgetAlloc, which fails
 * with an ERROR before allocating when itemcf.build_memory would be exceeded.
 */
#include "postgres.h"

#include <math.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "cf_kernel.h"
#include "cf_result.h"
#include "itemcf.h"
#include "svec.h"

#define CF_CHUNK_ROWS (64 * 1024)
#define CF_STAGE_ROWS 256

/* int64 -> int32 hash map (simplehash) for state-local dense ids */
typedef struct IdEntry
{
	int64		key;
	int32		value;
	char		status;
} IdEntry;

#define SH_PREFIX idmap
#define SH_ELEMENT_TYPE IdEntry
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) itemcf_hash_int64(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * External id -> state-local id.  Ids in [0, ndirect) go through direct[]
 * (-1: not seen), the others through the hash table; the two never overlap.
 */
typedef struct IdMap
{
	idmap_hash *hash;
	int32	   *direct;
	int64		ndirect;
	int64	   *ids;			/* local id -> external id */
	int32		n;
	int32		cap;
	const char *what;			/* "users" or "items", for errors */
} IdMap;

/* A chunk of rows with state-local ids */
typedef struct CfChunk
{
	int64		n;
	int64		cap;
	int32	   *user;
	int32	   *item;
	float	   *weight;			/* NULL when binary */
	int64	   *time;			/* NULL without purchase times */
} CfChunk;

typedef struct CfAggState
{
	MemoryContext ctx;			/* everything below lives here */
	CfParams	params;			/* parsed options; threads is 0 until the final step */
	bool		has_time;
	int32		partials;		/* non-empty partial states merged into this one */
	int64		rows_null_id;	/* rows skipped, by reason */
	int64		rows_bad_weight;
	int64		rows_outside_window;
	TimestampTz since;			/* "since" option, DT_NOBEGIN if none */
	TimestampTz started;		/* first row (earliest over partial states) */
	IdMap		users;
	IdMap		items;
	CfChunk   **chunks;
	int			nchunks;
	int			cap_chunks;
	int64		n_rows;
	Size		bytes;			/* memory accounted to this state */
	/* rows not yet mapped: mapped in batches, so that the id lookups overlap */
	int			nstage;
	int64		stage_user[CF_STAGE_ROWS];
	int64		stage_item[CF_STAGE_ROWS];
	float		stage_weight[CF_STAGE_ROWS];
	int64		stage_time[CF_STAGE_ROWS];
} CfAggState;

/* Raise the error for a build that would not fit in itemcf.build_memory */
static void
MemoryExceeded(Size need, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("itemcf build needs more memory than itemcf.build_memory allows"),
			 itemcf_build_memory > itemcf_max_build_memory ?
			 errdetail("The %s needs %zu MB; itemcf.build_memory is %d MB, capped by itemcf.max_build_memory at %d MB.",
					   what, need / (1024 * 1024) + 1, itemcf_build_memory, itemcf_max_build_memory) :
			 errdetail("The %s needs %zu MB; itemcf.build_memory is %d MB.",
					   what, need / (1024 * 1024) + 1, itemcf_build_memory),
			 errhint("Raise itemcf.build_memory, lower the history cap, or build from fewer rows.")));
}

/* Account for size more bytes in the state, failing before allocating if over budget */
static void
ChargeState(CfAggState *st, Size size)
{
	Size		limit = (Size) itemcf_build_memory_mb() * 1024 * 1024;

	if (st->bytes + size > limit)
		MemoryExceeded(st->bytes + size, "aggregate state");
	st->bytes += size;
}

/* Text for a message: s itself, or its first 40 characters and "..." when longer */
static char *
ShortText(const char *s, int len)
{
	if (len <= 40)
		return pnstrdup(s, len);
	return psprintf("%s...", pnstrdup(s, pg_mbcliplen(s, len, 40)));
}

/* A numeric option's value for a message: as given when short, else its first 20 characters and its length */
static char *
ShortNumeric(Numeric num)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	size_t		len = strlen(text);

	return len <= 24 ? text : psprintf("%.20s... (%zu characters)", text, len);
}

/* Is num within [min, max]?  Compared as numerics: num may be far outside double's range */
static bool
NumericInRange(Numeric num, Numeric min, Numeric max)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), NumericGetDatum(min))) >= 0 &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), NumericGetDatum(max))) <= 0;
}

/* Read an integer option, checking its range (the value in the message is bounded) */
static int
IntOption(const char *key, JsonbValue *v, int min, int max)
{
	Numeric		num;
	Datum		trunc;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	num = v->val.numeric;
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		!NumericInRange(num, int64_to_numeric(min), int64_to_numeric(max)) ||
		(trunc = DirectFunctionCall2(numeric_trunc, NumericGetDatum(num), Int32GetDatum(0)),
		 DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), trunc)) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be an integer between %d and %d", key, min, max),
				 errdetail("The value given is %s.", ShortNumeric(num))));
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(num)));
}

/* Read a real option, checking its range (the value in the message is bounded) */
static double
RealOption(const char *key, JsonbValue *v, double min, double max)
{
	Numeric		num;
	char	   *text;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	num = v->val.numeric;
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		!NumericInRange(num,
						DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(min))),
						DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(max)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be between %g and %g", key, min, max),
				 errdetail("The value given is %s.", ShortNumeric(num))));
	/* in range, so finite: the nearest double (numeric_float8 would reject 1e-400) */
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	return strtod(text, NULL);
}

/* Read a string option */
static char *
StringOption(const char *key, JsonbValue *v)
{
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Parse the options object into params (defaults for absent keys) */
static void
ParseOptions(Jsonb *jb, CfParams *p, TimestampTz *since)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	bool		alpha_set = false;
	bool		asymmetric = false;	/* measure given literally as asymmetric_cosine */

	memset(p, 0, sizeof(*p));
	p->measure = CF_COSINE;
	p->alpha = 0.5;
	p->binary = 1;
	p->k = 50;
	p->min_support = 1;
	p->shrinkage = 0.0;
	p->history_cap = 500;
	p->shard_count = 1;
	p->shard_index = 0;
	*since = DT_NOBEGIN;

	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item_neighbors_agg options must be a JSON object"),
				 errhint("For example '{\"k\": 20, \"measure\": \"jaccard\"}'.")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (v.val.string.len > 40)
				key = ShortText(v.val.string.val, v.val.string.len);	/* unknown anyway */
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		if (strcmp(key, "measure") == 0)
		{
			char	   *m = StringOption(key, &v);

			if (strcmp(m, "cosine") == 0)
				p->measure = CF_COSINE;
			else if (strcmp(m, "jaccard") == 0)
				p->measure = CF_JACCARD;
			else if (strcmp(m, "asymmetric_cosine") == 0)
			{
				p->measure = CF_ASYMMETRIC_COSINE;
				asymmetric = true;
			}
			else if (strcmp(m, "conditional_probability") == 0)
				p->measure = CF_ASYMMETRIC_COSINE;	/* alpha = 1, below */
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown measure \"%s\"", ShortText(m, strlen(m))),
						 errhint("Use cosine, jaccard, asymmetric_cosine or conditional_probability.")));
		}
		else if (strcmp(key, "alpha") == 0)
		{
			p->alpha = RealOption(key, &v, 0.0, 1.0);
			alpha_set = true;
		}
		else if (strcmp(key, "weights") == 0)
		{
			char	   *w = StringOption(key, &v);

			if (strcmp(w, "binary") == 0)
				p->binary = 1;
			else if (strcmp(w, "sum") == 0)
				p->binary = 0;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown weights \"%s\"", ShortText(w, strlen(w))),
						 errhint("Use binary (a repeat purchase counts once) or sum.")));
		}
		else if (strcmp(key, "k") == 0)
			p->k = IntOption(key, &v, 1, CF_MAX_K);
		else if (strcmp(key, "min_support") == 0)
			p->min_support = IntOption(key, &v, 1, INT_MAX);
		else if (strcmp(key, "shrinkage") == 0)
			p->shrinkage = RealOption(key, &v, 0.0, 1e9);
		else if (strcmp(key, "history_cap") == 0)
			p->history_cap = IntOption(key, &v, 0, INT_MAX);
		else if (strcmp(key, "since") == 0)
		{
			char	   *t = StringOption(key, &v);

			/* timestamptz_in's errors quote the whole input: keep that short */
			if (strlen(t) > 100)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
						 errmsg("option \"since\" must be a timestamp"),
						 errdetail("The value given is \"%s\" (%zu bytes).", ShortText(t, strlen(t)), strlen(t))));
			*since = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
															 CStringGetDatum(t),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)));
		}
		else if (strcmp(key, "shard_count") == 0)
			p->shard_count = IntOption(key, &v, 1, CF_MAX_SHARDS);
		else if (strcmp(key, "shard_index") == 0)
			p->shard_index = IntOption(key, &v, 0, CF_MAX_SHARDS - 1);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown item_neighbors_agg option \"%s\"", key),
					 errhint("Valid options are measure, alpha, weights, k, min_support, shrinkage, history_cap, since, shard_count and shard_index.")));
	}
	if (p->shard_index >= p->shard_count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard_index must be less than shard_count")));
	/* keys come sorted ("alpha" before "measure"), so check after the loop */
	if (alpha_set && !asymmetric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"alpha\" applies only to measure asymmetric_cosine")));
	if (p->measure == CF_ASYMMETRIC_COSINE && !asymmetric)
		p->alpha = 1.0;			/* conditional_probability */
}

/* Start an empty id map */
static void
InitIdMap(IdMap *m, MemoryContext ctx, const char *what)
{
	m->hash = idmap_create(ctx, 256, NULL);
	m->direct = NULL;
	m->ndirect = 0;
	m->cap = 1024;
	m->n = 0;
	m->ids = MemoryContextAlloc(ctx, m->cap * sizeof(int64));
	m->what = what;
}

/* Create an empty state in its own child context of parent */
static CfAggState *
CreateState(MemoryContext parent, const CfParams *params, TimestampTz since, bool has_time)
{
	MemoryContext ctx = AllocSetContextCreate(parent, "item_neighbors_agg state",
											  ALLOCSET_DEFAULT_SIZES);
	CfAggState *st = MemoryContextAllocZero(ctx, sizeof(CfAggState));

	st->ctx = ctx;
	st->params = *params;
	st->has_time = has_time;
	st->since = since;
	st->partials = 1;
	st->started = GetCurrentTimestamp();
	InitIdMap(&st->users, ctx, "users");
	InitIdMap(&st->items, ctx, "items");
	st->cap_chunks = 16;
	st->chunks = MemoryContextAlloc(ctx, st->cap_chunks * sizeof(CfChunk *));
	st->bytes = 64 * 1024;
	return st;
}

/* Bytes per row in a chunk */
static inline Size
RowBytes(const CfAggState *st)
{
	return 8 + (st->params.binary ? 0 : 4) + (st->has_time ? 8 : 0);
}

/* Add a chunk to the state's list */
static void
PushChunk(CfAggState *st, CfChunk *ch)
{
	if (st->nchunks == st->cap_chunks)
	{
		st->cap_chunks *= 2;
		st->chunks = repalloc(st->chunks, st->cap_chunks * sizeof(CfChunk *));
	}
	st->chunks[st->nchunks++] = ch;
}

/* Append a chunk with room for cap rows */
static CfChunk *
AddChunk(CfAggState *st, int64 cap)
{
	CfChunk    *ch;
	char	   *p;

	ChargeState(st, cap * RowBytes(st) + sizeof(CfChunk));
	ch = MemoryContextAlloc(st->ctx, sizeof(CfChunk));
	p = MemoryContextAllocHuge(st->ctx, Max(cap, 1) * RowBytes(st));
	ch->n = 0;
	ch->cap = cap;
	ch->time = st->has_time ? (int64 *) p : NULL;
	p += st->has_time ? cap * 8 : 0;
	ch->user = (int32 *) p;
	ch->item = (int32 *) (p + cap * 4);
	ch->weight = st->params.binary ? NULL : (float *) (p + cap * 8);
	PushChunk(st, ch);
	return ch;
}

/* Record a new external id and return its local id */
static int32
AddId(CfAggState *st, IdMap *m, int64 id)
{
	if (m->n == m->cap)
	{
		if (m->cap >= INT32_MAX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("item_neighbors_agg supports at most %d distinct %s", INT32_MAX / 2, m->what)));
		ChargeState(st, (Size) m->cap * 8);
		m->ids = repalloc_huge(m->ids, (Size) m->cap * 2 * sizeof(int64));
		m->cap *= 2;
	}
	m->ids[m->n] = id;
	return m->n++;
}

/*
 * Widen the direct range to cover id, moving the hashed ids it now covers
 * into it (out of the hash table), so that an id is only ever in one of the
 * two maps.  It stays at most 8 slots per id seen (plus a floor), so memory
 * is bounded.
 */
static bool
GrowDirect(CfAggState *st, IdMap *m, int64 id)
{
	int64		n;
	idmap_iterator it;
	IdEntry    *e;

	if (id < 0 || id >= 8 * ((int64) m->n + 65536))
		return false;
	for (n = Max(m->ndirect, 1024); n <= id; n *= 2)
		;
	ChargeState(st, (Size) (n - m->ndirect) * sizeof(int32));
	m->direct = m->direct ? repalloc_huge(m->direct, (Size) n * sizeof(int32)) :
		MemoryContextAllocHuge(st->ctx, (Size) n * sizeof(int32));
	memset(m->direct + m->ndirect, 0xff, (Size) (n - m->ndirect) * sizeof(int32));
	idmap_start_iterate(m->hash, &it);
	while ((e = idmap_iterate(m->hash, &it)) != NULL)
		if (e->key >= m->ndirect && e->key < n)
		{
			m->direct[e->key] = e->value;
			idmap_delete_item(m->hash, e);	/* allowed while iterating */
		}
	m->ndirect = n;
	return true;
}

/* Local id of an id outside the direct range, adding it if new */
static pg_noinline int32
MapIdSlow(CfAggState *st, IdMap *m, int64 id)
{
	IdEntry    *e;
	bool		found;

	if (GrowDirect(st, m, id))
	{
		/* the id may have been hashed before: then it was just moved over */
		int32		v = m->direct[id];

		return v >= 0 ? v : (m->direct[id] = AddId(st, m, id));
	}
	if (m->hash->members >= m->hash->grow_threshold)
		ChargeState(st, (Size) m->hash->size * sizeof(IdEntry));
	e = idmap_insert(m->hash, id, &found);
	if (!found)
		e->value = AddId(st, m, id);
	return e->value;
}

/* State-local id of an external id, adding it if new */
static inline int32
MapId(CfAggState *st, IdMap *m, int64 id)
{
	if ((uint64) id < (uint64) m->ndirect)
	{
		int32		v = m->direct[id];

		return v >= 0 ? v : (m->direct[id] = AddId(st, m, id));
	}
	return MapIdSlow(st, m, id);
}

/*
 * Ids by ascending value (sorted) and each local id's position in that order
 * (rank): hashed ids are sorted, the direct range is already in order.
 */
static void
RankIds(IdMap *m, int64 *sorted, int32 *rank, CfAllocFn alloc, void *arg)
{
	int32		nh = 0;
	int32		nneg = 0;
	int32		ndir = 0;
	int32		i;
	int64	   *hid;
	int32	   *hpos;
	int64	   *hsorted;
	int32	   *hrank;

	for (i = 0; i < m->n; i++)
		nh += (uint64) m->ids[i] >= (uint64) m->ndirect;
	hid = alloc(arg, (Size) Max(nh, 1) * sizeof(int64));
	hpos = alloc(arg, (Size) Max(nh, 1) * sizeof(int32));
	hsorted = alloc(arg, (Size) Max(nh, 1) * sizeof(int64));
	hrank = alloc(arg, (Size) Max(nh, 1) * sizeof(int32));
	nh = 0;
	for (i = 0; i < m->n; i++)
		if ((uint64) m->ids[i] >= (uint64) m->ndirect)
		{
			hid[nh] = m->ids[i];
			hpos[nh++] = i;
		}
	cf_rank_ids(hid, nh, hsorted, hrank, alloc, arg);
	while (nneg < nh && hsorted[nneg] < 0)
		nneg++;
	memcpy(sorted, hsorted, (Size) nneg * sizeof(int64));
	for (int64 id = 0; id < m->ndirect; id++)
		if (m->direct[id] >= 0)
		{
			sorted[nneg + ndir] = id;
			rank[m->direct[id]] = nneg + ndir++;
		}
	memcpy(sorted + nneg + ndir, hsorted + nneg, (Size) (nh - nneg) * sizeof(int64));
	for (i = 0; i < nh; i++)
		rank[hpos[i]] = hrank[i] < nneg ? hrank[i] : hrank[i] + ndir;
}

/* Append one row with state-local ids */
static inline void
AppendRow(CfAggState *st, int32 u, int32 i, float w, int64 t)
{
	CfChunk    *ch = st->nchunks > 0 ? st->chunks[st->nchunks - 1] : NULL;

	if (ch == NULL || ch->n == ch->cap)
		ch = AddChunk(st, CF_CHUNK_ROWS);
	ch->user[ch->n] = u;
	ch->item[ch->n] = i;
	if (ch->weight)
		ch->weight[ch->n] = w;
	if (ch->time)
		ch->time[ch->n] = t;
	ch->n++;
	st->n_rows++;
}

/* Prefetch the array slot of an id, if it has one */
static inline void
PrefetchId(const IdMap *m, int64 id)
{
	if ((uint64) id < (uint64) m->ndirect)
		__builtin_prefetch(&m->direct[id]);
}

/*
 * Map and append the staged rows.  Ids arrive in random order, so most
 * lookups miss the cache; prefetching a whole batch first lets the misses
 * overlap instead of stalling one row at a time.
 */
static void
FlushStage(CfAggState *st)
{
	int			i;

	for (i = 0; i < st->nstage; i++)
	{
		PrefetchId(&st->users, st->stage_user[i]);
		PrefetchId(&st->items, st->stage_item[i]);
	}
	for (i = 0; i < st->nstage; i++)
		AppendRow(st, MapId(st, &st->users, st->stage_user[i]),
				  MapId(st, &st->items, st->stage_item[i]),
				  st->stage_weight[i], st->stage_time[i]);
	st->nstage = 0;
}

/* Is the options argument (1-based aggregate input optarg) a constant or parameter? */
static bool
OptionsAreConstant(FunctionCallInfo fcinfo, int optarg)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	TargetEntry *tle;
	Node	   *expr;

	if (aggref == NULL || list_length(aggref->args) < optarg)
		return false;
	tle = (TargetEntry *) list_nth(aggref->args, optarg - 1);
	expr = (Node *) tle->expr;
	while (IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	return IsA(expr, Const) || (IsA(expr, Param) && ((Param *) expr)->paramkind == PARAM_EXTERN);
}

/* Shared transition: (state, user, item, weight [, time] [, options]) */
static Datum
Transition(FunctionCallInfo fcinfo, bool with_time, int optarg)
{
	MemoryContext aggctx;
	CfAggState *st;
	float4		w = 1.0f;
	int64		t = 0;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "item_neighbors_agg called in non-aggregate context");

	st = PG_ARGISNULL(0) ? NULL : (CfAggState *) PG_GETARG_POINTER(0);
	if (st == NULL)
	{
		CfParams	params;
		TimestampTz since;

		if (optarg > 0)
		{
			if (PG_ARGISNULL(optarg))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("item_neighbors_agg options must not be NULL"),
						 errhint("Pass '{}' for the defaults.")));
			if (!OptionsAreConstant(fcinfo, optarg))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("item_neighbors_agg options must be a constant"),
						 errdetail("The options must be the same for every row of the query.")));
			ParseOptions(PG_GETARG_JSONB_P(optarg), &params, &since);
		}
		else
			ParseOptions(NULL, &params, &since);
		if (since != DT_NOBEGIN && !with_time)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"since\" needs the purchase time argument")));
		st = CreateState(aggctx, &params, since, with_time);
	}

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		st->rows_null_id++;
		PG_RETURN_POINTER(st);
	}
	w = PG_ARGISNULL(3) ? 0.0f : PG_GETARG_FLOAT4(3);
	if (!(w > 0.0f) || isinf(w))
	{
		/* NULL, zero, negative, NaN or infinite */
		st->rows_bad_weight++;
		PG_RETURN_POINTER(st);
	}
	if (with_time)
	{
		t = PG_ARGISNULL(4) ? DT_NOBEGIN : PG_GETARG_TIMESTAMPTZ(4);
		if (t < st->since)
		{
			st->rows_outside_window++;
			PG_RETURN_POINTER(st);
		}
	}

	if (st->nstage == CF_STAGE_ROWS)
		FlushStage(st);
	st->stage_user[st->nstage] = PG_GETARG_INT64(1);
	st->stage_item[st->nstage] = PG_GETARG_INT64(2);
	st->stage_weight[st->nstage] = w;
	st->stage_time[st->nstage++] = t;
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(item_neighbors_transfn);
/* Transition with default options */
Datum
item_neighbors_transfn(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, false, -1);
}

PG_FUNCTION_INFO_V1(item_neighbors_transfn_opts);
/* Transition with options */
Datum
item_neighbors_transfn_opts(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, false, 4);
}

PG_FUNCTION_INFO_V1(item_neighbors_transfn_time);
/* Transition with purchase times and options */
Datum
item_neighbors_transfn_time(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, true, 5);
}

/* Append src's rows to dst, remapping ids; src's chunks move into dst */
static void
MergeInto(CfAggState *dst, CfAggState *src)
{
	int32	   *umap = palloc(Max(src->users.n, 1) * sizeof(int32));
	int32	   *imap = palloc(Max(src->items.n, 1) * sizeof(int32));
	int			c;
	int32		i;

	if (memcmp(&dst->params, &src->params, sizeof(CfParams)) != 0 ||
		dst->has_time != src->has_time || dst->since != src->since)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item_neighbors_agg options must be the same for every row")));

	FlushStage(src);			/* its rows must be in its chunks, mapped */
	for (i = 0; i < src->users.n; i++)
		umap[i] = MapId(dst, &dst->users, src->users.ids[i]);
	for (i = 0; i < src->items.n; i++)
		imap[i] = MapId(dst, &dst->items, src->items.ids[i]);

	/* Remap src's rows in place and take its chunks over (src is consumed) */
	ChargeState(dst, src->bytes);
	for (c = 0; c < src->nchunks; c++)
	{
		CfChunk    *ch = src->chunks[c];
		int64		r;

		for (r = 0; r < ch->n; r++)
		{
			ch->user[r] = umap[ch->user[r]];
			ch->item[r] = imap[ch->item[r]];
		}
		PushChunk(dst, ch);
	}
	src->nchunks = 0;
	MemoryContextSetParent(src->ctx, dst->ctx);
	dst->n_rows += src->n_rows;
	dst->rows_null_id += src->rows_null_id;
	dst->rows_bad_weight += src->rows_bad_weight;
	dst->rows_outside_window += src->rows_outside_window;
	dst->partials += src->partials;
	if (src->started < dst->started)
		dst->started = src->started;
	pfree(umap);
	pfree(imap);
}

PG_FUNCTION_INFO_V1(item_neighbors_combinefn);
/* Merge two partial states */
Datum
item_neighbors_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	CfAggState *s1 = PG_ARGISNULL(0) ? NULL : (CfAggState *) PG_GETARG_POINTER(0);
	CfAggState *s2 = PG_ARGISNULL(1) ? NULL : (CfAggState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "item_neighbors_combinefn called in non-aggregate context");
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		/* adopt the second state: move its context under the aggregate's */
		MemoryContextSetParent(s2->ctx, aggctx);
		PG_RETURN_POINTER(s2);
	}
	CHECK_FOR_INTERRUPTS();
	MergeInto(s1, s2);
	PG_RETURN_POINTER(s1);
}

PG_FUNCTION_INFO_V1(item_neighbors_serialfn);
/* Flatten a state: header, user ids, item ids, then times, users, items, weights */
Datum
item_neighbors_serialfn(PG_FUNCTION_ARGS)
{
	CfAggState *st = (CfAggState *) PG_GETARG_POINTER(0);
	Size		size;
	CfStateSerial *out;
	char	   *p;
	int64		n;
	int			c;

	FlushStage(st);				/* logically the same state: the staged rows move into chunks */
	n = st->n_rows;
	size = sizeof(CfStateSerial) + (Size) st->users.n * 8 + (Size) st->items.n * 8 +
		(Size) n * RowBytes(st);
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("item_neighbors_agg partial state exceeds 1 GB"),
				 errdetail("A parallel worker collected " INT64_FORMAT " rows.", n),
				 errhint("Use more parallel workers (max_parallel_workers_per_gather) or build from fewer rows.")));
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	out->version = CF_STATE_VERSION;
	out->params = st->params;
	out->has_time = st->has_time;
	out->partials = st->partials;
	out->n_users = st->users.n;
	out->n_items = st->items.n;
	out->n_rows = n;
	out->rows_null_id = st->rows_null_id;
	out->rows_bad_weight = st->rows_bad_weight;
	out->rows_outside_window = st->rows_outside_window;
	out->since = st->since;
	out->started = st->started;
	p = (char *) (out + 1);
	memcpy(p, st->users.ids, st->users.n * 8);
	p += st->users.n * 8;
	memcpy(p, st->items.ids, st->items.n * 8);
	p += st->items.n * 8;
	{
		Size		toff = 0;
		Size		uoff = (Size) n * (st->has_time ? 8 : 0);
		Size		ioff = uoff + (Size) n * 4;
		Size		woff = ioff + (Size) n * 4;
		int64		before = 0;

		for (c = 0; c < st->nchunks; c++)
		{
			CfChunk    *ch = st->chunks[c];

			if (ch->time)
				memcpy(p + toff + before * 8, ch->time, ch->n * 8);
			memcpy(p + uoff + before * 4, ch->user, ch->n * 4);
			memcpy(p + ioff + before * 4, ch->item, ch->n * 4);
			if (ch->weight)
				memcpy(p + woff + before * 4, ch->weight, ch->n * 4);
			before += ch->n;
		}
	}
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(item_neighbors_deserialfn);
/* Rebuild a state from item_neighbors_serialfn's bytea, checking it */
Datum
item_neighbors_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	bytea	   *in = PG_GETARG_BYTEA_P(0);
	CfStateSerial *hdr = (CfStateSerial *) in;
	Size		size = VARSIZE(in);
	const char *detail;
	CfAggState *st;
	CfChunk    *ch;
	const char *p;
	int64		n;
	int32		i;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "item_neighbors_deserialfn called in non-aggregate context");
	if ((uintptr_t) in % 8 != 0)
	{
		/* the checks and the copies below read int64s in place */
		bytea	   *copy = palloc(size);

		memcpy(copy, in, size);
		in = copy;
		hdr = (CfStateSerial *) in;
	}
	detail = cf_state_check(in, size);
	if (detail != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid item_neighbors_agg state"),
				 errdetail("%s", detail)));

	st = CreateState(aggctx, &hdr->params, hdr->since, hdr->has_time != 0);
	st->partials = hdr->partials;
	st->rows_null_id = hdr->rows_null_id;
	st->rows_bad_weight = hdr->rows_bad_weight;
	st->rows_outside_window = hdr->rows_outside_window;
	st->started = hdr->started;
	n = hdr->n_rows;
	p = (const char *) (hdr + 1);
	for (i = 0; i < hdr->n_users; i++)
		if (MapId(st, &st->users, ((const int64 *) p)[i]) != i)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid item_neighbors_agg state"),
					 errdetail("A user id is listed twice.")));
	p += (Size) hdr->n_users * 8;
	for (i = 0; i < hdr->n_items; i++)
		if (MapId(st, &st->items, ((const int64 *) p)[i]) != i)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid item_neighbors_agg state"),
					 errdetail("An item id is listed twice.")));
	p += (Size) hdr->n_items * 8;

	ch = AddChunk(st, n);
	if (ch->time)
	{
		memcpy(ch->time, p, n * 8);
		p += n * 8;
	}
	memcpy(ch->user, p, n * 4);
	memcpy(ch->item, p + n * 4, n * 4);
	if (ch->weight)
		memcpy(ch->weight, p + n * 8, n * 4);
	/* cf_state_check saw every row refer to a listed user and item */
	ch->n = n;
	st->n_rows = n;
	PG_RETURN_POINTER(st);
}

/* Allocation budget of the final step */
typedef struct Budget
{
	MemoryContext ctx;
	Size		used;
	Size		peak;
	Size		limit;
} Budget;

/* CfAllocFn: allocate in the build context, failing first if over budget */
static void *
BudgetAlloc(void *arg, size_t size)
{
	Budget	   *b = (Budget *) arg;

	if (b->used + size > b->limit)
		MemoryExceeded(b->used + size, "similarity build");
	b->used += size;
	b->peak = Max(b->peak, b->used);
	return MemoryContextAllocExtended(b->ctx, Max(size, 1), MCXT_ALLOC_HUGE);
}

/*
 * Number of threads to compute on (itemcf.threads, capped by itemcf.max_threads),
 * with the team started: a thread that cannot be created is an ERROR here, never
 * an exit() inside libgomp later
 */
static int
BuildThreads(void)
{
	int			n = itemcf_build_threads();
	int			got;
	int			err = cf_threads_start(n, &got);

	if (err > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start %d threads for the similarity build", n),
				 errdetail("Creating a thread failed: %s.", strerror(err)),
				 errhint("Lower itemcf.threads or itemcf.max_threads, or raise the process limit (RLIMIT_NPROC) of the server's OS user.")));
	if (err < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start %d threads for the similarity build", n),
				 errdetail("OpenMP ran %d threads.", got),
				 errhint("Lower itemcf.threads or itemcf.max_threads, or raise OMP_THREAD_LIMIT in the server's environment.")));
	return n;
}

/* Does item id belong to the shard? */
static inline bool
InShard(int64 id, const CfParams *p)
{
	int64		m = id % p->shard_count;

	return (m < 0 ? m + p->shard_count : m) == p->shard_index;
}

PG_FUNCTION_INFO_V1(item_neighbors_finalfn);
/* Compute every item's top-k neighbours from the collected rows */
Datum
item_neighbors_finalfn(PG_FUNCTION_ARGS)
{
	CfAggState *st = PG_ARGISNULL(0) ? NULL : (CfAggState *) PG_GETARG_POINTER(0);
	TimestampTz t0 = GetCurrentTimestamp();
	CfParams	params;
	Budget		budget;
	int64	   *user_sorted;
	int32	   *user_rank;
	int64	   *item_sorted;
	int32	   *item_rank;
	CfRows	   *rows;
	CfModel		m;
	int32	   *out_pos;
	int32		n_out = 0;
	CfResult   *res;
	Size		alloc_size;
	Size		final_size;
	int32	   *count;
	int32	   *nbr;
	float	   *score_slots;
	float	   *score;
	int64		n_entries = 0;
	int64		updates = 0;
	int32	   *order;
	int32		norder = 0;
	int			c;
	int32		i;
	int32		n_users;
	int32		n_items;
	static const volatile sig_atomic_t never = 0;

	if (st == NULL)
		PG_RETURN_NULL();
	FlushStage(st);
	n_users = st->users.n;
	n_items = st->items.n;

	params = st->params;
	params.threads = BuildThreads();

	/*
	 * Every shard's result holds the whole item dictionary: when that alone
	 * does not fit, more item shards cannot help, so fail before computing,
	 * with a message itemcf_rebuild() does not retry on
	 */
	{
		Size		limit = CfResultLimit();
		Size		dict = CF_RESULT_SIZE(n_items, 0, 0);

		if (dict > limit)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("item dictionary of item_neighbors_agg does not fit in itemcf.max_result_size"),
					 errdetail("Every item shard's result holds all %d item ids with their buyer counts: %zu kB; itemcf.max_result_size is %d kB.",
							   n_items, dict / 1024 + 1, itemcf_max_result_size),
					 errhint("Raise itemcf.max_result_size (at most 1 GB) or build from fewer items; more item shards do not help.")));
	}

	budget.ctx = AllocSetContextCreate(CurrentMemoryContext, "item_neighbors_agg build",
									   ALLOCSET_DEFAULT_SIZES);
	budget.used = st->bytes;
	budget.peak = st->bytes;
	budget.limit = (Size) itemcf_build_memory_mb() * 1024 * 1024;

	/* Fail before allocating anything if the known part already does not fit */
	{
		Size		need = st->bytes +
			cf_model_bytes(&params, st->n_rows, n_users, n_items,
						   !params.binary, st->has_time) +
			cf_score_bytes(&params, st->n_rows, n_items, !params.binary);

		if (need > budget.limit)
			MemoryExceeded(need, "similarity build");
	}

	/* Ranks by ascending external id */
	user_sorted = BudgetAlloc(&budget, Max(n_users, 1) * sizeof(int64));
	user_rank = BudgetAlloc(&budget, Max(n_users, 1) * sizeof(int32));
	RankIds(&st->users, user_sorted, user_rank, BudgetAlloc, &budget);
	item_sorted = BudgetAlloc(&budget, Max(n_items, 1) * sizeof(int64));
	item_rank = BudgetAlloc(&budget, Max(n_items, 1) * sizeof(int32));
	RankIds(&st->items, item_sorted, item_rank, BudgetAlloc, &budget);
	CHECK_FOR_INTERRUPTS();

	rows = BudgetAlloc(&budget, Max(st->nchunks, 1) * sizeof(CfRows));
	for (c = 0; c < st->nchunks; c++)
	{
		rows[c].n = st->chunks[c]->n;
		rows[c].user = st->chunks[c]->user;
		rows[c].item = st->chunks[c]->item;
		rows[c].weight = st->chunks[c]->weight;
		rows[c].time = st->chunks[c]->time;
	}
	{
		CfInput		input = {rows, st->nchunks, st->n_rows, n_users, user_rank, user_sorted,
		n_items, item_rank, item_sorted};

		cf_build(&m, &params, &input, BudgetAlloc, &budget);
	}
	cf_score_prepare(&m, BudgetAlloc, &budget);
	CHECK_FOR_INTERRUPTS();

	/* Output slots: items of this shard, in id order */
	out_pos = BudgetAlloc(&budget, Max(n_items, 1) * sizeof(int32));
	for (i = 0; i < n_items; i++)
		out_pos[i] = InShard(item_sorted[i], &params) ? n_out++ : -1;

	/* The rows are in the model now: release them (FINALFUNC_MODIFY = READ_WRITE) */
	for (c = 0; c < st->nchunks; c++)
	{
		Size		freed = st->chunks[c]->cap * RowBytes(st);

		pfree(st->chunks[c]->time ? (void *) st->chunks[c]->time : (void *) st->chunks[c]->user);
		st->chunks[c]->n = 0;
		budget.used -= Min(freed, budget.used);
	}
	st->nchunks = 0;

	/* The result is allocated in the caller's context, outside the build context */
	alloc_size = CF_RESULT_SIZE(n_items, n_out, (Size) n_out * params.k);
	if (budget.used + alloc_size > budget.limit)
		MemoryExceeded(budget.used + alloc_size, "similarity build");
	budget.used += alloc_size;
	budget.peak = Max(budget.peak, budget.used);
	res = palloc_extended(alloc_size, MCXT_ALLOC_HUGE);
	memset(res, 0, CF_RESULT_HDR);
	res->n_items = n_items;
	res->n_out = n_out;
	memcpy(CF_ITEM_IDS(res), item_sorted, n_items * sizeof(int64));
	for (i = 0; i < n_items; i++)
	{
		CF_BUYERS(res)[i] = cf_buyers(&m, i);
		if (out_pos[i] >= 0)
			CF_OUT_ITEM(res)[out_pos[i]] = i;
	}
	count = CF_COUNT(res);
	nbr = CF_NBR(res);
	score_slots = (float *) (nbr + (Size) n_out * params.k);

	/* With itemcf.threads = 0 (auto), small builds run on one thread: waking the others costs more */
	if (itemcf_threads == 0)
	{
		int64		total = 0;

		for (i = 0; i < n_items && total < 1000000; i++)
			if (out_pos[i] >= 0)
				total += cf_work(&m, i);
		if (total < 1000000)
			m.params.threads = 1;
	}

	/*
	 * Compute in one parallel region, heaviest items first.  Worker threads
	 * poll the backend's interrupt flag and give up; then the main thread
	 * handles the interrupt (a cancel raises here) and resumes where it was.
	 */
	order = BudgetAlloc(&budget, Max(n_items, 1) * sizeof(int32));
	updates = cf_order_by_work(&m, out_pos, order, &norder, BudgetAlloc, &budget);
	for (i = 0; i < n_out; i++)
		count[i] = -1;
	for (;;)
	{
		volatile sig_atomic_t *flag = INTERRUPTS_CAN_BE_PROCESSED() ?
			&InterruptPending : (volatile sig_atomic_t *) &never;

		CHECK_FOR_INTERRUPTS();
		if (cf_compute(&m, order, norder, out_pos, count, nbr, score_slots, flag) == 0)
			break;
	}
	CHECK_FOR_INTERRUPTS();

	/* Compact neighbour ids, then scores, in place (both only move forward) */
	for (i = 0; i < n_out; i++)
	{
		memmove(nbr + n_entries, nbr + (Size) i * params.k, count[i] * sizeof(int32));
		n_entries += count[i];
	}
	score = (float *) (nbr + n_entries);
	{
		int64		e = 0;

		for (i = 0; i < n_out; i++)
		{
			memmove(score + e, score_slots + (Size) i * params.k, count[i] * sizeof(float));
			e += count[i];
		}
	}

	final_size = CF_RESULT_SIZE(n_items, n_out, n_entries);
	if (final_size > CfResultLimit())
		ereport(ERROR,
				(errcode(ERRCODE_ITEMCF_RESULT_TOO_LARGE),
				 errmsg("item_neighbors_agg result exceeds itemcf.max_result_size"),
				 errdetail("The result needs %zu kB; itemcf.max_result_size is %d kB.",
						   final_size / 1024 + 1, itemcf_max_result_size),
				 errhint("Build in item shards with the options shard_count and shard_index; itemcf_rebuild() does this by itself.")));

	MemoryContextDelete(budget.ctx);
	SET_VARSIZE(res, final_size);
	res->version = CF_RESULT_VERSION;
	res->k = params.k;
	res->users = n_users;
	res->partials = st->partials;
	res->shard_count = params.shard_count;
	res->shard_index = params.shard_index;
	res->threads = m.params.threads;
	res->n_entries = n_entries;
	res->rows = st->n_rows;
	res->rows_null_id = st->rows_null_id;
	res->rows_bad_weight = st->rows_bad_weight;
	res->rows_outside_window = st->rows_outside_window;
	res->pairs = m.nnz;
	res->capped_users = m.capped_users;
	res->updates = updates;
	res->memory_bytes = budget.peak;
	res->read_seconds = (double) (t0 - st->started) / USECS_PER_SEC;
	res->compute_seconds = (double) (GetCurrentTimestamp() - t0) / USECS_PER_SEC;
	PG_RETURN_BYTEA_P(res);
}
