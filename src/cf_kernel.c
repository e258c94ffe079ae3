/*
 * cf_kernel.c — item-to-item top-k similarity, in plain C with OpenMP.
 *
 * The usual algorithm (as in the `implicit` library), made deterministic:
 *
 * 1. Renumber users and items by ascending external id (cf_rank_ids) and
 *    scatter the rows into user -> items lists (CSR) with a counting sort.
 * 2. Per user, in parallel: sort the items, merge repeat purchases (binary:
 *    once; summed: weights added in ascending order), and cap long histories
 *    (most recent first when purchase times are known, else the items with
 *    the smallest hash of (user, item): a deterministic sample).
 * 3. Transpose into item -> users lists (CSC), users ascending.
 * 4. Per item i, in parallel (cf_compute): for each user u of i, for each
 *    item j of u, add w(u,i)·w(u,j) into a dense per-thread accumulator,
 *    remembering the touched j; then score, keep the best k (a bounded
 *    buffer and quickselect), and clear only the touched slots.  Cost: the
 *    sum of squared basket sizes.  Items are numbered by popularity so the
 *    hot part of the accumulators stays in cache, and the inner loop is
 *    branch-free so that its cache misses overlap.
 *
 * Every sum runs in a fixed order (users ascending, then items ascending),
 * so the result does not depend on the plan, the row order or the number
 * of threads.  Only the main thread allocates (through CfAllocFn), outside
 * parallel regions.  Worker threads run with all signals blocked (cf_threads.h), so that
 * PostgreSQL's handlers only ever run on the backend's own thread; they poll
 * the backend's interrupt flag and stop when it is set; the caller handles
 * the interrupt on its own thread and calls again to finish the rest.
 */
#include "cf_kernel.h"
#include "cf_threads.h"
#include "cpu_dispatch.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* One purchase while a user's history is being merged */
typedef struct CfEntry
{
	int32_t		item;
	float		weight;
	int64_t		time;
	uint64_t	key;			/* cap order: hash, or inverted time */
} CfEntry;

/* Mix a 64-bit value (splitmix64 finaliser) */
static inline uint64_t
Mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

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

/* Order by item, then weight, then time: the merge order of repeat purchases */
static int
CompareByItem(const void *a, const void *b)
{
	const CfEntry *x = (const CfEntry *) a;
	const CfEntry *y = (const CfEntry *) b;

	if (x->item != y->item)
		return x->item < y->item ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight < y->weight ? -1 : 1;
	return (x->time > y->time) - (x->time < y->time);
}

/* The history-cap order (cf_cap_compare; id ranks order like the ids) */
static int
CompareByKey(const void *a, const void *b)
{
	const CfEntry *x = (const CfEntry *) a;
	const CfEntry *y = (const CfEntry *) b;

	return cf_cap_compare(x->key, x->item, y->key, y->item);
}

/* Sort entries: insertion sort for short runs, qsort otherwise */
static void
SortEntries(CfEntry *e, int64_t n, int (*cmp) (const void *, const void *))
{
	int64_t		i;

	if (n > 24)
	{
		qsort(e, (size_t) n, sizeof(CfEntry), cmp);
		return;
	}
	for (i = 1; i < n; i++)
	{
		CfEntry		t = e[i];
		int64_t		j = i;

		while (j > 0 && cmp(&e[j - 1], &t) > 0)
		{
			e[j] = e[j - 1];
			j--;
		}
		e[j] = t;
	}
}

/* An (id, local position) pair for cf_rank_ids */
typedef struct IdPos
{
	int64_t		id;
	int32_t		pos;
} IdPos;

static int
CompareIdPos(const void *a, const void *b)
{
	int64_t		x = ((const IdPos *) a)->id;
	int64_t		y = ((const IdPos *) b)->id;

	return (x > y) - (x < y);
}

uint64_t
cf_sample_key(int64_t user_id, int64_t item_id)
{
	return Mix64((uint64_t) user_id ^ Mix64((uint64_t) item_id));
}

