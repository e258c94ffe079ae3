/*
 * cf_result.c — the similarity aggregate's result value, in one place: the
 * final function creates, fills and compacts it here (CfResultCreate ...
 * CfResultSetStats), cf_check.c validates it, and
 * item_neighbors(result) expands it into (item_id, neighbors svec) rows,
 * item_buyers(result) gives each item's buyer count, and
 * item_neighbors_stats(result) describes the build as jsonb (and
 * CfResultStatsTuple as the row itemcf_rebuild() keeps).  The size rule
 * (CF_RESULT_SIZE) is applied here too, for itemcf_rebuild()'s choice of item
 * shards (_itemcf_result_shards), so SQL never repeats the arithmetic.
 *
 * A result is an ordinary bytea a user can forge, so it is checked in full
 * before anything is read from it.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "cf_result.h"
#include "itemcf.h"
#include "svec.h"

/* Raise the error for a malformed result */
static void
BadResult(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid item_neighbors_agg result"),
			 errdetail("%s", detail)));
}

/* Detoast a result (copied if it is not 8-byte aligned) and check every field and array */
CfResult *
CfResultGet(Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM(d);
	const char *detail;

	if ((uintptr_t) v % 8 != 0)
	{
		struct varlena *copy = palloc(VARSIZE(v));

		memcpy(copy, v, VARSIZE(v));
		v = copy;
	}
	detail = cf_result_check(v, VARSIZE(v));
	if (detail != NULL)
		BadResult(detail);
	return (CfResult *) v;
}

/* The neighbours of output slot `slot`, whose entries start at `entry`, as an svec */
SVec *
CfResultNeighbors(const CfResult *r, int32 slot, int64 entry)
{
	int32		c = CF_COUNT(r)[slot];
	const int32 *nbr = CF_NBR(r) + entry;
	const float *score = CF_SCORE(r, r->n_entries) + entry;
	SVec	   *v = SVecInit(c, c > 0 ? CF_ITEM_IDS(r)[nbr[0]] : 0,
							 c > 0 ? CF_ITEM_IDS(r)[nbr[c - 1]] : 0);
	float	   *vals = SVEC_VALUES(v);
	int32		j;

	/* ranks ascend within an item (checked by CfResultGet), so ids do too */
	for (j = 0; j < c; j++)
	{
		SVecSetIndex(v, j, CF_ITEM_IDS(r)[nbr[j]]);
		vals[j] = score[j];
	}
	SVecFinish(v);
	return v;
}

/* Cursor of item_neighbors over a result */
typedef struct NeighborsCursor
{
	CfResult   *r;
	int64		entry;			/* first entry of the current item */
} NeighborsCursor;

PG_FUNCTION_INFO_V1(item_neighbors);
/* Expand a result into (item_id, neighbors) rows; neighbors maps neighbour id to score */
Datum
item_neighbors(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	NeighborsCursor *cur;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldctx;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldctx = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		cur = palloc0(sizeof(NeighborsCursor));
		cur->r = CfResultGet(PG_GETARG_DATUM(0));
		funcctx->max_calls = cur->r->n_out;
		funcctx->user_fctx = cur;
		MemoryContextSwitchTo(oldctx);
	}

	funcctx = SRF_PERCALL_SETUP();
	cur = (NeighborsCursor *) funcctx->user_fctx;
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		CfResult   *r = cur->r;
		int32		slot = (int32) funcctx->call_cntr;
		Datum		values[2];
		bool		nulls[2] = {false, false};
		SVec	   *v = CfResultNeighbors(r, slot, cur->entry);

		cur->entry += CF_COUNT(r)[slot];
		values[0] = Int64GetDatum(CF_ITEM_IDS(r)[CF_OUT_ITEM(r)[slot]]);
		values[1] = PointerGetDatum(v);
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

