/*
 * svec_kernel.c — the cosine kernel alone, outside PostgreSQL: no executor, no detoast.
 *
 * Times svec's merge (svec_dot from src/svec_math.c, compiled unchanged, plus the cached-norm
 * division that svec_cosine_distance does) against a scalar merge of the kind pgvector 0.8's
 * sparsevec uses: int32 indices, a branchy "advance the smaller index" scan, float accumulation,
 * and both norms recomputed on every call.  The latter is written here for comparison only; it
 * is not pgvector's code, and it is best of two loop shapes so as not to flatter svec.
 *
 * Data: like bench/svec_cosine.sh, n distinct indices uniform in [0, universe), values in (0, 1].
 * A pool of pairs of about 1 MB is cycled, so the data is cache-resident: these are best-case
 * kernel times.  Best of 7 measurements of >= 0.2 s each (minimum: the least disturbed by other
 * work on a shared machine).
 *
 * Usage: svec_kernel NNZ_A NNZ_B UNIVERSE      (bench/svec_kernel.sh builds and runs the sizes)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "svec_math.h"

typedef struct
{
	int			n;
	int64_t    *idx64;			/* svec's indices */
	int32_t    *idx32;			/* the same, as int32 */
	float	   *val;
	double		norm;			/* svec caches this in the value */
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

static int
CmpInt64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

static void
MakeVec(Vec *v, int n, int64_t universe)
{
	char	   *seen = calloc(universe, 1);
	double		sum = 0.0;
	int			k = 0;

	v->n = n;
	v->idx64 = malloc(sizeof(int64_t) * n);
	v->idx32 = malloc(sizeof(int32_t) * n);
	v->val = malloc(sizeof(float) * n);
	while (k < n)
	{
		int64_t		i = (int64_t) (Next() % (uint64_t) universe);

		if (!seen[i])
		{
			seen[i] = 1;
			v->idx64[k++] = i;
		}
	}
	qsort(v->idx64, n, sizeof(int64_t), CmpInt64);
	for (k = 0; k < n; k++)
	{
		v->idx32[k] = (int32_t) v->idx64[k];
		v->val[k] = (float) (((Next() & 16777215) + 1) / 16777216.0);
		sum += (double) v->val[k] * v->val[k];
	}
	v->norm = sqrt(sum);
	free(seen);
}

/* svec: svec_dot over int64 indices, norms cached in the values */
static double
SvecDistance(const Vec *a, const Vec *b)
{
	double		sim = svec_dot(a->idx64, a->val, a->n, b->idx64, b->val, b->n) / (a->norm * b->norm);

	return 1.0 - sim;
}

/* pgvector-like norms: float sums, recomputed per call */
static double
FloatNorms(const Vec *a, const Vec *b)
{
	float		na = 0.0f;
	float		nb = 0.0f;
	int			i;

	for (i = 0; i < a->n; i++)
		na += a->val[i] * a->val[i];
	for (i = 0; i < b->n; i++)
		nb += b->val[i] * b->val[i];
	return sqrt((double) na * (double) nb);
}

/* Scalar merge, shape 1: if / else if / else on the two current indices */
static double
ScalarDistance1(const Vec *a, const Vec *b)
{
	float		dot = 0.0f;
	int			i = 0;
	int			j = 0;

	while (i < a->n && j < b->n)
	{
		if (a->idx32[i] < b->idx32[j])
			i++;
		else if (a->idx32[i] > b->idx32[j])
			j++;
		else
			dot += a->val[i++] * b->val[j++];
	}
	return 1.0 - dot / FloatNorms(a, b);
}

/* Scalar merge, shape 2: for each entry of a, skip b forward to it */
static double
ScalarDistance2(const Vec *a, const Vec *b)
{
	float		dot = 0.0f;
	int			j = 0;

	for (int i = 0; i < a->n; i++)
	{
		int32_t		x = a->idx32[i];

		while (j < b->n && b->idx32[j] < x)
			j++;
		if (j == b->n)
			break;
		if (b->idx32[j] == x)
			dot += a->val[i] * b->val[j];
	}
	return 1.0 - dot / FloatNorms(a, b);
}

static double
Now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef double (*DistanceFn) (const Vec *, const Vec *);

/* Best seconds per call over 7 measurements of >= 0.2 s; *check gets the mean distance */
static double
Time(DistanceFn fn, const Vec *a, const Vec *b, int pairs, double *check)
{
	double		best = 1e30;

	for (int rep = 0; rep < 7; rep++)
	{
		long		calls = 0;
		double		sum = 0.0;
		double		t0 = Now();
		double		t;

		do
		{
			for (int p = 0; p < pairs; p++)
				sum += fn(&a[p], &b[p]);
			calls += pairs;
		} while ((t = Now() - t0) < 0.2);
		if (t / calls < best)
			best = t / calls;
		*check = sum / calls;
	}
	return best;
}

int
main(int argc, char **argv)
{
	int			na,
				nb,
				pairs;
	int64_t		universe;
	Vec		   *a,
			   *b;
	double		t_svec,
				t_s1,
				t_s2,
				t_scalar,
				c_svec,
				c_s1,
				c_s2;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s NNZ_A NNZ_B UNIVERSE\n", argv[0]);
		return 2;
	}
	na = atoi(argv[1]);
	nb = atoi(argv[2]);
	universe = atoll(argv[3]);
	if (na < 1 || nb < 1 || universe < na || universe < nb || universe > INT32_MAX)
	{
		fprintf(stderr, "need 1 <= nnz <= universe <= 2^31-1\n");
		return 2;
	}

	/* about 1 MB of svec data: 12 bytes per entry */
	pairs = 87381 / (na + nb);
	if (pairs < 4)
		pairs = 4;
	a = malloc(sizeof(Vec) * pairs);
	b = malloc(sizeof(Vec) * pairs);
	for (int p = 0; p < pairs; p++)
	{
		MakeVec(&a[p], na, universe);
		MakeVec(&b[p], nb, universe);
	}

	t_svec = Time(SvecDistance, a, b, pairs, &c_svec);
	t_s1 = Time(ScalarDistance1, a, b, pairs, &c_s1);
	t_s2 = Time(ScalarDistance2, a, b, pairs, &c_s2);
	t_scalar = t_s1 < t_s2 ? t_s1 : t_s2;
	if (fabs(c_svec - c_s1) > 1e-5 || fabs(c_svec - c_s2) > 1e-5)
	{
		fprintf(stderr, "kernels disagree: %.9f %.9f %.9f\n", c_svec, c_s1, c_s2);
		return 1;
	}
	printf("%7d | %7d | %9lld | %12.1f | %9.2f | %16.1f | %7.2fx\n",
		   na, nb, (long long) universe, t_svec * 1e9, t_svec * 1e9 / (na + nb),
		   t_scalar * 1e9, t_scalar / t_svec);
	return 0;
}
