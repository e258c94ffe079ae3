/*
 * cf_options.h — the options of item_neighbors_agg: one table of their
 * names, types, defaults and ranges (cf_options.c), and the parser that
 * walks it.
 *
 * CfOptionTable is the one place the engine's options are defined; the
 * parser, its error messages and hints, and the defaults all come from it,
 * so code that needs to know the options (a validator, a list for users)
 * walks the same table instead of repeating it.
 */
#ifndef CF_OPTIONS_H
#define CF_OPTIONS_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "cf_kernel.h"

/* Everything the options set: the kernel's parameters and the purchase-time window */
typedef struct CfOptions
{
	CfParams	params;			/* threads stays 0: the final step sets it */
	TimestampTz since;			/* rows older than this are skipped; DT_NOBEGIN: none */
} CfOptions;

/* How an option's JSON value is read and stored */
typedef enum CfOptionType
{
	CF_OPTION_CHOICE,			/* a string among choices, stored as an int */
	CF_OPTION_INT,				/* an integral number in [min, max], stored as an int */
	CF_OPTION_REAL,				/* a number in [min, max], stored as a double */
	CF_OPTION_TIMESTAMP			/* a timestamptz string, stored as a TimestampTz */
} CfOptionType;

/* One value of a CF_OPTION_CHOICE option */
typedef struct CfOptionChoice
{
	const char *name;			/* as written in the options; NULL ends the list */
	int			value;			/* stored into the option's field */
	const char *note;			/* said in parentheses after the name in hints, or NULL */
} CfOptionChoice;

/* One option */
typedef struct CfOption
{
	const char *name;
	CfOptionType type;
	size_t		field;			/* offset of its field in CfOptions */
	double		def;			/* default: INT, REAL the value; CHOICE the index of the choice */
	double		min;			/* INT, REAL: the range */
	double		max;
	const CfOptionChoice *choices;	/* CHOICE: the choices, ending with a NULL name */
} CfOption;

/* The options, in the order hints list them (a TIMESTAMP option's default is DT_NOBEGIN, none) */
extern const CfOption CfOptionTable[];
extern const int CfOptionCount;

/* The option called name, or NULL */
extern const CfOption *CfOptionFind(const char *name);

/* Set every option to its default */
extern void CfOptionsDefaults(CfOptions *o);

/*
 * Parse an options object (NULL: the defaults) into *o, with defaults for
 * absent keys; raises an ERROR for an unknown key, a value of the wrong type
 * or out of range, or options that do not go together
 */
extern void CfOptionsParse(Jsonb *jb, CfOptions *o);

#endif
