/*
 * rebuild.c — C support for itemcf_rebuild(): run a model's aggregate query
 * as the model's owner and store its result, in one call.
 *
 * The query runs through SPI_execute with no row limit, so the planner may
 * give it parallel workers (PL/pgSQL's SELECT INTO would not).  It runs
 * through itemcf_run_as (run_as.c): as the model's owner, security
 * restricted, with search_path pinned and every setting its code changes
 * rolled back, so the owner's privileges and row-level security policies
 * apply to the source whoever calls itemcf_rebuild(), and nothing the
 * source's code does outlives the query.
 *
 * The result (up to 1 GB) is read where SPI left it, never copied, and stored
 * the way COPY stores rows: batches of tuples through table_multi_insert with
 * a bulk-insert state (one WAL record per page instead of per row), then
 * their index entries.  A new version's keys (model_id, version, item_id) sort
 * after every existing one, so index insertions append at the right edge.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "cf_result.h"
#include "itemcf.h"
#include "itemcf_tables.h"
#include "svec.h"
#include "progress.h"

#define WRITE_BATCH 1000

/* Bulk inserter into one of the extension's tables */
typedef struct BatchWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	CommandId	cid;
	TupleTableSlot *slots[WRITE_BATCH];
	int			n;
	int64		written;
	MemoryContext ctx;			/* values of the current batch */
} BatchWriter;

/* Open the extension's table `name` (in schema nsp; natts columns, itemcf_tables.h) for bulk inserts */
static void
BatchBegin(BatchWriter *bw, Oid nsp, const char *name, int natts)
{
	int			i;

	bw->rel = table_open(itemcf_extension_relation(nsp, name), RowExclusiveLock);
	if (RelationGetDescr(bw->rel)->natts != natts)
		elog(ERROR, "itemcf table %s does not have %d columns", name, natts);
	bw->estate = CreateExecutorState();
	bw->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(bw->rri, bw->rel, 1, NULL, 0);
	ExecOpenIndices(bw->rri, false);
	bw->bistate = GetBulkInsertState();
	bw->cid = GetCurrentCommandId(true);
	for (i = 0; i < WRITE_BATCH; i++)
		bw->slots[i] = table_slot_create(bw->rel, NULL);
	bw->n = 0;
	bw->written = 0;
	bw->ctx = AllocSetContextCreate(CurrentMemoryContext, "itemcf write batch",
									ALLOCSET_DEFAULT_SIZES);
}

/* Insert the batch's rows and their index entries */
static void
BatchFlush(BatchWriter *bw)
{
	int			i;

	if (bw->n == 0)
		return;
	table_multi_insert(bw->rel, bw->slots, bw->n, bw->cid, 0, bw->bistate);
	for (i = 0; i < bw->n; i++)
	{
		List	   *recheck = itemcf_insert_index_tuples(bw->rri, bw->slots[i], bw->estate);

		list_free(recheck);
		ExecClearTuple(bw->slots[i]);
	}
	bw->written += bw->n;
	bw->n = 0;
	MemoryContextReset(bw->ctx);
	CHECK_FOR_INTERRUPTS();
}

/* The next free slot, cleared, with all columns non-null; switches to the batch context */
static TupleTableSlot *
BatchNext(BatchWriter *bw, MemoryContext *old)
{
	TupleTableSlot *ts;

	if (bw->n == WRITE_BATCH)
		BatchFlush(bw);
	ts = bw->slots[bw->n++];
	ExecClearTuple(ts);
	memset(ts->tts_isnull, 0, ts->tts_tupleDescriptor->natts * sizeof(bool));
	*old = MemoryContextSwitchTo(bw->ctx);
	return ts;
}

/* Flush and close */
static void
BatchEnd(BatchWriter *bw)
{
	int			i;

	BatchFlush(bw);
	for (i = 0; i < WRITE_BATCH; i++)
		ExecDropSingleTupleTableSlot(bw->slots[i]);
	FreeBulkInsertState(bw->bistate);
	ExecCloseIndices(bw->rri);
	FreeExecutorState(bw->estate);
	table_close(bw->rel, RowExclusiveLock);
	MemoryContextDelete(bw->ctx);
}

