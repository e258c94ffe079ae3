/*
 * isa_bench.c — the svec kernels alone, for comparing builds of src/svec_math.c
 * (bench/isa_bench.sh links it against the old -march=native build and the
 * portable one with run-time dispatch).  Cache-resident data as in
 * svec_kernel.c: a ~1 MB pool of pairs, NNZ distinct indices each, uniform in
 * [0, 10 * NNZ); best of 5 measurements of >= 0.1 s each.
 *
 * Prints one line: NNZ_A NNZ_B, then ns per call of svec_dot (int64),
 * svec_dot_32 (int32: the SSE2 short product when NNZ_A <= 32, NNZ_B <= 16),
 * svec_l2_squared_32 and svec_intersection_size_32.
 *
 * Usage: isa_bench NNZ_A NNZ_B
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "svec_math.h"

typedef struct
{
	int			n;
	int64_t    *i64;
	int32_t    *i32;
	float	   *v;
} Vec;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
Next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* n distinct sorted indices in [0, 10 n) */
static void
MakeVec(Vec *x, int n)
{
	int			u = 10 * n;
	char	   *seen = calloc((size_t) u, 1);
	int			k = 0;
	int			i;

	x->n = n;
	x->i64 = malloc(sizeof(int64_t) * (size_t) n);
	x->i32 = malloc(sizeof(int32_t) * (size_t) n);
	x->v = malloc(sizeof(float) * (size_t) n);
	for (i = 0; i < u && k < n; i++)
		if (Next() % (uint64_t) (u - i) < (uint64_t) (n - k))	/* selection sampling: sorted */
		{
			seen[i] = 1;
			x->i64[k] = i;
			x->i32[k] = i;
			x->v[k] = (float) ((Next() & 16777215) + 1) / 16777216.0f;
			k++;
		}
	free(seen);
}

static double
Now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static Vec *A;
static Vec *B;
static int	pairs;

static double
Run(int which)
{
	double		sum = 0.0;
	int			p;

	for (p = 0; p < pairs; p++)
	{
		const Vec  *a = &A[p];
		const Vec  *b = &B[p];

		switch (which)
		{
			case 0:
				sum += svec_dot(a->i64, a->v, a->n, b->i64, b->v, b->n);
				break;
			case 1:
				sum += svec_dot_32(a->i32, a->v, a->n, b->i32, b->v, b->n);
				break;
			case 2:
				sum += svec_l2_squared_32(a->i32, a->v, a->n, b->i32, b->v, b->n);
				break;
			default:
				sum += svec_intersection_size_32(a->i32, a->n, b->i32, b->n);
				break;
		}
	}
	return sum;
}

int
main(int argc, char **argv)
{
	int			na = argc > 2 ? atoi(argv[1]) : 10;
	int			nb = argc > 2 ? atoi(argv[2]) : 10;
	int			w;
	int			p;
	volatile double sink = 0.0;

	pairs = 87381 / (na + nb);
	if (pairs < 4)
		pairs = 4;
	A = malloc(sizeof(Vec) * (size_t) pairs);
	B = malloc(sizeof(Vec) * (size_t) pairs);
	for (p = 0; p < pairs; p++)
	{
		MakeVec(&A[p], na);
		MakeVec(&B[p], nb);
	}
	printf("%d %d", na, nb);
	for (w = 0; w < 4; w++)
	{
		double		best = 1e30;
		int			rep;

		for (rep = 0; rep < 5; rep++)
		{
			long		calls = 0;
			double		t0 = Now();
			double		t;

			do
			{
				sink += Run(w);
				calls += pairs;
			} while ((t = Now() - t0) < 0.1);
			if (t / calls < best)
				best = t / calls;
		}
		printf(" %.2f", best * 1e9);
	}
	printf("\n");
	return sink == 42.0;
}
