/*
 * pg_compat.h — the few PostgreSQL APIs that differ between the supported
 * major versions (15, 17, 18), behind one name each, so the rest of the code
 * is written once.  Included through svec.h and serving.h.
 */
#ifndef ITEMCF_PG_COMPAT_H
#define ITEMCF_PG_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM >= 160000
/* 16 moved the varlena macros (VARSIZE, SET_VARSIZE, ...) out of postgres.h */
#include "varatt.h"
#include "catalog/pg_namespace.h"
#include "utils/acl.h"
/* 16 replaced pg_namespace_aclcheck() by object_aclcheck() */
#define itemcf_namespace_aclcheck(nsp, role, mode) \
	object_aclcheck(NamespaceRelationId, (nsp), (role), (mode))
/* 16 added the onlySummarizing argument (false: every index) */
#define itemcf_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#include "utils/acl.h"
#define itemcf_namespace_aclcheck(nsp, role, mode) \
	pg_namespace_aclcheck((nsp), (role), (mode))
#define itemcf_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

#if PG_VERSION_NUM >= 180000
/* 18 added the instrumentation argument (NULL: none) */
#define itemcf_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define itemcf_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/*
 * 18 replaced the trailing pg_attribute_noreturn() by a leading pg_noreturn;
 * declare with ITEMCF_NORETURN_BEGIN void f(...) ITEMCF_NORETURN_END;
 */
#if PG_VERSION_NUM >= 180000
#define ITEMCF_NORETURN_BEGIN pg_noreturn
#define ITEMCF_NORETURN_END
#else
#define ITEMCF_NORETURN_BEGIN
#define ITEMCF_NORETURN_END pg_attribute_noreturn()
#endif

#endif							/* ITEMCF_PG_COMPAT_H */
