/*-------------------------------------------------------------------------
 *
 * delegation.c
 *	  PostgreSQL 16's CREATEROLE rule on PostgreSQL 15, and database-wide
 *	  settings kept for rds_superuser members.
 *
 * PostgreSQL 15 lets any CREATEROLE role alter, rename, drop, grant and
 * change the settings of every non-superuser role, the master user's peers
 * included. PostgreSQL 16 narrowed that to roles one holds WITH ADMIN
 * OPTION, and gives the creator of a role that option. The guard applies
 * the 16 rule to callers that are neither superusers (the ProcessUtility
 * hook leaves those alone) nor members of rds_superuser (Aurora's
 * administrators, trusted with every non-superuser role):
 *
 * 5. Delegated administration (SQLSTATE 42501):
 *    - ALTER ROLE (attributes, password, VALID UNTIL, CONNECTION LIMIT, ...),
 *      ALTER ROLE ... [IN DATABASE] SET/RESET, RENAME, DROP ROLE, COMMENT ON
 *      ROLE and SECURITY LABEL ON ROLE need ADMIN OPTION on the role, and
 *      never reach a member of rds_superuser or rds_password:
 *        permission denied to alter role "X" (rename, drop, comment on)
 *      A role may still change its own password and its own settings, as
 *      PostgreSQL allows (rule 1 still decides on passwords); a CREATEROLE
 *      role may not change its other attributes (as in 16).
 *    - GRANT / REVOKE role, CREATE ROLE ... IN ROLE / IN GROUP, ALTER GROUP
 *      ... ADD/DROP USER need ADMIN OPTION on the granted role (predefined
 *      roles such as pg_read_all_data included); a role is not its own
 *      admin (as in 16; 15 lets the session user grant itself):
 *        permission denied to grant role "X" / to revoke role "X"
 *    - CREATEDB is given or taken (CREATE ROLE, ALTER ROLE) only by roles
 *      that have it (as in 16; REPLICATION and BYPASSRLS already need a
 *      superuser in 15):
 *        permission denied to create role / to alter role "X"
 *    - CREATE ROLE: the creator is added to the new role's ADMIN list, so
 *      it can manage what it created. PostgreSQL 15 difference: that grant
 *      is a real membership (16 grants it with INHERIT FALSE, SET FALSE), so
 *      the creator also holds the new role's privileges and may SET ROLE to
 *      it. So a role somebody outside rds_superuser holds WITH ADMIN OPTION
 *      is not given rds_superuser, rds_password or rds_replication (nor a
 *      member of one), by anybody, until that admin has it already or the
 *      grant is revoked: the admin would gain it through its membership.
 *      Nor is any role that role is a member of, directly or through other
 *      roles (CREATE ROLE ... IN ROLE ... ROLE included): the admin is a
 *      member all the way up.
 *        permission denied to grant role "X" to role "Y"
 *      Members of rds_superuser get no creator grant: they need none, and
 *      it would make them inherit every role they create.
 *
 * 6. Database-wide settings (ALTER DATABASE ... SET, ALTER ROLE ALL IN
 *    DATABASE ... SET) apply to the sessions of every role, rds_superuser
 *    members included, before their first statement: a database owner
 *    setting search_path to its own schema plants functions and operators
 *    that run with the master's rights. PostgreSQL records no author for a
 *    pg_db_role_setting value and offers no hook between applying it and
 *    the first name lookup, and the settings that steer or hobble a session
 *    are many (search_path, but also standard_conforming_strings, DateStyle,
 *    default_text_search_config, row_security, statement_timeout, ...), so
 *    a list would be a list of holes. Hence: only members of rds_superuser
 *    store database-wide settings; others may RESET (or SET ... TO DEFAULT)
 *    them:
 *      permission denied to set parameter "X" for a database
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_auth_members.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/syscache.h"

#include "guard.h"

/* Members of these are managed only by superusers and rds_superuser. */
static const char *const protected_roles[] = {
	ROLE_SUPERUSER,
	ROLE_PASSWORD,
	NULL
};

/*
 * The role's name in *name; false for roles that do not exist and for
 * superusers, which PostgreSQL itself keeps from non-superusers.
 */
static bool
ordinary_role(Oid roleid, NameData *name)
{
	HeapTuple	tup;
	bool		ok;

	if (!OidIsValid(roleid))
		return false;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
	if (!HeapTupleIsValid(tup))
		return false;
	ok = !((Form_pg_authid) GETSTRUCT(tup))->rolsuper;
	namestrcpy(name, NameStr(((Form_pg_authid) GETSTRUCT(tup))->rolname));
	ReleaseSysCache(tup);
	return ok;
}

/*
 * May the caller (not in rds_superuser) alter / rename / drop / comment on
 * roleid or change its settings? self_ok: the statement is one a role may
 * run on itself.
 */
