package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseMalformed(t *testing.T) {
	const v = `"Version":"2012-10-17",`
	stmt := func(body string) string { return `{` + v + `"Statement":` + body + `}` }
	tests := []struct {
		name, doc, reason string
	}{
		// Grammar: "Syntax errors in policy."
		{"not JSON", `This is not a json document`, ReasonSyntax},
		{"truncated JSON", `{"Version":"2012-10-17","Statement":{"Effect":"Allow"`, ReasonSyntax},
		{"trailing data", allowAll + `{}`, ReasonSyntax},
		{"array document", `[]`, ReasonSyntax},
		{"no Statement", `{"Version":"2012-10-17"}`, ReasonSyntax},
		{"empty Statement array", stmt(`[]`), ReasonSyntax},
		{"Statement of strings", stmt(`["afd"]`), ReasonSyntax},
		{"Statement string", stmt(`"x"`), ReasonSyntax},
		{"unknown Version", `{"Version":"2013-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`, ReasonSyntax},
		{"numeric Version", `{"Version":2012,"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`, ReasonSyntax},
		{"unknown top-level field", `{` + v + `"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"},"Extra field":"value"}`, ReasonSyntax},
		{"top-level field wrong case", `{"version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`, ReasonSyntax},
		{"unknown statement field", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Extra field":"value"}`), ReasonSyntax},
		{"Id array", `{` + v + `"Id":["x"],"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}`, ReasonSyntax},
		{"Effect invalid", stmt(`{"Effect":"invalid","Action":"s3:ListBucket","Resource":"*"}`), ReasonSyntax},
		{"Effect missing", stmt(`{"Action":"s3:ListBucket","Resource":"*"}`), ReasonSyntax},
		{"Effect not a string", stmt(`{"Effect":true,"Action":"s3:ListBucket","Resource":"*"}`), ReasonSyntax},
		{"Action and NotAction", stmt(`{"Effect":"Allow","NotAction":"s3:ListBucket","Action":"iam:dsf","Resource":"*"}`), ReasonSyntax},
		{"Action and empty NotAction", stmt(`{"Effect":"Allow","NotAction":"s3s:ListBucket","Action":[],"Resource":"*"}`), ReasonSyntax},
		{"Resource and NotResource", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","NotResource":"*"}`), ReasonSyntax},
		{"Resource object", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":{"a":"arn:aws:s3:::b"}}`), ReasonSyntax},
		{"Resource list with object", stmt(`{"Effect":"Deny","Action":"s3:ListBucket","Resource":["adfdf",{}]}`), ReasonSyntax},
		{"Action nested list", stmt(`{"Effect":"Deny","Action":[[]],"Resource":"*"}`), ReasonSyntax},
		{"Action object", stmt(`{"Effect":"Allow","Action":{},"Resource":"*"}`), ReasonSyntax},
		{"Action number", stmt(`{"Effect":"Allow","Action":7,"Resource":"*"}`), ReasonSyntax},
		{"Sid object", stmt(`{"Sid":{},"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}`), ReasonSyntax},
		{"Condition array", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":[]}`), ReasonSyntax},
		{"Condition string", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":"a"}`), ReasonSyntax},
		{"Condition operator not an object", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":"b"}}`), ReasonSyntax},
		{"Condition value object", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":{}}}}`), ReasonSyntax},
		{"Condition value null", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"a:b":null}}}`), ReasonSyntax},
		{"Condition value nested list", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"a:b":[["x"]]}}}`), ReasonSyntax},
		{"unknown condition operator", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"x":{"a":"1"}}}`), ReasonSyntax},
		{"misspelt operator", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEqual":{"a:b":"1"}}}`), ReasonSyntax},
		{"double colon qualifier", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue::StringEqualsIfExists":{"a":"asf"}}}`), ReasonSyntax},
		{"NullIfExists", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NullIfExists":{"a:b":"true"}}}`), ReasonSyntax},
		{"duplicate JSON key", stmt(`{"Effect":"Allow","Effect":"Deny","Action":"s3:ListBucket","Resource":"*"}`), ReasonSyntax},
		{"character outside U+0020..U+00FF", stmt(`{"Sid":"☃","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}`), ReasonSyntax},
		{"control character", "{\"Version\":\"2012-10-17\",\x01\"Statement\":[]}", ReasonSyntax},
		{"invalid UTF-8", "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"\xff\"}}", ReasonSyntax},

		// Identity policies have no principal.
		{"Principal", stmt(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"*"}`), ReasonPrincipal},
		{"NotPrincipal", stmt(`{"Effect":"Deny","NotPrincipal":"*","Action":"s3:ListBucket","Resource":"*"}`), ReasonPrincipal},

		// The legacy parser.
		{"Effect lower case", stmt(`{"Effect":"allow","Action":"s3:ListBucket","Resource":"*"}`), ReasonLegacy},
		{"Effect mixed case", stmt(`{"Effect":"denY","Action":"s3:ListBucket","Resource":"*"}`), ReasonLegacy},
		{"date condition not a date", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":"sdfdsf"}}}`), ReasonLegacy},
		{"date month 13", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThanEquals":{"a":"234-13"}}}`), ReasonLegacy},
		{"date one-digit zone", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThanEquals":{"a":"2016-12-13t2:00:00.593194+1"}}}`), ReasonLegacy},
		{"date epoch overflow", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThan":{"a":"9223372036854775808"}}}`), ReasonLegacy},
		{"short ARN with ::", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3::example_bucket"}`), ReasonLegacy},
		{"ARN without service", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws::fdsasf"}`), ReasonLegacy},
		{"NotResource short ARN", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3::example_bucket"}`), ReasonLegacy},

		// Statement IDs.
		{"duplicate Sid", stmt(`[{"Sid":"sdf","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"},{"Sid":"sdf","Effect":"Allow"}]`), ReasonDuplicateSid},
		{"Sid with hyphen", stmt(`{"Sid":"autogenerated-id","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}`), ReasonSidCharacters},
		{"Sid with space", stmt(`{"Sid":"my sid","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}`), ReasonSidCharacters},

		// Required elements.
		{"no Action", stmt(`{"Effect":"Allow","Resource":"*"}`), ReasonNoActions},
		{"empty Action", stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), ReasonNoActions},
		{"Effect only", stmt(`{"Effect":"Allow"}`), ReasonNoActions},
		{"actions are checked before resources", stmt(`[{"Effect":"Allow","Action":"s3:ListBucket"},{"Effect":"Deny","Resource":"*"}]`), ReasonNoActions},
		{"no Resource", stmt(`{"Effect":"Allow","Action":"s3:ListBucket"}`), ReasonNoResources},
		{"empty Resource", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":[]}`), ReasonNoResources},
		{"empty NotResource", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","NotResource":[]}`), ReasonNoResources},

		// Resource format.
		{"resource not an ARN", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"invalid resource"}`), `Resource invalid resource must be in ARN format or "*".`},
		{"empty resource", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":""}`), `Resource  must be in ARN format or "*".`},
		{"resource in list", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":["adf"]}`), `Resource adf must be in ARN format or "*".`},
		{"partition only", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"a:bsdfdsafsad"}`), `Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*".`},
		{"partition and service", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"a:b:cadfsdf"}`), `Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*".`},
		{"long bad partition", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"a:b:c:d:e:f:g:h"}`), `Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h".`},
		{"arn: prefix missing", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"aws:s3:::example_bucket"}`), `Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".`},
		{"no service", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws"}`), ReasonResourceVendor},
		{"IAM region", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:iam:us-east-1::user/x"}`), "IAM resource arn:aws:iam:us-east-1::user/x cannot contain region information."},
		{"S3 region", stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:us-east-1::example_bucket"}`), "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information."},

		// Action format.
		{"action without vendor", stmt(`{"Effect":"Allow","Action":"invalid","Resource":"*"}`), ReasonActionNoVendor},
		{"empty NotAction", stmt(`{"Effect":"Allow","NotAction":"","Resource":"*"}`), ReasonActionNoVendor},
		{"two colons", stmt(`{"Effect":"Allow","Action":"s3:List:Bucket","Resource":"*"}`), ReasonActionColons},
		{"two colons in second statement", stmt(`[{"Effect":"Allow","Action":"s3s:ListBucket","Resource":"*"},{"Effect":"Allow","Action":"s:3s:ListBucket","Resource":"*"}]`), ReasonActionColons},
		{"vendor with space", stmt(`{"Effect":"Allow","Action":"a a:ListBucket","Resource":"*"}`), "Vendor a a is not valid"},
		{"vendor wildcard", stmt(`{"Effect":"Allow","Action":["*:Untag*","s3:GetObject"],"Resource":"*"}`), ReasonVendorWildcard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.doc)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("Parse = %v, %v; want MalformedError %q", p, err, tc.reason)
			}
			if me.Reason != tc.reason {
				t.Fatalf("Reason = %q (%s); want %q", me.Reason, me.Detail, tc.reason)
			}
			if me.Error() != tc.reason {
				t.Fatalf("Error() = %q", me.Error())
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	docs := map[string]string{
		"minimal":                      allowAll,
		"statement object":             `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::example_bucket"]}}`,
		"2008 version":                 `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b/${aws:username}"}}`,
		"no version":                   `{"Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}`,
		"Id":                           `{"Version":"2012-10-17","Id":"sdfsdfsdf","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}}`,
		"NotAction NotResource":        `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:ListBucket","NotResource":"*"}}`,
		"action name with spaces":      `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam: asdf safdsf af ","Resource":"*"}}`,
		"vendor with dot and dash":     `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3-s:ListBucket","s3.s:ListBucket"],"Resource":"*"}}`,
		"short ARN":                    `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:fdsasf"}}`,
		"unknown service ARN":          `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:invalid-service:us-east-1::example_bucket"}}`,
		"other partitions":             `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"rds:*","Resource":["arn:aws-cn:rds:*:*:db:*","arn:aws-us-gov:rds:*:*:db:*"]}}`,
		"empty Condition":              `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{}}}`,
		"unknown operator no keys":     `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"x":{},"y":{}}}}`,
		"operator no keys":             `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{}}}}`,
		"empty value list":             `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateGreaterThan":{"a":[]}}}}`,
		"condition key without vendor": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEqualsIfExists":{"a":"asf"}}}}`,
		"qualified IfExists":           `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue:StringEqualsIfExists":{"a":"asf"}}}}`,
		"dates":                        `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"DateLessThanEquals":{"a":["2019-07-01T13:20:15Z","2016-12-13T21:20:37.593194+00:00","2016-12-13t2:00:00.593194+23","-292275054","01T","1700000000","2024-02-29"]}}}}`,
		"empty Sids may repeat":        `{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`,
		"latin-1 characters":           `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/café/*"}}`,
		"variables in resource":        `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::*:user/${aws:username}"}}`,
		"element order is free":        `{"Statement":{"Resource":"*","Action":"s3:ListBucket","Effect":"Allow"},"Version":"2012-10-17"}`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) { mustParse(t, doc) })
	}
}

func TestParseKeepsParsedForm(t *testing.T) {
	p := mustParse(t, `{
	  "Version": "2012-10-17",
	  "Id": "example",
	  "Statement": {
	    "Sid": "One",
	    "Effect": "Allow",
	    "Action": "rds:Describe*",
	    "Resource": ["*"],
	    "Condition": {
	      "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"], "rds:DatabaseEngine": "postgres"},
	      "NumericLessThanEquals": {"rds:StorageSize": 100},
	      "Bool": {"aws:SecureTransport": true}
	    }
	  }
	}`)
	want := &Policy{
		Version: Version2012,
		ID:      "example",
		Statements: []Statement{{
			Sid:      "One",
			Effect:   "Allow",
			Action:   []string{"rds:Describe*"},
			Resource: []string{"*"},
			Condition: []Condition{
				{"StringEquals", "aws:RequestedRegion", []string{"eu-west-1", "eu-central-1"}},
				{"StringEquals", "rds:DatabaseEngine", []string{"postgres"}},
				{"NumericLessThanEquals", "rds:StorageSize", []string{"100"}},
				{"Bool", "aws:SecureTransport", []string{"true"}},
			},
		}},
	}
	got := *p
	got.compiled = nil
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("parsed form:\n got %+v\nwant %+v", got, *want)
	}
	if p.compiled == nil {
		t.Fatal("Parse did not compile the policy")
	}
}

func TestParseManaged(t *testing.T) {
	body := `"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::example_bucket"}`
	for name, tc := range map[string]struct{ doc, reason string }{
		"2012":                  {`{"Version":"2012-10-17",` + body + `}`, ""},
		"no Version":            {`{` + body + `}`, ReasonVersion},
		"2008":                  {`{"Version":"2008-10-17",` + body + `}`, ReasonVersion},
		"version before legacy": {`{"Statement":{"Effect":"denY","Action":"s3:ListBucket","Resource":"*"}}`, ReasonVersion},
		"syntax before version": {`{"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Bad":1}}`, ReasonSyntax},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseManaged(tc.doc)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("ParseManaged: %v", err)
				}
				return
			}
			var me *MalformedError
			if !errors.As(err, &me) || me.Reason != tc.reason {
				t.Fatalf("ParseManaged = %v; want %q", err, tc.reason)
			}
		})
	}
	// Parse (inline policies) accepts both versions.
	if _, err := Parse(`{` + body + `}`); err != nil {
		t.Fatalf("Parse without Version: %v", err)
	}
}

// bigPolicy returns a valid 2012 policy of exactly n non-whitespace
// characters, padded with white space to show that it is not counted.
func bigPolicy(t *testing.T, n int) string {
	head := `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::`
	tail := `"}}`
	pad := n - Size(head) - Size(tail)
	if pad < 1 {
		t.Fatalf("n too small")
	}
	doc := head + strings.Repeat("b", pad) + tail + "\n\n\t  "
	if Size(doc) != n {
		t.Fatalf("Size = %d, want %d", Size(doc), n)
	}
	return doc
}

func TestSizeLimits(t *testing.T) {
	if got := Size(" {\n\t\"a\" : \"b c\" }\r\n"); got != 10 {
		t.Fatalf("Size = %d, want 10", got)
	}
	if _, err := ParseManaged(bigPolicy(t, ManagedPolicyMaxSize)); err != nil {
		t.Fatalf("policy at the quota: %v", err)
	}
	_, err := ParseManaged(bigPolicy(t, ManagedPolicyMaxSize+1))
	var le *LimitExceededError
	if !errors.As(err, &le) || le.Reason != "Cannot exceed quota for PolicySize: 6144" || le.Size != 6145 || le.Limit != 6144 {
		t.Fatalf("oversized managed policy: %#v", err)
	}

	a, b := bigPolicy(t, 1000), bigPolicy(t, 1048)
	if err := CheckInlineSize(EntityUser, "bob", a, b); err != nil {
		t.Fatalf("2048 characters for a user: %v", err)
	}
	err = CheckInlineSize(EntityUser, "bob", a, b, `{"x":1}`)
	if !errors.As(err, &le) || le.Reason != "Maximum policy size of 2048 bytes exceeded for user bob" {
		t.Fatalf("user aggregate: %v", err)
	}
	if err := CheckInlineSize(EntityGroup, "admins", a, b, bigPolicy(t, 3072)); err != nil {
		t.Fatalf("5120 characters for a group: %v", err)
	}
	err = CheckInlineSize(EntityGroup, "admins", a, b, bigPolicy(t, 3073))
	if !errors.As(err, &le) || le.Reason != "Maximum policy size of 5120 bytes exceeded for group admins" {
		t.Fatalf("group aggregate: %v", err)
	}
	err = CheckInlineSize(EntityRole, "r", bigPolicy(t, 10241))
	if !errors.As(err, &le) || le.Reason != "Maximum policy size of 10240 bytes exceeded for role r" {
		t.Fatalf("role aggregate: %v", err)
	}
	if err := CheckInlineSize("bucket", "x"); err == nil {
		t.Fatal("unknown entity kind accepted")
	}
}

func TestContextKeys(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*",
	   "Condition":{"StringLike":{"s3:prefix":"${aws:PrincipalTag/team, 'none'}/*"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
	  {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"AWS:UserName":"${*}"},"NumericLessThan":{"s3:max-keys":"${aws:ignored}"}}}]}`)
	want := []string{"aws:username", "s3:prefix", "aws:PrincipalTag/team", "aws:SourceIp", "s3:max-keys"}
	if got := p.ContextKeys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ContextKeys = %q, want %q", got, want)
	}
	legacy := mustParse(t, `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}"}}`)
	if got := legacy.ContextKeys(); len(got) != 0 {
		t.Fatalf("2008 policy ContextKeys = %q", got)
	}
}

func TestDuplicateKeysInLargeObjects(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{`)
	for i := range 40 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k:` + strings.Repeat("x", i) + `":"v"`)
	}
	ok := b.String() + `}}}}`
	if _, err := Parse(ok); err != nil {
		t.Fatalf("40 distinct keys: %v", err)
	}
	dup := b.String() + `,"k:xxx":"w"}}}}`
	if _, err := Parse(dup); err == nil || err.Error() != ReasonSyntax {
		t.Fatalf("duplicate among 41 keys: %v", err)
	}
}
