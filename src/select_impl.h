/*
 * select_impl.h — quickselect, written once: include it after defining
 *   SELECT_NAME    the function's name
 *   SELECT_T       the element type
 *   SELECT_BETTER  (a, b): whether element a comes before element b (a strict total order)
 * to get  static void SELECT_NAME(SELECT_T *c, int n, int k), which partially
 * orders c[0..n) so that c[0..k) hold the k first elements (unordered); k < n.
 * Plain C, no PostgreSQL: the similarity kernel and serving share it.
 */
static void
SELECT_NAME(SELECT_T *c, int n, int k)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo < hi)
	{
		SELECT_T	pivot = c[lo + (hi - lo) / 2];
		int			i = lo;
		int			j = hi;

		while (i <= j)
		{
			while (SELECT_BETTER(c[i], pivot))
				i++;
			while (SELECT_BETTER(pivot, c[j]))
				j--;
			if (i <= j)
			{
				SELECT_T	t = c[i];

				c[i++] = c[j];
				c[j--] = t;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

#undef SELECT_NAME
#undef SELECT_T
#undef SELECT_BETTER
