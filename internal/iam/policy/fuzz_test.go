package policy

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		allowAll, administratorAccess, amazonRDSReadOnlyAccess, amazonRDSFullAccess, guardRails,
		`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}`,
		withCondition("Deny", `{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"},"DateLessThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}`),
		withCondition("Allow", `{"StringLike":{"s3:prefix":"${aws:username, 'x'}/${*}"},"ArnLike":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:*"}}`),
		withCondition("Allow", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::ffff:1.2.3.0/120"]},"Null":{"x:y":true},"NumericLessThan":{"n:n":1e3}}`),
		`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"a:b","Resource":"arn:aws:iam:us-east-1::x"}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*"}}`,
		`{"a":[[[[[[[[[[]]]]]]]]]]}`, `{"Version":"2012-10-17","Version":"2012-10-17"}`, ``, `null`, `"x"`, `{`,
	} {
		f.Add(seed)
	}
	requests := []Request{
		{Action: "rds:CreateDBCluster", Resource: "arn:aws:rds:us-east-1:123456789012:cluster:x"},
		{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/bob/x", Context: kv("aws:username", "bob", "aws:TagKeys", "key1:a",
			"aws:CurrentTime", "2023-01-01T00:00:00Z", "aws:SourceIp", "10.1.1.1", "n:n", "5", "aws:SourceArn", "arn:aws:iam::1:user/u")},
		{Action: "*", Resource: "*", Context: map[string][]string{"AWS:UserName": {"*", "?"}, "s3:prefix": {""}}},
	}
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse(doc)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) || me.Reason == "" {
				t.Fatalf("Parse error %#v is not a MalformedError with a reason", err)
			}
			if p != nil {
				t.Fatal("Parse returned a policy and an error")
			}
		} else {
			p.ContextKeys()
			for _, req := range requests {
				r := Evaluate(req, []*Policy{p})
				if (r.Decision == ImplicitDeny) != (len(r.Matched) == 0) {
					t.Fatalf("inconsistent result %+v", r)
				}
				// The compiled and the on-the-fly paths agree.
				fresh := *p
				fresh.compiled = nil
				if r2 := Evaluate(req, []*Policy{&fresh}); r2.Decision != r.Decision {
					t.Fatalf("compiled %v, fresh %v", r.Decision, r2.Decision)
				}
			}
		}
		if _, err := ParseManaged(doc); err != nil {
			var me *MalformedError
			var le *LimitExceededError
			if !errors.As(err, &me) && !errors.As(err, &le) {
				t.Fatalf("ParseManaged error %#v", err)
			}
		}
	})
}

// FuzzGlob checks the wildcard matcher against regexp.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"a*b?c", "axxbyc"}, {"*", ""}, {"?", "é"}, {"*a*a*a", "aaaa"}, {"arn:aws:*:*", "arn:aws:s3:::b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) || len(pattern) > 64 {
			return
		}
		var re strings.Builder
		re.WriteString(`^(?s)`)
		for _, r := range pattern {
			switch r {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		p := compilePattern(pattern, false, true)
		if got := matchTokens(p.toks, s); got != want {
			t.Fatalf("match(%q, %q) = %v, regexp says %v", pattern, s, got, want)
		}
	})
}