static void
check_manage(Oid roleid, const char *verb, bool self_ok)
{
	NameData	name;
	Oid			caller = GetUserId();
	const char *const *p;

	if (!ordinary_role(roleid, &name))
		return;
	if (roleid == caller)
	{
		if (self_ok)
			return;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s role \"%s\"", verb, NameStr(name)),
				 errdetail("A role may change its own password and settings; its other attributes only with ADMIN OPTION on it, which no role has on itself.")));
	}
	for (p = protected_roles; *p; p++)
		if (member_of(roleid, *p))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to %s role \"%s\"", verb, NameStr(name)),
					 errdetail("Role \"%s\" is a member of \"%s\"; only superusers and members of rds_superuser may %s it.",
							   NameStr(name), *p, verb)));
	if (!is_admin_of_role(caller, roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s role \"%s\"", verb, NameStr(name)),
				 errdetail("Only roles with ADMIN OPTION on \"%s\" may %s it.",
						   NameStr(name), verb)));
}

/* May the caller (not in rds_superuser) grant or revoke roleid? */
static void
check_admin_option(Oid roleid, bool is_grant)
{
	NameData	name;
	Oid			caller = GetUserId();
	const char *verb = is_grant ? "grant" : "revoke";

	if (!ordinary_role(roleid, &name))
		return;
	if (roleid != caller && is_admin_of_role(caller, roleid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s role \"%s\"", verb, NameStr(name)),
			 errdetail("Only roles with ADMIN OPTION on \"%s\" may %s it.",
					   NameStr(name), verb)));
}

/*
 * A role that would gain power through an ADMIN OPTION membership (a
 * PostgreSQL 15 membership) in grantee or in any role that is, directly or
 * not, a member of grantee, and is not in power or rds_superuser already;
 * InvalidOid if none. *held: the role it holds WITH ADMIN OPTION.
 */
static Oid
admin_gainer(Oid grantee, const char *power, Oid *held)
{
	List	   *queue = list_make1_oid(grantee);
	Oid			gainer = InvalidOid;

	for (int i = 0; i < list_length(queue) && !OidIsValid(gainer); i++)
	{
		Oid			r = list_nth_oid(queue, i);
		CatCList   *members = SearchSysCacheList1(AUTHMEMROLEMEM, ObjectIdGetDatum(r));

		for (int j = 0; j < members->n_members && !OidIsValid(gainer); j++)
		{
			Form_pg_auth_members m = (Form_pg_auth_members) GETSTRUCT(&members->members[j]->tuple);
			NameData	mname;

			if (m->admin_option && ordinary_role(m->member, &mname) &&
				!member_of(m->member, power) && !member_of(m->member, ROLE_SUPERUSER))
			{
				gainer = m->member;
				*held = r;
			}
			else if (!list_member_oid(queue, m->member))
				queue = lappend_oid(queue, m->member);
		}
		ReleaseSysCacheList(members);
	}
	list_free(queue);
	return gainer;
}

/*
 * Granting a role with the reserved powers of source (the granted role, or
 * for CREATE ROLE ... IN ROLE one of the roles the new one joins) to
 * grantee: would a role holding grantee, or a role below it, WITH ADMIN
 * OPTION gain a reserved power it lacks?
 */
static void
check_admins_gain(Oid source, Oid grantee)
{
	NameData	name;
	NameData	gname;
	const char *const *p;

	if (!ordinary_role(source, &name) || !ordinary_role(grantee, &gname))
		return;
	for (p = power_roles; *p; p++)
	{
		Oid			held = InvalidOid;
		Oid			gainer;

		if (!member_of(source, *p))
			continue;
		gainer = admin_gainer(grantee, *p, &held);
		if (OidIsValid(gainer))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to grant role \"%s\" to role \"%s\"",
							NameStr(name), NameStr(gname)),
					 errdetail("Role \"%s\" holds \"%s\" WITH ADMIN OPTION, which in PostgreSQL 15 is a membership: through \"%s\" it would gain \"%s\". Revoke \"%s\" from \"%s\" first.",
							   GetUserNameFromId(gainer, false), GetUserNameFromId(held, false),
							   NameStr(gname), *p,
							   GetUserNameFromId(held, false), GetUserNameFromId(gainer, false))));
	}
}

/* A RoleSpec list or a DefElem's list of RoleSpecs, as found in the tree. */
static List *
role_list(Node *arg)
{
	return (arg != NULL && IsA(arg, List)) ? (List *) arg : NIL;
}

