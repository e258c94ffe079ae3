/*
 * svec_math_impl.h — the merge kernels, written once and instantiated by
 * svec_math.c for int64 and for int32 indices (IDX_T, values VAL_T; names
 * through FN(); SHORT_DOT, if defined, computes the products of short vectors:
 * at most 32 entries in a and 16 in b), once per instruction set: TARGET is
 * the target attribute of the variant (empty for the baseline), and the
 * kernels are static, reached through the variant's SVecKernels table.
 */

/* First position p >= j in idx[0..n) with idx[p] >= x, searching from j */
static inline TARGET int
FN(Gallop)(const IDX_T *idx, int n, int j, IDX_T x)
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
static TARGET double
FN(DotGallop)(const IDX_T *si, const VAL_T *sv, int ns,
		  const IDX_T *li, const VAL_T *lv, int nl)
{
	double		sum = 0.0;
	int			i;
	int			j = 0;

	for (i = 0; i < ns; i++)
	{
		j = FN(Gallop)(li, nl, j, si[i]);
		if (j >= nl)
			break;
		if (li[j] == si[i])
			sum += (double) sv[i] * (double) lv[j++];
	}
	return sum;
}

/* Inner product */
static TARGET double
FN(svec_dot)(const IDX_T *ai, const VAL_T *av, int na,
		 const IDX_T *bi, const VAL_T *bv, int nb)
{
	double		sum = 0.0;
	int			i = 0;
	int			j = 0;

	if (na == 0 || nb == 0)
		return 0.0;
#ifdef SHORT_DOT
	if (na <= 32 && nb <= 16)
		return SHORT_DOT(ai, av, na, bi, bv, nb);
#endif
	if (na > nb && na / GALLOP_RATIO >= nb)
		return FN(DotGallop)(bi, bv, nb, ai, av, na);
	if (nb > na && nb / GALLOP_RATIO >= na)
		return FN(DotGallop)(ai, av, na, bi, bv, nb);

	/* Disjoint ranges: nothing to merge */
	if (ai[na - 1] < bi[0] || bi[nb - 1] < ai[0])
		return 0.0;

	while (i < na && j < nb)
	{
		IDX_T		x = ai[i];
		IDX_T		y = bi[j];

		if (x == y)
			sum += (double) av[i] * (double) bv[j];
		i += (x <= y);
		j += (y <= x);
	}
	return sum;
}

/* Squared Euclidean distance */
static TARGET double
FN(svec_l2_squared)(const IDX_T *ai, const VAL_T *av, int na,
				const IDX_T *bi, const VAL_T *bv, int nb)
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
static TARGET int
FN(CountGallop)(const IDX_T *si, int ns, const IDX_T *li, int nl)
{
	int			count = 0;
	int			i;
	int			j = 0;

	for (i = 0; i < ns; i++)
	{
		j = FN(Gallop)(li, nl, j, si[i]);
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

/* Number of indices present in both */
static TARGET int
FN(svec_intersection_size)(const IDX_T *ai, int na, const IDX_T *bi, int nb)
{
	int			count = 0;
	int			i = 0;
	int			j = 0;

	if (na == 0 || nb == 0)
		return 0;
	if (na > nb && na / GALLOP_RATIO >= nb)
		return FN(CountGallop)(bi, nb, ai, na);
	if (nb > na && nb / GALLOP_RATIO >= na)
		return FN(CountGallop)(ai, na, bi, nb);

	while (i < na && j < nb)
	{
		IDX_T		x = ai[i];
		IDX_T		y = bi[j];

		count += (x == y);
		i += (x <= y);
		j += (y <= x);
	}
	return count;
}

