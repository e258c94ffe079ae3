/*
 * cf_kernel.h — the item-to-item similarity kernel, in plain C with OpenMP.
 *
 * No PostgreSQL headers: this code runs on OpenMP threads, where palloc,
 * ereport and CHECK_FOR_INTERRUPTS are forbidden.  The caller (cf_agg.c)
 * allocates every buffer on the main thread through CfAllocFn, runs the
 * compute, and handles interrupts whenever the threads stop for one.
 *
 * The kernel has two halves that share only CfModel: cf_model.c builds it
 * from the rows (cf_build), cf_score.c adds what scoring needs
 * (cf_score_prepare) and computes the neighbour lists (cf_compute);
 * cf_threads.c starts the OpenMP team both run on.  A build is:
 *
 *		cf_threads_start(threads, &got);
 *		cf_rank_ids(...);				for the users, then the items
 *		cf_build(&m, &params, &input, alloc, arg);
 *		cf_score_prepare(&m, alloc, arg);
 *		cf_order_by_work(&m, out_pos, order, &norder, alloc, arg);
 *		while (cf_compute(&m, order, norder, out_pos, ...) != 0)
 *			handle the interrupt;
 */
#ifndef CF_KERNEL_H
#define CF_KERNEL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CfMeasure
{
	CF_COSINE = 0,
	CF_JACCARD,
	CF_ASYMMETRIC_COSINE		/* alpha = 1: conditional probability P(j | i) */
} CfMeasure;

typedef struct CfParams
{
	CfMeasure	measure;
	double		alpha;			/* asymmetric cosine exponent (0.5 = cosine) */
	int			binary;			/* 1: a repeat purchase counts once, weight 1 */
	int			k;				/* neighbours kept per item */
	int			min_support;	/* minimum number of co-buyers */
	double		shrinkage;		/* score *= c / (c + shrinkage); 0 = none */
	int			history_cap;	/* distinct items kept per user; 0 = no cap */
	int			threads;		/* OpenMP threads (>= 1) */
	int			shard_count;	/* emit items with id mod shard_count == shard_index */
	int			shard_index;
} CfParams;

/* A chunk of rows, with ids local to the aggregate state (0 .. n-1) */
typedef struct CfRows
{
	int64_t		n;
	const int32_t *user;
	const int32_t *item;
	const float *weight;		/* NULL when binary */
	const int64_t *time;		/* NULL when no purchase time was given */
} CfRows;

/*
 * The input of cf_build: the rows, and the ids of their users and items in
 * ascending order with each local id's rank in that order (cf_rank_ids)
 */
typedef struct CfInput
{
	const CfRows *chunks;
	int			nchunks;
	int64_t		nrows;			/* rows in all chunks */
	int32_t		n_users;
	const int32_t *user_rank;	/* local user id -> id rank */
	const int64_t *user_ids;	/* id rank -> external user id (ascending) */
	int32_t		n_items;
	const int32_t *item_rank;	/* local item id -> id rank */
	const int64_t *item_ids;	/* id rank -> external item id (ascending) */
} CfInput;

/* Where the caller allocates; must not return NULL (it raises instead) */
typedef void *(*CfAllocFn) (void *arg, size_t size);

/*
 * The working model: user -> items (CSR) and item -> users (CSC), with users
 * and items renumbered by ascending external id so results do not depend on
 * the order rows arrived in.
 */
typedef struct CfModel
{
	CfParams	params;
	int32_t		n_users;
	int32_t		n_items;
	int64_t		nnz;			/* distinct (user, item) pairs after the cap */
	int64_t		capped_users;	/* users whose history was cut */
	const int64_t *item_ids;	/* sorted external item ids [n_items] */
	int64_t    *uoff;			/* [n_users + 1] */
	int32_t    *uitem;			/* [nnz] */
	float	   *uweight;		/* [nnz] or NULL when binary */
	int64_t    *ioff;			/* [n_items + 1] */
	int32_t    *iuser;			/* [nnz] */
	float	   *iweight;		/* [nnz] or NULL when binary */
	int32_t    *pop_of_rank;	/* id rank -> internal id (popularity order) */
	int32_t    *rank_of_pop;	/* internal id -> id rank */
	int64_t    *work;			/* internal id -> pair updates its row needs */
	/* added by cf_score_prepare (cf_score.c) */
	double	   *left;			/* score factors: see Score() in cf_score.c */
	double	   *right;
	struct CfItemInfo *info;	/* [n_items] what scoring reads about a neighbour */
	/* per-thread scratch */
	double	   *acc;			/* [threads * n_items] or NULL when binary */
	uint16_t   *cnt16;			/* [threads * n_items] co-buyer counts, items < 2^16 buyers */
	int32_t    *cnt32;			/* [threads * n_items] the same for the others, or NULL */
	int32_t    *touched;		/* [threads * n_items] */
	struct CfCand *cand;		/* [threads * cand_cap] candidate buffers */
	int			cand_cap;
	int64_t		updates;		/* pair updates performed */
} CfModel;

