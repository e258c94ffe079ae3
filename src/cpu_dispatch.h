/*
 * cpu_dispatch.h — run-time choice of instruction set for the hot kernels.
 *
 * The library is built for the x86-64 baseline (any x86-64 CPU, and valgrind,
 * can run it).  On x86-64 with GCC or clang, the hot kernels (svec_math.c,
 * cf_score.c) are compiled a second time with ITEMCF_TARGET_AVX2 and the
 * AVX2 variant is used when itemcf_cpu_has_avx2().  FMA is left out on
 * purpose: a fused multiply-add rounds differently, and every variant must
 * give bit-identical results.  Elsewhere (or with -DITEMCF_NO_DISPATCH) only
 * the baseline exists.
 */
#ifndef CPU_DISPATCH_H
#define CPU_DISPATCH_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ITEMCF_NO_DISPATCH)
#define ITEMCF_DISPATCH 1
#define ITEMCF_TARGET_AVX2 __attribute__((target("avx2,bmi,bmi2,popcnt")))

/* Can this CPU (and OS: saved AVX state) run the AVX2 variant? */
static inline int
itemcf_cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
		__builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
}
#endif

#endif
