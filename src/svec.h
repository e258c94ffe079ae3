/*
 * svec.h — the svec sparse-vector type: on-disk layout and helpers.
 */
#ifndef SVEC_H
#define SVEC_H

#include "postgres.h"
#include "fmgr.h"

#include "pg_compat.h"

#include "svec_parse.h"

/* Format version stored in every value; readers reject versions they do not know */
#define SVEC_VERSION 1

/* flags: indices are stored as int32 (set exactly when every index fits) */
#define SVEC_FLAG_INDEX32 0x01

/*
 * A varlena: header, nnz strictly ascending indices, then nnz float4 values
 * (never zero, NaN or infinite).  Indices are int32 when all of them fit in
 * int32 (then always: the format is canonical, so equal vectors have equal
 * bytes) and int64 otherwise, so typical ids cost 8 bytes per entry, as in
 * pgvector.  The sum of squared values is cached so that cosine against a
 * long vector costs only the intersection.
 */
typedef struct SVec
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		version;		/* SVEC_VERSION */
	uint8		flags;			/* SVEC_FLAG_INDEX32 or 0 */
	int16		unused;			/* reserved, zero */
	int32		nnz;			/* number of stored entries */
	int32		unused2;		/* reserved, zero */
	double		norm2;			/* sum of squared values, in double */
	int64		data[FLEXIBLE_ARRAY_MEMBER];	/* indices, then float4 values */
} SVec;

#define SVEC_IS32(x)		(((x)->flags & SVEC_FLAG_INDEX32) != 0)
#define SVEC_IDX32(x)		((int32 *) (x)->data)
#define SVEC_IDX64(x)		((int64 *) (x)->data)
#define SVEC_INDEX_SIZE(c)	((c) ? sizeof(int32) : sizeof(int64))
#define SVEC_SIZE(n, c)		(offsetof(SVec, data) + (Size) (n) * (SVEC_INDEX_SIZE(c) + sizeof(float)))
#define SVEC_VALUES(x)		((float *) ((char *) (x)->data + (Size) (x)->nnz * SVEC_INDEX_SIZE(SVEC_IS32(x))))

/* Do sorted indices from first to last fit in int32? */
#define SVEC_FITS32(first, last)	((first) >= PG_INT32_MIN && (last) <= PG_INT32_MAX)

/* The i-th index */
static inline int64
SVecIndex(const SVec *v, int i)
{
	return SVEC_IS32(v) ? SVEC_IDX32(v)[i] : SVEC_IDX64(v)[i];
}

/* Set the i-th index (it must fit the vector's format) */
static inline void
SVecSetIndex(SVec *v, int i, int64 index)
{
	if (SVEC_IS32(v))
		SVEC_IDX32(v)[i] = (int32) index;
	else
		SVEC_IDX64(v)[i] = index;
}

extern SVec *DatumGetSVecChecked(Datum d);

#define PG_GETARG_SVEC_P(n)	DatumGetSVecChecked(PG_GETARG_DATUM(n))
#define PG_RETURN_SVEC_P(x)	PG_RETURN_POINTER(x)

/* Allocate a zeroed svec for nnz entries whose sorted indices run from first to last */
extern SVec *SVecInit(int nnz, int64 first, int64 last);

/* The indices as int64, expanded into a new array for compact vectors */
extern int64 *SVecIndices64(const SVec *v);

/* Compute the cached sum of squares once indices and values are filled in */
extern void SVecFinish(SVec *v);

/* Build an svec from normalised entries (ascending, unique, non-zero) */
extern SVec *SVecFromEntries(const SVecEntry *entries, int n);

/* The errors of values svec cannot hold, raised the same way by every function (svec.c) */
extern ITEMCF_NORETURN_BEGIN void SVecTooManyError(const char *detail) ITEMCF_NORETURN_END;
extern ITEMCF_NORETURN_BEGIN void SVecBadValueError(bool nan, const char *detail) ITEMCF_NORETURN_END;

#endif