/* Store every non-empty neighbour list: itemcf_neighbors(model_id, version, item_id, neighbors) */
static int64
WriteNeighbors(Oid nsp, int32 model_id, int64 version, const CfResult *r)
{
	BatchWriter bw;
	int64		entry = 0;
	int32		slot;

	BatchBegin(&bw, nsp, ITEMCF_NEIGHBORS_TABLE, Natts_itemcf_neighbors);
	for (slot = 0; slot < r->n_out; slot++)
	{
		/* the next item's neighbour ids are random reads: start them now */
		if (slot + 1 < r->n_out)
		{
			const int32 *next = CF_NBR(r) + entry + CF_COUNT(r)[slot];
			int32		j;

			for (j = 0; j < CF_COUNT(r)[slot + 1]; j++)
				__builtin_prefetch(&CF_ITEM_IDS(r)[next[j]]);
		}
		if (CF_COUNT(r)[slot] > 0)
		{
			MemoryContext old;
			TupleTableSlot *ts = BatchNext(&bw, &old);

			ts->tts_values[Anum_itemcf_neighbors_model_id - 1] = Int32GetDatum(model_id);
			ts->tts_values[Anum_itemcf_neighbors_version - 1] = Int64GetDatum(version);
			ts->tts_values[Anum_itemcf_neighbors_item_id - 1] = Int64GetDatum(CF_ITEM_IDS(r)[CF_OUT_ITEM(r)[slot]]);
			ts->tts_values[Anum_itemcf_neighbors_neighbors - 1] = PointerGetDatum(CfResultNeighbors(r, slot, entry));
			ExecStoreVirtualTuple(ts);
			MemoryContextSwitchTo(old);
		}
		entry += CF_COUNT(r)[slot];
		if ((slot & 1023) == 0)
			itemcf_progress("writing", slot, r->n_out);
	}
	BatchEnd(&bw);
	return bw.written;
}

/* A neighbour entry for the top pairs: score, then item and neighbour ids */
typedef struct TopPair
{
	float		score;
	int64		item;
	int64		nbr;
} TopPair;

/* True if a ranks before b: the higher score, then the smaller item id, then the smaller neighbour id */
static inline bool
PairBefore(const TopPair *a, const TopPair *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	if (a->item != b->item)
		return a->item < b->item;
	return a->nbr < b->nbr;
}

/* Restore the heap below position i (the root holds the pair that ranks last) */
static void
PairSiftDown(TopPair *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			worst = i;
		TopPair		t;

		if (l < n && PairBefore(&h[worst], &h[l]))
			worst = l;
		if (l + 1 < n && PairBefore(&h[worst], &h[l + 1]))
			worst = l + 1;
		if (worst == i)
			return;
		t = h[i];
		h[i] = h[worst];
		h[worst] = t;
		i = worst;
	}
}

/*
 * Store the result's ITEMCF_BEST_PAIRS_PER_SHARD highest-scoring neighbour
 * entries in itemcf_best_pairs: one pass over the entries with a heap of the
 * best ones so far.  Each item shard stores its own; the global best are
 * among their union, which the view itemcf_top_pairs ranks.
 */
