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
 *
 * The build is portable (the x86-64 baseline); on x86-64 every kernel is
 * also compiled for AVX2 (cpu_dispatch.h: with BMI1/2 and POPCNT, not FMA, so
 * the variants give bit-identical results), and the best variant the CPU
 * supports is chosen once, when the library is loaded.  The public functions call the chosen variant's
 * table; svec_kernels_variant() gives the tests every variant.
 */
#include "svec_math.h"
#include "cpu_dispatch.h"

#include <math.h>
#include <stddef.h>

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
 * Always inlined, so that each variant's svec_dot compiles it for its target.
 */
static inline __attribute__((always_inline)) double
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

/*
 * The kernels of one variant: VARIANT(name) names them, TARGET is its target
 * attribute.  Three index types each: int64, int32 (_32) and unaligned int32
 * (_32u).
 */
/* ---- baseline ---- */
#define TARGET
#define IDX_T int64_t
#define VAL_T float
#define FN(name) name##_base
#include "svec_math_impl.h"
#undef IDX_T
#undef FN

#define IDX_T int32_t
#define FN(name) name##_32_base
#ifdef __SSE2__
#define SHORT_DOT DotShort32
#endif
#include "svec_math_impl.h"
#undef SHORT_DOT
#undef IDX_T
#undef VAL_T
#undef FN

#define IDX_T svec_int32u
#define VAL_T svec_floatu
#define FN(name) name##_32u_base
#ifdef __SSE2__
#define SHORT_DOT DotShort32
#endif
#include "svec_math_impl.h"
#undef SHORT_DOT
#undef IDX_T
#undef VAL_T
#undef FN
#undef TARGET

/* ---- AVX2 ---- */
#ifdef ITEMCF_DISPATCH
#define TARGET ITEMCF_TARGET_AVX2
#define IDX_T int64_t
#define VAL_T float
#define FN(name) name##_avx2
#include "svec_math_impl.h"
#undef IDX_T
#undef FN

#define IDX_T int32_t
#define FN(name) name##_32_avx2
#define SHORT_DOT DotShort32
#include "svec_math_impl.h"
#undef SHORT_DOT
#undef IDX_T
#undef VAL_T
#undef FN

#define IDX_T svec_int32u
#define VAL_T svec_floatu
#define FN(name) name##_32u_avx2
#define SHORT_DOT DotShort32
#include "svec_math_impl.h"
#undef SHORT_DOT
#undef IDX_T
#undef VAL_T
#undef FN
#undef TARGET
#endif

/* Every variant, the baseline first */
static const SVecKernels variants[] = {
	{"baseline",
		svec_dot_base, svec_l2_squared_base, svec_intersection_size_base,
		svec_dot_32_base, svec_l2_squared_32_base, svec_intersection_size_32_base,
		svec_dot_32u_base, svec_l2_squared_32u_base, svec_intersection_size_32u_base},
#ifdef ITEMCF_DISPATCH
	{"avx2",
		svec_dot_avx2, svec_l2_squared_avx2, svec_intersection_size_avx2,
		svec_dot_32_avx2, svec_l2_squared_32_avx2, svec_intersection_size_32_avx2,
		svec_dot_32u_avx2, svec_l2_squared_32u_avx2, svec_intersection_size_32u_avx2},
#endif
};

/* Does this CPU run variant i? */
static int
VariantSupported(int i)
{
	if (i == 0)
		return 1;
#ifdef ITEMCF_DISPATCH
	if (i == 1)
		return itemcf_cpu_has_avx2();
#endif
	return 0;
}

/* The variant in use: the baseline until the library's constructor has run */
static const SVecKernels *kernels = &variants[0];

/* Choose the best variant this CPU supports, once, when the library is loaded */
__attribute__((constructor)) static void
SelectKernels(void)
{
	int			i;

	for (i = (int) (sizeof(variants) / sizeof(variants[0])) - 1; i > 0; i--)
		if (VariantSupported(i))
			break;
	kernels = &variants[i];
}

const SVecKernels *
svec_kernels_variant(int i)
{
	if (i < 0 || i >= (int) (sizeof(variants) / sizeof(variants[0])) || !VariantSupported(i))
		return NULL;
	return &variants[i];
}

const char *
svec_kernels_name(void)
{
	return kernels->name;
}

double
svec_dot(const int64_t *ai, const float *av, int na, const int64_t *bi, const float *bv, int nb)
{
	return kernels->dot(ai, av, na, bi, bv, nb);
}

double
svec_l2_squared(const int64_t *ai, const float *av, int na, const int64_t *bi, const float *bv, int nb)
{
	return kernels->l2_squared(ai, av, na, bi, bv, nb);
}

int
svec_intersection_size(const int64_t *ai, int na, const int64_t *bi, int nb)
{
	return kernels->intersection_size(ai, na, bi, nb);
}

double
svec_dot_32(const int32_t *ai, const float *av, int na, const int32_t *bi, const float *bv, int nb)
{
	return kernels->dot_32(ai, av, na, bi, bv, nb);
}

double
svec_l2_squared_32(const int32_t *ai, const float *av, int na, const int32_t *bi, const float *bv, int nb)
{
	return kernels->l2_squared_32(ai, av, na, bi, bv, nb);
}

int
svec_intersection_size_32(const int32_t *ai, int na, const int32_t *bi, int nb)
{
	return kernels->intersection_size_32(ai, na, bi, nb);
}

double
svec_dot_32u(const svec_int32u *ai, const svec_floatu *av, int na,
			 const svec_int32u *bi, const svec_floatu *bv, int nb)
{
	return kernels->dot_32u(ai, av, na, bi, bv, nb);
}

double
svec_l2_squared_32u(const svec_int32u *ai, const svec_floatu *av, int na,
					const svec_int32u *bi, const svec_floatu *bv, int nb)
{
	return kernels->l2_squared_32u(ai, av, na, bi, bv, nb);
}

int
svec_intersection_size_32u(const svec_int32u *ai, int na, const svec_int32u *bi, int nb)
{
	return kernels->intersection_size_32u(ai, na, bi, nb);
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