/* The history-cap key (see cf_kernel.h): inverted time, or the hash sample */
uint64_t
cf_cap_key(int has_time, int64_t user_id, int64_t item_id, int64_t time)
{
	if (has_time)
		return UINT64_MAX - ((uint64_t) time ^ UINT64_C(0x8000000000000000));
	return cf_sample_key(user_id, item_id);
}

void
cf_rank_ids(const int64_t *ids, int32_t n, int64_t *sorted, int32_t *rank,
			CfAllocFn alloc, void *arg)
{
	IdPos	   *tmp = alloc(arg, (size_t) (n > 0 ? n : 1) * sizeof(IdPos));
	int32_t		i;

	for (i = 0; i < n; i++)
	{
		tmp[i].id = ids[i];
		tmp[i].pos = i;
	}
	qsort(tmp, (size_t) n, sizeof(IdPos), CompareIdPos);
	for (i = 0; i < n; i++)
	{
		sorted[i] = tmp[i].id;
		rank[tmp[i].pos] = i;
	}
}

/*
 * Turn per-thread counts (cursor[t * (n + 1) + key]) into each thread's
 * starting position per key, key by key and thread by thread, and set off[key]
 * to where each key starts (off[n]: the total); returns the largest key count.
 */
static int64_t
PrefixCursors(int64_t *cursor, int64_t n, int nt, int64_t *off)
{
	int64_t		pos = 0;
	int64_t		largest = 0;
	int64_t		key;

	for (key = 0; key < n; key++)
	{
		int			t;

		off[key] = pos;
		for (t = 0; t < nt; t++)
		{
			int64_t		c = cursor[(size_t) t * (n + 1) + key];

			cursor[(size_t) t * (n + 1) + key] = pos;
			pos += c;
		}
		if (pos - off[key] > largest)
			largest = pos - off[key];
	}
	off[n] = pos;
	return largest;
}

