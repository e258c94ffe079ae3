/*
 * itemcf.c — module entry point and settings, and the lookup of the
 * extension's own relations by name (itemcf_tables.h).
 *
 * Two settings bound what any role may ask of one build: itemcf.max_threads
 * and itemcf.max_build_memory, superuser-only (PGC_SUSET), cap the
 * user-settable itemcf.threads and itemcf.build_memory.  SET (and ALTER ROLE
 * or DATABASE ... SET, function SET clauses) above a cap fails with an ERROR;
 * a value from a source that is not checked at SET time (the configuration
 * file, connection options, a role's settings read at login, or a cap lowered
 * afterwards) is clamped to the cap when a build uses it (itemcf_build_threads,
 * itemcf_build_memory_mb).
 */
#include "postgres.h"

#include <limits.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "access/parallel.h"
#include "fmgr.h"
#include "port.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "itemcf.h"
#include "itemcf_tables.h"

PG_MODULE_MAGIC;

int			itemcf_threads = 0;
int			itemcf_max_threads = 1;
int			itemcf_build_memory = 4096;
int			itemcf_run_history = 1000;	/* read by _itemcf_rebuild_one() through current_setting() */
int			itemcf_max_build_memory = ITEMCF_MAX_BUILD_MEMORY_DEFAULT;
int			itemcf_max_result_size = 1048575;
int			itemcf_reclaim = ITEMCF_RECLAIM_BACKGROUND;
int			itemcf_model_time_limit = 3600 * 1000;
int			itemcf_progress_interval = 1000;
uint64_t	itemcf_hash_state[4];

static const struct config_enum_entry reclaim_options[] = {
	{"background", ITEMCF_RECLAIM_BACKGROUND, false},
	{"immediate", ITEMCF_RECLAIM_IMMEDIATE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/* OID of one of the extension's relations, or an error if it is missing */
Oid
itemcf_extension_relation(Oid nsp, const char *name)
{
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" of extension itemcf is missing", name),
				 errhint("Reinstall the extension.")));
	return relid;
}

/* Is a new value from this source checked against its cap (see the top of the file)? */
static bool
CapChecked(GucSource source)
{
	return source >= PGC_S_INTERACTIVE && !InitializingParallelWorker;
}

/* itemcf.threads must not exceed itemcf.max_threads when SET */
static bool
check_threads(int *newval, void **extra, GucSource source)
{
	if (CapChecked(source) && *newval > itemcf_max_threads)
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("itemcf.threads cannot exceed itemcf.max_threads");
		GUC_check_errdetail("itemcf.threads was set to %d; itemcf.max_threads is %d.",
							*newval, itemcf_max_threads);
		GUC_check_errhint("Ask a superuser to raise itemcf.max_threads.");
		return false;
	}
	return true;
}

/* itemcf.build_memory must not exceed itemcf.max_build_memory when SET */
static bool
check_build_memory(int *newval, void **extra, GucSource source)
{
	if (CapChecked(source) && *newval > itemcf_max_build_memory)
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("itemcf.build_memory cannot exceed itemcf.max_build_memory");
		GUC_check_errdetail("itemcf.build_memory was set to %d MB; itemcf.max_build_memory is %d MB.",
							*newval, itemcf_max_build_memory);
		GUC_check_errhint("Ask a superuser to raise itemcf.max_build_memory.");
		return false;
	}
	return true;
}

/* CPU cores this process may run on (at least 1) */
static int
CoreCount(void)
{
#ifdef _OPENMP
	long		n = omp_get_num_procs();
#else
	long		n = sysconf(_SC_NPROCESSORS_ONLN);
#endif

	return n < 1 ? 1 : (n > ITEMCF_THREADS_LIMIT ? ITEMCF_THREADS_LIMIT : (int) n);
}

/* Threads a build computes on: itemcf.threads (0: one per core), at most itemcf.max_threads */
int
itemcf_build_threads(void)
{
	int			n = itemcf_threads > 0 ? itemcf_threads : CoreCount();

	if (n > itemcf_max_threads)
	{
		if (itemcf_threads > 0)
			ereport(NOTICE,
					(errmsg("itemcf.threads is %d, the build runs on itemcf.max_threads = %d",
							itemcf_threads, itemcf_max_threads)));
		n = itemcf_max_threads;
	}
	return n;
}

/* Memory one build may use, in MB: itemcf.build_memory, at most itemcf.max_build_memory */
int
itemcf_build_memory_mb(void)
{
	return Min(itemcf_build_memory, itemcf_max_build_memory);
}

/*
 * Register itemcf's settings (the caps first: the settings they cap check
 * against them) and draw this process's hash key
 */
void
_PG_init(void)
{
	uint64		key[2];

	if (!pg_strong_random(key, sizeof(key)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random hash key for itemcf"),
				 errdetail("pg_strong_random() failed.")));
	itemcf_hash_set_key(key[0], key[1]);

	itemcf_max_threads = CoreCount();
	DefineCustomIntVariable("itemcf.max_threads",
							"Most threads a similarity build may compute on (superuser only).",
							"Caps itemcf.threads, which any role can set; the default is the number of CPU cores.",
							&itemcf_max_threads,
							itemcf_max_threads, 1, ITEMCF_THREADS_LIMIT,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("itemcf.max_build_memory",
							"Most memory one similarity build may use in one process (superuser only).",
							"Caps itemcf.build_memory, which any role can set.",
							&itemcf_max_build_memory,
							ITEMCF_MAX_BUILD_MEMORY_DEFAULT, 16, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("itemcf.progress_interval",
							"Time between the progress reports of a rebuild in pg_stat_activity.",
							"itemcf_rebuild_progress shows them; a change of phase is reported at once.",
							&itemcf_progress_interval,
							1000, 10, 3600 * 1000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("itemcf.threads",
							"Threads the similarity build computes on.",
							"0 means one per CPU core; at most itemcf.max_threads.",
							&itemcf_threads,
							0, 0, ITEMCF_THREADS_LIMIT,
							PGC_USERSET, 0,
							check_threads, NULL, NULL);

	DefineCustomIntVariable("itemcf.build_memory",
							"Memory one similarity build may use in one process.",
							"Counts the aggregate state and every buffer of the compute; "
							"a build that would need more fails before allocating it.  "
							"At most itemcf.max_build_memory.",
							&itemcf_build_memory,
							4096, 16, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							check_build_memory, NULL, NULL);

	DefineCustomIntVariable("itemcf.max_result_size",
							"Largest similarity aggregate result; itemcf_rebuild() builds in item shards above it.",
							"At most 1 GB, PostgreSQL's limit for one value; lower it only to test sharding.",
							&itemcf_max_result_size,
							1048575, 1, 1048575,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("itemcf.reclaim",
							 "When itemcf_rebuild() deletes the model versions it replaced.",
							 "background: a background worker deletes them once the rebuild commits; "
							 "immediate: the rebuild deletes them itself, before it returns.",
							 &itemcf_reclaim,
							 ITEMCF_RECLAIM_BACKGROUND, reclaim_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("itemcf.model_time_limit",
							"Longest one model's build may take in itemcf_rebuild_scheduled().",
							"A model that takes longer is canceled and recorded as failed; 0 means no limit.",
							&itemcf_model_time_limit,
							3600 * 1000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("itemcf.run_history",
							"Runs kept in itemcf_runs per model (superuser only).",
							"Each rebuild deletes the model's older runs beyond this many, never the run "
							"that built the current version; 0 keeps every run.",
							&itemcf_run_history,
							1000, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("itemcf");
}
