/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  What the guard's source files share: the reserved role names and the
 *	  role helpers of guard.c.
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

/* delegation.c: PostgreSQL 16's CREATEROLE rule, database-wide settings */
extern PlannedStmt *check_delegation(PlannedStmt *pstmt, bool *readOnlyTree);

/* secrets.c: stored secrets stay with superusers */
extern void secrets_init(void);

#endif							/* GUARD_H */
