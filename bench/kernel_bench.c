/*
 * kernel_bench.c — the similarity kernel alone (no PostgreSQL), on a
 * generated shop: users with geometric basket sizes (mean 10, capped at 500)
 * buying Zipf-like items (exponent 0.9).  Prints build and compute seconds
 * for 1 thread and for all threads, median of 3 runs each.
 *
 *   make -C bench kernel_bench && bench/out/kernel_bench [users] [items] [k]
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "../src/cf_kernel.h"

static void *
Alloc(void *arg, size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	/* remember for freeing */
	{
		void	 ***list = (void ***) arg;
		size_t		n = (size_t) list[0][0];

		list[0][n + 1] = p;
		list[0][0] = (void *) (n + 1);
	}
	return p;
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;

static double
Uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng >> 11) * (1.0 / 9007199254740992.0);
}

static int
CompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int32_t		n_users = argc > 1 ? atoi(argv[1]) : 600000;
	int32_t		n_items_max = argc > 2 ? atoi(argv[2]) : 400000;
	int			k = argc > 3 ? atoi(argv[3]) : 50;
	int64_t		cap = (int64_t) n_users * 40;
	int32_t    *user = malloc(cap * sizeof(int32_t));
	int32_t    *item = malloc(cap * sizeof(int32_t));
	int32_t    *item_local;
	int64_t		n = 0;
	int32_t		u;
	int32_t		n_items;
	int64_t    *user_ids;
	int64_t    *item_ids;
	int32_t    *seen;
	int			all = argc > 4 ? atoi(argv[4]) : omp_get_num_procs();
	int			tc;
	double		zmax = pow(n_items_max, 0.1) - 1;
	volatile sig_atomic_t never = 0;

	/* Generate: item ids 1..n_items_max, local ids in first-seen order */
	seen = malloc((n_items_max + 1) * sizeof(int32_t));
	memset(seen, -1, (n_items_max + 1) * sizeof(int32_t));
	item_ids = malloc((n_items_max + 1) * sizeof(int64_t));
	n_items = 0;
	for (u = 0; u < n_users; u++)
	{
		int			len = 1 + (int) floor(log(1 - Uniform()) / log(0.9));
		int			j;

		if (len > 500)
			len = 500;
		for (j = 0; j < len && n < cap; j++)
		{
			int32_t		id = (int32_t) floor(pow(1 + Uniform() * zmax, 10));

			if (id > n_items_max)
				id = n_items_max;
			if (seen[id] < 0)
			{
				seen[id] = n_items;
				item_ids[n_items++] = id;
			}
			user[n] = u;
			item[n] = seen[id];
			n++;
		}
	}
	item_local = item;
	user_ids = malloc(n_users * sizeof(int64_t));
	for (u = 0; u < n_users; u++)
		user_ids[u] = u + 1;
	printf("rows %lld, users %d, items %d, k %d, cores %d\n", (long long) n, n_users, n_items, k, all);
	printf("%-8s %10s %12s %12s %14s\n", "threads", "build s", "compute s", "total s", "updates/s");

	for (tc = 1; tc <= all; tc += (all > 1 ? all - 1 : 1))
	{
		double		tb[3],
					tcomp[3];
		int64_t		updates = 0;
		int			run;

		for (run = 0; run < 3; run++)
		{
			void	  **list = calloc(64, sizeof(void *));
			void	   *arg = &list;
			CfParams	p = {CF_COSINE, 0.5, 1, k, 1, 0.0, 500, tc, 1, 0};
			CfRows		rows = {n, user, item_local, NULL, NULL};
			CfModel		m;
			int64_t    *us = Alloc(arg, n_users * sizeof(int64_t));
			int32_t    *ur = Alloc(arg, n_users * sizeof(int32_t));
			int64_t    *is = Alloc(arg, n_items * sizeof(int64_t));
			int32_t    *ir = Alloc(arg, n_items * sizeof(int32_t));
			int32_t    *pos = Alloc(arg, n_items * sizeof(int32_t));
			int32_t    *count = Alloc(arg, n_items * sizeof(int32_t));
			int32_t    *nbr = Alloc(arg, (size_t) n_items * k * sizeof(int32_t));
			float	   *score = Alloc(arg, (size_t) n_items * k * sizeof(float));
			CfInput		input = {&rows, 1, n, n_users, ur, us, n_items, ir, is};
			double		t0 = Now();
			int32_t		i;
			size_t		f;

			cf_rank_ids(user_ids, n_users, us, ur, Alloc, arg);
			cf_rank_ids(item_ids, n_items, is, ir, Alloc, arg);
			cf_build(&m, &p, &input, Alloc, arg);
			cf_score_prepare(&m, Alloc, arg);
			tb[run] = Now() - t0;
			int32_t    *order = Alloc(arg, n_items * sizeof(int32_t));
			int32_t		norder;

			for (i = 0; i < n_items; i++)
			{
				pos[i] = i;
				count[i] = -1;
			}
			t0 = Now();
			cf_order_by_work(&m, pos, order, &norder, Alloc, arg);
			cf_compute(&m, order, norder, pos, count, nbr, score, &never);
			tcomp[run] = Now() - t0;
			updates = 0;
			for (i = 0; i < n_items; i++)
				updates += cf_work(&m, i);
			for (f = 1; f <= (size_t) list[0]; f++)
				free(list[f]);
			free(list);
		}
		qsort(tb, 3, sizeof(double), CompareDouble);
		qsort(tcomp, 3, sizeof(double), CompareDouble);
		printf("%-8d %10.3f %12.3f %12.3f %14.3g\n", tc, tb[1], tcomp[1], tb[1] + tcomp[1],
			   updates / tcomp[1]);
	}
	return 0;
}
