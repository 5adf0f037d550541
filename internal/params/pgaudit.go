package params

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Preloadable are the libraries shared_preload_libraries may name, as Aurora lists the
// ones it offers: those Debian's packages install (scripts/install-deps.sh). The guard is
// always preloaded besides, first.
var Preloadable = []string{"auto_explain", "pg_stat_statements", "pgaudit"}

// auditClasses are pgaudit.log's statement classes (each may be negated with "-").
var auditClasses = []string{"all", "ddl", "function", "misc", "misc_set", "none", "read", "role", "write"}

var auditRoleRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// auditDefs are pgaudit's and auto_explain's parameters as Aurora's parameter groups carry
// them: dynamic,
// and the parameter group's alone (they are superuser settings: the master cannot SET
// them or ALTER ROLE/DATABASE ... SET them, so it cannot hide its own statements from the
// audit a group asks for).
var auditDefs = []Def{
	{Name: "shared_preload_libraries", Description: "Lists shared libraries to preload into server.", DataType: "list", Static: true, Modifiable: true, Scope: BothScopes, PG: "shared_preload_libraries",
		check: func(v string) error {
			for _, l := range strings.Split(v, ",") {
				if !slices.Contains(Preloadable, strings.TrimSpace(l)) {
					return fmt.Errorf("allowed values are: %s", strings.Join(Preloadable, ","))
				}
			}
			return nil
		}},
	{Name: "pgaudit.log", Description: "Specifies which classes of statements will be logged by session audit logging.", DataType: "list", Modifiable: true, Default: "none", Scope: BothScopes, PG: "pgaudit.log",
		check: func(v string) error {
			for _, c := range strings.Split(strings.ToLower(v), ",") {
				if !slices.Contains(auditClasses, strings.TrimPrefix(strings.TrimSpace(c), "-")) {
					return fmt.Errorf("expected a comma-separated list of %s, each optionally preceded by -", strings.Join(auditClasses, ", "))
				}
			}
			return nil
		}},
	{Name: "pgaudit.role", Description: "Specifies the master role to use for object audit logging.", DataType: "string", Modifiable: true, Scope: BothScopes, PG: "pgaudit.role",
		check: func(v string) error {
			// Not a service role: an audit role is one the master makes and grants to
			// (rds_pgaudit, as AWS documents it).
			if !auditRoleRE.MatchString(v) || (strings.HasPrefix(v, "rds") && v != "rds_pgaudit") || strings.HasPrefix(v, "pg_") || v == "public" {
				return fmt.Errorf("expected the name of a role of the database's own (not a reserved rds or pg_ role)")
			}
			return nil
		}},
	{Name: "pgaudit.log_catalog", Description: "Specifies that session logging should be enabled in the case where all relations in a statement are in pg_catalog.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "1", Scope: BothScopes, PG: "pgaudit.log_catalog"},
	{Name: "pgaudit.log_parameter", Description: "Specifies that audit logging should include the parameters that were passed with the statement.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: BothScopes, PG: "pgaudit.log_parameter"},
	{Name: "pgaudit.log_relation", Description: "Specifies whether session audit logging should create a separate log entry for each relation referenced in a SELECT or DML statement.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: BothScopes, PG: "pgaudit.log_relation"},
	{Name: "pgaudit.log_statement_once", Description: "Specifies whether logging will include the statement text and parameters with the first log entry for a statement/substatement combination or with every entry.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: BothScopes, PG: "pgaudit.log_statement_once"},
	// auto_explain's plans of slow statements (it is in Preloadable).
	{Name: "auto_explain.log_min_duration", Description: "Sets the minimum execution time above which plans will be logged.", DataType: "integer", AllowedValues: "-1-2147483647", Modifiable: true, Default: "-1", Scope: BothScopes, PG: "auto_explain.log_min_duration"},
	{Name: "auto_explain.log_analyze", Description: "Use EXPLAIN ANALYZE for plan logging.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: BothScopes, PG: "auto_explain.log_analyze"},
	{Name: "auto_explain.log_nested_statements", Description: "Log nested statements.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: BothScopes, PG: "auto_explain.log_nested_statements"},
	{Name: "pgaudit.log_level", Description: "Specifies the log level that will be used for log entries.", DataType: "string", AllowedValues: "debug5,debug4,debug3,debug2,debug1,info,notice,warning,log", Modifiable: true, Default: "log", Scope: BothScopes, PG: "pgaudit.log_level"},
}
