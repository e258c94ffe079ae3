/*
 * serving.h — what the three parts of serving share.
 *
 * Serving (recommend(), recommend_for_items(), similar_items()) is split by
 * collaborator:
 *  - serving_model.c: the model row in itemcf_models and the settings its
 *    current version was built with, cached per session and model;
 *  - serving_purchases.c: the user's purchases, read from the model's source
 *    as the model's owner (directly through an index, or by a prepared query
 *    run security-restricted);
 *  - serving.c: scoring from the neighbour lists, filling from the popular
 *    items, and the SQL-callable functions.
 */
#ifndef SERVING_H
#define SERVING_H

#include "postgres.h"

#include "executor/spi.h"
#include "storage/itemptr.h"
#include "utils/timestamp.h"

#include "pg_compat.h"

/*
 * What serving reads of a model's source: the settings of its current
 * version (the model row's built_settings, written by the rebuild that made
 * it), so that itemcf_alter_model() takes effect at the next rebuild and
 * never mixes new settings with old neighbour lists.  Kept per session and
 * model, with the prepared purchases query, and read again only when the
 * model row changes (a rebuild or an alter: once per version, not per call).
 */
typedef struct ModelEntry
{
	int32		model_id;		/* hash key */
	int64		version;		/* the model row these come from: version, xmin, tid */
	TransactionId xmin;
	ItemPointerData tid;
	MemoryContext cxt;			/* the strings below; NULL while the entry is empty */
	Oid			source;
	char	   *user_column;
	char	   *item_column;
	char	   *weight_column;	/* NULL if none: every row weighs 1 */
	char	   *time_column;	/* NULL if none */
	Interval   *time_window;	/* NULL if none */
	bool		has_window_end; /* the window ends at window_end (the newest purchase at the build), not now */
	TimestampTz window_end;
	int32		history_cap;
	bool		has_labels;		/* the version has item labels (itemcf_labels) */
	SPIPlanPtr	plan;			/* the purchases query, NULL until it is first needed */
	Oid			plan_nsp;		/* the source's schema and name the plan's text names */
	NameData	plan_relname;
} ModelEntry;

/* What serving needs of a model row */
typedef struct ServeModel
{
	int32		model_id;
	char	   *name;
	Oid			owner;
	int64		version;		/* current version; 0 if never built */
	ModelEntry *e;				/* the settings of that version; NULL if never built */
} ServeModel;

/* A bought (or given) item with its weight */
typedef struct Bought
{
	int64		item;
	double		weight;
	int64		time;			/* latest purchase; DT_NOBEGIN if unknown */
	uint64		key;			/* history-cap key (cf_cap_key) */
} Bought;

/* Read the model row `name` of the extension in schema nsp into m; raise if there is none (serving_model.c) */
extern void ServeGetModel(Oid nsp, const char *name, ServeModel *m);

/* The user's purchases, capped and weighted as the model says (serving_purchases.c) */
extern Bought *ServeReadPurchases(const ServeModel *m, int64 user_id, Interval *half_life,
								  int *n_out, int *n_all);

#endif
