/*
 * fuzz_svec.c — libFuzzer harness for the plain-C svec code
 * (src/svec_parse.c, src/svec_math.c).  Build: see Makefile in this directory.
 *
 * Each input is used three ways:
 *
 *  1. as text (NUL-terminated copy) for svec_parse_text, with the capacity
 *     svec_text_max_entries() gives.  On success: nnz <= capacity, indices
 *     strictly ascending, values nonzero and finite, indices inside 1..dims
 *     when "/dims" was given; printing the result as "{%lld:%.9g,...}" (and
 *     "/dims") and parsing that again gives the same entries bit for bit;
 *     one entry less of capacity gives TOO_MANY; the binary encoding of the
 *     result decodes to the same entries; the kernels hold on the vector
 *     against itself and against sub-vectors of it (some entries, its last
 *     entry and one index past it: the galloping path when v is long).  On
 *     failure: the report is consistent (status, pos/toklen inside the input,
 *     "expected" set exactly for syntax errors).
 *
 *  2. as one binary wire value for svec_decode_binary.  On success: same
 *     invariants; encode -> decode gives the same entries and encode of that
 *     gives the same bytes.
 *
 *  3. as two binary wire values back to back (the first one's length comes
 *     from its count); when both decode, the kernels are checked on the pair:
 *     f(a,b) == f(b,a) bit for bit for dot, squared L2 and intersection
 *     count, and each equals a naive merge computed here.
 *
 * Any violated invariant calls abort(), which libFuzzer reports as a crash.
 */
#include "svec_math.h"
#include "svec_parse.h"
#include "test_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Vec
{
	int			n;
	int64_t    *idx;
	float	   *val;
} Vec;

static int
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

static Vec
vec_from_entries(const SVecEntry *e, int n)
{
	Vec			v;
	int			i;

	v.n = n;
	v.idx = xmalloc((size_t) n * sizeof(int64_t));
	v.val = xmalloc((size_t) n * sizeof(float));
	for (i = 0; i < n; i++)
	{
		v.idx[i] = e[i].index;
		v.val[i] = e[i].value;
	}
	return v;
}

static void
vec_free(Vec *v)
{
	free(v->idx);
	free(v->val);
}

/* Invariants of a successfully parsed or decoded vector */
static void
check_entries(const SVecEntry *e, int n, size_t capacity)
{
	int			i;

	CHECK(n >= 0);
	CHECK((size_t) n <= capacity);
	CHECK(n <= SVEC_MAX_NNZ);
	for (i = 0; i < n; i++)
	{
		CHECK(e[i].value != 0.0f);
		CHECK(!isnan(e[i].value));
		CHECK(!isinf(e[i].value));
		if (i > 0)
			CHECK(e[i - 1].index < e[i].index);
	}
}

static int
same_entries(const SVecEntry *a, int na, const SVecEntry *b, int nb)
{
	int			i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (a[i].index != b[i].index || float_bits(a[i].value) != float_bits(b[i].value))
			return 0;
	return 1;
}

/* Naive merges, accumulating in ascending index order like the kernels */
static double
naive_dot(const Vec *a, const Vec *b)
{
	double		s = 0.0;
	int			i = 0,
				j = 0;

	while (i < a->n && j < b->n)
	{
		if (a->idx[i] < b->idx[j])
			i++;
		else if (a->idx[i] > b->idx[j])
			j++;
		else
		{
			s += (double) a->val[i] * (double) b->val[j];
			i++;
			j++;
		}
	}
	return s;
}

static int
naive_count(const Vec *a, const Vec *b)
{
	int			c = 0,
				i = 0,
				j = 0;

	while (i < a->n && j < b->n)
	{
		if (a->idx[i] < b->idx[j])
			i++;
		else if (a->idx[i] > b->idx[j])
			j++;
		else
		{
			c++;
			i++;
			j++;
		}
	}
	return c;
}

static double
naive_l2(const Vec *a, const Vec *b)
{
	double		s = 0.0;
	int			i = 0,
				j = 0;

	while (i < a->n || j < b->n)
	{
		double		d;

		if (j >= b->n || (i < a->n && a->idx[i] < b->idx[j]))
			d = (double) a->val[i++];
		else if (i >= a->n || a->idx[i] > b->idx[j])
			d = -(double) b->val[j++];
		else
		{
			d = (double) a->val[i] - (double) b->val[j];
			i++;
			j++;
		}
		s += d * d;
	}
	return s;
}

