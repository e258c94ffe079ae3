/*
 * cf_options.c — the options of item_neighbors_agg (cf_options.h).
 *
 * CfOptionTable below is the engine's one definition of its options: name,
 * type, default, range or choices, and the field of CfOptions each one
 * sets.  CfOptionsParse walks the options object (a jsonb given once per
 * query) and reads each key through the table entry of that name, so adding
 * an option is adding a row; the hints that list the options or a choice's
 * values are generated from the table too.  What the table cannot say, the
 * rules between options (alpha only with asymmetric_cosine, shard_index
 * below shard_count), is checked once every key has been read, because jsonb
 * hands keys over sorted, not in the order they were written.
 *
 * Numbers are checked as numerics before they are converted, so a value far
 * outside double's range is refused, not wrapped; values quoted in messages
 * are bounded in length.
 */
#include "postgres.h"

#include <limits.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "cf_check.h"			/* CF_MAX_K, CF_MAX_SHARDS */
#include "cf_options.h"

StaticAssertDecl(sizeof(CfMeasure) == sizeof(int), "a measure is stored as an int");

/* The values of "measure" */
static const CfOptionChoice measures[] = {
	{"cosine", CF_COSINE, NULL},
	{"jaccard", CF_JACCARD, NULL},
	{"asymmetric_cosine", CF_ASYMMETRIC_COSINE, NULL},
	{"conditional_probability", CF_ASYMMETRIC_COSINE, NULL},	/* with alpha = 1 */
	{NULL, 0, NULL}
};

#define MEASURE_ASYMMETRIC_COSINE (&measures[2])

/* The values of "weights" */
static const CfOptionChoice weightings[] = {
	{"binary", 1, "a repeat purchase counts once"},
	{"sum", 0, NULL},
	{NULL, 0, NULL}
};

/* Positions in CfOptionTable, for the rules between options */
enum
{
	OPT_MEASURE,
	OPT_ALPHA,
	OPT_WEIGHTS,
	OPT_K,
	OPT_MIN_SUPPORT,
	OPT_SHRINKAGE,
	OPT_HISTORY_CAP,
	OPT_SINCE,
	OPT_SHARD_COUNT,
	OPT_SHARD_INDEX,
	OPT_COUNT
};

#define FIELD(f) offsetof(CfOptions, f)

const CfOption CfOptionTable[] = {
	/* name, type, field, default, min, max, choices */
	[OPT_MEASURE] = {"measure", CF_OPTION_CHOICE, FIELD(params.measure), 0, 0, 0, measures},
	[OPT_ALPHA] = {"alpha", CF_OPTION_REAL, FIELD(params.alpha), 0.5, 0.0, 1.0, NULL},
	[OPT_WEIGHTS] = {"weights", CF_OPTION_CHOICE, FIELD(params.binary), 0, 0, 0, weightings},
	[OPT_K] = {"k", CF_OPTION_INT, FIELD(params.k), 50, 1, CF_MAX_K, NULL},
	[OPT_MIN_SUPPORT] = {"min_support", CF_OPTION_INT, FIELD(params.min_support), 1, 1, INT_MAX, NULL},
	[OPT_SHRINKAGE] = {"shrinkage", CF_OPTION_REAL, FIELD(params.shrinkage), 0.0, 0.0, 1e9, NULL},
	[OPT_HISTORY_CAP] = {"history_cap", CF_OPTION_INT, FIELD(params.history_cap), 500, 0, INT_MAX, NULL},
	[OPT_SINCE] = {"since", CF_OPTION_TIMESTAMP, FIELD(since), 0, 0, 0, NULL},
	[OPT_SHARD_COUNT] = {"shard_count", CF_OPTION_INT, FIELD(params.shard_count), 1, 1, CF_MAX_SHARDS, NULL},
	[OPT_SHARD_INDEX] = {"shard_index", CF_OPTION_INT, FIELD(params.shard_index), 0, 0, CF_MAX_SHARDS - 1, NULL},
};

const int	CfOptionCount = lengthof(CfOptionTable);

