/*
 * test_util.h — what the C unit tests (test/c/test_*.c) and the fuzz
 * harnesses (test/fuzz/fuzz_*.c) share.
 *
 *   ok(cond, fmt, ...)   one TAP line, "ok N - name" or "not ok N - name"
 *   diag(fmt, ...)       a TAP diagnostic line, "# ..."
 *   done_testing()       the plan "1..N" at the end; the exit status (1 if any check failed)
 *   CHECK(cond)          an invariant of a fuzz harness: report it and abort(), which
 *                        libFuzzer reports as a crash
 *   xmalloc(n)           malloc that never returns NULL (aborts), and never asks for 0 bytes
 *   float_bits(f)        the bits of a float, to compare values bit for bit
 *
 * Header only, every function static inline (unused ones cost nothing and
 * draw no warning), so each test stays one .c file plus the sources it tests.
 * Include it after the headers under test.
 */
#ifndef ITEMCF_TEST_UTIL_H
#define ITEMCF_TEST_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TAP counters of this test program */
static int	n_tests;
static int	n_failed;

/* One TAP line for a check; returns cond */
static inline int
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - ", cond ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

/* A TAP diagnostic line */
static inline void
diag(const char *fmt,...)
{
	va_list		ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The plan line after the last check; the program's exit status */
static inline int
done_testing(void)
{
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# %d of %d checks FAILED\n", n_failed, n_tests);
	return n_failed ? 1 : 0;
}

/* An invariant of a fuzz harness: on violation, say where and abort() */
#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/* malloc(n), at least 1 byte; aborts when out of memory */
static inline void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

/* The bits of a float */
static inline uint32_t
float_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

#endif							/* ITEMCF_TEST_UTIL_H */