/* The first user whose entries start at or after entry e (uoff ascending) */
static int64_t
UserAt(const int64_t *uoff, int32_t n_users, int64_t e)
{
	int64_t		lo = 0;
	int64_t		hi = n_users;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (uoff[mid] < e)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t
cf_build_bytes(const CfParams *p, int64_t nrows, int32_t n_users, int32_t n_items,
			   int has_weight, int has_time)
{
	size_t		row = 4 + (has_weight ? 4 : 0) + (has_time ? 8 : 0);
	size_t		bytes = 0;

	bytes += (size_t) (n_users + n_items) * (sizeof(IdPos) + 8 + 4 + 24);	/* ranks */
	bytes += (size_t) (n_users + 1) * 8 * 2 + (size_t) n_users * 4;	/* uoff, buyer buckets, len */
	bytes += (size_t) p->threads * ((n_users > n_items ? n_users : n_items) + 1) * 8;	/* cursors */
	bytes += (size_t) nrows * row;	/* CSR before merging */
	bytes += (size_t) nrows * (4 + (has_weight ? 4 : 0));	/* CSC (upper bound) */
	bytes += (size_t) (n_items + 1) * 8 + (size_t) n_items * (4 * 8 + 8);	/* ioff, work, norms, order */
	bytes += (size_t) n_items * sizeof(CfItemInfo);
	bytes += (size_t) p->threads * n_items * ((has_weight ? 8 : 0) + 2 + 4 +
											  (nrows > CF_NARROW_MAX ? 4 : 0));
	bytes += (size_t) p->threads * (4 * p->k + 64) * 8;
	return bytes;
}

void
cf_build(CfModel *m, const CfParams *params,
		 const CfRows *chunks, int nchunks, int64_t nrows,
		 int32_t n_users, const int32_t *user_rank, const int64_t *user_ids_sorted,
		 int32_t n_items, const int32_t *item_rank, const int64_t *item_ids_sorted,
		 CfAllocFn alloc, void *arg)
{
	int			has_weight = !params->binary;
	int			has_time = nchunks > 0 && chunks[0].time != NULL;
	int			threads = params->threads;
	int64_t    *cursor;
	int32_t    *newlen;
	int64_t    *utime = NULL;
	CfEntry    *scratch;
	int64_t		maxlen = 0;
	int64_t		u;
	int64_t		capped = 0;
	int			c;
	sigset_t	oldmask;

	memset(m, 0, sizeof(*m));
	m->params = *params;
	m->n_users = n_users;
	m->n_items = n_items;
	m->item_ids = item_ids_sorted;

	/*
	 * 1. Counting sort of rows by user rank, in parallel: each thread counts
	 * and then scatters its own share of the rows through its own cursors.
	 * The order of a user's rows does not matter (step 2 sorts them fully).
	 */
	m->uoff = alloc(arg, (size_t) (n_users + 1) * sizeof(int64_t));
	cursor = alloc(arg, (size_t) threads * (size_t) (n_users + 1) * sizeof(int64_t));
	memset(cursor, 0, (size_t) threads * (size_t) (n_users + 1) * sizeof(int64_t));
	m->uitem = alloc(arg, (size_t) (nrows > 0 ? nrows : 1) * sizeof(int32_t));
	if (has_weight)
		m->uweight = alloc(arg, (size_t) (nrows > 0 ? nrows : 1) * sizeof(float));
	if (has_time)
		utime = alloc(arg, (size_t) (nrows > 0 ? nrows : 1) * sizeof(int64_t));

	CfBlockSignals(&oldmask);
#pragma omp parallel num_threads(threads)
	{
		int			nt;
		int			tid = CfThreadEnter(&oldmask, &nt);
		int64_t		lo;
		int64_t		hi;
		int64_t		g = 0;
		int64_t    *cur;
		int			cc;

		cur = cursor + (size_t) tid * (n_users + 1);
		lo = nrows * tid / nt;
		hi = nrows * (tid + 1) / nt;
		for (cc = 0, g = 0; cc < nchunks && g < hi; g += chunks[cc].n, cc++)
		{
			int64_t		r = lo > g ? lo - g : 0;
			int64_t		end = hi - g < chunks[cc].n ? hi - g : chunks[cc].n;

			for (; r < end; r++)
				cur[user_rank[chunks[cc].user[r]]]++;
		}
#pragma omp barrier
#pragma omp single
		maxlen = PrefixCursors(cursor, n_users, nt, m->uoff);
		for (cc = 0, g = 0; cc < nchunks && g < hi; g += chunks[cc].n, cc++)
		{
			const CfRows *ch = &chunks[cc];
			int64_t		r = lo > g ? lo - g : 0;
			int64_t		end = hi - g < ch->n ? hi - g : ch->n;

			for (; r < end; r++)
			{
				int64_t		p = cur[user_rank[ch->user[r]]]++;

				m->uitem[p] = item_rank[ch->item[r]];
				if (has_weight)
					m->uweight[p] = ch->weight ? ch->weight[r] : 1.0f;
				if (has_time)
					utime[p] = ch->time[r];
			}
		}
	}
	CfRestoreSignals(&oldmask);

	/* 2. Per user: merge repeat purchases, cap, sort by item */
	newlen = alloc(arg, (size_t) (n_users > 0 ? n_users : 1) * sizeof(int32_t));
	scratch = alloc(arg, (size_t) threads * (size_t) (maxlen > 0 ? maxlen : 1) * sizeof(CfEntry));

	CfBlockSignals(&oldmask);
#pragma omp parallel num_threads(threads) reduction(+:capped)
	{
		int			nt;
		int			tid = CfThreadEnter(&oldmask, &nt);
		CfEntry    *e;
		int64_t		uu;

		e = scratch + (size_t) tid * (size_t) (maxlen > 0 ? maxlen : 1);

#pragma omp for schedule(dynamic, 256)
		for (uu = 0; uu < n_users; uu++)
		{
			int64_t		start = m->uoff[uu];
			int64_t		len = m->uoff[uu + 1] - start;
			int64_t		i;
			int64_t		n = 0;

			for (i = 0; i < len; i++)
			{
				e[i].item = m->uitem[start + i];
				e[i].weight = has_weight ? m->uweight[start + i] : 1.0f;
				e[i].time = has_time ? utime[start + i] : 0;
			}
			SortEntries(e, len, CompareByItem);

			/* merge runs of the same item: weights summed in order, latest time */
			for (i = 0; i < len; i++)
			{
				if (n > 0 && e[n - 1].item == e[i].item)
				{
					if (has_weight)
					{
						/* summed in double; saturates at the largest real */
						double		sum = (double) e[n - 1].weight + e[i].weight;

						e[n - 1].weight = (float) (sum < FLT_MAX ? sum : FLT_MAX);
					}
					if (e[i].time > e[n - 1].time)
						e[n - 1].time = e[i].time;
				}
				else
					e[n++] = e[i];
			}

			if (params->history_cap > 0 && n > params->history_cap)
			{
				/* keep the most recent (time descending), or a hash sample */
				for (i = 0; i < n; i++)
					e[i].key = cf_cap_key(has_time, user_ids_sorted[uu],
										  item_ids_sorted[e[i].item], e[i].time);
				SortEntries(e, n, CompareByKey);
				n = params->history_cap;
				SortEntries(e, n, CompareByItem);
				capped++;
			}

			for (i = 0; i < n; i++)
			{
				m->uitem[start + i] = e[i].item;
				if (has_weight)
					m->uweight[start + i] = e[i].weight;
			}
			newlen[uu] = (int32_t) n;
		}
	}
	CfRestoreSignals(&oldmask);
	m->capped_users = capped;

	/* Compact the CSR: segments only move forward */
	{
		int64_t		out = 0;

		for (u = 0; u < n_users; u++)
		{
			int64_t		start = m->uoff[u];

			m->uoff[u] = out;
			if (out != start)
			{
				memmove(m->uitem + out, m->uitem + start, (size_t) newlen[u] * sizeof(int32_t));
				if (has_weight)
					memmove(m->uweight + out, m->uweight + start, (size_t) newlen[u] * sizeof(float));
			}
			out += newlen[u];
		}
		m->uoff[n_users] = out;
		m->nnz = out;
	}

	/*
	 * Renumber items by popularity (buyers descending, then id): with Zipf-like
	 * demand most updates then hit the first slots of the accumulators, which
	 * stay in cache.  Results do not depend on this numbering: sums run over
	 * users, and ties are broken by id rank.  A counting sort by buyers, in id
	 * order, gives exactly that order.
	 */
	m->ioff = alloc(arg, (size_t) (n_items + 1) * sizeof(int64_t));
	memset(m->ioff, 0, (size_t) (n_items + 1) * sizeof(int64_t));
	for (u = 0; u < m->nnz; u++)
		m->ioff[m->uitem[u] + 1]++;		/* buyers by id rank, for now */
	m->pop_of_rank = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(int32_t));
	m->rank_of_pop = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(int32_t));
	{
		int64_t		maxb = 0;
		int64_t    *start;
		int64_t		b;
		int64_t		q;

		for (c = 0; c < n_items; c++)
			if (m->ioff[c + 1] > maxb)
				maxb = m->ioff[c + 1];
		start = alloc(arg, (size_t) (maxb + 2) * sizeof(int64_t));
		memset(start, 0, (size_t) (maxb + 2) * sizeof(int64_t));
		for (c = 0; c < n_items; c++)
			start[maxb - m->ioff[c + 1]]++;	/* bucket 0: the most bought */
		for (b = 0, q = 0; b <= maxb; b++)
		{
			int64_t		n = start[b];

			start[b] = q;
			q += n;
		}
		for (c = 0; c < n_items; c++)
		{
			int32_t		pop = (int32_t) start[maxb - m->ioff[c + 1]]++;

			m->rank_of_pop[pop] = c;
			m->pop_of_rank[c] = pop;
		}
		CfBlockSignals(&oldmask);
#pragma omp parallel for num_threads(threads) schedule(static)
		for (q = 0; q < m->nnz; q++)
			m->uitem[q] = m->pop_of_rank[m->uitem[q]];
		CfRestoreSignals(&oldmask);
	}

	/*
	 * 3. Transpose into item -> users, users ascending, in parallel: thread t
	 * takes the t-th range of users (by entries) and writes through its own
	 * cursors, which start after those of the threads before it.
	 */
	m->iuser = alloc(arg, (size_t) (m->nnz > 0 ? m->nnz : 1) * sizeof(int32_t));
	if (has_weight)
		m->iweight = alloc(arg, (size_t) (m->nnz > 0 ? m->nnz : 1) * sizeof(float));
	if (n_items > n_users)		/* else the user cursors are big enough */
		cursor = alloc(arg, (size_t) threads * (size_t) (n_items + 1) * sizeof(int64_t));
	memset(cursor, 0, (size_t) threads * (size_t) (n_items + 1) * sizeof(int64_t));
	CfBlockSignals(&oldmask);
