/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  What the guard's source files share (see guard.c for the rules).
 *
 *-------------------------------------------------------------------------
 */
#ifndef GUARD_H
#define GUARD_H

#include "nodes/nodes.h"

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

#endif							/* GUARD_H */
