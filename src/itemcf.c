/*
 * itemcf.c — module entry point and settings.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Register itemcf's settings */
void
_PG_init(void)
{
}
