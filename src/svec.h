/*
 * svec.h — the svec sparse-vector type: on-disk layout and helpers.
 */
#ifndef SVEC_H
#define SVEC_H

#include "postgres.h"
#include "fmgr.h"

#include "svec_parse.h"

/* Format version stored in every value; readers reject versions they do not know */
#define SVEC_VERSION 1

/*
 * A varlena: header, nnz strictly ascending int64 indices, then nnz float4
 * values (never zero, NaN or infinite).  The sum of squared values is cached
 * so that cosine against a long vector costs only the intersection.
 */
typedef struct SVec
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		version;		/* SVEC_VERSION */
	uint8		flags;			/* reserved, zero */
	int16		unused;			/* reserved, zero */
	int32		nnz;			/* number of stored entries */
	int32		unused2;		/* reserved, zero */
	double		norm2;			/* sum of squared values, in double */
	int64		indices[FLEXIBLE_ARRAY_MEMBER];
	/* float4 values[nnz] follow the indices */
} SVec;

#define SVEC_SIZE(n)		(offsetof(SVec, indices) + (Size) (n) * (sizeof(int64) + sizeof(float)))
#define SVEC_VALUES(x)		((float *) ((x)->indices + (x)->nnz))

extern SVec *DatumGetSVecChecked(Datum d);

#define PG_GETARG_SVEC_P(n)	DatumGetSVecChecked(PG_GETARG_DATUM(n))
#define PG_RETURN_SVEC_P(x)	PG_RETURN_POINTER(x)

/* Allocate a zeroed svec with room for nnz entries */
extern SVec *InitSVec(int nnz);

/* Compute the cached sum of squares once indices and values are filled in */
extern void FinishSVec(SVec *v);

/* Build an svec from normalised entries (ascending, unique, non-zero) */
extern SVec *SVecFromEntries(const SvecEntry *entries, int n);

#endif