StaticAssertDecl(lengthof(CfOptionTable) == OPT_COUNT, "every option has its position");

/* Text for a message: s itself, or its first 40 characters and "..." when longer */
static char *
ShortText(const char *s, int len)
{
	if (len <= 40)
		return pnstrdup(s, len);
	return psprintf("%s...", pnstrdup(s, pg_mbcliplen(s, len, 40)));
}

/* A numeric option's value for a message: as given when short, else its first 20 characters and its length */
static char *
ShortNumeric(Numeric num)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	size_t		len = strlen(text);

	return len <= 24 ? text : psprintf("%.20s... (%zu characters)", text, len);
}

/* Is num within [min, max]?  Compared as numerics: num may be far outside double's range */
static bool
NumericInRange(Numeric num, Numeric min, Numeric max)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), NumericGetDatum(min))) >= 0 &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), NumericGetDatum(max))) <= 0;
}

/* Read an integer option, checking its range (the value in the message is bounded) */
static int
IntOption(const char *key, JsonbValue *v, int min, int max)
{
	Numeric		num;
	Datum		trunc;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	num = v->val.numeric;
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		!NumericInRange(num, int64_to_numeric(min), int64_to_numeric(max)) ||
		(trunc = DirectFunctionCall2(numeric_trunc, NumericGetDatum(num), Int32GetDatum(0)),
		 DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(num), trunc)) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be an integer between %d and %d", key, min, max),
				 errdetail("The value given is %s.", ShortNumeric(num))));
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(num)));
}

/* Read a real option, checking its range (the value in the message is bounded) */
static double
RealOption(const char *key, JsonbValue *v, double min, double max)
{
	Numeric		num;
	char	   *text;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	num = v->val.numeric;
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		!NumericInRange(num,
						DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(min))),
						DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(max)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be between %g and %g", key, min, max),
				 errdetail("The value given is %s.", ShortNumeric(num))));
	/* in range, so finite: the nearest double (numeric_float8 would reject 1e-400) */
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	return strtod(text, NULL);
}

/* Read a string option */
static char *
StringOption(const char *key, JsonbValue *v)
{
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Append ", " between items of a list of n and `conj` (" and ", " or ") before the last */
static void
AppendSeparator(StringInfo buf, int i, int n, const char *conj)
{
	if (i > 0)
		appendStringInfoString(buf, i == n - 1 ? conj : ", ");
}

/* Read a choice option: the choice whose name the string is */
static const CfOptionChoice *
ChoiceOption(const CfOption *opt, JsonbValue *v)
{
	char	   *s = StringOption(opt->name, v);
	const CfOptionChoice *c;
	StringInfoData hint;
	int			n = 0;

	for (c = opt->choices; c->name != NULL; c++, n++)
		if (strcmp(s, c->name) == 0)
			return c;

	/* "Use a, b (note) or c." */
	initStringInfo(&hint);
	appendStringInfoString(&hint, "Use ");
	for (c = opt->choices; c->name != NULL; c++)
	{
		AppendSeparator(&hint, (int) (c - opt->choices), n, " or ");
		appendStringInfoString(&hint, c->name);
		if (c->note != NULL)
			appendStringInfo(&hint, " (%s)", c->note);
	}
	appendStringInfoChar(&hint, '.');
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown %s \"%s\"", opt->name, ShortText(s, strlen(s))),
			 errhint("%s", hint.data)));
	return NULL;				/* keep the compiler quiet */
}

/* Read a timestamp option */
static TimestampTz
TimestampOption(const char *key, JsonbValue *v)
{
	char	   *t = StringOption(key, v);

	/* timestamptz_in's errors quote the whole input: keep that short */
	if (strlen(t) > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
				 errmsg("option \"%s\" must be a timestamp", key),
				 errdetail("The value given is \"%s\" (%zu bytes).", ShortText(t, strlen(t)), strlen(t))));
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(t),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
}

