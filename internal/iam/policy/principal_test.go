package policy

import (
	"errors"
	"strings"
	"testing"
)

const acct = "123456789012"

func trust(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParseTrust(doc)
	if err != nil {
		t.Fatalf("ParseTrust: %v", err)
	}
	return p
}

func TestTrustPrincipals(t *testing.T) {
	user := Caller{Account: acct, ARNs: []string{"arn:aws:iam::" + acct + ":user/alice"}}
	session := Caller{Account: acct, ARNs: []string{"arn:aws:sts::" + acct + ":assumed-role/App/s1"}, RoleARN: "arn:aws:iam::" + acct + ":role/App"}
	other := Caller{Account: "210987654321", ARNs: []string{"arn:aws:iam::210987654321:user/alice"}}
	assume := Request{Action: "sts:AssumeRole"}
	cases := []struct {
		name, principal string
		caller          Caller
		want            TrustResult
	}{
		{"account id delegates", `{"AWS":"` + acct + `"}`, user, TrustResult{Decision: Allow}},
		{"root arn delegates", `{"AWS":"arn:aws:iam::` + acct + `:root"}`, user, TrustResult{Decision: Allow}},
		{"user arn is direct", `{"AWS":"arn:aws:iam::` + acct + `:user/alice"}`, user, TrustResult{Decision: Allow, Direct: true}},
		{"another user", `{"AWS":"arn:aws:iam::` + acct + `:user/bob"}`, user, TrustResult{}},
		{"another account", `{"AWS":"` + acct + `"}`, other, TrustResult{}},
		{"star", `"*"`, other, TrustResult{Decision: Allow, Direct: true}},
		{"role arn names its sessions", `{"AWS":"arn:aws:iam::` + acct + `:role/App"}`, session, TrustResult{Allow, true, true}},
		{"session arn", `{"AWS":"arn:aws:sts::` + acct + `:assumed-role/App/s1"}`, session, TrustResult{Decision: Allow, Direct: true}},
		{"service never matches", `{"Service":"ec2.amazonaws.com"}`, user, TrustResult{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := trust(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":`+c.principal+`,"Action":"sts:AssumeRole"}]}`)
			if got := EvaluateTrust(assume, p, c.caller); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
	p := trust(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+acct+`"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x-1"}}},
		{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::`+acct+`:user/alice"},"Action":"sts:*"}]}`)
	if got := EvaluateTrust(assume, p, user); got.Decision != ImplicitDeny {
		t.Fatalf("no ExternalId: %+v", got)
	}
	if got := EvaluateTrust(Request{Action: "sts:AssumeRole", Context: map[string][]string{"sts:ExternalId": {"x-1"}}}, p, user); got.Decision != Allow {
		t.Fatalf("ExternalId: %+v", got)
	}
	if got := EvaluateTrust(Request{Action: "sts:AssumeRole", Context: map[string][]string{"sts:ExternalId": {"x-1"}}}, p, session); got.Decision != ExplicitDeny {
		t.Fatalf("NotPrincipal deny: %+v", got)
	}
	if got := EvaluateTrust(Request{Action: "sts:TagSession"}, trust(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`), user); got.Decision != ImplicitDeny {
		t.Fatalf("TagSession not granted: %+v", got)
	}
}

// A trust statement is never an identity policy: Evaluate does not let it allow anything,
// and ParseTrust refuses what IAM refuses.
func TestTrustPoliciesFailClosed(t *testing.T) {
	p := trust(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:*"}]}`)
	if got := Evaluate(Request{Action: "sts:AssumeRole", Resource: "*"}, []*Policy{p}); got.Decision != ImplicitDeny {
		t.Fatalf("a trust statement allowed as an identity policy: %+v", got)
	}
	if got := EvaluateTrust(Request{Action: "sts:AssumeRole"}, nil, Caller{Account: acct}); got.Decision != ImplicitDeny {
		t.Fatal("nil policy allowed")
	}
	for doc, reason := range map[string]string{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}`:                 reasonTrustResource,
		`{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`:                                                reasonTrustNoPrinc,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"iam:PassRole"}]}`:                                  ReasonTrustActions,
		`{"Statement":[{"Effect":"Allow","Principal":"*","NotAction":"sts:AssumeRole"}]}`:                             ReasonTrustActions,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:Get*"}]}`:                                      ReasonTrustActions,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/a*"},"Action":"sts:*"}]}`: `Invalid principal in policy: "AWS":"arn:aws:iam::` + acct + `:user/a*"`,
		`{"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"sts:AssumeRole"}]}`:            `Invalid principal in policy: "CanonicalUser":"abc"`,
		`{"Statement":[{"Effect":"Allow","Principal":"me","Action":"sts:AssumeRole"}]}`:                               ReasonSyntax,
	} {
		_, err := ParseTrust(doc)
		var me *MalformedError
		if !errors.As(err, &me) || me.Reason != reason {
			t.Errorf("%s: got %v, want %q", doc, err, reason)
		}
	}
	// Identity policies still refuse a principal.
	if _, err := Parse(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}`); err == nil {
		t.Fatal("Parse accepted a Principal")
	}
}

// Whatever ParseTrust accepts grants only AssumeRole-family actions, never allows anything
// as an identity policy, and evaluates without panicking.
func FuzzParseTrust(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::123456789012:user/a","*"]},"Action":"sts:*","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":["sts:TagSession","sts:Assume*"]},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::123456789012:assumed-role/R/s"},"Action":"sts:SetSourceIdentity"}]}`,
	} {
		f.Add(seed)
	}
	callers := []Caller{{Account: acct, ARNs: []string{"arn:aws:iam::" + acct + ":user/a"}}, {Account: "1", ARNs: []string{"*", ""}}, {}}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ParseTrust(doc)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) || me.Reason == "" || p != nil {
				t.Fatalf("ParseTrust error %#v", err)
			}
			return
		}
		for _, action := range []string{"sts:AssumeRole", "sts:TagSession", "rds:CreateDBCluster", "iam:PassRole", "*"} {
			if r := Evaluate(Request{Action: action, Resource: "*"}, []*Policy{p}); r.Decision == Allow {
				t.Fatalf("a trust policy allowed %s as an identity policy", action)
			}
			for _, c := range callers {
				r := EvaluateTrust(Request{Action: action, Context: kv("sts:ExternalId", "x")}, p, c)
				if r.Decision == Allow && !strings.HasPrefix(action, "sts:") {
					t.Fatalf("a trust policy allowed %s", action)
				}
			}
		}
	})
}
