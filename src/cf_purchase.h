/*
 * cf_purchase.h — which rows of a model's source are purchases: the one rule
 * of the build (the aggregate's transition, cf_collect.c) and of serving
 * (a user's history, serving_purchases.c).  Plain C, no postgres.h.
 *
 * A row is a purchase when its user and item are not NULL, its weight is
 * usable and, with a time window, its time is known and not before the
 * window's start.  A weight is usable when it is a positive, finite real:
 * the weight column's value as a real by cf_weight_sql's rule (an absent
 * weight column weighs 1).  Each user's purchases then collapse into
 * distinct items with their latest time (the kernel's merge, serving's
 * DistinctLatest) and are capped by cf_cap_key / cf_cap_compare
 * (cf_kernel.h).  Both sides use these functions rather than repeating
 * them, so that serving scores exactly what the build counted.
 */
#ifndef CF_PURCHASE_H
#define CF_PURCHASE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* A row's missing time, and a window that has no start: PostgreSQL's DT_NOBEGIN (-infinity) */
#define CF_TIME_NONE INT64_MIN

/* What a source row is, as the build counts it in its stats */
typedef enum CfRowKind
{
	CF_ROW_PURCHASE = 0,
	CF_ROW_NULL_ID,				/* the user or the item is NULL */
	CF_ROW_BAD_WEIGHT,			/* NULL, zero, negative, NaN or infinite weight */
	CF_ROW_OUTSIDE_WINDOW		/* time unknown or before the window's start */
} CfRowKind;

/*
 * Which kind of row this is.  weight_null: the weight (as a real, see
 * cf_weight_sql) is NULL; time: the row's time, CF_TIME_NONE when it is NULL
 * or the model has no time column; since: the window's start, CF_TIME_NONE
 * for no window (then no row is outside it)
 */
static inline CfRowKind
cf_purchase_row(bool id_null, bool weight_null, float weight, int64_t time, int64_t since)
{
	if (id_null)
		return CF_ROW_NULL_ID;
	if (weight_null || !(weight > 0.0f) || isinf(weight))
		return CF_ROW_BAD_WEIGHT;
	if (since != CF_TIME_NONE && (time == CF_TIME_NONE || time < since))
		return CF_ROW_OUTSIDE_WINDOW;
	return CF_ROW_PURCHASE;
}

/*
 * The weight of a double precision weight value as a real, as the SQL of
 * cf_weight_sql computes it: a value real cannot hold (beyond ±3.4028234e38,
 * or nonzero and within ±1e-45) is NULL (*null set), else the nearest real.
 * NaN stays NaN (the SQL keeps it out by its comparisons: NULL too).
 */
static inline float
cf_weight_from_double(double x, bool *null)
{
	*null = !(x >= -3.4028234e38 && x <= 3.4028234e38) || (x > -1e-45 && x < 1e-45 && x != 0);
	return *null ? 0.0f : (float) x;
}

#endif