#pragma omp parallel num_threads(threads)
	{
		int			nt;
		int			tid = CfThreadEnter(&oldmask, &nt);
		int64_t		ulo;
		int64_t		uhi;
		int64_t    *cur;
		int64_t		q;
		int64_t		uu;

		cur = cursor + (size_t) tid * (n_items + 1);
		/* users whose entries start in this thread's share of nnz */
		ulo = UserAt(m->uoff, n_users, m->nnz * tid / nt);
		uhi = UserAt(m->uoff, n_users, m->nnz * (tid + 1) / nt);
		for (q = m->uoff[ulo]; q < m->uoff[uhi]; q++)
			cur[m->uitem[q]]++;
#pragma omp barrier
#pragma omp single
		PrefixCursors(cursor, n_items, nt, m->ioff);
		for (uu = ulo; uu < uhi; uu++)
			for (q = m->uoff[uu]; q < m->uoff[uu + 1]; q++)
			{
				int64_t		p = cur[m->uitem[q]]++;

				m->iuser[p] = (int32_t) uu;
				if (has_weight)
					m->iweight[p] = m->uweight[q];
			}
	}
	CfRestoreSignals(&oldmask);

	/* Each item's work: the history lengths of its buyers, summed */
	m->work = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(int64_t));
	CfBlockSignals(&oldmask);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
	for (c = 0; c < n_items; c++)
	{
		int64_t		w = 0;
		int64_t		p;

		for (p = m->ioff[c]; p < m->ioff[c + 1]; p++)
			w += m->uoff[m->iuser[p] + 1] - m->uoff[m->iuser[p]];
		m->work[c] = w;
	}
	CfRestoreSignals(&oldmask);

	/* 4. Squared item norms, in CSC order, and the score factors derived from them */
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

