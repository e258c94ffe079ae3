/*
 * svec_order.c — a total order and a hash for svec, so that svec works in
 * ORDER BY, DISTINCT, GROUP BY, UNION, count(DISTINCT ...), btree and hash
 * indexes and hash partitioning (the btree and hash operator classes in
 * svec.sql).
 *
 * The order is lexicographic over the stored entries in index order: the
 * first position where two vectors differ decides, by the smaller index
 * first, then by the smaller value; a vector that is a proper prefix of the
 * other (fewer entries, the same ones first) sorts first, so '{}' is the
 * smallest svec.  It agrees with = because the format is canonical (entries
 * ascending and non-zero, no NaN, indices stored compactly whenever they fit),
 * so equal vectors have equal bytes, and the hash is a hash of those bytes.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"

#include "svec.h"

/* Compare two svecs: negative, zero or positive, in the order described above */
static int
SVecCompare(const SVec *a, const SVec *b)
{
	const float *av = SVEC_VALUES(a);
	const float *bv = SVEC_VALUES(b);
	int			n = Min(a->nnz, b->nnz);
	int			i;

	for (i = 0; i < n; i++)
	{
		int64		ia = SVecIndex(a, i);
		int64		ib = SVecIndex(b, i);

		if (ia != ib)
			return ia < ib ? -1 : 1;
		if (av[i] != bv[i])
			return av[i] < bv[i] ? -1 : 1;
	}
	return a->nnz == b->nnz ? 0 : (a->nnz < b->nnz ? -1 : 1);
}

/* The bytes the hash covers: flags, entry count, indices and values (not the cached norm) */
static uint64
SVecHash(const SVec *v, uint64 seed)
{
	Size		len = SVEC_SIZE(v->nnz, SVEC_IS32(v)) - offsetof(SVec, data);
	uint64		h = hash_bytes_uint32_extended((uint32) v->nnz ^ ((uint32) v->flags << 24), seed);

	return hash_combine64(h, hash_bytes_extended((const unsigned char *) v->data, (int) len, seed));
}

PG_FUNCTION_INFO_V1(svec_cmp);
/* btree support: -1, 0 or 1 */
Datum
svec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(SVecCompare(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)));
}

PG_FUNCTION_INFO_V1(svec_lt);
/* a < b */
Datum
svec_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SVecCompare(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)) < 0);
}

PG_FUNCTION_INFO_V1(svec_le);
/* a <= b */
Datum
svec_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SVecCompare(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)) <= 0);
}

PG_FUNCTION_INFO_V1(svec_gt);
/* a > b */
Datum
svec_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SVecCompare(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)) > 0);
}

PG_FUNCTION_INFO_V1(svec_ge);
/* a >= b */
Datum
svec_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SVecCompare(PG_GETARG_SVEC_P(0), PG_GETARG_SVEC_P(1)) >= 0);
}

PG_FUNCTION_INFO_V1(svec_hash);
/* hash support: a 32-bit hash, equal for equal vectors */
Datum
svec_hash(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) SVecHash(PG_GETARG_SVEC_P(0), 0));
}

PG_FUNCTION_INFO_V1(svec_hash_extended);
/* hash support: a seeded 64-bit hash (hash partitioning); seed 0 agrees with svec_hash */
Datum
svec_hash_extended(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) SVecHash(PG_GETARG_SVEC_P(0), (uint64) PG_GETARG_INT64(1)));
}
