/*
 * test_hash.c — TAP tests of itemcf's keyed id hash (src/itemcf_hash.h).
 *
 * The released hash was an unkeyed invertible mix, so 60,000 ids chosen by
 * inverting it all fell into one bucket of the aggregate's id map.  This
 * builds that attack set, checks it really collides under the old mix, and
 * then checks, for several keys, that it spreads like random ids under the
 * keyed hash: the probes of a linear-probing table like simplehash's (no
 * timing) and the fullest bucket stay small.
 */
#include "itemcf_hash.h"
#include "test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t	itemcf_hash_state[4];

#define C1 UINT64_C(0xff51afd7ed558ccd)
#define N_KEYS 60000
#define TABLE_BITS 17			/* simplehash's size for 60,000 members (fill factor 0.9) */

/* The released hash: murmur3's finaliser, first half, unkeyed */
static uint32_t
old_hash(int64_t key)
{
	uint64_t	x = (uint64_t) key;

	x ^= x >> 33;
	x *= C1;
	x ^= x >> 33;
	return (uint32_t) x;
}

/* Inverse of a * x mod 2^64 for odd a (Newton's iteration) */
static uint64_t
mul_inverse(uint64_t a)
{
	uint64_t	x = a;
	int			i;

	for (i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

/* The id whose old-mix state is y (the attacker's inversion) */
static int64_t
old_preimage(uint64_t y)
{
	y ^= y >> 33;
	y *= mul_inverse(C1);
	y ^= y >> 33;
	return (int64_t) y;
}

typedef struct Probe
{
	double		mean_probes;	/* slots visited per insert, on average */
	int64_t		max_probes;
	int			fullest;		/* ids whose home bucket is the same, at most */
} Probe;

/* Insert ids into a linear-probing table of 2^bits slots keyed by hash(id) & mask */
static Probe
probe_table(const int64_t *ids, int n, uint32_t (*hash) (int64_t), int bits)
{
	size_t		size = (size_t) 1 << bits;
	uint32_t	mask = (uint32_t) size - 1;
	char	   *used = calloc(size, 1);
	int		   *home = calloc(size, sizeof(int));
	int64_t		total = 0;
	Probe		p = {0, 0, 0};
	int			i;

	for (i = 0; i < n; i++)
	{
		uint32_t	b = hash(ids[i]) & mask;
		int64_t		probes = 1;

		if (++home[b] > p.fullest)
			p.fullest = home[b];
		while (used[b])
		{
			b = (b + 1) & mask;
			probes++;
		}
		used[b] = 1;
		total += probes;
		if (probes > p.max_probes)
			p.max_probes = probes;
	}
	p.mean_probes = (double) total / n;
	free(used);
	free(home);
	return p;
}

static uint32_t
new_hash(int64_t key)
{
	return itemcf_hash_int64(key);
}

int
main(void)
{
	int64_t    *attack = malloc(N_KEYS * sizeof(int64_t));
	int64_t    *serial = malloc(N_KEYS * sizeof(int64_t));
	static const uint64_t keys[][2] = {
		{0, 0}, {1, 2}, {UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210)},
		{UINT64_MAX, UINT64_MAX}, {UINT64_C(20261203), UINT64_C(42)}
	};
	int			i;
	int			k;
	Probe		p;
	int			same;

	/* the attack: ids whose old mix has its low 32 bits zero */
	for (i = 0; i < N_KEYS; i++)
	{
		attack[i] = old_preimage((uint64_t) (i + 1) << 32);
		serial[i] = 1000001 + i;
	}
	same = 0;
	for (i = 0; i < N_KEYS; i++)
		same += old_hash(attack[i]) == 0;
	ok(same == N_KEYS, "the attack set: all %d ids hash to 0 under the released mix (%d do)", N_KEYS, same);
	p = probe_table(attack, N_KEYS, old_hash, TABLE_BITS);
	ok(p.mean_probes > 1000, "under the released mix they probe %.0f slots per insert", p.mean_probes);

	for (k = 0; k < (int) (sizeof(keys) / sizeof(keys[0])); k++)
	{
		itemcf_hash_set_key(keys[k][0], keys[k][1]);
		p = probe_table(attack, N_KEYS, new_hash, TABLE_BITS);
		ok(p.mean_probes < 3.0 && p.fullest <= 12,
		   "key %d: attack ids probe %.2f slots per insert (max %" PRId64 "), fullest bucket %d",
		   k, p.mean_probes, p.max_probes, p.fullest);
		p = probe_table(serial, N_KEYS, new_hash, TABLE_BITS);
		ok(p.mean_probes < 3.0 && p.fullest <= 12,
		   "key %d: serial ids probe %.2f slots per insert (max %" PRId64 "), fullest bucket %d",
		   k, p.mean_probes, p.max_probes, p.fullest);
	}

	/* the key matters: another key moves nearly every id to another bucket */
	{
		uint32_t   *h = malloc(N_KEYS * sizeof(uint32_t));
		int			moved = 0;
		uint32_t	mask = (1u << TABLE_BITS) - 1;

		itemcf_hash_set_key(1, 2);
		for (i = 0; i < N_KEYS; i++)
			h[i] = itemcf_hash_int64(attack[i]) & mask;
		itemcf_hash_set_key(1, 3);
		for (i = 0; i < N_KEYS; i++)
			moved += (itemcf_hash_int64(attack[i]) & mask) != h[i];
		ok(moved > N_KEYS * 99 / 100, "a key differing in one bit moves %d of %d ids", moved, N_KEYS);
		itemcf_hash_set_key(1, 2);
		same = 0;
		for (i = 0; i < N_KEYS; i++)
			same += (itemcf_hash_int64(attack[i]) & mask) == h[i];
		ok(same == N_KEYS, "the same key gives the same hashes");
		free(h);
	}

	free(attack);
	free(serial);
	return done_testing();
}
