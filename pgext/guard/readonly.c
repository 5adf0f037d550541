/*-------------------------------------------------------------------------
 *
 * readonly.c
 *	  borealis.read_only: the switch serve turns on when a cluster reaches
 *	  its storage limit (storage-full), so that it stops growing before it
 *	  fills the volume other clusters share.
 *
 * default_transaction_read_only alone would not do: any session may SET it
 * off or BEGIN READ WRITE. So while the switch is on, the guard makes every
 * transaction of a session whose user is not a superuser read-only itself,
 * by setting PostgreSQL's own XactReadOnly before each statement runs:
 *  - ExecutorStart (every plan: top-level queries, SPI from functions, DO
 *    blocks, triggers, cursors, prepared statements) and
 *  - ProcessUtility (every utility statement, however it arrives).
 * PostgreSQL's read-only checks then refuse, with SQLSTATE 25006, whatever
 * writes: DML and modifying CTEs and row locks (ExecCheckXactReadOnly),
 * DDL, CREATE TABLE AS, COPY FROM (ClassifyUtilityCommandAsReadOnly,
 * DoCopy), nextval()/setval() and large-object writes, whichever statement
 * calls them. Resetting the mode does not help: SET transaction_read_only
 * = off is refused once the transaction took a snapshot, and every later
 * statement sets it again. Unlike a client's read-only transaction, temporary
 * tables are held too (they take the same volume): ExecutorStart refuses
 * every plan that is not a plain SELECT, ProcessUtility every COPY FROM.
 * NOTIFY and pg_notify() are refused too: their queue (pg_notify) grows on
 * the volume while a listener lags. So are pg_logical_emit_message(), which
 * writes WAL in any transaction, and the rewrites (REINDEX, CLUSTER, VACUUM
 * FULL), which write a new copy of what they rebuild first.
 *
 * What frees space stays allowed so the user can recover: DROP (any
 * object), DROP DATABASE and TRUNCATE run with the mode the transaction had
 * before the guard set it; plain VACUUM and ANALYZE are already allowed in
 * read-only transactions. Anything such a statement runs
 * (a TRUNCATE trigger) goes through ExecutorStart and is read-only again.
 *
 * The switch is PGC_SIGHUP: only the server configuration sets it (serve,
 * in the managed configuration file, then a reload); SET, ALTER ROLE/
 * DATABASE SET refuse it and ALTER SYSTEM is the bootstrap superuser's.
 * Sessions of superusers (rdsadmin: serve itself) are left alone.
 *
 * Functions that write whatever the transaction's mode (the large-object
 * ones write pg_largeobject), and those whose own check a fast-path call
 * (the protocol's FunctionCall message, which runs no executor) would get
 * past (nextval, setval), are refused when they are about to run: an object
 * access hook sees every function an expression or a fast-path call runs,
 * builtins included. Creating a large object any other way is refused too.
 * lo_unlink frees space and stays allowed.
 *
 * The refusal's message says why: an emit_log_hook adds that the cluster
 * is storage-full to the 25006 errors the switch caused. A statement that
 * writes while the switch goes on runs until it ends (sessions re-read the
 * configuration between statements), so serve cancels those when it turns
 * the switch on (internal/engine): the client gets PostgreSQL's "canceling
 * statement due to user request" (57014), its next statement the refusal.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_largeobject.h"
#include "catalog/pg_largeobject_metadata.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "guard.h"

static bool read_only = false;

/* Whether the guard, not the client, made the current transaction read-only. */
static bool forced = false;

static ExecutorStart_hook_type prev_executor_start = NULL;
static ProcessUtility_hook_type prev_utility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

/* Does the switch apply to this session now? */
static bool
applies(void)
{
	if (!read_only || IsParallelWorker() || !IsTransactionState())
		return false;
	return !superuser_arg(GetSessionUserId());
}

/* Makes the current transaction read-only, remembering it was the guard. */
static void
force(void)
{
	if (applies() && !XactReadOnly)
	{
		XactReadOnly = true;
		forced = true;
	}
}

static void
readonly_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *pstmt = queryDesc->plannedstmt;

	force();
	/* temporary tables too: any plan that writes */
	if (applies() && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		(pstmt->commandType != CMD_SELECT || pstmt->hasModifyingCTE))
		PreventCommandIfReadOnly(CreateCommandName((Node *) pstmt));
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/* Statements that free space: let through so the user can recover. */
static bool
frees_space(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_DropStmt:
		case T_DropdbStmt:
		case T_TruncateStmt:
			return true;
		default:
			return false;
	}
}

static void
call_next(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
		  ProcessUtilityContext context, ParamListInfo params,
		  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_utility)
		prev_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* has_option says whether a utility statement's option list turns option name on. */
static bool
has_option(List *params, const char *name)
{
	ListCell   *lc;

	foreach(lc, params)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, name) == 0 && defGetBoolean(opt))
			return true;
	}
	return false;
}

