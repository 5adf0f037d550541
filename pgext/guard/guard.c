/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  Borealis' preloaded library: the Aurora PostgreSQL security rules that
 *	  PostgreSQL 15 cannot express with roles alone.
 *
 * Loaded only through shared_preload_libraries (by absolute path). It
 * defines the rds.* parameters and installs a ProcessUtility hook; rules 5
 * and 6 (PostgreSQL 16's CREATEROLE rule, database-wide settings) live in
 * delegation.c, rule 7 (stored secrets) in secrets.c, with its own hooks.
 * Every rule below applies to callers that are not superusers, judged by the
 * current user id (GetUserId()): inside a SECURITY DEFINER function that is
 * the function's owner, so a function owned by a superuser may do what its
 * owner may, and one owned by anybody else gains nothing. Superusers (the
 * bootstrap superuser rdsadmin, used only by Borealis) are never restricted.
 *
 * The hook sees every utility statement however it arrives: simple or
 * extended protocol, multi-statement strings, DO blocks, PL/pgSQL EXECUTE,
 * SQL functions, SECURITY DEFINER functions.
 *
 * Rules (SQLSTATE 42501 unless noted):
 *
 * 1. rds.restrict_password_commands = on: a role that is not a member of
 *    rds_password (is_member_of_role: directly or indirectly, whatever its
 *    INHERIT attribute, since a NOINHERIT member may SET ROLE anyway) may not
 *    run CREATE ROLE/USER ... PASSWORD (any form, PASSWORD NULL included)
 *    or VALID UNTIL, ALTER ROLE/USER ... PASSWORD (PASSWORD NULL included)
 *    or VALID UNTIL, nor ALTER ROLE ... RENAME TO on a role holding an MD5
 *    password (renaming clears it).
 *      "must be a member of rds_password to alter passwords"
 *
 * 2. Reserved roles: names starting with "rds_" (any case) and rdsadmin,
 *    rdsrepladmin, rdstopmgr. Roles that are superusers (rdsadmin) are left
 *    to PostgreSQL, which already refuses non-superusers with its own texts.
 *    For the others:
 *    - CREATE ROLE with a reserved name, or RENAME TO one:
 *        role name "X" is reserved
 *    - ALTER ROLE (attributes, password, VALID UNTIL, CURRENT_USER forms),
 *      ALTER ROLE ... [IN DATABASE] SET/RESET, DROP OWNED BY, REASSIGN
 *      OWNED BY: permission denied to alter reserved role "X"
 *    - RENAME: permission denied to rename reserved role "X"
 *    - DROP ROLE: cannot drop reserved role "X"
 *    - GRANT/REVOKE of a reserved role (GRANT, CREATE ROLE ... IN ROLE,
 *      ALTER GROUP ... ADD/DROP USER): only members of rds_superuser and
 *      roles holding the role WITH ADMIN OPTION; of rdsrepladmin and
 *      rdstopmgr, which only Borealis uses, superusers alone:
 *        permission denied to grant reserved role "X"
 *        permission denied to revoke reserved role "X"
 *    - a reserved role may not gain or lose a membership (GRANT ... TO,
 *      REVOKE ... FROM, CREATE ROLE ... ROLE/ADMIN, ALTER GROUP), so
 *      rds_superuser's membership in rds_password cannot be revoked:
 *        permission denied to grant role "Y" to reserved role "X"
 *        permission denied to revoke role "Y" from reserved role "X"
 *
 *    Because PostgreSQL 15 lets any CREATEROLE role grant and alter every
 *    non-superuser role, the reserved roles' powers could otherwise be
 *    reached sideways. So, also:
 *    - granting a role that is a member of rds_superuser, rds_password or
 *      rds_replication takes the same right as granting the reserved role:
 *        permission denied to grant role "X"  (DETAIL names the reason)
 *    - a member of rds_superuser (the master user, say) may be altered,
 *      renamed, dropped or given settings only by superusers and members of
 *      rds_superuser:
 *        permission denied to alter role "X" / to rename role / to drop role
 *    - predefined roles (pg_*) may not be altered, renamed or given
 *      settings: permission denied to alter predefined role "X"
 *    - roles that are (members of) pg_execute_server_program,
 *      pg_read_server_files or pg_write_server_files may be granted only by
 *      holders of ADMIN OPTION, and altered (other than by themselves) only
 *      by superusers: they give a shell and the data files, i.e. superuser.
 *
 * 3. Becoming rdsadmin: SET ROLE, SET SESSION AUTHORIZATION, set_config()
 *    and per-role settings are already refused by PostgreSQL (membership of
 *    a superuser cannot be granted by a non-superuser). The guard refuses
 *    storing role / session_authorization settings (TO a value or FROM
 *    CURRENT) that name a reserved role or a superuser:
 *      permission denied to set parameter "role" to reserved role "X"
 *    and refuses them altogether in ALTER DATABASE ... SET and ALTER ROLE
 *    ALL [IN DATABASE] ... SET, which apply to every session, Borealis' own
 *    administrative ones included:
 *      permission denied to set parameter "role" for a database
 *    Setting names are matched as PostgreSQL matches them, in any letter
 *    case (SET "ROLE" is SET role): settings.c. Settings that load
 *    libraries (local_preload_libraries, ...) are refused there too, in
 *    every form, through their check hooks.
 *
 * 4. Extensions: a member of rds_superuser may CREATE EXTENSION an
 *    extension named in rds.allowed_extensions ("*" = all; by default the
 *    parameter catalogue's reviewed list) whose control
 *    file exists, even an untrusted one, and ALTER EXTENSION ... UPDATE one
 *    it owns. The statement then runs as the bootstrap superuser in a
 *    security-restricted operation; afterwards, as PostgreSQL does for
 *    trusted extensions, the extension (pg_extension.extowner) belongs to
 *    the caller while its member objects stay owned by the bootstrap
 *    superuser (so functions the script kept from PUBLIC stay kept). The
 *    caller needs CREATE on the database (as for trusted extensions) and on
 *    the target schema, checked before the script runs, and nothing goes
 *    to pg_catalog unless the control file fixes that schema; an update is
 *    refused while a member is not a superuser's (extensions.c, which holds
 *    trusted extensions to the same). CASCADE is elevated only when the list is
 *    "*"; what it installs is handed to the caller too. DROP EXTENSION
 *    needs no help: the caller owns what it created.
 *    Everything else is left to PostgreSQL (trusted extensions keep working;
 *    untrusted ones fail with PostgreSQL's own error).
 *
 * 5. No password reaches the server log: logfilter.c.
 *
 * 6. PostgreSQL 16's CREATEROLE rule for roles outside rds_superuser, and
 *    no database-wide settings stored by them: delegation.c.
 *
 * 7. Stored secrets (password verifiers, user-mapping options, subscription
 *    connection strings) are read by superusers only: secrets.c.
 *
 * 8. borealis.read_only (storage-full): no writes but those that free
 *    space: readonly.c.
 *
 * Role specifications CURRENT_USER, CURRENT_ROLE, SESSION_USER, PUBLIC and
 * names that do not exist are resolved without raising errors: whatever the
 * guard does not recognise is left to PostgreSQL and its usual errors.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_namespace.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "guard.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* GUCs */
static bool restrict_password_commands = false;
static bool force_ssl = false;
static char *allowed_extensions = NULL;
static char *accepted_password_auth_method = NULL;

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* Roles whose membership gives a shell or the data files: superuser. */
static const char *const server_access_roles[] = {
	"pg_execute_server_program",
	"pg_read_server_files",
	"pg_write_server_files",
	NULL
};

/* Reserved roles whose membership gives powers beyond PostgreSQL's. */
const char *const power_roles[] = {
	ROLE_SUPERUSER,
	ROLE_PASSWORD,
	ROLE_REPLICATION,
	NULL
};

/* ----------------------------------------------------------------
 * Names and roles
 * ----------------------------------------------------------------
 */

static bool
reserved_name(const char *name)
{
	if (name == NULL)
		return false;
	return pg_strncasecmp(name, "rds_", 4) == 0 ||
		pg_strcasecmp(name, "rdsadmin") == 0 ||
		pg_strcasecmp(name, "rdsrepladmin") == 0 ||
		pg_strcasecmp(name, "rdstopmgr") == 0;
}

/*
 * Reserved roles only Borealis uses (rdsrepladmin streams WAL to readers): no
 * one but a superuser grants or revokes them, rds_superuser included, since a
 * member could SET ROLE to one and act with its REPLICATION attribute.
 */
static bool
borealis_only_name(const char *name)
{
	return name != NULL &&
		(pg_strcasecmp(name, "rdsrepladmin") == 0 ||
		 pg_strcasecmp(name, "rdstopmgr") == 0);
}

static bool
predefined_name(const char *name)
{
	return name != NULL && strncmp(name, "pg_", 3) == 0;
}

/* What the guard needs to know of one existing role. */
typedef struct RoleInfo
{
	Oid			oid;
	bool		super;
	bool		md5;			/* holds an MD5 password */
	NameData	name;
} RoleInfo;

/* Looks roleid up; false when it does not exist (or is invalid). */
static bool
role_info(Oid roleid, RoleInfo *ri)
{
	HeapTuple	tup;
	Form_pg_authid form;
	Datum		pw;
	bool		isnull;

	if (!OidIsValid(roleid))
		return false;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
	if (!HeapTupleIsValid(tup))
		return false;
	form = (Form_pg_authid) GETSTRUCT(tup);
	ri->oid = roleid;
	ri->super = form->rolsuper;
	namestrcpy(&ri->name, NameStr(form->rolname));
	pw = SysCacheGetAttr(AUTHOID, tup, Anum_pg_authid_rolpassword, &isnull);
	ri->md5 = false;
	if (!isnull)
	{
		char	   *s = TextDatumGetCString(pw);

		ri->md5 = strncmp(s, "md5", 3) == 0;
		pfree(s);
	}
	ReleaseSysCache(tup);
	return true;
}

static Oid
role_oid(const char *name)
{
	if (name == NULL)
		return InvalidOid;
	return get_role_oid(name, true);
}

/*
 * The role a RoleSpec names, or InvalidOid for PUBLIC, a NULL pointer,
 * something that is not a RoleSpec and names that do not exist: those are
 * left to PostgreSQL, which reports them its own way.
 */
Oid
rolespec_oid(const Node *node)
{
	const RoleSpec *spec;

	if (node == NULL || !IsA(node, RoleSpec))
		return InvalidOid;
	spec = (const RoleSpec *) node;
	switch (spec->roletype)
	{
		case ROLESPEC_CSTRING:
			return role_oid(spec->rolename);
		case ROLESPEC_CURRENT_ROLE:
		case ROLESPEC_CURRENT_USER:
			return GetUserId();
		case ROLESPEC_SESSION_USER:
			return GetSessionUserId();
		case ROLESPEC_PUBLIC:
			return InvalidOid;
	}
	return InvalidOid;
}

/* Is roleid a member (directly or not, inheriting or not) of role name? */
bool
member_of(Oid roleid, const char *name)
{
	Oid			r = role_oid(name);

	return OidIsValid(r) && OidIsValid(roleid) && is_member_of_role(roleid, r);
}

bool
caller_is_admin(void)
{
	return member_of(GetUserId(), ROLE_SUPERUSER);
}

/* The first role of list that roleid is (or belongs to), or NULL. */
static const char *
member_of_any(Oid roleid, const char *const *list)
{
	for (; *list; list++)
		if (member_of(roleid, *list))
			return *list;
	return NULL;
}

/* ----------------------------------------------------------------
 * Rule 1: password commands
 * ----------------------------------------------------------------
 */

static void
check_password_command(void)
{
	if (!restrict_password_commands)
		return;
	if (member_of(GetUserId(), ROLE_PASSWORD))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be a member of rds_password to alter passwords"),
			 errhidestmt(true)));
}

