/*
 * svec_parse.h — text parser and binary decoder for svec, in plain C.
 *
 * Nothing here includes postgres.h: the same code is linked into the server,
 * the C unit tests and the libFuzzer harness.  Functions report problems
 * through SVecParseResult; the caller (svec.c) turns them into ereport().
 */
#ifndef SVEC_PARSE_H
#define SVEC_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Largest number of entries an svec may hold (12 bytes each: about 115 MB). */
#define SVEC_MAX_NNZ 10000000

/*
 * Binary wire format: int32 nnz, int64 indices[nnz], float4 values[nnz], big-endian,
 * indices strictly ascending (as svec_send writes them; decoding refuses any other
 * order, so another type's payload of the same length, e.g. pgvector's sparsevec, is not misread).
 */
#define SVEC_WIRE_HEADER 4
#define SVEC_WIRE_ENTRY 12

typedef struct SVecEntry
{
	int64_t		index;
	float		value;
} SVecEntry;

typedef enum SVecStatus
{
	SVEC_OK = 0,
	SVEC_ERR_SYNTAX,			/* malformed text or binary layout */
	SVEC_ERR_INDEX_RANGE,		/* index does not fit in bigint */
	SVEC_ERR_DIMS_RANGE,		/* index outside 1..dims of a "/dims" suffix */
	SVEC_ERR_BAD_DIMS,			/* "/dims" not a positive bigint */
	SVEC_ERR_VALUE_RANGE,		/* value overflows or underflows real */
	SVEC_ERR_NAN,				/* NaN value */
	SVEC_ERR_INF,				/* infinite value */
	SVEC_ERR_DUPLICATE,			/* the same index twice */
	SVEC_ERR_TOO_MANY			/* more than SVEC_MAX_NNZ entries */
} SVecStatus;

typedef struct SVecParseResult
{
	SVecStatus	status;
	size_t		pos;			/* byte offset of the problem in the input */
	size_t		toklen;			/* length of the offending token, 0 if none */
	const char *expected;		/* for SVEC_ERR_SYNTAX: what was expected */
	int64_t		index;			/* offending index (duplicate / dims range) */
	int64_t		dims;			/* value of "/dims", or -1 when absent */
	int			nnz;			/* entries written (after normalisation) */
} SVecParseResult;

/* Upper bound on the number of entries svec_parse_text can produce for str. */
extern size_t svec_text_max_entries(const char *str);

/* Parse text "{i:v,...}" or "{i:v,...}/dims" into entries (capacity from svec_text_max_entries). */
extern SVecStatus svec_parse_text(const char *str, SVecEntry *entries, size_t capacity,
								  SVecParseResult *res);

/* Decode the binary wire format; entries must hold (len - 4) / 12 entries. */
extern SVecStatus svec_decode_binary(const unsigned char *buf, size_t len,
									 SVecEntry *entries, size_t capacity,
									 SVecParseResult *res);

/* Sort by index, reject duplicates, drop zeros; returns the new count via res->nnz. */
extern SVecStatus svec_normalize_entries(SVecEntry *entries, int n, SVecParseResult *res);

/* Encode entries (already normalised) into the wire format; buf holds 4 + 12 * n bytes. */
extern void svec_encode_binary(const int64_t *indices, const float *values, int n,
							   unsigned char *buf);

#endif
