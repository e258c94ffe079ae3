/*
 * cf_model.c — the model-building half of the similarity kernel, in plain C
 * with OpenMP: purchase rows in, the CSR/CSC model (CfModel) out.
 *
 * The usual layout (as in the `implicit` library), made deterministic.
 * cf_build runs these steps, each a function below:
 *
 * 1. ScatterByUser: users and items are already renumbered by ascending
 *    external id (cf_rank_ids); a counting sort scatters the rows into
 *    user -> items lists (CSR), in parallel.
 * 2. MergeHistories: per user, in parallel, sort the items, merge repeat
 *    purchases (binary: once; summed: weights added in ascending order), and
 *    cap long histories (most recent first when purchase times are known,
 *    else the items with the smallest hash of (user, item): a deterministic
 *    sample); CompactHistories closes the gaps the merging left.
 * 3. NumberByPopularity: items get internal ids by popularity, so that the
 *    hot part of the scoring accumulators stays in cache.
 * 4. Transpose into item -> users lists (CSC), users ascending, in parallel.
 * 5. ItemWork: each item's share of the scoring work, for scheduling.
 *
 * Scoring (cf_score.c) reads the model and adds its own arrays to it; the
 * two halves share nothing but CfModel.  Every sum runs in a fixed order
 * (users ascending, then items ascending), so the model does not depend on
 * the plan, the row order or the number of threads.  Only the main thread
 * allocates (through CfAllocFn), outside parallel regions, and worker
 * threads run with all signals blocked (cf_threads.h).
 */
#include "cf_kernel.h"
#include "cf_threads.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

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

/* Order (id, position) pairs by id */
static int
CompareIdPos(const void *a, const void *b)
{
	int64_t		x = ((const IdPos *) a)->id;
	int64_t		y = ((const IdPos *) b)->id;

	return (x > y) - (x < y);
}

/* The hash-sample key of a (user, item) pair: the history cap keeps the smallest */
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

/* Sort ids[0..n) ascending into sorted[], and set rank[local] = position */
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

/* Bytes cf_build will allocate for this input, and the caller's ranks, output slots and order (for the memory check) */
size_t
cf_model_bytes(const CfParams *p, int64_t nrows, int32_t n_users, int32_t n_items,
			   int has_weight, int has_time)
{
	size_t		row = 4 + (has_weight ? 4 : 0) + (has_time ? 8 : 0);
	size_t		bytes = 0;

	bytes += (size_t) (n_users + n_items) * (sizeof(IdPos) + 8 + 4 + 24);	/* ranks */
	bytes += (size_t) (n_users + 1) * 8 * 2 + (size_t) n_users * 4;	/* uoff, buyer buckets, len */
	bytes += (size_t) p->threads * ((n_users > n_items ? n_users : n_items) + 1) * 8;	/* cursors */
	bytes += (size_t) nrows * row;	/* CSR before merging */
	bytes += (size_t) nrows * (4 + (has_weight ? 4 : 0));	/* CSC (upper bound) */
	bytes += (size_t) (n_items + 1) * 8 + (size_t) n_items * 24;	/* ioff, work, popularity maps, slots, order */
	return bytes;
}

/* What the steps of one cf_build share, besides the model */
typedef struct Build
{
	CfModel    *m;
	const CfInput *in;
	CfAllocFn	alloc;
	void	   *arg;
	int			has_weight;
	int			has_time;
	int			threads;
	int64_t    *cursor;			/* per-thread counting-sort cursors */
	int64_t    *utime;			/* CSR: purchase time per entry, or NULL */
	int64_t		maxlen;			/* CSR: the longest history before merging */
	int32_t    *newlen;			/* each user's history length after merging and capping */
} Build;

/*
 * 1. Counting sort of rows by user rank, in parallel: each thread counts
 * and then scatters its own share of the rows through its own cursors.
 * The order of a user's rows does not matter (step 2 sorts them fully).
 */
static void
ScatterByUser(Build *b)
{
	CfModel    *m = b->m;
	CfAllocFn	alloc = b->alloc;
	void	   *arg = b->arg;
	const CfRows *chunks = b->in->chunks;
	int			nchunks = b->in->nchunks;
	int64_t		nrows = b->in->nrows;
	int32_t		n_users = b->in->n_users;
	const int32_t *user_rank = b->in->user_rank;
	const int32_t *item_rank = b->in->item_rank;
	int			has_weight = b->has_weight;
	int			has_time = b->has_time;
	int			threads = b->threads;
	int64_t    *cursor;
	int64_t    *utime = NULL;
	int64_t		maxlen = 0;
	sigset_t	oldmask;

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
	b->cursor = cursor;
	b->utime = utime;
	b->maxlen = maxlen;
}

