/*
 * serving.c — recommend(), recommend_for_items() and similar_items().
 *
 * These run on every page impression, so they avoid the executor wherever
 * they can: the model row, the neighbour lists and the popular items are
 * read with direct index scans of the extension's own tables (btree lookups
 * under the query's snapshot, no planning, no permission checks: EXECUTE on
 * the function is the gate).  Only the user's purchases come from the
 * model's source, an arbitrary table or view, read with the settings the
 * current version was built with (built_settings): from a plain table
 * directly through its user index when that reads exactly what the query
 * would, else by a query prepared once per session and model version
 * (SPI_keepplan) that runs as the model's owner, so the owner's privileges
 * and row-level security apply, exactly as in a rebuild.
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
#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "cf_kernel.h"
#include "itemcf.h"
#include "svec.h"

#define SERVE_MAX_K 1000
#define SERVE_MAX_ITEMS 10000	/* items in a basket / session */

/*
 * What serving reads of a model's source: the settings of its current
 * version (the model row's built_settings, written by the rebuild that made
 * it), so that itemcf_alter_model() takes effect at the next rebuild and
 * never mixes new settings with old neighbour lists.  Kept per session and
 * model, with the prepared purchases query, and read again only when the
 * model row changes (a rebuild or an alter: once per version, not per call).
 */
typedef struct ModelEntry
{
	int32		model_id;		/* hash key */
	int64		version;		/* the model row these come from: version, xmin, tid */
	TransactionId xmin;
	ItemPointerData tid;
	MemoryContext cxt;			/* the strings below; NULL while the entry is empty */
	Oid			source;
	char	   *user_column;
	char	   *item_column;
	char	   *time_column;	/* NULL if none */
	Interval   *time_window;	/* NULL if none */
	int32		history_cap;
	SPIPlanPtr	plan;			/* the purchases query, NULL until it is first needed */
	Oid			plan_nsp;		/* the source's schema and name the plan's text names */
	NameData	plan_relname;
} ModelEntry;

static HTAB *model_cache = NULL;

/* What serving needs of a model row */
typedef struct ServeModel
{
	int32		model_id;
	char	   *name;
	Oid			owner;
	int64		version;		/* current version; 0 if never built */
	ModelEntry *e;				/* the settings of that version; NULL if never built */
} ServeModel;

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

/* A bought (or given) item with its weight */
typedef struct Bought
{
	int64		item;
	double		weight;
	int64		time;			/* latest purchase; DT_NOBEGIN if unknown */
	uint64		key;			/* history-cap key (cf_cap_key) */
} Bought;

/* The extension's schema: the namespace of the called function */
static Oid
ExtensionSchema(FunctionCallInfo fcinfo)
{
	return get_func_namespace(fcinfo->flinfo->fn_oid);
}

/* OID of one of the extension's relations, or an error if it is missing */
static Oid
ExtensionRelation(Oid nsp, const char *name)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" of extension itemcf is missing", name),
				 errhint("Reinstall the extension.")));
	return relid;
}

/* Text of a name-typed or text-typed attribute, or NULL */
static char *
GetTextAttr(HeapTuple tup, TupleDesc desc, const char *attname)
{
	bool		isnull;
	Datum		d;

	d = heap_getattr(tup, SPI_fnumber(desc, attname), desc, &isnull);
	if (isnull)
		return NULL;
	if (TupleDescAttr(desc, SPI_fnumber(desc, attname) - 1)->atttypid == NAMEOID)
		return pstrdup(NameStr(*DatumGetName(d)));
	return TextDatumGetCString(d);
}

/* Raise the error of a built_settings value that is missing or of the wrong kind */
static void
BadBuiltSettings(const char *model, const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("built settings of model \"%s\" are invalid", model),
			 errdetail("Key \"%s\" of built_settings is missing or not %s.", key, what),
			 errhint("Rebuild the model with itemcf_rebuild().")));
}

/* An integer of built_settings between lo and hi */
static int64
BuiltInteger(Jsonb *jb, const char *model, const char *key, int64 lo, int64 hi)
{
	JsonbValue	v;
	int64		x;

	if (getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v) == NULL || v.type != jbvNumeric)
		BadBuiltSettings(model, key, "a number");
	x = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric)));
	if (x < lo || x > hi)
		BadBuiltSettings(model, key, "a number in range");
	return x;
}