/* CREATEDB, granted or revoked, needs CREATEDB (as in PostgreSQL 16). */
static void
check_createdb(List *options, const char *role, bool creating)
{
	ListCell   *lc;
	HeapTuple	tup;
	bool		has = false;

	foreach(lc, options)
	{
		if (strcmp(lfirst_node(DefElem, lc)->defname, "createdb") == 0)
			break;
	}
	if (lc == NULL)
		return;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		has = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	if (has)
		return;
	if (creating)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create role"),
				 errdetail("Only roles with the CREATEDB attribute may create roles with the CREATEDB attribute.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to alter role \"%s\"", role ? role : "?"),
			 errdetail("Only roles with the CREATEDB attribute may change the CREATEDB attribute.")));
}

/* Does an ALTER ROLE option list only set a password? */
static bool
only_password(List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "password") != 0 &&
			strcmp(d->defname, "encryptedPassword") != 0 &&
			strcmp(d->defname, "unencryptedPassword") != 0)
			return false;
	}
	return true;
}

static void
check_alter(AlterRoleStmt *stmt)
{
	Oid			target = rolespec_oid((Node *) stmt->role);
	List	   *other = NIL;
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		/* ALTER GROUP target ADD|DROP USER ...: GRANT / REVOKE target */
		if (strcmp(d->defname, "rolemembers") == 0)
			check_admin_option(target, stmt->action >= 0);
		else
			other = lappend(other, d);
	}
	if (other == NIL)
		return;

	/*
	 * On itself, a role without CREATEROLE can only change its password
	 * (PostgreSQL refuses the rest); one with CREATEROLE only that too.
	 */
	check_manage(target, "alter",
				 only_password(other) || !has_createrole_privilege(GetUserId()));
	if (OidIsValid(target))
		check_createdb(other, GetUserNameFromId(target, true), false);
}

static void
check_create(CreateRoleStmt *stmt)
{
	ListCell   *lc;

	check_createdb(stmt->options, stmt->role, true);
	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);
		ListCell   *lc2;

		/* IN ROLE / IN GROUP: each listed role is granted to the new one */
		if (strcmp(d->defname, "addroleto") != 0)
			continue;
		foreach(lc2, role_list(d->arg))
			check_admin_option(rolespec_oid((Node *) lfirst(lc2)), true);
	}
}

/*
 * As in PostgreSQL 16, the creator of a role holds it WITH ADMIN OPTION:
 * adds the current user to the statement's ADMIN list (a copy of the tree
 * when the tree is read-only).
 */
static PlannedStmt *
creator_gets_admin(PlannedStmt *pstmt, bool *readOnlyTree)
{
	CreateRoleStmt *stmt = (CreateRoleStmt *) pstmt->utilityStmt;
	Oid			caller = GetUserId();
	DefElem    *admins = NULL;
	RoleSpec   *spec;
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);
		ListCell   *lc2;

		if (strcmp(d->defname, "adminmembers") != 0)
			continue;
		foreach(lc2, role_list(d->arg))
			if (rolespec_oid((Node *) lfirst(lc2)) == caller)
				return pstmt;	/* named already */
	}

	if (*readOnlyTree)
	{
		pstmt = copyObject(pstmt);
		*readOnlyTree = false;
		stmt = (CreateRoleStmt *) pstmt->utilityStmt;
	}
	spec = makeNode(RoleSpec);
	spec->roletype = ROLESPEC_CSTRING;
	spec->rolename = GetUserNameFromId(caller, false);
	spec->location = -1;
	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "adminmembers") == 0)
			admins = d;
	}
	if (admins != NULL)
		admins->arg = (Node *) lappend(role_list(admins->arg), spec);
	else
		stmt->options = lappend(stmt->options,
								makeDefElem("adminmembers", (Node *) list_make1(spec), -1));
	return pstmt;
}

/* ALTER DATABASE ... SET and ALTER ROLE ALL [IN DATABASE] ... SET */
static void
check_db_wide_setting(VariableSetStmt *set)
{
	if (set == NULL || (set->kind != VAR_SET_VALUE && set->kind != VAR_SET_CURRENT))
		return;					/* RESET, RESET ALL, SET ... TO DEFAULT */
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to set parameter \"%s\" for a database", set->name),
			 errdetail("A database-wide setting applies to the sessions of rds_superuser members too: only they may store one.")));
}

