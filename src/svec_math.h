/*
 * svec_math.h — merge kernels over sorted sparse vectors, in plain C.
 *
 * Inputs are strictly ascending int64 indices with float values; results
 * accumulate in double, in ascending index order, so f(a, b) == f(b, a)
 * bit for bit and the result does not depend on which kernel ran.
 */
#ifndef SVEC_MATH_H
#define SVEC_MATH_H

#include <stdint.h>

/* Inner product */
extern double svec_dot(const int64_t *ai, const float *av, int na,
					   const int64_t *bi, const float *bv, int nb);

/* Squared Euclidean distance */
extern double svec_l2_squared(const int64_t *ai, const float *av, int na,
							  const int64_t *bi, const float *bv, int nb);

/* Number of indices present in both */
extern int	svec_intersection_size(const int64_t *ai, int na, const int64_t *bi, int nb);

/* The same for 32-bit indices (compact svecs) */
extern double svec_dot_32(const int32_t *ai, const float *av, int na,
						  const int32_t *bi, const float *bv, int nb);
extern double svec_l2_squared_32(const int32_t *ai, const float *av, int na,
								 const int32_t *bi, const float *bv, int nb);
extern int	svec_intersection_size_32(const int32_t *ai, int na, const int32_t *bi, int nb);

/*
 * The same for entries read in place from unaligned storage (a short value
 * inside a tuple): these types tell the compiler the data may be unaligned.
 */
typedef int32_t svec_int32u __attribute__((aligned(1)));
typedef float svec_floatu __attribute__((aligned(1)));
extern double svec_dot_32u(const svec_int32u *ai, const svec_floatu *av, int na,
						   const svec_int32u *bi, const svec_floatu *bv, int nb);
extern double svec_l2_squared_32u(const svec_int32u *ai, const svec_floatu *av, int na,
								  const svec_int32u *bi, const svec_floatu *bv, int nb);
extern int	svec_intersection_size_32u(const svec_int32u *ai, int na, const svec_int32u *bi, int nb);

/*
 * The kernels compiled for one instruction set (svec_math.c): the public
 * functions above call those of the best variant the CPU supports.
 */
typedef struct SVecKernels
{
	const char *name;			/* "baseline", "avx2" */
	double		(*dot) (const int64_t *, const float *, int, const int64_t *, const float *, int);
	double		(*l2_squared) (const int64_t *, const float *, int, const int64_t *, const float *, int);
	int			(*intersection_size) (const int64_t *, int, const int64_t *, int);
	double		(*dot_32) (const int32_t *, const float *, int, const int32_t *, const float *, int);
	double		(*l2_squared_32) (const int32_t *, const float *, int, const int32_t *, const float *, int);
	int			(*intersection_size_32) (const int32_t *, int, const int32_t *, int);
	double		(*dot_32u) (const svec_int32u *, const svec_floatu *, int,
							const svec_int32u *, const svec_floatu *, int);
	double		(*l2_squared_32u) (const svec_int32u *, const svec_floatu *, int,
								   const svec_int32u *, const svec_floatu *, int);
	int			(*intersection_size_32u) (const svec_int32u *, int, const svec_int32u *, int);
} SVecKernels;

/* Variant i (0: the baseline), or NULL if this CPU cannot run it or there is none */
extern const SVecKernels *svec_kernels_variant(int i);

/* Name of the variant in use */
extern const char *svec_kernels_name(void);

/* Sum of squares (the squared Euclidean norm) */
extern double svec_norm2(const float *v, int n);

#endif
