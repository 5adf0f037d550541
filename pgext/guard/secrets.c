/*-------------------------------------------------------------------------
 *
 * secrets.c
 *	  Stored secrets stay with superusers.
 *
 * 7. Password verifiers and connection secrets are read by superusers only
 *    (rdsadmin, i.e. Borealis): an md5 verifier is as good as the password
 *    at login, and a SCRAM one opens an offline guessing attack. PostgreSQL
 *    15 lets pg_read_all_data (and pg_write_all_data, through WHERE and
 *    RETURNING) read them, and anybody read them through a view or function
 *    of a role that can. An ExecutorCheckPerms hook, which sees every range
 *    table the executor and COPY check (plain queries, views expanded,
 *    SQL and PL/pgSQL functions, COPY rel TO, COPY (query) TO, cursors,
 *    prepared statements), refuses an entry that reads a secret column, or
 *    the whole row, unless the role it is checked as is a superuser: the
 *    entry's checkAsUser (a view's owner) when set, else the current user.
 *    So the system views that read pg_authid as their owner, the bootstrap
 *    superuser (pg_roles, pg_user through pg_shadow, \du), keep working,
 *    and a view or SECURITY DEFINER function owned by anybody else gains
 *    nothing. The secrets:
 *      pg_authid.rolpassword, and pg_shadow.passwd (the view shows it to
 *        whoever may select from it, pg_read_all_data members included)
 *      pg_user_mapping.umoptions (user mapping passwords; pg_user_mappings
 *        shows them to their owners, as PostgreSQL means to)
 *      pg_subscription.subconninfo
 *      pg_statistic.stavalues1..5 (sampled values of every column, secret
 *        ones included)
 *      every column of a system catalog's TOAST table
 *        permission denied for column "rolpassword" of relation "pg_authid"
 *        permission denied for table pg_toast_1260
 *    (SQLSTATE 42501).
 *    pg_stats is the one system view that hands out secrets as its owner:
 *    once pg_authid is analyzed (autovacuum does it after some fifty role
 *    changes) its histogram holds verifiers, shown to whoever may select
 *    rolpassword, pg_read_all_data members included. A get_relation_info
 *    hook gives every scan of pg_statistic the planner plans, however it is
 *    reached, a security qual that hides the statistics of pg_authid,
 *    pg_user_mapping and pg_subscription, for every caller (a cached plan
 *    may outlive a SET ROLE). It runs for each base relation after views
 *    are expanded and SQL functions inlined (a planner_hook saw the query
 *    before a STABLE SQL function returning SETOF pg_stats was inlined, so
 *    that read the verifiers), and before quals are distributed. The
 *    planner reads statistics through the caches, not through such scans,
 *    so planning is unchanged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_subscription.h"
#include "catalog/pg_user_mapping.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "nodes/makefuncs.h"
#include "optimizer/plancat.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "guard.h"

static ExecutorCheckPerms_hook_type prev_check_perms = NULL;
static get_relation_info_hook_type prev_get_relation_info = NULL;

/* Catalogs whose statistics pg_statistic scans never return. */
static const Oid hidden_stats[] = {
	AuthIdRelationId,
	UserMappingRelationId,
	SubscriptionRelationId,
	InvalidOid
};

#define COL_BIT(attno) ((attno) - FirstLowInvalidHeapAttributeNumber)

/*
 * The secret column of a system relation (pg_class row form) that cols
 * reads, as its attribute number (InvalidAttrNumber when the whole row is
 * read and the relation holds a secret); 0 with *none set when it reads
 * none.
 */
static AttrNumber
secret_read(Oid relid, Form_pg_class rel, Bitmapset *cols, bool *none)
{
	static const AttrNumber statvals[] = {
		Anum_pg_statistic_stavalues1, Anum_pg_statistic_stavalues2,
		Anum_pg_statistic_stavalues3, Anum_pg_statistic_stavalues4,
		Anum_pg_statistic_stavalues5, InvalidAttrNumber
	};
	AttrNumber	single = InvalidAttrNumber;
	const AttrNumber *p;

	*none = false;
	switch (relid)
	{
		case AuthIdRelationId:
			single = Anum_pg_authid_rolpassword;
			break;
		case UserMappingRelationId:
			single = Anum_pg_user_mapping_umoptions;
			break;
		case SubscriptionRelationId:
			single = Anum_pg_subscription_subconninfo;
			break;
		case StatisticRelationId:
			if (bms_is_member(COL_BIT(InvalidAttrNumber), cols))
				return InvalidAttrNumber;
			for (p = statvals; *p != InvalidAttrNumber; p++)
				if (bms_is_member(COL_BIT(*p), cols))
					return *p;
			*none = true;
			return InvalidAttrNumber;
		default:
			if (rel->relnamespace == PG_CATALOG_NAMESPACE &&
				strcmp(NameStr(rel->relname), "pg_shadow") == 0)
				single = get_attnum(relid, "passwd");
			break;
	}
	if (single == InvalidAttrNumber)
		*none = true;
	else if (bms_is_member(COL_BIT(InvalidAttrNumber), cols))
		return InvalidAttrNumber;
	else if (bms_is_member(COL_BIT(single), cols))
		return single;
	else
		*none = true;
	return InvalidAttrNumber;
}

