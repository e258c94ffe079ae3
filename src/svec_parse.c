/*
 * svec_parse.c — text parser and binary decoder for svec, in plain C.
 *
 * Grammar of the text form (whitespace as PostgreSQL's array input allows it:
 * around braces, separators and tokens, never inside a number):
 *
 *     svec    := '{' [ entry { ',' entry } ] '}' [ '/' dims ]
 *     entry   := index ':' value
 *     index   := [+-] digits                      (must fit in int64)
 *     value   := [+-] ( decimal | hex )
 *     decimal := ( digits [ '.' [digits] ] | '.' digits ) [ (e|E) [+-] digits ]
 *     hex     := '0' (x|X) ( hexdigits [ '.' [hexdigits] ] | '.' hexdigits ) [ (p|P) [+-] digits ]
 *     dims    := [+-] digits                      (pgvector's sparsevec suffix)
 *
 * The suffix only bounds the indices (1..dims, as in pgvector); it is not kept.
 * Values are read with strtof and follow real's rules (hex floats included, as
 * '0x1p3'::real and pgvector accept them): overflow and underflow
 * to zero are out of range, NaN and infinities are rejected, zeros are dropped.
 *
 * No PostgreSQL headers here: this file is also built into the C tests and the
 * libFuzzer harness.  It never allocates; callers size the entry buffer.
 */
