/*
 * cf_collect.c — collecting the rows of item_neighbors_agg: its transition,
 * combine, serial and deserial functions, and the state they share
 * (cf_collect.h) with the final function (cf_agg.c).
 *
 * Transition: users and items get state-local dense ids (so a row costs 8
 * bytes, plus 4 for a summed weight and 8 for a time) and rows are appended
 * to fixed-size chunks (no reallocation peaks).  Ids are mapped through a
 * plain array while they are small non-negative numbers, as serial keys are
 * (one cached load per row), and through a hash table otherwise; the array
 * also yields the ids in ascending order for free at the final step.  Rows
 * are staged and mapped in batches, so that the id lookups' cache misses
 * overlap.  The first row parses the options (cf_options.c).
 * Serial/deserial: a flat, versioned bytea of the id dictionaries and rows
 * (CfStateSerial in cf_check.h, checked in full by cf_state_check).
 * Combine: remap the second state's rows into the first's ids, in place, and
 * take its chunks over.
 *
 * As in postgresql-hll, the state lives in its own child context of the
 * aggregate context, and every byte it holds is charged to itemcf.build_memory
 * before it is allocated (ChargeState).
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cf_check.h"
#include "cf_collect.h"
#include "cf_options.h"
#include "cf_purchase.h"
#include "itemcf.h"
#include "progress.h"

#define CF_CHUNK_ROWS (64 * 1024)

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

/* Raise the error for a build that would not fit in itemcf.build_memory */
void
CfMemoryExceeded(Size need, const char *what)
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
		CfMemoryExceeded(st->bytes + size, "aggregate state");
	st->bytes += size;
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

	ChargeState(st, cap * CfStateRowBytes(st) + sizeof(CfChunk));
	ch = MemoryContextAlloc(st->ctx, sizeof(CfChunk));
	p = MemoryContextAllocHuge(st->ctx, Max(cap, 1) * CfStateRowBytes(st));
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
void
CfStateRankIds(const IdMap *m, int64 *sorted, int32 *rank, CfAllocFn alloc, void *arg)
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
void
CfStateFlush(CfAggState *st)
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
		CfOptions	opts;

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
			CfOptionsParse(PG_GETARG_JSONB_P(optarg), &opts);
		}
		else
			CfOptionsParse(NULL, &opts);
		if (opts.since != DT_NOBEGIN && !with_time)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"since\" needs the purchase time argument")));
		st = CreateState(aggctx, &opts.params, opts.since, with_time);
		itemcf_progress_shard(opts.params.shard_index, opts.params.shard_count);
	}

	/* which rows are purchases: the rule serving applies too (cf_purchase.h) */
	w = PG_ARGISNULL(3) ? 0.0f : PG_GETARG_FLOAT4(3);
	if (with_time)
		t = PG_ARGISNULL(4) ? DT_NOBEGIN : PG_GETARG_TIMESTAMPTZ(4);
	switch (cf_purchase_row(PG_ARGISNULL(1) || PG_ARGISNULL(2), PG_ARGISNULL(3), w,
							with_time ? t : CF_TIME_NONE, st->since))
	{
		case CF_ROW_PURCHASE:
			break;
		case CF_ROW_NULL_ID:
			st->rows_null_id++;
			PG_RETURN_POINTER(st);
		case CF_ROW_BAD_WEIGHT:
			st->rows_bad_weight++;
			PG_RETURN_POINTER(st);
		case CF_ROW_OUTSIDE_WINDOW:
			st->rows_outside_window++;
			PG_RETURN_POINTER(st);
	}

	if (st->nstage == CF_STAGE_ROWS)
	{
		CfStateFlush(st);
		itemcf_progress("reading", st->n_rows, -1);
	}
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

	CfStateFlush(src);			/* its rows must be in its chunks, mapped */
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

	CfStateFlush(st);				/* logically the same state: the staged rows move into chunks */
	n = st->n_rows;
	size = sizeof(CfStateSerial) + (Size) st->users.n * 8 + (Size) st->items.n * 8 +
		(Size) n * CfStateRowBytes(st);
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

/* Free the state's rows (they are in the model now), taking their bytes off *used */
void
CfStateReleaseRows(CfAggState *st, Size *used)
{
	int			c;

	for (c = 0; c < st->nchunks; c++)
	{
		Size		freed = st->chunks[c]->cap * CfStateRowBytes(st);

		pfree(st->chunks[c]->time ? (void *) st->chunks[c]->time : (void *) st->chunks[c]->user);
		st->chunks[c]->n = 0;
		*used -= Min(freed, *used);
	}
	st->nchunks = 0;
}

/*
 * The SQL expression of a weight column's value as the aggregate's real
 * weight argument: a value real cannot hold (1e300, 1e-50, a huge numeric)
 * becomes NULL, so it is a bad weight like NULL, non-positive and non-finite
 * ones (cf_purchase.h; cf_weight_from_double is the same rule in C).  NULL
 * column: no weights, every row weighs 1.  Every operator qualified.
 */
char *
CfWeightSql(const char *column)
{
	const char *c;

	if (column == NULL)
		return pstrdup("1::pg_catalog.float4");
	c = quote_identifier(column);
	return psprintf("CASE WHEN %1$s OPERATOR(pg_catalog.>=) -3.4028234e38 AND %1$s OPERATOR(pg_catalog.<=) 3.4028234e38 "
					"AND NOT (%1$s OPERATOR(pg_catalog.>) -1e-45 AND %1$s OPERATOR(pg_catalog.<) 1e-45 "
					"AND %1$s OPERATOR(pg_catalog.<>) 0) THEN %1$s::pg_catalog.float4 END", c);
}

PG_FUNCTION_INFO_V1(itemcf_weight_sql);
/* _itemcf_weight_sql(column name): CfWeightSql for the build query of src/models.sql */
Datum
itemcf_weight_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(CfWeightSql(PG_ARGISNULL(0) ? NULL : NameStr(*PG_GETARG_NAME(0)))));
}
