package params

import "testing"

// TestPgauditParameters: the libraries a group may preload are the ones offered (never a
// path), pgaudit.log takes its classes, and pgaudit.role is never a service role.
func TestPgauditParameters(t *testing.T) {
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"shared_preload_libraries", "pgaudit", true},
		{"shared_preload_libraries", "pgaudit,pg_stat_statements", true},
		{"shared_preload_libraries", "/tmp/evil.so", false},
		{"shared_preload_libraries", "pgaudit,plpython3u", false},
		{"shared_preload_libraries", "$libdir/pgaudit", false},
		{"pgaudit.log", "ddl,role,-misc", true},
		{"pgaudit.log", "ALL", true},
		{"pgaudit.log", "everything", false},
		{"pgaudit.role", "rds_pgaudit", true},
		{"pgaudit.role", "auditor", true},
		{"pgaudit.role", "rdsadmin", false},
		{"pgaudit.role", "rds_superuser", false},
		{"pgaudit.role", "pg_read_all_data", false},
		{"pgaudit.role", "x'; DROP", false},
		{"pgaudit.log_level", "log", true},
		{"pgaudit.log_level", "error", false},
		{"pgaudit.log_parameter", "1", true},
		{"auto_explain.log_min_duration", "-1", true},
		{"auto_explain.log_min_duration", "0", true},
		{"auto_explain.log_min_duration", "-2", false},
		{"max_connections", "5", false},
		{"max_connections", "6", true},
	} {
		d, ok := Lookup(c.name)
		if !ok {
			t.Fatalf("%s is not in the catalogue", c.name)
		}
		if err := d.Validate(c.value); (err == nil) != c.ok {
			t.Errorf("%s = %q: %v, want ok=%v", c.name, c.value, err, c.ok)
		}
	}
	if d, _ := Lookup("shared_preload_libraries"); !d.Static {
		t.Error("shared_preload_libraries applies without a restart")
	}
	if s := ForServer(Values{"pgaudit.log_parameter": "1", "shared_preload_libraries": "pgaudit"}, true).Settings; s["pgaudit.log_parameter"] != "on" || s["shared_preload_libraries"] != "pgaudit" {
		t.Errorf("server settings %v", s)
	}
}
