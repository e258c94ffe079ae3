/*
 * cf_check.c — validators of the similarity aggregate's result and
 * serialized state (see cf_check.h).  Plain C: the server calls them before
 * reading a value, the fuzz harness calls them on arbitrary bytes.  Counts
 * are bounded by the size before they are multiplied, so no size
 * computation can wrap around.
 */
#include "cf_check.h"

#include <math.h>

const char *
cf_result_check(const void *value, size_t size)
{
	const CfResult *r = (const CfResult *) value;
	size_t		rest;
	int64_t		e = 0;
	int32_t		i;

	if (size < CF_RESULT_HDR || r->version != CF_RESULT_VERSION)
		return "The value is not a result of item_neighbors_agg, or of another version.";
	if (!isfinite(r->read_seconds) || !isfinite(r->compute_seconds))
		return "Its timings are not finite.";
	rest = size - CF_RESULT_HDR;
	if (r->n_items < 0 || r->n_out < 0 || r->n_out > r->n_items || r->n_entries < 0 ||
		r->k < 1 || r->users < 0 ||
		(uint64_t) r->n_items > rest / 12 || (uint64_t) r->n_entries > rest / 8 ||
		size != CF_RESULT_SIZE(r->n_items, r->n_out, r->n_entries))
		return "Its size does not match its header.";
	for (i = 1; i < r->n_items; i++)
		if (CF_ITEM_IDS(r)[i] <= CF_ITEM_IDS(r)[i - 1])
			return "Its item ids are not strictly ascending.";
	for (i = 0; i < r->n_items; i++)
		if (CF_BUYERS(r)[i] < 0 || CF_BUYERS(r)[i] > r->users)
			return "A buyer count is out of range.";
	for (i = 0; i < r->n_out; i++)
	{
		int32_t		c = CF_COUNT(r)[i];

		if ((uint32_t) CF_OUT_ITEM(r)[i] >= (uint32_t) r->n_items || c < 0 || c > r->k)
			return "An item or neighbour count is out of range.";
		if (i > 0 && CF_OUT_ITEM(r)[i] <= CF_OUT_ITEM(r)[i - 1])
			return "Its output items are not in ascending order.";
		e += c;
	}
	if (e != r->n_entries)
		return "Its neighbour counts do not add up.";
	for (i = 0, e = 0; i < r->n_out; i++)
	{
		int64_t		end = e + CF_COUNT(r)[i];

		for (; e < end; e++)
		{
			float		s = CF_SCORE(r, r->n_entries)[e];

			if ((uint32_t) CF_NBR(r)[e] >= (uint32_t) r->n_items || isnan(s) || isinf(s) || s == 0.0f)
				return "A neighbour or score is out of range.";
			if (e + 1 < end && CF_NBR(r)[e + 1] <= CF_NBR(r)[e])
				return "An item's neighbours are not in ascending order.";
		}
	}
	return NULL;
}

/* Are the options ones the options parser can produce (threads: 0 until the final step)? */
static int
ParamsValid(const CfParams *p)
{
	return (p->measure == CF_COSINE || p->measure == CF_JACCARD || p->measure == CF_ASYMMETRIC_COSINE) &&
		p->alpha >= 0.0 && p->alpha <= 1.0 &&
		(p->binary == 0 || p->binary == 1) &&
		p->k >= 1 && p->k <= CF_MAX_K &&
		p->min_support >= 1 &&
		p->shrinkage >= 0.0 && p->shrinkage <= 1e9 &&
		p->history_cap >= 0 &&
		p->threads == 0 &&
		p->shard_count >= 1 && p->shard_count <= CF_MAX_SHARDS &&
		p->shard_index >= 0 && p->shard_index < p->shard_count;
}

const char *
cf_state_check(const void *value, size_t size)
{
	const CfStateSerial *h = (const CfStateSerial *) value;
	const char *p;
	size_t		rest;
	size_t		ids;
	size_t		row;
	int64_t		n;
	int64_t		r;
	const int64_t *time;
	const int32_t *user;
	const int32_t *item;
	const float *weight;

	if (size < sizeof(CfStateSerial) || h->version != CF_STATE_VERSION)
		return "The value is not a state of item_neighbors_agg, or of another version.";
	if ((h->has_time != 0 && h->has_time != 1) || !ParamsValid(&h->params))
		return "Its options are out of range.";
	if (h->partials < 1 || h->rows_null_id < 0 || h->rows_bad_weight < 0 || h->rows_outside_window < 0)
		return "Its counts are out of range.";
	rest = size - sizeof(CfStateSerial);
	row = CF_STATE_ROW_BYTES(h->params.binary, h->has_time);
	if (h->n_users < 0 || h->n_items < 0 || h->n_users > CF_MAX_IDS || h->n_items > CF_MAX_IDS ||
		h->n_rows < 0)
		return "Its size does not match its header.";
	ids = ((size_t) h->n_users + (size_t) h->n_items) * 8;
	if (ids > rest || (uint64_t) h->n_rows > (rest - ids) / row ||
		rest - ids != (size_t) h->n_rows * row)
		return "Its size does not match its header.";

	n = h->n_rows;
	p = (const char *) (h + 1) + ids;
	time = h->has_time ? (const int64_t *) p : NULL;
	p += h->has_time ? (size_t) n * 8 : 0;
	user = (const int32_t *) p;
	item = (const int32_t *) (p + (size_t) n * 4);
	weight = h->params.binary ? NULL : (const float *) (p + (size_t) n * 8);
	for (r = 0; r < n; r++)
	{
		if ((uint32_t) user[r] >= (uint32_t) h->n_users || (uint32_t) item[r] >= (uint32_t) h->n_items)
			return "A row refers to an unknown user or item.";
		if (weight && !(weight[r] > 0.0f && !isinf(weight[r])))
			return "A row has a non-positive or non-finite weight.";
		if (time && time[r] < h->since)
			return "A row is older than the state's \"since\" option.";
	}
	return NULL;
}
