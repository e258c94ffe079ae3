/*
 * serving.c — recommend(), recommend_for_items() and similar_items():
 * scoring from the neighbour lists and filling the answer.
 *
 * These run on every page impression, so they avoid the executor wherever
 * they can: the model row (serving_model.c), the neighbour lists and the
 * popular items are read with direct index scans of the extension's own
 * tables (btree lookups under the query's snapshot, no planning, no
 * permission checks: EXECUTE on the function is the gate), by the column
 * numbers of itemcf_tables.h.  Only the user's purchases come from the
 * model's source, read as the model's owner (serving_purchases.c).
 *
 * Scoring: each bought item b contributes weight(b) * score(b, n) to every
 * neighbour n in its list (weight 1, or 0.5^(age / half-life) with recency
 * weighting, the age counted from the user's latest purchase); bought items
 * are dropped unless asked otherwise; the top k by score (in double; ties:
 * smaller id) are returned, each with the bought item that contributed most.
 * When fewer than k remain, the model's other items (stored by buyers at the
 * last rebuild) fill the list, marked as popular.
 *
 * Memory is bounded by the history cap times k (candidates), never by the
 * catalogue.  All reads use one snapshot (the functions are STABLE), so an
 * answer comes entirely from the old or entirely from the new model.
 */
#include "postgres.h"

#include <float.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "itemcf.h"
#include "itemcf_tables.h"
#include "serving.h"
#include "svec.h"

#define SERVE_MAX_K 1000
#define SERVE_MAX_ITEMS 10000	/* items in a basket / session */

/* A scored candidate */
typedef struct Cand
{
	int64		item;
	double		score;
	int64		because;		/* bought item contributing most */
	double		best;			/* its contribution */
	char		status;			/* simplehash */
} Cand;

#define SH_PREFIX candmap
#define SH_ELEMENT_TYPE Cand
#define SH_KEY_TYPE int64
#define SH_KEY item
#define SH_HASH_KEY(tb, k) itemcf_hash_int64(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The extension's schema: the namespace of the called function */
static Oid
ExtensionSchema(FunctionCallInfo fcinfo)
{
	return get_func_namespace(fcinfo->flinfo->fn_oid);
}

/* Ascending int64 comparator */
static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Check k */
static void
CheckK(int32 k)
{
	if (k < 1 || k > SERVE_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d", SERVE_MAX_K),
				 errdetail("k is %d.", k)));
}

/* A sorted, deduplicated copy of an optional bigint[] (NULL if absent) */
static int64 *
SortedArray(FunctionCallInfo fcinfo, int argno, int *n)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int64	   *out;
	int			i;
	int			m = 0;

	*n = 0;
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	a = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(a, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &count);
	out = palloc(Max(count, 1) * sizeof(int64));
	for (i = 0; i < count; i++)
		if (!nulls[i])
			out[m++] = DatumGetInt64(elems[i]);
	qsort(out, m, sizeof(int64), CompareInt64);
	*n = m;
	return out;
}

/* Is x in the sorted array a[0..n)? */
static bool
InSorted(const int64 *a, int n, int64 x)
{
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && a[lo] == x;
}

/* Everything one serving call reads, opened once */
typedef struct ServeCtx
{
	ServeModel	model;
	Relation	nrel;			/* itemcf_neighbors */
	Oid			nidx;
	Relation	prel;			/* itemcf_popular */
	Oid			pidx;
	Relation	nidxrel;		/* neighbour index and scan, opened at the first lookup */
	IndexScanDesc nscan;
	TupleTableSlot *nslot;
	Oid			nsp;			/* the extension's schema */
	Relation	lrel;			/* itemcf_labels, its index and scan: opened at the first label */
	Relation	lidxrel;
	IndexScanDesc lscan;
	TupleTableSlot *lslot;
} ServeCtx;

