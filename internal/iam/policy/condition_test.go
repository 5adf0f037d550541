package policy

import (
	"fmt"
	"testing"
)

// condCase: a Condition block, a request context, and whether the
// condition holds (an Allow statement guarded by it applies).
type condCase struct {
	cond string
	ctx  map[string][]string
	want bool
}

func runCondCases(t *testing.T, cases []condCase) {
	t.Helper()
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, tc.cond), func(t *testing.T) {
			req := Request{Action: "rds:CreateDBCluster", Resource: "*", Context: tc.ctx}
			got := decide(t, req, withCondition("Allow", tc.cond)) == Allow
			if got != tc.want {
				t.Fatalf("condition %s with context %v: holds=%v, want %v", tc.cond, tc.ctx, got, tc.want)
			}
			// A Deny guarded by a condition that can be decided applies
			// exactly when the Allow would.
			gotDeny := decide(t, req, allowAll, withCondition("Deny", tc.cond)) == ExplicitDeny
			if gotDeny != tc.want {
				t.Fatalf("as a Deny: applies=%v, want %v", gotDeny, tc.want)
			}
		})
	}
}

var none = map[string][]string{}

func TestStringOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{`{"StringEquals":{"aws:username":"bob"}}`, kv("aws:username", "bob"), true},
		{`{"StringEquals":{"aws:username":"bob"}}`, kv("aws:username", "Bob"), false},
		{`{"StringEquals":{"aws:username":"bob"}}`, none, false},
		{`{"StringEquals":{"aws:username":["alice","bob"]}}`, kv("aws:username", "bob"), true},
		{`{"StringEquals":{"aws:username":"b*"}}`, kv("aws:username", "bob"), false}, // no wildcards
		{`{"StringEquals":{"aws:username":"b*"}}`, kv("aws:username", "b*"), true},
		{`{"StringEquals":{"aws:username":[]}}`, kv("aws:username", "bob"), false},
		{`{"StringEqualsIfExists":{"aws:username":"bob"}}`, none, true},
		{`{"StringEqualsIfExists":{"aws:username":"bob"}}`, kv("aws:username", "eve"), false},
		{`{"StringEqualsIfExists":{"aws:username":"bob"}}`, kv("aws:username", "bob"), true},

		{`{"StringNotEquals":{"aws:username":"bob"}}`, kv("aws:username", "bob"), false},
		{`{"StringNotEquals":{"aws:username":"bob"}}`, kv("aws:username", "eve"), true},
		{`{"StringNotEquals":{"aws:username":"bob"}}`, none, true},                                 // negated operator, missing key
		{`{"StringNotEquals":{"aws:username":["alice","bob"]}}`, kv("aws:username", "bob"), false}, // NOR
		{`{"StringNotEquals":{"aws:username":["alice","bob"]}}`, kv("aws:username", "eve"), true},
		{`{"StringNotEqualsIfExists":{"aws:username":"bob"}}`, none, true},
		{`{"StringNotEqualsIfExists":{"aws:username":"bob"}}`, kv("aws:username", "bob"), false},

		{`{"StringEqualsIgnoreCase":{"aws:username":"BOB"}}`, kv("aws:username", "bob"), true},
		{`{"StringEqualsIgnoreCase":{"aws:username":"BOB"}}`, kv("aws:username", "eve"), false},
		{`{"StringEqualsIgnoreCase":{"aws:username":"BOB"}}`, none, false},
		{`{"StringEqualsIgnoreCaseIfExists":{"aws:username":"BOB"}}`, none, true},
		{`{"StringNotEqualsIgnoreCase":{"aws:username":"BOB"}}`, kv("aws:username", "bob"), false},
		{`{"StringNotEqualsIgnoreCase":{"aws:username":"BOB"}}`, kv("aws:username", "eve"), true},
		{`{"StringNotEqualsIgnoreCase":{"aws:username":"BOB"}}`, none, true},

		{`{"StringLike":{"s3:prefix":"home/*"}}`, kv("s3:prefix", "home/bob/x"), true},
		{`{"StringLike":{"s3:prefix":"home/*"}}`, kv("s3:prefix", "Home/bob"), false},
		{`{"StringLike":{"s3:prefix":"team-?"}}`, kv("s3:prefix", "team-a"), true},
		{`{"StringLike":{"s3:prefix":"team-?"}}`, kv("s3:prefix", "team-ab"), false},
		{`{"StringLike":{"s3:prefix":["","home/"]}}`, kv("s3:prefix", ""), true},
		{`{"StringLike":{"s3:prefix":"*"}}`, none, false},
		{`{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, none, true},
		{`{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, kv("ec2:InstanceType", "t2.micro"), true},
		{`{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, kv("ec2:InstanceType", "r5.large"), false},
		{`{"StringNotLike":{"s3:prefix":"home/*"}}`, kv("s3:prefix", "home/bob"), false},
		{`{"StringNotLike":{"s3:prefix":"home/*"}}`, kv("s3:prefix", "etc/passwd"), true},
		{`{"StringNotLike":{"s3:prefix":"home/*"}}`, none, true},
		{`{"StringNotLikeIfExists":{"s3:prefix":"home/*"}}`, kv("s3:prefix", "home/x"), false},
	})
}

func TestNumericOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{`{"NumericEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "10"), true},
		{`{"NumericEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "10.0"), true},
		{`{"NumericEquals":{"s3:max-keys":10}}`, kv("s3:max-keys", "1e1"), true},
		{`{"NumericEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "11"), false},
		{`{"NumericEquals":{"s3:max-keys":"10"}}`, none, false},
		{`{"NumericEqualsIfExists":{"s3:max-keys":"10"}}`, none, true},
		{`{"NumericNotEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "11"), true},
		{`{"NumericNotEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "10"), false},
		{`{"NumericNotEquals":{"s3:max-keys":["10","11"]}}`, kv("s3:max-keys", "11"), false},
		{`{"NumericNotEquals":{"s3:max-keys":"10"}}`, none, true},
		{`{"NumericLessThan":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "9"), true},
		{`{"NumericLessThan":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "10"), false},
		{`{"NumericLessThan":{"s3:max-keys":"0"}}`, kv("s3:max-keys", "-1.5"), true},
		{`{"NumericLessThan":{"s3:max-keys":"10"}}`, none, false},
		{`{"NumericLessThanIfExists":{"s3:max-keys":"10"}}`, none, true},
		{`{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "10"), true},
		{`{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, kv("s3:max-keys", "10.5"), false},
		{`{"NumericGreaterThan":{"rds:StorageSize":"100"}}`, kv("rds:StorageSize", "101"), true},
		{`{"NumericGreaterThan":{"rds:StorageSize":"100"}}`, kv("rds:StorageSize", "100"), false},
		{`{"NumericGreaterThanEquals":{"rds:StorageSize":"100"}}`, kv("rds:StorageSize", "100"), true},
		{`{"NumericGreaterThanEquals":{"rds:StorageSize":"100"}}`, kv("rds:StorageSize", "99.99"), false},
		{`{"NumericGreaterThanEqualsIfExists":{"rds:StorageSize":"100"}}`, kv("rds:StorageSize", "99"), false},
	})
}

func TestDateOperators(t *testing.T) {
	const (
		newYear      = "2024-01-01T00:00:00Z"
		newYearEpoch = "1704067200"
	)
	runCondCases(t, []condCase{
		{`{"DateLessThan":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", "2023-12-31T23:59:59Z"), true},
		{`{"DateLessThan":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", newYear), false},
		{`{"DateLessThan":{"aws:EpochTime":"` + newYear + `"}}`, kv("aws:EpochTime", "1704067199"), true}, // ISO policy, epoch request
		{`{"DateLessThan":{"aws:EpochTime":"` + newYear + `"}}`, kv("aws:EpochTime", newYearEpoch), false},
		{`{"DateEquals":{"aws:CurrentTime":"` + newYearEpoch + `"}}`, kv("aws:CurrentTime", newYear), true}, // epoch policy, ISO request
		{`{"DateEquals":{"aws:CurrentTime":"2024-01-01T01:00:00+01:00"}}`, kv("aws:CurrentTime", newYear), true},
		{`{"DateEquals":{"aws:CurrentTime":"2023-12-31T19:00:00-05:00"}}`, kv("aws:CurrentTime", newYear), true},
		{`{"DateEquals":{"aws:CurrentTime":"2024-01-01"}}`, kv("aws:CurrentTime", newYear), true},
		{`{"DateEquals":{"aws:CurrentTime":"2024-01-01t00:00:00.000z"}}`, kv("aws:CurrentTime", newYear), true},
		{`{"DateEquals":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", "2024-01-01T00:00:00.5Z"), false},
		{`{"DateEquals":{"aws:CurrentTime":"` + newYear + `"}}`, none, false},
		{`{"DateEqualsIfExists":{"aws:CurrentTime":"` + newYear + `"}}`, none, true},
		{`{"DateNotEquals":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", newYearEpoch), false},
		{`{"DateNotEquals":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", "1704067201"), true},
		{`{"DateNotEquals":{"aws:CurrentTime":"` + newYear + `"}}`, none, true},
		{`{"DateLessThanEquals":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", newYear), true},
		{`{"DateLessThanEquals":{"aws:CurrentTime":"` + newYear + `"}}`, kv("aws:CurrentTime", "2024-01-01T00:00:01Z"), false},
		{`{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}`, kv("aws:TokenIssueTime", "2020-06-01T12:00:00Z"), true},
		{`{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}`, kv("aws:TokenIssueTime", "2020-01-01T00:00:01Z"), false},
		{`{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}`, none, false}, // the doc's example: no temporary credentials
		{`{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-01"}}`, kv("aws:CurrentTime", newYear), true},
		{`{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-01"}}`, kv("aws:CurrentTime", "2023-12-31T23:59:59.999Z"), false},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2017-07-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2017-12-31T23:59:59Z"}}`, kv("aws:CurrentTime", "2017-09-01T12:00:00Z"), true},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2017-07-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2017-12-31T23:59:59Z"}}`, kv("aws:CurrentTime", "2018-01-01T00:00:00Z"), false},
	})
}

func TestBoolBinaryNull(t *testing.T) {
	runCondCases(t, []condCase{
		{`{"Bool":{"aws:SecureTransport":"true"}}`, kv("aws:SecureTransport", "true"), true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, kv("aws:SecureTransport", "false"), false},
		{`{"Bool":{"aws:SecureTransport":true}}`, kv("aws:SecureTransport", "TRUE"), true},
		{`{"Bool":{"aws:SecureTransport":"false"}}`, kv("aws:SecureTransport", "false"), true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, none, false},
		{`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, none, true},
		{`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, kv("aws:MultiFactorAuthPresent", "false"), true},
		{`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, kv("aws:MultiFactorAuthPresent", "true"), false},

		{`{"BinaryEquals":{"k:bin":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, kv("k:bin", "BinaryValueInBase64"), true},
		{`{"BinaryEquals":{"k:bin":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, kv("k:bin", "binaryvalueinbase64"), false},
		{`{"BinaryEquals":{"k:bin":"AP8="}}`, kv("k:bin", "\x00\xff"), true},
		{`{"BinaryEquals":{"k:bin":"AP8="}}`, none, false},
		{`{"BinaryEqualsIfExists":{"k:bin":"AP8="}}`, none, true},

		{`{"Null":{"aws:TokenIssueTime":"true"}}`, none, true},
		{`{"Null":{"aws:TokenIssueTime":"true"}}`, kv("aws:TokenIssueTime", "2024-01-01T00:00:00Z"), false},
		{`{"Null":{"aws:TokenIssueTime":"false"}}`, kv("aws:TokenIssueTime", "2024-01-01T00:00:00Z"), true},
		{`{"Null":{"aws:TokenIssueTime":"false"}}`, none, false},
		{`{"Null":{"aws:TokenIssueTime":false}}`, kv("aws:TokenIssueTime", ""), true},
		{`{"Null":{"aws:TokenIssueTime":"true"}}`, map[string][]string{"aws:TokenIssueTime": {}}, true}, // no values = absent
	})
}

func TestIPAddressOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "203.0.113.7"), true},
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "203.0.114.1"), false},
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "::ffff:203.0.113.7"), true}, // IPv4-mapped request
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "::ffff:203.0.114.7"), false},
		{`{"IpAddress":{"aws:SourceIp":"::ffff:203.0.113.0/120"}}`, kv("aws:SourceIp", "203.0.113.9"), true}, // IPv4-mapped policy
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, kv("aws:SourceIp", "203.0.113.7"), true},            // bare address = /32
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, kv("aws:SourceIp", "203.0.113.8"), false},
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.7/24"}}`, kv("aws:SourceIp", "203.0.113.200"), true}, // host bits ignored
		{`{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, kv("aws:SourceIp", "2001:db8:1234:5678::1"), true},
		{`{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, kv("aws:SourceIp", "2001:db8:1234:5679::1"), false},
		{`{"IpAddress":{"aws:SourceIp":"2001:db8::1"}}`, kv("aws:SourceIp", "2001:db8::1"), true}, // bare address = /128
		{`{"IpAddress":{"aws:SourceIp":"2001:db8::1"}}`, kv("aws:SourceIp", "2001:db8::2"), false},
		{`{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}`, kv("aws:SourceIp", "2001:db8:1234:5678:abcd::9"), true},
		{`{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}`, kv("aws:SourceIp", "198.51.100.1"), false},
		{`{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, kv("aws:SourceIp", "2001:db8::1"), false}, // families do not mix
		{`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, none, false},
		{`{"IpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`, none, true},
		{`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "198.51.100.1"), true},
		{`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "203.0.113.1"), false},
		{`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "::ffff:203.0.113.1"), false},
		{`{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`, kv("aws:SourceIp", "2001:db8::5"), false},
		{`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, none, true},
		{`{"NotIpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`, kv("aws:SourceIp", "203.0.113.1"), false},
	})
}

