/*
 * cf_result.h — layout of the similarity aggregate's result value.
 *
 * One bytea holds every item's top-k neighbours, compactly: the sorted item
 * dictionary (int64 ids) once, then per output item its dictionary position
 * and neighbour count, then all neighbours as int32 dictionary positions and
 * float4 scores, by ascending id within an item.  8 bytes per neighbour entry plus 20 bytes per
 * item, so one value (at most 1 GB) carries about 130 million entries, e.g.
 * 2.6 million items at k = 50; bigger catalogues are built in item shards.
 */
#ifndef CF_RESULT_H
#define CF_RESULT_H

#include "postgres.h"

#define CF_RESULT_VERSION 1

typedef struct CfResult
{
	int32		vl_len_;		/* varlena header */
	int32		version;		/* CF_RESULT_VERSION */
	int32		k;				/* neighbours requested per item */
	int32		n_items;		/* items in the dictionary (all items seen) */
	int32		n_out;			/* items emitted (those of this shard) */
	int32		users;			/* distinct users */
	int32		partials;		/* non-empty partial states combined */
	int32		shard_count;
	int32		shard_index;
	int32		threads;
	int64		n_entries;		/* neighbour entries */
	int64		rows;			/* rows aggregated */
	int64		rows_null_id;	/* rows skipped: NULL user or item */
	int64		rows_bad_weight;	/* rows skipped: NULL, non-positive or non-finite weight */
	int64		rows_outside_window;	/* rows skipped: older than the "since" option */
	int64		pairs;			/* distinct (user, item) pairs after the history cap */
	int64		capped_users;	/* users whose history was cut to the cap */
	int64		updates;		/* co-occurrence updates performed */
	int64		memory_bytes;	/* accounted peak of the final step (state + build + result) */
	double		read_seconds;	/* first row to final function */
	double		compute_seconds;	/* final function */
	/* int64 item_ids[n_items]; int32 buyers[n_items]; int32 out_item[n_out]; */
	/* int32 count[n_out]; int32 nbr[n_entries]; float4 score[n_entries] */
} CfResult;

#define CF_ITEM_IDS(r)	((int64 *) ((char *) (r) + MAXALIGN(sizeof(CfResult))))
#define CF_BUYERS(r)	((int32 *) (CF_ITEM_IDS(r) + (r)->n_items))
#define CF_OUT_ITEM(r)	(CF_BUYERS(r) + (r)->n_items)
#define CF_COUNT(r)		(CF_OUT_ITEM(r) + (r)->n_out)
#define CF_NBR(r)		(CF_COUNT(r) + (r)->n_out)
#define CF_SCORE(r, nentries)	((float *) (CF_NBR(r) + (nentries)))

/* Size of a result with the given counts */
#define CF_RESULT_SIZE(n_items, n_out, n_entries) \
	(MAXALIGN(sizeof(CfResult)) + (Size) (n_items) * 12 + (Size) (n_out) * 8 + (Size) (n_entries) * 8)

/* Detoast a result and check every field and array (it may be forged) */
extern CfResult *CfResultGet(Datum d);

/* The build's counts and timings as JSON text, with `more` inserted before the closing brace */
extern char *CfResultStatsJson(const CfResult *r, const char *more);

struct SVec;

/* The neighbours of output slot `slot`, whose entries start at `entry`, as an svec */
extern struct SVec *CfResultNeighbors(const CfResult *r, int32 slot, int64 entry);

#endif
