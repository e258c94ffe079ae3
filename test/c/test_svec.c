/*
 * test_svec.c — TAP unit tests for the plain-C parts of svec:
 * src/svec_parse.c (text parser, binary decoder/encoder, normalisation) and
 * src/svec_math.c (dot, squared L2, intersection count, norm).
 *
 * Prints "ok N - name" / "not ok N - name" per check, diagnostics as "# ..."
 * lines and the plan "1..N" at the end; exits 1 if any check failed.
 * Every buffer handed to the code under test is malloc'ed at its exact size,
 * so AddressSanitizer / valgrind see any read or write past the end.
 */
#include "svec_math.h"
#include "svec_parse.h"
#include "test_util.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float
bits_float(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static int
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

static const char *
status_name(SVecStatus st)
{
	switch (st)
	{
		case SVEC_OK:
			return "OK";
		case SVEC_ERR_SYNTAX:
			return "SYNTAX";
		case SVEC_ERR_INDEX_RANGE:
			return "INDEX_RANGE";
		case SVEC_ERR_DIMS_RANGE:
			return "DIMS_RANGE";
		case SVEC_ERR_BAD_DIMS:
			return "BAD_DIMS";
		case SVEC_ERR_VALUE_RANGE:
			return "VALUE_RANGE";
		case SVEC_ERR_NAN:
			return "NAN";
		case SVEC_ERR_INF:
			return "INF";
		case SVEC_ERR_DUPLICATE:
			return "DUPLICATE";
		case SVEC_ERR_TOO_MANY:
			return "TOO_MANY";
	}
	return "?";
}

static void
diag_result(SVecStatus st, const SVecParseResult *res)
{
	diag("  got status %s (res.status %s) pos %zu toklen %zu expected %s index %" PRId64
		 " dims %" PRId64 " nnz %d",
		 status_name(st), status_name(res->status), res->pos, res->toklen,
		 res->expected ? res->expected : "(null)", res->index, res->dims, res->nnz);
}

/* ------------------------------------------------------------------------ */
/* Text parser                                                              */
/* ------------------------------------------------------------------------ */

#define E(i, v) {(int64_t) (i), (float) (v)}
#define NOENT ((const SVecEntry *) NULL)

static int
entries_equal(const SVecEntry *got, int ngot, const SVecEntry *exp, int nexp)
{
	int			i;

	if (ngot != nexp)
		return 0;
	for (i = 0; i < nexp; i++)
		if (got[i].index != exp[i].index ||
			float_bits(got[i].value) != float_bits(exp[i].value))
			return 0;
	return 1;
}

static void
diag_entries(const char *what, const SVecEntry *e, int n)
{
	int			i;

	printf("#   %s (%d):", what, n);
	for (i = 0; i < n && i < 20; i++)
		printf(" %" PRId64 ":%.9g", e[i].index, (double) e[i].value);
	putchar('\n');
}

/* Parse str with capacity svec_text_max_entries(str); expect success. */
static void
parse_ok(const char *name, const char *str, const SVecEntry *exp, int nexp, int64_t dims)
{
	size_t		cap = svec_text_max_entries(str);
	SVecEntry  *entries = xmalloc(cap * sizeof(SVecEntry));
	SVecParseResult res;
	SVecStatus	st = svec_parse_text(str, entries, cap, &res);
	int			good = st == SVEC_OK && res.status == SVEC_OK && res.dims == dims &&
		entries_equal(entries, res.nnz, exp, nexp);

	if (!ok(good, "parse ok: %s", name))
	{
		diag("  input: \"%s\"", str);
		diag_result(st, &res);
		if (st == SVEC_OK)
			diag_entries("got", entries, res.nnz);
		diag_entries("expected", exp, nexp);
	}
	free(entries);
}

/*
 * Parse str with capacity cap (SIZE_MAX: svec_text_max_entries(str)) and
 * expect exactly the given error report.  index is checked for DUPLICATE and
 * DIMS_RANGE only.
 */
static void
parse_err_cap(const char *name, const char *str, size_t cap, SVecStatus exp_st,
			  size_t pos, size_t toklen, const char *expected, int64_t index, int64_t dims)
{
	SVecEntry  *entries;
	SVecParseResult res;
	SVecStatus	st;
	int			good;

	if (cap == SIZE_MAX)
		cap = svec_text_max_entries(str);
	entries = xmalloc(cap * sizeof(SVecEntry));
	st = svec_parse_text(str, entries, cap, &res);
	good = st == exp_st && res.status == exp_st && res.pos == pos && res.toklen == toklen &&
		res.dims == dims;
	if (expected == NULL)
		good = good && res.expected == NULL;
	else
		good = good && res.expected != NULL && strcmp(res.expected, expected) == 0;
	if (exp_st == SVEC_ERR_DUPLICATE || exp_st == SVEC_ERR_DIMS_RANGE)
		good = good && res.index == index;

	if (!ok(good, "parse error %s: %s", status_name(exp_st), name))
	{
		diag("  input: \"%s\"", str);
		diag_result(st, &res);
		diag("  wanted status %s pos %zu toklen %zu expected %s index %" PRId64 " dims %" PRId64,
			 status_name(exp_st), pos, toklen, expected ? expected : "(null)", index, dims);
	}
	free(entries);
}

#define parse_err(name, str, st, pos, toklen, expected) \
	parse_err_cap(name, str, SIZE_MAX, st, pos, toklen, expected, 0, -1)

#define X_LBRACE "\"{\""
#define X_COLON "\":\""
#define X_SEP "\",\" or \"}\""
#define X_INDEX "an index"
#define X_NUMBER "a number"
#define X_DIMS "the number of dimensions"
#define X_END "end of input"

static void
test_text_valid(void)
{
	static const SVecEntry e13[] = {E(1, 1.5), E(3, 2)};
	static const SVecEntry e123[] = {E(1, 2), E(2, 3), E(3, 1)};
	static const SVecEntry e4[] = {E(4, 1)};
	static const SVecEntry eminmax[] = {E(INT64_MIN, 1), E(0, -3), E(INT64_MAX, 2)};
	static const SVecEntry eforms[] = {E(1, 1.0f), E(2, 0.5f), E(3, 1.0f), E(4, -25.0f),
	E(5, 0.1f), E(6, -0.25f), E(7, 1e-40f), E(8, 12.5f)};
	static const SVecEntry eneg[] = {E(-7, -1), E(-3, 2), E(0, 5)};
	static const SVecEntry eext[] = {E(1, FLT_MAX), E(2, -FLT_MAX), E(3, 1.4e-45f), E(4, FLT_MIN)};
	static const SVecEntry e0[] = {E(0, 1)};
	SVecEntry	denormal[] = {E(1, 1e-40f)};

	parse_ok("{}", "{}", NOENT, 0, -1);
	parse_ok("{} with whitespace everywhere", " \t{ \n}\r ", NOENT, 0, -1);
	parse_ok("plain", "{1:1.5,3:2}", e13, 2, -1);
	parse_ok("spaces around every token", "  {  1  :  1.5  ,  3  :  2  }  ", e13, 2, -1);
	parse_ok("tab/newline/cr/vt/ff whitespace", "\t{\n1\r:\v1.5\f,\t3\n:\r2\v}\f", e13, 2, -1);
	parse_ok("unsorted input is sorted", "{3:1,1:2,2:3}", e123, 3, -1);
	parse_ok("reverse order input is sorted", "{3:1, 2:3, 1:2}", e123, 3, -1);
	parse_ok("zeros and -0 dropped", "{1:0,2:-0,3:0.0,4:1,5:-0.0e5,6:+0,7:.0,8:0e-99}", e4, 1, -1);
	parse_ok("all zeros gives {}", "{1:0,2:-0}", NOENT, 0, -1);
	parse_ok("pgvector suffix {1:1.5,3:2}/5", "{1:1.5,3:2}/5", e13, 2, 5);
	parse_ok("pgvector suffix with whitespace", "{1:1.5,3:2} / 5 ", e13, 2, 5);
	parse_ok("index equal to dims", "{3:2,1:1.5}/3", e13, 2, 3);
	parse_ok("{}/1", "{}/1", NOENT, 0, 1);
	parse_ok("dims = INT64_MAX", "{}/9223372036854775807", NOENT, 0, INT64_MAX);
	parse_ok("INT64_MIN and INT64_MAX indices",
			 "{9223372036854775807:2,-9223372036854775808:1,0:-3}", eminmax, 3, -1);
	parse_ok("leading zeros in index", "{0000000000000000000000009223372036854775807:2,"
			 "-9223372036854775808:1,-0:-3}", eminmax, 3, -1);
	parse_ok("-0 index is 0", "{-0:1}", e0, 1, -1);
	parse_ok("number forms 1. .5 +1 -2.5e+1 1E-1 -.25 1e-40 125e-1",
			 "{1:1.,2:.5,3:+1,4:-2.5e+1,5:1E-1,6:-.25,7:1e-40,8:125e-1}", eforms, 8, -1);
	parse_ok("negative indices", "{0:5,-3:2,-7:-1}", eneg, 3, -1);
	parse_ok("FLT_MAX, -FLT_MAX, smallest denormal, FLT_MIN",
			 "{1:3.40282347e+38,2:-3.4028235e38,3:1.4e-45,4:1.17549435e-38}", eext, 4, -1);
	parse_ok("denormal 1e-40 accepted", "{1:1e-40}", denormal, 1, -1);
	ok(denormal[0].value != 0.0f && fpclassify(denormal[0].value) == FP_SUBNORMAL,
	   "1e-40f is a nonzero subnormal");
}

static void
test_text_valid_more(void)
{
	static const SVecEntry one[] = {E(1, 1)};
	static const SVecEntry third[] = {E(2, 0.333333343f)};

	parse_ok("long mantissa rounds to 1", "{1:1.00000000000000000000000000000000000001}", one, 1, -1);
	parse_ok("0.333333333333333333 rounds like strtof", "{2:0.333333333333333333}", third, 1, -1);
	parse_ok("exponent with leading zeros", "{1:0.001e+0003}", one, 1, -1);
}

static void
test_text_errors(void)
{
	/* braces */
	parse_err("empty string", "", SVEC_ERR_SYNTAX, 0, 0, X_LBRACE);
	parse_err("only whitespace", "   ", SVEC_ERR_SYNTAX, 3, 0, X_LBRACE);
	parse_err("missing {", "1:1}", SVEC_ERR_SYNTAX, 0, 0, X_LBRACE);
	parse_err("[ instead of {", "[1:1]", SVEC_ERR_SYNTAX, 0, 0, X_LBRACE);
	parse_err("missing }", "{1:1", SVEC_ERR_SYNTAX, 4, 0, X_SEP);
	parse_err("missing } after whitespace", "{1:1  ", SVEC_ERR_SYNTAX, 6, 0, X_SEP);
	parse_err("lone {", "{", SVEC_ERR_SYNTAX, 1, 0, X_INDEX);
	parse_err("{ then spaces", "{  ", SVEC_ERR_SYNTAX, 3, 0, X_INDEX);

	/* entries */
	parse_err("{1:}", "{1:}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("{1: }", "{1: }", SVEC_ERR_SYNTAX, 4, 0, X_NUMBER);
	parse_err("{:1}", "{:1}", SVEC_ERR_SYNTAX, 1, 0, X_INDEX);
	parse_err("{1:1,}", "{1:1,}", SVEC_ERR_SYNTAX, 5, 0, X_INDEX);
	parse_err("{1:1, }", "{1:1, }", SVEC_ERR_SYNTAX, 6, 0, X_INDEX);
	parse_err("{,1:1}", "{,1:1}", SVEC_ERR_SYNTAX, 1, 0, X_INDEX);
	parse_err("{1:1,,2:2}", "{1:1,,2:2}", SVEC_ERR_SYNTAX, 5, 0, X_INDEX);
	parse_err("{1:1 2:2}", "{1:1 2:2}", SVEC_ERR_SYNTAX, 5, 0, X_SEP);
	parse_err("{1 1:1}", "{1 1:1}", SVEC_ERR_SYNTAX, 3, 0, X_COLON);
	parse_err("{1}", "{1}", SVEC_ERR_SYNTAX, 2, 0, X_COLON);
	parse_err("{1;1}", "{1;1}", SVEC_ERR_SYNTAX, 2, 0, X_COLON);
	parse_err("{1::1}", "{1::1}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("sign without digits {1:-}", "{1:-}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("lone dot {1:.}", "{1:.}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("{1:+.e1}", "{1:+.e1}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("space inside number {1:1 .5}", "{1:1 .5}", SVEC_ERR_SYNTAX, 5, 0, X_SEP);
	parse_err("space after sign {1:- 1}", "{1:- 1}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("space after index sign {- 1:1}", "{- 1:1}", SVEC_ERR_SYNTAX, 1, 0, X_INDEX);
	parse_err("double sign {1:--1}", "{1:--1}", SVEC_ERR_SYNTAX, 3, 0, X_NUMBER);
	parse_err("exponent without digits {1:1e}", "{1:1e}", SVEC_ERR_SYNTAX, 4, 0, X_SEP);
	parse_err("exponent sign without digits {1:1e+}", "{1:1e+}", SVEC_ERR_SYNTAX, 4, 0, X_SEP);
	parse_err("two dots {1:1.2.3}", "{1:1.2.3}", SVEC_ERR_SYNTAX, 6, 0, X_SEP);
	parse_err("fractional index {1.5:1}", "{1.5:1}", SVEC_ERR_SYNTAX, 2, 0, X_COLON);
	parse_err("index with exponent {1e3:1}", "{1e3:1}", SVEC_ERR_SYNTAX, 2, 0, X_COLON);
	parse_err("hex without digits {1:0x}", "{1:0x}", SVEC_ERR_SYNTAX, 4, 0, X_SEP);
	parse_err("hex exponent without digits {1:0x1p}", "{1:0x1p}", SVEC_ERR_SYNTAX, 6, 0, X_SEP);
	{
		/* hex floats, as real reads them ('e' is a hex digit there, not an exponent) */
		static const SVecEntry ehex[] = {E(1, 16.0f), E(2, 8.0f), E(3, -3.0f), E(4, 0.5f), E(5, 30.0f), E(6, 0.25f)};

		parse_ok("hex values", "{1:0x10,2:0x1p3,3:-0x1.8p1,4:0x.8,5:0X1E,6:+0x1p-2}", ehex, 6, -1);
	}
	parse_err("hex index {0x10:1}", "{0x10:1}", SVEC_ERR_SYNTAX, 2, 0, X_COLON);
	parse_err("value followed by letters {1:1abc}", "{1:1abc}", SVEC_ERR_SYNTAX, 4, 0, X_SEP);
	parse_err("number then nan {1:1nan}", "{1:1nan}", SVEC_ERR_SYNTAX, 4, 0, X_SEP);

	/* index range */
	parse_err("index 2^63", "{9223372036854775808:1}", SVEC_ERR_INDEX_RANGE, 1, 19, NULL);
	parse_err("index -2^63-1", "{-9223372036854775809:1}", SVEC_ERR_INDEX_RANGE, 1, 20, NULL);
	parse_err("huge index", "{ 99999999999999999999999:1}", SVEC_ERR_INDEX_RANGE, 2, 23, NULL);
	parse_err("index 2^64", "{18446744073709551616:1}", SVEC_ERR_INDEX_RANGE, 1, 20, NULL);
	parse_err("index 2^64-1", "{18446744073709551615:1}", SVEC_ERR_INDEX_RANGE, 1, 20, NULL);
	parse_err("huge index in 2nd entry", "{1:1,+9223372036854775808:1}", SVEC_ERR_INDEX_RANGE,
			  5, 20, NULL);

	/* value range */
	parse_err("1e40", "{1:1e40}", SVEC_ERR_VALUE_RANGE, 3, 4, NULL);
	parse_err("-1e40", "{1:-1e40}", SVEC_ERR_VALUE_RANGE, 3, 5, NULL);
	parse_err("3.5e38", "{1:3.5e38}", SVEC_ERR_VALUE_RANGE, 3, 6, NULL);
	parse_err("1e-50", "{1:1e-50}", SVEC_ERR_VALUE_RANGE, 3, 5, NULL);
	parse_err("-1e-50", "{1:-1e-50}", SVEC_ERR_VALUE_RANGE, 3, 6, NULL);
	parse_err("1e-46 underflows to zero", "{1:1e-46}", SVEC_ERR_VALUE_RANGE, 3, 5, NULL);
	parse_err("huge exponent", "{1: 1e999999999999999999999, 2:1}", SVEC_ERR_VALUE_RANGE,
			  4, 23, NULL);

	/* NaN / infinities, any case */
	parse_err("nan", "{1:nan}", SVEC_ERR_NAN, 3, 3, NULL);
	parse_err("NaN", "{1:NaN}", SVEC_ERR_NAN, 3, 3, NULL);
	parse_err("-NAN", "{1:-NAN}", SVEC_ERR_NAN, 3, 4, NULL);
	parse_err("+nAn", "{1:+nAn}", SVEC_ERR_NAN, 3, 4, NULL);
	parse_err("nan(123) (strtof form)", "{1:nan(123)}", SVEC_ERR_NAN, 3, 3, NULL);
	parse_err("inf", "{1:inf}", SVEC_ERR_INF, 3, 3, NULL);
	parse_err("-Inf", "{1:-Inf}", SVEC_ERR_INF, 3, 4, NULL);
	parse_err("INF", "{ 1 : INF }", SVEC_ERR_INF, 6, 3, NULL);
	parse_err("infinity", "{1:infinity}", SVEC_ERR_INF, 3, 8, NULL);
	parse_err("-Infinity", "{1:-Infinity}", SVEC_ERR_INF, 3, 9, NULL);
	parse_err("+INFINITY", "{1:+INFINITY}", SVEC_ERR_INF, 3, 9, NULL);
	parse_err("iNfInItY", "{1:iNfInItY}", SVEC_ERR_INF, 3, 8, NULL);
	parse_err("infin (prefix of infinity) is not a number", "{1:infin}", SVEC_ERR_SYNTAX, 3, 0, "a number");
	parse_err("infx is not a number", "{1:infx}", SVEC_ERR_SYNTAX, 3, 0, "a number");
	parse_err("Infinity5 is not a number", "{1:Infinity5}", SVEC_ERR_SYNTAX, 3, 0, "a number");
	parse_err("nanx is not a number", "{1:nanx}", SVEC_ERR_SYNTAX, 3, 0, "a number");
	parse_err("nan in 2nd entry", "{1:1,2:nan}", SVEC_ERR_NAN, 7, 3, NULL);

	/* duplicates (reported by index, after sorting) */
	parse_err_cap("duplicate", "{1:1,2:2,1:3}", SIZE_MAX, SVEC_ERR_DUPLICATE, 0, 0, NULL, 1, -1);
	parse_err_cap("adjacent duplicate", "{5:1,5:2}", SIZE_MAX, SVEC_ERR_DUPLICATE, 0, 0, NULL, 5, -1);
	parse_err_cap("duplicate with a zero value", "{7:0,7:1}", SIZE_MAX, SVEC_ERR_DUPLICATE,
				  0, 0, NULL, 7, -1);
	parse_err_cap("duplicate of two zeros", "{7:0,7:-0}", SIZE_MAX, SVEC_ERR_DUPLICATE,
				  0, 0, NULL, 7, -1);
	parse_err_cap("duplicate via -0 and 0 indices", "{0:1,-0:2}", SIZE_MAX, SVEC_ERR_DUPLICATE,
				  0, 0, NULL, 0, -1);
	parse_err_cap("duplicate INT64_MIN", "{-9223372036854775808:1,3:1,-9223372036854775808:2}",
				  SIZE_MAX, SVEC_ERR_DUPLICATE, 0, 0, NULL, INT64_MIN, -1);
	parse_err_cap("duplicate with dims", "{2:1,2:2}/4", SIZE_MAX, SVEC_ERR_DUPLICATE,
				  0, 0, NULL, 2, 4);

	/* trailing garbage */
	parse_err("trailing x", "{1:1}x", SVEC_ERR_SYNTAX, 5, 0, X_END);
	parse_err("trailing x after space", "{1:1}  x", SVEC_ERR_SYNTAX, 7, 0, X_END);
	parse_err("two vectors", "{}{}", SVEC_ERR_SYNTAX, 2, 0, X_END);
	parse_err("trailing comma after }", "{1:1},", SVEC_ERR_SYNTAX, 5, 0, X_END);
	parse_err_cap("garbage after dims", "{1:1} /5 x", SIZE_MAX, SVEC_ERR_SYNTAX, 9, 0, X_END, 0, 5);
	parse_err_cap("second slash", "{}/5/5", SIZE_MAX, SVEC_ERR_SYNTAX, 4, 0, X_END, 0, 5);
	parse_err_cap("fractional dims", "{}/5.0", SIZE_MAX, SVEC_ERR_SYNTAX, 4, 0, X_END, 0, 5);

	/* dims */
	parse_err("/0", "{1:1}/0", SVEC_ERR_BAD_DIMS, 6, 1, NULL);
	parse_err("/000", "{}/000", SVEC_ERR_BAD_DIMS, 3, 3, NULL);
	parse_err("dims 2^63", "{}/9223372036854775808", SVEC_ERR_BAD_DIMS, 3, 19, NULL);
	parse_err("dims huge", "{}/ 99999999999999999999999", SVEC_ERR_BAD_DIMS, 4, 23, NULL);
	parse_err("negative dims", "{}/-1", SVEC_ERR_BAD_DIMS, 3, 2, NULL);
	{
		static const SVecEntry e13p[] = {E(1, 1.5), E(3, 2)};

		parse_ok("dims with a plus sign, as pgvector", "{1:1.5,3:2}/+5", e13p, 2, 5);
	}
	parse_err("slash without dims", "{}/", SVEC_ERR_SYNTAX, 3, 0, X_DIMS);
	parse_err("slash then spaces", "{1:1} /  ", SVEC_ERR_SYNTAX, 9, 0, X_DIMS);
	parse_err("hex dims reads 0", "{}/0x5", SVEC_ERR_BAD_DIMS, 3, 1, NULL);
	parse_err_cap("letters after dims", "{}/5x", SIZE_MAX, SVEC_ERR_SYNTAX, 4, 0, X_END, 0, 5);
	parse_err_cap("index above dims", "{1:1,6:2}/5", SIZE_MAX, SVEC_ERR_DIMS_RANGE,
				  0, 0, NULL, 6, 5);
	parse_err_cap("index 0 with dims", "{0:1}/5", SIZE_MAX, SVEC_ERR_DIMS_RANGE, 0, 0, NULL, 0, 5);
	parse_err_cap("negative index with dims", "{3:1,-2:1}/5", SIZE_MAX, SVEC_ERR_DIMS_RANGE,
				  0, 0, NULL, -2, 5);
	parse_err_cap("zero-valued entry still bounded by dims", "{9:0}/5", SIZE_MAX,
				  SVEC_ERR_DIMS_RANGE, 0, 0, NULL, 9, 5);
	parse_err_cap("first offending entry in input order", "{9:1,1:1,0:1}/5", SIZE_MAX,
				  SVEC_ERR_DIMS_RANGE, 0, 0, NULL, 9, 5);
	parse_err_cap("INT64_MAX index with dims INT64_MAX-1",
				  "{9223372036854775807:1}/9223372036854775806", SIZE_MAX,
				  SVEC_ERR_DIMS_RANGE, 0, 0, NULL, INT64_MAX, INT64_MAX - 1);

	/* first error wins: syntax before duplicate, nan before trailing garbage */
	parse_err("syntax error reported before duplicate", "{1:1,1:2,x}", SVEC_ERR_SYNTAX, 9, 0,
			  X_INDEX);
	parse_err("nan reported before trailing garbage", "{1:nan}x", SVEC_ERR_NAN, 3, 3, NULL);
}

static void
test_text_capacity(void)
{
	ok(svec_text_max_entries("") == 0, "svec_text_max_entries(\"\") == 0");
	ok(svec_text_max_entries("{}") == 0, "svec_text_max_entries(\"{}\") == 0");
	ok(svec_text_max_entries("{1:1,2:2}/5") == 2, "svec_text_max_entries counts colons");
	ok(svec_text_max_entries(":::") == 3, "svec_text_max_entries(\":::\") == 3");

	/* TOO_MANY names the entry that did not fit: from its index to the end of its value */
	parse_err_cap("capacity 0, one entry", "{1:1}", 0, SVEC_ERR_TOO_MANY, 1, 3, NULL, 0, -1);
	parse_err_cap("capacity 1, two entries", "{1:1,22:2.5}", 1, SVEC_ERR_TOO_MANY, 5, 6, NULL,
				  0, -1);
	parse_err_cap("capacity 2, three entries with zeros", "{1:0, 2:0, 3 : 0}", 2,
				  SVEC_ERR_TOO_MANY, 11, 5, NULL, 0, -1);
	{
		SVecEntry	e[2];
		SVecParseResult res;

		ok(svec_parse_text("{1:1,2:2}", e, 2, &res) == SVEC_OK && res.nnz == 2,
		   "capacity exactly the entry count is enough");
	}
}

/* ------------------------------------------------------------------------ */
/* Binary wire format                                                       */
/* ------------------------------------------------------------------------ */

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

/* Build a wire buffer (exact size) for n raw entries; count may differ from n */
static unsigned char *
make_wire(int32_t count, const int64_t *idx, const uint32_t *vbits, int n, size_t *len)
{
	unsigned char *buf;
	int			i;

	*len = SVEC_WIRE_HEADER + (size_t) n * SVEC_WIRE_ENTRY;
	buf = xmalloc(*len);
	put_be32(buf, (uint32_t) count);
	for (i = 0; i < n; i++)
	{
		uint64_t	u = (uint64_t) idx[i];

		put_be32(buf + 4 + 8 * i, (uint32_t) (u >> 32));
		put_be32(buf + 4 + 8 * i + 4, (uint32_t) u);
		put_be32(buf + 4 + 8 * n + 4 * i, vbits[i]);
	}
	return buf;
}

static SVecStatus
decode(const unsigned char *buf, size_t len, size_t cap, SVecEntry **out, SVecParseResult *res)
{
	*out = xmalloc(cap * sizeof(SVecEntry));
	return svec_decode_binary(buf, len, *out, cap, res);
}

static size_t
wire_cap(size_t len)
{
	return len >= SVEC_WIRE_HEADER ? (len - SVEC_WIRE_HEADER) / SVEC_WIRE_ENTRY : 0;
}

static void
bin_err(const char *name, const unsigned char *buf, size_t len, size_t cap, SVecStatus exp_st,
		size_t pos, const char *expected, int check_index, int64_t index)
{
	SVecEntry  *e;
	SVecParseResult res;
	SVecStatus	st = decode(buf, len, cap, &e, &res);
	int			good = st == exp_st && res.status == exp_st && res.pos == pos && res.toklen == 0;

	if (expected == NULL)
		good = good && res.expected == NULL;
	else
		good = good && res.expected != NULL && strcmp(res.expected, expected) == 0;
	if (check_index)
		good = good && res.index == index;
	if (!ok(good, "binary error %s: %s", status_name(exp_st), name))
	{
		diag_result(st, &res);
		diag("  wanted status %s pos %zu expected %s index %" PRId64,
			 status_name(exp_st), pos, expected ? expected : "(null)", index);
	}
	free(e);
}

static void
test_binary(void)
{
	/* exact bytes of a known encoding */
	{
		static const unsigned char want[] = {
			0, 0, 0, 2,
			0, 0, 0, 0, 0, 0, 0, 1,
			0x80, 0, 0, 0, 0, 0, 0, 0,
			0x3f, 0x80, 0, 0,
			0xc0, 0x20, 0, 0
		};
		int64_t		idx[2] = {1, INT64_MIN};
		float		val[2] = {1.0f, -2.5f};
		unsigned char buf[sizeof(want)];

		svec_encode_binary(idx, val, 2, buf);
		ok(memcmp(buf, want, sizeof(want)) == 0, "encode {1:1, INT64_MIN:-2.5} exact bytes");
	}
	{
		unsigned char buf[4] = {9, 9, 9, 9};

		svec_encode_binary(NULL, NULL, 0, buf);
		ok(buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0, "encode empty: count 0");
	}

	/* round trip */
	{
		static const int64_t idx[] = {INT64_MIN, -5, 0, 1, 2, 1000000007, INT64_MAX};
		float		val[7];
		int			n = 7;
		size_t		len = SVEC_WIRE_HEADER + (size_t) n * SVEC_WIRE_ENTRY;
		unsigned char *buf = xmalloc(len);
		unsigned char *buf2 = xmalloc(len);
		SVecEntry  *e;
		SVecParseResult res;
		SVecStatus	st;
		int			i,
					good;

		val[0] = -FLT_MAX;
		val[1] = 1e-40f;
		val[2] = -1.4e-45f;
		val[3] = 0.1f;
		val[4] = FLT_MAX;
		val[5] = -3.0f;
		val[6] = FLT_MIN;
		svec_encode_binary(idx, val, n, buf);
		st = decode(buf, len, wire_cap(len), &e, &res);
		good = st == SVEC_OK && res.nnz == n;
		for (i = 0; good && i < n; i++)
			good = e[i].index == idx[i] && float_bits(e[i].value) == float_bits(val[i]);
		ok(good, "binary encode -> decode round trip (extremes, denormals)");
		if (good)
		{
			int64_t		idx2[7];
			float		val2[7];

			for (i = 0; i < n; i++)
			{
				idx2[i] = e[i].index;
				val2[i] = e[i].value;
			}
			svec_encode_binary(idx2, val2, n, buf2);
			ok(memcmp(buf, buf2, len) == 0, "decode -> encode gives identical bytes");
		}
		else
			ok(0, "decode -> encode gives identical bytes");
		free(e);
		free(buf);
		free(buf2);
	}
	{
		unsigned char *buf = make_wire(0, NULL, NULL, 0, &(size_t) {0});
		SVecEntry  *e;
		SVecParseResult res;
		SVecStatus	st = decode(buf, 4, 0, &e, &res);

		ok(st == SVEC_OK && res.nnz == 0 && res.dims == -1, "decode empty vector (4 bytes)");
		free(e);
		free(buf);
	}

	/* zeros (+0 and -0) dropped */
	{
		static const int64_t idx[] = {-1, 5, 10, 20, 30};
		uint32_t	vb[5];
		static const SVecEntry want[] = {E(-1, 2), E(10, 4), E(30, 1)};
		size_t		len;
		unsigned char *buf;
		SVecEntry  *e;
		SVecParseResult res;
		SVecStatus	st;

		vb[0] = float_bits(2.0f);
		vb[1] = 0x80000000;		/* -0 */
		vb[2] = float_bits(4.0f);
		vb[3] = 0x00000000;		/* +0 */
		vb[4] = float_bits(1.0f);
		buf = make_wire(5, idx, vb, 5, &len);
		st = decode(buf, len, wire_cap(len), &e, &res);
		ok(st == SVEC_OK && entries_equal(e, res.nnz, want, 3),
		   "decode: +0 and -0 dropped");
		free(e);
		free(buf);
	}

	/* only the canonical order: the first index out of order is reported */
	{
		static const int64_t idx[] = {-1, 10, 20, 5, 30};
		uint32_t	vb[5] = {0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000};
		size_t		len;
		unsigned char *buf = make_wire(5, idx, vb, 5, &len);

		bin_err("unsorted input refused at the 4th index", buf, len, wire_cap(len), SVEC_ERR_SYNTAX,
				4 + 8 * 3, "indices in ascending order, as svec_send writes them", 1, 5);
		free(buf);
	}

	/*
	 * pgvector's sparsevec {1:1.5,2:2.5}/2 on the wire (int32 dims, nnz,
	 * unused, 0-based int32 indices, float4 values) has the 28 bytes of a
	 * two-entry svec; read as one, its indices are 2^33 and 1: refused
	 */
	{
		unsigned char buf[28];
		SVecEntry  *e;
		SVecParseResult res;
		SVecStatus	st;

		put_be32(buf, 2);
		put_be32(buf + 4, 2);
		put_be32(buf + 8, 0);
		put_be32(buf + 12, 0);
		put_be32(buf + 16, 1);
		put_be32(buf + 20, float_bits(1.5f));
		put_be32(buf + 24, float_bits(2.5f));
		st = decode(buf, sizeof(buf), wire_cap(sizeof(buf)), &e, &res);
		ok(st == SVEC_ERR_SYNTAX && res.index == 1 && res.pos == 12,
		   "pgvector sparsevec payload of an svec's length refused");
		free(e);
	}

	/* errors */
	{
		unsigned char b[4] = {0, 0, 0, 0};
		size_t		l;

		for (l = 0; l < 4; l++)
		{
			char		name[64];

			snprintf(name, sizeof(name), "short buffer (%zu bytes)", l);
			bin_err(name, l ? b : (unsigned char *) "", l, 0, SVEC_ERR_SYNTAX, l,
					"a 4-byte entry count", 0, 0);
		}
	}
	{
		unsigned char b[4];

		put_be32(b, 0xffffffffu);
		bin_err("negative count -1", b, 4, 0, SVEC_ERR_SYNTAX, 0, "a non-negative entry count", 0, 0);
		put_be32(b, 0x80000000u);
		bin_err("negative count INT32_MIN", b, 4, 0, SVEC_ERR_SYNTAX, 0,
				"a non-negative entry count", 0, 0);
		put_be32(b, SVEC_MAX_NNZ + 1);
		bin_err("count above SVEC_MAX_NNZ", b, 4, 0, SVEC_ERR_TOO_MANY, 0, NULL, 0, 0);
		put_be32(b, 0x7fffffffu);
		bin_err("count INT32_MAX", b, 4, 0, SVEC_ERR_TOO_MANY, 0, NULL, 0, 0);
		put_be32(b, 1);
		bin_err("count 1 but no entry", b, 4, 0, SVEC_ERR_SYNTAX, 4, "4 + 12 bytes per entry", 0, 0);
		put_be32(b, SVEC_MAX_NNZ);
		bin_err("count SVEC_MAX_NNZ but no entry", b, 4, 0, SVEC_ERR_SYNTAX, 4,
				"4 + 12 bytes per entry", 0, 0);
	}
	{
		static const int64_t idx[] = {1, 2};
		uint32_t	vb[2] = {0x3f800000, 0x40000000};
		size_t		len;
		unsigned char *buf = make_wire(2, idx, vb, 2, &len);	/* 28 bytes */

		bin_err("wrong length: one byte short", buf, len - 1, wire_cap(len - 1), SVEC_ERR_SYNTAX,
				len - 1, "4 + 12 bytes per entry", 0, 0);
		bin_err("wrong length: one entry short", buf, len - 12, wire_cap(len - 12),
				SVEC_ERR_SYNTAX, len - 12, "4 + 12 bytes per entry", 0, 0);
		bin_err("capacity smaller than count", buf, len, 1, SVEC_ERR_SYNTAX, len,
				"4 + 12 bytes per entry", 0, 0);
		free(buf);

		buf = make_wire(1, idx, vb, 2, &len);
		bin_err("wrong length: trailing bytes", buf, len, wire_cap(len), SVEC_ERR_SYNTAX, len,
				"4 + 12 bytes per entry", 0, 0);
		free(buf);
	}
	{
		static const int64_t idx[] = {3, 7};
		struct
		{
			uint32_t	bits;
			SVecStatus	st;
			const char *name;
		}			bad[] = {
			{0x7fc00000, SVEC_ERR_NAN, "quiet NaN bits"},
			{0xffc00000, SVEC_ERR_NAN, "negative quiet NaN bits"},
			{0x7f800001, SVEC_ERR_NAN, "signalling NaN bits"},
			{0x7fffffff, SVEC_ERR_NAN, "NaN with all mantissa bits"},
			{0x7f800000, SVEC_ERR_INF, "+Inf bits"},
			{0xff800000, SVEC_ERR_INF, "-Inf bits"},
		};
		size_t		k;

		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		{
			uint32_t	vb[2];
			size_t		len;
			unsigned char *buf;

			/* bad value in the second entry: position 4 + 16 + 4 */
			vb[0] = 0x3f800000;
			vb[1] = bad[k].bits;
			buf = make_wire(2, idx, vb, 2, &len);
			bin_err(bad[k].name, buf, len, wire_cap(len), bad[k].st, 24, NULL, 1, 7);
			free(buf);
		}
		{
			uint32_t	vb[2] = {0x7f800000, 0x7fc00000};
			size_t		len;
			unsigned char *buf = make_wire(2, idx, vb, 2, &len);

			bin_err("first bad value reported (Inf before NaN)", buf, len, wire_cap(len),
					SVEC_ERR_INF, 20, NULL, 1, 3);
			free(buf);
		}
		{
			static const int64_t didx[] = {3, 8};
			uint32_t	vb[2] = {0x3f800000, 0x7fc00000};
			size_t		len;
			unsigned char *buf = make_wire(2, didx, vb, 2, &len);

			bin_err("NaN reported with its own index", buf, len, wire_cap(len),
					SVEC_ERR_NAN, 24, NULL, 1, 8);
			free(buf);
		}
	}
	{
		static const int64_t idx[] = {5, 5, 9};
		uint32_t	vb[3] = {0x3f800000, 0, 0x3f800000};
		size_t		len;
		unsigned char *buf = make_wire(3, idx, vb, 3, &len);

		bin_err("duplicate index (one copy zero)", buf, len, wire_cap(len), SVEC_ERR_DUPLICATE,
				4 + 8, NULL, 1, 5);
		free(buf);
	}
	{
		static const int64_t idx[] = {INT64_MAX, INT64_MAX};
		uint32_t	vb[2] = {0x3f800000, 0x40000000};
		size_t		len;
		unsigned char *buf = make_wire(2, idx, vb, 2, &len);

		bin_err("duplicate INT64_MAX", buf, len, wire_cap(len), SVEC_ERR_DUPLICATE,
				4 + 8, NULL, 1, INT64_MAX);
		free(buf);
	}
}

static void
test_normalize(void)
{
	SVecParseResult res;
	SVecEntry	e[4] = {E(1, 0), E(2, -0.0f), E(3, 5), E(4, 0)};
	static const SVecEntry want[] = {E(3, 5)};

	memset(&res, 0, sizeof(res));
	ok(svec_normalize_entries(e, 0, &res) == SVEC_OK && res.nnz == 0, "normalize n = 0");
	memset(&res, 0, sizeof(res));
	ok(svec_normalize_entries(e, 4, &res) == SVEC_OK && entries_equal(e, res.nnz, want, 1),
	   "normalize sorted input drops zeros in place");
}

/* ------------------------------------------------------------------------ */
/* Kernels                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct Vec
{
	int			n;
	int64_t    *idx;				/* exactly n elements (malloc'ed) */
	float	   *val;
} Vec;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static float
rand_value(void)
{
	for (;;)
	{
		uint64_t	r = rng();
		float		f;

		switch (r % 4)
		{
			case 0:				/* small integers: exact sums */
				f = (float) ((int) ((r >> 8) % 19) - 9);
				break;
			case 1:				/* uniform in (-1, 1) */
				f = (float) ((double) (int64_t) (r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
				break;
			case 2:				/* any finite bit pattern */
				f = bits_float((uint32_t) (r >> 16));
				break;
			default:			/* wide magnitudes */
				f = (float) ldexp((double) ((r >> 12) % 1000 + 1), (int) ((r >> 40) % 200) - 100);
				if (r & 1)
					f = -f;
				break;
		}
		if (f != 0.0f && isfinite(f))
			return f;
	}
}

/* n strictly ascending indices from start, gaps 1..maxgap */
static Vec
rand_vec(int n, int64_t start, uint64_t maxgap)
{
	Vec			v;
	int64_t		x = start;
	int			i;

	v.n = n;
	v.idx = xmalloc((size_t) n * sizeof(int64_t));
	v.val = xmalloc((size_t) n * sizeof(float));
	for (i = 0; i < n; i++)
	{
		x += (int64_t) (1 + rng() % maxgap);
		v.idx[i] = x;
		v.val[i] = rand_value();
	}
	return v;
}

static Vec
vec_from(const int64_t *idx, const float *val, int n)
{
	Vec			v;

	v.n = n;
	v.idx = xmalloc((size_t) n * sizeof(int64_t));
	v.val = xmalloc((size_t) n * sizeof(float));
	if (n)
	{
		memcpy(v.idx, idx, (size_t) n * sizeof(int64_t));
		memcpy(v.val, val, (size_t) n * sizeof(float));
	}
	return v;
}

static void
vec_free(Vec *v)
{
	free(v->idx);
	free(v->val);
}

/* Brute force: for each entry of a (ascending), look for its index anywhere in b */
static double
naive_dot(const Vec *a, const Vec *b)
{
	double		sum = 0.0;
	int			i,
				j;

	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++)
			if (a->idx[i] == b->idx[j])
				sum += (double) a->val[i] * (double) b->val[j];
	return sum;
}

static int
naive_count(const Vec *a, const Vec *b)
{
	int			c = 0,
				i,
				j;

	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++)
			c += a->idx[i] == b->idx[j];
	return c;
}

/* Lookup by linear scan; 0 if absent */
static double
lookup(const Vec *v, int64_t x, int *found)
{
	int			i;

	for (i = 0; i < v->n; i++)
		if (v->idx[i] == x)
		{
			*found = 1;
			return v->val[i];
		}
	*found = 0;
	return 0.0;
}

/* Brute force: walk the union of indices in ascending order */
static double
naive_l2(const Vec *a, const Vec *b)
{
	double		sum = 0.0;
	int			i = 0,
				j = 0;

	for (;;)
	{
		int64_t		x;
		int			fa,
					fb;
		double		va,
					vb,
					d;

		if (i < a->n && (j >= b->n || a->idx[i] <= b->idx[j]))
			x = a->idx[i];
		else if (j < b->n)
			x = b->idx[j];
		else
			break;
		va = lookup(a, x, &fa);
		vb = lookup(b, x, &fb);
		i += fa;
		j += fb;
		d = va - vb;
		sum += d * d;
	}
	return sum;
}

static double
naive_norm(const Vec *a)
{
	double		s = 0.0;
	int			i;

	for (i = 0; i < a->n; i++)
		s += (double) a->val[i] * (double) a->val[i];
	return sqrt(s);
}

static int
uses_gallop(int na, int nb)
{
	if (na == 0 || nb == 0)
		return 0;
	return (na > nb && na / 16 >= nb) || (nb > na && nb / 16 >= na);
}

/*
 * A copy of s padded with entries outside both vectors' index range (above
 * the last, else below the first), so that the length ratio against l drops
 * below 16 (forcing the merge path) while the dot product and intersection
 * with l are unchanged.  Returns 0 when there is no room on either side.
 */
static int
pad_for_merge(const Vec *s, const Vec *l, Vec *p)
{
	int			extra = l->n / 16 + 1 - s->n;
	int64_t		last = INT64_MIN;
	int64_t		first = INT64_MAX;
	int			i,
				below;

	if (extra < 0)
		extra = 0;
	if (l->n)
	{
		last = l->idx[l->n - 1];
		first = l->idx[0];
	}
	if (s->n && s->idx[s->n - 1] > last)
		last = s->idx[s->n - 1];
	if (s->n && s->idx[0] < first)
		first = s->idx[0];
	if (last <= INT64_MAX - extra - 1)
		below = 0;
	else if (first >= INT64_MIN + extra + 1)
		below = 1;
	else
		return 0;
	p->n = s->n + extra;
	p->idx = xmalloc((size_t) p->n * sizeof(int64_t));
	p->val = xmalloc((size_t) p->n * sizeof(float));
	for (i = 0; i < s->n; i++)
	{
		p->idx[(below ? extra : 0) + i] = s->idx[i];
		p->val[(below ? extra : 0) + i] = s->val[i];
	}
	for (i = 0; i < extra; i++)
	{
		int			k = below ? i : s->n + i;

		p->idx[k] = below ? first - extra + i : last + 1 + i;
		p->val[k] = rand_value();
	}
	return 1;
}

/* Aggregated kernel checks over many pairs; the first failure is described */
typedef struct KStats
{
	long		pairs;
	long		gallop_pairs;
	long		path_skipped;	/* galloping pairs with no room to pad */
	long		fail_dot,
				fail_l2,
				fail_count,
				fail_sym,
				fail_paths,
				fail_norm,
				fail_32;		/* int32 kernels differ from int64 ones */
	int			described;
} KStats;

static void
kfail(KStats *ks, long *counter, const char *what, const Vec *a, const Vec *b)
{
	(*counter)++;
	if (ks->described++ < 3)
		diag("  %s failed for na=%d nb=%d (first idx a=%" PRId64 " b=%" PRId64 ")", what, a->n, b->n,
			 a->n ? a->idx[0] : 0, b->n ? b->idx[0] : 0);
}

/* Copy indices to int32 if they all fit; returns NULL otherwise */
static int32_t *
to_idx32(const Vec *v)
{
	int32_t    *out = xmalloc((v->n > 0 ? v->n : 1) * sizeof(int32_t));
	int			i;

	for (i = 0; i < v->n; i++)
	{
		if (v->idx[i] < INT32_MIN || v->idx[i] > INT32_MAX)
		{
			free(out);
			return NULL;
		}
		out[i] = (int32_t) v->idx[i];
	}
	return out;
}

/* Copy int32 indices and values to an odd address, as they lie in a short varlena */
static char *
to_unaligned(const int32_t *idx, const float *val, int n,
			 const svec_int32u **pi, const svec_floatu **pv)
{
	char	   *buf = xmalloc(2 + (size_t) n * 8);

	memcpy(buf + 1, idx, (size_t) n * 4);
	memcpy(buf + 1 + (size_t) n * 4, val, (size_t) n * 4);
	*pi = (const svec_int32u *) (buf + 1);
	*pv = (const svec_floatu *) (buf + 1 + (size_t) n * 4);
	return buf;
}

/* The int32 kernels (compact svecs), aligned or not, must give exactly the int64 results */
static void
check_pair32(KStats *ks, const Vec *a, const Vec *b, double d_ab, double l_ab, int c_ab)
{
	int32_t    *ai = to_idx32(a);
	int32_t    *bi = to_idx32(b);

	if (ai && bi &&
		(!same_double(svec_dot_32(ai, a->val, a->n, bi, b->val, b->n), d_ab) ||
		 !same_double(svec_dot_32(bi, b->val, b->n, ai, a->val, a->n), d_ab) ||
		 !same_double(svec_l2_squared_32(ai, a->val, a->n, bi, b->val, b->n), l_ab) ||
		 svec_intersection_size_32(ai, a->n, bi, b->n) != c_ab ||
		 svec_intersection_size_32(bi, b->n, ai, a->n) != c_ab))
		kfail(ks, &ks->fail_32, "int32 kernels == int64 kernels", a, b);
	if (ai && bi)
	{
		const svec_int32u *ui;
		const svec_int32u *uj;
		const svec_floatu *uv;
		const svec_floatu *uw;
		char	   *ba = to_unaligned(ai, a->val, a->n, &ui, &uv);
		char	   *bb = to_unaligned(bi, b->val, b->n, &uj, &uw);

		if (!same_double(svec_dot_32u(ui, uv, a->n, uj, uw, b->n), d_ab) ||
			!same_double(svec_dot_32u(uj, uw, b->n, ui, uv, a->n), d_ab) ||
			!same_double(svec_l2_squared_32u(ui, uv, a->n, uj, uw, b->n), l_ab) ||
			svec_intersection_size_32u(ui, a->n, uj, b->n) != c_ab)
			kfail(ks, &ks->fail_32, "unaligned int32 kernels == int64 kernels", a, b);
		free(ba);
		free(bb);
	}
	free(ai);
	free(bi);
}

static void
check_pair(KStats *ks, const Vec *a, const Vec *b)
{
	double		d_ab = svec_dot(a->idx, a->val, a->n, b->idx, b->val, b->n);
	double		d_ba = svec_dot(b->idx, b->val, b->n, a->idx, a->val, a->n);
	double		l_ab = svec_l2_squared(a->idx, a->val, a->n, b->idx, b->val, b->n);
	double		l_ba = svec_l2_squared(b->idx, b->val, b->n, a->idx, a->val, a->n);
	int			c_ab = svec_intersection_size(a->idx, a->n, b->idx, b->n);
	int			c_ba = svec_intersection_size(b->idx, b->n, a->idx, a->n);

	ks->pairs++;
	if (!same_double(d_ab, naive_dot(a, b)))
		kfail(ks, &ks->fail_dot, "dot == naive", a, b);
	if (!same_double(l_ab, naive_l2(a, b)))
		kfail(ks, &ks->fail_l2, "l2 == naive", a, b);
	if (c_ab != naive_count(a, b))
		kfail(ks, &ks->fail_count, "count == naive", a, b);
	if (!same_double(d_ab, d_ba) || !same_double(l_ab, l_ba) || c_ab != c_ba)
		kfail(ks, &ks->fail_sym, "symmetry", a, b);
	if (!same_double(sqrt(svec_norm2(a->val, a->n)), naive_norm(a)) ||
		!same_double(sqrt(svec_norm2(a->val, a->n)),
					 sqrt(svec_dot(a->idx, a->val, a->n, a->idx, a->val, a->n))))
		kfail(ks, &ks->fail_norm, "norm", a, b);
	check_pair32(ks, a, b, d_ab, l_ab, c_ab);

	if (uses_gallop(a->n, b->n))
	{
		const Vec  *s = a->n < b->n ? a : b;
		const Vec  *l = a->n < b->n ? b : a;
		Vec			p;

		ks->gallop_pairs++;
		if (!pad_for_merge(s, l, &p))
		{
			ks->path_skipped++;
			return;
		}
		if (uses_gallop(p.n, l->n) ||
			!same_double(svec_dot(p.idx, p.val, p.n, l->idx, l->val, l->n), d_ab) ||
			!same_double(svec_dot(l->idx, l->val, l->n, p.idx, p.val, p.n), d_ab) ||
			svec_intersection_size(p.idx, p.n, l->idx, l->n) != c_ab ||
			svec_intersection_size(l->idx, l->n, p.idx, p.n) != c_ab)
			kfail(ks, &ks->fail_paths, "merge == gallop", a, b);
		vec_free(&p);
	}
}

static void
report_kstats(const char *name, const KStats *ks)
{
	ok(ks->fail_dot == 0, "%s: dot == brute force, bit for bit (%ld pairs)", name, ks->pairs);
	ok(ks->fail_l2 == 0, "%s: l2_squared == brute force, bit for bit", name);
	ok(ks->fail_count == 0, "%s: intersection_size == brute force", name);
	ok(ks->fail_sym == 0, "%s: f(a,b) == f(b,a) bit for bit for dot, l2, count", name);
	ok(ks->fail_norm == 0, "%s: norm == sqrt(sum of squares) == sqrt(dot(a,a))", name);
	ok(ks->fail_32 == 0, "%s: int32 kernels == int64 kernels", name);
	ok(ks->fail_paths == 0, "%s: merge path == galloping path exactly (%ld galloping pairs)",
	   name, ks->gallop_pairs - ks->path_skipped);
}

static void
test_kernels_random(void)
{
	static const int lens[] = {0, 1, 2, 3, 4, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 100, 257};
	const int	nlens = (int) (sizeof(lens) / sizeof(lens[0]));
	KStats		ks;
	int			x,
				y,
				t;

	/* all length pairs, dense and sparse overlap, same start */
	memset(&ks, 0, sizeof(ks));
	for (x = 0; x < nlens; x++)
		for (y = 0; y < nlens; y++)
			for (t = 0; t < 6; t++)
			{
				int			na = lens[x],
							nb = lens[y];
				uint64_t	span = (uint64_t) (na > nb ? na : nb) * (1 + t % 3) + 1;
				Vec			a = rand_vec(na, 0, na ? span / (uint64_t) na * 2 + 1 : 1);
				Vec			b = rand_vec(nb, (int64_t) (rng() % 3), nb ? span / (uint64_t) nb * 2 + 1 : 1);

				check_pair(&ks, &a, &b);
				vec_free(&a);
				vec_free(&b);
			}
	report_kstats("random pairs over all length combinations", &ks);

	/* ratio >= 16: the short vector's indices mostly drawn from the long one */
	memset(&ks, 0, sizeof(ks));
	for (t = 0; t < 400; t++)
	{
		int			nl = 16 + (int) (rng() % 3000);
		int			maxs = nl / 16;
		int			ns = 1 + (int) (rng() % (uint64_t) maxs);
		Vec			l = rand_vec(nl, -(int64_t) (rng() % 1000), 1 + rng() % 5);
		Vec			s;
		int			i,
					k = 0;
		int64_t		prev = INT64_MIN;

		s.n = ns;
		s.idx = xmalloc((size_t) ns * sizeof(int64_t));
		s.val = xmalloc((size_t) ns * sizeof(float));
		/* pick ns ascending indices: from l (hits), or l's index + 1 (likely misses) */
		for (i = 0; i < nl && k < ns; i++)
		{
			if (rng() % (uint64_t) (nl - i) < (uint64_t) (ns - k))
			{
				int64_t		c = l.idx[i] + (rng() % 3 == 0);

				if (c <= prev)
					c = prev + 1;
				s.idx[k] = prev = c;
				s.val[k] = rand_value();
				k++;
			}
		}
		while (k < ns)			/* tail beyond l */
		{
			s.idx[k] = prev = prev + 1 + (int64_t) (rng() % 4);
			s.val[k++] = rand_value();
		}
		/* sometimes force the last entries of both to coincide (end-of-long-vector case) */
		if (t % 4 == 0 && l.idx[nl - 1] > s.idx[ns - 1])
			s.idx[ns - 1] = l.idx[nl - 1];
		if (t % 2)
			check_pair(&ks, &s, &l);
		else
			check_pair(&ks, &l, &s);
		vec_free(&l);
		vec_free(&s);
	}
	report_kstats("ratio >= 16, short drawn from long", &ks);
	ok(ks.gallop_pairs == ks.pairs, "every ratio >= 16 pair took the galloping path (%ld/%ld)",
	   ks.gallop_pairs, ks.pairs);

	/* exactly at the threshold: 16*n vs n gallops, 16*n-1 vs n merges */
	memset(&ks, 0, sizeof(ks));
	for (t = 1; t <= 40; t++)
	{
		int			ns = t;
		Vec			l1 = rand_vec(16 * ns, 0, 2);
		Vec			l2 = rand_vec(16 * ns - 1, 0, 2);
		Vec			s = rand_vec(ns, 0, 32);

		check_pair(&ks, &l1, &s);
		check_pair(&ks, &s, &l2);
		vec_free(&l1);
		vec_free(&l2);
		vec_free(&s);
	}
	report_kstats("lengths at the galloping threshold", &ks);
	ok(ks.gallop_pairs == 40, "16n:n gallops, (16n-1):n does not (%ld of 80)", ks.gallop_pairs);

	/* extreme indices (INT64_MIN / INT64_MAX) in both vectors */
	memset(&ks, 0, sizeof(ks));
	for (t = 0; t < 200; t++)
	{
		int			nl = 1 + (int) (rng() % 600);
		int			ns = 1 + (int) (rng() % 40);
		Vec			l = rand_vec(nl, INT64_MIN, 3);
		Vec			s = rand_vec(ns, INT64_MIN, 40);

		if (t % 2)
			s.idx[0] = INT64_MIN;
		/* move the tail of each to the top of the range (not all: keep room to pad) */
		if (t % 4 == 0)
			l.idx[nl - 1] = INT64_MAX;
		if (t % 3 == 0)
			s.idx[ns - 1] = INT64_MAX;
		if (t % 5 == 0)
			l.idx[0] = INT64_MIN;
		check_pair(&ks, &l, &s);
		vec_free(&l);
		vec_free(&s);
	}
	report_kstats("INT64_MIN / INT64_MAX indices", &ks);
}

/* Hand-built cases with known exact results */
static void
test_kernels_fixed(void)
{
	int64_t		li[64];
	float		lv[64];
	int			i;

	for (i = 0; i < 64; i++)
	{
		li[i] = i + 1;
		lv[i] = 1.0f;
	}

	/* Short vector matches the long one's last entry and then goes past it (galloping) */
	{
		static const int64_t si[] = {32, 33};
		static const float sv[] = {2.0f, 3.0f};
		Vec			l = vec_from(li, lv, 32);
		Vec			s = vec_from(si, sv, 2);

		ok(svec_dot(l.idx, l.val, 32, s.idx, s.val, 2) == 2.0 &&
		   svec_dot(s.idx, s.val, 2, l.idx, l.val, 32) == 2.0,
		   "gallop: match on the long vector's last entry, then past its end (dot)");
		ok(svec_intersection_size(l.idx, 32, s.idx, 2) == 1 &&
		   svec_intersection_size(s.idx, 2, l.idx, 32) == 1,
		   "gallop: match on the long vector's last entry, then past its end (count)");
		vec_free(&l);
		vec_free(&s);
	}
	{
		static const int64_t si[] = {64, 65, 66, 67};
		static const float sv[] = {1.0f, 1.0f, 1.0f, 1.0f};
		Vec			l = vec_from(li, lv, 64);
		Vec			s = vec_from(si, sv, 4);

		ok(svec_dot(l.idx, l.val, 64, s.idx, s.val, 4) == 1.0 &&
		   svec_intersection_size(s.idx, 4, l.idx, 64) == 1,
		   "gallop: 64 vs 4, match at the end then three past it");
		vec_free(&l);
		vec_free(&s);
	}
	{
		/* single-entry short vector at every position, and just outside */
		Vec			l = vec_from(li, lv, 64);
		int			good = 1;
		int64_t		x;

		for (x = -1; x <= 66; x++)
		{
			float		v = 3.0f;
			Vec			s = vec_from(&x, &v, 1);
			int			hit = x >= 1 && x <= 64;

			good = good && svec_dot(l.idx, l.val, 64, s.idx, s.val, 1) == (hit ? 3.0 : 0.0);
			good = good && svec_dot(s.idx, s.val, 1, l.idx, l.val, 64) == (hit ? 3.0 : 0.0);
			good = good && svec_intersection_size(l.idx, 64, s.idx, 1) == hit;
			good = good && svec_l2_squared(l.idx, l.val, 64, s.idx, s.val, 1) ==
				(hit ? 63.0 + 4.0 : 64.0 + 9.0);
			vec_free(&s);
		}
		ok(good, "gallop: one-entry vector before, at every position of, and after a 64-entry one");
		vec_free(&l);
	}

	/* lengths 0, 1, 2 */
	{
		int64_t		i1 = 5;
		float		v1 = 2.0f;
		Vec			e = vec_from(NULL, NULL, 0);
		Vec			one = vec_from(&i1, &v1, 1);
		Vec			l = vec_from(li, lv, 64);

		ok(svec_dot(e.idx, e.val, 0, e.idx, e.val, 0) == 0.0 &&
		   svec_l2_squared(e.idx, e.val, 0, e.idx, e.val, 0) == 0.0 &&
		   svec_intersection_size(e.idx, 0, e.idx, 0) == 0 && sqrt(svec_norm2(e.val, 0)) == 0.0,
		   "empty vs empty: dot 0, l2 0, count 0, norm 0");
		ok(svec_dot(e.idx, e.val, 0, l.idx, l.val, 64) == 0.0 &&
		   svec_dot(l.idx, l.val, 64, e.idx, e.val, 0) == 0.0 &&
		   svec_intersection_size(l.idx, 64, e.idx, 0) == 0 &&
		   svec_l2_squared(e.idx, e.val, 0, l.idx, l.val, 64) == 64.0 &&
		   svec_l2_squared(l.idx, l.val, 64, e.idx, e.val, 0) == 64.0,
		   "empty vs 64 entries: dot 0, count 0, l2 = |b|^2");
		ok(svec_dot(one.idx, one.val, 1, one.idx, one.val, 1) == 4.0 &&
		   svec_l2_squared(one.idx, one.val, 1, one.idx, one.val, 1) == 0.0 &&
		   svec_intersection_size(one.idx, 1, one.idx, 1) == 1 && sqrt(svec_norm2(one.val, 1)) == 2.0,
		   "one entry vs itself");
		vec_free(&e);
		vec_free(&one);
		vec_free(&l);
	}
	{
		static const int64_t ai[] = {1, 3};
		static const float av[] = {1.0f, 2.0f};
		static const int64_t bi[] = {2, 3};
		static const float bv[] = {5.0f, -4.0f};
		Vec			a = vec_from(ai, av, 2);
		Vec			b = vec_from(bi, bv, 2);

		ok(svec_dot(a.idx, a.val, 2, b.idx, b.val, 2) == -8.0 &&
		   svec_l2_squared(a.idx, a.val, 2, b.idx, b.val, 2) == 1.0 + 25.0 + 36.0 &&
		   svec_intersection_size(a.idx, 2, b.idx, 2) == 1,
		   "two entries each: {1:1,3:2} . {2:5,3:-4} = -8, l2 = 62, count 1");
		vec_free(&a);
		vec_free(&b);
	}

	/* disjoint and touching ranges (merge path, early exit) */
	{
		static const int64_t ai[] = {1, 2, 3, 4, 5};
		static const float av[] = {1, 1, 1, 1, 1};
		static const int64_t bi[] = {6, 7, 8, 9, 10};
		static const float bv[] = {2, 2, 2, 2, 2};
		static const int64_t ci[] = {5, 6, 7, 8, 9};
		Vec			a = vec_from(ai, av, 5);
		Vec			b = vec_from(bi, bv, 5);
		Vec			c = vec_from(ci, bv, 5);

		ok(svec_dot(a.idx, a.val, 5, b.idx, b.val, 5) == 0.0 &&
		   svec_dot(b.idx, b.val, 5, a.idx, a.val, 5) == 0.0 &&
		   svec_intersection_size(a.idx, 5, b.idx, 5) == 0 &&
		   svec_intersection_size(b.idx, 5, a.idx, 5) == 0 &&
		   svec_l2_squared(a.idx, a.val, 5, b.idx, b.val, 5) == 25.0 &&
		   svec_l2_squared(b.idx, b.val, 5, a.idx, a.val, 5) == 25.0,
		   "disjoint ranges: dot 0, count 0, l2 = |a|^2 + |b|^2");
		ok(svec_dot(a.idx, a.val, 5, c.idx, c.val, 5) == 2.0 &&
		   svec_dot(c.idx, c.val, 5, a.idx, a.val, 5) == 2.0 &&
		   svec_intersection_size(c.idx, 5, a.idx, 5) == 1,
		   "ranges touching at one index: one match");
		vec_free(&a);
		vec_free(&b);
		vec_free(&c);
	}
	{
		/* interleaved, no common index, same range */
		Vec			a = rand_vec(100, 0, 1),
					b;
		int			k;

		for (k = 0; k < 100; k++)
			a.idx[k] = 2 * k;
		b = rand_vec(100, 0, 1);
		for (k = 0; k < 100; k++)
			b.idx[k] = 2 * k + 1;
		ok(svec_dot(a.idx, a.val, 100, b.idx, b.val, 100) == 0.0 &&
		   svec_intersection_size(a.idx, 100, b.idx, 100) == 0,
		   "interleaved odd/even indices: no match");
		vec_free(&a);
		vec_free(&b);
	}

	/* norm and l2 of extreme values stay finite in double */
	{
		float		v[2];
		int64_t		ix[2] = {1, 2};
		int64_t		jx[2] = {1, 2};
		float		w[2];

		v[0] = FLT_MAX;
		v[1] = FLT_MAX;
		w[0] = -FLT_MAX;
		w[1] = -FLT_MAX;
		ok(sqrt(svec_norm2(v, 2)) == sqrt(2.0 * (double) FLT_MAX * (double) FLT_MAX),
		   "norm of {FLT_MAX, FLT_MAX} computed in double");
		ok(svec_l2_squared(ix, v, 2, jx, w, 2) == 2.0 * (2.0 * (double) FLT_MAX) * (2.0 * (double) FLT_MAX),
		   "l2 of FLT_MAX vs -FLT_MAX computed in double");
		ok(svec_dot(ix, v, 2, jx, w, 2) == -2.0 * (double) FLT_MAX * (double) FLT_MAX,
		   "dot of FLT_MAX vs -FLT_MAX computed in double");
	}
}

/* A large galloping case: 10 entries against 200,000 */
static void
test_kernels_large(void)
{
	int			nl = 200000;
	Vec			l = rand_vec(nl, 0, 3);
	Vec			s;
	int			k;
	double		expect = 0.0;

	s.n = 10;
	s.idx = xmalloc(10 * sizeof(int64_t));
	s.val = xmalloc(10 * sizeof(float));
	for (k = 0; k < 10; k++)
	{
		int			pos = (k == 9) ? nl - 1 : (int) ((uint64_t) k * 19997 + rng() % 1000);

		s.idx[k] = l.idx[pos];
		s.val[k] = rand_value();
		expect += (double) s.val[k] * (double) l.val[pos];
	}
	ok(same_double(svec_dot(s.idx, s.val, 10, l.idx, l.val, nl), expect) &&
	   same_double(svec_dot(l.idx, l.val, nl, s.idx, s.val, 10), expect) &&
	   svec_intersection_size(s.idx, 10, l.idx, nl) == 10,
	   "10 vs 200,000 entries, last match at the very end");
	vec_free(&l);
	vec_free(&s);
}

/* Do the 64-bit results of two kernels agree bit for bit? */
static int
same_bits(double x, double y)
{
	return memcmp(&x, &y, sizeof(double)) == 0;
}

/*
 * Every instruction-set variant of the kernels the CPU supports (svec_math.c)
 * against the baseline: the same bits on random pairs of every shape (empty,
 * short product, merge, gallop; int64, int32 and unaligned int32), and the
 * variant in use is the best one supported.
 */
static void
test_kernel_variants(void)
{
	const SVecKernels *base = svec_kernels_variant(0);
	const SVecKernels *best = base;
	static const int sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 64, 100, 600, 3000};
	const int	nsizes = (int) (sizeof(sizes) / sizeof(sizes[0]));
	int			v;

	ok(base != NULL && strcmp(base->name, "baseline") == 0, "variant 0 is the baseline");
	for (v = 1; v < 8; v++)
	{
		const SVecKernels *k = svec_kernels_variant(v);
		long		bad64 = 0,
					bad32 = 0,
					bad32u = 0,
					pairs = 0;
		int			x,
					y,
					rep;

		if (k == NULL)
			continue;
		best = k;
		for (x = 0; x < nsizes; x++)
			for (y = 0; y < nsizes; y++)
				for (rep = 0; rep < 3; rep++)
				{
					uint64_t	gap = rep == 0 ? 2 : (rep == 1 ? 10 : 300);
					Vec			a = rand_vec(sizes[x], (int64_t) (rng() % 50), gap);
					Vec			b = rand_vec(sizes[y], (int64_t) (rng() % 50), rep == 2 ? 2 : gap);
					int32_t    *a32 = to_idx32(&a);
					int32_t    *b32 = to_idx32(&b);
					const svec_int32u *ai,
							   *bi;
					const svec_floatu *av,
							   *bv;
					char	   *ua = to_unaligned(a32, a.val, a.n, &ai, &av);
					char	   *ub = to_unaligned(b32, b.val, b.n, &bi, &bv);

					pairs++;
					bad64 += !same_bits(k->dot(a.idx, a.val, a.n, b.idx, b.val, b.n),
										base->dot(a.idx, a.val, a.n, b.idx, b.val, b.n)) ||
						!same_bits(k->l2_squared(a.idx, a.val, a.n, b.idx, b.val, b.n),
								   base->l2_squared(a.idx, a.val, a.n, b.idx, b.val, b.n)) ||
						k->intersection_size(a.idx, a.n, b.idx, b.n) !=
						base->intersection_size(a.idx, a.n, b.idx, b.n);
					bad32 += !same_bits(k->dot_32(a32, a.val, a.n, b32, b.val, b.n),
										base->dot_32(a32, a.val, a.n, b32, b.val, b.n)) ||
						!same_bits(k->l2_squared_32(a32, a.val, a.n, b32, b.val, b.n),
								   base->l2_squared_32(a32, a.val, a.n, b32, b.val, b.n)) ||
						k->intersection_size_32(a32, a.n, b32, b.n) !=
						base->intersection_size_32(a32, a.n, b32, b.n);
					bad32u += !same_bits(k->dot_32u(ai, av, a.n, bi, bv, b.n),
										 base->dot_32u(ai, av, a.n, bi, bv, b.n)) ||
						!same_bits(k->l2_squared_32u(ai, av, a.n, bi, bv, b.n),
								   base->l2_squared_32u(ai, av, a.n, bi, bv, b.n)) ||
						k->intersection_size_32u(ai, a.n, bi, b.n) !=
						base->intersection_size_32u(ai, a.n, bi, b.n);
					free(ua);
					free(ub);
					free(a32);
					free(b32);
					vec_free(&a);
					vec_free(&b);
				}
		ok(bad64 == 0, "variant %s: int64 kernels bit-identical to the baseline (%ld of %ld pairs differ)",
		   k->name, bad64, pairs);
		ok(bad32 == 0, "variant %s: int32 kernels bit-identical to the baseline (%ld of %ld pairs differ)",
		   k->name, bad32, pairs);
		ok(bad32u == 0, "variant %s: unaligned int32 kernels bit-identical to the baseline (%ld of %ld pairs differ)",
		   k->name, bad32u, pairs);
	}
	if (best == base)
		diag("this CPU runs no variant besides the baseline");
	ok(strcmp(svec_kernels_name(), best->name) == 0, "the kernels in use (%s) are the best supported (%s)",
	   svec_kernels_name(), best->name);
}

int
main(void)
{
	const char *seed = getenv("TEST_SVEC_SEED");

	if (seed && *seed)
		rng_state = strtoull(seed, NULL, 0);
	printf("# test_svec: seed 0x%016" PRIx64 "\n", rng_state);

	test_text_valid();
	test_text_valid_more();
	test_text_errors();
	test_text_capacity();
	test_binary();
	test_normalize();
	test_kernels_fixed();
	test_kernels_random();
	test_kernels_large();
	test_kernel_variants();

	return done_testing();
}
