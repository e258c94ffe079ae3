/*
 * fuzz_cf.c — libFuzzer harness for the validators of the similarity
 * aggregate's result and serialized partial state (src/cf_check.c), which
 * item_neighbors(), item_buyers(), item_neighbors_stats() and the parallel
 * state deserializer run before reading a value.  Build: see Makefile.
 *
 * The first input byte chooses the decoder (even: result, odd: state); the
 * rest is the value, copied to an 8-byte aligned buffer of exactly its size
 * (so ASan sees any read past the end).  When the validator accepts it, the
 * harness reads it the way the server then does (every item id, buyer
 * count, output item, neighbour and score; every user and item id and every
 * row's arrays, indexing the id arrays by the row's ids) and checks that:
 *   - the value is exactly as long as its header says: one byte less or
 *     more is refused;
 *   - a result's neighbour ids ascend and index the dictionary, counts
 *     are within k and add up, scores are finite and nonzero;
 *   - a state's options are ones the parser can produce.
 * Any violated invariant calls abort(), which libFuzzer reports as a crash.
 */
#include "cf_check.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

/* Read an accepted result as item_neighbors / item_buyers / item_neighbors_stats do */
static void
ReadResult(const CfResult *r)
{
	uint64_t	acc = 0;
	int64_t		e = 0;
	int32_t		i;

	for (i = 0; i < r->n_items; i++)
		acc += (uint64_t) CF_ITEM_IDS(r)[i] + (uint64_t) CF_BUYERS(r)[i];
	for (i = 0; i < r->n_out; i++)
	{
		int32_t		c = CF_COUNT(r)[i];
		int32_t		j;

		CHECK(c >= 0 && c <= r->k);
		acc += (uint64_t) CF_ITEM_IDS(r)[CF_OUT_ITEM(r)[i]];
		for (j = 0; j < c; j++, e++)
		{
			int32_t		nb = CF_NBR(r)[e];
			float		s = CF_SCORE(r, r->n_entries)[e];

			CHECK(nb >= 0 && nb < r->n_items);
			CHECK(j == 0 || nb > CF_NBR(r)[e - 1]);
			CHECK(isfinite(s) && s != 0.0f);
			acc += (uint64_t) CF_ITEM_IDS(r)[nb] + (uint64_t) (s > 0);
		}
	}
	CHECK(e == r->n_entries);
	CHECK(isfinite(r->read_seconds) && isfinite(r->compute_seconds));
	sink += acc;
}

/* Read an accepted state as item_neighbors_deserialfn does */
static void
ReadState(const CfStateSerial *h)
{
	const int64_t *uid = (const int64_t *) (h + 1);
	const int64_t *iid = uid + h->n_users;
	const char *p = (const char *) (iid + h->n_items);
	int64_t		n = h->n_rows;
	const int64_t *time = h->has_time ? (const int64_t *) p : NULL;
	const int32_t *user;
	const int32_t *item;
	const float *weight;
	uint64_t	acc = 0;
	int64_t		r;

	CHECK(h->params.k >= 1 && h->params.k <= CF_MAX_K);
	CHECK(h->params.shard_count >= 1 && h->params.shard_index >= 0 &&
		  h->params.shard_index < h->params.shard_count);
	CHECK(h->params.history_cap >= 0 && h->params.min_support >= 1);
	CHECK(h->params.alpha >= 0.0 && h->params.alpha <= 1.0);
	p += time ? (size_t) n * 8 : 0;
	user = (const int32_t *) p;
	item = (const int32_t *) (p + (size_t) n * 4);
	weight = h->params.binary ? NULL : (const float *) (p + (size_t) n * 8);
	for (r = 0; r < n; r++)
	{
		acc += (uint64_t) uid[user[r]] + (uint64_t) iid[item[r]];
		if (time)
			acc += (uint64_t) time[r];
		if (weight)
		{
			CHECK(weight[r] > 0.0f && isfinite(weight[r]));
			acc += weight[r] > 1.0f;
		}
	}
	sink += acc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			state;
	size_t		n;
	uint64_t   *words;
	unsigned char *buf;
	const char *detail;

	if (size < 1)
		return 0;
	state = data[0] & 1;
	n = size - 1;
	/* exactly n bytes (ASan flags any read past them), 8-byte aligned as palloc's */
	words = malloc(n > 0 ? n : 1);
	buf = (unsigned char *) words;
	memcpy(buf, data + 1, n);

	detail = state ? cf_state_check(buf, n) : cf_result_check(buf, n);
	if (detail == NULL)
	{
		if (state)
			ReadState((const CfStateSerial *) buf);
		else
			ReadResult((const CfResult *) buf);
		/* one byte less, or one more, does not match the header any more */
		if (n > 0)
			CHECK((state ? cf_state_check(buf, n - 1) : cf_result_check(buf, n - 1)) != NULL);
		{
			unsigned char *longer = malloc(n + 8);

			memcpy(longer, buf, n);
			longer[n] = 0;
			CHECK((state ? cf_state_check(longer, n + 1) : cf_result_check(longer, n + 1)) != NULL);
			free(longer);
		}
	}
	else
		CHECK(strlen(detail) > 0 && detail[strlen(detail) - 1] == '.');
	free(words);
	return 0;
}