func TestARNOperators(t *testing.T) {
	const (
		pattern = "arn:aws:someservice:*:111122223333:finance/*"
		tricky  = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
		good    = "arn:aws:someservice:us-east-2:111122223333:finance/document.txt"
	)
	runCondCases(t, []condCase{
		// The example of the condition-operator reference: StringLike
		// matches, ArnLike (component by component) does not.
		{`{"StringLike":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", tricky), true},
		{`{"ArnLike":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", tricky), false},
		{`{"ArnLike":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", good), true},
		{`{"ArnEquals":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", good), true}, // ArnEquals = ArnLike
		{`{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}`, kv("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic"), true},
		{`{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}`, kv("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:Topic"), false},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:rds:*:*:db:*"}}`, kv("aws:SourceArn", "arn:aws:rds:eu-west-1:123456789012:db:a:b"), true},
		{`{"ArnLike":{"aws:SourceArn":"arn:aws:rds:*:*:db:*"}}`, none, false},
		{`{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:rds:*:*:db:*"}}`, none, true},
		{`{"ArnLike":{"aws:SourceArn":"*"}}`, kv("aws:SourceArn", good), true},
		{`{"ArnNotLike":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", tricky), true},
		{`{"ArnNotLike":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", good), false},
		{`{"ArnNotLike":{"aws:SourceArn":"` + pattern + `"}}`, none, true},
		{`{"ArnNotEquals":{"aws:SourceArn":"` + pattern + `"}}`, kv("aws:SourceArn", good), false},
		{`{"ArnNotEqualsIfExists":{"aws:SourceArn":"` + pattern + `"}}`, none, true},
	})
}

func TestConditionLogic(t *testing.T) {
	runCondCases(t, []condCase{
		// Operators AND.
		{`{"StringEquals":{"aws:username":"bob"},"NumericLessThan":{"s3:max-keys":"5"}}`, kv("aws:username", "bob", "s3:max-keys", "1"), true},
		{`{"StringEquals":{"aws:username":"bob"},"NumericLessThan":{"s3:max-keys":"5"}}`, kv("aws:username", "bob", "s3:max-keys", "9"), false},
		// Keys of one operator AND.
		{`{"StringEquals":{"ec2:ResourceTag/Project":"DataAnalytics","aws:PrincipalTag/Department":"Data"}}`, kv("ec2:ResourceTag/Project", "DataAnalytics", "aws:PrincipalTag/Department", "Data"), true},
		{`{"StringEquals":{"ec2:ResourceTag/Project":"DataAnalytics","aws:PrincipalTag/Department":"Data"}}`, kv("ec2:ResourceTag/Project", "DataAnalytics"), false},
		// Values of one key OR.
		{`{"StringEquals":{"aws:RequestTag/CostCenter":["A-123","B-456"]}}`, kv("aws:RequestTag/CostCenter", "B-456"), true},
		{`{"StringEquals":{"aws:RequestTag/CostCenter":["A-123","B-456"]}}`, kv("aws:RequestTag/CostCenter", "C-789"), false},
		// A plain operator on a multivalued request key: any value matching will do.
		{`{"StringEquals":{"aws:TagKeys":"a"}}`, map[string][]string{"aws:TagKeys": {"x", "a"}}, true},
		{`{"StringNotEquals":{"aws:TagKeys":"a"}}`, map[string][]string{"aws:TagKeys": {"x", "a"}}, false},
		{`{"StringNotEquals":{"aws:TagKeys":"a"}}`, map[string][]string{"aws:TagKeys": {"x", "y"}}, true},
	})
}

func TestSetOperators(t *testing.T) {
	tags := func(v ...string) map[string][]string { return map[string][]string{"aws:TagKeys": v} }
	runCondCases(t, []condCase{
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("c", "a"), true},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("c", "d"), false},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, none, false},     // missing key
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags(), false},   // no values
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags(""), false}, // empty data set
		{`{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a","b"]}}`, none, true},
		{`{"ForAnyValue:StringLike":{"dynamodb:requestedAttributes":["ID","PostDateTime"]}}`, map[string][]string{"dynamodb:requestedAttributes": {"UserName", "Message", "PostDateTime"}}, true},
		{`{"ForAnyValue:StringLike":{"dynamodb:requestedAttributes":["ID","PostDateTime"]}}`, map[string][]string{"dynamodb:requestedAttributes": {"UserName"}}, false},

		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("a", "b"), true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("b"), true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags("a", "c"), false},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, none, true},     // missing key
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, tags(""), true}, // empty data set
		{`{"ForAllValues:StringLike":{"dynamodb:requestedAttributes":["PostDateTime","Message","Tags"]}}`, map[string][]string{"dynamodb:requestedAttributes": {"PostDateTime", "UserName"}}, false},
		{`{"ForAllValues:StringLike":{"dynamodb:requestedAttributes":["Post*","Message","Tags"]}}`, map[string][]string{"dynamodb:requestedAttributes": {"PostDateTime", "Message"}}, true},

		// The table of the multivalued-context-key examples.
		{`{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, tags("key1:legal"), false},
		{`{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, tags("key1:hr", "key1:personnel"), false},
		{`{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, tags("key2:audit"), true},
		{`{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, none, true},
		{`{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}`, tags("key2:audit", "key1:x"), false},

		// Negated operators with ForAnyValue: some request value matches none of the policy values.
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}`, tags("a", "c"), true},
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}`, tags("a", "b"), false},
		{`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}`, none, false},

		// Set operators with other operator families.
		{`{"ForAnyValue:IpAddress":{"k:ips":"10.0.0.0/8"}}`, map[string][]string{"k:ips": {"192.0.2.1", "10.1.2.3"}}, true},
		{`{"ForAllValues:IpAddress":{"k:ips":"10.0.0.0/8"}}`, map[string][]string{"k:ips": {"192.0.2.1", "10.1.2.3"}}, false},
		{`{"ForAllValues:NumericLessThan":{"k:sizes":"100"}}`, map[string][]string{"k:sizes": {"1", "99"}}, true},
		{`{"ForAnyValue:ArnLike":{"k:arns":"arn:aws:rds:*:*:db:*"}}`, map[string][]string{"k:arns": {"arn:aws:s3:::b", "arn:aws:rds:us-east-1:1:db:x"}}, true},
	})
}
