/*
 * progress.c — a rebuild's progress, shown in pg_stat_activity.
 *
 * PostgreSQL's progress views (pg_stat_progress_*) serve only its own
 * commands, so a rebuild writes its progress where an operator already
 * looks: the query column of its backend in pg_stat_activity, as
 *
 *     itemcf_rebuild progress: model_id=3 shard=1/4 phase=computing done=120000 total=400000
 *
 * which the view itemcf_rebuild_progress parses (and joins to the model's
 * name).  Reports come from the backend running the rebuild only: the
 * aggregate's transition while it reads (rows read by this backend; parallel
 * workers read the rest), the final function while it builds the model and
 * computes (items done), and rebuild.c while it writes (lists written).
 * They are at most itemcf.progress_interval apart, and at once when the
 * phase changes.  When the build ends, or fails, the column shows the
 * statement again (debug_query_string).
 *
 * The compute runs on OpenMP threads that must not call PostgreSQL; they
 * stop whenever InterruptPending is set (cf_score.c).  A timeout
 * (RegisterTimeout) sets it every interval while they run, so the main
 * thread gets control, reports, and starts them again where they stopped;
 * ProcessInterrupts finds nothing else to do and returns.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "itemcf.h"
#include "progress.h"

/* The build this backend reports on */
static int32 progress_model = -1;
static int	progress_shard = 0;
static int	progress_shards = 1;
static const char *progress_phase = NULL;
static TimestampTz progress_last = 0;

/* The timeout that wakes the compute's threads */
static TimeoutId progress_timeout = MAX_TIMEOUTS;

/* A rebuild starts (model_id >= 0) or ends (-1) a build in this backend */
void
itemcf_progress_model(int32 model_id)
{
	progress_model = model_id;
	progress_shard = 0;
	progress_shards = 1;
	progress_phase = NULL;
}

/* The item shard being built */
void
itemcf_progress_shard(int shard_index, int shard_count)
{
	progress_shard = shard_index;
	progress_shards = shard_count;
}

/* Is a rebuild building in this backend? */
bool
itemcf_progress_active(void)
{
	return progress_model >= 0;
}

/* Report phase and done of total (total < 0: unknown), rate-limited */
void
itemcf_progress(const char *phase, int64 done, int64 total)
{
	TimestampTz now;
	char		buf[160];

	if (progress_model < 0 || !pgstat_track_activities)
		return;
	now = GetCurrentTimestamp();
	if (progress_phase != NULL && strcmp(phase, progress_phase) == 0 &&
		!TimestampDifferenceExceeds(progress_last, now, itemcf_progress_interval))
		return;
	if (total >= 0)
		snprintf(buf, sizeof(buf), "itemcf_rebuild progress: model_id=%d shard=%d/%d phase=%s done=" INT64_FORMAT " total=" INT64_FORMAT,
				 progress_model, progress_shard + 1, progress_shards, phase, done, total);
	else
		snprintf(buf, sizeof(buf), "itemcf_rebuild progress: model_id=%d shard=%d/%d phase=%s done=" INT64_FORMAT,
				 progress_model, progress_shard + 1, progress_shards, phase, done);
	pgstat_report_activity(STATE_RUNNING, buf);
	progress_phase = phase;
	progress_last = now;
}

/* The build ended or failed: show the statement again */
void
itemcf_progress_end(void)
{
	bool		reported = progress_phase != NULL;

	itemcf_progress_model(-1);
	if (reported && debug_query_string != NULL)
		pgstat_report_activity(STATE_RUNNING, debug_query_string);
}

/* The timeout: make the compute's threads stop, so that the main thread reports */
static void
ProgressTimeoutHandler(void)
{
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* Arm the timeout for the next report while the compute runs (only in a rebuild) */
void
itemcf_progress_timer_start(void)
{
	if (progress_model < 0 || !pgstat_track_activities)
		return;
	if (progress_timeout == MAX_TIMEOUTS)
		progress_timeout = RegisterTimeout(USER_TIMEOUT, ProgressTimeoutHandler);
	enable_timeout_after(progress_timeout, itemcf_progress_interval);
}

/* Disarm it */
void
itemcf_progress_timer_stop(void)
{
	if (progress_timeout != MAX_TIMEOUTS && get_timeout_active(progress_timeout))
		disable_timeout(progress_timeout, false);
}
