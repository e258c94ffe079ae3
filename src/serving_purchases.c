/*
 * serving_purchases.c — the user's purchases that recommend() scores from.
 *
 * They come from the model's source, an arbitrary table or view, read with
 * the settings the current version was built with (serving_model.c) and as
 * the model's owner, so that the owner's privileges and row-level security
 * apply exactly as in a rebuild.  Two reads, one result:
 *
 *  - the fast path: a plain table read directly through its btree index on
 *    the user column, under the query's snapshot, when that reads exactly
 *    the rows a query would (ReadPurchasesDirect says when);
 *  - otherwise a query prepared once per session and model version
 *    (SPI_keepplan, kept in the model's ModelEntry) and run through
 *    itemcf_run_as (run_as.c): as the owner, security-restricted, with
 *    search_path pinned.
 *
 * Both only fetch the user's rows; which rows count, and how they collapse
 * into distinct items, is decided once below (PurchaseRule, AddRow,
 * DistinctLatest), where the comment says how it matches the build.  The
 * history cap and recency weights are applied last (ServeReadPurchases).
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "cf_collect.h"
#include "cf_kernel.h"
#include "cf_purchase.h"
#include "itemcf.h"
#include "serving.h"

/*
 * The user's purchases, applied in C to the rows of either read (the fast
 * path and the query below), by the build's own rule (cf_purchase.h):
 *
 *   The source's rows whose user column equals the user, that are
 *   purchases by cf_purchase_row (the item not NULL, a usable weight,
 *   and with a time window a known time not before the window's start,
 *   which is time_window before the window's end).  Each distinct item
 *   counts once, with its latest time (DT_NOBEGIN, like -infinity, if it
 *   has none).  Items beyond the history cap are kept out of the scoring
 *   (cf_cap_key / cf_cap_compare order, the build's own rule) but still
 *   dropped from the answer.
 *
 * The build applies the same functions to every user at once: its query
 * (_itemcf_build_query() in src/models.sql) casts the same columns the same
 * way (item::bigint, time::timestamptz, the weight by CfWeightSql) and
 * passes the window's start as the aggregate's "since" option; the
 * aggregate's transition classifies each row by cf_purchase_row, and the
 * kernel's per-user merge keeps each (user, item) once with its latest
 * time, then caps the history by cf_cap_compare.  So serving scores from
 * exactly the items the build counted for the user, given the same rows
 * and window start.  Weights themselves do not weigh in serving (a bought
 * item weighs 1, or its recency weight): only whether a row is a purchase.
 */
typedef struct PurchaseRule
{
	int64		since;			/* the window's start; CF_TIME_NONE: no window */
} PurchaseRule;

/* The rows that count, as they are read (an item may repeat) */
typedef struct Purchases
{
	Bought	   *b;
	int			n;
	int			cap;
} Purchases;

/* Add a row of the user to p if it counts */
static void
AddRow(Purchases *p, const PurchaseRule *rule, bool item_null, int64 item, bool weight_null, float weight,
	   bool time_null, TimestampTz t)
{
	if (cf_purchase_row(item_null, weight_null, weight, time_null ? CF_TIME_NONE : t, rule->since) != CF_ROW_PURCHASE)
		return;
	if (p->n == p->cap)
	{
		p->cap *= 2;
		p->b = repalloc_huge(p->b, (Size) p->cap * sizeof(Bought));
	}
	p->b[p->n].item = item;
	p->b[p->n].time = time_null ? DT_NOBEGIN : t;
	p->b[p->n].weight = 1.0;
	p->b[p->n].key = 0;
	p->n++;
}

/*
 * Open the model's source and find its columns, checked as its purchases
 * query would be (it exists, has the columns, its owner may use its schema)
 * but with errors that say what to do.  The lock is kept to the end of the
 * transaction, as a query keeps it.
 */