/* 2. Per user: merge repeat purchases, cap, sort by item */
static void
MergeHistories(Build *b)
{
	CfModel    *m = b->m;
	const CfParams *params = &m->params;
	CfAllocFn	alloc = b->alloc;
	void	   *arg = b->arg;
	int32_t		n_users = b->in->n_users;
	const int64_t *user_ids_sorted = b->in->user_ids;
	const int64_t *item_ids_sorted = b->in->item_ids;
	int			has_weight = b->has_weight;
	int			has_time = b->has_time;
	int			threads = b->threads;
	int64_t    *utime = b->utime;
	int64_t		maxlen = b->maxlen;
	int32_t    *newlen;
	CfEntry    *scratch;
	int64_t		capped = 0;
	sigset_t	oldmask;

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
	b->newlen = newlen;
}

/* Compact the CSR after merging: segments only move forward */
static void
CompactHistories(Build *b)
{
	CfModel    *m = b->m;
	int32_t		n_users = b->in->n_users;
	int			has_weight = b->has_weight;
	int32_t    *newlen = b->newlen;
	int64_t		out = 0;
	int64_t		u;

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
 * 3. Renumber items by popularity (buyers descending, then id): with Zipf-like
 * demand most updates then hit the first slots of the accumulators, which
 * stay in cache.  Results do not depend on this numbering: sums run over
 * users, and ties are broken by id rank.  A counting sort by buyers, in id
 * order, gives exactly that order.
 */
static void
NumberByPopularity(Build *b)
{
	CfModel    *m = b->m;
	CfAllocFn	alloc = b->alloc;
	void	   *arg = b->arg;
	int32_t		n_items = b->in->n_items;
	int			threads = b->threads;
	int64_t		u;
	int			c;
	sigset_t	oldmask;

	m->ioff = alloc(arg, (size_t) (n_items + 1) * sizeof(int64_t));
	memset(m->ioff, 0, (size_t) (n_items + 1) * sizeof(int64_t));
	for (u = 0; u < m->nnz; u++)
		m->ioff[m->uitem[u] + 1]++;		/* buyers by id rank, for now */
	m->pop_of_rank = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(int32_t));
	m->rank_of_pop = alloc(arg, (size_t) (n_items > 0 ? n_items : 1) * sizeof(int32_t));
	{
		int64_t		maxb = 0;
		int64_t    *start;
		int64_t		bucket;
		int64_t		q;

		for (c = 0; c < n_items; c++)
			if (m->ioff[c + 1] > maxb)
				maxb = m->ioff[c + 1];
		start = alloc(arg, (size_t) (maxb + 2) * sizeof(int64_t));
		memset(start, 0, (size_t) (maxb + 2) * sizeof(int64_t));
		for (c = 0; c < n_items; c++)
			start[maxb - m->ioff[c + 1]]++;	/* bucket 0: the most bought */
		for (bucket = 0, q = 0; bucket <= maxb; bucket++)
		{
			int64_t		n = start[bucket];

			start[bucket] = q;
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
}

/*
 * 4. Transpose into item -> users, users ascending, in parallel: thread t
 * takes the t-th range of users (by entries) and writes through its own
 * cursors, which start after those of the threads before it.
 */
static void
Transpose(Build *b)
{
	CfModel    *m = b->m;
	CfAllocFn	alloc = b->alloc;
	void	   *arg = b->arg;
	int32_t		n_users = b->in->n_users;
	int32_t		n_items = b->in->n_items;
	int			has_weight = b->has_weight;
	int			threads = b->threads;
	int64_t    *cursor = b->cursor;
	sigset_t	oldmask;

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
	b->cursor = cursor;
}

/* 5. Each item's work: the history lengths of its buyers, summed */
static void
ItemWork(Build *b)
{
	CfModel    *m = b->m;
	CfAllocFn	alloc = b->alloc;
	void	   *arg = b->arg;
	int32_t		n_items = b->in->n_items;
	int			threads = b->threads;
	int			c;
	sigset_t	oldmask;

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
}

/* Build the CSR/CSC model from the rows, step by step (see the top of this file) */
void
cf_build(CfModel *m, const CfParams *params, const CfInput *in, CfAllocFn alloc, void *arg)
{
	Build		b;

	memset(m, 0, sizeof(*m));
	m->params = *params;
	m->n_users = in->n_users;
	m->n_items = in->n_items;
	m->item_ids = in->item_ids;

	memset(&b, 0, sizeof(b));
	b.m = m;
	b.in = in;
	b.alloc = alloc;
	b.arg = arg;
	b.has_weight = !params->binary;
	b.has_time = in->nchunks > 0 && in->chunks[0].time != NULL;
	b.threads = params->threads;

	ScatterByUser(&b);
	MergeHistories(&b);
	CompactHistories(&b);
	NumberByPopularity(&b);
	Transpose(&b);
	ItemWork(&b);
}

/* Distinct buyers of the item of id rank `rank` (after the history cap) */
int32_t
cf_buyers(const CfModel *m, int32_t rank)
{
	int32_t		i = m->pop_of_rank[rank];

	return (int32_t) (m->ioff[i + 1] - m->ioff[i]);
}

/* Pair updates needed for the item of id rank `rank` (its share of the work) */
int64_t
cf_work(const CfModel *m, int32_t rank)
{
	return m->work[m->pop_of_rank[rank]];
}
