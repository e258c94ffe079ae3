-- itemcf install script, part 4: serving.
--
-- NULL user, items, k, model or flag give no rows; NULL exclude / allow mean
-- no such filter.  Executing these is the only privilege needed: they read the
-- extension's tables directly and the model's source as the model's owner, so
-- a role granted EXECUTE can be served without any access to the purchases.
-- Note that `reason` reveals a user's purchases to whoever may call recommend()
-- for that user.

CREATE FUNCTION @extschema@.recommend(
	user_id bigint, k integer DEFAULT 10, model text DEFAULT 'default',
	exclude bigint[] DEFAULT NULL, allow bigint[] DEFAULT NULL,
	keep_bought boolean DEFAULT false, recency_half_life interval DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, reason text, because_item bigint)
AS 'MODULE_PATHNAME', 'itemcf_recommend' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.recommend(bigint, integer, text, bigint[], bigint[], boolean, interval) IS
	'top k items for a user from the items they bought (live from the model''s source, read with the settings of its last rebuild), filled with popular items; with recency_half_life each purchase weighs 0.5^(age / half-life), its age measured from the user''s most recent purchase';

CREATE FUNCTION @extschema@.recommend_for_items(
	item_ids bigint[], k integer DEFAULT 10, model text DEFAULT 'default',
	exclude bigint[] DEFAULT NULL, allow bigint[] DEFAULT NULL, keep_given boolean DEFAULT false)
RETURNS TABLE (item_id bigint, score real, reason text, because_item bigint)
AS 'MODULE_PATHNAME', 'itemcf_recommend_for_items' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.recommend_for_items(bigint[], integer, text, bigint[], bigint[], boolean) IS
	'top k items for a cart or browsing session (no user needed), filled with popular items';

CREATE FUNCTION @extschema@.similar_items(
	item bigint, k integer DEFAULT 10, model text DEFAULT 'default',
	exclude bigint[] DEFAULT NULL, allow bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'itemcf_similar_items' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION @extschema@.similar_items(bigint, integer, text, bigint[], bigint[]) IS
	'customers who bought this also bought: the item''s stored neighbours, best first; no rows for an unknown item';

REVOKE ALL ON FUNCTION @extschema@.recommend(bigint, integer, text, bigint[], bigint[], boolean, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.recommend_for_items(bigint[], integer, text, bigint[], bigint[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.similar_items(bigint, integer, text, bigint[], bigint[]) FROM PUBLIC;
