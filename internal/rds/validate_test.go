package rds

import (
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
)

func code(err error) string {
	if err == nil {
		return ""
	}
	return awsquery.AsError(err).Code
}

func TestIdentifierRules(t *testing.T) {
	for id, want := range map[string]string{
		"prod":                        "",
		"Prod-DB-1":                   "",
		"a" + strings.Repeat("b", 62): "",
		"a" + strings.Repeat("b", 63): "InvalidParameterValue",
		"1prod":                       "InvalidParameterValue",
		"prod-":                       "InvalidParameterValue",
		"pr--od":                      "InvalidParameterValue",
		"pr_od":                       "InvalidParameterValue",
		"":                            "MissingParameter",
	} {
		got, err := checkIdentifier("DBClusterIdentifier", id)
		if code(err) != want {
			t.Errorf("%q: %v, want %s", id, err, want)
		}
		if err == nil && got != strings.ToLower(id) {
			t.Errorf("%q stored as %q, want lower-case", id, got)
		}
	}
}

func TestMasterUsernameRules(t *testing.T) {
	for name, ok := range map[string]bool{
		"postgres": true, "admin": true, "dbadmin2": true,
		"rdsadmin": false, "RDSADMIN": false, "2admin": false, "ad_min": false, "ad-min": false,
		"select": false, "public": false, strings.Repeat("a", 17): false, "": false,
	} {
		if err := checkMasterUsername(name); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", name, err, ok)
		}
	}
}

func TestPasswordRulesNeverEchoThePassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"eight888": true, "Ch4nge-me!#$%^&*()": true, strings.Repeat("x", 128): true,
		"seven77": false, strings.Repeat("x", 129): false, "has space1": false,
		"has/slash1": false, `has"quote1`: false, "has@at1234": false, "tab\tchar1": false, "ünïcode123": false,
	} {
		err := checkPassword(pw)
		if (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", pw, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("error for %q repeats the password", pw)
		}
	}
}

func TestEngineAndClassRules(t *testing.T) {
	// The major version and the exact installed one; nothing else, not even another 15.x.
	for version, ok := range map[string]bool{"": true, "15": true, "15.4": true,
		"15.99": false, "15.3": false, "15.4.1": false, "15.04": false, "16.1": false, "16": false, "14": false, " 15": false} {
		err := checkEngine("aurora-postgresql", version, "15.4")
		if ok && err != nil {
			t.Errorf("%q: %v", version, err)
		}
		if !ok && (code(err) != "InvalidParameterCombination" || awsquery.AsError(err).Message != "Cannot find version "+version+" for aurora-postgresql") {
			t.Errorf("%q: %v", version, err)
		}
	}
	if code(checkEngine("postgres", "15.4", "15.4")) != "InvalidParameterValue" {
		t.Error("postgres engine accepted")
	}
	for class, ok := range map[string]bool{"db.r6g.large": true, "db.t3.medium": true, "db.serverless": true, "db.m1.small": false, "r6g.large": false} {
		if err := checkInstanceClass(class, "15.4"); (err == nil) != ok {
			t.Errorf("%s: %v", class, err)
		}
	}
}