/* Raise the error for a key that is not an option, listing the options */
static void
UnknownOption(const char *key)
{
	StringInfoData hint;
	int			i;

	initStringInfo(&hint);
	appendStringInfoString(&hint, "Valid options are ");
	for (i = 0; i < CfOptionCount; i++)
	{
		AppendSeparator(&hint, i, CfOptionCount, " and ");
		appendStringInfoString(&hint, CfOptionTable[i].name);
	}
	appendStringInfoChar(&hint, '.');
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown item_neighbors_agg option \"%s\"", key),
			 errhint("%s", hint.data)));
}

/* The option called name, or NULL */
const CfOption *
CfOptionFind(const char *name)
{
	int			i;

	for (i = 0; i < CfOptionCount; i++)
		if (strcmp(name, CfOptionTable[i].name) == 0)
			return &CfOptionTable[i];
	return NULL;
}

/* Set every option to its default (zeroing the rest, so equal options compare equal bytewise) */
void
CfOptionsDefaults(CfOptions *o)
{
	int			i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < CfOptionCount; i++)
	{
		const CfOption *opt = &CfOptionTable[i];
		char	   *field = (char *) o + opt->field;

		switch (opt->type)
		{
			case CF_OPTION_CHOICE:
				*(int *) field = opt->choices[(int) opt->def].value;
				break;
			case CF_OPTION_INT:
				*(int *) field = (int) opt->def;
				break;
			case CF_OPTION_REAL:
				*(double *) field = opt->def;
				break;
			case CF_OPTION_TIMESTAMP:
				*(TimestampTz *) field = DT_NOBEGIN;
				break;
		}
	}
}

/* Read the value of one option into its field; returns the choice taken (CHOICE), else NULL */
static const CfOptionChoice *
ReadOption(const CfOption *opt, JsonbValue *v, CfOptions *o)
{
	char	   *field = (char *) o + opt->field;
	const CfOptionChoice *choice = NULL;

	switch (opt->type)
	{
		case CF_OPTION_CHOICE:
			choice = ChoiceOption(opt, v);
			*(int *) field = choice->value;
			break;
		case CF_OPTION_INT:
			*(int *) field = IntOption(opt->name, v, (int) opt->min, (int) opt->max);
			break;
		case CF_OPTION_REAL:
			*(double *) field = RealOption(opt->name, v, opt->min, opt->max);
			break;
		case CF_OPTION_TIMESTAMP:
			*(TimestampTz *) field = TimestampOption(opt->name, v);
			break;
	}
	return choice;
}

/* The rules between options, once every key is read (keys come sorted: "alpha" before "measure") */
static void
CheckTogether(CfOptions *o, const bool *given, const CfOptionChoice *measure)
{
	CfParams   *p = &o->params;
	bool		asymmetric = measure == MEASURE_ASYMMETRIC_COSINE;	/* given literally */

	if (p->shard_index >= p->shard_count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard_index must be less than shard_count")));
	if (given[OPT_ALPHA] && !asymmetric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"alpha\" applies only to measure asymmetric_cosine")));
	if (p->measure == CF_ASYMMETRIC_COSINE && !asymmetric)
		p->alpha = 1.0;			/* conditional_probability */
}

/* Parse an options object (NULL: the defaults) into *o, raising an ERROR for anything invalid */
void
CfOptionsParse(Jsonb *jb, CfOptions *o)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	bool		given[OPT_COUNT] = {false};
	const CfOptionChoice *measure = NULL;

	CfOptionsDefaults(o);
	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item_neighbors_agg options must be a JSON object"),
				 errhint("For example '{\"k\": 20, \"measure\": \"jaccard\"}'.")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const CfOption *opt;
		const CfOptionChoice *choice;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (v.val.string.len > 40)
				key = ShortText(v.val.string.val, v.val.string.len);	/* unknown anyway */
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		opt = CfOptionFind(key);
		if (opt == NULL)
			UnknownOption(key);
		choice = ReadOption(opt, &v, o);
		given[opt - CfOptionTable] = true;
		if (opt == &CfOptionTable[OPT_MEASURE])
			measure = choice;
	}
	CheckTogether(o, given, measure);
}

