/*
 * cf_agg.c — the final function of item_neighbors_agg(user, item, weight
 * [, time], options), the parallel aggregate that turns purchase rows into
 * each item's top-k neighbours.
 *
 * The aggregate is one stage per file: collecting rows (transition,
 * combine, serial, deserial: cf_collect.c), its options (cf_options.c), the
 * kernel in plain C (building the CSR/CSC model: cf_model.c; scoring:
 * cf_score.c), and the result value (cf_result.c).  The final function here
 * only runs them in order: start the threads, rank the ids and build the
 * model, choose this shard's items, release the rows, create the result,
 * compute the neighbour lists into it on OpenMP threads (heavy items first,
 * stopping to handle interrupts when one is pending), compact it.
 *
 * Every allocation of the final step goes through BudgetAlloc, which fails
 * with an ERROR before allocating when itemcf.build_memory would be
 * exceeded; the budget continues from the bytes the state holds, and the
 * result, allocated in the caller's context, is charged to it too.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cf_collect.h"
#include "cf_kernel.h"
#include "cf_result.h"
#include "itemcf.h"
#include "progress.h"

/* Allocation budget of the final step */
typedef struct Budget
{
	MemoryContext ctx;
	Size		used;
	Size		peak;
	Size		limit;
} Budget;

/* Charge size bytes to the budget, failing first if over it */
static void
BudgetCharge(Budget *b, Size size)
{
	if (b->used + size > b->limit)
		CfMemoryExceeded(b->used + size, "similarity build");
	b->used += size;
	b->peak = Max(b->peak, b->used);
}

/* CfAllocFn: allocate in the build context, failing first if over budget */
static void *
BudgetAlloc(void *arg, size_t size)
{
	Budget	   *b = (Budget *) arg;

	BudgetCharge(b, size);
	return MemoryContextAllocExtended(b->ctx, Max(size, 1), MCXT_ALLOC_HUGE);
}

/*
 * Start the final step's budget where the state's left off, in a build
 * context of its own, and fail before allocating anything if the part known
 * in advance (the kernel's arrays) already does not fit
 */
static void
BudgetStart(Budget *b, const CfAggState *st, const CfParams *params)
{
	Size		need;

	b->ctx = AllocSetContextCreate(CurrentMemoryContext, "item_neighbors_agg build",
								   ALLOCSET_DEFAULT_SIZES);
	b->used = st->bytes;
	b->peak = st->bytes;
	b->limit = (Size) itemcf_build_memory_mb() * 1024 * 1024;
	need = st->bytes +
		cf_model_bytes(params, st->n_rows, st->users.n, st->items.n,
					   !params->binary, st->has_time) +
		cf_score_bytes(params, st->n_rows, st->items.n, !params->binary);
	if (need > b->limit)
		CfMemoryExceeded(need, "similarity build");
}

/*
 * Number of threads to compute on (itemcf.threads, capped by itemcf.max_threads),
 * with the team started: a thread that cannot be created is an ERROR here, never
 * an exit() inside libgomp later
 */
static int
BuildThreads(void)
{
	int			n = itemcf_build_threads();
	int			got;
	int			err = cf_threads_start(n, &got);

	if (err > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start %d threads for the similarity build", n),
				 errdetail("Creating a thread failed: %s.", strerror(err)),
				 errhint("Lower itemcf.threads or itemcf.max_threads, or raise the process limit (RLIMIT_NPROC) of the server's OS user.")));
	if (err < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start %d threads for the similarity build", n),
				 errdetail("OpenMP ran %d threads.", got),
				 errhint("Lower itemcf.threads or itemcf.max_threads, or raise OMP_THREAD_LIMIT in the server's environment.")));
	return n;
}

/* Does item id belong to the shard? */
static inline bool
InShard(int64 id, const CfParams *p)
{
	int64		m = id % p->shard_count;

	return (m < 0 ? m + p->shard_count : m) == p->shard_index;
}

/*
 * Rank the ids by ascending external id, build the kernel's model from the
 * state's rows, and add what scoring needs
 */
static void
BuildModel(CfAggState *st, const CfParams *params, Budget *budget, CfModel *m)
{
	int32		n_users = st->users.n;
	int32		n_items = st->items.n;
	int64	   *user_sorted;
	int32	   *user_rank;
	int64	   *item_sorted;
	int32	   *item_rank;
	CfRows	   *rows;
	int			c;

	user_sorted = BudgetAlloc(budget, Max(n_users, 1) * sizeof(int64));
	user_rank = BudgetAlloc(budget, Max(n_users, 1) * sizeof(int32));
	CfStateRankIds(&st->users, user_sorted, user_rank, BudgetAlloc, budget);
	item_sorted = BudgetAlloc(budget, Max(n_items, 1) * sizeof(int64));
	item_rank = BudgetAlloc(budget, Max(n_items, 1) * sizeof(int32));
	CfStateRankIds(&st->items, item_sorted, item_rank, BudgetAlloc, budget);
	CHECK_FOR_INTERRUPTS();

	rows = BudgetAlloc(budget, Max(st->nchunks, 1) * sizeof(CfRows));
	for (c = 0; c < st->nchunks; c++)
	{
		rows[c].n = st->chunks[c]->n;
		rows[c].user = st->chunks[c]->user;
		rows[c].item = st->chunks[c]->item;
		rows[c].weight = st->chunks[c]->weight;
		rows[c].time = st->chunks[c]->time;
	}
	{
		CfInput		input = {rows, st->nchunks, st->n_rows, n_users, user_rank, user_sorted,
		n_items, item_rank, item_sorted};

		cf_build(m, params, &input, BudgetAlloc, budget);
	}
	cf_score_prepare(m, BudgetAlloc, budget);
}

