package iam

import (
	"errors"
	"testing"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/principal"
)

// A refusal says which statement decided it, for the audit trail: the Deny's policy and
// Sid (or its position when it has none), or that no statement allowed.
func TestARefusalNamesItsDecidingStatement(t *testing.T) {
	e := newEnv(t)
	e.user("carol")
	e.do("PutUserPolicy", "UserName", "carol", "PolicyName", "base", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
		  {"Sid":"KeepProd","Effect":"Deny","Action":"rds:DeleteDBCluster","Resource":"arn:aws:rds:*:*:cluster:prod"},
		  {"Effect":"Deny","Action":"rds:RebootDBInstance","Resource":"*"}]}`)
	p, _ := principal.From(e.as("carol"))
	decide := func(action, arn string) *authz.Denial {
		err := e.svc.Authorize(e.root, p, action, []authz.Resource{authz.On(arn)}, map[string][]string{})
		var d *authz.Denial
		if err != nil && !errors.As(err, &d) {
			t.Fatalf("%s: not a Denial: %v", action, err)
		}
		return d
	}
	if d := decide("rds:DeleteDBCluster", "arn:aws:rds:us-east-1:"+testAccount+":cluster:prod"); d == nil ||
		d.Decision != "explicitDeny" || d.Policy != "base" || d.Statement != "KeepProd" {
		t.Errorf("explicit deny with a Sid: %+v", d)
	}
	if d := decide("rds:RebootDBInstance", "*"); d == nil || d.Statement != "#3" || d.Policy != "base" {
		t.Errorf("explicit deny without a Sid: %+v", d)
	}
	if d := decide("iam:CreateUser", "*"); d == nil || d.Decision != "implicitDeny" || d.Statement != "" || d.Policy != "" {
		t.Errorf("implicit deny: %+v", d)
	}
	if d := decide("rds:DeleteDBCluster", "arn:aws:rds:us-east-1:"+testAccount+":cluster:dev"); d != nil {
		t.Errorf("allowed: %+v", d)
	}
}
