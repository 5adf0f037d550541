/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  What the guard's source files share (see guard.c for the rules): the
 *	  reserved role names, the role helpers of guard.c and each file's entry
 *	  points.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GUARD_H
#define GUARD_H

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"

#define ROLE_SUPERUSER	"rds_superuser"
#define ROLE_PASSWORD	"rds_password"
#define ROLE_REPLICATION "rds_replication"

/* guard.c */
extern const char *const power_roles[];	/* reserved roles with powers */
extern Oid	rolespec_oid(const Node *node);
extern bool member_of(Oid roleid, const char *name);
extern bool caller_is_admin(void);

/* settings.c: setting names and code-loading settings */
extern bool guard_guc_name_eq(const char *a, const char *b);
extern void guard_settings_init(void);

/* logfilter.c: no password in the server log */
extern void guard_log_init(void);
extern void guard_log_note_statement(Node *parsetree);

/* extensions.c: schema and ownership of elevated extension commands */
extern const char *const guard_default_extensions;
extern void guard_ext_init(void);
extern Oid	guard_ext_elevation_begin(Oid caller);
extern void guard_ext_elevation_end(Oid previous);
extern void guard_ext_check_update(const char *extname);

/* delegation.c: PostgreSQL 16's CREATEROLE rule, database-wide settings */
extern PlannedStmt *check_delegation(PlannedStmt *pstmt, bool *readOnlyTree);

/* secrets.c: stored secrets stay with superusers */
extern void secrets_init(void);

/* readonly.c: borealis.read_only, the storage-full switch */
extern void guard_read_only_init(void);

#endif							/* GUARD_H */
