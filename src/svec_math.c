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
 * The kernels are written once (svec_math_impl.h) for int64 and int32 indices.
 */
#include "svec_math.h"

#include <math.h>

/* Gallop when the longer vector is at least this many times the shorter */
#define GALLOP_RATIO 16

/* 64-bit indices: svec_dot, svec_l2_squared, svec_intersection_size */
#define IDX_T int64_t
#define VAL_T float
#define FN(name) name
#include "svec_math_impl.h"
#undef IDX_T
#undef FN

/* 32-bit indices (compact svecs): the same kernels, suffixed _32 */
#define IDX_T int32_t
#define FN(name) name##_32
#include "svec_math_impl.h"
#undef IDX_T
#undef VAL_T
#undef FN

/* 32-bit indices read in place from unaligned storage: suffixed _32u */
#define IDX_T svec_int32u
#define VAL_T svec_floatu
#define FN(name) name##_32u
#include "svec_math_impl.h"
#undef IDX_T
#undef VAL_T
#undef FN

double
svec_norm2(const float *v, int n)
{
	double		sum = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		sum += (double) v[i] * (double) v[i];
	return sum;
}