PG_FUNCTION_INFO_V1(item_buyers);
/* Expand a result into (item_id, buyers) rows for every item seen */
Datum
item_buyers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CfResult   *r = CfResultGet(PG_GETARG_DATUM(0));
	int32		i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < r->n_items; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(CF_ITEM_IDS(r)[i]);
		values[1] = Int32GetDatum(CF_BUYERS(r)[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* A result's build as JSON text, with `more` (", \"key\": value" pairs, or "") added */
char *
CfResultStatsJson(const CfResult *r, const char *more)
{
	return psprintf("{\"rows\": " INT64_FORMAT ", \"rows_null_id\": " INT64_FORMAT
					", \"rows_bad_weight\": " INT64_FORMAT ", \"rows_outside_window\": " INT64_FORMAT
					", \"users\": %d, \"items\": %d, \"items_out\": %d"
					", \"pairs\": " INT64_FORMAT ", \"entries\": " INT64_FORMAT
					", \"k\": %d, \"partials\": %d, \"capped_users\": " INT64_FORMAT
					", \"updates\": " INT64_FORMAT ", \"memory_bytes\": " INT64_FORMAT ", \"threads\": %d"
					", \"shard_count\": %d, \"shard_index\": %d"
					", \"read_seconds\": %.6f, \"compute_seconds\": %.6f, \"bytes\": %zu%s}",
					r->rows, r->rows_null_id, r->rows_bad_weight, r->rows_outside_window, r->users, r->n_items, r->n_out,
					r->pairs, r->n_entries, r->k, r->partials, r->capped_users,
					r->updates, r->memory_bytes, r->threads, r->shard_count, r->shard_index,
					r->read_seconds, r->compute_seconds, (Size) VARSIZE(r), more);
}

PG_FUNCTION_INFO_V1(item_neighbors_stats);
/* Describe a result's build as jsonb */
Datum
item_neighbors_stats(PG_FUNCTION_ARGS)
{
	CfResult   *r = CfResultGet(PG_GETARG_DATUM(0));

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(CfResultStatsJson(r, ""))));
}

/* itemcf.max_result_size in bytes, at most MaxAllocSize (one bytea value) */
Size
CfResultLimit(void)
{
	return Min((Size) itemcf_max_result_size * 1024, MaxAllocSize);
}

/*
 * Item shards a build of `items` items and about `entries` neighbour entries
 * (as the last build wrote) needs so that each shard's result fits `limit`:
 * every shard holds the whole dictionary and 1/s of the output items and
 * entries, with 20% room for an uneven split.  1 when even the dictionary
 * does not fit (the build then fails with that error, which more shards
 * cannot help), at most 4096.
 */
int32
CfResultShards(int64 items, int64 entries, Size limit)
{
	double		fixed = (double) CF_RESULT_SIZE(items, 0, 0);
	double		spread = (double) items * 8 + (double) entries * 8 * 1.2;
	double		s;

	if (items < 0 || entries < 0 || fixed >= (double) limit)
		return 1;
	s = ceil(spread / ((double) limit - fixed));
	if (s < 1)
		return 1;
	return s > 4096 ? 4096 : (int32) s;
}

PG_FUNCTION_INFO_V1(itemcf_result_shards);
/* _itemcf_result_shards(items, entries): CfResultShards under the current itemcf.max_result_size */
Datum
itemcf_result_shards(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CfResultShards(PG_GETARG_INT32(0), PG_GETARG_INT64(1), CfResultLimit()));
}

/*
 * Writing a result, in item_neighbors_agg's final function: CfResultCreate
 * allocates it with room for k neighbours per output item and writes its
 * dictionary; cf_compute fills the slots CfResultSlots points at;
 * CfResultCompact closes the gaps the unfilled slots left and checks the
 * size; CfResultSetStats fills in the rest of the header.
 */

/*
 * Raise the error for an item dictionary that alone does not fit in one
 * result: every shard's result holds all the item ids, so more item shards
 * cannot help, and the error is not the one itemcf_rebuild() retries on
 */
void
CfResultCheckDictionary(int32 n_items)
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

/* Bytes of a result before compaction: room for k neighbours per output item */
Size
CfResultAllocSize(int32 n_items, int32 n_out, int k)
{
	return CF_RESULT_SIZE(n_items, n_out, (Size) n_out * k);
}

/*
 * A new result for the model's items, in the current memory context: the
 * header's counts, the dictionary (ids and buyers) and the output items
 * (out_pos[rank]: the slot of the item of id rank `rank`, -1 if not output)
 */
CfResult *
CfResultCreate(const CfModel *m, const int32 *out_pos, int32 n_out)
{
	int32		n_items = m->n_items;
	CfResult   *r = palloc_extended(CfResultAllocSize(n_items, n_out, m->params.k), MCXT_ALLOC_HUGE);
	int32		i;

	memset(r, 0, CF_RESULT_HDR);
	r->version = CF_RESULT_VERSION;
	r->k = m->params.k;
	r->n_items = n_items;
	r->n_out = n_out;
	r->shard_count = m->params.shard_count;
	r->shard_index = m->params.shard_index;
	memcpy(CF_ITEM_IDS(r), m->item_ids, n_items * sizeof(int64));
	for (i = 0; i < n_items; i++)
	{
		CF_BUYERS(r)[i] = cf_buyers(m, i);
		if (out_pos[i] >= 0)
			CF_OUT_ITEM(r)[out_pos[i]] = i;
	}
	return r;
}