static void
WriteTopPairs(Oid nsp, int32 model_id, int64 version, const CfResult *r)
{
	int			cap = ITEMCF_BEST_PAIRS_PER_SHARD;
	TopPair    *h = palloc(sizeof(TopPair) * cap);
	int			n = 0;
	int64		entry = 0;
	int32		slot;
	const float *score = CF_SCORE(r, r->n_entries);
	BatchWriter bw;
	int			i;

	for (slot = 0; slot < r->n_out; slot++)
	{
		int64		item = CF_ITEM_IDS(r)[CF_OUT_ITEM(r)[slot]];
		int32		j;

		if ((slot & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		for (j = 0; j < CF_COUNT(r)[slot]; j++)
		{
			TopPair		p;

			p.score = score[entry + j];
			p.item = item;
			p.nbr = CF_ITEM_IDS(r)[CF_NBR(r)[entry + j]];
			if (n < cap)
			{
				/* sift up */
				int			c = n++;

				h[c] = p;
				while (c > 0 && PairBefore(&h[(c - 1) / 2], &h[c]))
				{
					TopPair		t = h[c];

					h[c] = h[(c - 1) / 2];
					h[(c - 1) / 2] = t;
					c = (c - 1) / 2;
				}
			}
			else if (PairBefore(&p, &h[0]))
			{
				h[0] = p;
				PairSiftDown(h, n, 0);
			}
		}
		entry += CF_COUNT(r)[slot];
	}

	BatchBegin(&bw, nsp, ITEMCF_BEST_PAIRS_TABLE, Natts_itemcf_best_pairs);
	for (i = 0; i < n; i++)
	{
		MemoryContext old;
		TupleTableSlot *ts = BatchNext(&bw, &old);

		ts->tts_values[Anum_itemcf_best_pairs_model_id - 1] = Int32GetDatum(model_id);
		ts->tts_values[Anum_itemcf_best_pairs_version - 1] = Int64GetDatum(version);
		ts->tts_values[Anum_itemcf_best_pairs_item_id - 1] = Int64GetDatum(h[i].item);
		ts->tts_values[Anum_itemcf_best_pairs_neighbor_id - 1] = Int64GetDatum(h[i].nbr);
		ts->tts_values[Anum_itemcf_best_pairs_score - 1] = Float4GetDatum(h[i].score);
		ExecStoreVirtualTuple(ts);
		MemoryContextSwitchTo(old);
	}
	BatchEnd(&bw);
	pfree(h);
}

/* Sort key of popular items: more buyers first, then the smaller id (dictionary order) */
typedef struct PopItem
{
	int32		buyers;
	int32		pos;
} PopItem;

static int
ComparePopular(const void *a, const void *b)
{
	const PopItem *x = (const PopItem *) a;
	const PopItem *y = (const PopItem *) b;

	if (x->buyers != y->buyers)
		return x->buyers > y->buyers ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Store the `limit` most bought items (every item, with buyers 0 last, if it allows): itemcf_popular(model_id, version, rank, item_id, buyers) */
static int64
WritePopular(Oid nsp, int32 model_id, int64 version, const CfResult *r, int64 limit)
{
	int32		maxb = 0;
	int32		bar;
	int64		above = 0;
	int32	   *hist;
	PopItem    *pop;
	int32		n = 0;
	int32		i;
	BatchWriter bw;

	/* The smallest buyer count that still makes the list (a histogram), then sort only those */
	for (i = 0; i < r->n_items; i++)
		maxb = Max(maxb, CF_BUYERS(r)[i]);
	hist = palloc_extended(((Size) maxb + 1) * sizeof(int32), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (i = 0; i < r->n_items; i++)
		hist[Max(CF_BUYERS(r)[i], 0)]++;
	/* down to 0: items whose every buyer's history cap left them out are items of the model too */
	for (bar = maxb; bar > 0 && above + hist[bar] < limit; bar--)
		above += hist[bar];
	pfree(hist);
	pop = palloc_extended((Size) Max(r->n_items, 1) * sizeof(PopItem), MCXT_ALLOC_HUGE);
	for (i = 0; i < r->n_items; i++)
		if (CF_BUYERS(r)[i] >= bar)
		{
			pop[n].buyers = CF_BUYERS(r)[i];
			pop[n++].pos = i;
		}
	qsort(pop, n, sizeof(PopItem), ComparePopular);
	if (limit < n)
		n = (int32) limit;

	BatchBegin(&bw, nsp, ITEMCF_POPULAR_TABLE, Natts_itemcf_popular);
	for (i = 0; i < n; i++)
	{
		MemoryContext old;
		TupleTableSlot *ts = BatchNext(&bw, &old);

		ts->tts_values[Anum_itemcf_popular_model_id - 1] = Int32GetDatum(model_id);
		ts->tts_values[Anum_itemcf_popular_version - 1] = Int64GetDatum(version);
		ts->tts_values[Anum_itemcf_popular_rank - 1] = Int32GetDatum(i + 1);
		ts->tts_values[Anum_itemcf_popular_item_id - 1] = Int64GetDatum(CF_ITEM_IDS(r)[pop[i].pos]);
		ts->tts_values[Anum_itemcf_popular_buyers - 1] = Int32GetDatum(pop[i].buyers);
		ExecStoreVirtualTuple(ts);
		MemoryContextSwitchTo(old);
	}
	BatchEnd(&bw);
	pfree(pop);
	return bw.written;
}

/* The query of a build, run by itemcf_run_as */
typedef struct RunQueryArgs
{
	const char *sql;
	int			ret;
} RunQueryArgs;

/* Error context of the source query: marks errors raised by the owner's code (rebuilds mask them) */
static void
SourceErrorContext(void *arg)
{
	errcontext("%s", ITEMCF_SOURCE_CONTEXT);
}

/* Run the aggregate query (no row limit, so the planner may use parallel workers) */
static void
RunQuery(void *arg)
{
	RunQueryArgs *q = (RunQueryArgs *) arg;
	ErrorContextCallback cb;

	cb.callback = SourceErrorContext;
	cb.arg = NULL;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	q->ret = SPI_execute(q->sql, true, 0);
	error_context_stack = cb.previous;
}

/*
 * Run the aggregate query `sql` (one bytea row) as role `owner`, store the
 * result's neighbour lists and, unless popular_limit is 0, its most bought
 * items under (model_id, version) in the extension's tables of schema nsp.
 * Copies the result's header (its counts and timings) to *hdr, the seconds
 * spent writing to *write_seconds and the neighbour lists written (items with
 * neighbours) to *lists; false when the query gave NULL.
 */
static bool
BuildModelSteps(Oid nsp, Oid owner, char *sql, int32 model_id, int64 version, int64 popular_limit,
				bool best_pairs, CfResult *hdr, double *write_seconds, int64 *lists)
{
	RunQueryArgs q;
	int			ret;
	bool		isnull = true;
	Datum		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the source is the owner's code: run it as the owner, sealed off (run_as.c) */
	q.sql = sql;
	itemcf_run_as(owner, RunQuery, &q);
	ret = q.ret;

	if (ret != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BYTEAOID)
		elog(ERROR, "itemcf_build_model: the query must return one bytea row");

	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		CfResult   *r = CfResultGet(result);
		TimestampTz t0 = GetCurrentTimestamp();

		*lists = WriteNeighbors(nsp, model_id, version, r);
		if (best_pairs)
			WriteTopPairs(nsp, model_id, version, r);
		if (popular_limit > 0)
			WritePopular(nsp, model_id, version, r, popular_limit);
		*hdr = *r;
		*write_seconds = (double) (GetCurrentTimestamp() - t0) / USECS_PER_SEC;
	}
	SPI_finish();
	return !isnull;
}

/* BuildModelSteps, reporting its progress in pg_stat_activity until it returns or fails (progress.c) */
static bool
BuildModel(Oid nsp, Oid owner, char *sql, int32 model_id, int64 version, int64 popular_limit,
		   bool best_pairs, CfResult *hdr, double *write_seconds, int64 *lists)
{
	bool		built;

	itemcf_progress_model(model_id);
	PG_TRY();
	{
		built = BuildModelSteps(nsp, owner, sql, model_id, version, popular_limit, best_pairs,
								hdr, write_seconds, lists);
	}
	PG_CATCH();
	{
		itemcf_progress_end();
		PG_RE_THROW();
	}
	PG_END_TRY();
	itemcf_progress_end();
	return built;
}

/*
 * The arguments of both SQL faces: (owner, query, model_id, version,
 * popular_limit); best_pairs: whether the tables have itemcf_best_pairs
 * (since 0.2.0)
 */
static bool
BuildModelArgs(FunctionCallInfo fcinfo, bool best_pairs, CfResult *hdr, double *write_seconds, int64 *lists)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		elog(ERROR, "itemcf_build_model: only popular_limit may be NULL");
	return BuildModel(get_func_namespace(fcinfo->flinfo->fn_oid), PG_GETARG_OID(0),
					  text_to_cstring(PG_GETARG_TEXT_PP(1)), PG_GETARG_INT32(2), PG_GETARG_INT64(3),
					  PG_ARGISNULL(4) ? PG_INT64_MAX : PG_GETARG_INT64(4), best_pairs, hdr, write_seconds, lists);
}

PG_FUNCTION_INFO_V1(itemcf_build_model_0_2);
/*
 * itemcf_build_model(owner, query, model_id, version, popular_limit) since
 * 0.2.0: build and store a model version (popular_limit NULL: every item)
 * and return the build's counts and timings as an itemcf_build_stats row,
 * or NULL when the query gave NULL.
 */
Datum
itemcf_build_model_0_2(PG_FUNCTION_ARGS)
{
	CfResult	hdr;
	double		write_seconds = 0;
	int64		lists = 0;
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "itemcf_build_model: return type must be a row type");
	if (!BuildModelArgs(fcinfo, true, &hdr, &write_seconds, &lists))
		PG_RETURN_NULL();
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(CfResultStatsTuple(&hdr, write_seconds, lists, tupdesc)));
}

