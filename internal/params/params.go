// Package params is the catalogue of parameters Borealis offers in DB cluster and DB
// parameter groups (family aurora-postgresql15): their types, allowed values, whether they
// apply on reload or need a reboot, and what each becomes in the PostgreSQL server. Both the
// RDS API (validation, Describe*) and the reconciler (server settings) read it.
package params

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Family is the only parameter group family Borealis runs.
const Family = "aurora-postgresql15"

// DefaultGroup names both default groups (cluster and DB), as on RDS.
const DefaultGroup = "default." + Family

// Scope says which kind of group may hold a parameter.
type Scope int

const (
	ClusterScope  Scope = 1 << iota // DB cluster parameter groups
	InstanceScope                   // DB parameter groups
	BothScopes    = ClusterScope | InstanceScope
)

// Def defines one parameter.
type Def struct {
	Name          string
	Description   string
	DataType      string // string | integer | boolean
	AllowedValues string // as RDS shows it: "0,1", "6-5000", "md5,scram-sha-256", or "" for free text
	Static        bool   // takes effect only when PostgreSQL restarts
	Modifiable    bool
	Default       string
	Scope         Scope
	// PG is the PostgreSQL setting it sets ("" when it only shapes pg_hba.conf).
	PG string
	// check validates free-text values.
	check func(string) error
}

// ApplyType is "static" or "dynamic", as DescribeDB*Parameters reports.
func (d Def) ApplyType() string {
	if d.Static {
		return "static"
	}
	return "dynamic"
}

var (
	extListRE = regexp.MustCompile(`^(\*|[a-z0-9_-]+(,[a-z0-9_-]+)*)$`)
	ciphersRE = regexp.MustCompile(`^[A-Za-z0-9:+!@_.\-]{1,512}$`)
)

// defaultExtensionsFile lists, one name a line, the contrib extensions RDS offers for
// PostgreSQL 15 that Debian's postgresql-15 ships. Their install scripts run as the bootstrap
// superuser when a member of rds_superuser creates them, so the default is this reviewed list
// rather than "*"; file_fdw and adminpack (server files) are left out, as RDS leaves them out.
// The guard's build makes its C default of rds.allowed_extensions from the same file
// (pgext/guard/Makefile), so a server given no value allows exactly this list.
//
//go:embed default_extensions.txt
var defaultExtensionsFile string

// defaultExtensions is that list as rds.allowed_extensions takes it.
var defaultExtensions = strings.Join(strings.Fields(defaultExtensionsFile), ",")

// LogRetention is how long, in minutes, an instance's database log files are kept.
const LogRetention = "rds.log_retention_period"

// LogRetentionOf is the log retention values ask for (the default when unset or bad:
// values were validated when set).
func LogRetentionOf(v Values) time.Duration {
	d := catalogue[LogRetention]
	val := v[LogRetention]
	if d.Validate(val) != nil {
		val = d.Default
	}
	n, _ := strconv.Atoi(val)
	return time.Duration(n) * time.Minute
}