/* A string of built_settings (NULL for a JSON null when nullable) */
static char *
BuiltText(Jsonb *jb, const char *model, const char *key, bool nullable)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v) == NULL)
		BadBuiltSettings(model, key, nullable ? "a string or null" : "a string");
	if (v.type == jbvNull && nullable)
		return NULL;
	if (v.type != jbvString)
		BadBuiltSettings(model, key, nullable ? "a string or null" : "a string");
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/*
 * Read the settings serving needs into s, in the current memory context:
 * from built_settings, or from the live columns when it is NULL (or absent:
 * the 0.1.0 tables before ALTER EXTENSION UPDATE)
 */
static void
ReadSettings(const char *model, HeapTuple tup, TupleDesc desc, ModelEntry *s)
{
	int			att = SPI_fnumber(desc, "built_settings");
	bool		isnull = true;
	Datum		d = (Datum) 0;

	if (att > 0)
		d = heap_getattr(tup, att, desc, &isnull);
	if (!isnull)
	{
		Jsonb	   *jb = DatumGetJsonbP(d);
		char	   *tw;

		/* the source as a regclass column of its own: pg_dump keeps it by name, OIDs it would not */
		s->source = DatumGetObjectId(heap_getattr(tup, SPI_fnumber(desc, "built_source"), desc, &isnull));
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("built settings of model \"%s\" are invalid", model),
					 errdetail("Its built_source is NULL while its built_settings are set."),
					 errhint("Rebuild the model with itemcf_rebuild().")));
		s->user_column = BuiltText(jb, model, "user_column", false);
		s->item_column = BuiltText(jb, model, "item_column", false);
		s->time_column = BuiltText(jb, model, "time_column", true);
		tw = BuiltText(jb, model, "time_window", true);
		s->time_window = tw == NULL ? NULL :
			DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(tw),
												  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		s->history_cap = (int32) BuiltInteger(jb, model, "history_cap", 0, PG_INT32_MAX);
		return;
	}
	s->source = DatumGetObjectId(heap_getattr(tup, SPI_fnumber(desc, "source"), desc, &isnull));
	s->user_column = GetTextAttr(tup, desc, "user_column");
	s->item_column = GetTextAttr(tup, desc, "item_column");
	s->time_column = GetTextAttr(tup, desc, "time_column");
	d = heap_getattr(tup, SPI_fnumber(desc, "time_window"), desc, &isnull);
	s->time_window = isnull ? NULL : DatumGetIntervalP(datumCopy(d, false, sizeof(Interval)));
	s->history_cap = DatumGetInt32(heap_getattr(tup, SPI_fnumber(desc, "history_cap"), desc, &isnull));
}