/* Look up the model and open the tables serving reads */
static void
OpenServe(FunctionCallInfo fcinfo, const char *model, ServeCtx *sc)
{
	Oid			nsp = ExtensionSchema(fcinfo);

	ServeGetModel(nsp, model, &sc->model);
	sc->nrel = table_open(itemcf_extension_relation(nsp, ITEMCF_NEIGHBORS_TABLE), AccessShareLock);
	sc->nidx = itemcf_extension_relation(nsp, ITEMCF_NEIGHBORS_PKEY);
	sc->prel = table_open(itemcf_extension_relation(nsp, ITEMCF_POPULAR_TABLE), AccessShareLock);
	sc->pidx = itemcf_extension_relation(nsp, ITEMCF_POPULAR_PKEY);
	sc->nidxrel = NULL;
	sc->nscan = NULL;
	sc->nslot = NULL;
	sc->nsp = nsp;
	sc->lrel = NULL;
}

/* Close what OpenServe opened */
static void
CloseServe(ServeCtx *sc)
{
	if (sc->nscan)
	{
		index_endscan(sc->nscan);
		ExecDropSingleTupleTableSlot(sc->nslot);
		index_close(sc->nidxrel, AccessShareLock);
	}
	if (sc->lrel)
	{
		index_endscan(sc->lscan);
		ExecDropSingleTupleTableSlot(sc->lslot);
		index_close(sc->lidxrel, AccessShareLock);
		table_close(sc->lrel, AccessShareLock);
	}
	table_close(sc->nrel, AccessShareLock);
	table_close(sc->prel, AccessShareLock);
}

/* The label of an item in the current version (itemcf_labels), or NULL; the model has labels */
static char *
GetLabel(ServeCtx *sc, int64 item)
{
	ScanKeyData keys[3];
	char	   *label = NULL;

	ScanKeyInit(&keys[0], Anum_itemcf_labels_pkey_model_id, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(sc->model.model_id));
	ScanKeyInit(&keys[1], Anum_itemcf_labels_pkey_version, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(sc->model.version));
	ScanKeyInit(&keys[2], Anum_itemcf_labels_pkey_item_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(item));
	if (sc->lrel == NULL)
	{
		sc->lrel = table_open(itemcf_extension_relation(sc->nsp, ITEMCF_LABELS_TABLE), AccessShareLock);
		sc->lidxrel = index_open(itemcf_extension_relation(sc->nsp, ITEMCF_LABELS_PKEY), AccessShareLock);
		sc->lslot = table_slot_create(sc->lrel, NULL);
		sc->lscan = itemcf_index_beginscan(sc->lrel, sc->lidxrel, GetActiveSnapshot(), 3, 0);
	}
	index_rescan(sc->lscan, keys, 3, NULL, 0);
	if (index_getnext_slot(sc->lscan, ForwardScanDirection, sc->lslot))
	{
		bool		isnull;
		Datum		d = slot_getattr(sc->lslot, Anum_itemcf_labels_label, &isnull);

		if (!isnull)
			label = TextDatumGetCString(d);
		ExecClearTuple(sc->lslot);
	}
	return label;
}

/*
 * The neighbour list of one item in the current version, or NULL (a copy).
 * One index scan serves every lookup of a call: each item only rescans it.
 */
static SVec *
GetNeighbors(ServeCtx *sc, int64 item)
{
	ScanKeyData keys[3];
	SVec	   *v = NULL;

	if (sc->model.version == 0)
		return NULL;
	/* keys on index columns (model_id, version, item_id) */
	ScanKeyInit(&keys[0], Anum_itemcf_neighbors_pkey_model_id, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(sc->model.model_id));
	ScanKeyInit(&keys[1], Anum_itemcf_neighbors_pkey_version, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(sc->model.version));
	ScanKeyInit(&keys[2], Anum_itemcf_neighbors_pkey_item_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(item));
	if (sc->nscan == NULL)
	{
		sc->nidxrel = index_open(sc->nidx, AccessShareLock);
		sc->nslot = table_slot_create(sc->nrel, NULL);
		sc->nscan = itemcf_index_beginscan(sc->nrel, sc->nidxrel, GetActiveSnapshot(), 3, 0);
	}
	index_rescan(sc->nscan, keys, 3, NULL, 0);
	if (index_getnext_slot(sc->nscan, ForwardScanDirection, sc->nslot))
	{
		bool		isnull;
		Datum		d = slot_getattr(sc->nslot, Anum_itemcf_neighbors_neighbors, &isnull);

		if (!isnull)
			v = DatumGetSVecChecked(PointerGetDatum(PG_DETOAST_DATUM_COPY(d)));
		ExecClearTuple(sc->nslot);
	}
	return v;
}