// catalogue is every parameter Borealis offers, by name.
var catalogue = func() map[string]Def {
	defs := []Def{
		{Name: "rds.force_ssl", Description: "Force SSL connections.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: ClusterScope, PG: "rds.force_ssl"},
		{Name: "rds.restrict_password_commands", Description: "Restricts password-related commands to members of rds_password.", DataType: "boolean", AllowedValues: "0,1", Static: true, Modifiable: true, Default: "0", Scope: ClusterScope, PG: "rds.restrict_password_commands"},
		{Name: "rds.accepted_password_auth_method", Description: "Force authentication for connections with password stored locally.", DataType: "string", AllowedValues: "md5+scram,scram", Modifiable: true, Default: "md5+scram", Scope: ClusterScope, PG: "rds.accepted_password_auth_method"},
		{Name: "rds.allowed_extensions", Description: "Specifies which extensions are allowed to be created in the database.", DataType: "string", Modifiable: true, Default: defaultExtensions, Scope: ClusterScope, PG: "rds.allowed_extensions",
			check: func(v string) error {
				if !extListRE.MatchString(strings.ReplaceAll(v, " ", "")) {
					return fmt.Errorf("expected * or a comma-separated list of extension names")
				}
				return nil
			}},
		{Name: "password_encryption", Description: "Encrypt passwords.", DataType: "string", AllowedValues: "md5,scram-sha-256", Modifiable: true, Default: "md5", Scope: ClusterScope, PG: "password_encryption"},
		{Name: "ssl", Description: "Enables SSL connections.", DataType: "boolean", AllowedValues: "1", Static: true, Modifiable: false, Default: "1", Scope: ClusterScope},
		{Name: "ssl_min_protocol_version", Description: "Sets the minimum SSL/TLS protocol version to use.", DataType: "string", AllowedValues: "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3", Modifiable: true, Default: "TLSv1.2", Scope: ClusterScope, PG: "ssl_min_protocol_version"},
		{Name: "ssl_max_protocol_version", Description: "Sets the maximum SSL/TLS protocol version to use.", DataType: "string", AllowedValues: "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3", Modifiable: true, Scope: ClusterScope, PG: "ssl_max_protocol_version"},
		{Name: "ssl_ciphers", Description: "Sets the list of allowed SSL ciphers.", DataType: "string", Modifiable: true, Default: "HIGH:MEDIUM:+3DES:!aNULL", Scope: ClusterScope, PG: "ssl_ciphers",
			check: func(v string) error {
				if !ciphersRE.MatchString(v) {
					return fmt.Errorf("expected an OpenSSL cipher list")
				}
				return nil
			}},
		{Name: "timezone", Description: "Sets the time zone for displaying and interpreting time stamps.", DataType: "string", Modifiable: true, Default: "UTC", Scope: BothScopes, PG: "timezone",
			check: func(v string) error {
				if strings.ContainsAny(v, "'\\ ") || v == "" || v == "Local" {
					return fmt.Errorf("expected a time zone name")
				}
				if _, err := time.LoadLocation(v); err != nil {
					return fmt.Errorf("unknown time zone")
				}
				return nil
			}},
		// Serve's own (PG ""): it deletes an instance's log files older than this (dblog).
		{Name: LogRetention, Description: "Amazon RDS will delete PostgreSQL log that are older than N minutes.", DataType: "integer", AllowedValues: "1440-10080", Modifiable: true, Default: "4320", Scope: BothScopes},
		{Name: "log_connections", Description: "Logs each successful connection.", DataType: "boolean", AllowedValues: "0,1", Modifiable: true, Default: "0", Scope: BothScopes, PG: "log_connections"},
		{Name: "log_statement", Description: "Sets the type of statements logged.", DataType: "string", AllowedValues: "none,ddl,mod,all", Modifiable: true, Default: "none", Scope: BothScopes, PG: "log_statement"},
		{Name: "statement_timeout", Description: "(ms) Sets the maximum allowed duration of any statement.", DataType: "integer", AllowedValues: "0-2147483647", Modifiable: true, Default: "0", Scope: BothScopes, PG: "statement_timeout"},
		{Name: "idle_in_transaction_session_timeout", Description: "(ms) Sets the maximum allowed duration of any idling transaction.", DataType: "integer", AllowedValues: "0-2147483647", Modifiable: true, Default: "0", Scope: BothScopes, PG: "idle_in_transaction_session_timeout"},
		{Name: "work_mem", Description: "(kB) Sets the maximum memory to be used for query workspaces.", DataType: "integer", AllowedValues: "64-2147483647", Modifiable: true, Default: "4096", Scope: BothScopes, PG: "work_mem"},
		// Sized for the small hosts Borealis runs on; bounded so a value cannot stop the server from starting.
		{Name: "max_connections", Description: "Sets the maximum number of concurrent connections.", DataType: "integer", AllowedValues: "6-5000", Static: true, Modifiable: true, Default: "100", Scope: InstanceScope, PG: "max_connections"},
		{Name: "shared_buffers", Description: "(8kB) Sets the number of shared memory buffers used by the server.", DataType: "integer", AllowedValues: "16-1048576", Static: true, Modifiable: true, Default: "2048", Scope: InstanceScope, PG: "shared_buffers"},
	}
	defs = append(defs, auditDefs...)
	m := make(map[string]Def, len(defs))
	for _, d := range defs {
		m[d.Name] = d
	}
	return m
}()

// Lookup returns a parameter's definition.
func Lookup(name string) (Def, bool) {
	d, ok := catalogue[name]
	return d, ok
}

// Defs returns the parameters a kind of group holds, sorted by name.
func Defs(scope Scope) []Def {
	var out []Def
	for _, d := range catalogue {
		if d.Scope&scope != 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Validate checks a value against a parameter's type and allowed values.
func (d Def) Validate(v string) error {
	bad := fmt.Errorf("Invalid parameter value: %s for: %s allowed values are: %s", clip(v), d.Name, d.allowedText())
	switch {
	case d.DataType == "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad
		}
		// "6-5000", "-1-2147483647": the separator is the first '-' after the first character.
		lo, hi, _ := strings.Cut(d.AllowedValues[1:], "-")
		lo = d.AllowedValues[:1] + lo
		min, _ := strconv.ParseInt(lo, 10, 64)
		max, _ := strconv.ParseInt(hi, 10, 64)
		if n < min || n > max {
			return bad
		}
	case d.AllowedValues != "":
		for _, a := range strings.Split(d.AllowedValues, ",") {
			if v == a {
				return nil
			}
		}
		return bad
	case d.check != nil:
		if err := d.check(v); err != nil {
			return fmt.Errorf("Invalid parameter value: %s for: %s: %v", clip(v), d.Name, err)
		}
	}
	return nil
}

func (d Def) allowedText() string {
	if d.AllowedValues == "" {
		return "any"
	}
	return d.AllowedValues
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Values maps parameter names to values.
type Values map[string]string

// Effective merges engine defaults, then the cluster group, then the DB group: the values a
// server of the cluster should run with.
func Effective(cluster, instance Values) Values {
	out := Values{}
	for name, d := range catalogue {
		if d.Default != "" {
			out[name] = d.Default
		}
	}
	for k, v := range cluster {
		out[k] = v
	}
	for k, v := range instance {
		out[k] = v
	}
	return out
}

// Server is what a set of parameter values means for one PostgreSQL server.
type Server struct {
	Settings       map[string]string // postgresql.conf
	ForceSSL       bool              // pg_hba.conf: no plaintext rule
	PasswordMethod string            // pg_hba.conf method for password logins
}

// ForServer translates values into PostgreSQL's terms. withGuard says whether the guard
// extension is loaded: rds.* settings exist only when it is.
func ForServer(v Values, withGuard bool) Server {
	s := Server{Settings: map[string]string{}, ForceSSL: v["rds.force_ssl"] == "1", PasswordMethod: "md5"}
	if v["rds.accepted_password_auth_method"] == "scram" {
		s.PasswordMethod = "scram-sha-256"
	}
	for name, val := range v {
		d, ok := catalogue[name]
		if !ok || d.PG == "" || val == "" {
			continue
		}
		if strings.HasPrefix(d.PG, "rds.") && !withGuard {
			continue
		}
		if d.DataType == "boolean" {
			val = map[string]string{"0": "off", "1": "on"}[val]
		}
		s.Settings[d.PG] = val
	}
	return s
}

// NeedsReboot reports whether a server started with values started, running now, must
// restart to reach desired: a static parameter differs, or a dynamic one whose change was
// set to apply at the next reboot. pendingReboot lists the parameters whose last change
// asked for ApplyMethod pending-reboot.
func NeedsReboot(started, desired Values, pendingReboot map[string]bool) bool {
	for name := range union(started, desired) {
		if started[name] == desired[name] {
			continue
		}
		d, ok := catalogue[name]
		if !ok || d.Static || pendingReboot[name] {
			return true
		}
	}
	return false
}

// Running returns the values a server started with started should run now: static and
// pending-reboot values stay as they were at start, dynamic immediate ones follow desired.
func Running(started, desired Values, pendingReboot map[string]bool) Values {
	out := Values{}
	for name := range union(started, desired) {
		d, ok := catalogue[name]
		if ok && !d.Static && !pendingReboot[name] {
			if v, ok := desired[name]; ok {
				out[name] = v
			}
			continue
		}
		if v, ok := started[name]; ok {
			out[name] = v
		}
	}
	return out
}

func union(a, b Values) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