/* Does a CREATE/ALTER ROLE option list set a password or VALID UNTIL? */
static bool
sets_password(List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		/* PASSWORD NULL has a NULL arg: it changes the password too. */
		if (strcmp(d->defname, "password") == 0 ||
			strcmp(d->defname, "encryptedPassword") == 0 ||
			strcmp(d->defname, "unencryptedPassword") == 0 ||
			strcmp(d->defname, "validUntil") == 0)
			return true;
	}
	return false;
}

/* ----------------------------------------------------------------
 * Rule 2: reserved and protected roles
 * ----------------------------------------------------------------
 */

typedef enum TargetAction
{
	ACT_ALTER,
	ACT_RENAME,
	ACT_DROP
} TargetAction;

static const char *
action_verb(TargetAction act)
{
	switch (act)
	{
		case ACT_RENAME:
			return "rename";
		case ACT_DROP:
			return "drop";
		default:
			return "alter";
	}
}

static void
refuse_reserved_name(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("role name \"%s\" is reserved", name),
			 errdetail("Role names starting with \"rds_\" and the names rdsadmin, rdsrepladmin and rdstopmgr are reserved.")));
}

/*
 * May the caller alter / rename / drop roleid (or change its settings, or
 * drop or reassign what it owns)?
 */
static void
check_target(Oid roleid, TargetAction act)
{
	RoleInfo	ri;
	const char *verb = action_verb(act);
	const char *power;

	if (!role_info(roleid, &ri) || ri.super)
		return;					/* PostgreSQL's own checks and texts */
	if (reserved_name(NameStr(ri.name)))
	{
		if (act == ACT_DROP)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot drop reserved role \"%s\"", NameStr(ri.name))));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s reserved role \"%s\"", verb, NameStr(ri.name))));
	}
	if (predefined_name(NameStr(ri.name)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s predefined role \"%s\"", verb, NameStr(ri.name))));
	if (roleid != GetUserId() &&
		(power = member_of_any(roleid, server_access_roles)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s role \"%s\"", verb, NameStr(ri.name)),
				 errdetail("Membership in \"%s\" gives access to the server's files or programs; only superusers may %s such roles.",
						   power, verb)));
	if (member_of(roleid, ROLE_SUPERUSER) && !caller_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s role \"%s\"", verb, NameStr(ri.name)),
				 errdetail("Only superusers and members of rds_superuser may %s members of rds_superuser.",
						   verb)));
}

