/*
 * svec_math.c — merge kernels over sorted sparse vectors, in plain C.
 *
 * Two strategies, chosen by the length ratio:
 *
 * - a linear merge whose index advance is branch-free (i += x <= y), so the
 *   only unpredictable branch is "indices equal", which is rare or regular;
 * - galloping (exponential then binary search in the longer vector) when one
 *   vector is much shorter: O(n log m) instead of O(n + m).  A 10-entry basket
 *   against a 100,000-entry vector touches ~170 entries, not 100,010.
 *
 * Both visit matches in ascending index order, so they give identical sums.
 */
#include "svec_math.h"

#include <math.h>

/* Gallop when the longer vector is at least this many times the shorter */
#define GALLOP_RATIO 16

/* First position p >= j in idx[0..n) with idx[p] >= x, searching from j */
static inline int
Gallop(const int64_t *idx, int n, int j, int64_t x)
{
	int			lo = j;
	int			hi;
	int			step = 1;

	if (j >= n || idx[j] >= x)
		return j;
	/* invariant: idx[lo] < x */
	while (j + step < n && idx[j + step] < x)
	{
		lo = j + step;
		step <<= 1;
	}
	hi = (j + step < n) ? j + step : n;
	lo++;
	while (lo < hi)
	{
		int			mid = lo + ((hi - lo) >> 1);

		if (idx[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Inner product of a short vector s against a long vector l, by galloping */
static double
DotGallop(const int64_t *si, const float *sv, int ns,
		  const int64_t *li, const float *lv, int nl)
{
	double		sum = 0.0;
	int			i;
	int			j = 0;

	for (i = 0; i < ns; i++)
	{
		j = Gallop(li, nl, j, si[i]);
		if (j >= nl)
			break;
		if (li[j] == si[i])
			sum += (double) sv[i] * (double) lv[j++];
	}
	return sum;
}

double
svec_dot(const int64_t *ai, const float *av, int na,
		 const int64_t *bi, const float *bv, int nb)
{
	double		sum = 0.0;
	int			i = 0;
	int			j = 0;

	if (na == 0 || nb == 0)
		return 0.0;
	if (na > nb && na / GALLOP_RATIO >= nb)
		return DotGallop(bi, bv, nb, ai, av, na);
	if (nb > na && nb / GALLOP_RATIO >= na)
		return DotGallop(ai, av, na, bi, bv, nb);

	/* Disjoint ranges: nothing to merge */
	if (ai[na - 1] < bi[0] || bi[nb - 1] < ai[0])
		return 0.0;

	while (i < na && j < nb)
	{
		int64_t		x = ai[i];
		int64_t		y = bi[j];

		if (x == y)
			sum += (double) av[i] * (double) bv[j];
		i += (x <= y);
		j += (y <= x);
	}
	return sum;
}

double
svec_l2_squared(const int64_t *ai, const float *av, int na,
				const int64_t *bi, const float *bv, int nb)
{
	double		sum = 0.0;
	int			i = 0;
	int			j = 0;

	while (i < na && j < nb)
	{
		double		d;

		if (ai[i] < bi[j])
			d = av[i++];
		else if (ai[i] > bi[j])
			d = bv[j++];
		else
			d = (double) av[i++] - (double) bv[j++];
		sum += d * d;
	}
	for (; i < na; i++)
		sum += (double) av[i] * (double) av[i];
	for (; j < nb; j++)
		sum += (double) bv[j] * (double) bv[j];
	return sum;
}

/* Intersection size of a short index list against a long one, by galloping */
static int
CountGallop(const int64_t *si, int ns, const int64_t *li, int nl)
{
	int			count = 0;
	int			i;
	int			j = 0;

	for (i = 0; i < ns; i++)
	{
		j = Gallop(li, nl, j, si[i]);
		if (j >= nl)
			break;
		if (li[j] == si[i])
		{
			count++;
			j++;
		}
	}
	return count;
}

int
svec_intersection_size(const int64_t *ai, int na, const int64_t *bi, int nb)
{
	int			count = 0;
	int			i = 0;
	int			j = 0;

	if (na == 0 || nb == 0)
		return 0;
	if (na > nb && na / GALLOP_RATIO >= nb)
		return CountGallop(bi, nb, ai, na);
	if (nb > na && nb / GALLOP_RATIO >= na)
		return CountGallop(ai, na, bi, nb);

	while (i < na && j < nb)
	{
		int64_t		x = ai[i];
		int64_t		y = bi[j];

		count += (x == y);
		i += (x <= y);
		j += (y <= x);
	}
	return count;
}

double
svec_norm2(const float *v, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		sum += (double) v[i] * (double) v[i];
	return sum;
}