/* The name of an option's default choice, or the default as a jsonb scalar value */
static void
DefaultValue(const CfOption *opt, JsonbValue *v)
{
	switch (opt->type)
	{
		case CF_OPTION_CHOICE:
			v->type = jbvString;
			v->val.string.val = (char *) opt->choices[(int) opt->def].name;
			v->val.string.len = strlen(v->val.string.val);
			break;
		case CF_OPTION_INT:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric((int64) opt->def);
			break;
		case CF_OPTION_REAL:
			v->type = jbvNumeric;
			v->val.numeric = DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(opt->def)));
			break;
		case CF_OPTION_TIMESTAMP:
			v->type = jbvNull;	/* none */
			break;
	}
}

/* Does this option have a default that applies to every build? (not since, none; not alpha, only with its measure) */
static bool
HasCommonDefault(const CfOption *opt)
{
	return opt->type != CF_OPTION_TIMESTAMP && opt != &CfOptionTable[OPT_ALPHA];
}

/*
 * _itemcf_options(options jsonb) returns jsonb: the options checked by the
 * aggregate's own parser (the same errors), completed with the default of
 * every option not given that applies to every build (not since, and alpha
 * only when given).  The SQL of models validates and resets through it, so
 * the option table stays the one definition.
 */
PG_FUNCTION_INFO_V1(itemcf_options);
Datum
itemcf_options(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	CfOptions	o;
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int			i;

	CfOptionsParse(jb, &o);

	/* jsonb sorts the keys of the object it builds: push them in table order */
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < CfOptionCount; i++)
	{
		const CfOption *opt = &CfOptionTable[i];
		JsonbValue	key;
		JsonbValue	val;
		JsonbValue *given;

		key.type = jbvString;
		key.val.string.val = (char *) opt->name;
		key.val.string.len = strlen(opt->name);
		given = getKeyJsonValueFromContainer(&jb->root, key.val.string.val, key.val.string.len, NULL);
		if (given != NULL)
			val = *given;
		else if (HasCommonDefault(opt))
			DefaultValue(opt, &val);
		else
			continue;
		pushJsonbValue(&state, WJB_KEY, &key);
		pushJsonbValue(&state, WJB_VALUE, &val);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/* The name of an option type in item_neighbors_options() */
static const char *
OptionTypeName(CfOptionType type)
{
	switch (type)
	{
		case CF_OPTION_CHOICE:
			return "text";
		case CF_OPTION_INT:
			return "integer";
		case CF_OPTION_REAL:
			return "double precision";
		case CF_OPTION_TIMESTAMP:
			return "timestamptz";
	}
	return NULL;				/* keep the compiler quiet */
}

/*
 * item_neighbors_options(): the option table as rows (name, type, default,
 * min, max, choices), for users and for the tests that check the README
 * and the model functions against it
 */
PG_FUNCTION_INFO_V1(item_neighbors_options);
Datum
item_neighbors_options(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (i = 0; i < CfOptionCount; i++)
	{
		const CfOption *opt = &CfOptionTable[i];
		Datum		values[6];
		bool		nulls[6] = {false};
		JsonbValue	def;

		values[0] = CStringGetTextDatum(opt->name);
		values[1] = CStringGetTextDatum(OptionTypeName(opt->type));
		DefaultValue(opt, &def);
		if (def.type == jbvNull)
			nulls[2] = true;
		else
			values[2] = JsonbPGetDatum(JsonbValueToJsonb(&def));
		if (opt->type == CF_OPTION_INT || opt->type == CF_OPTION_REAL)
		{
			values[3] = Float8GetDatum(opt->min);
			values[4] = Float8GetDatum(opt->max);
		}
		else
			nulls[3] = nulls[4] = true;
		if (opt->type == CF_OPTION_CHOICE)
		{
			int			n = 0;
			Datum	   *names;
			const CfOptionChoice *c;

			for (c = opt->choices; c->name != NULL; c++)
				n++;
			names = palloc(n * sizeof(Datum));
			for (n = 0, c = opt->choices; c->name != NULL; c++)
				names[n++] = CStringGetTextDatum(c->name);
			values[5] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
		}
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
