package params

import (
	"strings"
	"testing"
	"time"
)

func TestValidateFollowsTypeAndAllowedValues(t *testing.T) {
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"rds.force_ssl", "1", true}, {"rds.force_ssl", "2", false}, {"rds.force_ssl", "on", false},
		{"max_connections", "6", true}, {"max_connections", "5", false}, {"max_connections", "5000", true}, {"max_connections", "x", false},
		{"password_encryption", "scram-sha-256", true}, {"password_encryption", "plain", false},
		{"timezone", "Europe/Paris", true}, {"timezone", "Mars/Base", false}, {"timezone", "UTC'; x", false},
		{"rds.allowed_extensions", "*", true}, {"rds.allowed_extensions", "sslinfo,uuid-ossp", true}, {"rds.allowed_extensions", "a;b", false},
		{"ssl_ciphers", "HIGH:!aNULL", true}, {"ssl_ciphers", "HIGH' x", false},
	} {
		d, ok := Lookup(c.name)
		if !ok {
			t.Fatalf("%s not in the catalogue", c.name)
		}
		if err := d.Validate(c.value); (err == nil) != c.ok {
			t.Errorf("%s=%q: %v, want ok=%v", c.name, c.value, err, c.ok)
		}
	}
}

func TestStaticChangesWaitForTheReboot(t *testing.T) {
	started := Effective(nil, nil)
	dynamic := Effective(Values{"work_mem": "8192"}, nil)
	static := Effective(nil, Values{"max_connections": "50"})
	if NeedsReboot(started, dynamic, nil) {
		t.Error("a dynamic immediate change asks for a reboot")
	}
	if !NeedsReboot(started, dynamic, map[string]bool{"work_mem": true}) {
		t.Error("a dynamic change applied pending-reboot does not wait for the reboot")
	}
	if !NeedsReboot(started, static, nil) {
		t.Error("a static change does not wait for the reboot")
	}
	now := Running(started, Effective(Values{"work_mem": "8192"}, Values{"max_connections": "50"}), nil)
	if now["work_mem"] != "8192" || now["max_connections"] != "100" {
		t.Errorf("running values: work_mem %s (want 8192), max_connections %s (want 100 until the reboot)", now["work_mem"], now["max_connections"])
	}
}

func TestForServerTranslatesToPostgreSQL(t *testing.T) {
	v := Effective(Values{"rds.force_ssl": "1", "rds.accepted_password_auth_method": "scram", "log_connections": "1"}, nil)
	s := ForServer(v, true)
	if !s.ForceSSL || s.PasswordMethod != "scram-sha-256" || s.Settings["log_connections"] != "on" || s.Settings["rds.force_ssl"] != "on" {
		t.Errorf("ForServer = %+v", s)
	}
	if _, ok := ForServer(v, false).Settings["rds.force_ssl"]; ok {
		t.Error("rds.* settings written without the guard, which would stop PostgreSQL from starting")
	}
}

// TestDefaultExtensionsIsAReviewedList: the default of rds.allowed_extensions
// (which the guard's build also makes its C default) is a list of names, never
// "*", each named once.
func TestDefaultExtensionsIsAReviewedList(t *testing.T) {
	d, _ := Lookup("rds.allowed_extensions")
	if d.Default == "" || d.Default == "*" || !extListRE.MatchString(d.Default) {
		t.Fatalf("default %q: want a comma-separated list of names", d.Default)
	}
	seen := map[string]bool{}
	for _, n := range strings.Split(d.Default, ",") {
		if n == "*" || seen[n] {
			t.Errorf("default: %q twice or a wildcard", n)
		}
		seen[n] = true
	}
	if err := d.Validate(d.Default); err != nil {
		t.Errorf("the default does not validate: %v", err)
	}
}

// TestLogRetentionPeriod: rds.log_retention_period is RDS's: minutes, 1440 to 10080, 4320
// by default, dynamic, in both kinds of group; a value out of range is refused, and one
// that somehow is stored anyway counts as the default.
func TestLogRetentionPeriod(t *testing.T) {
	d, ok := Lookup(LogRetention)
	if !ok || d.Static || !d.Modifiable || d.Default != "4320" || d.Scope != BothScopes || d.PG != "" {
		t.Fatalf("%+v", d)
	}
	for _, v := range []string{"1439", "10081", "0", "-1", "3d", ""} {
		if d.Validate(v) == nil {
			t.Errorf("%q accepted", v)
		}
	}
	for _, v := range []string{"1440", "10080"} {
		if err := d.Validate(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	if got := LogRetentionOf(Values{}); got != 72*time.Hour {
		t.Errorf("default: %v", got)
	}
	if got := LogRetentionOf(Values{LogRetention: "1440"}); got != 24*time.Hour {
		t.Errorf("1440: %v", got)
	}
	if got := LogRetentionOf(Values{LogRetention: "60"}); got != 72*time.Hour {
		t.Errorf("60: %v", got)
	}
	if _, ok := ForServer(Values{LogRetention: "1440"}, true).Settings[LogRetention]; ok {
		t.Error("serve's own parameter reached postgresql.conf")
	}
}
