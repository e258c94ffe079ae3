/*
 * itemcf_hash.h — the keyed hash of 64-bit ids for itemcf's hash tables (the
 * aggregate's id maps in cf_collect.c, serving's candidate map in serving.c).
 *
 * Ids come from users (any bigint), so an unkeyed invertible mix lets anyone
 * pick ids that all land in one bucket and make every insert probe the whole
 * table (60,000 such user ids made a build 212 times slower).  This is
 * SipHash-1-3 of the id under a 128-bit key drawn per process from
 * pg_strong_random() when the library loads (itemcf.c): without the key,
 * colliding ids cannot be chosen.  Only the tables' layout depends on the
 * key, never a result.  Plain C (stdint), so the C tests can use it.
 */
#ifndef ITEMCF_HASH_H
#define ITEMCF_HASH_H

#include <stdint.h>

/* SipHash's state after keying: v0..v3 of the 128-bit key (itemcf_hash_set_key) */
extern uint64_t itemcf_hash_state[4];

#define ITEMCF_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define ITEMCF_SIPROUND(v0, v1, v2, v3) \
	do { \
		v0 += v1; v1 = ITEMCF_ROTL(v1, 13); v1 ^= v0; v0 = ITEMCF_ROTL(v0, 32); \
		v2 += v3; v3 = ITEMCF_ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ITEMCF_ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ITEMCF_ROTL(v1, 17); v1 ^= v2; v2 = ITEMCF_ROTL(v2, 32); \
	} while (0)

/* Key the hash with k0, k1 (the 128-bit key) */
static inline void
itemcf_hash_set_key(uint64_t k0, uint64_t k1)
{
	itemcf_hash_state[0] = k0 ^ UINT64_C(0x736f6d6570736575);
	itemcf_hash_state[1] = k1 ^ UINT64_C(0x646f72616e646f6d);
	itemcf_hash_state[2] = k0 ^ UINT64_C(0x6c7967656e657261);
	itemcf_hash_state[3] = k1 ^ UINT64_C(0x7465646279746573);
}

/* SipHash-1-3 of the 8-byte id under the process's key, low 32 bits */
static inline uint32_t
itemcf_hash_int64(int64_t key)
{
	uint64_t	m = (uint64_t) key;
	uint64_t	b = UINT64_C(8) << 56;	/* the final block: message length 8 */
	uint64_t	v0 = itemcf_hash_state[0];
	uint64_t	v1 = itemcf_hash_state[1];
	uint64_t	v2 = itemcf_hash_state[2];
	uint64_t	v3 = itemcf_hash_state[3];

	v3 ^= m;
	ITEMCF_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= b;
	ITEMCF_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	ITEMCF_SIPROUND(v0, v1, v2, v3);
	ITEMCF_SIPROUND(v0, v1, v2, v3);
	ITEMCF_SIPROUND(v0, v1, v2, v3);
	return (uint32_t) (v0 ^ v1 ^ v2 ^ v3);
}

#endif
