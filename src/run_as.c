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
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

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
