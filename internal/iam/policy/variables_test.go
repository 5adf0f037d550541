package policy

import "testing"

func TestPolicyVariables(t *testing.T) {
	res := func(version, resource string) string {
		v := ""
		if version != "" {
			v = `"Version":"` + version + `",`
		}
		return `{` + v + `"Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"` + resource + `"}}`
	}
	user := func(name string) string { return "arn:aws:iam::123456789012:user/" + name }
	tests := []struct {
		name     string
		policy   string
		resource string
		ctx      map[string][]string
		want     Decision
	}{
		{"username", res(Version2012, "arn:aws:iam::*:user/${aws:username}"), user("bob"), kv("aws:username", "bob"), Allow},
		{"username other user", res(Version2012, "arn:aws:iam::*:user/${aws:username}"), user("alice"), kv("aws:username", "bob"), ImplicitDeny},
		{"variable key case", res(Version2012, "arn:aws:iam::*:user/${AWS:UserName}"), user("bob"), kv("aws:username", "bob"), Allow},
		{"missing key matches nothing", res(Version2012, "arn:aws:iam::*:user/${aws:username}"), user(""), nil, ImplicitDeny},
		{"missing key, literal text", res(Version2012, "arn:aws:iam::*:user/${aws:username}"), user("${aws:username}"), nil, ImplicitDeny},
		{"default value", res(Version2012, "arn:aws:iam::*:user/${aws:username, 'anonymous'}"), user("anonymous"), nil, Allow},
		{"default unused when key present", res(Version2012, "arn:aws:iam::*:user/${aws:username, 'anonymous'}"), user("anonymous"), kv("aws:username", "bob"), ImplicitDeny},
		{"default with quote", res(Version2012, "arn:aws:iam::*:user/${aws:username, 'o''brien'}"), user("o'brien"), nil, Allow},
		{"malformed default never resolves", res(Version2012, "arn:aws:iam::*:user/${aws:username, anonymous}"), user("anonymous"), nil, ImplicitDeny},
		{"multivalued key is not a variable", res(Version2012, "arn:aws:iam::*:user/${aws:TagKeys}"), user("a"), map[string][]string{"aws:TagKeys": {"a", "b"}}, ImplicitDeny},
		{"multivalued key with default", res(Version2012, "arn:aws:iam::*:user/${aws:TagKeys, 'x'}"), user("x"), map[string][]string{"aws:TagKeys": {"a", "b"}}, Allow},
		{"userid", res(Version2012, "arn:aws:iam::*:user/${aws:userid}"), user("AIDAEXAMPLE"), kv("aws:userid", "AIDAEXAMPLE"), Allow},
		{"principal account", res(Version2012, "arn:aws:iam::${aws:PrincipalAccount}:user/*"), user("bob"), kv("aws:PrincipalAccount", "123456789012"), Allow},
		{"principal account other", res(Version2012, "arn:aws:iam::${aws:PrincipalAccount}:user/*"), user("bob"), kv("aws:PrincipalAccount", "999999999999"), ImplicitDeny},
		{"principal tag", res(Version2012, "arn:aws:iam::*:user/${aws:PrincipalTag/team}/*"), user("db/bob"), kv("aws:PrincipalTag/team", "db"), Allow},
		{"source ip", res(Version2012, "arn:aws:iam::*:user/${aws:SourceIp}"), user("203.0.113.7"), kv("aws:SourceIp", "203.0.113.7"), Allow},
		{"current time", res(Version2012, "arn:aws:iam::*:user/${aws:CurrentTime}"), user("2024-01-01T00:00:00Z"), kv("aws:CurrentTime", "2024-01-01T00:00:00Z"), Allow},
		{"value is literal, not a wildcard", res(Version2012, "arn:aws:iam::*:user/${aws:username}"), user("bob"), kv("aws:username", "*"), ImplicitDeny},
		{"value star matches a star", res(Version2012, "arn:aws:iam::*:user/${aws:username}"), user("*"), kv("aws:username", "*"), Allow},
		{"escape star", res(Version2012, "arn:aws:iam::*:user/a${*}b"), user("a*b"), nil, Allow},
		{"escaped star is literal", res(Version2012, "arn:aws:iam::*:user/a${*}b"), user("axxb"), nil, ImplicitDeny},
		{"escape question mark", res(Version2012, "arn:aws:iam::*:user/a${?}"), user("a?"), nil, Allow},
		{"escaped question mark is literal", res(Version2012, "arn:aws:iam::*:user/a${?}"), user("ab"), nil, ImplicitDeny},
		{"escape dollar", res(Version2012, "arn:aws:iam::*:user/${$}{aws:username}"), user("${aws:username}"), kv("aws:username", "bob"), Allow},
		{"unclosed variable is text", res(Version2012, "arn:aws:iam::*:user/${aws:username"), user("${aws:username"), kv("aws:username", "bob"), Allow},
		{"2008: no substitution", res(Version2008, "arn:aws:iam::*:user/${aws:username}"), user("bob"), kv("aws:username", "bob"), ImplicitDeny},
		{"2008: literal text", res(Version2008, "arn:aws:iam::*:user/${aws:username}"), user("${aws:username}"), kv("aws:username", "bob"), Allow},
		{"2008: escapes are text", res(Version2008, "arn:aws:iam::*:user/a${*}b"), user("a${*}b"), nil, Allow},
		{"no Version: no substitution", res("", "arn:aws:iam::*:user/${aws:username}"), user("bob"), kv("aws:username", "bob"), ImplicitDeny},
		{"no Version: literal text", res("", "arn:aws:iam::*:user/${aws:username}"), user("${aws:username}"), nil, Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Action: "iam:CreateAccessKey", Resource: tc.resource, Context: tc.ctx}
			if got := decide(t, req, tc.policy); got != tc.want {
				t.Fatalf("decision = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVariablesInNotResource(t *testing.T) {
	// Deny everything outside the caller's own prefix. With the variable
	// unresolved the NotResource entry matches no resource, so the Deny
	// covers everything.
	deny := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}}`
	req := func(res string, ctx map[string][]string) Request {
		return Request{Action: "s3:GetObject", Resource: res, Context: ctx}
	}
	if d := decide(t, req("arn:aws:s3:::home/bob/x", kv("aws:username", "bob")), allowAll, deny); d != Allow {
		t.Errorf("own prefix: %v", d)
	}
	if d := decide(t, req("arn:aws:s3:::home/eve/x", kv("aws:username", "bob")), allowAll, deny); d != ExplicitDeny {
		t.Errorf("other prefix: %v", d)
	}
	if d := decide(t, req("arn:aws:s3:::home/bob/x", nil), allowAll, deny); d != ExplicitDeny {
		t.Errorf("no username: %v", d)
	}
}

func TestVariablesInConditions(t *testing.T) {
	runCondCases(t, []condCase{
		{`{"StringEquals":{"ec2:ResourceTag/VolumeUser":"${aws:username}"}}`, kv("ec2:ResourceTag/VolumeUser", "bob", "aws:username", "bob"), true},
		{`{"StringEquals":{"ec2:ResourceTag/VolumeUser":"${aws:username}"}}`, kv("ec2:ResourceTag/VolumeUser", "bob", "aws:username", "eve"), false},
		{`{"StringEquals":{"ec2:ResourceTag/VolumeUser":"${aws:username}"}}`, kv("ec2:ResourceTag/VolumeUser", "bob"), false},   // no value: no match
		{`{"StringNotEquals":{"ec2:ResourceTag/VolumeUser":"${aws:username}"}}`, kv("ec2:ResourceTag/VolumeUser", "bob"), true}, // a negated operator matches a null value
		{`{"StringEquals":{"s3:ExistingObjectTag/Team":"${aws:PrincipalTag/Team}"}}`, kv("s3:ExistingObjectTag/Team", "db", "aws:PrincipalTag/Team", "db"), true},
		{`{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}`, kv("s3:prefix", "home/bob/docs", "aws:username", "bob"), true},
		{`{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}`, kv("s3:prefix", "home/eve/docs", "aws:username", "bob"), false},
		{`{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}`, kv("s3:prefix", "home/x/docs", "aws:username", "*"), false}, // substituted '*' is literal
		{`{"StringLike":{"s3:prefix":"a${*}b"}}`, kv("s3:prefix", "a*b"), true},
		{`{"StringLike":{"s3:prefix":"a${*}b"}}`, kv("s3:prefix", "axb"), false},
		{`{"StringEqualsIgnoreCase":{"aws:username":"${aws:PrincipalTag/login}"}}`, kv("aws:username", "Bob", "aws:PrincipalTag/login", "bob"), true},
		{`{"StringEquals":{"aws:userid":"${aws:userid, 'anonymous'}"}}`, kv("aws:userid", "AIDA1"), true},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}`, kv("aws:SourceArn", "arn:aws:iam::123456789012:user/bob", "aws:PrincipalAccount", "123456789012"), true},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}`, kv("aws:SourceArn", "arn:aws:iam::123456789012:user/bob", "aws:PrincipalAccount", "999999999999"), false},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}`, kv("aws:SourceArn", "arn:aws:iam::123456789012:user/bob"), false},
		{`{"ArnNotLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}`, kv("aws:SourceArn", "arn:aws:iam::123456789012:user/bob"), true},
		{`{"Bool":{"aws:SecureTransport":"${aws:PrincipalTag/requireTLS}"}}`, kv("aws:SecureTransport", "true", "aws:PrincipalTag/requireTLS", "true"), true},
		{`{"Bool":{"aws:SecureTransport":"${aws:PrincipalTag/requireTLS}"}}`, kv("aws:SecureTransport", "false", "aws:PrincipalTag/requireTLS", "true"), false},
	})
	// 2008-10-17: condition values are literal too.
	legacy := `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"ec2:ResourceTag/VolumeUser":"${aws:username}"}}}}`
	req := Request{Action: "ec2:AttachVolume", Resource: "*", Context: kv("ec2:ResourceTag/VolumeUser", "bob", "aws:username", "bob")}
	if d := decide(t, req, legacy); d != ImplicitDeny {
		t.Errorf("2008 condition substituted: %v", d)
	}
	req.Context = kv("ec2:ResourceTag/VolumeUser", "${aws:username}")
	if d := decide(t, req, legacy); d != Allow {
		t.Errorf("2008 condition literal: %v", d)
	}
}

