-- Every SQL object of the installed itemcf extension as sorted text lines, so that two
-- databases (a fresh install and an updated older one) can be compared with diff.
-- Used by scripts/checks/upgrade.sh.
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'itemcf'),
members AS (
	SELECT d.classid, d.objid FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
lines AS (
	-- functions, procedures and aggregates: full definition, ACL, comment
	SELECT 'function ' || p.oid::regprocedure::text || ' ' ||
	       CASE WHEN p.prokind = 'a' THEN
	            format('aggregate sfunc=%s stype=%s combine=%s serial=%s deserial=%s final=%s modify=%s parallel=%s',
	                   a.aggtransfn, a.aggtranstype::regtype, a.aggcombinefn, a.aggserialfn,
	                   a.aggdeserialfn, a.aggfinalfn, a.aggfinalmodify, p.proparallel)
	            ELSE pg_get_functiondef(p.oid) END ||
	       ' acl=' || coalesce(p.proacl::text, '-') ||
	       ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-') AS line
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
	LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
	UNION ALL
	-- relations: kind, ACL, comment, options
	SELECT format('relation %s kind=%s acl=%s comment=%s persistence=%s options=%s',
	              c.oid::regclass, c.relkind, coalesce(c.relacl::text, '-'),
	              coalesce(obj_description(c.oid, 'pg_class'), '-'), c.relpersistence,
	              coalesce(c.reloptions::text, '-'))
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
	UNION ALL
	-- columns in order (dropped ones skipped), with type, nullability, default, storage, ACL
	SELECT format('column %s %s %s notnull=%s default=%s storage=%s acl=%s comment=%s',
	              c.oid::regclass,
	              row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
	              a.attname || ' ' || format_type(a.atttypid, a.atttypmod), a.attnotnull,
	              coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'), a.attstorage,
	              coalesce(a.attacl::text, '-'), coalesce(col_description(c.oid, a.attnum), '-'))
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
	JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	UNION ALL
	-- constraints and indexes of the extension's tables
	SELECT format('constraint %s %s %s', con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid))
	FROM members m JOIN pg_constraint con ON m.classid = 'pg_class'::regclass AND con.conrelid = m.objid
	UNION ALL
	SELECT format('index %s', pg_get_indexdef(i.indexrelid))
	FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
	UNION ALL
	SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
	WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('trigger %s', pg_get_triggerdef(t.oid))
	FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
	WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('policy %s %s %s %s', p.polrelid::regclass, p.polname, p.polcmd,
	              coalesce(pg_get_expr(p.polqual, p.polrelid), '-'))
	FROM members m JOIN pg_policy p ON m.classid = 'pg_class'::regclass AND p.polrelid = m.objid
	UNION ALL
	SELECT format('type %s %s in=%s out=%s recv=%s send=%s storage=%s align=%s len=%s comment=%s',
	              t.oid::regtype, t.typtype, t.typinput, t.typoutput, t.typreceive, t.typsend,
	              t.typstorage, t.typalign, t.typlen, coalesce(obj_description(t.oid, 'pg_type'), '-'))
	FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
	UNION ALL
	SELECT format('operator %s(%s,%s) code=%s com=%s neg=%s restrict=%s join=%s comment=%s',
	              o.oprname, o.oprleft::regtype, o.oprright::regtype, o.oprcode, o.oprcom::regoperator,
	              o.oprnegate::regoperator, o.oprrest, o.oprjoin,
	              coalesce(obj_description(o.oid, 'pg_operator'), '-'))
	FROM members m JOIN pg_operator o ON m.classid = 'pg_operator'::regclass AND o.oid = m.objid
	UNION ALL
	SELECT format('opclass %s %s for %s default=%s', am.amname, oc.opcname, oc.opcintype::regtype, oc.opcdefault)
	FROM members m JOIN pg_opclass oc ON m.classid = 'pg_opclass'::regclass AND oc.oid = m.objid
	JOIN pg_am am ON am.oid = oc.opcmethod
	UNION ALL
	SELECT format('cast %s -> %s via %s context=%s', ca.castsource::regtype, ca.casttarget::regtype,
	              ca.castfunc::regprocedure, ca.castcontext)
	FROM members m JOIN pg_cast ca ON m.classid = 'pg_cast'::regclass AND ca.oid = m.objid
	UNION ALL
	SELECT format('sequence %s', s.seqrelid::regclass)
	FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
	UNION ALL
	-- tables whose rows pg_dump keeps
	SELECT format('config_dump %s %s', cfg.rel::regclass, coalesce(cond, '-'))
	FROM pg_extension e,
	     unnest(e.extconfig, e.extcondition) AS cfg(rel, cond)
	WHERE e.extname = 'itemcf'
)
SELECT line FROM lines ORDER BY line COLLATE "C";