static Relation
OpenSource(const ServeModel *m, AttrNumber *ua, AttrNumber *ia, AttrNumber *wa, AttrNumber *ta)
{
	const ModelEntry *s = m->e;
	Relation	rel = try_relation_open(s->source, AccessShareLock);
	const char *cols[4] = {s->user_column, s->item_column, s->weight_column, s->time_column};
	AttrNumber *nums[4] = {ua, ia, wa, ta};
	Oid			nsp;
	int			i;

	/* the purchases are read as the owner: a dropped owner (DROP OWNED, then DROP ROLE) reads nothing */
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(m->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of model \"%s\" (role %u) no longer exists", m->name, m->owner),
				 errdetail("recommend() reads the user's purchases as the model's owner."),
				 errhint("Hand the model to another role with itemcf_reassign_models(), or drop it.")));
	if (rel != NULL && !(rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_VIEW ||
						 rel->rd_rel->relkind == RELKIND_MATVIEW ||
						 rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ||
						 rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE))
	{
		relation_close(rel, AccessShareLock);
		rel = NULL;
	}
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source of model \"%s\" does not exist", m->name),
				 errdetail("The table or view the model was built from was dropped."),
				 errhint("Point the model at a new source with itemcf_alter_model() and rebuild it with itemcf_rebuild().")));

	nsp = RelationGetNamespace(rel);
	for (i = 0; i < 4; i++)
	{
		*nums[i] = InvalidAttrNumber;
		if (cols[i] == NULL)
			continue;
		*nums[i] = get_attnum(RelationGetRelid(rel), cols[i]);
		if (*nums[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of the source of model \"%s\" does not exist", cols[i], m->name),
					 errdetail("Relation %s has no column %s; it was renamed or dropped after the model was built.",
							   quote_qualified_identifier(get_namespace_name(nsp), RelationGetRelationName(rel)),
							   quote_identifier(cols[i])),
					 errhint("Point the model at the right column with itemcf_alter_model() and rebuild it with itemcf_rebuild().")));
	}

	/* the query names the source by schema: its owner needs USAGE there, as in a rebuild */
	if (itemcf_namespace_aclcheck(nsp, m->owner, ACL_USAGE) != ACLCHECK_OK)
	{
		char	   *role = GetUserNameFromId(m->owner, true);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot read the source of model \"%s\"", role ? role : "?", m->name),
				 errdetail("The role has no USAGE privilege on schema \"%s\" of the source.", get_namespace_name(nsp)),
				 errhint("GRANT USAGE ON SCHEMA %s TO %s.", quote_identifier(get_namespace_name(nsp)),
						 quote_identifier(role ? role : "?"))));
	}
	return rel;
}

/* The prepared purchases query of a model, (re)made when the model or the source's name changed */
static SPIPlanPtr
PurchasesPlan(const ServeModel *m, Relation src)
{
	ModelEntry *e = m->e;

	/* the text names the source: a renamed source needs a new text, never a re-parse of the old */
	if (e->plan && (e->plan_nsp != RelationGetNamespace(src) ||
					strcmp(NameStr(e->plan_relname), RelationGetRelationName(src)) != 0))
	{
		SPI_freeplan(e->plan);
		e->plan = NULL;
	}
	if (e->plan == NULL)
	{
		char	   *relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(src)),
														 RelationGetRelationName(src));
		char	   *sql;
		Oid			types[1] = {INT8OID};
		SPIPlanPtr	plan;

		/*
		 * Every row of the user, with the item, time and weight cast as the
		 * build's query casts them; which rows count is decided in C
		 * (cf_purchase_row).
		 * Every operator, function and type qualified: the caller's
		 * search_path must not matter.
		 */
		sql = psprintf("SELECT %s::pg_catalog.int8, %s::pg_catalog.timestamptz, %s FROM %s "
					   "WHERE %s OPERATOR(pg_catalog.=) $1",
					   quote_identifier(e->item_column),
					   e->time_column ? quote_identifier(e->time_column) : "NULL",
					   CfWeightSql(e->weight_column), relname,
					   quote_identifier(e->user_column));
		plan = SPI_prepare(sql, 1, types);
		if (plan == NULL)
			elog(ERROR, "could not prepare the purchases query of model \"%s\": %s",
				 m->name, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		/* kept only once it exists, so an error leaves no half entry */
		e->plan = plan;
		e->plan_nsp = RelationGetNamespace(src);
		namestrcpy(&e->plan_relname, RelationGetRelationName(src));
	}
	return e->plan;
}