/*
 * May the caller grant (or revoke) membership in roleid to (from) the roles
 * in grantees (a list of OIDs; invalid ones are skipped)? grantedName names
 * roleid for messages when it does not exist yet (CREATE ROLE ... ROLE x).
 */
static void
check_grant(Oid roleid, const char *grantedName, List *grantees, bool is_grant)
{
	RoleInfo	ri;
	ListCell   *lc;
	const char *verb = is_grant ? "grant" : "revoke";

	if (role_info(roleid, &ri))
	{
		const char *power;

		if (ri.super)
			return;				/* PostgreSQL: "must be superuser to alter superusers" */
		grantedName = NameStr(ri.name);
		if ((power = member_of_any(roleid, server_access_roles)) != NULL)
		{
			if (!is_admin_of_role(GetUserId(), roleid))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to %s role \"%s\"", verb, grantedName),
						 errdetail("Membership in \"%s\" gives access to the server's files or programs; only superusers and roles with ADMIN OPTION on \"%s\" may %s it.",
								   power, grantedName, verb)));
		}
		else if (borealis_only_name(grantedName))
		{
			if (!superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to %s reserved role \"%s\"", verb, grantedName),
						 errdetail("Only Borealis uses \"%s\".", grantedName)));
		}
		else if (reserved_name(grantedName))
		{
			if (!caller_is_admin() && !is_admin_of_role(GetUserId(), roleid))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to %s reserved role \"%s\"", verb, grantedName),
						 errdetail("Only superusers, members of rds_superuser and roles with ADMIN OPTION on \"%s\" may %s it.",
								   grantedName, verb)));
		}
		else if ((power = member_of_any(roleid, power_roles)) != NULL)
		{
			if (!caller_is_admin() && !is_admin_of_role(GetUserId(), roleid))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to %s role \"%s\"", verb, grantedName),
						 errdetail("Role \"%s\" is a member of reserved role \"%s\"; only superusers, members of rds_superuser and roles with ADMIN OPTION on \"%s\" may %s it.",
								   grantedName, power, grantedName, verb)));
		}
	}
	if (grantedName == NULL)
		grantedName = "?";

	foreach(lc, grantees)
	{
		RoleInfo	gi;

		if (!role_info(lfirst_oid(lc), &gi))
			continue;
		if (!reserved_name(NameStr(gi.name)))
			continue;
		if (is_grant)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to grant role \"%s\" to reserved role \"%s\"",
							grantedName, NameStr(gi.name))));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to revoke role \"%s\" from reserved role \"%s\"",
						grantedName, NameStr(gi.name)),
				 (strcmp(NameStr(gi.name), ROLE_SUPERUSER) == 0 &&
				  strcmp(grantedName, ROLE_PASSWORD) == 0) ?
				 errdetail("rds_superuser's membership in rds_password cannot be revoked.") : 0));
	}
}

