/*
 * cf_collect.h — the similarity aggregate's state: the purchase rows it has
 * collected, with state-local dense ids (cf_collect.c).
 *
 * The transition, combine, serial and deserial functions (cf_collect.c) own
 * this state; the final function (cf_agg.c) reads it, takes its rows over
 * into the kernel's model and releases them.  Both charge one memory budget,
 * itemcf.build_memory: the state as it grows, the final step from there on.
 */
#ifndef CF_COLLECT_H
#define CF_COLLECT_H

#include "postgres.h"

#include "utils/timestamp.h"

#include "cf_kernel.h"

#define CF_STAGE_ROWS 256

struct idmap_hash;

/*
 * External id -> state-local id.  Ids in [0, ndirect) go through direct[]
 * (-1: not seen), the others through the hash table; the two never overlap.
 */
typedef struct IdMap
{
	struct idmap_hash *hash;
	int32	   *direct;
	int64		ndirect;
	int64	   *ids;			/* local id -> external id */
	int32		n;
	int32		cap;
	const char *what;			/* "users" or "items", for errors */
} IdMap;

/* A chunk of rows with state-local ids */
typedef struct CfChunk
{
	int64		n;
	int64		cap;
	int32	   *user;
	int32	   *item;
	float	   *weight;			/* NULL when binary */
	int64	   *time;			/* NULL without purchase times */
} CfChunk;

/* The aggregate's state */
typedef struct CfAggState
{
	MemoryContext ctx;			/* everything below lives here */
	CfParams	params;			/* parsed options; threads is 0 until the final step */
	bool		has_time;
	int32		partials;		/* non-empty partial states merged into this one */
	int64		rows_null_id;	/* rows skipped, by reason */
	int64		rows_bad_weight;
	int64		rows_outside_window;
	TimestampTz since;			/* "since" option, DT_NOBEGIN if none */
	TimestampTz started;		/* first row (earliest over partial states) */
	IdMap		users;
	IdMap		items;
	CfChunk   **chunks;
	int			nchunks;
	int			cap_chunks;
	int64		n_rows;
	Size		bytes;			/* memory accounted to this state */
	/* rows not yet mapped: mapped in batches, so that the id lookups overlap */
	int			nstage;
	int64		stage_user[CF_STAGE_ROWS];
	int64		stage_item[CF_STAGE_ROWS];
	float		stage_weight[CF_STAGE_ROWS];
	int64		stage_time[CF_STAGE_ROWS];
} CfAggState;

/* Bytes per row in a chunk */
static inline Size
CfStateRowBytes(const CfAggState *st)
{
	return 8 + (st->params.binary ? 0 : 4) + (st->has_time ? 8 : 0);
}

/* Raise the error for a build that would not fit in itemcf.build_memory */
extern void CfMemoryExceeded(Size need, const char *what);

/* Map and append the rows still staged, so that every row is in a chunk */
extern void CfStateFlush(CfAggState *st);

/*
 * Ids by ascending value (sorted) and each local id's position in that order
 * (rank), allocated through alloc
 */
extern void CfStateRankIds(const IdMap *m, int64 *sorted, int32 *rank, CfAllocFn alloc, void *arg);

/* Free the state's rows (they are in the model now), taking their bytes off *used */
extern void CfStateReleaseRows(CfAggState *st, Size *used);

/* The SQL expression of a weight column as the aggregate's weight (NULL column: 1) */
extern char *CfWeightSql(const char *column);

#endif
