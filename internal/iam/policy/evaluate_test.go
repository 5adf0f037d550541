package policy

import (
	"reflect"
	"testing"
)

func TestEvaluateNoPolicies(t *testing.T) {
	want := Result{Decision: ImplicitDeny, PolicyIndex: -1, StatementIndex: -1}
	req := Request{Action: "rds:DescribeDBClusters", Resource: "*"}
	if got := Evaluate(req, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("no policies: %+v", got)
	}
	if got := Evaluate(req, []*Policy{nil, nil}); !reflect.DeepEqual(got, want) {
		t.Fatalf("nil policies: %+v", got)
	}
	if got := Evaluate(req, []*Policy{{}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("empty policy: %+v", got)
	}
}

func TestEvaluateDenyBeatsAllow(t *testing.T) {
	readWrite := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Reads","Effect":"Allow","Action":["rds:Describe*","rds:List*"],"Resource":"*"},
	  {"Sid":"Writes","Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:123456789012:cluster:*"}]}`)
	protect := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Unrelated","Effect":"Deny","Action":"iam:*","Resource":"*"},
	  {"Sid":"ProtectProd","Effect":"Deny","Action":["rds:Delete*","rds:Modify*"],"Resource":"arn:aws:rds:*:*:cluster:prod"}]}`)
	policies := []*Policy{readWrite, protect}
	const prod = "arn:aws:rds:us-east-1:123456789012:cluster:prod"

	got := Evaluate(Request{Action: "rds:DeleteDBCluster", Resource: prod}, policies)
	want := Result{Decision: ExplicitDeny, PolicyIndex: 1, StatementIndex: 1, Sid: "ProtectProd",
		Matched: []StatementRef{{1, 1, "ProtectProd"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("delete prod:\n got %+v\nwant %+v", got, want)
	}
	// The order of the policies does not matter.
	if got := Evaluate(Request{Action: "rds:DeleteDBCluster", Resource: prod}, []*Policy{protect, readWrite}); got.Decision != ExplicitDeny || got.PolicyIndex != 0 {
		t.Fatalf("reversed: %+v", got)
	}

	got = Evaluate(Request{Action: "rds:DescribeDBClusters", Resource: prod}, policies)
	want = Result{Decision: Allow, PolicyIndex: 0, StatementIndex: 0, Sid: "Reads",
		Matched: []StatementRef{{0, 0, "Reads"}, {0, 1, "Writes"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("describe prod:\n got %+v\nwant %+v", got, want)
	}

	got = Evaluate(Request{Action: "ec2:DescribeVpcs", Resource: "*"}, policies)
	if got.Decision != ImplicitDeny || got.PolicyIndex != -1 || got.StatementIndex != -1 || got.Sid != "" || got.Matched != nil {
		t.Fatalf("unrelated action: %+v", got)
	}
}

func TestDecisionString(t *testing.T) {
	for d, s := range map[Decision]string{ImplicitDeny: "implicitDeny", Allow: "allowed", ExplicitDeny: "explicitDeny"} {
		if d.String() != s {
			t.Errorf("%d.String() = %q", d, d.String())
		}
	}
	var zero Decision
	if zero != ImplicitDeny {
		t.Error("the zero Decision must deny")
	}
}

func TestContextKeysAreCaseInsensitive(t *testing.T) {
	doc := withCondition("Allow", `{"StringEquals":{"aws:PrincipalTag/Team":"db"}}`)
	for _, key := range []string{"aws:PrincipalTag/Team", "aws:principaltag/team", "AWS:PRINCIPALTAG/TEAM"} {
		if d := decide(t, Request{Action: "rds:X", Resource: "*", Context: kv(key, "db")}, doc); d != Allow {
			t.Errorf("context key %q: %v", key, d)
		}
	}
	// Values are not folded by StringEquals.
	if d := decide(t, Request{Action: "rds:X", Resource: "*", Context: kv("aws:principaltag/team", "DB")}, doc); d != ImplicitDeny {
		t.Errorf("value case: %v", d)
	}
	// Keys differing only in case are merged.
	ctx := map[string][]string{"aws:TagKeys": {"a"}, "AWS:TAGKEYS": {"b"}}
	forAll := withCondition("Allow", `{"ForAllValues:StringEquals":{"aws:tagkeys":["a","b"]}}`)
	forAny := withCondition("Allow", `{"ForAnyValue:StringEquals":{"aws:tagkeys":"b"}}`)
	if d := decide(t, Request{Action: "rds:X", Resource: "*", Context: ctx}, forAll); d != Allow {
		t.Errorf("merged keys, ForAllValues: %v", d)
	}
	if d := decide(t, Request{Action: "rds:X", Resource: "*", Context: ctx}, forAny); d != Allow {
		t.Errorf("merged keys, ForAnyValue: %v", d)
	}
	if len(ctx) != 2 {
		t.Error("Evaluate modified the caller's context")
	}
}
