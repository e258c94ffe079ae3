/*
 * manage.c — itemcf_register_model(), itemcf_alter_model(), itemcf_drop_model(),
 * itemcf_reassign_models() and itemcf_rebuild(): the functions that act for a caller.
 *
 * These write the extension's tables on behalf of roles that may not write
 * them, and must know who is really calling: a SECURITY DEFINER function in
 * SQL would only see its own owner (and the session role is not the caller
 * when another SECURITY DEFINER function stands in between).  So, as pg_cron
 * does, the public functions are this C dispatcher: it takes the caller from
 * GetUserId() — the current user at the call, whatever functions lead to it —
 * switches to the extension's owner, and calls the PL/pgSQL implementation
 * named after the function with a leading underscore, passing the caller as an
 * extra last argument.  The implementations are not callable by PUBLIC.
 * itemcf_rebuild() goes through it too, so that it knows whom it may show a
 * failed build's error (which can quote the source's data).
 *
 * This file reaches the rest of itemcf only through SQL names: it finds the
 * implementation by the convention above (the public function's schema and
 * name with "_" prepended, the caller as an extra regrole argument) and
 * knows nothing else of it.  Its one C dependency is the role switch it
 * shares with schedule.c, itemcf_call_as_owner() in run_as.c.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "itemcf.h"

PG_FUNCTION_INFO_V1(itemcf_manage);
/* Call _<name>(args..., caller) as the extension's owner */
Datum
itemcf_manage(PG_FUNCTION_ARGS)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	Oid			caller = GetUserId();
	HeapTuple	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
	Form_pg_proc proc;
	int			nargs = PG_NARGS();
	Oid		   *argtypes;
	char	   *implname;
	Oid			impl;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(implcall, FUNC_MAX_ARGS);
	Datum		result = (Datum) 0;
	bool		isnull = false;
	int			i;

	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", self);
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	if (nargs + 1 > FUNC_MAX_ARGS || proc->pronargs != nargs)
		elog(ERROR, "itemcf_manage: unexpected arguments");
	argtypes = palloc((nargs + 1) * sizeof(Oid));
	memcpy(argtypes, proc->proargtypes.values, nargs * sizeof(Oid));
	argtypes[nargs] = REGROLEOID;
	implname = psprintf("_%s", NameStr(proc->proname));
	impl = LookupFuncName(list_make2(makeString(get_namespace_name(proc->pronamespace)),
									 makeString(implname)),
						  nargs + 1, argtypes, false);
	ReleaseSysCache(proctup);

	fmgr_info(impl, &flinfo);
	/* a set-returning implementation materialises its rows into the caller's ReturnSetInfo */
	InitFunctionCallInfoData(*implcall, &flinfo, nargs + 1, fcinfo->fncollation, NULL, fcinfo->resultinfo);
	for (i = 0; i < nargs; i++)
	{
		implcall->args[i].value = PG_GETARG_DATUM(i);
		implcall->args[i].isnull = PG_ARGISNULL(i);
	}
	implcall->args[nargs].value = ObjectIdGetDatum(caller);
	implcall->args[nargs].isnull = false;

	/* as the implementation's owner: the extension's owner (run_as.c) */
	result = itemcf_call_as_owner(implcall, &isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