/* Add every neighbour of the given items to the candidates */
static void
Accumulate(ServeCtx *sc, candmap_hash *cands, const Bought *items, int n)
{
	int			b;

	for (b = 0; b < n; b++)
	{
		SVec	   *v;
		float	   *vals;
		int			e;

		if (items[b].weight <= 0.0)
			continue;			/* no known purchase time under recency weighting */
		v = GetNeighbors(sc, items[b].item);
		if (v == NULL)
			continue;
		vals = SVEC_VALUES(v);
		for (e = 0; e < v->nnz; e++)
		{
			bool		found;
			double		contrib = items[b].weight * vals[e];
			Cand	   *c = candmap_insert(cands, SVecIndex(v, e), &found);

			if (!found)
			{
				c->score = 0.0;
				c->because = items[b].item;
				c->best = contrib;
			}
			else if (contrib > c->best || (contrib == c->best && items[b].item < c->because))
			{
				c->because = items[b].item;
				c->best = contrib;
			}
			c->score += contrib;
		}
		pfree(v);
	}
}

/* A result row */
typedef struct OutRow
{
	int64		item;
	double		score;			/* ranked in double, returned as real */
	int64		because;		/* 0 with popular */
	bool		popular;
	char	   *label;			/* the label of because, or NULL */
} OutRow;

