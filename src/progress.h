/*
 * progress.h — a rebuild's progress, shown in pg_stat_activity (progress.c)
 */
#ifndef ITEMCF_PROGRESS_H
#define ITEMCF_PROGRESS_H

#include "postgres.h"

/* A rebuild starts building model model_id in this backend (-1: it ended) */
extern void itemcf_progress_model(int32 model_id);

/* The item shard the aggregate builds (from its options) */
extern void itemcf_progress_shard(int shard_index, int shard_count);

/*
 * Report phase and done of total (total < 0: unknown) if a rebuild is
 * building here and the last report is older than itemcf.progress_interval,
 * or at once when the phase changes
 */
extern void itemcf_progress(const char *phase, int64 done, int64 total);

/* Is a rebuild building in this backend? (the transition reports only then) */
extern bool itemcf_progress_active(void);

/* The end of a build: pg_stat_activity shows the statement again */
extern void itemcf_progress_end(void);

/* Wake the compute's threads at the next report (InterruptPending), or stop doing so */
extern void itemcf_progress_timer_start(void);
extern void itemcf_progress_timer_stop(void);

#endif
