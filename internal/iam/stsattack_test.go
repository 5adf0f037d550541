package iam

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// A transitive tag key named in another case than its tag (tag keys are case-insensitive)
// still passes the tag's value on to a chained session: it does not become an empty tag
// that a Deny on the value no longer matches.
func TestTransitiveTagKeyInAnotherCaseKeepsItsValue(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:*", "*"))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testAccount + `"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	e.role("First", "AssumeRolePolicyDocument", trust)
	e.role("Second", "AssumeRolePolicyDocument", trust)
	e.do("PutRolePolicy", "RoleName", "First", "PolicyName", "p", "PolicyDocument", allow("sts:*", "*"))
	e.do("PutRolePolicy", "RoleName", "Second", "PolicyName", "p", "PolicyDocument", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"},
		{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"contractor"}}}]}`)
	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "First"), RoleSessionName: aws.String("s0"),
		Tags: []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("contractor")}}, TransitiveTagKeys: []string{"TEAM", "team"}})
	if err != nil {
		t.Fatal(err)
	}
	_, first := e.withCreds(static(out.Credentials))
	out, err = first.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Second"), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := e.withCreds(static(out.Credentials))
	_, err = second.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Second")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
}

// Someone holding a user's access key cannot guess the user's MFA code through STS: after a
// few wrong codes, even the right one is refused for a while, so a million codes are not
// minutes of requests.
func TestSTSMFACodesCannotBeGuessed(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice")
	d := e.do("CreateVirtualMFADevice", "VirtualMFADeviceName", "alice-phone").(createVirtualMFADeviceResult).VirtualMFADevice
	seed := seedOf(t, d.Base32StringSeed)
	step := totpStep(e.clock.now())
	e.do("EnableMFADevice", "UserName", "alice", "SerialNumber", d.SerialNumber, "AuthenticationCode1", totpAt(seed, step-1), "AuthenticationCode2", totpAt(seed, step))
	e.clock.advance(2 * time.Minute)
	right := totpAt(seed, totpStep(e.clock.now()))
	wrong := "000000"
	if wrong == right {
		wrong = "000001"
	}
	for range 20 {
		_, err := aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(d.SerialNumber), TokenCode: aws.String(wrong)})
		apiError(t, err, "AccessDenied", http.StatusForbidden)
	}
	_, err := aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(d.SerialNumber), TokenCode: aws.String(right)})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	// Later, the right code works again.
	e.clock.advance(10 * time.Minute)
	if _, err := aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(d.SerialNumber), TokenCode: aws.String(totpAt(seed, totpStep(e.clock.now())))}); err != nil {
		t.Fatal(err)
	}
}