/* GRANT role TO, ALTER GROUP role ADD USER: check_admins_gain, for anybody */
static void
check_grants_to_managed(Node *parsetree)
{
	ListCell   *lc;
	ListCell   *lc2;

	if (IsA(parsetree, GrantRoleStmt) && ((GrantRoleStmt *) parsetree)->is_grant)
	{
		GrantRoleStmt *stmt = (GrantRoleStmt *) parsetree;

		foreach(lc, stmt->granted_roles)
		{
			Node	   *n = (Node *) lfirst(lc);

			if (n == NULL || !IsA(n, AccessPriv) || ((AccessPriv *) n)->priv_name == NULL)
				continue;
			foreach(lc2, stmt->grantee_roles)
				check_admins_gain(get_role_oid(((AccessPriv *) n)->priv_name, true),
								  rolespec_oid((Node *) lfirst(lc2)));
		}
	}
	else if (IsA(parsetree, AlterRoleStmt) && ((AlterRoleStmt *) parsetree)->action > 0)
	{
		AlterRoleStmt *stmt = (AlterRoleStmt *) parsetree;

		foreach(lc, stmt->options)
		{
			DefElem    *d = lfirst_node(DefElem, lc);

			if (strcmp(d->defname, "rolemembers") != 0)
				continue;
			foreach(lc2, role_list(d->arg))
				check_admins_gain(rolespec_oid((Node *) stmt->role),
								  rolespec_oid((Node *) lfirst(lc2)));
		}
	}
	else if (IsA(parsetree, CreateRoleStmt))
	{
		/* the new role joins IN ROLE's roles and gets ROLE's and ADMIN's members */
		CreateRoleStmt *stmt = (CreateRoleStmt *) parsetree;
		ListCell   *lc3;

		foreach(lc, stmt->options)
		{
			DefElem    *in = lfirst_node(DefElem, lc);

			if (strcmp(in->defname, "addroleto") != 0)
				continue;
			foreach(lc2, role_list(in->arg))
			{
				Oid			source = rolespec_oid((Node *) lfirst(lc2));
				ListCell   *lc4;

				foreach(lc3, stmt->options)
				{
					DefElem    *d = lfirst_node(DefElem, lc3);

					if (strcmp(d->defname, "rolemembers") != 0 &&
						strcmp(d->defname, "adminmembers") != 0)
						continue;
					foreach(lc4, role_list(d->arg))
						check_admins_gain(source, rolespec_oid((Node *) lfirst(lc4)));
				}
			}
		}
	}
}

/*
 * Applies rules 5 and 6 to a utility statement of a caller that is not a
 * superuser; returns the statement to run (the same, or a copy with the
 * creator added as admin).
 */
PlannedStmt *
check_delegation(PlannedStmt *pstmt, bool *readOnlyTree)
{
	Node	   *parsetree = pstmt->utilityStmt;
	ListCell   *lc;

	check_grants_to_managed(parsetree);
	if (caller_is_admin())
		return pstmt;

	switch (nodeTag(parsetree))
	{
		case T_CreateRoleStmt:
			check_create((CreateRoleStmt *) parsetree);
			return creator_gets_admin(pstmt, readOnlyTree);
		case T_AlterRoleStmt:
			check_alter((AlterRoleStmt *) parsetree);
			break;
		case T_AlterRoleSetStmt:
			{
				AlterRoleSetStmt *stmt = (AlterRoleSetStmt *) parsetree;

				if (stmt->role == NULL)
					check_db_wide_setting(stmt->setstmt);
				else
					check_manage(rolespec_oid((Node *) stmt->role), "alter", true);
				break;
			}
		case T_AlterDatabaseSetStmt:
			check_db_wide_setting(((AlterDatabaseSetStmt *) parsetree)->setstmt);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				/* PostgreSQL refuses renaming oneself */
				if (stmt->renameType == OBJECT_ROLE && stmt->subname != NULL)
					check_manage(get_role_oid(stmt->subname, true), "rename", true);
				break;
			}
		case T_DropRoleStmt:
			/* PostgreSQL refuses dropping oneself */
			foreach(lc, ((DropRoleStmt *) parsetree)->roles)
				check_manage(rolespec_oid((Node *) lfirst(lc)), "drop", true);
			break;
		case T_GrantRoleStmt:
			{
				GrantRoleStmt *stmt = (GrantRoleStmt *) parsetree;

				foreach(lc, stmt->granted_roles)
				{
					Node	   *n = (Node *) lfirst(lc);

					if (n != NULL && IsA(n, AccessPriv) && ((AccessPriv *) n)->priv_name != NULL)
						check_admin_option(get_role_oid(((AccessPriv *) n)->priv_name, true),
										   stmt->is_grant);
				}
				break;
			}
		case T_CommentStmt:
			{
				CommentStmt *stmt = (CommentStmt *) parsetree;

				if (stmt->objtype == OBJECT_ROLE && stmt->object != NULL && IsA(stmt->object, String))
					check_manage(get_role_oid(strVal(stmt->object), true), "comment on", false);
				break;
			}
		case T_SecLabelStmt:
			{
				SecLabelStmt *stmt = (SecLabelStmt *) parsetree;

				if (stmt->objtype == OBJECT_ROLE && stmt->object != NULL && IsA(stmt->object, String))
					check_manage(get_role_oid(strVal(stmt->object), true), "label", false);
				break;
			}
		default:
			break;
	}
	return pstmt;
}
