/*
 * serving_model.c — the model row serving reads, and the settings of its
 * current version, cached per session.
 *
 * recommend() and friends find their model in itemcf_models by name with a
 * direct index scan under the query's snapshot (no planning, no permission
 * checks: EXECUTE on the serving function is the gate), by the column
 * numbers of itemcf_tables.h.  What the purchases are read with — the
 * source, its columns, the time window and the history cap — comes from the
 * settings the current version was built with (built_settings and
 * built_source, written by the rebuild), or from the live columns on tables
 * of 0.1.0 before ALTER EXTENSION UPDATE.  Parsing them costs more than the
 * lookup, so they are kept in a per-session hash of ModelEntry (serving.h)
 * and read again only when the model row changes (its version, xmin or
 * tid): once per version and alter, not per call.  The entry also keeps the
 * prepared purchases query (serving_purchases.c), freed with the entry.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "itemcf_tables.h"
#include "serving.h"

static HTAB *model_cache = NULL;

/* Text of a name-typed or text-typed attribute, or NULL */
static char *
GetTextAttr(HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d;

	d = heap_getattr(tup, att, desc, &isnull);
	if (isnull)
		return NULL;
	if (TupleDescAttr(desc, att - 1)->atttypid == NAMEOID)
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

/* A boolean of built_settings; missing: false (versions built before the key existed) */
static bool
BuiltBool(Jsonb *jb, const char *model, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v) == NULL)
		return false;
	if (v.type != jbvBool)
		BadBuiltSettings(model, key, "a boolean");
	return v.val.boolean;
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
	bool		isnull = true;
	Datum		d = (Datum) 0;

	if (desc->natts >= Anum_itemcf_models_built_settings)
		d = heap_getattr(tup, Anum_itemcf_models_built_settings, desc, &isnull);
	if (!isnull)
	{
		Jsonb	   *jb = DatumGetJsonbP(d);
		char	   *tw;

		/* the source as a regclass column of its own: pg_dump keeps it by name, OIDs it would not */
		s->source = DatumGetObjectId(heap_getattr(tup, Anum_itemcf_models_built_source, desc, &isnull));
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("built settings of model \"%s\" are invalid", model),
					 errdetail("Its built_source is NULL while its built_settings are set."),
					 errhint("Rebuild the model with itemcf_rebuild().")));
		s->user_column = BuiltText(jb, model, "user_column", false);
		s->item_column = BuiltText(jb, model, "item_column", false);
		s->weight_column = BuiltText(jb, model, "weight_column", true);
		s->time_column = BuiltText(jb, model, "time_column", true);
		tw = BuiltText(jb, model, "time_window", true);
		s->time_window = tw == NULL ? NULL :
			DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(tw),
												  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		s->history_cap = (int32) BuiltInteger(jb, model, "history_cap", 0, PG_INT32_MAX);
		s->has_labels = BuiltBool(jb, model, "labels");
		/* ISO 8601 in UTC as the rebuild wrote it: reads the same under any DateStyle and TimeZone */
		tw = BuiltText(jb, model, "window_end", true);
		s->has_window_end = tw != NULL;
		if (tw != NULL)
			s->window_end = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(tw),
																	ObjectIdGetDatum(InvalidOid),
																	Int32GetDatum(-1)));
		return;
	}
	s->source = DatumGetObjectId(heap_getattr(tup, Anum_itemcf_models_source, desc, &isnull));
	s->user_column = GetTextAttr(tup, desc, Anum_itemcf_models_user_column);
	s->item_column = GetTextAttr(tup, desc, Anum_itemcf_models_item_column);
	s->weight_column = GetTextAttr(tup, desc, Anum_itemcf_models_weight_column);
	s->time_column = GetTextAttr(tup, desc, Anum_itemcf_models_time_column);
	d = heap_getattr(tup, Anum_itemcf_models_time_window, desc, &isnull);
	s->time_window = isnull ? NULL : DatumGetIntervalP(datumCopy(d, false, sizeof(Interval)));
	s->history_cap = DatumGetInt32(heap_getattr(tup, Anum_itemcf_models_history_cap, desc, &isnull));
	s->has_window_end = false;	/* built before 0.2.0: windows ended at now */
	s->has_labels = false;		/* and had no labels */
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
void
ServeGetModel(Oid nsp, const char *name, ServeModel *m)
{
	Relation	rel = table_open(itemcf_extension_relation(nsp, ITEMCF_MODELS_TABLE), AccessShareLock);
	Oid			idx = itemcf_extension_relation(nsp, ITEMCF_MODELS_NAME_INDEX);
	TupleDesc	desc = RelationGetDescr(rel);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;

	/* the columns of 0.1.0 (before ALTER EXTENSION UPDATE) or of this version (itemcf_tables.h) */
	if (desc->natts != Natts_itemcf_models && desc->natts != Natts_itemcf_models_0_1_0)
		elog(ERROR, "itemcf table %s has %d columns, expected %d", ITEMCF_MODELS_TABLE,
			 desc->natts, Natts_itemcf_models);
	/* a heap attribute number: systable_beginscan maps it to the index's column */
	ScanKeyInit(&key, Anum_itemcf_models_name, BTEqualStrategyNumber, F_TEXTEQ,
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

	m->model_id = DatumGetInt32(heap_getattr(tup, Anum_itemcf_models_model_id, desc, &isnull));
	m->name = pstrdup(name);
	m->owner = DatumGetObjectId(heap_getattr(tup, Anum_itemcf_models_owner, desc, &isnull));
	d = heap_getattr(tup, Anum_itemcf_models_current_version, desc, &isnull);
	m->version = isnull ? 0 : DatumGetInt64(d);
	/* a model never built serves nothing, so it needs no settings */
	m->e = m->version != 0 ? ModelSettings(m, tup, desc) : NULL;

	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}
