package iam

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
)

// benchDecision runs the API server's decision path for one request: turn the access key
// into the caller, then authorize rds:CreateDBCluster.
func benchDecision(b *testing.B, e *env, keyID string, sessionToken ...string) {
	token := ""
	if len(sessionToken) > 0 {
		token = sessionToken[0]
	}
	ctx := context.Background()
	res := []authz.Resource{{ARN: "arn:aws:rds:us-east-1:" + testAccount + ":cluster:dev-orders"}}
	keys := map[string][]string{"aws:SourceIp": {"127.0.0.1"}, "aws:SecureTransport": {"false"}, "rds:DatabaseEngine": {"aurora-postgresql"}}
	b.ReportAllocs()
	for b.Loop() {
		p, err := e.svc.Authenticate(ctx, keyID, token)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.svc.Authorize(ctx, p, "rds:CreateDBCluster", res, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecisionRoot is the baseline: the root user, whom no policy is read for.
func BenchmarkDecisionRoot(b *testing.B) {
	benchDecision(b, newEnv(b), rootKeyID)
}

// BenchmarkDecisionUserWith10Policies: a user with 10 attached managed policies of 3
// statements each, the last of which allows the call.
func BenchmarkDecisionUserWith10Policies(b *testing.B) {
	e := newEnv(b)
	e.user("bench")
	for i := range 10 {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["rds:Describe*","rds:List*"],"Resource":"*"},
			{"Effect":"Deny","Action":"rds:Delete*","Resource":"arn:aws:rds:*:*:cluster:prod-*"},
			{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"arn:aws:rds:*:*:cluster:team%d-*",
			 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"StringEquals":{"rds:DatabaseEngine":"aurora-postgresql"}}}]}`, i)
		if i == 9 {
			doc = fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"arn:aws:rds:*:*:cluster:dev-*",
				 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"StringEquals":{"rds:DatabaseEngine":"aurora-postgresql"}}}]}`)
		}
		out := e.do("CreatePolicy", "PolicyName", fmt.Sprintf("p%d", i), "PolicyDocument", doc).(policyResult)
		e.do("AttachUserPolicy", "UserName", "bench", "PolicyArn", out.Policy.Arn)
	}
	benchDecision(b, e, e.key("bench").AccessKeyID)
}

// benchPolicies is the policy set both sides of the session benchmark carry: ten managed
// policies as above, the last allowing the call.
func benchPolicies(e *env) []string {
	var arns []string
	for i := range 10 {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["rds:Describe*","rds:List*"],"Resource":"*"},
			{"Effect":"Deny","Action":"rds:Delete*","Resource":"arn:aws:rds:*:*:cluster:prod-*"},
			{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"arn:aws:rds:*:*:cluster:team%d-*",
			 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"StringEquals":{"rds:DatabaseEngine":"aurora-postgresql"}}}]}`, i)
		if i == 9 {
			doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"arn:aws:rds:*:*:cluster:dev-*",
				"Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"StringEquals":{"rds:DatabaseEngine":"aurora-postgresql"}}}]}`
		}
		arns = append(arns, e.do("CreatePolicy", "PolicyName", fmt.Sprintf("p%d", i), "PolicyDocument", doc).(policyResult).Policy.Arn)
	}
	return arns
}

// BenchmarkSessionDecision compares, in one run, the decision for an assumed-role session
// (the role's ten policies, intersected with a session policy) with that for a user with the
// same ten policies: authentication (the session token's HMAC and inflation, the role read
// afresh) and authorization.
func BenchmarkSessionDecision(b *testing.B) {
	e := newEnv(b)
	arns := benchPolicies(e)
	e.user("bench")
	e.role("Bench")
	for _, arn := range arns {
		e.do("AttachUserPolicy", "UserName", "bench", "PolicyArn", arn)
		e.do("AttachRolePolicy", "RoleName", "Bench", "PolicyArn", arn)
	}
	key := e.key("bench").AccessKeyID
	r := e.do("GetRole", "RoleName", "Bench").(roleResult).Role
	id, _, token, err := e.svc.mintSession(sessionClaims{RoleID: r.RoleID, Name: "bench", Issued: testNow.Unix(), Expiry: testNow.Add(time.Hour).Unix(),
		Policies: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:dev-*"}]}`}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("user", func(b *testing.B) { benchDecision(b, e, key) })
	b.Run("assumed-role+session-policy", func(b *testing.B) { benchDecision(b, e, id, token) })
}
