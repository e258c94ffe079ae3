/*
 * cf_score.c — the scoring half of the similarity kernel, in plain C with
 * OpenMP: each item's top-k neighbours from a built model (cf_model.c).
 *
 * Per item i, in parallel (cf_compute): for each user u of i, for each item j
 * of u, add w(u,i)·w(u,j) into a dense per-thread accumulator, remembering
 * the touched j; then score, keep the best k (a bounded buffer and
 * quickselect), and clear only the touched slots.  Cost: the sum of squared
 * basket sizes.  Items are numbered by popularity (cf_model.c) so the hot
 * part of the accumulators stays in cache, and the inner loop is branch-free
 * so that its cache misses overlap.  Heavy items are handed out first
 * (cf_order_by_work) so the threads finish together.
 *
 * This file owns everything scoring adds to the model: the score factors
 * derived from the item norms, what scoring reads about a neighbour
 * (CfItemInfo), and the per-thread scratch (cf_score_prepare allocates them
 * on the main thread, through CfAllocFn).  It shares nothing with the
 * model-building half but CfModel.  Sums run in a fixed order and ties go to
 * the smaller id, so the result does not depend on the number of threads or
 * on the instruction-set variant (cpu_dispatch.h).  Worker threads run with
 * all signals blocked (cf_threads.h), poll the backend's interrupt flag and
 * stop when it is set; the caller handles the interrupt on its own thread
 * and calls again to finish the rest.
 */
#include "cf_kernel.h"
#include "cf_threads.h"
#include "cpu_dispatch.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A neighbour candidate: score and id rank */
typedef struct CfCand
{
	float		s;
	int32_t		r;
} CfCand;

/*
 * Co-buyer counts of item i with every j never exceed i's buyers, so items
 * with fewer than 2^16 buyers (nearly all) count in 16 bits: a thread's
 * counters then fit in its L2 cache, which the update loop's random
 * increments need.
 */
#define CF_NARROW_MAX 65535

/* What scoring reads about a neighbour j, in one place: one cache miss, not two */
typedef struct CfItemInfo
{
	float		right;			/* cosine: squared norm; asymmetric: norm2^(alpha - 1) */
	int32_t		rank;			/* id rank, for ties */
} CfItemInfo;

/*
 * A double narrowed to float, clamped to +-FLT_MAX: a score or factor beyond
 * real's range stays the largest real (converting it as it is would be
 * undefined, in practice infinity, and the neighbour would be dropped)
 */
static inline float
NarrowClamped(double x)
{
	if (x > FLT_MAX)
		return FLT_MAX;
	if (x < -FLT_MAX)
		return -FLT_MAX;
	return (float) x;
}

/* Bytes cf_score_prepare will allocate (for the memory check) */
size_t
cf_score_bytes(const CfParams *p, int64_t nrows, int32_t n_items, int has_weight)
{
	size_t		bytes = 0;

	bytes += (size_t) n_items * 16;	/* score factors */
	bytes += (size_t) n_items * sizeof(CfItemInfo);
	bytes += (size_t) p->threads * n_items * ((has_weight ? 8 : 0) + 2 + 4 +
											  (nrows > CF_NARROW_MAX ? 4 : 0));
	bytes += (size_t) p->threads * (4 * p->k + 64) * 8;
	return bytes;
}

/* Squared item norms, in CSC order, and the score factors derived from them */
static void
ScoreFactors(CfModel *m, CfAllocFn alloc, void *arg)
{
	const CfParams *params = &m->params;
	int			has_weight = !params->binary;
	int32_t		n_items = m->n_items;
	int			c;

	m->left = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(double));
	m->right = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(double));
	for (c = 0; c < n_items; c++)
	{
		double		norm2;

		if (has_weight)
		{
			double		s = 0.0;
			int64_t		p;

			for (p = m->ioff[c]; p < m->ioff[c + 1]; p++)
				s += (double) m->iweight[p] * m->iweight[p];
			norm2 = s;
		}
		else
			norm2 = (double) (m->ioff[c + 1] - m->ioff[c]);
		if (params->measure == CF_ASYMMETRIC_COSINE)
		{
			m->left[c] = norm2 > 0.0 ? pow(norm2, -params->alpha) : 0.0;
			m->right[c] = norm2 > 0.0 ? pow(norm2, params->alpha - 1.0) : 0.0;
		}
		else
		{
			/* cosine divides by sqrt(n2_i * n2_j); binary: counts, exact in float below 2^24 */
			m->left[c] = params->binary ? (float) norm2 : norm2;
			m->right[c] = m->left[c];
		}
	}
}

