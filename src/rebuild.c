/*
 * rebuild.c — C support for itemcf_rebuild(): run a model's aggregate query
 * as the model's owner.
 *
 * The query runs through SPI_execute with no row limit, so the planner may
 * give it parallel workers (PL/pgSQL's SELECT INTO would not).  The role is
 * switched with SetUserIdAndSecContext for the query only, so the owner's
 * privileges and row-level security policies apply to the source, whoever
 * calls itemcf_rebuild().
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(itemcf_read_as);
/* Run a query returning one bytea as role `owner`, with parallel plans allowed */
Datum
itemcf_read_as(PG_FUNCTION_ARGS)
{
	Oid			owner = PG_GETARG_OID(0);
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			save_user;
	int			save_sec;
	volatile int ret = 0;
	bool		isnull = true;
	Datum		result = (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		ret = SPI_execute(sql, true, 0);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();

	if (ret != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BYTEAOID)
		elog(ERROR, "itemcf_read_as: the query must return one bytea row");

	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
