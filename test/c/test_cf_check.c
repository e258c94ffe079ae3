/*
 * test_cf_check.c — TAP tests of the validators of the aggregate's result
 * and serialized state (src/cf_check.c) on crafted values: valid ones pass,
 * and each malformed one is refused.  Several of the states passed the
 * released deserializer's checks and then crashed the server: a row count
 * whose size wraps around 2^64 (so the size matched), shard_count 0
 * (division by zero), k 0 and a negative history cap.
 */
#include "cf_check.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A valid state: 2 users, 3 items, 4 rows, summed weights and times */
static CfStateSerial *
NewState(size_t *size)
{
	size_t		sz = sizeof(CfStateSerial) + 5 * 8 + 4 * CF_STATE_ROW_BYTES(0, 1);
	CfStateSerial *h = calloc(1, sz);
	int64_t    *ids = (int64_t *) (h + 1);
	int64_t    *t = ids + 5;
	int32_t    *u = (int32_t *) (t + 4);
	int32_t    *it = u + 4;
	float	   *w = (float *) (it + 4);
	int			r;

	h->version = CF_STATE_VERSION;
	h->params.measure = CF_COSINE;
	h->params.alpha = 0.5;
	h->params.binary = 0;
	h->params.k = 50;
	h->params.min_support = 1;
	h->params.history_cap = 500;
	h->params.shard_count = 1;
	h->has_time = 1;
	h->partials = 1;
	h->n_users = 2;
	h->n_items = 3;
	h->n_rows = 4;
	h->since = INT64_MIN;
	ids[0] = 7;
	ids[1] = 1 << 30;
	ids[2] = -1;
	ids[3] = 5;
	ids[4] = 1000001;
	for (r = 0; r < 4; r++)
	{
		t[r] = 100 * r;
		u[r] = r % 2;
		it[r] = r % 3;
		w[r] = 1.5f;
	}
	*size = sz;
	return h;
}

/* A valid result: 3 items, all emitted, k 2 */
static CfResult *
NewResult(size_t *size)
{
	size_t		sz = CF_RESULT_SIZE(3, 3, 5);
	CfResult   *r = calloc(1, sz);
	static const int32_t counts[3] = {2, 1, 2};
	static const int32_t nbr[5] = {1, 2, 0, 0, 1};
	int			i;

	r->version = CF_RESULT_VERSION;
	r->k = 2;
	r->n_items = 3;
	r->n_out = 3;
	r->users = 4;
	r->partials = 1;
	r->shard_count = 1;
	r->n_entries = 5;
	for (i = 0; i < 3; i++)
	{
		CF_ITEM_IDS(r)[i] = 10 * i - 10;
		CF_BUYERS(r)[i] = i + 1;
		CF_OUT_ITEM(r)[i] = i;
		CF_COUNT(r)[i] = counts[i];
	}
	for (i = 0; i < 5; i++)
	{
		CF_NBR(r)[i] = nbr[i];
		CF_SCORE(r, 5)[i] = 0.5f;
	}
	*size = sz;
	return r;
}

#define STATE_CASE(name, mutate) \
	do { \
		size_t		sz; \
		CfStateSerial *h = NewState(&sz); \
		mutate; \
		ok(cf_state_check(h, sz) != NULL, "state refused: %s", name); \
		free(h); \
	} while (0)

#define RESULT_CASE(name, mutate) \
	do { \
		size_t		sz; \
		CfResult   *r = NewResult(&sz); \
		mutate; \
		ok(cf_result_check(r, sz) != NULL, "result refused: %s", name); \
		free(r); \
	} while (0)