/* Per-thread scratch for cf_compute, and what it reads about each neighbour */
static void
Scratch(CfModel *m, CfAllocFn alloc, void *arg)
{
	const CfParams *params = &m->params;
	int			has_weight = !params->binary;
	int			threads = params->threads;
	int32_t		n_items = m->n_items;
	int			c;

	/* Per-thread scratch for cf_compute */
	if (has_weight)
	{
		m->acc = alloc(arg, (size_t) threads * (size_t) (n_items > 0 ? n_items : 1) * sizeof(double));
		memset(m->acc, 0, (size_t) threads * (size_t) (n_items > 0 ? n_items : 1) * sizeof(double));
	}
	m->info = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(CfItemInfo));
	for (c = 0; c < n_items; c++)
	{
		m->info[c].right = NarrowClamped(m->right[c]);	/* read as a float by binary cosine only */
		m->info[c].rank = m->rank_of_pop[c];
	}
	m->cnt16 = alloc(arg, (size_t) threads * (size_t) (n_items > 0 ? n_items : 1) * sizeof(uint16_t));
	memset(m->cnt16, 0, (size_t) threads * (size_t) (n_items > 0 ? n_items : 1) * sizeof(uint16_t));
	m->cnt32 = NULL;
	if (n_items > 0 && m->ioff[1] - m->ioff[0] > CF_NARROW_MAX)	/* item 0 is the most bought */
	{
		m->cnt32 = alloc(arg, (size_t) threads * (size_t) n_items * sizeof(int32_t));
		memset(m->cnt32, 0, (size_t) threads * (size_t) n_items * sizeof(int32_t));
	}
	m->touched = alloc(arg, (size_t) threads * (size_t) (n_items + 1) * sizeof(int32_t));
	m->cand_cap = 4 * params->k + 64;
	m->cand = alloc(arg, (size_t) threads * (size_t) m->cand_cap * sizeof(CfCand));
}

/* Add to a built model the score factors and the per-thread scratch scoring needs */
void
cf_score_prepare(CfModel *m, CfAllocFn alloc, void *arg)
{
	ScoreFactors(m, alloc, arg);
	Scratch(m, alloc, arg);
}

/* Is a better than b?  Higher score, then smaller id. */
static inline int
Better(CfCand a, CfCand b)
{
	return a.s > b.s || (a.s == b.s && a.r < b.r);
}

/* SelectBest(c, n, k): c[0..k) become the k best candidates (unordered); k < n */
#define SELECT_NAME SelectBest
#define SELECT_T CfCand
#define SELECT_BETTER(a, b) Better(a, b)
#include "select_impl.h"

/* Sort candidates by id rank (Shell sort: n is at most k, often 50) */
static void
SortByRank(CfCand *c, int n)
{
	static const int gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
	int			g;

	for (g = 0; g < (int) (sizeof(gaps) / sizeof(gaps[0])); g++)
	{
		int			gap = gaps[g];
		int			i;

		for (i = gap; i < n; i++)
		{
			CfCand		t = c[i];
			int			j = i;

			while (j >= gap && c[j - gap].r > t.r)
			{
				c[j] = c[j - gap];
				j -= gap;
			}
			c[j] = t;
		}
	}
}

