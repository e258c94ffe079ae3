/*
 * cf_check.h — byte layouts of the similarity aggregate's two values, and
 * their validators, in plain C (no PostgreSQL headers).
 *
 * The result (cf_result.h describes it) is an ordinary bytea any user can
 * pass to item_neighbors(), item_buyers() or item_neighbors_stats(); the
 * serialized partial state travels between parallel workers.  Both are
 * checked in full before anything else reads them: every count against the
 * size (without overflow), every index against its array, every option
 * against what the options parser accepts.  Being plain C, the checks are
 * driven directly by a libFuzzer harness (test/fuzz/fuzz_cf.c).
 */
#ifndef CF_CHECK_H
#define CF_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "cf_kernel.h"

#define CF_RESULT_VERSION 1
#define CF_STATE_VERSION 1
#define CF_MAX_K 1000
#define CF_MAX_SHARDS 4096
#define CF_MAX_IDS (INT32_MAX / 2)	/* distinct users or items in one state */

/* The result: this header, then the arrays below (see CF_ITEM_IDS ...) */
typedef struct CfResult
{
	int32_t		vl_len_;		/* varlena header */
	int32_t		version;		/* CF_RESULT_VERSION */
	int32_t		k;				/* neighbours requested per item */
	int32_t		n_items;		/* items in the dictionary (all items seen) */
	int32_t		n_out;			/* items emitted (those of this shard) */
	int32_t		users;			/* distinct users */
	int32_t		partials;		/* non-empty partial states combined */
	int32_t		shard_count;
	int32_t		shard_index;
	int32_t		threads;
	int64_t		n_entries;		/* neighbour entries */
	int64_t		rows;			/* rows aggregated */
	int64_t		rows_null_id;	/* rows skipped: NULL user or item */
	int64_t		rows_bad_weight;	/* rows skipped: NULL, non-positive or non-finite weight */
	int64_t		rows_outside_window;	/* rows skipped: older than the "since" option */
	int64_t		pairs;			/* distinct (user, item) pairs after the history cap */
	int64_t		capped_users;	/* users whose history was cut to the cap */
	int64_t		updates;		/* co-occurrence updates performed */
	int64_t		memory_bytes;	/* accounted peak of the final step (state + build + result) */
	double		read_seconds;	/* first row to final function */
	double		compute_seconds;	/* final function */
	/* int64 item_ids[n_items]; int32 buyers[n_items]; int32 out_item[n_out]; */
	/* int32 count[n_out]; int32 nbr[n_entries]; float4 score[n_entries] */
} CfResult;

/* The header's size, rounded up to 8 (PostgreSQL's MAXALIGN on the supported platforms) */
#define CF_RESULT_HDR	((sizeof(CfResult) + 7) & ~(size_t) 7)
#define CF_ITEM_IDS(r)	((int64_t *) ((char *) (r) + CF_RESULT_HDR))
#define CF_BUYERS(r)	((int32_t *) (CF_ITEM_IDS(r) + (r)->n_items))
#define CF_OUT_ITEM(r)	(CF_BUYERS(r) + (r)->n_items)
#define CF_COUNT(r)		(CF_OUT_ITEM(r) + (r)->n_out)
#define CF_NBR(r)		(CF_COUNT(r) + (r)->n_out)
#define CF_SCORE(r, nentries)	((float *) (CF_NBR(r) + (nentries)))

/* Size of a result with the given counts */
#define CF_RESULT_SIZE(n_items, n_out, n_entries) \
	(CF_RESULT_HDR + (size_t) (n_items) * 12 + (size_t) (n_out) * 8 + (size_t) (n_entries) * 8)

/*
 * The serialized partial state: this header, int64 user ids[n_users], int64
 * item ids[n_items], then per row: int64 times (with has_time), int32 users,
 * int32 items, float4 weights (without binary), each array in full
 */
typedef struct CfStateSerial
{
	int32_t		vl_len_;
	int32_t		version;
	CfParams	params;
	int32_t		has_time;
	int32_t		partials;
	int32_t		n_users;
	int32_t		n_items;
	int64_t		n_rows;
	int64_t		rows_null_id;
	int64_t		rows_bad_weight;
	int64_t		rows_outside_window;
	int64_t		since;
	int64_t		started;
} CfStateSerial;

/* Bytes per row of a serialized state */
#define CF_STATE_ROW_BYTES(binary, has_time) (8 + ((binary) ? 0 : 4) + ((has_time) ? 8 : 0))

/*
 * Check a result of `size` bytes (8-byte aligned, starting with its varlena
 * header): NULL if it is well formed, else what is wrong, as a sentence
 */
extern const char *cf_result_check(const void *value, size_t size);

/*
 * Check a serialized state the same way.  Not checked here: that the ids
 * are distinct (the deserializer finds duplicates as it maps them).
 */
extern const char *cf_state_check(const void *value, size_t size);

#endif