int
main(void)
{
	size_t		sz;
	CfStateSerial *h = NewState(&sz);
	CfResult   *r = NewResult(&sz);

	ok(cf_state_check(h, sizeof(CfStateSerial) + 5 * 8 + 4 * CF_STATE_ROW_BYTES(0, 1)) == NULL,
	   "a valid state passes");
	ok(cf_result_check(r, CF_RESULT_SIZE(3, 3, 5)) == NULL, "a valid result passes");
	free(h);
	free(r);

	/* states that passed the released checks */
	STATE_CASE("n_rows whose size wraps around 2^64 (binary, no times: 8 bytes a row)",
			   { h->params.binary = 1; h->has_time = 0; h->n_rows = (int64_t) (UINT64_C(1) << 61);
			   sz = sizeof(CfStateSerial) + 5 * 8; });
	STATE_CASE("shard_count 0 (division by zero in the final step)", h->params.shard_count = 0);
	STATE_CASE("shard_index >= shard_count", h->params.shard_index = 1);
	STATE_CASE("negative shard_index", h->params.shard_index = -1);
	STATE_CASE("k 0", h->params.k = 0);
	STATE_CASE("k 1001", h->params.k = 1001);
	STATE_CASE("negative history_cap", h->params.history_cap = -1);
	STATE_CASE("min_support 0", h->params.min_support = 0);
	STATE_CASE("measure 7", h->params.measure = (CfMeasure) 7);
	STATE_CASE("alpha NaN", h->params.alpha = NAN);
	STATE_CASE("alpha 2", h->params.alpha = 2);
	STATE_CASE("negative shrinkage", h->params.shrinkage = -1);
	STATE_CASE("binary 2", h->params.binary = 2);
	STATE_CASE("has_time 2", h->has_time = 2);
	STATE_CASE("threads set", h->params.threads = 4);
	STATE_CASE("partials 0", h->partials = 0);
	STATE_CASE("a negative weight", ((float *) ((int32_t *) ((int64_t *) (h + 1) + 9) + 8))[2] = -1.0f);
	STATE_CASE("an infinite weight", ((float *) ((int32_t *) ((int64_t *) (h + 1) + 9) + 8))[0] = INFINITY);
	STATE_CASE("a row older than since", h->since = 150);
	/* states the released checks refused too */
	STATE_CASE("a row with an unknown user", ((int32_t *) ((int64_t *) (h + 1) + 9))[3] = 2);
	STATE_CASE("a row with an unknown item", ((int32_t *) ((int64_t *) (h + 1) + 9) + 4)[3] = -1);
	STATE_CASE("one byte short", sz--);
	STATE_CASE("n_users beyond the size", h->n_users = 3);
	STATE_CASE("n_users 2^30 + 1", h->n_users = (1 << 30) + 1);
	STATE_CASE("negative n_rows", h->n_rows = -1);
	STATE_CASE("version 2", h->version = 2);
	STATE_CASE("shorter than the header", sz = sizeof(CfStateSerial) - 1);

	RESULT_CASE("n_entries whose size wraps around 2^64", { r->n_entries += (int64_t) (UINT64_C(1) << 61); });
	RESULT_CASE("a count above k", CF_COUNT(r)[0] = 3);
	RESULT_CASE("counts that do not add up", CF_COUNT(r)[1] = 0);
	RESULT_CASE("a neighbour outside the dictionary", CF_NBR(r)[4] = 3);
	RESULT_CASE("neighbours not ascending", CF_NBR(r)[1] = 1);
	RESULT_CASE("an output item outside the dictionary", CF_OUT_ITEM(r)[2] = 3);
	RESULT_CASE("output items not ascending", CF_OUT_ITEM(r)[2] = 1);
	RESULT_CASE("ids not ascending", CF_ITEM_IDS(r)[2] = 0);
	RESULT_CASE("a buyer count above the users", CF_BUYERS(r)[1] = 5);
	RESULT_CASE("negative users", r->users = -1);
	RESULT_CASE("a NaN score", CF_SCORE(r, 5)[0] = NAN);
	RESULT_CASE("a zero score", CF_SCORE(r, 5)[3] = 0.0f);
	RESULT_CASE("n_out above n_items", r->n_out = 4);
	RESULT_CASE("k 0", r->k = 0);
	RESULT_CASE("infinite timing", r->read_seconds = INFINITY);
	RESULT_CASE("one byte more", sz++);
	RESULT_CASE("shorter than the header", sz = 8);

	return done_testing();
}