/* Score of item i with neighbour j given co-buyer count c and dot product */
static inline double
Score(const CfModel *m, int32_t i, int32_t j, int32_t c, double dot, float right_j)
{
	const CfParams *p = &m->params;
	double		s;

	if (p->measure == CF_JACCARD)
	{
		double		ni = (double) (m->ioff[i + 1] - m->ioff[i]);
		double		nj = (double) (m->ioff[j + 1] - m->ioff[j]);

		s = c / (ni + nj - c);
	}
	else if (p->measure == CF_ASYMMETRIC_COSINE)
		s = dot * (m->left[i] * m->right[j]);
	else if (!p->binary)
		s = dot / sqrt(m->left[i] * m->left[j]);	/* double norms: weights may be tiny or huge */
	else
		s = dot / sqrt(m->left[i] * (double) right_j);	/* the same for (i, j) and (j, i) */
	if (p->shrinkage > 0.0)
		s *= c / (c + p->shrinkage);
	return s;
}

/*
 * Top-k neighbours of one item into (outid, outscore), by ascending id; returns
 * the count, or -1 if interrupted (scratch is left clean either way).
 *
 * Candidates go to a small buffer; when it fills, a quickselect keeps the
 * best k and their worst becomes the bar later candidates must clear, so
 * the cost stays linear in the number of candidates.
 */
static inline __attribute__((always_inline)) int
ComputeItem(const CfModel *m, int tid, int32_t i, int32_t *outid, float *outscore,
			volatile sig_atomic_t *interrupt)
{
	const CfParams *p = &m->params;
	int32_t		n_items = m->n_items;
	uint16_t   *cnt16 = m->cnt16 + (size_t) tid * n_items;
	int32_t    *cnt32 = m->cnt32 ? m->cnt32 + (size_t) tid * n_items : NULL;
	const int	wide = m->ioff[i + 1] - m->ioff[i] > CF_NARROW_MAX;
	int32_t    *touched = m->touched + (size_t) tid * (n_items + 1);	/* +1: branch-free store */
	double	   *acc = m->acc ? m->acc + (size_t) tid * n_items : NULL;
	CfCand	   *buf = m->cand + (size_t) tid * m->cand_cap;
	int			nbuf = 0;
	int			full = 0;		/* bar is set */
	CfCand		bar = {0.0f, 0};
	int64_t		nt = 0;
	int64_t		q;
	int64_t		t;
	int			interrupted = 0;
	int			dense;
	double		cmin = 0.0;		/* counts below this cannot reach the bar */
	const int64_t qend = m->ioff[i + 1];

	for (q = m->ioff[i]; q < qend; q++)
	{
		int32_t		u = m->iuser[q];
		int64_t		a = m->uoff[u];
		int64_t		b = m->uoff[u + 1];
		int64_t		r;

		/* the next users' lists are random accesses: start loading them now */
		if (q + 8 < qend)
			__builtin_prefetch(&m->uoff[m->iuser[q + 8]]);
		if (q + 4 < qend)
			__builtin_prefetch(&m->uitem[m->uoff[m->iuser[q + 4]]]);

		/* branch-free: keep only first touches, and let the misses overlap */
#define CF_UPDATE(cnt, sum) \
		for (r = a; r < b; r++) \
		{ \
			int32_t		j = m->uitem[r]; \
\
			touched[nt] = j; \
			nt += (cnt[j]++ == 0); \
			sum; \
		}
		if (acc)
		{
			double		wi = m->iweight[q];

			if (wide)
				CF_UPDATE(cnt32, acc[j] += wi * (double) m->uweight[r])
			else
				CF_UPDATE(cnt16, acc[j] += wi * (double) m->uweight[r])
		}
		else if (wide)
			CF_UPDATE(cnt32, (void) 0)
		else
			CF_UPDATE(cnt16, (void) 0)
#undef CF_UPDATE
		if (((q - m->ioff[i]) & 1023) == 1023 && *interrupt)
		{
			interrupted = 1;
			break;
		}
	}

	/*
	 * Score the candidates.  An item that touched many slots (a popular one)
	 * scans the slots in order instead of its touched list: sequential reads
	 * beat random ones once enough slots are in use.
	 *
	 * Once the bar is set, binary cosine and jaccard drop most candidates on
	 * their count alone, before the square root and division: as c <= n_j,
	 * cosine is at most sqrt(c / n_i) and jaccard at most c / n_i.  The
	 * margin keeps every drop exact under float rounding.
	 */
	dense = !interrupted && nt > n_items / 8;
	for (t = 0; t < (dense ? (int64_t) n_items : nt); t++)
	{
		int32_t		j = dense ? (int32_t) t : touched[t];
		int32_t		c = wide ? cnt32[j] : cnt16[j];
		double		dot;
		CfCand		cand;

		if (!dense && t + 16 < nt)
			__builtin_prefetch(&m->info[touched[t + 16]]);	/* a random read: start it early */

		if (c == 0)
			continue;			/* an untouched slot of the dense scan */
		dot = acc ? acc[j] : (double) c;
		if (wide)
			cnt32[j] = 0;
		else
			cnt16[j] = 0;
		if (acc)
			acc[j] = 0.0;
		if (interrupted || j == i || c < p->min_support || c < cmin)
			continue;
		cand.s = NarrowClamped(Score(m, i, j, c, dot, m->info[j].right));
		if (!(cand.s > 0.0f) || (full && cand.s < bar.s))
			continue;
		cand.r = m->info[j].rank;
		if (full && !Better(cand, bar))
			continue;
		buf[nbuf++] = cand;
		if (nbuf == m->cand_cap)
		{
			int			w;

			SelectBest(buf, nbuf, p->k);
			nbuf = p->k;
			bar = buf[0];
			for (w = 1; w < nbuf; w++)
				if (Better(bar, buf[w]))
					bar = buf[w];
			full = 1;
			if (p->measure == CF_COSINE && !acc)
				cmin = (double) bar.s * bar.s * m->left[i] * (1.0 - 1e-5);
			else if (p->measure == CF_JACCARD)
				cmin = bar.s * (double) (m->ioff[i + 1] - m->ioff[i]) * (1.0 - 1e-5);
		}
	}
	if (interrupted)
		return -1;

	if (nbuf > p->k)
	{
		SelectBest(buf, nbuf, p->k);
		nbuf = p->k;
	}
	SortByRank(buf, nbuf);
	for (t = 0; t < nbuf; t++)
	{
		outid[t] = buf[t].r;
		outscore[t] = buf[t].s;
	}
	return nbuf;
}

