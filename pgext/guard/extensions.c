/*-------------------------------------------------------------------------
 *
 * extensions.c
 *	  Where an extension may land and what it may leave its caller owning,
 *	  checked before any install or update script runs as superuser.
 *
 * The rules, for a caller that is not a superuser (inside an elevated
 * CREATE EXTENSION, the member of rds_superuser who ran it; otherwise the
 * current user, so PostgreSQL's trusted extensions are held to them too):
 *
 *  - The schema. An object access hook sees each new pg_extension row, the
 *    top one and those CASCADE adds, with the schema PostgreSQL chose (from
 *    SCHEMA, the control file or search_path) and before the script runs.
 *    The caller needs CREATE on that schema, and no extension goes to
 *    pg_catalog unless its control file (or the version's secondary one)
 *    says schema = pg_catalog: SCHEMA pg_catalog or a search_path starting
 *    with it is refused.
 *
 *  - Ownership on update. An update script runs as superuser and may CREATE
 *    OR REPLACE any member of the extension, keeping its owner: after
 *    ALTER EXTENSION ... ADD of a function of the caller's, the caller
 *    would own, say, a C function. So ALTER EXTENSION ... UPDATE is refused
 *    while any member is owned by a role that is not a superuser (ALTER
 *    EXTENSION ... DROP it first), and the extension's schema must pass the
 *    rule above. DROP of a member needs ownership of it (PostgreSQL), which
 *    the caller has only of what it added itself.
 *
 * The default of rds.allowed_extensions is made at build time from the
 * parameter catalogue's reviewed list (see the Makefile).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "default_extensions.h"
#include "guard.h"

const char *const guard_default_extensions = GUARD_DEFAULT_EXTENSIONS;

static object_access_hook_type prev_object_access_hook = NULL;

/* The member of rds_superuser an elevated command runs for, if any. */
static Oid	elevated_caller = InvalidOid;

Oid
guard_ext_elevation_begin(Oid caller)
{
	Oid			previous = elevated_caller;

	elevated_caller = caller;
	return previous;
}

void
guard_ext_elevation_end(Oid previous)
{
	elevated_caller = previous;
}

/* The value of name in a control file, palloc'd; NULL if it does not say. */
static char *
control_value(const char *path, const char *name, bool *exists)
{
	FILE	   *f;
	ConfigVariable *head = NULL;
	ConfigVariable *tail = NULL;
	char	   *value = NULL;

	*exists = false;
	if ((f = AllocateFile(path, "r")) == NULL)
		return NULL;
	*exists = true;
	(void) ParseConfigFp(f, path, 0, ERROR, &head, &tail);
	FreeFile(f);
	for (ConfigVariable *v = head; v != NULL; v = v->next)
		if (strcmp(v->name, name) == 0)
			value = pstrdup(v->value);	/* the last one counts */
	FreeConfigVariables(head);
	return value;
}

/*
 * Does the control file of extname (and, for version, the secondary one)
 * fix the schema to pg_catalog? Read as PostgreSQL reads them; anything
 * unreadable answers no.
 */
static bool
control_fixes_pg_catalog(const char *extname, const char *version)
{
	char		share[MAXPGPATH];
	char		path[MAXPGPATH];
	char	   *schema;
	char	   *directory;
	bool		exists;

	get_share_path(my_exec_path, share);
	snprintf(path, sizeof(path), "%s/extension/%s.control", share, extname);
	schema = control_value(path, "schema", &exists);
	if (!exists)
		return false;
	directory = control_value(path, "directory", &exists);
	if (version != NULL)
	{
		char	   *aux;

		if (directory == NULL)
			snprintf(path, sizeof(path), "%s/extension/%s--%s.control", share, extname, version);
		else if (is_absolute_path(directory))
			snprintf(path, sizeof(path), "%s/%s--%s.control", directory, extname, version);
		else
			snprintf(path, sizeof(path), "%s/%s/%s--%s.control", share, directory, extname, version);
		aux = control_value(path, "schema", &exists);
		if (aux != NULL)
			schema = aux;
	}
	return schema != NULL && strcmp(schema, "pg_catalog") == 0;
}