/* The history-cap order, shared with the build (cf_cap_compare); keys set by the caller */
static int
CompareCapOrder(const void *a, const void *b)
{
	const Bought *x = (const Bought *) a;
	const Bought *y = (const Bought *) b;

	return cf_cap_compare(x->key, x->item, y->key, y->item);
}

/* int2/int4/int8 datum as int64 */
static inline int64
IntegerDatum(Datum d, Oid type)
{
	return type == INT8OID ? DatumGetInt64(d) :
		type == INT4OID ? (int64) DatumGetInt32(d) : (int64) DatumGetInt16(d);
}

/*
 * A weight column's datum (float4, float8 or an integer type; *null set by
 * the caller for SQL NULL) as the real the build's query makes of it
 * (CfWeightSql): NULL (*null) for a value real cannot hold
 */
static inline float
WeightDatum(Datum d, Oid type, bool *null)
{
	if (*null)
		return 0.0f;
	switch (type)
	{
		case FLOAT4OID:
			/* compared in double precision, as the SQL compares real with its numeric bounds */
			return cf_weight_from_double((double) DatumGetFloat4(d), null);
		case FLOAT8OID:
			return cf_weight_from_double(DatumGetFloat8(d), null);
		default:
			/* every integer is within real's range; ::float4 rounds it to the nearest real */
			return (float) IntegerDatum(d, type);
	}
}

/* Order bought rows by item, then time descending */
static int
CompareItemTime(const void *a, const void *b)
{
	const Bought *x = (const Bought *) a;
	const Bought *y = (const Bought *) b;

	if (x->item != y->item)
		return x->item < y->item ? -1 : 1;
	return (x->time < y->time) - (x->time > y->time);
}

/* Keep each item of b[0..n) once, with its latest time; returns the new count */
static int
DistinctLatest(Bought *b, int n)
{
	int			i;
	int			out;

	qsort(b, n, sizeof(Bought), CompareItemTime);
	for (i = 0, out = 0; i < n; i++)
		if (out == 0 || b[out - 1].item != b[i].item)
			b[out++] = b[i];
	return out;
}

/*
 * The fast path of ServeReadPurchases, for what it can read exactly as the query
 * would: a plain table (relkind 'r') without inheritance children (the query
 * reads those too) and without row-level security, with integer id columns,
 * a timestamptz time column (or none), a valid btree index of the integer
 * operator family leading with the user column, and the SELECT privileges
 * the query's columns need (the table's, or each column's).  Then it reads
 * the user's rows with that index directly, under the same snapshot, into
 * p.  Returns false when it does not apply, and the query path runs instead.
 */