/* OIDs of the existing roles in a list of RoleSpec nodes. */
static List *
rolespec_oids(List *specs)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, specs)
	{
		Oid			r = rolespec_oid((Node *) lfirst(lc));

		if (OidIsValid(r))
			oids = lappend_oid(oids, r);
	}
	return oids;
}

/* The role names a DefElem's arg lists (RoleSpec nodes), as OIDs. */
static List *
defelem_role_oids(DefElem *d)
{
	if (d->arg == NULL || !IsA(d->arg, List))
		return NIL;
	return rolespec_oids((List *) d->arg);
}

/*
 * The identity-changing setting set gives a value to ("role" or
 * "session_authorization", however the statement spelt it), or NULL.
 */
static const char *
sets_identity(VariableSetStmt *set)
{
	static const char *const names[] = {"role", "session_authorization", NULL};

	if (set == NULL || set->name == NULL ||
		(set->kind != VAR_SET_VALUE && set->kind != VAR_SET_CURRENT))
		return NULL;
	for (int i = 0; names[i] != NULL; i++)
		if (guard_guc_name_eq(set->name, names[i]))
			return names[i];
	return NULL;
}

/*
 * ALTER DATABASE ... SET and ALTER ROLE ALL ... SET apply to every session,
 * Borealis' own administrative ones included: they may not choose the
 * session's identity.
 */