#include "svec_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Is c whitespace in the sense of PostgreSQL's array input? */
static inline int
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline int
IsDigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Is c a hexadecimal digit? */
static inline int
IsHexDigit(char c)
{
	return IsDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Skip whitespace */
static inline const char *
SkipSpace(const char *p)
{
	while (IsSpace(*p))
		p++;
	return p;
}

/* Record a syntax error at p, saying what was expected there */
static SVecStatus
SyntaxError(SVecParseResult *res, const char *str, const char *p, const char *expected)
{
	res->status = SVEC_ERR_SYNTAX;
	res->pos = (size_t) (p - str);
	res->toklen = 0;
	res->expected = expected;
	return SVEC_ERR_SYNTAX;
}

/* Record an error about the token [tok, end) */
static SVecStatus
TokenError(SVecParseResult *res, SVecStatus status, const char *str,
		   const char *tok, const char *end)
{
	res->status = status;
	res->pos = (size_t) (tok - str);
	res->toklen = (size_t) (end - tok);
	return status;
}

/* Case-insensitive match of a lowercase word not followed by a letter, digit or '.' */
static int
MatchWord(const char *p, const char *word)
{
	size_t		i;
	char		next;

	for (i = 0; word[i]; i++)
		if ((p[i] | 0x20) != word[i])
			return 0;
	next = p[i];
	return !(IsDigit(next) || next == '.' || ((next | 0x20) >= 'a' && (next | 0x20) <= 'z'));
}

size_t
svec_text_max_entries(const char *str)
{
	size_t		n = 0;

	for (; *str; str++)
		n += (*str == ':');
	return n;
}

/*
 * Parse a signed integer at *pp into *out.  Returns SVEC_OK, SVEC_ERR_SYNTAX
 * (no digits) or SVEC_ERR_INDEX_RANGE; *pp is left after the digits.
 */
static SVecStatus
ParseInt64(const char **pp, int64_t *out, int allow_sign)
{
	const char *p = *pp;
	int			neg = 0;
	uint64_t	mag = 0;
	int			overflow = 0;

	if (allow_sign && (*p == '+' || *p == '-'))
		neg = (*p++ == '-');
	if (!IsDigit(*p))
	{
		*pp = p;
		return SVEC_ERR_SYNTAX;
	}
	for (; IsDigit(*p); p++)
	{
		unsigned	d = (unsigned) (*p - '0');

		if (mag > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			mag = mag * 10 + d;
	}
	*pp = p;
	if (overflow || mag > (uint64_t) INT64_MAX + (uint64_t) neg)
		return SVEC_ERR_INDEX_RANGE;
	*out = neg ? (int64_t) (0 - mag) : (int64_t) mag;
	return SVEC_OK;
}

/*
 * Parse a real value at *pp.  The token's extent is decided by the grammar
 * above (decimal or hex, as real reads them), not by strtof, which would also
 * take "nan(...)".
 */
static SVecStatus
ParseValue(const char *str, const char **pp, float *out, SVecParseResult *res)
{
	const char *tok = *pp;
	const char *p = tok;
	const char *end;
	int			digits = 0;
	float		v;

	if (*p == '+' || *p == '-')
		p++;

	/* NaN and infinities are recognised only to reject them clearly */
	if (MatchWord(p, "nan"))
		return TokenError(res, SVEC_ERR_NAN, str, tok, p + 3);
	if (MatchWord(p, "infinity"))
		return TokenError(res, SVEC_ERR_INF, str, tok, p + 8);
	if (MatchWord(p, "inf"))
		return TokenError(res, SVEC_ERR_INF, str, tok, p + 3);

	if (p[0] == '0' && (p[1] | 0x20) == 'x' && (IsHexDigit(p[2]) || (p[2] == '.' && IsHexDigit(p[3]))))
	{
		/* a hex float, as real and pgvector read it: 0x1.8p3, 0x10, 0x.8 */
		p += 2;
		while (IsHexDigit(*p))
			p++, digits++;
		if (*p == '.')
		{
			p++;
			while (IsHexDigit(*p))
				p++, digits++;
		}
		if ((*p | 0x20) == 'p' &&
			(IsDigit(p[1]) || ((p[1] == '+' || p[1] == '-') && IsDigit(p[2]))))
		{
			p += 2;
			while (IsDigit(*p))
				p++;
		}
	}
	else
	{
		while (IsDigit(*p))
			p++, digits++;
		if (*p == '.')
		{
			p++;
			while (IsDigit(*p))
				p++, digits++;
		}
		if (digits == 0)
			return SyntaxError(res, str, tok, "a number");
		if ((*p == 'e' || *p == 'E') &&
			(IsDigit(p[1]) || ((p[1] == '+' || p[1] == '-') && IsDigit(p[2]))))
		{
			p += 2;
			while (IsDigit(*p))
				p++;
		}
	}

	errno = 0;
	v = strtof(tok, (char **) &end);
	if (end != p)
	{
		/* strtof read a longer form (e.g. hex): what follows our token is bad */
		return SyntaxError(res, str, p, "\",\" or \"}\"");
	}
	if (errno == ERANGE && (v == 0.0f || isinf(v)))
		return TokenError(res, SVEC_ERR_VALUE_RANGE, str, tok, p);

	*pp = p;
	*out = v;
	return SVEC_OK;
}

SVecStatus
svec_parse_text(const char *str, SVecEntry *entries, size_t capacity, SVecParseResult *res)
{
	const char *p;
	size_t		n = 0;
	SVecStatus	st;

	memset(res, 0, sizeof(*res));
	res->dims = -1;

	p = SkipSpace(str);
	if (*p != '{')
		return SyntaxError(res, str, p, "\"{\"");
	p = SkipSpace(p + 1);

	if (*p == '}')
		p++;
	else
	{
		for (;;)
		{
			const char *tok = p;
			int64_t		index;
			float		value;

			st = ParseInt64(&p, &index, 1);
			if (st == SVEC_ERR_SYNTAX)
				return SyntaxError(res, str, tok, "an index");
			if (st != SVEC_OK)
				return TokenError(res, st, str, tok, p);

			p = SkipSpace(p);
			if (*p != ':')
				return SyntaxError(res, str, p, "\":\"");
			p = SkipSpace(p + 1);

			st = ParseValue(str, &p, &value, res);
			if (st != SVEC_OK)
				return st;

			if (n >= capacity || n >= SVEC_MAX_NNZ)
				return TokenError(res, SVEC_ERR_TOO_MANY, str, tok, p);
			entries[n].index = index;
			entries[n].value = value;
			n++;

			p = SkipSpace(p);
			if (*p == ',')
			{
				p = SkipSpace(p + 1);
				continue;
			}
			if (*p == '}')
			{
				p++;
				break;
			}
			return SyntaxError(res, str, p, "\",\" or \"}\"");
		}
	}

	p = SkipSpace(p);
	if (*p == '/')
	{
		const char *tok;
		int64_t		dims;

		p = SkipSpace(p + 1);
		tok = p;
		st = ParseInt64(&p, &dims, 1);	/* a sign, as pgvector's strtol takes it */
		if (st == SVEC_ERR_SYNTAX)
			return SyntaxError(res, str, tok, "the number of dimensions");
		if (st != SVEC_OK || dims < 1)
			return TokenError(res, SVEC_ERR_BAD_DIMS, str, tok, p);
		res->dims = dims;
		p = SkipSpace(p);
	}
	if (*p != '\0')
		return SyntaxError(res, str, p, "end of input");

	if (res->dims > 0)
	{
		size_t		i;

		for (i = 0; i < n; i++)
			if (entries[i].index < 1 || entries[i].index > res->dims)
			{
				res->status = SVEC_ERR_DIMS_RANGE;
				res->index = entries[i].index;
				return SVEC_ERR_DIMS_RANGE;
			}
	}

	return svec_normalize_entries(entries, (int) n, res);
}

/* Read a big-endian uint32 */
static inline uint32_t
GetBE32(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* Write a big-endian uint32 */
static inline void
PutBE32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

SVecStatus
svec_decode_binary(const unsigned char *buf, size_t len, SVecEntry *entries,
				   size_t capacity, SVecParseResult *res)
{
	int32_t		nnz;
	const unsigned char *ip;
	const unsigned char *vp;
	int			i;

	memset(res, 0, sizeof(*res));
	res->dims = -1;

	if (len < SVEC_WIRE_HEADER)
	{
		res->status = SVEC_ERR_SYNTAX;
		res->pos = len;
		res->expected = "a 4-byte entry count";
		return SVEC_ERR_SYNTAX;
	}
	nnz = (int32_t) GetBE32(buf);
	if (nnz < 0)
	{
		res->status = SVEC_ERR_SYNTAX;
		res->expected = "a non-negative entry count";
		return SVEC_ERR_SYNTAX;
	}
	if (nnz > SVEC_MAX_NNZ)
	{
		res->status = SVEC_ERR_TOO_MANY;
		return SVEC_ERR_TOO_MANY;
	}
	if (len != SVEC_WIRE_HEADER + (size_t) nnz * SVEC_WIRE_ENTRY || (size_t) nnz > capacity)
	{
		res->status = SVEC_ERR_SYNTAX;
		res->pos = len;
		res->expected = "4 + 12 bytes per entry";
		return SVEC_ERR_SYNTAX;
	}

	ip = buf + SVEC_WIRE_HEADER;
	vp = ip + (size_t) nnz * 8;
	for (i = 0; i < nnz; i++)
	{
		uint64_t	u = ((uint64_t) GetBE32(ip + 8 * i) << 32) | GetBE32(ip + 8 * i + 4);
		uint32_t	bits = GetBE32(vp + 4 * i);
		float		v;

		memcpy(&v, &bits, sizeof(v));
		entries[i].index = (int64_t) u;
		entries[i].value = v;
		/* canonical order only: another type's payload of the same length is refused, not misread */
		if (i > 0 && entries[i].index <= entries[i - 1].index)
		{
			res->pos = (size_t) (ip + 8 * i - buf);
			res->index = entries[i].index;
			if (entries[i].index == entries[i - 1].index)
			{
				res->status = SVEC_ERR_DUPLICATE;
				return SVEC_ERR_DUPLICATE;
			}
			res->status = SVEC_ERR_SYNTAX;
			res->expected = "indices in ascending order, as svec_send writes them";
			return SVEC_ERR_SYNTAX;
		}
		if (isnan(v) || isinf(v))
		{
			res->status = isnan(v) ? SVEC_ERR_NAN : SVEC_ERR_INF;
			res->pos = (size_t) (vp + 4 * i - buf);
			res->index = entries[i].index;
			return res->status;
		}
	}
	return svec_normalize_entries(entries, nnz, res);
}

/* qsort comparator: ascending index */
static int
CompareEntries(const void *a, const void *b)
{
	int64_t		x = ((const SVecEntry *) a)->index;
	int64_t		y = ((const SVecEntry *) b)->index;

	return (x > y) - (x < y);
}

SVecStatus
svec_normalize_entries(SVecEntry *entries, int n, SVecParseResult *res)
{
	int			i;
	int			sorted = 1;
	int			out;

	for (i = 1; i < n; i++)
		if (entries[i].index <= entries[i - 1].index)
		{
			sorted = 0;
			break;
		}
	if (!sorted)
	{
		qsort(entries, (size_t) n, sizeof(SVecEntry), CompareEntries);
		for (i = 1; i < n; i++)
			if (entries[i].index == entries[i - 1].index)
			{
				res->status = SVEC_ERR_DUPLICATE;
				res->index = entries[i].index;
				return SVEC_ERR_DUPLICATE;
			}
	}

	/* Drop zeros (including -0) */
	for (i = 0, out = 0; i < n; i++)
		if (entries[i].value != 0.0f)
			entries[out++] = entries[i];

	res->status = SVEC_OK;
	res->nnz = out;
	return SVEC_OK;
}

void
svec_encode_binary(const int64_t *indices, const float *values, int n, unsigned char *buf)
{
	unsigned char *ip = buf + SVEC_WIRE_HEADER;
	unsigned char *vp = ip + (size_t) n * 8;
	int			i;

	PutBE32(buf, (uint32_t) n);
	for (i = 0; i < n; i++)
	{
		uint64_t	u = (uint64_t) indices[i];
		uint32_t	bits;

		PutBE32(ip + 8 * i, (uint32_t) (u >> 32));
		PutBE32(ip + 8 * i + 4, (uint32_t) u);
		memcpy(&bits, &values[i], sizeof(bits));
		PutBE32(vp + 4 * i, bits);
	}
}