/* Where cf_compute writes into a new result: the counts, and k neighbour and k score slots per output item */
void
CfResultSlots(CfResult *r, int32 **count, int32 **nbr, float **score)
{
	*count = CF_COUNT(r);
	*nbr = CF_NBR(r);
	*score = (float *) (CF_NBR(r) + (Size) r->n_out * r->k);
}

/*
 * Move the neighbour ids, then the scores, in place to where the format
 * puts them (both only move forward), then check the size against
 * itemcf.max_result_size (ERRCODE_ITEMCF_RESULT_TOO_LARGE: itemcf_rebuild()
 * builds in more item shards) and set it
 */
void
CfResultCompact(CfResult *r)
{
	int			k = r->k;
	int32		n_out = r->n_out;
	int32	   *count;
	int32	   *nbr;
	float	   *score_slots;
	float	   *score;
	int64		n_entries = 0;
	Size		final_size;
	int32		i;

	CfResultSlots(r, &count, &nbr, &score_slots);
	for (i = 0; i < n_out; i++)
	{
		memmove(nbr + n_entries, nbr + (Size) i * k, count[i] * sizeof(int32));
		n_entries += count[i];
	}
	score = (float *) (nbr + n_entries);
	{
		int64		e = 0;

		for (i = 0; i < n_out; i++)
		{
			memmove(score + e, score_slots + (Size) i * k, count[i] * sizeof(float));
			e += count[i];
		}
	}

	final_size = CF_RESULT_SIZE(r->n_items, n_out, n_entries);
	if (final_size > CfResultLimit())
		ereport(ERROR,
				(errcode(ERRCODE_ITEMCF_RESULT_TOO_LARGE),
				 errmsg("item_neighbors_agg result exceeds itemcf.max_result_size"),
				 errdetail("The result needs %zu kB; itemcf.max_result_size is %d kB.",
						   final_size / 1024 + 1, itemcf_max_result_size),
				 errhint("Build in item shards with the options shard_count and shard_index; itemcf_rebuild() does this by itself.")));
	r->n_entries = n_entries;
	SET_VARSIZE(r, final_size);
}

/* Fill in the build's counts and timings */
void
CfResultSetStats(CfResult *r, const CfResultStats *s)
{
	r->users = s->users;
	r->partials = s->partials;
	r->threads = s->threads;
	r->rows = s->rows;
	r->rows_null_id = s->rows_null_id;
	r->rows_bad_weight = s->rows_bad_weight;
	r->rows_outside_window = s->rows_outside_window;
	r->pairs = s->pairs;
	r->capped_users = s->capped_users;
	r->updates = s->updates;
	r->memory_bytes = s->memory_bytes;
	r->read_seconds = s->read_seconds;
	r->compute_seconds = s->compute_seconds;
}

/* The build's counts and timings (a result's header), the seconds writing and the lists written, as a row of `tupdesc`, itemcf_build_stats */
HeapTuple
CfResultStatsTuple(const CfResult *hdr, double write_seconds, int64 lists, TupleDesc tupdesc)
{
	Datum		values[22];
	bool		nulls[22] = {0};
	int			n = 0;

	if (tupdesc->natts != lengthof(values))
		elog(ERROR, "itemcf_build_stats has %d columns, expected %d", tupdesc->natts, (int) lengthof(values));
	values[n++] = Int64GetDatum(hdr->rows);
	values[n++] = Int64GetDatum(hdr->rows_null_id);
	values[n++] = Int64GetDatum(hdr->rows_bad_weight);
	values[n++] = Int64GetDatum(hdr->rows_outside_window);
	values[n++] = Int32GetDatum(hdr->users);
	values[n++] = Int32GetDatum(hdr->n_items);
	values[n++] = Int32GetDatum(hdr->n_out);
	values[n++] = Int64GetDatum(hdr->pairs);
	values[n++] = Int64GetDatum(hdr->n_entries);
	values[n++] = Int32GetDatum(hdr->k);
	values[n++] = Int32GetDatum(hdr->partials);
	values[n++] = Int64GetDatum(hdr->capped_users);
	values[n++] = Int64GetDatum(hdr->updates);
	values[n++] = Int64GetDatum(hdr->memory_bytes);
	values[n++] = Int32GetDatum(hdr->threads);
	values[n++] = Int32GetDatum(hdr->shard_count);
	values[n++] = Int32GetDatum(hdr->shard_index);
	values[n++] = Float8GetDatum(hdr->read_seconds);
	values[n++] = Float8GetDatum(hdr->compute_seconds);
	values[n++] = Int64GetDatum((int64) VARSIZE(hdr));
	values[n++] = Float8GetDatum(write_seconds);
	values[n++] = Int64GetDatum(lists);
	Assert(n == lengthof(values));
	return heap_form_tuple(tupdesc, values, nulls);
}