func TestVariablesNotInOtherOperators(t *testing.T) {
	// Numeric, IP and Binary values take no variables: "${...}" is not a
	// number, so the condition cannot be evaluated and fails closed.
	ctx := kv("s3:max-keys", "1", "aws:PrincipalTag/maxKeys", "10",
		"aws:SourceIp", "10.0.0.1", "aws:PrincipalTag/cidr", "10.0.0.0/8",
		"k:bin", "x", "aws:PrincipalTag/bin", "eA==")
	for _, cond := range []string{
		`{"NumericLessThan":{"s3:max-keys":"${aws:PrincipalTag/maxKeys}"}}`,
		`{"IpAddress":{"aws:SourceIp":"${aws:PrincipalTag/cidr}"}}`,
		`{"BinaryEquals":{"k:bin":"${aws:PrincipalTag/bin}"}}`,
	} {
		req := Request{Action: "s3:ListBucket", Resource: "*", Context: ctx}
		if d := decide(t, req, withCondition("Allow", cond)); d != ImplicitDeny {
			t.Errorf("%s as Allow: %v", cond, d)
		}
		if d := decide(t, req, allowAll, withCondition("Deny", cond)); d != ExplicitDeny {
			t.Errorf("%s as Deny: %v", cond, d)
		}
	}
	// A Date value must be a date even to be accepted.
	_, err := Parse(withCondition("Allow", `{"DateLessThan":{"aws:CurrentTime":"${aws:PrincipalTag/until}"}}`))
	if detail(err) == "" || err.Error() != ReasonLegacy {
		t.Errorf("Date value with a variable: %v", err)
	}
}