/* May caller have extension extname (at version) in schema nsp? */
static void
check_schema(const char *extname, const char *version, Oid nsp, Oid caller)
{
	if (nsp == PG_CATALOG_NAMESPACE)
	{
		if (control_fixes_pg_catalog(extname, version))
			return;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema pg_catalog"),
				 errdetail("Only an extension whose control file sets schema = pg_catalog may be installed there.")));
	}
	if (pg_namespace_aclcheck(nsp, caller, ACL_CREATE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_SCHEMA, get_namespace_name(nsp));
}

/*
 * The pg_extension row of extoid, as this command sees it: a row inserted
 * by the running command is seen before any CommandCounterIncrement.
 */
static bool
extension_row(Oid extoid, char **name, char **version, Oid *nsp, Oid *owner)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tup);
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		*name = pstrdup(NameStr(form->extname));
		*version = isnull ? NULL : TextDatumGetCString(d);
		*nsp = form->extnamespace;
		*owner = form->extowner;
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* A new pg_extension row: its script has not run yet. */
static void
check_new_extension(Oid extoid)
{
	Oid			caller = OidIsValid(elevated_caller) ? elevated_caller : GetUserId();
	char	   *name;
	char	   *version;
	Oid			nsp;
	Oid			owner;

	if (superuser_arg(caller))
		return;
	if (!extension_row(extoid, &name, &version, &nsp, &owner))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("guard: new extension %u not found", extoid)));
	check_schema(name, version, nsp, caller);
}

static void
guard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_POST_CREATE && classId == ExtensionRelationId && subId == 0)
		check_new_extension(objectId);
}

/* The owner of a catalog object, or InvalidOid when it has none. */
static Oid
object_owner(Oid classId, Oid objectId)
{
	AttrNumber	ownerattr;
	Relation	rel;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	if (!is_objectclass_supported(classId) ||
		(ownerattr = get_object_attnum_owner(classId)) == InvalidAttrNumber)
		return InvalidOid;		/* casts, transforms, ...: nobody owns them */
	rel = table_open(classId, AccessShareLock);
	tup = get_catalog_object_by_oid(rel, get_object_attnum_oid(classId), objectId);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, ownerattr, RelationGetDescr(rel), &isnull);

		if (!isnull)
			owner = DatumGetObjectId(d);
	}
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * ALTER EXTENSION extname UPDATE by a caller that is not a superuser,
 * before PostgreSQL (or the guard, elevating it) runs the update scripts.
 */
void
guard_ext_check_update(const char *extname)
{
	Oid			extoid;
	char	   *name;
	char	   *version;
	Oid			nsp;
	Oid			extowner;
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	if (extname == NULL)
		return;
	extoid = get_extension_oid(extname, true);
	if (!OidIsValid(extoid) || !extension_row(extoid, &name, &version, &nsp, &extowner))
		return;					/* PostgreSQL's own error */
	if (!pg_extension_ownercheck(extoid, GetUserId()))
		return;					/* PostgreSQL: must be owner of extension */
	check_schema(name, version, nsp, GetUserId());

	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
		Oid			owner;

		if (dep->deptype != DEPENDENCY_EXTENSION)
			continue;
		owner = object_owner(dep->classid, dep->objid);
		if (OidIsValid(owner) && !superuser_arg(owner))
		{
			ObjectAddress obj;

			ObjectAddressSet(obj, dep->classid, dep->objid);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to update extension \"%s\"", name),
					 errdetail("Member %s is owned by role \"%s\": update scripts run as superuser and would leave it so.",
							   getObjectDescription(&obj, false),
							   GetUserNameFromId(owner, false)),
					 errhint("Remove it from the extension with ALTER EXTENSION ... DROP first.")));
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

void
guard_ext_init(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = guard_object_access;
}