static bool
ReadPurchasesDirect(const ServeModel *m, Relation rel, AttrNumber ua, AttrNumber ia, AttrNumber wa,
					AttrNumber ta, int64 user_id, const PurchaseRule *rule, Purchases *p)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			ut = TupleDescAttr(desc, ua - 1)->atttypid;
	Oid			it = TupleDescAttr(desc, ia - 1)->atttypid;
	Oid			wt = wa > 0 ? TupleDescAttr(desc, wa - 1)->atttypid : FLOAT4OID;
	Oid			idxoid = InvalidOid;
	List	   *indexes;
	ListCell   *lc;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	RegProcedure eqproc;
	int64		nrows = 0;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relrowsecurity ||
		(ta > 0 && TupleDescAttr(desc, ta - 1)->atttypid != TIMESTAMPTZOID) ||
		(ut != INT8OID && ut != INT4OID && ut != INT2OID) ||
		(it != INT8OID && it != INT4OID && it != INT2OID) ||
		(wt != FLOAT4OID && wt != FLOAT8OID && wt != INT8OID && wt != INT4OID && wt != INT2OID) ||
		(pg_class_aclcheck(relid, m->owner, ACL_SELECT) != ACLCHECK_OK &&
		 (pg_attribute_aclcheck(relid, ua, m->owner, ACL_SELECT) != ACLCHECK_OK ||
		  pg_attribute_aclcheck(relid, ia, m->owner, ACL_SELECT) != ACLCHECK_OK ||
		  (wa > 0 && pg_attribute_aclcheck(relid, wa, m->owner, ACL_SELECT) != ACLCHECK_OK) ||
		  (ta > 0 && pg_attribute_aclcheck(relid, ta, m->owner, ACL_SELECT) != ACLCHECK_OK))))
		return false;

	/*
	 * A valid, non-partial btree index whose first key is the user column,
	 * in the integer operator family (whose = the query's is), and usable
	 * under this snapshot (indcheckxmin, as the planner checks it)
	 */
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	cand = index_open(lfirst_oid(lc), AccessShareLock);
		bool		ok = cand->rd_rel->relam == BTREE_AM_OID && cand->rd_index->indisvalid &&
			cand->rd_index->indkey.values[0] == ua && cand->rd_opfamily[0] == INTEGER_BTREE_FAM_OID &&
			(!cand->rd_index->indcheckxmin ||
			 TransactionIdPrecedes(HeapTupleHeaderGetXmin(cand->rd_indextuple->t_data), TransactionXmin)) &&
			RelationGetIndexPredicate(cand) == NIL;

		index_close(cand, AccessShareLock);
		if (ok)
		{
			idxoid = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	if (!OidIsValid(idxoid))
		return false;

	/* user = $1 with the btree cross-type equality for the column's width */
	eqproc = ut == INT8OID ? F_INT8EQ : ut == INT4OID ? F_INT48EQ : F_INT28EQ;
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, INT8OID, InvalidOid, eqproc,
						   Int64GetDatum(user_id));
	idx = index_open(idxoid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	scan = itemcf_index_beginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		item_null;
		bool		time_null = true;
		Datum		d = slot_getattr(slot, ia, &item_null);
		Datum		td = ta > 0 ? slot_getattr(slot, ta, &time_null) : (Datum) 0;
		bool		weight_null = false;
		float		w = 1.0f;

		if (wa > 0)
			w = WeightDatum(slot_getattr(slot, wa, &weight_null), wt, &weight_null);
		AddRow(p, rule, item_null, item_null ? 0 : IntegerDatum(d, it), weight_null, w,
			   time_null, time_null ? DT_NOBEGIN : DatumGetTimestampTz(td));
		if ((++nrows & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	return true;
}

/* The purchases query of a call, run by itemcf_run_as */
typedef struct PurchasesQueryArgs
{
	const ServeModel *m;
	Relation	src;
	Datum	   *args;
	int			ret;
} PurchasesQueryArgs;

/* Prepare (once per session and model version) and run the purchases query */
static void
RunPurchasesQuery(void *arg)
{
	PurchasesQueryArgs *q = (PurchasesQueryArgs *) arg;

	q->ret = SPI_execute_plan(PurchasesPlan(q->m, q->src), q->args, NULL, true, 0);
}

/* Run the model's purchases query as its owner, adding the rows that count to p */
static void
ReadPurchasesQuery(const ServeModel *m, Relation src, int64 user_id, const PurchaseRule *rule,
				   Purchases *p)
{
	Datum		args[1] = {Int64GetDatum(user_id)};
	PurchasesQueryArgs q = {m, src, args, 0};
	uint64		i;

	/* prepared and run as the owner, sealed off (run_as.c): the caller needs no access to the source */
	itemcf_run_as(m->owner, RunPurchasesQuery, &q);
	if (q.ret != SPI_OK_SELECT)
		elog(ERROR, "purchases query of model \"%s\" failed: %s", m->name, SPI_result_code_string(q.ret));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		item_null;
		bool		time_null;
		Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &item_null);
		Datum		td = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &time_null);
		bool		weight_null;
		Datum		wd = SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &weight_null);

		AddRow(p, rule, item_null, item_null ? 0 : DatumGetInt64(d),
			   weight_null, weight_null ? 0.0f : DatumGetFloat4(wd),
			   time_null, time_null ? DT_NOBEGIN : DatumGetTimestampTz(td));
	}
	SPI_freetuptable(SPI_tuptable);
}