static void
check_database_setting(VariableSetStmt *set)
{
	const char *name = sets_identity(set);

	if (name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set parameter \"%s\" for a database", name),
				 errdetail("A database-wide setting applies to every session, the service's own included.")));
}

/*
 * A role or session_authorization setting naming a reserved role would make
 * whoever it applies to try to become that role.
 */
static void
check_role_setting(VariableSetStmt *set)
{
	const char *name = sets_identity(set);
	const char *value;
	Oid			r;

	if (name == NULL)
		return;
	/* The value as it would be stored; FROM CURRENT included. */
	value = ExtractSetVariableArgs(set);
	if (value == NULL)
		return;
	r = role_oid(value);
	if (reserved_name(value) || (OidIsValid(r) && superuser_arg(r)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set parameter \"%s\" to reserved role \"%s\"",
						name, value)));
}

static void
check_create_role(CreateRoleStmt *stmt)
{
	ListCell   *lc;

	if (sets_password(stmt->options))
		check_password_command();
	if (reserved_name(stmt->role))
		refuse_reserved_name(stmt->role);
	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "addroleto") == 0)
		{
			/* IN ROLE / IN GROUP: each listed role is granted to the new one */
			ListCell   *lc2;

			if (d->arg == NULL || !IsA(d->arg, List))
				continue;
			foreach(lc2, (List *) d->arg)
			{
				Oid			g = rolespec_oid((Node *) lfirst(lc2));

				if (OidIsValid(g))
					check_grant(g, NULL, NIL, true);
			}
		}
		else if (strcmp(d->defname, "rolemembers") == 0 ||
				 strcmp(d->defname, "adminmembers") == 0)
		{
			/* ROLE / USER / ADMIN: the new role is granted to each listed one */
			check_grant(InvalidOid, stmt->role, defelem_role_oids(d), true);
		}
	}
}

static void
check_alter_role(AlterRoleStmt *stmt)
{
	ListCell   *lc;
	Oid			target;
	bool		other = false;

	if (sets_password(stmt->options))
		check_password_command();
	target = rolespec_oid((Node *) stmt->role);
	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "rolemembers") == 0)
		{
			/* ALTER GROUP target ADD|DROP USER ...: GRANT / REVOKE target */
			if (OidIsValid(target))
				check_grant(target, NULL, defelem_role_oids(d), stmt->action >= 0);
		}
		else
			other = true;
	}
	if (other)
		check_target(target, ACT_ALTER);
}