/* Refuses (or reports, quietly) an entry that reads a secret. */
static bool
check_entry(RangeTblEntry *rte, bool ereport_on_violation)
{
	HeapTuple	tup;
	Form_pg_class rel;
	Oid			as;
	AttrNumber	attno;
	bool		none;
	bool		toast;
	char	   *relname;
	char	   *colname;

	/* System relations only, and only entries that read a column. */
	if (rte->rtekind != RTE_RELATION || rte->relid >= FirstNormalObjectId ||
		bms_is_empty(rte->selectedCols))
		return true;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rte->relid));
	if (!HeapTupleIsValid(tup))
		return true;
	rel = (Form_pg_class) GETSTRUCT(tup);
	toast = rel->relnamespace == PG_TOAST_NAMESPACE;
	attno = secret_read(rte->relid, rel, rte->selectedCols, &none);
	relname = pstrdup(NameStr(rel->relname));
	ReleaseSysCache(tup);
	if (none && !toast)
		return true;

	as = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	if (superuser_arg(as))
		return true;
	if (!ereport_on_violation)
		return false;
	if (toast)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", relname),
				 errdetail("The TOAST tables of system catalogs are read by superusers only.")));
	colname = attno == InvalidAttrNumber ? NULL : get_attname(rte->relid, attno, true);
	if (colname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for relation %s", relname),
				 errdetail("Its rows hold stored passwords or connection secrets, which only superusers may read; select the other columns by name.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for column \"%s\" of relation \"%s\"", colname, relname),
			 errdetail("Stored passwords and connection secrets are read by superusers only.")));
	return false;				/* not reached */
}

static bool
guard_check_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	foreach(lc, rangeTable)
		if (!check_entry(lfirst_node(RangeTblEntry, lc), ereport_on_violation))
			return false;
	if (prev_check_perms)
		return prev_check_perms(rangeTable, ereport_on_violation);
	return true;
}

/* starelid <> each of hidden_stats, on range table entry rtindex */
static Node *
hide_stats_qual(Index rtindex)
{
	List	   *args = NIL;
	const Oid  *p;

	for (p = hidden_stats; OidIsValid(*p); p++)
	{
		Var		   *var = makeVar(rtindex, Anum_pg_statistic_starelid, OIDOID, -1, InvalidOid, 0);
		Const	   *c = makeConst(OIDOID, -1, InvalidOid, sizeof(Oid), ObjectIdGetDatum(*p), false, true);

		args = lappend(args, makeFuncExpr(F_OIDNE, BOOLOID, list_make2(var, c),
										  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
	}
	return (Node *) makeBoolExpr(AND_EXPR, args, -1);
}

/*
 * A scan of pg_statistic gets hide_stats_qual as its first security qual:
 * evaluated before any other qual of the scan, even a leaky one.
 */
static void
guard_get_relation_info(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	if (relid == StatisticRelationId && root->simple_rte_array != NULL)
	{
		RangeTblEntry *rte = root->simple_rte_array[rel->relid];

		/* a list of implicitly ANDed quals, as subquery_planner leaves them */
		rte->securityQuals = lcons(make_ands_implicit((Expr *) hide_stats_qual(rel->relid)),
								   rte->securityQuals);
		root->qual_security_level = Max(root->qual_security_level,
										list_length(rte->securityQuals));
	}
	if (prev_get_relation_info)
		prev_get_relation_info(root, relid, inhparent, rel);
}

void
secrets_init(void)
{
	prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = guard_check_perms;
	prev_get_relation_info = get_relation_info_hook;
	get_relation_info_hook = guard_get_relation_info;
}