/*
 * ComputeItem for each instruction set (cpu_dispatch.h): the accumulate and
 * scoring loops, inlined into the baseline and the AVX2 variant; cf_compute
 * calls the one cf_kernel_variant names
 */
typedef int (*ComputeItemFn) (const CfModel *m, int tid, int32_t i, int32_t *outid,
							  float *outscore, volatile sig_atomic_t *interrupt);

/* ComputeItem for the baseline instruction set */
static int
ComputeItemBase(const CfModel *m, int tid, int32_t i, int32_t *outid, float *outscore,
				volatile sig_atomic_t *interrupt)
{
	return ComputeItem(m, tid, i, outid, outscore, interrupt);
}

#ifdef ITEMCF_DISPATCH
/* ComputeItem compiled for AVX2 (the same results, bit for bit) */
static ITEMCF_TARGET_AVX2 int
ComputeItemAvx2(const CfModel *m, int tid, int32_t i, int32_t *outid, float *outscore,
				volatile sig_atomic_t *interrupt)
{
	return ComputeItem(m, tid, i, outid, outscore, interrupt);
}
#endif

/* The variant cf_compute uses; -1: not chosen yet */
static int	kernel_variant = -1;

/* Choose the instruction-set variant of the compute (v < 0: the best), or report it */
int
cf_kernel_variant(int v)
{
	int			best = 0;

#ifdef ITEMCF_DISPATCH
	if (itemcf_cpu_has_avx2())
		best = 1;
#endif
	if (v > best)
		return -1;
	if (v >= 0)
		kernel_variant = v;
	else if (kernel_variant < 0)
		kernel_variant = best;
	return kernel_variant;
}