/* The session's entry of the built model m (row tup), read again if the row changed */
static ModelEntry *
ModelSettings(const ServeModel *m, HeapTuple tup, TupleDesc desc)
{
	ModelEntry *e;
	ModelEntry	s;
	bool		found;
	MemoryContext cxt;
	MemoryContext old;

	if (model_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(ModelEntry);
		model_cache = hash_create("itemcf serving models", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	e = hash_search(model_cache, &m->model_id, HASH_ENTER, &found);
	if (!found)
	{
		e->cxt = NULL;
		e->plan = NULL;
		e->version = -1;		/* matches no row: filled below */
	}
	else if (e->version == m->version && e->xmin == HeapTupleHeaderGetXmin(tup->t_data) &&
			 ItemPointerEquals(&e->tid, &tup->t_self))
		return e;

	/* read into a context of this call, kept only once complete (an error leaves the entry as it was) */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "itemcf serving model", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	memset(&s, 0, sizeof(s));
	ReadSettings(m->name, tup, desc, &s);
	MemoryContextSwitchTo(old);

	if (e->plan)
		SPI_freeplan(e->plan);
	if (e->cxt)
		MemoryContextDelete(e->cxt);
	MemoryContextSetParent(cxt, CacheMemoryContext);
	s.model_id = m->model_id;
	s.version = m->version;
	s.xmin = HeapTupleHeaderGetXmin(tup->t_data);
	s.tid = tup->t_self;
	s.cxt = cxt;
	s.plan = NULL;
	*e = s;
	return e;
}

/* Read the model row by name with an index scan; raise if there is none */
static void
GetModel(Oid nsp, const char *name, ServeModel *m)
{
	Relation	rel = table_open(ExtensionRelation(nsp, "itemcf_models"), AccessShareLock);
	Oid			idx = ExtensionRelation(nsp, "itemcf_models_name_key");
	TupleDesc	desc = RelationGetDescr(rel);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;

	ScanKeyInit(&key, SPI_fnumber(desc, "name"), BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(name));
	scan = systable_beginscan(rel, idx, true, GetActiveSnapshot(), 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup) && strcmp(name, "default") == 0)
	{
		/* the default model exists before its first rebuild, with nothing to serve */
		memset(m, 0, sizeof(*m));
		m->name = pstrdup(name);
		m->model_id = -1;
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		return;
	}
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("See the models in itemcf_models.")));

	m->model_id = DatumGetInt32(heap_getattr(tup, SPI_fnumber(desc, "model_id"), desc, &isnull));
	m->name = pstrdup(name);
	m->owner = DatumGetObjectId(heap_getattr(tup, SPI_fnumber(desc, "owner"), desc, &isnull));
	d = heap_getattr(tup, SPI_fnumber(desc, "current_version"), desc, &isnull);
	m->version = isnull ? 0 : DatumGetInt64(d);
	/* a model never built serves nothing, so it needs no settings */
	m->e = m->version != 0 ? ModelSettings(m, tup, desc) : NULL;

	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * Open the model's source and find its columns, checked as its purchases
 * query would be (it exists, has the columns, its owner may use its schema)
 * but with errors that say what to do.  The lock is kept to the end of the
 * transaction, as a query keeps it.
 */
