package policy

import "testing"

// Hand-built policies reach Evaluate without Parse's checks; whatever the
// evaluator cannot interpret must never turn a Deny into an Allow.
func TestFailClosed(t *testing.T) {
	stmt := func(effect string, conds ...Condition) Statement {
		return Statement{Sid: "S", Effect: effect, Action: []string{"rds:*"}, Resource: []string{"*"}, Condition: conds}
	}
	pol := func(sts ...Statement) *Policy { return &Policy{Version: Version2012, Statements: sts} }
	allowEverything := mustParse(t, allowAll)
	unknownOp := Condition{"StringEqualz", "aws:username", []string{"bob"}}
	ctx := kv("aws:username", "bob", "aws:SourceIp", "not-an-ip", "s3:max-keys", "ten")
	req := Request{Action: "rds:DeleteDBCluster", Resource: "arn:aws:rds:us-east-1:123456789012:cluster:prod", Context: ctx}

	tests := []struct {
		name     string
		policies []*Policy
		want     Decision
	}{
		{"unknown operator: Allow does not apply", []*Policy{pol(stmt("Allow", unknownOp))}, ImplicitDeny},
		{"unknown operator: Deny applies", []*Policy{allowEverything, pol(stmt("Deny", unknownOp))}, ExplicitDeny},
		{"unknown operator AND a false condition: Deny does not apply", []*Policy{allowEverything, pol(stmt("Deny", unknownOp,
			Condition{"StringEquals", "aws:username", []string{"eve"}}))}, Allow},
		{"unknown operator AND a true condition: Deny applies", []*Policy{allowEverything, pol(stmt("Deny", unknownOp,
			Condition{"StringEquals", "aws:username", []string{"bob"}}))}, ExplicitDeny},
		{"unknown qualifier", []*Policy{allowEverything, pol(stmt("Deny", Condition{"ForSomeValues:StringEquals", "aws:username", []string{"bob"}}))}, ExplicitDeny},
		{"NullIfExists is not an operator", []*Policy{pol(stmt("Allow", Condition{"NullIfExists", "aws:username", []string{"false"}}))}, ImplicitDeny},

		{"malformed CIDR: Allow with NotIpAddress does not apply", []*Policy{pol(stmt("Allow", Condition{"NotIpAddress", "aws:SourceIp", []string{"10.0.0.0/33"}}))}, ImplicitDeny},
		{"malformed CIDR: Deny applies", []*Policy{allowEverything, pol(stmt("Deny", Condition{"IpAddress", "aws:SourceIp", []string{"bogus"}}))}, ExplicitDeny},
		{"malformed CIDR even when the key is missing", []*Policy{allowEverything, pol(stmt("Deny", Condition{"IpAddress", "aws:VpcSourceIp", []string{"bogus"}}))}, ExplicitDeny},
		{"malformed request IP: Allow does not apply", []*Policy{pol(stmt("Allow", Condition{"NotIpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}}))}, ImplicitDeny},
		{"malformed request IP: Deny applies", []*Policy{allowEverything, pol(stmt("Deny", Condition{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}}))}, ExplicitDeny},
		{"malformed number", []*Policy{allowEverything, pol(stmt("Deny", Condition{"NumericGreaterThan", "s3:max-keys", []string{"5"}}))}, ExplicitDeny},
		{"malformed policy number", []*Policy{pol(stmt("Allow", Condition{"NumericNotEquals", "s3:max-keys", []string{"0x10"}}))}, ImplicitDeny},
		{"malformed date", []*Policy{pol(stmt("Allow", Condition{"DateNotEquals", "aws:CurrentTime", []string{"yesterday"}}))}, ImplicitDeny},
		{"malformed Bool", []*Policy{pol(stmt("Allow", Condition{"Bool", "aws:SecureTransport", []string{"yes"}}))}, ImplicitDeny},
		{"malformed Null", []*Policy{allowEverything, pol(stmt("Deny", Condition{"Null", "aws:TokenIssueTime", []string{"maybe"}}))}, ExplicitDeny},
		{"malformed base64", []*Policy{allowEverything, pol(stmt("Deny", Condition{"BinaryEquals", "k:bin", []string{"***"}}))}, ExplicitDeny},
		{"malformed ARN pattern", []*Policy{pol(stmt("Allow", Condition{"ArnNotLike", "aws:SourceArn", []string{"arn:aws:sns"}}))}, ImplicitDeny},
		{"request value not an ARN", []*Policy{allowEverything, pol(stmt("Deny", Condition{"ArnLike", "aws:username", []string{"arn:aws:iam::*:user/*"}}))}, ExplicitDeny},

		{"Effect other than Allow/Deny counts as Deny", []*Policy{allowEverything, pol(stmt("allow"))}, ExplicitDeny},
		{"no Action: Allow does not apply", []*Policy{pol(Statement{Effect: "Allow", Resource: []string{"*"}})}, ImplicitDeny},
		{"no Action: Deny applies", []*Policy{allowEverything, pol(Statement{Effect: "Deny", Resource: []string{"*"}})}, ExplicitDeny},
		{"no Resource: Deny applies", []*Policy{allowEverything, pol(Statement{Effect: "Deny", Action: []string{"rds:*"}})}, ExplicitDeny},
		{"no Resource: but the action does not match", []*Policy{allowEverything, pol(Statement{Effect: "Deny", Action: []string{"ec2:*"}})}, Allow},
		{"Action and NotAction disagree: Allow does not apply", []*Policy{pol(Statement{Effect: "Allow", Action: []string{"rds:*"}, NotAction: []string{"rds:Delete*"}, Resource: []string{"*"}})}, ImplicitDeny},
		{"Action and NotAction agree", []*Policy{pol(Statement{Effect: "Allow", Action: []string{"rds:*"}, NotAction: []string{"ec2:*"}, Resource: []string{"*"}})}, Allow},
		{"hand-built policy without conditions", []*Policy{pol(stmt("Allow"))}, Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate(req, tc.policies).Decision; got != tc.want {
				t.Fatalf("decision = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseRejectsUnknownOperators(t *testing.T) {
	for _, op := range []string{"StringEqualz", "stringequals", "ForSomeValues:StringEquals", "NullIfExists", "IfExists", "StringEqualsIfExistsIfExists"} {
		_, err := Parse(withCondition("Deny", `{"`+op+`":{"aws:username":"bob"}}`))
		if err == nil || err.Error() != ReasonSyntax {
			t.Errorf("operator %q: %v", op, err)
		}
	}
}

// Every operator name Parse accepts is one the evaluator knows.
func TestAllOperatorsKnown(t *testing.T) {
	for base := range baseOperators {
		names := []string{base, "ForAnyValue:" + base, "ForAllValues:" + base}
		if base != "Null" {
			names = append(names, base+"IfExists", "ForAnyValue:"+base+"IfExists", "ForAllValues:"+base+"IfExists")
		}
		for _, name := range names {
			if _, ok := parseOperator(name); !ok {
				t.Errorf("%s not recognised", name)
			}
		}
	}
	if len(baseOperators) != 27 {
		t.Errorf("%d base operators, want 27", len(baseOperators))
	}
}
