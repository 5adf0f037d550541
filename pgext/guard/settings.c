/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Setting names as PostgreSQL compares them, and the settings that make
 *	  a backend load a library.
 *
 * Names: guc.c finds a setting with guc_name_compare(), which folds ASCII
 * A-Z only (built-in and custom placeholder names alike), so SET "ROLE" is
 * SET role. guard_guc_name_eq() compares the same way. (guc.c's two old
 * aliases, sort_mem and vacuum_mem, name nothing the guard checks.)
 *
 * Code-loading settings: local_preload_libraries (which any user may set),
 * session_preload_libraries and dynamic_library_path decide which shared
 * libraries a backend loads. Stored on a role or a database they run
 * library code in every session they apply to, or lock its logins out
 * when the library is missing. The guard wraps their check hooks, so every
 * way of setting them goes through one rule, whatever the statement:
 *  - stored settings (ALTER ROLE [ALL] ... [IN DATABASE] ... SET, ALTER
 *    DATABASE ... SET, CREATE FUNCTION ... SET: validated with source
 *    PGC_S_TEST) are refused for everybody: only the server configuration
 *    sets them;
 *  - stored values met at connection time (pg_db_role_setting) are
 *    ignored with a WARNING, so one stored before cannot lock anyone out;
 *  - SET, SET LOCAL, set_config(), a client's startup options: refused for
 *    non-superusers.
 * An empty list (load nothing) is always accepted.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"

#include "guard.h"

/* Settings whose value names libraries a backend loads. */
static const char *const code_loading_settings[] = {
	"local_preload_libraries",
	"session_preload_libraries",
	"dynamic_library_path",
	NULL
};

/* The hooks the wrapped settings had before, by index in the list above. */
static GucStringCheckHook prev_check_hooks[lengthof(code_loading_settings)];

bool
guard_guc_name_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	for (; *a && *b; a++, b++)
	{
		char		ca = *a;
		char		cb = *b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return false;
	}
	return *a == *b;
}

/* An empty list: SET x = '' gives "" (the list is quoted). */
static bool
loads_nothing(const char *value)
{
	if (value == NULL)
		return true;
	for (; *value; value++)
		if (!isspace((unsigned char) *value) && *value != ',' && *value != '"')
			return false;
	return true;
}

/*
 * May this value be set from this source? Runs inside set_config_option:
 * it reports through GUC_check_* and never raises an error itself.
 */
static bool
code_loading_allowed(const char *name, const char *value, GucSource source)
{
	/* A parallel worker's leader checked it already. */
	if (loads_nothing(value) || IsParallelWorker())
		return true;
	switch (source)
	{
		case PGC_S_GLOBAL:
		case PGC_S_DATABASE:
		case PGC_S_USER:
		case PGC_S_DATABASE_USER:
		case PGC_S_TEST:
			/* stored for sessions to come: nobody */
			GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
			GUC_check_errmsg("permission denied to set parameter \"%s\"", name);
			GUC_check_errdetail("It makes sessions load a library when they start; only the server configuration may set it.");
			return false;
		case PGC_S_CLIENT:
		case PGC_S_INTERACTIVE:
		case PGC_S_SESSION:
			if (superuser())
				return true;
			GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
			GUC_check_errmsg("permission denied to set parameter \"%s\"", name);
			GUC_check_errdetail("It makes sessions load a library; only superusers may set it.");
			return false;
		default:
			/* configuration file, command line, defaults */
			return true;
	}
}

static bool
check_code_loading(int i, char **newval, void **extra, GucSource source)
{
	if (!code_loading_allowed(code_loading_settings[i], *newval, source))
		return false;
	return prev_check_hooks[i] == NULL || prev_check_hooks[i] (newval, extra, source);
}

/* One wrapper a setting: a check hook gets no name. */
static bool
check_code_loading_0(char **newval, void **extra, GucSource source)
{
	return check_code_loading(0, newval, extra, source);
}

static bool
check_code_loading_1(char **newval, void **extra, GucSource source)
{
	return check_code_loading(1, newval, extra, source);
}

static bool
check_code_loading_2(char **newval, void **extra, GucSource source)
{
	return check_code_loading(2, newval, extra, source);
}

static const GucStringCheckHook code_loading_hooks[] = {
	check_code_loading_0,
	check_code_loading_1,
	check_code_loading_2,
};

StaticAssertDecl(lengthof(code_loading_hooks) == lengthof(code_loading_settings) - 1,
				 "one check hook wrapper per code-loading setting");

/*
 * Wraps the check hooks of the code-loading settings. Runs in the
 * postmaster from _PG_init; backends inherit the wrapped table. A setting
 * that cannot be found or is not a string is a build mismatch: refuse to
 * start rather than run unguarded.
 */
void
guard_settings_init(void)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();

	for (int i = 0; code_loading_settings[i] != NULL; i++)
	{
		struct config_string *conf = NULL;

		for (int j = 0; j < n; j++)
			if (guard_guc_name_eq(vars[j]->name, code_loading_settings[i]))
			{
				if (vars[j]->vartype == PGC_STRING)
					conf = (struct config_string *) vars[j];
				break;
			}
		if (conf == NULL)
			ereport(FATAL,
					(errmsg("guard: string setting \"%s\" not found", code_loading_settings[i])));
		prev_check_hooks[i] = conf->check_hook;
		conf->check_hook = code_loading_hooks[i];
	}
}
