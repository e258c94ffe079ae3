/*
 * schedule.c — the C parts of itemcf_rebuild_scheduled() (src/schedule.sql).
 *
 * Rights.  The procedure commits after each model, and PostgreSQL allows
 * transaction control neither in a SECURITY DEFINER procedure nor in one with
 * a SET clause: it runs with the caller's rights.  Each of its steps that
 * touches the extension's tables goes through a gate —
 * _itemcf_scheduled_models(), _itemcf_scheduled_build() and
 * _itemcf_scheduled_reclaim() are all itemcf_scheduled_gate() below — which,
 * as manage.c does, takes the true caller from GetUserId() (the current user
 * at the call, whatever functions lead to it), checks that the caller may
 * execute the procedure itemcf_rebuild_scheduled(text, interval), and runs
 * the PL/pgSQL implementation named after the gate with "_impl" appended, as
 * that implementation's owner (the extension's owner).  So GRANT EXECUTE ON
 * PROCEDURE is all a role needs; the gates stay executable by PUBLIC, which
 * gets nothing from them without that grant, and the implementations are
 * not executable by PUBLIC.  The gates also refuse to run inside a
 * transaction block, with a clearer message than the COMMIT would give.
 *
 * Time limit.  SET LOCAL statement_timeout inside a procedure does not limit
 * the CALL that is running: PostgreSQL arms the statement timer once per
 * top-level statement.  So the per-model limit is a timeout of its own,
 * armed around each model by _itemcf_time_limit_arm() and disarmed by
 * _itemcf_time_limit_disarm().  When it fires it requests a query cancel, as
 * statement_timeout does; the resulting error (57014, which PL/pgSQL's WHEN
 * OTHERS does not catch, so it passes through _itemcf_rebuild_one) is caught
 * by the implementation, which asks the disarm function whether it was this
 * timeout (and not a cancel of the whole CALL, which it lets through).  The
 * disarm function never raises, so that it can run in exception handlers.
 */
#include "postgres.h"

#include <limits.h>
#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "itemcf.h"

/* ---- the gate ------------------------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(itemcf_scheduled_gate);
/* Check the caller may run itemcf_rebuild_scheduled(), then call <name>_impl(args...) as its owner */
Datum
itemcf_scheduled_gate(PG_FUNCTION_ARGS)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	Oid			caller = GetUserId();
	HeapTuple	proctup;
	Form_pg_proc proc;
	int			nargs = PG_NARGS();
	Oid			argtypes[FUNC_MAX_ARGS];
	Oid			sched_args[2] = {TEXTOID, INTERVALOID};
	Oid			nspoid;
	char	   *nsp;
	char	   *implname;
	Oid			sched;
	Oid			impl;
	AclResult	acl;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(implcall, FUNC_MAX_ARGS);
	Datum		result = (Datum) 0;
	bool		isnull = false;
	int			i;

	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("itemcf_rebuild_scheduled() cannot run inside a transaction block"),
				 errdetail("It commits after each model, which it cannot do inside BEGIN ... COMMIT."),
				 errhint("Run CALL itemcf_rebuild_scheduled() as a statement of its own, "
						 "or itemcf_rebuild() to rebuild inside a transaction.")));

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", self);
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	if (proc->pronargs != nargs || nargs > FUNC_MAX_ARGS)
		elog(ERROR, "itemcf_scheduled_gate: unexpected arguments");
	memcpy(argtypes, proc->proargtypes.values, nargs * sizeof(Oid));
	nspoid = proc->pronamespace;
	nsp = get_namespace_name(nspoid);
	implname = psprintf("%s_impl", NameStr(proc->proname));
	ReleaseSysCache(proctup);

	/* The one privilege that counts: EXECUTE on the procedure */
	proctup = SearchSysCache3(PROCNAMEARGSNSP, CStringGetDatum("itemcf_rebuild_scheduled"),
							  PointerGetDatum(buildoidvector(sched_args, 2)),
							  ObjectIdGetDatum(nspoid));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "procedure %s.itemcf_rebuild_scheduled(text, interval) does not exist", nsp);
	sched = ((Form_pg_proc) GETSTRUCT(proctup))->oid;
	ReleaseSysCache(proctup);
#if PG_VERSION_NUM >= 160000
	acl = object_aclcheck(ProcedureRelationId, sched, caller, ACL_EXECUTE);
#else
	acl = pg_proc_aclcheck(sched, caller, ACL_EXECUTE);
#endif
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_PROCEDURE, "itemcf_rebuild_scheduled");

	impl = LookupFuncName(list_make2(makeString(nsp), makeString(implname)), nargs, argtypes, false);

	fmgr_info(impl, &flinfo);
	InitFunctionCallInfoData(*implcall, &flinfo, nargs, fcinfo->fncollation, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		implcall->args[i].value = PG_GETARG_DATUM(i);
		implcall->args[i].isnull = PG_ARGISNULL(i);
	}

	/* as the implementation's owner: the extension's owner (run_as.c) */
	result = itemcf_call_as_owner(implcall, &isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* ---- the per-model time limit ------------------------------------------------------------- */

static TimeoutId limit_timeout;
static bool limit_registered = false;
static volatile sig_atomic_t limit_fired = false;

/* Signal handler (SIGALRM): request a query cancel, as statement_timeout does */
static void
limit_handler(void)
{
	limit_fired = true;
	InterruptPending = true;
	QueryCancelPending = true;
	SetLatch(MyLatch);
}

PG_FUNCTION_INFO_V1(itemcf_time_limit_arm);
/*
 * _itemcf_time_limit_arm(ms integer): cancel the running statement after ms
 * milliseconds (NULL: itemcf.model_time_limit; 0: no limit); returns the limit
 * armed, 0 for none
 */
Datum
itemcf_time_limit_arm(PG_FUNCTION_ARGS)
{
	int32		ms = PG_ARGISNULL(0) ? itemcf_model_time_limit : PG_GETARG_INT32(0);

	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a time limit must not be negative")));
	if (!limit_registered)
	{
		limit_timeout = RegisterTimeout(USER_TIMEOUT, limit_handler);
		limit_registered = true;
	}
	disable_timeout(limit_timeout, false);
	limit_fired = false;
	if (ms > 0)
		enable_timeout_after(limit_timeout, ms);
	PG_RETURN_INT32(ms);
}

PG_FUNCTION_INFO_V1(itemcf_time_limit_disarm);
/*
 * _itemcf_time_limit_disarm(): stop the timer; true if it fired since it was
 * armed.  A cancel it requested that has not been delivered yet (the timer
 * fired as the build ended) is withdrawn, so that it cannot hit whatever the
 * session runs next; the build it would have canceled is complete.
 */
Datum
itemcf_time_limit_disarm(PG_FUNCTION_ARGS)
{
	if (limit_registered)
		disable_timeout(limit_timeout, false);
	if (limit_fired && QueryCancelPending)
		QueryCancelPending = false;
	PG_RETURN_BOOL(limit_fired);
}