static void
check_rename_role(RenameStmt *stmt)
{
	RoleInfo	ri;

	if (role_info(role_oid(stmt->subname), &ri))
	{
		if (ri.md5)
			check_password_command();
		check_target(ri.oid, ACT_RENAME);
		if (reserved_name(stmt->newname))
			refuse_reserved_name(stmt->newname);
	}
}

static void
check_grant_role(GrantRoleStmt *stmt)
{
	List	   *grantees = rolespec_oids(stmt->grantee_roles);
	ListCell   *lc;

	foreach(lc, stmt->granted_roles)
	{
		Node	   *n = (Node *) lfirst(lc);
		AccessPriv *priv;
		Oid			g;

		if (n == NULL || !IsA(n, AccessPriv))
			continue;
		priv = (AccessPriv *) n;
		g = role_oid(priv->priv_name);
		if (OidIsValid(g))
			check_grant(g, NULL, grantees, stmt->is_grant);
	}
}

static void
check_role_list(List *specs, TargetAction act)
{
	ListCell   *lc;

	foreach(lc, specs)
		check_target(rolespec_oid((Node *) lfirst(lc)), act);
}

/* ----------------------------------------------------------------
 * Rule 4: extensions
 * ----------------------------------------------------------------
 */

static bool
extension_listed(const char *name, bool *all)
{
	char	   *raw;
	List	   *elems;
	ListCell   *lc;
	bool		found = false;

	*all = false;
	if (allowed_extensions == NULL)
		return false;
	raw = pstrdup(allowed_extensions);
	if (!SplitIdentifierString(raw, ',', &elems))
		return false;
	foreach(lc, elems)
	{
		const char *e = (const char *) lfirst(lc);

		if (strcmp(e, "*") == 0)
			*all = found = true;
		else if (strcmp(e, name) == 0)
			found = true;
	}
	list_free(elems);
	pfree(raw);
	return found;
}

static bool
control_file_exists(const char *name)
{
	char		share[MAXPGPATH];
	char		path[MAXPGPATH];
	struct stat st;

	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
		strchr(name, '\\') != NULL || strstr(name, "..") != NULL)
		return false;
	get_share_path(my_exec_path, share);
	if (snprintf(path, sizeof(path), "%s/extension/%s.control", share, name) >= (int) sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * A foreign-data wrapper the extension made (postgres_fdw's, dblink's
 * dblink_fdw) stays the bootstrap superuser's, as PostgreSQL requires of a
 * wrapper's owner; the caller gets USAGE on it WITH GRANT OPTION, so that it
 * can create servers and hand them on, as rds_superuser can on RDS.
 */
static void
grant_fdw_usage(Oid extoid, Oid owner)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *names = NIL;
	ListCell   *lc;

	rel = table_open(ForeignDataWrapperRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_foreign_data_wrapper fdw = (Form_pg_foreign_data_wrapper) GETSTRUCT(tup);

		if (getExtensionOfObject(ForeignDataWrapperRelationId, fdw->oid) == extoid)
			names = lappend(names, makeString(pstrdup(NameStr(fdw->fdwname))));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	foreach(lc, names)
	{
		GrantStmt  *g = makeNode(GrantStmt);
		AccessPriv *usage = makeNode(AccessPriv);
		RoleSpec   *grantee = makeNode(RoleSpec);
		Oid			save_userid;
		int			save_sec;
		char	   *role = GetUserNameFromId(owner, false);

		usage->priv_name = "usage";
		grantee->roletype = ROLESPEC_CSTRING;
		grantee->rolename = role;
		grantee->location = -1;
		g->is_grant = true;
		g->targtype = ACL_TARGET_OBJECT;
		g->objtype = OBJECT_FDW;
		g->objects = list_make1(lfirst(lc));
		g->privileges = list_make1(usage);
		g->grantees = list_make1(grantee);
		g->grant_option = true;
		g->behavior = DROP_RESTRICT;

		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		PG_TRY();
		{
			ExecuteGrantStmt(g);
		}
		PG_FINALLY();
		{
			SetUserIdAndSecContext(save_userid, save_sec);
		}
		PG_END_TRY();
	}
	CommandCounterIncrement();
}

/*
 * Hands the extension to owner. (Its schema was checked before its script
 * ran: extensions.c.)
 */
static void
finish_extension(Oid extoid, Oid owner)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(ExtensionRelationId, RowExclusiveLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		HeapTuple	copy = heap_copytuple(tup);
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(copy);

		if (form->extowner != owner)
		{
			form->extowner = owner;
			CatalogTupleUpdate(rel, &copy->t_self, copy);
			changeDependencyOnOwner(ExtensionRelationId, extoid, owner);
		}
		heap_freetuple(copy);
	}
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
	CommandCounterIncrement();
	grant_fdw_usage(extoid, owner);
}

