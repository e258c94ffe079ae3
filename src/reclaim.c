/*
 * reclaim.c — deleting the model versions a rebuild replaced, after it commits.
 *
 * A rebuild writes a new version beside the old one and flips the model's
 * pointer; the old version's rows must then be deleted.  That delete dirties
 * every page of the old version (and, after a checkpoint, logs a full image
 * of each), which costs about as much as writing the new version, and no
 * reader needs it to finish: readers follow the pointer.  So by default the
 * rebuild hands it to a background worker (one per transaction: a second
 * rebuild in it leaves its versions to the same worker).  The worker waits until the
 * rebuild's transaction ends, then runs itemcf_reclaim() in its own
 * transaction, as the role that ran the rebuild (the extension's owner,
 * through SECURITY DEFINER).  If no worker can be started, one is already
 * running in the database (at most one at a time, so no role can pile them
 * up), or itemcf.reclaim = 'immediate', the rebuild deletes them itself.
 * Reclaims serialise on a table lock only the extension's owner can take,
 * with a bounded wait (itemcf_reclaim() in models.sql).
 *
 * This file reaches the rest of itemcf only through SQL names: it calls
 * itemcf_reclaim() (found by schema and name) and is started by rebuilds
 * through _itemcf_reclaim_later(); it shares no C code or header with the
 * other files, so either side may change as long as those SQL signatures
 * stay.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* What the worker needs, passed in bgw_extra */
typedef struct ReclaimArgs
{
	Oid			database;
	Oid			role;
	Oid			schema;			/* the extension's schema, where itemcf_reclaim() lives */
	TransactionId xid;			/* the rebuild's transaction: wait for its end */
} ReclaimArgs;

PGDLLEXPORT void itemcf_reclaim_main(Datum arg);

/* Background worker: wait for the rebuild's transaction, then run itemcf_reclaim() */
void
itemcf_reclaim_main(Datum arg)
{
	ReclaimArgs a;
	char	   *nsp;
	bool		committed;
	bool		isnull = true;
	Datum		exists = BoolGetDatum(false);

	memcpy(&a, MyBgworkerEntry->bgw_extra, sizeof(a));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(a.database, a.role, 0);

	/* Until the rebuild commits its new version is not current: nothing to delete yet */
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "itemcf: waiting for the rebuild to end");
	XactLockTableWait(a.xid, NULL, NULL, XLTW_None);
	committed = TransactionIdDidCommit(a.xid);
	CommitTransactionCommand();
	if (!committed)
		proc_exit(0);			/* rolled back: the versions it replaced are still current */

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	nsp = get_namespace_name(a.schema);
	if (nsp != NULL)
	{
		char	   *proc = psprintf("%s.itemcf_reclaim()", quote_identifier(nsp));
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1] = {CStringGetTextDatum(proc)};

		/* the extension may have been dropped meanwhile: then there is nothing to do */
		if (SPI_execute_with_args("SELECT pg_catalog.to_regprocedure($1) IS NOT NULL", 1, argtypes, args,
								  NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
			exists = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull && DatumGetBool(exists))
		{
			char	   *sql = psprintf("SELECT %s", proc);

			pgstat_report_activity(STATE_RUNNING, sql);
			SPI_execute(sql, false, 0);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/* The worker this backend last started, and the transaction it waits for */
static BackgroundWorkerHandle *last_worker = NULL;
static TransactionId last_worker_xid = InvalidTransactionId;

/* Is an itemcf reclaim worker of this database running? (one registered a moment ago may not show yet) */
static bool
ReclaimWorkerRunning(void)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(MyDatabaseId)};
	bool		running = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a fresh view of the backends (the transaction's cached one would not show a new worker) */
	if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_stat_clear_snapshot(), pg_catalog.pg_stat_activity "
							  "WHERE backend_type OPERATOR(pg_catalog.=) 'itemcf reclaim' "
							  "AND datid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) == SPI_OK_SELECT)
		running = SPI_processed > 0;
	SPI_finish();
	return running;
}

PG_FUNCTION_INFO_V1(itemcf_reclaim_later);
/*
 * _itemcf_reclaim_later(): start a background worker that runs
 * itemcf_reclaim() once the current transaction ends; false if none could be
 * started (the caller then reclaims itself)
 */
Datum
itemcf_reclaim_later(PG_FUNCTION_ARGS)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	ReclaimArgs a;
	HeapTuple	tup;
	bool		can_login;
	bool		registered;
	MemoryContext oldcxt;

	/* A worker connects as a role that may log in (PostgreSQL 15 checks) */
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (!HeapTupleIsValid(tup))
		PG_RETURN_BOOL(false);
	can_login = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
	if (!can_login)
		PG_RETURN_BOOL(false);

	/*
	 * A worker this backend started earlier in this transaction (an earlier
	 * rebuild in it) reclaims after it ends: that covers this rebuild too
	 */
	if (last_worker != NULL && TransactionIdIsValid(last_worker_xid) &&
		TransactionIdEquals(last_worker_xid, GetTopTransactionIdIfAny()))
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(last_worker, &pid) != BGWH_STOPPED)
			PG_RETURN_BOOL(true);
	}

	/* At most one reclaim worker per database: with one running, the caller reclaims itself */
	if (ReclaimWorkerRunning())
		PG_RETURN_BOOL(false);

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "itemcf");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "itemcf_reclaim_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "itemcf reclaim");
	snprintf(w.bgw_type, BGW_MAXLEN, "itemcf reclaim");
	w.bgw_notify_pid = 0;

	memset(&a, 0, sizeof(a));
	a.database = MyDatabaseId;
	a.role = GetUserId();
	a.schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	a.xid = GetTopTransactionId();
	StaticAssertStmt(sizeof(a) <= BGW_EXTRALEN, "reclaim arguments must fit in bgw_extra");
	memcpy(w.bgw_extra, &a, sizeof(a));

	/* the handle outlives this call: a later rebuild in this transaction asks for it */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&w, &handle);
	MemoryContextSwitchTo(oldcxt);
	if (registered)
	{
		if (last_worker != NULL)
			pfree(last_worker);
		last_worker = handle;
		last_worker_xid = a.xid;
	}
	PG_RETURN_BOOL(registered);
}