static void
check_kernels(const Vec *a, const Vec *b)
{
	double		d_ab = svec_dot(a->idx, a->val, a->n, b->idx, b->val, b->n);
	double		d_ba = svec_dot(b->idx, b->val, b->n, a->idx, a->val, a->n);
	double		l_ab = svec_l2_squared(a->idx, a->val, a->n, b->idx, b->val, b->n);
	double		l_ba = svec_l2_squared(b->idx, b->val, b->n, a->idx, a->val, a->n);
	int			c_ab = svec_intersection_size(a->idx, a->n, b->idx, b->n);
	int			c_ba = svec_intersection_size(b->idx, b->n, a->idx, a->n);

	CHECK(same_double(d_ab, d_ba));
	CHECK(same_double(l_ab, l_ba));
	CHECK(c_ab == c_ba);
	CHECK(same_double(d_ab, naive_dot(a, b)));
	CHECK(same_double(l_ab, naive_l2(a, b)));
	CHECK(c_ab == naive_count(a, b));
	CHECK(c_ab >= 0 && c_ab <= a->n && c_ab <= b->n);
	CHECK(l_ab >= 0.0);
	CHECK(same_double(sqrt(svec_norm2(a->val, a->n)),
					  sqrt(svec_dot(a->idx, a->val, a->n, a->idx, a->val, a->n))));
}

/*
 * A sub-vector of v: every stride-th entry (none if stride is 0), then v's
 * last entry, then (if it fits) one index past v's end, so that galloping
 * matches the long vector's last entry and still has entries to look up.
 */
static Vec
subsample(const Vec *v, int stride)
{
	Vec			s;
	int			i;
	int			max = (stride ? v->n / stride + 1 : 0) + 2;

	s.n = 0;
	s.idx = xmalloc((size_t) max * sizeof(int64_t));
	s.val = xmalloc((size_t) max * sizeof(float));
	for (i = 0; stride && i < v->n - 1; i += stride)
	{
		s.idx[s.n] = v->idx[i];
		s.val[s.n++] = v->val[i];
	}
	if (v->n > 0)
	{
		s.idx[s.n] = v->idx[v->n - 1];
		s.val[s.n++] = v->val[v->n - 1];
		if (v->idx[v->n - 1] < INT64_MAX)
		{
			s.idx[s.n] = v->idx[v->n - 1] + 1;
			s.val[s.n++] = 1.0f;
		}
	}
	CHECK(s.n <= max);
	return s;
}

/* The vector against itself and against sub-vectors of it (galloping when v is long) */
static void
check_kernels_self(const Vec *v)
{
	static const int strides[] = {0, 32, 3};
	size_t		k;

	check_kernels(v, v);
	CHECK(svec_intersection_size(v->idx, v->n, v->idx, v->n) == v->n);
	CHECK(svec_l2_squared(v->idx, v->val, v->n, v->idx, v->val, v->n) == 0.0);

	for (k = 0; k < sizeof(strides) / sizeof(strides[0]); k++)
	{
		Vec			s = subsample(v, strides[k]);

		check_kernels(v, &s);
		vec_free(&s);
	}
}

/* Encode entries, decode them back: same entries; encode again: same bytes */
static void
check_binary_round_trip(const SVecEntry *e, int n)
{
	Vec			v = vec_from_entries(e, n);
	size_t		len = SVEC_WIRE_HEADER + (size_t) n * SVEC_WIRE_ENTRY;
	unsigned char *buf = xmalloc(len);
	unsigned char *buf2 = xmalloc(len);
	SVecEntry  *e2 = xmalloc((size_t) n * sizeof(SVecEntry));
	SVecParseResult res;
	Vec			v2;

	svec_encode_binary(v.idx, v.val, n, buf);
	CHECK(svec_decode_binary(buf, len, e2, (size_t) n, &res) == SVEC_OK);
	CHECK(res.status == SVEC_OK && res.nnz == n);
	CHECK(same_entries(e, n, e2, res.nnz));
	v2 = vec_from_entries(e2, n);
	svec_encode_binary(v2.idx, v2.val, n, buf2);
	CHECK(memcmp(buf, buf2, len) == 0);

	vec_free(&v);
	vec_free(&v2);
	free(buf);
	free(buf2);
	free(e2);
}

/* Consistency of a failure report for input of length len */
static void
check_error_report(SVecStatus st, const SVecParseResult *res, size_t len, int text)
{
	CHECK(st != SVEC_OK);
	CHECK(res->status == st);
	CHECK(res->pos <= len);
	CHECK(res->toklen <= len - res->pos);
	if (st == SVEC_ERR_SYNTAX)
		CHECK(res->expected != NULL);
	else
		CHECK(res->expected == NULL);
	if (text)
	{
		CHECK(st != SVEC_ERR_SYNTAX || res->toklen == 0);
		CHECK(res->dims == -1 || res->dims >= 1);
	}
	else
	{
		CHECK(res->toklen == 0);
		CHECK(res->dims == -1);
	}
}