PG_FUNCTION_INFO_V1(itemcf_build_model);
/*
 * itemcf_build_model() as the 0.1.0 install script declares it (jsonb), kept
 * so that 0.1.0 installs and updates: the same build (without the best
 * pairs, whose table 0.1.0 lacks), its stats as jsonb.
 */
Datum
itemcf_build_model(PG_FUNCTION_ARGS)
{
	CfResult	hdr;
	double		write_seconds = 0;
	int64		lists = 0;
	char	   *json;

	if (!BuildModelArgs(fcinfo, false, &hdr, &write_seconds, &lists))
		PG_RETURN_NULL();
	json = CfResultStatsJson(&hdr, psprintf(", \"write_seconds\": %.6f", write_seconds));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

PG_FUNCTION_INFO_V1(itemcf_newest_time);
/*
 * _itemcf_newest_time(owner, source, time_column): the newest purchase time
 * of a source (max of the column as timestamptz, as the build query casts
 * it), read as role `owner` the way the build reads the source; NULL when
 * the source has no time.  Where a window_anchor newest window ends.
 */
Datum
itemcf_newest_time(PG_FUNCTION_ARGS)
{
	Oid			owner = PG_GETARG_OID(0);
	Oid			source = PG_GETARG_OID(1);
	char	   *column = NameStr(*PG_GETARG_NAME(2));
	char	   *relname = get_rel_name(source);
	char	   *nspname;
	RunQueryArgs q;
	bool		isnull = true;
	TimestampTz newest = 0;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", source)));
	nspname = get_namespace_name(get_rel_namespace(source));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	q.sql = psprintf("SELECT pg_catalog.max(%s::pg_catalog.timestamptz) FROM %s",
					 quote_identifier(column), quote_qualified_identifier(nspname, relname));
	itemcf_run_as(owner, RunQuery, &q);
	if (q.ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "_itemcf_newest_time: the query must return one row");
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			newest = DatumGetTimestampTz(d);
	}
	SPI_finish();

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(newest);
}