/* A shard item's rank and its work, for cf_order_by_work */
typedef struct RankWork
{
	int64_t		work;
	int32_t		rank;
} RankWork;

/* Heaviest first, then by rank */
static int
CompareWork(const void *a, const void *b)
{
	const RankWork *x = (const RankWork *) a;
	const RankWork *y = (const RankWork *) b;

	if (x->work != y->work)
		return x->work > y->work ? -1 : 1;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The items to compute, heaviest first, into order[]; returns the total pair updates */
int64_t
cf_order_by_work(const CfModel *m, const int32_t *out_pos, int32_t *order, int32_t *norder,
				 CfAllocFn alloc, void *arg)
{
	RankWork   *rw = alloc(arg, (size_t) (m->n_items > 0 ? m->n_items : 1) * sizeof(RankWork));
	int64_t		total = 0;
	int64_t		heavy;
	int32_t		n = 0;
	int32_t		nheavy = 0;
	int32_t		r;

	for (r = 0; r < m->n_items; r++)
		if (out_pos[r] >= 0)
		{
			rw[n].work = cf_work(m, r);
			rw[n].rank = r;
			total += rw[n].work;
			n++;
		}

	/*
	 * Heavy items (more than 1/256 of a thread's share) go first, heaviest
	 * first, so that no thread is left with one at the end; the rest follow
	 * in id order, which keeps neighbouring work together in the caches.
	 */
	heavy = total / ((int64_t) m->params.threads * 256) + 1;
	for (r = 0; r < n; r++)
		if (rw[r].work >= heavy)
		{
			RankWork	t = rw[nheavy];

			rw[nheavy++] = rw[r];
			rw[r] = t;
		}
	qsort(rw, (size_t) nheavy, sizeof(RankWork), CompareWork);
	for (r = 0; r < nheavy; r++)
		order[r] = rw[r].rank;
	/* the light ones, in id order */
	{
		int32_t		o = nheavy;
		int32_t		j;

		for (j = 0; j < m->n_items; j++)
			if (out_pos[j] >= 0 && cf_work(m, j) < heavy)
				order[o++] = j;
	}
	*norder = n;
	return total;
}

/* Compute the top-k neighbours of order[0..norder) on the model's threads; 1 if interrupted */
int
cf_compute(CfModel *m, const int32_t *order, int32_t norder, const int32_t *out_pos,
		   int32_t *count, int32_t *nbr, float *score,
		   volatile sig_atomic_t *interrupt)
{
	volatile int abort_run = 0;
	sigset_t	old;
	int			k = m->params.k;
#ifdef ITEMCF_DISPATCH
	ComputeItemFn compute_item = cf_kernel_variant(-1) == 1 ? ComputeItemAvx2 : ComputeItemBase;
#else
	ComputeItemFn compute_item = ComputeItemBase;
#endif

	/* Threads created now inherit a full signal mask; the main thread restores its own */
	CfBlockSignals(&old);

#pragma omp parallel num_threads(m->params.threads)
	{
		int			nt;
		int			tid = CfThreadEnter(&old, &nt);
		int32_t		o;

		/* heaviest items first, one at a time: the threads finish together */
#pragma omp for schedule(dynamic, 1)
		for (o = 0; o < norder; o++)
		{
			int32_t		r = order[o];
			int32_t		slot = out_pos[r];
			int			n;

			if (count[slot] >= 0 || abort_run)
				continue;		/* done in an earlier call, or giving up */
			if (*interrupt)
			{
				abort_run = 1;
				continue;
			}
			n = compute_item(m, tid, m->pop_of_rank[r], nbr + (size_t) slot * k, score + (size_t) slot * k,
							 interrupt);
			if (n < 0)
				abort_run = 1;
			else
				count[slot] = n;
		}
	}
	/* the main thread restored its mask inside the region; with 0 threads it did not */
	CfRestoreSignals(&old);

	return abort_run ? 1 : 0;
}
