/*
 * itemcf.c — module entry point and settings.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "port.h"
#include "utils/guc.h"

#include "itemcf.h"

PG_MODULE_MAGIC;

int			itemcf_threads = 0;
int			itemcf_build_memory = 4096;
int			itemcf_max_result_size = 1048575;
int			itemcf_reclaim = ITEMCF_RECLAIM_BACKGROUND;
int			itemcf_model_time_limit = 3600 * 1000;
uint64_t	itemcf_hash_state[4];

static const struct config_enum_entry reclaim_options[] = {
	{"background", ITEMCF_RECLAIM_BACKGROUND, false},
	{"immediate", ITEMCF_RECLAIM_IMMEDIATE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/* Register itemcf's settings and draw this process's hash key */
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

	DefineCustomIntVariable("itemcf.threads",
							"Threads the similarity build computes on.",
							"0 means one per CPU core.",
							&itemcf_threads,
							0, 0, 1024,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("itemcf.build_memory",
							"Memory one similarity build may use in one process.",
							"Counts the aggregate state and every buffer of the compute; "
							"a build that would need more fails before allocating it.",
							&itemcf_build_memory,
							4096, 16, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

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

	MarkGUCPrefixReserved("itemcf");
}