PG_FUNCTION_INFO_V1(itemcf_read_labels);
/*
 * _itemcf_read_labels(owner, label_source, label_key, label_column): the
 * item labels of a model's label source, read as role `owner` the way the
 * build reads the source (sealed off, run_as.c): one row per item id, the
 * bytewise smallest label when there are several, NULL ids and labels
 * skipped.  The rebuild keeps those of the version's items in itemcf_labels.
 */
Datum
itemcf_read_labels(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			owner = PG_GETARG_OID(0);
	Oid			source = PG_GETARG_OID(1);
	char	   *key = NameStr(*PG_GETARG_NAME(2));
	char	   *column = NameStr(*PG_GETARG_NAME(3));
	char	   *relname = get_rel_name(source);
	RunQueryArgs q;
	uint64		i;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", source)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	q.sql = psprintf("SELECT DISTINCT ON (k) k, l FROM "
					 "(SELECT %s::pg_catalog.int8 AS k, %s::pg_catalog.text AS l FROM %s) s "
					 "WHERE k IS NOT NULL AND l IS NOT NULL ORDER BY k, l COLLATE pg_catalog.\"C\"",
					 quote_identifier(key), quote_identifier(column),
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)), relname));
	itemcf_run_as(owner, RunQuery, &q);
	if (q.ret != SPI_OK_SELECT)
		elog(ERROR, "_itemcf_read_labels: the query failed: %s", SPI_result_code_string(q.ret));
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		values[2];
		bool		nulls[2];

		values[0] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &nulls[0]);
		values[1] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &nulls[1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	return (Datum) 0;
}