/* A half-life in seconds (months of 30 days), checked to be positive */
static double
HalfLifeSeconds(const Interval *half_life)
{
	double		hl = (double) half_life->time / USECS_PER_SEC +
		(half_life->day + half_life->month * 30.0) * SECS_PER_DAY;

	if (!(hl > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency half-life must be positive"),
				 errdetail("The half-life is %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(half_life))))));
	return hl;
}

/*
 * The user's distinct items from the model's source (within its window),
 * capped like the build caps histories (cf_cap_key); read as the model's
 * owner.  With a half-life each item weighs 0.5^(age / half-life), its age
 * measured from the user's most recent purchase (which weighs 1), so that
 * the weights keep their ratios however old the history is; an item without
 * a purchase time weighs 0.
 */
Bought *
ServeReadPurchases(const ServeModel *m, int64 user_id, Interval *half_life, int *n_out, int *n_all)
{
	const ModelEntry *s = m->e;
	PurchaseRule rule;
	Purchases	p;
	Bought	   *b;
	Relation	src;
	AttrNumber	ua;
	AttrNumber	ia;
	AttrNumber	wa;
	AttrNumber	ta;
	double		hl = 0.0;
	uint64		i;
	int			n;

	if (half_life)
	{
		hl = HalfLifeSeconds(half_life);
		if (s->time_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model \"%s\" has no time column, so purchases cannot be weighted by recency",
							m->name),
					 errhint("Give the model a time_column with itemcf_alter_model() and rebuild it.")));
	}

	/*
	 * The window starts time_window before its end, as in the build: the
	 * newest purchase the build saw (window_anchor newest), else the
	 * transaction's start
	 */
	rule.since = s->time_window != NULL && s->time_column != NULL ?
		DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												TimestampTzGetDatum(s->has_window_end ? s->window_end :
																	GetCurrentTransactionStartTimestamp()),
												IntervalPGetDatum(s->time_window))) : CF_TIME_NONE;

	src = OpenSource(m, &ua, &ia, &wa, &ta);
	p.cap = 16;
	p.n = 0;
	p.b = palloc(p.cap * sizeof(Bought));
	if (!ReadPurchasesDirect(m, src, ua, ia, wa, ta, user_id, &rule, &p))
		ReadPurchasesQuery(m, src, user_id, &rule, &p);
	relation_close(src, NoLock);
	b = p.b;
	n = DistinctLatest(b, p.n);

	/* the same cap as the build */
	for (i = 0; i < (uint64) n; i++)
		b[i].key = cf_cap_key(s->time_column != NULL, user_id, b[i].item, b[i].time);
	qsort(b, n, sizeof(Bought), CompareCapOrder);
	*n_all = n;					/* all of them are dropped from the answer */
	if (s->history_cap > 0 && n > s->history_cap)
		n = s->history_cap;

	if (half_life)
	{
		TimestampTz newest = DT_NOBEGIN;

		for (i = 0; i < (uint64) n; i++)
			newest = Max(newest, b[i].time);
		for (i = 0; i < (uint64) n; i++)
		{
			/* in double: the difference of two timestamps may not fit in int64 */
			double		age = ((double) newest - (double) b[i].time) / USECS_PER_SEC;

			b[i].weight = b[i].time == DT_NOBEGIN ? 0.0 : pow(0.5, age / hl);
		}
	}
	*n_out = n;
	return b;
}