/* --- Building the model: cf_model.c --- */

/* Order of the history-cap sample without times: smallest keys are kept */
extern uint64_t cf_sample_key(int64_t user_id, int64_t item_id);

/*
 * The history cap, one rule for the build and for serving: a user's distinct
 * items sorted by (cf_cap_key, item id) ascending, the first history_cap
 * kept.  With purchase times the key puts the most recent first, a NULL time
 * (INT64_MIN, like -infinity) last; equal times, NULLs included, go to the
 * smaller item id.  Without times the key is the hash sample cf_sample_key.
 */
extern uint64_t cf_cap_key(int has_time, int64_t user_id, int64_t item_id, int64_t time);

/* The cap order of (key, item) pairs; item may be any id order-preserving map of the ids */
static inline int
cf_cap_compare(uint64_t key_a, int64_t item_a, uint64_t key_b, int64_t item_b)
{
	if (key_a != key_b)
		return key_a < key_b ? -1 : 1;
	return (item_a > item_b) - (item_a < item_b);
}

/* Sort ids[0..n) ascending into sorted[], and set rank[local] = position */
extern void cf_rank_ids(const int64_t *ids, int32_t n, int64_t *sorted, int32_t *rank,
						CfAllocFn alloc, void *arg);

/*
 * Bytes cf_build will allocate for this input, with the caller's id ranks,
 * output slots and order (for the memory check; cf_score_bytes adds scoring's)
 */
extern size_t cf_model_bytes(const CfParams *params, int64_t nrows, int32_t n_users,
							 int32_t n_items, int has_weight, int has_time);

/*
 * Build the CSR/CSC model from the rows: dedupe (binary) or sum (weights)
 * repeat purchases, cap long histories (most recent first when times are
 * given, else a deterministic hash sample), number items by popularity.
 */
extern void cf_build(CfModel *m, const CfParams *params, const CfInput *input,
					 CfAllocFn alloc, void *arg);

/* Pair updates needed for the item of id rank `rank` (its share of the work) */
extern int64_t cf_work(const CfModel *m, int32_t rank);

/* Distinct buyers of the item of id rank `rank` (after the history cap) */
extern int32_t cf_buyers(const CfModel *m, int32_t rank);

/* --- Scoring: cf_score.c --- */

/* Bytes cf_score_prepare will allocate (for the memory check) */
extern size_t cf_score_bytes(const CfParams *params, int64_t nrows, int32_t n_items,
							 int has_weight);

/*
 * Add to a built model what scoring needs: the item norms and the score
 * factors derived from them, and the per-thread scratch of cf_compute
 */
extern void cf_score_prepare(CfModel *m, CfAllocFn alloc, void *arg);

/*
 * The items to compute (out_pos[rank] >= 0) into order[0..*norder), heaviest
 * first, so that dynamic scheduling balances the threads; returns the total
 * number of pair updates.
 */
extern int64_t cf_order_by_work(const CfModel *m, const int32_t *out_pos, int32_t *order,
								int32_t *norder, CfAllocFn alloc, void *arg);

/*
 * Compute the top-k neighbours of the items order[0..norder) (id ranks) in
 * parallel.  Item rank r writes slot out_pos[r]: its best count[slot]
 * neighbours (higher score first, ties to the smaller id) into
 * nbr[slot * k ...] (item ranks) and score[slot * k ...], listed by ascending
 * id.  Slots with count >= 0 are already done and skipped, so set count to -1
 * first.  Returns 0 when every item is done, 1 when *interrupt became
 * non-zero (call again after handling it: finished items are kept).
 */
extern int	cf_compute(CfModel *m, const int32_t *order, int32_t norder, const int32_t *out_pos,
					   int32_t *count, int32_t *nbr, float *score,
					   volatile sig_atomic_t *interrupt);

/*
 * The instruction-set variant of the compute (cpu_dispatch.h): v < 0 chooses
 * the best this CPU supports (the first call does), 0 the baseline, 1 AVX2;
 * returns the variant in use, or -1 if this CPU or build has no variant v.
 * Every variant gives bit-identical results.  Main thread only.
 */
extern int	cf_kernel_variant(int v);

/* --- Threads: cf_threads.c --- */

/*
 * Make sure a team of n threads can run, before any region of cf_build or
 * cf_compute (libgomp would exit the process if it could not create one), and
 * start it.  Returns 0; an errno if a thread could not be created; -1 if
 * OpenMP runs fewer than n (*got of them).  Main thread only.
 */
extern int	cf_threads_start(int n, int *got);

#endif