/* Order candidates: score descending, then item ascending */
static int
CompareOut(const void *a, const void *b)
{
	const OutRow *x = (const OutRow *) a;
	const OutRow *y = (const OutRow *) b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/* SelectTop(r, n, k): r[0..k) become the first k by CompareOut (unordered); k < n */
#define SELECT_NAME SelectTop
#define SELECT_T OutRow
#define SELECT_BETTER(a, b) (CompareOut(&(a), &(b)) < 0)
#include "select_impl.h"

/* Filters of a call */
typedef struct Filters
{
	const int64 *drop;			/* sorted: bought/given items (unless kept) */
	int			ndrop;
	const int64 *exclude;		/* sorted */
	int			nexclude;
	const int64 *allow;			/* sorted, NULL = everything */
	int			nallow;
} Filters;

/* May item be returned? */
static bool
Passes(const Filters *f, int64 item)
{
	if (f->ndrop > 0 && InSorted(f->drop, f->ndrop, item))
		return false;
	if (f->nexclude > 0 && InSorted(f->exclude, f->nexclude, item))
		return false;
	if (f->allow && !InSorted(f->allow, f->nallow, item))
		return false;
	return true;
}

/*
 * Append items of the current version from an index of rel that leads with
 * (model_id, version), in index order, that pass the filters and are not
 * listed yet, until out holds k rows; returns the new count.  The attribute
 * numbers are rel's (itemcf_tables.h).
 */
static int
FillFrom(ServeCtx *sc, Relation rel, Oid indexoid, AttrNumber modelatt, AttrNumber versionatt,
		 AttrNumber itematt, candmap_hash *cands, const Filters *f, int k, OutRow *out, int n)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Relation	idx;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;

	if (n >= k)
		return n;
	idx = index_open(indexoid, AccessShareLock);
	/* (model_id, version, ...): the rest of the key is the order wanted; heap attribute numbers, mapped by systable */
	ScanKeyInit(&keys[0], modelatt, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(sc->model.model_id));
	ScanKeyInit(&keys[1], versionatt, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(sc->model.version));
	scan = systable_beginscan_ordered(rel, idx, GetActiveSnapshot(), 2, keys);
	while (n < k && HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		bool		isnull;
		int64		item;
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (DatumGetInt64(heap_getattr(tup, versionatt, desc, &isnull)) != sc->model.version)
			continue;
		item = DatumGetInt64(heap_getattr(tup, itematt, desc, &isnull));
		if (!Passes(f, item) || candmap_lookup(cands, item) != NULL)
			continue;
		for (i = 0; i < n && out[i].item != item; i++)
			;
		if (i < n)
			continue;
		out[n].item = item;
		out[n].score = 0.0;
		out[n].because = 0;
		out[n].popular = true;
		n++;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	return n;
}

/*
 * The top k of the candidates that pass the filters, then popular items to
 * fill up to k; returns the number of rows written to out[0..k).
 */
static int
TopK(ServeCtx *sc, candmap_hash *cands, const Filters *f, int k, OutRow *out)
{
	candmap_iterator it;
	Cand	   *c;
	OutRow	   *all = palloc(Max(cands->members, 1) * sizeof(OutRow));
	int			n = 0;

	candmap_start_iterate(cands, &it);
	while ((c = candmap_iterate(cands, &it)) != NULL)
	{
		if (!Passes(f, c->item))
			continue;
		all[n].item = c->item;
		all[n].score = c->score;
		all[n].because = c->because;
		all[n].popular = false;
		n++;
	}
	if (n > k)
	{
		SelectTop(all, n, k);
		n = k;
	}
	qsort(all, n, sizeof(OutRow), CompareOut);
	memcpy(out, all, n * sizeof(OutRow));

	/*
	 * Fill with the most popular items not already listed; if still short (a
	 * heavy buyer or tight filters exhausted the stored popular items, which
	 * cover history_cap + 1000 items), with the rest of the catalogue (the
	 * items with neighbour lists) by id.
	 */
	if (sc->model.version != 0)
	{
		n = FillFrom(sc, sc->prel, sc->pidx, Anum_itemcf_popular_model_id, Anum_itemcf_popular_version,
					 Anum_itemcf_popular_item_id, cands, f, k, out, n);
		n = FillFrom(sc, sc->nrel, sc->nidx, Anum_itemcf_neighbors_model_id, Anum_itemcf_neighbors_version,
					 Anum_itemcf_neighbors_item_id, cands, f, k, out, n);
	}
	return n;
}

/* A score as the real returned: rounded, clamped to the largest finite real */
static inline float4
ScoreReal(double score)
{
	return (float4) Max(Min(score, (double) FLT_MAX), -(double) FLT_MAX);
}

/* Emit result rows (item_id, score, reason, because_item) */
static void
EmitRows(FunctionCallInfo fcinfo, const OutRow *rows, int n, const char *verb)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int64GetDatum(rows[i].item);
		values[1] = Float4GetDatum(ScoreReal(rows[i].score));
		if (rows[i].popular)
		{
			values[2] = CStringGetTextDatum("popular");
			nulls[3] = true;
		}
		else
		{
			values[2] = CStringGetTextDatum(rows[i].label ?
											psprintf("%s %s", verb, rows[i].label) :
											psprintf("%s " INT64_FORMAT, verb, rows[i].because));
			values[3] = Int64GetDatum(rows[i].because);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* Common body of recommend() and recommend_for_items() */
static Datum
Recommend(FunctionCallInfo fcinfo, bool for_user)
{
	int32		k;
	char	   *model;
	bool		keep;
	ServeCtx	sc;
	Bought	   *items;
	int			nitems = 0;
	int			nall = 0;
	Filters		f;
	int64	   *given;
	candmap_hash *cands;
	OutRow	   *out;
	int			n;
	int			i;

	/* NULL user, items, k, model or keep flag: no rows */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(5))
	{
		InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
		return (Datum) 0;
	}
	k = PG_GETARG_INT32(1);
	CheckK(k);
	model = text_to_cstring(PG_GETARG_TEXT_PP(2));
	keep = PG_GETARG_BOOL(5);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	OpenServe(fcinfo, model, &sc);
	if (sc.model.version == 0)
	{
		/* never built: nothing to serve */
		CloseServe(&sc);
		SPI_finish();
		InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
		return (Datum) 0;
	}

	if (for_user)
	{
		Interval   *half_life = (PG_NARGS() > 6 && !PG_ARGISNULL(6)) ? PG_GETARG_INTERVAL_P(6) : NULL;

		items = ServeReadPurchases(&sc.model, PG_GETARG_INT64(0), half_life, &nitems, &nall);
	}
	else
	{
		int			ng;
		int64	   *ids = SortedArray(fcinfo, 0, &ng);

		/* duplicates count once, also for the limit */
		items = palloc(Max(ng, 1) * sizeof(Bought));
		for (i = 0; i < ng; i++)
			if (i == 0 || ids[i] != ids[i - 1])
			{
				items[nitems].item = ids[i];
				items[nitems].weight = 1.0;
				items[nitems].time = 0;
				items[nitems].key = 0;
				nitems++;
			}
		if (nitems > SERVE_MAX_ITEMS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("at most %d distinct items can be given", SERVE_MAX_ITEMS),
					 errdetail("%d distinct items were given.", nitems)));
		nall = nitems;
	}

	/* Candidates: every neighbour of every item, summed */
	cands = candmap_create(CurrentMemoryContext, 256, NULL);	/* grows as needed */
	Accumulate(&sc, cands, items, nitems);

	/* drop every item bought, also those beyond the history cap */
	given = palloc(Max(nall, 1) * sizeof(int64));
	for (i = 0; i < nall; i++)
		given[i] = items[i].item;
	qsort(given, nall, sizeof(int64), CompareInt64);
	f.drop = given;
	f.ndrop = keep ? 0 : nall;
	f.exclude = SortedArray(fcinfo, 3, &f.nexclude);
	f.allow = SortedArray(fcinfo, 4, &f.nallow);

	out = SPI_palloc(k * sizeof(OutRow));	/* outlives SPI_finish */
	n = TopK(&sc, cands, &f, k, out);
	for (i = 0; i < n; i++)
	{
		out[i].label = NULL;
		if (!out[i].popular && sc.model.e->has_labels)
		{
			char	   *label = GetLabel(&sc, out[i].because);

			if (label)
			{
				/* outlives SPI_finish, as out does */
				out[i].label = SPI_palloc(strlen(label) + 1);
				strcpy(out[i].label, label);
			}
		}
	}
	CloseServe(&sc);
	SPI_finish();

	EmitRows(fcinfo, out, n, for_user ? "because you bought" : "because of");
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(itemcf_recommend);
/* recommend(user_id, k, model, exclude, allow, keep_bought, recency_half_life) */
Datum
itemcf_recommend(PG_FUNCTION_ARGS)
{
	return Recommend(fcinfo, true);
}

PG_FUNCTION_INFO_V1(itemcf_recommend_for_items);
/* recommend_for_items(item_ids, k, model, exclude, allow, keep_given) */
Datum
itemcf_recommend_for_items(PG_FUNCTION_ARGS)
{
	return Recommend(fcinfo, false);
}

PG_FUNCTION_INFO_V1(itemcf_similar_items);
/* similar_items(item_id, k, model, exclude, allow): the item's stored neighbours */
Datum
itemcf_similar_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ServeCtx	sc;
	Filters		f;
	SVec	   *v;
	OutRow	   *rows;
	int			n = 0;
	int32		k;
	int			e;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	k = PG_GETARG_INT32(1);
	CheckK(k);

	OpenServe(fcinfo, text_to_cstring(PG_GETARG_TEXT_PP(2)), &sc);
	v = GetNeighbors(&sc, PG_GETARG_INT64(0));
	CloseServe(&sc);
	if (v == NULL)
		return (Datum) 0;

	memset(&f, 0, sizeof(f));
	f.exclude = SortedArray(fcinfo, 3, &f.nexclude);
	f.allow = SortedArray(fcinfo, 4, &f.nallow);
	rows = palloc(Max(v->nnz, 1) * sizeof(OutRow));
	for (e = 0; e < v->nnz; e++)
	{
		int64		item = SVecIndex(v, e);

		if (!Passes(&f, item))
			continue;
		rows[n].item = item;
		rows[n].score = SVEC_VALUES(v)[e];
		n++;
	}
	qsort(rows, n, sizeof(OutRow), CompareOut);
	for (e = 0; e < Min(n, k); e++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(rows[e].item);
		values[1] = Float4GetDatum(ScoreReal(rows[e].score));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
