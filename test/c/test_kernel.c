/*
 * test_kernel.c — TAP tests of the similarity kernel's instruction-set
 * variants (src/cf_score.c, cf_kernel_variant): every variant this CPU
 * supports must give the baseline's neighbour lists and scores bit for bit,
 * for every measure and weighting, narrow (16-bit) and wide co-buyer counts,
 * on 1 and 2 threads.
 *
 * Prints "ok N - name" / "not ok N - name", the plan "1..N" at the end;
 * exits 1 if any check failed.
 */
#include "cf_kernel.h"
#include "cf_purchase.h"
#include "test_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every allocation of one build, freed together */
typedef struct Arena
{
	void	  **p;
	int			n;
	int			cap;
} Arena;

static void *
ArenaAlloc(void *arg, size_t size)
{
	Arena	   *a = (Arena *) arg;
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
	{
		printf("Bail out! out of memory\n");
		exit(1);
	}
	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 64;
		a->p = realloc(a->p, sizeof(void *) * (size_t) a->cap);
		if (a->p == NULL)
		{
			printf("Bail out! out of memory\n");
			exit(1);
		}
	}
	a->p[a->n++] = p;
	return p;
}

static void
ArenaFree(Arena *a)
{
	int			i;

	for (i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
	memset(a, 0, sizeof(*a));
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Generated purchases: local ids 0..n-1, skewed item popularity */
typedef struct Shop
{
	int64_t		n;
	int32_t		n_users;
	int32_t		n_items;
	int32_t    *user;
	int32_t    *item;
	float	   *weight;
	int64_t    *user_ids;
	int64_t    *item_ids;
} Shop;

/*
 * n_users users with 1..maxlen purchases of n_items items (low ids popular);
 * with `hot`, every user also buys item 0, so that it has more than 65,535 buyers
 * when n_users does (wide counts)
 */
static Shop
MakeShop(int32_t n_users, int32_t n_items, int maxlen, int hot)
{
	Shop		s;
	int64_t		cap = (int64_t) n_users * (maxlen + 1);
	int32_t		u;
	int32_t		i;

	s.n = 0;
	s.n_users = n_users;
	s.n_items = n_items;
	s.user = malloc(sizeof(int32_t) * (size_t) cap);
	s.item = malloc(sizeof(int32_t) * (size_t) cap);
	s.weight = malloc(sizeof(float) * (size_t) cap);
	s.user_ids = malloc(sizeof(int64_t) * (size_t) n_users);
	s.item_ids = malloc(sizeof(int64_t) * (size_t) n_items);
	for (u = 0; u < n_users; u++)
	{
		int			len = 1 + (int) (rng() % (uint64_t) maxlen);
		int			j;

		s.user_ids[u] = (int64_t) (rng() % 1000000000) * 64 + u;	/* distinct, unordered */
		if (hot)
		{
			s.user[s.n] = u;
			s.item[s.n] = 0;
			s.weight[s.n++] = 1.0f;
		}
		for (j = 0; j < len; j++)
		{
			uint64_t	r = rng();
			int32_t		it = (int32_t) ((r % (uint64_t) n_items) * ((r >> 32) % (uint64_t) n_items) / (uint64_t) n_items);

			s.user[s.n] = u;
			s.item[s.n] = it;
			s.weight[s.n++] = (float) (1 + (rng() % 1000)) / 7.0f;
		}
	}
	for (i = 0; i < n_items; i++)
		s.item_ids[i] = (int64_t) i * 3 + 5;
	return s;
}

static void
FreeShop(Shop *s)
{
	free(s->user);
	free(s->item);
	free(s->weight);
	free(s->user_ids);
	free(s->item_ids);
}

/* One build's output */
typedef struct Result
{
	int32_t		n_items;
	int			k;
	int32_t    *count;
	int32_t    *nbr;
	float	   *score;
} Result;

/* Build and compute the shop with params p on the current kernel variant */
static Result
Run(const Shop *s, const CfParams *p)
{
	Arena		a = {0};
	CfRows		rows = {s->n, s->user, s->item, p->binary ? NULL : s->weight, NULL};
	CfModel		m;
	Result		r;
	int64_t    *us = ArenaAlloc(&a, sizeof(int64_t) * (size_t) s->n_users);
	int32_t    *ur = ArenaAlloc(&a, sizeof(int32_t) * (size_t) s->n_users);
	int64_t    *is = ArenaAlloc(&a, sizeof(int64_t) * (size_t) s->n_items);
	int32_t    *ir = ArenaAlloc(&a, sizeof(int32_t) * (size_t) s->n_items);
	int32_t    *pos = ArenaAlloc(&a, sizeof(int32_t) * (size_t) s->n_items);
	int32_t    *order = ArenaAlloc(&a, sizeof(int32_t) * (size_t) s->n_items);
	CfInput		input = {&rows, 1, s->n, s->n_users, ur, us, s->n_items, ir, is};
	int32_t		norder;
	int32_t		i;
	static volatile sig_atomic_t never = 0;

	r.n_items = s->n_items;
	r.k = p->k;
	r.count = malloc(sizeof(int32_t) * (size_t) s->n_items);
	r.nbr = malloc(sizeof(int32_t) * (size_t) s->n_items * (size_t) p->k);
	r.score = malloc(sizeof(float) * (size_t) s->n_items * (size_t) p->k);
	memset(r.nbr, 0, sizeof(int32_t) * (size_t) s->n_items * (size_t) p->k);
	memset(r.score, 0, sizeof(float) * (size_t) s->n_items * (size_t) p->k);
	cf_rank_ids(s->user_ids, s->n_users, us, ur, ArenaAlloc, &a);
	cf_rank_ids(s->item_ids, s->n_items, is, ir, ArenaAlloc, &a);
	cf_build(&m, p, &input, ArenaAlloc, &a);
	cf_score_prepare(&m, ArenaAlloc, &a);
	for (i = 0; i < s->n_items; i++)
	{
		pos[i] = i;
		r.count[i] = -1;
	}
	cf_order_by_work(&m, pos, order, &norder, ArenaAlloc, &a);
	while (cf_compute(&m, order, norder, pos, r.count, r.nbr, r.score, &never) != 0)
		;
	ArenaFree(&a);
	return r;
}

/* Same counts, neighbours and score bits? */
static int
SameResult(const Result *x, const Result *y, long *entries)
{
	int32_t		i;

	*entries = 0;
	for (i = 0; i < x->n_items; i++)
	{
		size_t		o = (size_t) i * (size_t) x->k;

		if (x->count[i] != y->count[i])
			return 0;
		if (x->count[i] > 0 &&
			(memcmp(x->nbr + o, y->nbr + o, sizeof(int32_t) * (size_t) x->count[i]) != 0 ||
			 memcmp(x->score + o, y->score + o, sizeof(float) * (size_t) x->count[i]) != 0))
			return 0;
		*entries += x->count[i];
	}
	return 1;
}

static void
FreeResult(Result *r)
{
	free(r->count);
	free(r->nbr);
	free(r->score);
}

/* The purchase rule of the build and serving (cf_purchase.h), case by case */
static void
TestPurchaseRule(void)
{
	const int64_t since = 1000;
	bool		null;
	float		w;

	ok(cf_purchase_row(false, false, 1.0f, 5, CF_TIME_NONE) == CF_ROW_PURCHASE, "purchase: no window");
	ok(cf_purchase_row(true, false, 1.0f, 5, CF_TIME_NONE) == CF_ROW_NULL_ID, "NULL id first");
	ok(cf_purchase_row(true, true, 0.0f, CF_TIME_NONE, since) == CF_ROW_NULL_ID, "NULL id before bad weight and window");
	ok(cf_purchase_row(false, true, 1.0f, 5, CF_TIME_NONE) == CF_ROW_BAD_WEIGHT, "NULL weight");
	ok(cf_purchase_row(false, false, 0.0f, 5, CF_TIME_NONE) == CF_ROW_BAD_WEIGHT, "zero weight");
	ok(cf_purchase_row(false, false, -0.0f, 5, CF_TIME_NONE) == CF_ROW_BAD_WEIGHT, "negative zero weight");
	ok(cf_purchase_row(false, false, -2.0f, 5, CF_TIME_NONE) == CF_ROW_BAD_WEIGHT, "negative weight");
	ok(cf_purchase_row(false, false, NAN, 5, CF_TIME_NONE) == CF_ROW_BAD_WEIGHT, "NaN weight");
	ok(cf_purchase_row(false, false, INFINITY, 5, CF_TIME_NONE) == CF_ROW_BAD_WEIGHT, "infinite weight");
	ok(cf_purchase_row(false, false, 1e-45f, 5, CF_TIME_NONE) == CF_ROW_PURCHASE, "smallest real weight");
	ok(cf_purchase_row(false, false, 1.0f, CF_TIME_NONE, CF_TIME_NONE) == CF_ROW_PURCHASE, "no time, no window");
	ok(cf_purchase_row(false, false, 1.0f, CF_TIME_NONE, since) == CF_ROW_OUTSIDE_WINDOW, "no time, a window");
	ok(cf_purchase_row(false, false, 1.0f, since - 1, since) == CF_ROW_OUTSIDE_WINDOW, "before the window");
	ok(cf_purchase_row(false, false, 1.0f, since, since) == CF_ROW_PURCHASE, "at the window's start");
	ok(cf_purchase_row(false, true, 1.0f, since - 1, since) == CF_ROW_BAD_WEIGHT, "bad weight before window");

	w = cf_weight_from_double(2.5, &null);
	ok(!null && w == 2.5f, "2.5 as a real");
	cf_weight_from_double(1e300, &null);
	ok(null, "1e300 is NULL");
	cf_weight_from_double(-1e300, &null);
	ok(null, "-1e300 is NULL");
	cf_weight_from_double(3.5e38, &null);
	ok(null, "3.5e38 is NULL");
	cf_weight_from_double((double) 3.4028235e38f, &null);
	ok(null, "FLT_MAX is beyond 3.4028234e38: NULL (the SQL compares in double)");
	w = cf_weight_from_double(3.4028234e38, &null);
	ok(!null && !isinf(w), "3.4028234e38 is a finite real");
	cf_weight_from_double(1e-50, &null);
	ok(null, "1e-50 is NULL");
	w = cf_weight_from_double(0.0, &null);
	ok(!null && w == 0.0f, "0 stays 0 (then a bad weight)");
	w = cf_weight_from_double(1e-45, &null);
	ok(!null && w > 0.0f, "1e-45 is the smallest real");
	cf_weight_from_double(NAN, &null);
	ok(null, "NaN is NULL");
	cf_weight_from_double(INFINITY, &null);
	ok(null, "infinity is NULL");
}

int
main(void)
{
	/* measure, alpha, binary, k, min_support, shrinkage, history_cap, threads, shards */
	static const struct
	{
		const char *name;
		CfParams	p;
	}			cases[] = {
		{"binary cosine", {CF_COSINE, 0.5, 1, 10, 1, 0.0, 0, 1, 1, 0}},
		{"summed cosine", {CF_COSINE, 0.5, 0, 10, 1, 0.0, 0, 1, 1, 0}},
		{"jaccard, min_support 2", {CF_JACCARD, 0.5, 1, 7, 2, 0.0, 0, 1, 1, 0}},
		{"asymmetric cosine alpha 0.8", {CF_ASYMMETRIC_COSINE, 0.8, 1, 10, 1, 0.0, 0, 1, 1, 0}},
		{"summed cosine, shrinkage 5, history cap 8", {CF_COSINE, 0.5, 0, 5, 1, 5.0, 8, 1, 1, 0}},
		{"binary cosine, k 3 (the bar is set early)", {CF_COSINE, 0.5, 1, 3, 1, 0.0, 0, 1, 1, 0}},
	};
	Shop		small = MakeShop(3000, 400, 12, 0);
	Shop		wide = MakeShop(70000, 60, 2, 1);
	int			best = cf_kernel_variant(-1);
	int			c;
	int			v;
	int			threads;

	printf("# test_kernel: best variant on this CPU: %d\n", best);
	TestPurchaseRule();
	ok(cf_kernel_variant(0) == 0, "the baseline variant is always there");
	ok(cf_kernel_variant(99) == -1, "an unknown variant is refused");
	for (v = 1; v <= best; v++)
		for (threads = 1; threads <= 2; threads++)
			for (c = 0; c < (int) (sizeof(cases) / sizeof(cases[0])); c++)
			{
				CfParams	p = cases[c].p;
				int			w;

				p.threads = threads;
				for (w = 0; w < 2; w++)
				{
					const Shop *s = w ? &wide : &small;
					Result		r0,
								r1;
					long		entries = 0;

					if (w && c > 1)
						continue;	/* wide counts: two cases are enough (and valgrind is slow) */
					cf_kernel_variant(0);
					r0 = Run(s, &p);
					ok(cf_kernel_variant(v) == v, "variant %d can be chosen", v);
					r1 = Run(s, &p);
					ok(SameResult(&r0, &r1, &entries) && entries > 0,
					   "variant %d = baseline bit for bit: %s, %s counts, %d thread(s) (%ld entries)",
					   v, cases[c].name, w ? "wide" : "narrow", threads, entries);
					FreeResult(&r0);
					FreeResult(&r1);
				}
			}
	if (best == 0)
		printf("# this CPU runs no kernel variant besides the baseline\n");
	cf_kernel_variant(best);
	FreeShop(&small);
	FreeShop(&wide);
	return done_testing();
}
