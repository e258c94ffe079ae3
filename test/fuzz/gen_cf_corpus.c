/*
 * gen_cf_corpus.c — write valid seed values for fuzz_cf into corpus_cf/:
 * results (first byte 0) and serialized states (first byte 1) of several
 * shapes, each checked with the validators first.  Run by gen_corpus.sh.
 */
#include "cf_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	nfile;

static void
Write(int kind, const void *v, size_t size)
{
	char		name[64];
	FILE	   *f;
	unsigned char k = (unsigned char) kind;

	snprintf(name, sizeof(name), "corpus_cf/%s-%03d", kind ? "state" : "result", ++nfile);
	f = fopen(name, "wb");
	if (f == NULL || fwrite(&k, 1, 1, f) != 1 || fwrite(v, 1, size, f) != size || fclose(f) != 0)
	{
		perror(name);
		exit(1);
	}
}

/* A result of n_items items (ids spaced by `step`), every shard item with up to k neighbours */
static void
Result(int32_t n_items, int32_t k, int64_t first, int64_t step, int32_t shards)
{
	int32_t		n_out = 0;
	int64_t		n_entries = 0;
	int32_t		i;
	size_t		size;
	CfResult   *r;
	int64_t		e = 0;

	for (i = 0; i < n_items; i++)
		if (i % shards == 0)
		{
			n_out++;
			n_entries += (n_items - 1 < k ? n_items - 1 : k);
		}
	size = CF_RESULT_SIZE(n_items, n_out, n_entries);
	r = calloc(1, size);
	r->vl_len_ = (int32_t) (size << 2);
	r->version = CF_RESULT_VERSION;
	r->k = k;
	r->n_items = n_items;
	r->n_out = n_out;
	r->users = 7;
	r->partials = 1;
	r->shard_count = shards;
	r->threads = 1;
	r->n_entries = n_entries;
	r->rows = 20;
	r->read_seconds = 0.5;
	r->compute_seconds = 0.25;
	for (i = 0; i < n_items; i++)
	{
		CF_ITEM_IDS(r)[i] = first + step * i;
		CF_BUYERS(r)[i] = i % 8;
	}
	n_out = 0;
	for (i = 0; i < n_items; i++)
		if (i % shards == 0)
		{
			int32_t		c = (n_items - 1 < k ? n_items - 1 : k);
			int32_t		j;
			int32_t		nb = 0;

			CF_OUT_ITEM(r)[n_out] = i;
			CF_COUNT(r)[n_out++] = c;
			for (j = 0; j < c; j++, nb++)
			{
				if (nb == i)
					nb++;
				CF_NBR(r)[e] = nb;
				CF_SCORE(r, n_entries)[e++] = 1.0f / (float) (j + 2);
			}
		}
	if (cf_result_check(r, size) != NULL)
	{
		fprintf(stderr, "gen_cf_corpus: result invalid: %s\n", cf_result_check(r, size));
		exit(1);
	}
	Write(0, r, size);
	free(r);
}

/* A state of n_rows rows over n_users users and n_items items */
static void
State(int32_t n_users, int32_t n_items, int64_t n_rows, int binary, int has_time, int64_t idbase)
{
	size_t		row = CF_STATE_ROW_BYTES(binary, has_time);
	size_t		size = sizeof(CfStateSerial) + ((size_t) n_users + n_items) * 8 + (size_t) n_rows * row;
	CfStateSerial *h = calloc(1, size);
	int64_t    *ids = (int64_t *) (h + 1);
	char	   *p;
	int64_t		r;
	int32_t		i;

	h->vl_len_ = (int32_t) (size << 2);
	h->version = CF_STATE_VERSION;
	h->params.measure = CF_COSINE;
	h->params.alpha = 0.5;
	h->params.binary = binary;
	h->params.k = 50;
	h->params.min_support = 1;
	h->params.history_cap = 500;
	h->params.shard_count = 1;
	h->has_time = has_time;
	h->partials = 1;
	h->n_users = n_users;
	h->n_items = n_items;
	h->n_rows = n_rows;
	h->since = INT64_MIN;
	for (i = 0; i < n_users; i++)
		ids[i] = idbase + 3 * i;
	for (i = 0; i < n_items; i++)
		ids[n_users + i] = -idbase + 5 * i;
	p = (char *) (ids + n_users + n_items);
	if (has_time)
	{
		for (r = 0; r < n_rows; r++)
			((int64_t *) p)[r] = 1000 * r;
		p += n_rows * 8;
	}
	for (r = 0; r < n_rows; r++)
	{
		((int32_t *) p)[r] = (int32_t) (r % n_users);
		((int32_t *) (p + n_rows * 4))[r] = (int32_t) ((r * 7) % n_items);
		if (!binary)
			((float *) (p + n_rows * 8))[r] = 0.5f + (float) (r % 3);
	}
	if (cf_state_check(h, size) != NULL)
	{
		fprintf(stderr, "gen_cf_corpus: state invalid: %s\n", cf_state_check(h, size));
		exit(1);
	}
	Write(1, h, size);
	free(h);
}

int
main(void)
{
	Result(0, 50, 0, 1, 1);
	Result(1, 50, 42, 1, 1);
	Result(5, 2, 1, 1, 1);
	Result(12, 3, -6, 1000003, 1);
	Result(9, 50, INT64_MIN + 1, INT64_MAX / 4, 3);
	Result(30, 4, 1000001, 1, 2);
	State(1, 1, 1, 1, 0, 1);
	State(3, 4, 10, 1, 0, 1000001);
	State(3, 4, 10, 0, 0, 5);
	State(5, 3, 12, 0, 1, -77);
	State(2, 6, 9, 1, 1, 1LL << 40);
	State(0, 0, 0, 1, 0, 0);
	return 0;
}
