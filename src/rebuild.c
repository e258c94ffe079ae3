/*
 * rebuild.c — C support for itemcf_rebuild(): run a model's aggregate query
 * as the model's owner.
 *
 * The query runs through SPI_execute with no row limit, so the planner may
 * give it parallel workers (PL/pgSQL's SELECT INTO would not).  The role is
 * switched with SetUserIdAndSecContext for the query only, so the owner's
 * privileges and row-level security policies apply to the source, whoever
 * calls itemcf_rebuild().
 *
 * itemcf_write_neighbors() stores a result's neighbour lists the way COPY
 * does: batches of tuples through table_multi_insert with a bulk-insert
 * state (one WAL record per page instead of per row), then index entries.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "cf_result.h"
#include "svec.h"

#define WRITE_BATCH 1000

PG_FUNCTION_INFO_V1(itemcf_read_as);
/* Run a query returning one bytea as role `owner`, with parallel plans allowed */
Datum
itemcf_read_as(PG_FUNCTION_ARGS)
{
	Oid			owner = PG_GETARG_OID(0);
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			save_user;
	int			save_sec;
	volatile int ret = 0;
	bool		isnull = true;
	Datum		result = (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		ret = SPI_execute(sql, true, 0);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();

	if (ret != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BYTEAOID)
		elog(ERROR, "itemcf_read_as: the query must return one bytea row");

	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(itemcf_write_neighbors);
/*
 * Insert every non-empty neighbour list of a result into table `rel`
 * (itemcf_neighbors: model_id, version, item_id, neighbors) with bulk
 * inserts; returns the number of rows written.
 */
Datum
itemcf_write_neighbors(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int32		model_id = PG_GETARG_INT32(1);
	int64		version = PG_GETARG_INT64(2);
	CfResult   *r = CfResultGet(PG_GETARG_DATUM(3));
	Relation	rel = table_open(relid, RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	BulkInsertState bistate = GetBulkInsertState();
	CommandId	cid = GetCurrentCommandId(true);
	TupleTableSlot *slots[WRITE_BATCH];
	MemoryContext batchctx = AllocSetContextCreate(CurrentMemoryContext, "itemcf write batch",
												   ALLOCSET_DEFAULT_SIZES);
	AttrNumber	a_model = get_attnum(relid, "model_id");
	AttrNumber	a_version = get_attnum(relid, "version");
	AttrNumber	a_item = get_attnum(relid, "item_id");
	AttrNumber	a_nbr = get_attnum(relid, "neighbors");
	int64		entry = 0;
	int64		written = 0;
	int			nslots = 0;
	int32		slot;
	int			i;

	/* only ever the extension's own table (the function writes without permission checks) */
	if (get_rel_namespace(relid) != get_func_namespace(fcinfo->flinfo->fn_oid) ||
		strcmp(get_rel_name(relid), "itemcf_neighbors") != 0 ||
		desc->natts != 4 || a_model <= 0 || a_version <= 0 || a_item <= 0 || a_nbr <= 0)
		elog(ERROR, "itemcf_write_neighbors writes only the extension's itemcf_neighbors table");

	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	for (i = 0; i < WRITE_BATCH; i++)
		slots[i] = table_slot_create(rel, NULL);

	for (slot = 0; slot <= r->n_out; slot++)
	{
		/* flush a full batch, and the last one */
		if (nslots == WRITE_BATCH || (slot == r->n_out && nslots > 0))
		{
			table_multi_insert(rel, slots, nslots, cid, 0, bistate);
			for (i = 0; i < nslots; i++)
			{
				List	   *recheck = ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL);

				list_free(recheck);
				ExecClearTuple(slots[i]);
			}
			written += nslots;
			nslots = 0;
			MemoryContextReset(batchctx);
			CHECK_FOR_INTERRUPTS();
		}
		if (slot == r->n_out)
			break;
		if (CF_COUNT(r)[slot] > 0)
		{
			TupleTableSlot *ts = slots[nslots++];
			MemoryContext old = MemoryContextSwitchTo(batchctx);

			ExecClearTuple(ts);
			memset(ts->tts_isnull, 0, desc->natts * sizeof(bool));
			ts->tts_values[a_model - 1] = Int32GetDatum(model_id);
			ts->tts_values[a_version - 1] = Int64GetDatum(version);
			ts->tts_values[a_item - 1] = Int64GetDatum(CF_ITEM_IDS(r)[CF_OUT_ITEM(r)[slot]]);
			ts->tts_values[a_nbr - 1] = PointerGetDatum(CfResultNeighbors(r, slot, entry));
			ExecStoreVirtualTuple(ts);
			MemoryContextSwitchTo(old);
		}
		entry += CF_COUNT(r)[slot];
	}

	for (i = 0; i < WRITE_BATCH; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	FreeBulkInsertState(bistate);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, RowExclusiveLock);
	MemoryContextDelete(batchctx);
	PG_RETURN_INT64(written);
}