/* The OIDs of every extension of the database. */
static List *
extension_oids(void)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *oids = NIL;

	/* See what this transaction's earlier commands added. */
	InvalidateCatalogSnapshot();
	rel = table_open(ExtensionRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		oids = lappend_oid(oids, ((Form_pg_extension) GETSTRUCT(tup))->oid);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return oids;
}

static void
call_next(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
		  ProcessUtilityContext context, ParamListInfo params,
		  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/* Runs the statement as the bootstrap superuser; nesting- and error-safe. */
static void
call_next_elevated(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Oid			save_userid;
	int			save_sec;
	Oid			save_caller;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	/* extensions.c checks the caller's rights as objects are made */
	save_caller = guard_ext_elevation_begin(save_userid);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
		guard_ext_elevation_end(save_caller);
	}
	PG_END_TRY();
}

/* Should CREATE EXTENSION run elevated? */
static bool
elevate_create_extension(CreateExtensionStmt *stmt)
{
	ListCell   *lc;
	bool		cascade = false;
	bool		all;

	if (stmt->extname == NULL || !caller_is_admin())
		return false;
	foreach(lc, stmt->options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "cascade") == 0)
			cascade = defGetBoolean(d);
	}
	if (!extension_listed(stmt->extname, &all) || (cascade && !all))
		return false;
	if (!control_file_exists(stmt->extname))
		return false;
	/* As for trusted extensions: CREATE on the database is needed. */
	if (pg_database_aclcheck(MyDatabaseId, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
		return false;
	/* Already there: PostgreSQL reports it (or skips, IF NOT EXISTS). */
	return !OidIsValid(get_extension_oid(stmt->extname, true));
}

static bool
elevate_alter_extension(AlterExtensionStmt *stmt)
{
	Oid			extoid;
	bool		all;

	if (stmt->extname == NULL || !caller_is_admin())
		return false;
	if (!extension_listed(stmt->extname, &all) || !control_file_exists(stmt->extname))
		return false;
	extoid = get_extension_oid(stmt->extname, true);
	return OidIsValid(extoid) && pg_extension_ownercheck(extoid, GetUserId());
}

/* ----------------------------------------------------------------
 * The hook
 * ----------------------------------------------------------------
 */

static void
guard_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (parsetree == NULL)
	{
		call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	/* logfilter.c: a statement that runs a password command is never logged */
	guard_log_note_statement(parsetree);

	/*
	 * Look at the tag before anything else: transaction control runs in
	 * aborted transactions, where catalog lookups are not allowed.
	 */
	switch (nodeTag(parsetree))
	{
		case T_CreateRoleStmt:
		case T_AlterRoleStmt:
		case T_AlterRoleSetStmt:
		case T_AlterDatabaseSetStmt:
		case T_DropRoleStmt:
		case T_RenameStmt:
		case T_GrantRoleStmt:
		case T_DropOwnedStmt:
		case T_ReassignOwnedStmt:
		case T_CreateExtensionStmt:
		case T_AlterExtensionStmt:
		case T_CommentStmt:
		case T_SecLabelStmt:
			break;
		default:
			call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
			return;
	}

	if (superuser())
	{
		call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}

	switch (nodeTag(parsetree))
	{
		case T_CreateRoleStmt:
			check_create_role((CreateRoleStmt *) parsetree);
			break;
		case T_AlterRoleStmt:
			check_alter_role((AlterRoleStmt *) parsetree);
			break;
		case T_AlterRoleSetStmt:
			{
				AlterRoleSetStmt *stmt = (AlterRoleSetStmt *) parsetree;

				/*
				 * ALTER ROLE ALL [IN DATABASE]: PostgreSQL lets the owner of
				 * the database run the IN DATABASE form, like ALTER DATABASE.
				 */
				if (stmt->role == NULL)
					check_database_setting(stmt->setstmt);
				else
				{
					check_target(rolespec_oid((Node *) stmt->role), ACT_ALTER);
					check_role_setting(stmt->setstmt);
				}
				break;
			}
		case T_AlterDatabaseSetStmt:
			check_database_setting(((AlterDatabaseSetStmt *) parsetree)->setstmt);
			break;
		case T_DropRoleStmt:
			check_role_list(((DropRoleStmt *) parsetree)->roles, ACT_DROP);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType == OBJECT_ROLE)
					check_rename_role(stmt);
				break;
			}
		case T_GrantRoleStmt:
			check_grant_role((GrantRoleStmt *) parsetree);
			break;
		case T_DropOwnedStmt:
			check_role_list(((DropOwnedStmt *) parsetree)->roles, ACT_ALTER);
			break;
		case T_ReassignOwnedStmt:
			check_role_list(((ReassignOwnedStmt *) parsetree)->roles, ACT_ALTER);
			break;
		case T_CreateExtensionStmt:
			{
				CreateExtensionStmt *stmt = (CreateExtensionStmt *) parsetree;
				Oid			caller = GetUserId();
				Oid			extoid;
				List	   *before;
				ListCell   *lc;

				if (!elevate_create_extension(stmt))
					break;
				before = extension_oids();
				call_next_elevated(pstmt, queryString, readOnlyTree, context, params,
								   queryEnv, dest, qc);
				extoid = get_extension_oid(stmt->extname, true);
				if (OidIsValid(extoid))
					finish_extension(extoid, caller);
				/* and those CASCADE installed */
				foreach(lc, extension_oids())
				{
					Oid			e = lfirst_oid(lc);

					if (e != extoid && !list_member_oid(before, e))
						finish_extension(e, caller);
				}
				return;
			}
		case T_AlterExtensionStmt:
			guard_ext_check_update(((AlterExtensionStmt *) parsetree)->extname);
			if (elevate_alter_extension((AlterExtensionStmt *) parsetree))
			{
				call_next_elevated(pstmt, queryString, readOnlyTree, context, params,
								   queryEnv, dest, qc);
				return;
			}
			break;
		default:
			break;
	}
	pstmt = check_delegation(pstmt, &readOnlyTree);
	call_next(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* ----------------------------------------------------------------
 * GUCs
 * ----------------------------------------------------------------
 */

static bool
check_allowed_extensions(char **newval, void **extra, GucSource source)
{
	char	   *raw;
	List	   *elems;
	bool		ok;

	if (*newval == NULL)
		return true;
	raw = pstrdup(*newval);
	ok = SplitIdentifierString(raw, ',', &elems);
	list_free(elems);
	pfree(raw);
	if (!ok)
		GUC_check_errdetail("List syntax is invalid.");
	return ok;
}

static bool
check_auth_method(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL &&
		(strcmp(*newval, "md5+scram") == 0 || strcmp(*newval, "scram") == 0))
		return true;
	GUC_check_errdetail("Valid values are \"md5+scram\" and \"scram\".");
	return false;
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("guard must be loaded via shared_preload_libraries")));

	DefineCustomBoolVariable("rds.restrict_password_commands",
							 "Restricts password commands to members of rds_password.",
							 NULL,
							 &restrict_password_commands,
							 false,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("rds.force_ssl",
							 "Requires SSL for client connections (enforced through pg_hba.conf).",
							 NULL,
							 &force_ssl,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("rds.allowed_extensions",
							   "Extensions members of rds_superuser may create, comma-separated; * for all.",
							   NULL,
							   &allowed_extensions,
							   guard_default_extensions,
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_allowed_extensions, NULL, NULL);
	DefineCustomStringVariable("rds.accepted_password_auth_method",
							   "Password methods accepted at login: md5+scram or scram.",
							   NULL,
							   &accepted_password_auth_method,
							   "md5+scram",
							   PGC_SIGHUP,
							   0,
							   check_auth_method, NULL, NULL);
	MarkGUCPrefixReserved("rds");

	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = guard_ProcessUtility;
	guard_settings_init();
	guard_log_init();
	guard_ext_init();
	secrets_init();
	guard_read_only_init();
}
