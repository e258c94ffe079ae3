/*
 * run_as.c — running code of another role: the one way itemcf does it.
 *
 * A model's source (a table with row-level security policies, a view calling
 * functions, triggers, operators, casts) is code written by the model's
 * owner, and itemcf runs it on behalf of whoever calls itemcf_rebuild() or
 * recommend().  It must run with exactly the owner's rights and must not
 * change anything in the session that outlives it.  So, as PostgreSQL's own
 * maintenance commands run user code (VACUUM, ANALYZE, CREATE INDEX,
 * REFRESH MATERIALIZED VIEW):
 *
 *  - the current user becomes the owner, as a security-restricted operation
 *    (no SET ROLE, no temporary objects, no WITH HOLD cursors inside);
 *  - a new GUC nest level is opened and search_path pinned to
 *    "pg_catalog, pg_temp", so neither the caller's search_path reaches the
 *    owner's code nor the other way round;
 *  - on return every setting the code changed (set_config(..., false)
 *    included) is rolled back with AtEOXact_GUC, and the user id restored.
 *
 * On an error nothing is restored here: the (sub)transaction abort that must
 * follow restores the user id and unwinds the GUC nest levels, exactly as it
 * does for the core commands.  Callers therefore never catch errors of the
 * function they run without a subtransaction.
 *
 * The other way of switching roles, itemcf_call_as_owner(), is for the
 * extension's own trusted PL/pgSQL only: the C dispatchers of manage.c and
 * schedule.c call their implementations through it as the extension's
 * owner.  It changes only the user id (not security-restricted: the
 * implementations write the extension's tables and run user code through
 * itemcf_run_as themselves) and restores it on error as well.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "itemcf.h"

/* Run fn(arg) as role `role` in a new GUC nest level with a pinned search_path (see above) */
void
itemcf_run_as(Oid role, void (*fn) (void *arg), void *arg)
{
	Oid			save_user;
	int			save_sec;
	int			save_nestlevel;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	fn(arg);

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_user, save_sec);
}

/* Call the function implcall is set up for as that function's owner (see above); sets *isnull */
Datum
itemcf_call_as_owner(FunctionCallInfo implcall, bool *isnull)
{
	Oid			impl = implcall->flinfo->fn_oid;
	HeapTuple	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(impl));
	Oid			owner;
	Oid			save_user;
	int			save_sec;
	Datum		result = (Datum) 0;

	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", impl);
	owner = ((Form_pg_proc) GETSTRUCT(proctup))->proowner;
	ReleaseSysCache(proctup);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		result = FunctionCallInvoke(implcall);
		*isnull = implcall->isnull;
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return result;
}
