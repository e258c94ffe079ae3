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

#ifdef __SSE2__
#include <emmintrin.h>
#include <string.h>

/*
 * Inner product of two short vectors with 32-bit indices (at most 32 entries
 * in a, 1..16 in b): each index of a is compared with all of b's at once
 * (four SSE2 compares).  A merge of short vectors is bound by its dependency chain (load, compare,
 * advance, load...) and by mispredicted "equal" branches; here the
 * iterations are independent and nothing branches.  The matches are listed
 * first and their products then added in ascending index order, so the sum
 * is bit for bit the merge's.
 * Loads go through memcpy: the arrays may be unaligned (read in place).
 */
static double
DotShort32(const void *ai, const void *av, int na, const void *bi, const void *bv, int nb)
{
	const char *bp = (const char *) bi;
	__m128i		b0 = _mm_setzero_si128();
	__m128i		b1 = _mm_setzero_si128();
	__m128i		b2 = _mm_setzero_si128();
	__m128i		b3 = _mm_setzero_si128();
	__m128i		tail;
	unsigned	valid = (1u << nb) - 1;
	unsigned char mi[32];		/* positions of the matches in a ... */
	unsigned char mj[32];		/* ... and in b */
	int			nm = 0;
	double		sum = 0.0;
	int			full = nb / 4;
	int32_t		t0 = 0;
	int32_t		t1 = 0;
	int32_t		t2 = 0;
	int			i;
	int			k;

	/*
	 * b's indices into registers, straight from memory: whole groups of four
	 * by one load each, the last partial group lane by lane (copying through
	 * a buffer would stall on store forwarding); unused lanes are masked off.
	 */
	if (nb % 4 > 0)
		memcpy(&t0, bp + (size_t) full * 16, 4);
	if (nb % 4 > 1)
		memcpy(&t1, bp + (size_t) full * 16 + 4, 4);
	if (nb % 4 > 2)
		memcpy(&t2, bp + (size_t) full * 16 + 8, 4);
	tail = _mm_set_epi32(0, t2, t1, t0);
	switch (full)
	{
		case 4:
			b3 = _mm_loadu_si128((const __m128i *) (bp + 48));
			/* FALLTHROUGH */
		case 3:
			b2 = _mm_loadu_si128((const __m128i *) (bp + 32));
			/* FALLTHROUGH */
		case 2:
			b1 = _mm_loadu_si128((const __m128i *) (bp + 16));
			/* FALLTHROUGH */
		case 1:
			b0 = _mm_loadu_si128((const __m128i *) bp);
	}
	switch (full)				/* (nb = 16 has no tail) */
	{
		case 0:
			b0 = tail;
			break;
		case 1:
			b1 = tail;
			break;
		case 2:
			b2 = tail;
			break;
		case 3:
			b3 = tail;
			break;
	}

	/* Find the matches: independent iterations, no branch (nm counts them) */
	for (i = 0; i < na; i++)
	{
		int32_t		x;
		__m128i		v;
		unsigned	m;

		memcpy(&x, (const char *) ai + (size_t) i * 4, 4);
		v = _mm_set1_epi32(x);
		m = (unsigned) _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, b0))) |
			(unsigned) _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, b1))) << 4 |
			(unsigned) _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, b2))) << 8 |
			(unsigned) _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, b3))) << 12;
		m &= valid;
		mi[nm] = (unsigned char) i;
		mj[nm] = (unsigned char) (__builtin_ctz(m | 0x10000u) & 15);
		nm += (m != 0);
	}

	/* Add the products of the matches, in ascending index order */
	for (k = 0; k < nm; k++)
	{
		float		fa;
		float		fb;

		memcpy(&fa, (const char *) av + (size_t) mi[k] * 4, 4);
		memcpy(&fb, (const char *) bv + (size_t) mj[k] * 4, 4);
		sum += (double) fa * (double) fb;
	}
	return sum;
}
#endif

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
#ifdef __SSE2__
#define SHORT_DOT DotShort32
#endif
#include "svec_math_impl.h"
#undef SHORT_DOT
#undef IDX_T
#undef VAL_T
#undef FN

/* 32-bit indices read in place from unaligned storage: suffixed _32u */
#define IDX_T svec_int32u
#define VAL_T svec_floatu
#define FN(name) name##_32u
#ifdef __SSE2__
#define SHORT_DOT DotShort32
#endif
#include "svec_math_impl.h"
#undef SHORT_DOT
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
