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

#include "access/tupdesc.h"

#include "cf_check.h"		/* CfResult, CF_ITEM_IDS ..., CF_RESULT_SIZE, cf_result_check */

/*
 * SQLSTATE of "the result does not fit in one value" (class 54,
 * program_limit_exceeded): itemcf_rebuild() catches exactly this code and
 * builds in more item shards; no error text is matched anywhere.
 */
#define ERRCODE_ITEMCF_RESULT_TOO_LARGE MAKE_SQLSTATE('5', '4', 'I', '0', '1')

StaticAssertDecl(CF_RESULT_HDR == MAXALIGN(sizeof(CfResult)),
				 "a result's arrays start at the MAXALIGNed header size");

/* Detoast a result and check every field and array (it may be forged) */
extern CfResult *CfResultGet(Datum d);

/* The build's counts and timings as JSON text, with `more` inserted before the closing brace */
extern char *CfResultStatsJson(const CfResult *r, const char *more);

/* itemcf.max_result_size in bytes, at most MaxAllocSize: the most one result may hold */
extern Size CfResultLimit(void);

/* Item shards a build of `items` items and about `entries` neighbour entries needs */
extern int32 CfResultShards(int64 items, int64 entries, Size limit);

/* The counts and timings of a build, for the header of its result */
typedef struct CfResultStats
{
	int32		users;
	int32		partials;
	int32		threads;
	int64		rows;
	int64		rows_null_id;
	int64		rows_bad_weight;
	int64		rows_outside_window;
	int64		pairs;
	int64		capped_users;
	int64		updates;
	int64		memory_bytes;
	double		read_seconds;
	double		compute_seconds;
} CfResultStats;

/* Raise the error for an item dictionary that alone does not fit in one result */
extern void CfResultCheckDictionary(int32 n_items);

/* Bytes of a result before compaction: room for k neighbours per output item */
extern Size CfResultAllocSize(int32 n_items, int32 n_out, int k);

/* A new result with the model's dictionary and output items (out_pos[rank] >= 0: its slot) */
extern CfResult *CfResultCreate(const CfModel *m, const int32 *out_pos, int32 n_out);

/* Where cf_compute writes into a new result: counts, and k neighbour and score slots per output item */
extern void CfResultSlots(CfResult *r, int32 **count, int32 **nbr, float **score);

/* Compact a computed result in place and check its size against itemcf.max_result_size */
extern void CfResultCompact(CfResult *r);

/* Fill in the build's counts and timings */
extern void CfResultSetStats(CfResult *r, const CfResultStats *s);

/* The build's counts and timings, and the lists written, as a row of the composite type `tupdesc` (itemcf_build_stats) */
struct HeapTupleData;
extern struct HeapTupleData *CfResultStatsTuple(const CfResult *hdr, double write_seconds,
												 int64 lists, TupleDesc tupdesc);

struct SVec;

/* The neighbours of output slot `slot`, whose entries start at `entry`, as an svec */
extern struct SVec *CfResultNeighbors(const CfResult *r, int32 slot, int64 entry);

#endif