static Relation
OpenSource(const ServeModel *m, AttrNumber *ua, AttrNumber *ia, AttrNumber *ta)
{
	const ModelEntry *s = m->e;
	Relation	rel = try_relation_open(s->source, AccessShareLock);
	const char *cols[3] = {s->user_column, s->item_column, s->time_column};
	AttrNumber *nums[3] = {ua, ia, ta};
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
	for (i = 0; i < 3; i++)
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
		Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		/* every operator, function and type qualified: the caller's search_path must not matter */
		if (e->time_column)
			sql = psprintf("SELECT %s::pg_catalog.int8, pg_catalog.max(%s::pg_catalog.timestamptz) FROM %s "
						   "WHERE %s OPERATOR(pg_catalog.=) $1 AND %s IS NOT NULL "
						   "AND (%s::pg_catalog.timestamptz OPERATOR(pg_catalog.>=) $2 OR $2 IS NULL) GROUP BY 1",
						   quote_identifier(e->item_column), quote_identifier(e->time_column), relname,
						   quote_identifier(e->user_column), quote_identifier(e->item_column),
						   quote_identifier(e->time_column));
		else
			sql = psprintf("SELECT DISTINCT %s::pg_catalog.int8, NULL::pg_catalog.timestamptz FROM %s "
						   "WHERE %s OPERATOR(pg_catalog.=) $1 AND %s IS NOT NULL",
						   quote_identifier(e->item_column), relname,
						   quote_identifier(e->user_column), quote_identifier(e->item_column));
		plan = SPI_prepare(sql, 2, types);
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

/*
 * The fast path of ReadPurchases, for what it can read exactly as the query
 * would: a plain table (relkind 'r') without inheritance children (the query
 * reads those too) and without row-level security, with integer id columns,
 * a timestamptz time column (or none), a valid btree index of the integer
 * operator family leading with the user column, and the SELECT privileges
 * the query's columns need (the table's, or each column's).  Then it reads
 * the user's rows with that index directly, under the same snapshot.
 * Returns NULL when it does not apply, and the query path runs instead.
 */
static Bought *
ReadPurchasesDirect(const ServeModel *m, Relation rel, AttrNumber ua, AttrNumber ia, AttrNumber ta,
					int64 user_id, bool has_since, TimestampTz since, int *n_out)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			ut = TupleDescAttr(desc, ua - 1)->atttypid;
	Oid			it = TupleDescAttr(desc, ia - 1)->atttypid;
	Oid			idxoid = InvalidOid;
	List	   *indexes;
	ListCell   *lc;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	RegProcedure eqproc;
	Bought	   *b;
	int			cap = 16;
	int			n = 0;
	int			out;
	int			i;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relrowsecurity ||
		(ta > 0 && TupleDescAttr(desc, ta - 1)->atttypid != TIMESTAMPTZOID) ||
		(ut != INT8OID && ut != INT4OID && ut != INT2OID) ||
		(it != INT8OID && it != INT4OID && it != INT2OID) ||
		(pg_class_aclcheck(relid, m->owner, ACL_SELECT) != ACLCHECK_OK &&
		 (pg_attribute_aclcheck(relid, ua, m->owner, ACL_SELECT) != ACLCHECK_OK ||
		  pg_attribute_aclcheck(relid, ia, m->owner, ACL_SELECT) != ACLCHECK_OK ||
		  (ta > 0 && pg_attribute_aclcheck(relid, ta, m->owner, ACL_SELECT) != ACLCHECK_OK))))
		return NULL;

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
		return NULL;

	/* user = $1 with the btree cross-type equality for the column's width */
	eqproc = ut == INT8OID ? F_INT8EQ : ut == INT4OID ? F_INT48EQ : F_INT28EQ;
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, INT8OID, InvalidOid, eqproc,
						   Int64GetDatum(user_id));
	idx = index_open(idxoid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	scan = itemcf_index_beginscan(rel, idx, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	b = palloc(cap * sizeof(Bought));
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, ia, &isnull);
		TimestampTz t = DT_NOBEGIN;

		if (isnull)
			continue;
		if (ta > 0)
		{
			Datum		td = slot_getattr(slot, ta, &isnull);

			if (isnull ? has_since : (has_since && DatumGetTimestampTz(td) < since))
				continue;
			if (!isnull)
				t = DatumGetTimestampTz(td);
		}
		if (n == cap)
		{
			cap *= 2;
			b = repalloc_huge(b, cap * sizeof(Bought));
		}
		b[n].item = IntegerDatum(d, it);
		b[n].time = t;
		b[n].weight = 1.0;
		n++;
		if ((n & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);

	/* distinct items, each with its latest time (GROUP BY item, max(time)) */
	qsort(b, n, sizeof(Bought), CompareItemTime);
	for (i = 0, out = 0; i < n; i++)
		if (out == 0 || b[out - 1].item != b[i].item)
			b[out++] = b[i];
	*n_out = out;
	return b;
}

/* The purchases query of a call, run by itemcf_run_as */
typedef struct PurchasesQueryArgs
{
	const ServeModel *m;
	Relation	src;
	Datum	   *args;
	char	   *nulls;
	int			ret;
} PurchasesQueryArgs;

/* Prepare (once per session and model version) and run the purchases query */
static void
RunPurchasesQuery(void *arg)
{
	PurchasesQueryArgs *q = (PurchasesQueryArgs *) arg;

	q->ret = SPI_execute_plan(PurchasesPlan(q->m, q->src), q->args, q->nulls, true, 0);
}

/* Run the model's purchases query as its owner: rows (item, latest time) as Bought entries */
static Bought *
ReadPurchasesQuery(const ServeModel *m, Relation src, Datum *args, char *nulls, int *n_out)
{
	PurchasesQueryArgs q = {m, src, args, nulls, 0};
	int			ret;
	Bought	   *b;
	uint64		i;
	int			n;

	/* prepared and run as the owner, sealed off (run_as.c): the caller needs no access to the source */
	itemcf_run_as(m->owner, RunPurchasesQuery, &q);
	ret = q.ret;
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "purchases query of model \"%s\" failed: %s", m->name, SPI_result_code_string(ret));

	b = palloc(Max(SPI_processed, 1) * sizeof(Bought));

	for (i = 0, n = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (isnull)
			continue;
		b[n].item = DatumGetInt64(d);
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		b[n].time = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
		b[n].weight = 1.0;
		n++;
	}
	SPI_freetuptable(SPI_tuptable);
	*n_out = n;
	return b;
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
static Bought *
ReadPurchases(const ServeModel *m, int64 user_id, Interval *half_life, int *n_out, int *n_all)
{
	const ModelEntry *s = m->e;
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	Bought	   *b;
	Relation	src;
	AttrNumber	ua;
	AttrNumber	ia;
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

	args[0] = Int64GetDatum(user_id);
	if (s->time_window)
		args[1] = DirectFunctionCall2(timestamptz_mi_interval,
									  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
									  IntervalPGetDatum(s->time_window));
	else
	{
		args[1] = (Datum) 0;
		nulls[1] = 'n';
	}

	src = OpenSource(m, &ua, &ia, &ta);
	b = ReadPurchasesDirect(m, src, ua, ia, ta, user_id, nulls[1] != 'n',
							nulls[1] != 'n' ? DatumGetTimestampTz(args[1]) : 0, &n);
	if (b == NULL)
		b = ReadPurchasesQuery(m, src, args, nulls, &n);
	relation_close(src, NoLock);

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
	AttrNumber	n_model,
				n_item,
				n_version,
				n_neighbors;
	AttrNumber	p_model,
				p_version,
				p_item;
	Relation	nidxrel;		/* neighbour index and scan, opened at the first lookup */
	IndexScanDesc nscan;
	TupleTableSlot *nslot;
} ServeCtx;

/* Look up the model and open the tables serving reads */
static void
OpenServe(FunctionCallInfo fcinfo, const char *model, ServeCtx *sc)
{
	Oid			nsp = ExtensionSchema(fcinfo);
	TupleDesc	nd;
	TupleDesc	pd;

	GetModel(nsp, model, &sc->model);
	sc->nrel = table_open(ExtensionRelation(nsp, "itemcf_neighbors"), AccessShareLock);
	sc->nidx = ExtensionRelation(nsp, "itemcf_neighbors_pkey");
	sc->prel = table_open(ExtensionRelation(nsp, "itemcf_popular"), AccessShareLock);
	sc->pidx = ExtensionRelation(nsp, "itemcf_popular_pkey");
	nd = RelationGetDescr(sc->nrel);
	pd = RelationGetDescr(sc->prel);
	sc->n_model = SPI_fnumber(nd, "model_id");
	sc->n_item = SPI_fnumber(nd, "item_id");
	sc->n_version = SPI_fnumber(nd, "version");
	sc->n_neighbors = SPI_fnumber(nd, "neighbors");
	sc->p_model = SPI_fnumber(pd, "model_id");
	sc->p_version = SPI_fnumber(pd, "version");
	sc->p_item = SPI_fnumber(pd, "item_id");
	sc->nidxrel = NULL;
	sc->nscan = NULL;
	sc->nslot = NULL;
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
	table_close(sc->nrel, AccessShareLock);
	table_close(sc->prel, AccessShareLock);
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
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(sc->model.model_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(sc->model.version));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(item));
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
		Datum		d = slot_getattr(sc->nslot, sc->n_neighbors, &isnull);

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
 * model_id, in index order, that pass the filters and are not listed yet,
 * until out holds k rows; returns the new count.
 */
static int
FillFrom(ServeCtx *sc, Relation rel, Oid indexoid, AttrNumber versionatt, AttrNumber itematt,
		 candmap_hash *cands, const Filters *f, int k, OutRow *out, int n)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Relation	idx;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;

	if (n >= k)
		return n;
	idx = index_open(indexoid, AccessShareLock);
	/* (model_id, version, ...): the rest of the key is the order wanted */
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(sc->model.model_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(sc->model.version));
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
		n = FillFrom(sc, sc->prel, sc->pidx, sc->p_version, sc->p_item, cands, f, k, out, n);
		n = FillFrom(sc, sc->nrel, sc->nidx, sc->n_version, sc->n_item, cands, f, k, out, n);
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
			values[2] = CStringGetTextDatum(psprintf("%s " INT64_FORMAT, verb, rows[i].because));
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

		items = ReadPurchases(&sc.model, PG_GETARG_INT64(0), half_life, &nitems, &nall);
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