/* Print entries as "{i:v,...}" (with "/dims" if dims > 0) into a new string */
static char *
print_text(const SVecEntry *e, int n, int64_t dims)
{
	size_t		size = 3 + (size_t) n * (21 + 1 + 16 + 1) + 22;
	char	   *s = xmalloc(size);
	size_t		off = 0;
	int			i;

	s[off++] = '{';
	for (i = 0; i < n; i++)
	{
		int			w = snprintf(s + off, size - off, "%s%lld:%.9g", i ? "," : "",
								 (long long) e[i].index, (double) e[i].value);

		CHECK(w > 0 && (size_t) w < size - off);
		off += (size_t) w;
	}
	s[off++] = '}';
	s[off] = '\0';
	if (dims > 0)
	{
		int			w = snprintf(s + off, size - off, "/%lld", (long long) dims);

		CHECK(w > 0 && (size_t) w < size - off);
	}
	return s;
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	char	   *str = xmalloc(size + 1);
	size_t		len,
				cap;
	SVecEntry  *e;
	SVecParseResult res;
	SVecStatus	st;

	memcpy(str, data, size);
	str[size] = '\0';
	len = strlen(str);
	cap = svec_text_max_entries(str);
	e = xmalloc(cap * sizeof(SVecEntry));
	st = svec_parse_text(str, e, cap, &res);

	if (st != SVEC_OK)
	{
		check_error_report(st, &res, len, 1);
		CHECK(st != SVEC_ERR_TOO_MANY);	/* capacity from svec_text_max_entries suffices */
	}
	else
	{
		char	   *again;
		size_t		cap2;
		SVecEntry  *e2;
		SVecParseResult res2;
		Vec			v;
		int			i;

		CHECK(res.status == SVEC_OK);
		check_entries(e, res.nnz, cap);
		CHECK(res.dims == -1 || res.dims >= 1);
		if (res.dims > 0)
			for (i = 0; i < res.nnz; i++)
				CHECK(e[i].index >= 1 && e[i].index <= res.dims);

		/* print and parse again: same entries, same dims */
		again = print_text(e, res.nnz, res.dims);
		cap2 = svec_text_max_entries(again);
		CHECK(cap2 == (size_t) res.nnz);
		e2 = xmalloc(cap2 * sizeof(SVecEntry));
		CHECK(svec_parse_text(again, e2, cap2, &res2) == SVEC_OK);
		CHECK(res2.dims == res.dims);
		CHECK(same_entries(e, res.nnz, e2, res2.nnz));
		free(e2);
		free(again);

		/* every ':' of a valid input belongs to an entry: one slot less is TOO_MANY */
		if (cap > 0)
		{
			e2 = xmalloc((cap - 1) * sizeof(SVecEntry));
			st = svec_parse_text(str, e2, cap - 1, &res2);
			CHECK(st == SVEC_ERR_TOO_MANY);
			check_error_report(st, &res2, len, 1);
			free(e2);
		}

		check_binary_round_trip(e, res.nnz);
		v = vec_from_entries(e, res.nnz);
		check_kernels_self(&v);
		vec_free(&v);
	}
	free(e);
	free(str);
}

static size_t
wire_cap(size_t len)
{
	return len >= SVEC_WIRE_HEADER ? (len - SVEC_WIRE_HEADER) / SVEC_WIRE_ENTRY : 0;
}

/* Decode buf[0..len) into a new vector; returns 0 if it does not decode */
static int
decode_vec(const uint8_t *buf, size_t len, Vec *out)
{
	size_t		cap = wire_cap(len);
	SVecEntry  *e = xmalloc(cap * sizeof(SVecEntry));
	SVecParseResult res;
	SVecStatus	st = svec_decode_binary(buf, len, e, cap, &res);

	if (st != SVEC_OK)
	{
		check_error_report(st, &res, len, 0);
		free(e);
		return 0;
	}
	CHECK(res.status == SVEC_OK);
	check_entries(e, res.nnz, cap);
	*out = vec_from_entries(e, res.nnz);
	free(e);
	return 1;
}

static void
fuzz_binary(const uint8_t *data, size_t size)
{
	Vec			a,
				b;

	/* the whole input as one value */
	{
		size_t		cap = wire_cap(size);
		SVecEntry  *e = xmalloc(cap * sizeof(SVecEntry));
		SVecParseResult res;
		SVecStatus	st = svec_decode_binary(data, size, e, cap, &res);

		if (st == SVEC_OK)
		{
			CHECK(res.status == SVEC_OK);
			check_entries(e, res.nnz, cap);
			check_binary_round_trip(e, res.nnz);
		}
		else
			check_error_report(st, &res, size, 0);
		free(e);
	}

	/* two values back to back */
	if (size >= SVEC_WIRE_HEADER)
	{
		uint32_t	count = ((uint32_t) data[0] << 24) | ((uint32_t) data[1] << 16) |
			((uint32_t) data[2] << 8) | data[3];
		size_t		lena;

		if (count > (uint32_t) SVEC_MAX_NNZ)
			return;
		lena = SVEC_WIRE_HEADER + (size_t) count * SVEC_WIRE_ENTRY;
		if (lena > size)
			return;
		if (!decode_vec(data, lena, &a))
			return;
		if (decode_vec(data + lena, size - lena, &b))
		{
			check_kernels(&a, &b);
			vec_free(&b);
		}
		vec_free(&a);
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_binary(data, size);
	return 0;
}