/* Output slots: the items of this shard, in id order (out_pos[rank]; -1 for the others) */
static int32 *
ShardSlots(const CfModel *m, Budget *budget, int32 *n_out)
{
	int32	   *out_pos = BudgetAlloc(budget, Max(m->n_items, 1) * sizeof(int32));
	int32		n = 0;
	int32		i;

	for (i = 0; i < m->n_items; i++)
		out_pos[i] = InShard(m->item_ids[i], &m->params) ? n++ : -1;
	*n_out = n;
	return out_pos;
}

/* With itemcf.threads = 0 (auto), small builds run on one thread: waking the others costs more */
static void
AutoThreads(CfModel *m, const int32 *out_pos)
{
	int64		total = 0;
	int32		i;

	if (itemcf_threads != 0)
		return;
	for (i = 0; i < m->n_items && total < 1000000; i++)
		if (out_pos[i] >= 0)
			total += cf_work(m, i);
	if (total < 1000000)
		m->params.threads = 1;
}

/*
 * Compute the neighbour lists into the result's slots in one parallel
 * region, heaviest items first; returns the pair updates.  Worker threads
 * poll the backend's interrupt flag and give up; then the main thread
 * handles the interrupt (a cancel raises here) and resumes where it was.
 */
static int64
Compute(CfModel *m, const int32 *out_pos, CfResult *res, Budget *budget)
{
	static const volatile sig_atomic_t never = 0;
	int32	   *count;
	int32	   *nbr;
	float	   *score;
	int32	   *order;
	int32		norder = 0;
	int64		updates;
	int32		i;

	CfResultSlots(res, &count, &nbr, &score);
	order = BudgetAlloc(budget, Max(m->n_items, 1) * sizeof(int32));
	updates = cf_order_by_work(m, out_pos, order, &norder, BudgetAlloc, budget);
	for (i = 0; i < res->n_out; i++)
		count[i] = -1;
	for (;;)
	{
		volatile sig_atomic_t *flag = INTERRUPTS_CAN_BE_PROCESSED() ?
			&InterruptPending : (volatile sig_atomic_t *) &never;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (itemcf_progress_active())
		{
			int32		done = 0;

			for (i = 0; i < res->n_out; i++)
				done += count[i] >= 0;
			itemcf_progress("computing", done, res->n_out);
			/* the threads stop at the next report's time, so that this thread can make it */
			itemcf_progress_timer_start();
		}
		rc = cf_compute(m, order, norder, out_pos, count, nbr, score, flag);
		itemcf_progress_timer_stop();
		if (rc == 0)
			break;
	}
	CHECK_FOR_INTERRUPTS();
	return updates;
}

PG_FUNCTION_INFO_V1(item_neighbors_finalfn);
/* Compute every item's top-k neighbours from the collected rows */
Datum
item_neighbors_finalfn(PG_FUNCTION_ARGS)
{
	CfAggState *st = PG_ARGISNULL(0) ? NULL : (CfAggState *) PG_GETARG_POINTER(0);
	TimestampTz t0 = GetCurrentTimestamp();
	CfParams	params;
	Budget		budget;
	CfModel		m;
	int32	   *out_pos;
	int32		n_out;
	CfResult   *res;
	int64		updates;

	if (st == NULL)
		PG_RETURN_NULL();
	CfStateFlush(st);
	params = st->params;
	params.threads = BuildThreads();

	/* Before computing: a dictionary that alone does not fit fails at once */
	CfResultCheckDictionary(st->items.n);

	itemcf_progress("building", st->n_rows, -1);
	BudgetStart(&budget, st, &params);
	BuildModel(st, &params, &budget, &m);
	CHECK_FOR_INTERRUPTS();
	out_pos = ShardSlots(&m, &budget, &n_out);

	/* The rows are in the model now: release them (FINALFUNC_MODIFY = READ_WRITE) */
	CfStateReleaseRows(st, &budget.used);

	/* The result is allocated in the caller's context, outside the build context */
	BudgetCharge(&budget, CfResultAllocSize(m.n_items, n_out, params.k));
	res = CfResultCreate(&m, out_pos, n_out);

	AutoThreads(&m, out_pos);
	updates = Compute(&m, out_pos, res, &budget);
	CfResultCompact(res);
	MemoryContextDelete(budget.ctx);

	{
		CfResultStats stats = {
			.users = st->users.n,
			.partials = st->partials,
			.threads = m.params.threads,
			.rows = st->n_rows,
			.rows_null_id = st->rows_null_id,
			.rows_bad_weight = st->rows_bad_weight,
			.rows_outside_window = st->rows_outside_window,
			.pairs = m.nnz,
			.capped_users = m.capped_users,
			.updates = updates,
			.memory_bytes = budget.peak,
			.read_seconds = (double) (t0 - st->started) / USECS_PER_SEC,
			.compute_seconds = (double) (GetCurrentTimestamp() - t0) / USECS_PER_SEC,
		};

		CfResultSetStats(res, &stats);
	}
	PG_RETURN_BYTEA_P(res);
}