int32_t
cf_buyers(const CfModel *m, int32_t rank)
{
	int32_t		i = m->pop_of_rank[rank];

	return (int32_t) (m->ioff[i + 1] - m->ioff[i]);
}

int64_t
cf_work(const CfModel *m, int32_t rank)
{
	return m->work[m->pop_of_rank[rank]];
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

static int
ComputeItemBase(const CfModel *m, int tid, int32_t i, int32_t *outid, float *outscore,
				volatile sig_atomic_t *interrupt)
{
	return ComputeItem(m, tid, i, outid, outscore, interrupt);
}

#ifdef ITEMCF_DISPATCH
static ITEMCF_TARGET_AVX2 int
ComputeItemAvx2(const CfModel *m, int tid, int32_t i, int32_t *outid, float *outscore,
				volatile sig_atomic_t *interrupt)
{
	return ComputeItem(m, tid, i, outid, outscore, interrupt);
}
#endif

/* The variant cf_compute uses; -1: not chosen yet */
static int	kernel_variant = -1;

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

#ifdef _OPENMP
/* A probe thread: wait until told to go, then exit */
typedef struct ProbeGate
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int			go;
} ProbeGate;

static void *
ProbeThread(void *arg)
{
	ProbeGate  *g = (ProbeGate *) arg;

	pthread_mutex_lock(&g->lock);
	while (!g->go)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Threads of this process (Linux: /proc/self/status), or -1 if unknown */
static int
ProcessThreads(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	int			n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Threads:", 8) == 0)
		{
			n = atoi(line + 8);
			break;
		}
	fclose(f);
	return n;
}

/* Size of libgomp's idle pool, an upper bound: the team of our last region, less the main thread */
static int	pool_threads = 0;
#endif

/*
 * Make sure a team of n threads can run, and start it.  libgomp ends the
 * process with exit(1) when it cannot create a thread, so the threads it will
 * need are first created here with pthread_create, which reports failure:
 * they exit at once, the kernel releases them (the count of the process's
 * threads drops back), and then an empty parallel region grows libgomp's pool
 * to n threads, which the kernel's regions (at most n threads) reuse.  Only
 * another process of the same OS user taking the last slots in between
 * could still fail libgomp.  Returns 0; or an errno if a thread could not be
 * created (the pool is unchanged); or -1 if the region ran fewer than n
 * threads (*got says how many: OMP_THREAD_LIMIT).  Main thread only.
 */
int
cf_threads_start(int n, int *got)
{
#ifdef _OPENMP
	int			need;
	int			before;
	int			err = 0;

	*got = 1;
	if (n <= 1)
		return 0;
	omp_set_dynamic(0);
	if (omp_get_thread_limit() < n)
	{
		*got = omp_get_thread_limit();
		return -1;
	}

	/* threads libgomp will create: those not already idle in its pool */
	before = ProcessThreads();
	need = n - 1 - pool_threads;
	if (before > 0 && before - 1 < pool_threads)
		need = n - before;		/* pool threads that exited since */
	if (need > 0)
	{
		ProbeGate	gate;
		pthread_t  *tids = malloc(sizeof(pthread_t) * (size_t) need);
		int			made = 0;
		sigset_t	old;
		int			t;

		if (tids == NULL)
			return ENOMEM;
		pthread_mutex_init(&gate.lock, NULL);
		pthread_cond_init(&gate.cond, NULL);
		gate.go = 0;
		CfBlockSignals(&old);
		for (made = 0; made < need; made++)
			if ((err = pthread_create(&tids[made], NULL, ProbeThread, &gate)) != 0)
				break;
		CfRestoreSignals(&old);
		pthread_mutex_lock(&gate.lock);
		gate.go = 1;
		pthread_cond_broadcast(&gate.cond);
		pthread_mutex_unlock(&gate.lock);
		for (t = 0; t < made; t++)
			pthread_join(tids[t], NULL);
		free(tids);
		pthread_cond_destroy(&gate.cond);
		pthread_mutex_destroy(&gate.lock);

		/*
		 * A joined thread still counts against the process limit until the
		 * kernel has released it, just after: wait for that (up to 2 s).
		 */
		if (before > 0)
		{
			int			waited;

			for (waited = 0; ProcessThreads() > before && waited < 2000; waited++)
			{
				struct timespec ms = {0, 1000000};

				nanosleep(&ms, NULL);
			}
			if (err == 0 && ProcessThreads() > before)
				err = EAGAIN;
		}
		if (err != 0)
			return err;
	}

	/* The team, with every signal blocked in the threads it creates */
	{
		sigset_t	old;
		int			team = 0;

		CfBlockSignals(&old);
#pragma omp parallel num_threads(n)
		{
			int			nt;
			int			tid = CfThreadEnter(&old, &nt);

			if (tid == 0)
				team = nt;
		}
		CfRestoreSignals(&old);
		pool_threads = team - 1;
		*got = team;
		if (team < n)
			return -1;
	}
	return 0;
#else
	*got = 1;					/* no OpenMP: the regions run on this thread */
	return 0;
#endif
}
