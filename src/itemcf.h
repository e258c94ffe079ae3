/*
 * itemcf.h — settings and small helpers shared across itemcf's C files.
 */
#ifndef ITEMCF_H
#define ITEMCF_H

#include "fmgr.h"

#include "itemcf_hash.h"

extern int	itemcf_threads;			/* itemcf.threads: OpenMP threads, 0 = all cores */
extern int	itemcf_max_threads;		/* itemcf.max_threads: cap of itemcf.threads (superuser) */
extern int	itemcf_build_memory;	/* itemcf.build_memory: MB per build, per process */
extern int	itemcf_max_build_memory;	/* itemcf.max_build_memory: its cap, MB (superuser) */
extern int	itemcf_max_result_size;	/* itemcf.max_result_size: kB per aggregate result */
extern int	itemcf_run_history;	/* itemcf.run_history: runs kept per model (read from SQL) */
extern int	itemcf_reclaim;			/* itemcf.reclaim: ITEMCF_RECLAIM_* */
extern int	itemcf_progress_interval;	/* itemcf.progress_interval: ms between progress reports */
extern int	itemcf_model_time_limit;	/* itemcf.model_time_limit: ms per model in itemcf_rebuild_scheduled() */

#define ITEMCF_THREADS_LIMIT 1024	/* upper end of both thread settings */
#define ITEMCF_MAX_BUILD_MEMORY_DEFAULT 8192	/* MB */

/* Threads and memory (MB) a build may use: the settings, clamped to their caps (itemcf.c) */
extern int	itemcf_build_threads(void);
extern int	itemcf_build_memory_mb(void);

#define ITEMCF_RECLAIM_BACKGROUND 0
#define ITEMCF_RECLAIM_IMMEDIATE 1

/*
 * Error context line of every error raised while a model's source runs: the
 * rebuild (models.sql) recognises it and shows such errors, which may quote
 * the source's data, only to roles that may read the source.
 */
#define ITEMCF_SOURCE_CONTEXT "while reading the source of an itemcf model"

/* Run fn(arg) as `role`, security-restricted, in a new GUC nest level with search_path pinned (run_as.c) */
extern void itemcf_run_as(Oid role, void (*fn) (void *arg), void *arg);

/* Call the function implcall is set up for as its owner, restoring the user id on error too (run_as.c) */
extern Datum itemcf_call_as_owner(FunctionCallInfo implcall, bool *isnull);

#endif