/*
 * The rewrites: REINDEX, CLUSTER and VACUUM FULL write a whole new copy of what they
 * rebuild before the old one goes, so at the limit each takes the size of a table or an
 * index more of the volume the others share (and REINDEX CONCURRENTLY, canceled, leaves
 * its copy behind). PostgreSQL allows them in read-only transactions; storage-full
 * does not. Plain VACUUM frees space in place and stays allowed.
 */
static const char *
rewrite(Node *parsetree)
{
	if (IsA(parsetree, ReindexStmt))
		return has_option(((ReindexStmt *) parsetree)->params, "concurrently") ? "REINDEX CONCURRENTLY" : "REINDEX";
	if (IsA(parsetree, ClusterStmt))
		return "CLUSTER";
	if (IsA(parsetree, VacuumStmt) && ((VacuumStmt *) parsetree)->is_vacuumcmd &&
		has_option(((VacuumStmt *) parsetree)->options, "full"))
		return "VACUUM FULL";
	return NULL;
}

static void
readonly_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	/*
	 * Transaction control runs in aborted transactions, where the superuser
	 * lookup cannot; BEGIN READ WRITE is undone by the next statement.
	 */
	if (parsetree == NULL || IsA(parsetree, TransactionStmt) || IsAbortedTransactionBlockState())
	{
		call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	if (frees_space(parsetree))
	{
		bool		unforce = forced && XactReadOnly && applies();

		if (unforce)
			XactReadOnly = false;
		PG_TRY();
		{
			call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		}
		PG_FINALLY();
		{
			if (unforce)
				XactReadOnly = true;
		}
		PG_END_TRY();
		return;
	}
	force();
	if (rewrite(parsetree) != NULL && applies())
		PreventCommandIfReadOnly(rewrite(parsetree));	/* a new copy on the volume */
	if (IsA(parsetree, CopyStmt) && ((CopyStmt *) parsetree)->is_from && applies())
		PreventCommandIfReadOnly("COPY FROM");	/* into a temporary table too */
	if (IsA(parsetree, NotifyStmt) && applies())
		PreventCommandIfReadOnly("NOTIFY"); /* the queue grows under pg_notify */
	call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* Functions that write outside the executor's read-only checks. */
static bool
writes_anyway(Oid fn)
{
	switch (fn)
	{
		case F_LO_CREATE:
		case F_LO_CREAT:
		case F_LO_FROM_BYTEA:
		case F_LO_IMPORT_TEXT:
		case F_LO_IMPORT_TEXT_OID:
		case F_LOWRITE:
		case F_LO_PUT:
		case F_LO_TRUNCATE:
		case F_LO_TRUNCATE64:
		case F_NEXTVAL:
		case F_SETVAL_REGCLASS_INT8:
		case F_SETVAL_REGCLASS_INT8_BOOL:
		case F_PG_NOTIFY:		/* the queue grows under pg_notify */
		case F_PG_LOGICAL_EMIT_MESSAGE_BOOL_TEXT_TEXT:	/* WAL, whatever the mode */
		case F_PG_LOGICAL_EMIT_MESSAGE_BOOL_TEXT_BYTEA:
			return true;
		default:
			return false;
	}
}

/* Functions that write, and new large objects: refused as in a read-only transaction. */
static void
readonly_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (access == OAT_FUNCTION_EXECUTE && writes_anyway(objectId) && applies())
	{
		char	   *name = get_func_name(objectId);

		force();
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot execute %s() in a read-only transaction", name ? name : "function")));
	}
	if (access == OAT_POST_CREATE && (classId == LargeObjectRelationId || classId == LargeObjectMetadataRelationId) && applies())
	{
		force();
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot create a large object in a read-only transaction")));
	}
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
}

static void
readonly_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			forced = false;
			break;
		default:
			break;
	}
}

/* Says why: the read-only error came from the switch, not the client. */
static void
readonly_emit_log_hook(ErrorData *edata)
{
	if (edata->elevel >= ERROR && edata->sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION &&
		read_only && forced && edata->detail == NULL)
	{
		edata->detail = pstrdup("The cluster is storage-full: it reached its storage limit and is read-only.");
		if (edata->hint == NULL)
			edata->hint = pstrdup("Free space (DROP, TRUNCATE, then VACUUM) or raise the cluster's storage limit (ModifyDBCluster AllocatedStorage).");
		if (edata->message != NULL)
		{
			char	   *m = psprintf("%s: the cluster is storage-full", edata->message);

			pfree(edata->message);
			edata->message = m;
		}
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
guard_read_only_init(void)
{
	DefineCustomBoolVariable("borealis.read_only",
							 "Makes the cluster read-only for every user but superusers (storage-full).",
							 NULL,
							 &read_only,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("borealis");

	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = readonly_ExecutorStart;
	prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = readonly_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = readonly_emit_log_hook;
	prev_object_access_hook = object_access_hook;
	object_access_hook = readonly_object_access;
	RegisterXactCallback(readonly_xact_callback, NULL);
}
