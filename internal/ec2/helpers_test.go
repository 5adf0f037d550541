package ec2

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/borealis-db/borealis/internal/apiserver"
	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
	"github.com/borealis-db/borealis/internal/store"
)

// The aws-sdk-go-v2 EC2 client is the oracle for the XML written here: it talks to the
// real API server (SigV4, routing by signing name, EC2's envelopes) in front of the service.

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	keyID       = "AKIAEC2TESTEC2TEST00"
	keySecret   = "ec2secretec2secretec2secretec2secret0000"
	deniedKeyID = "AKIAEC2DENIEDDENIED0" // the authorizer refuses every call signed with it
	// policyKeyID signs as a user whose calls IAM's evaluator decides against env.policy.
	policyKeyID = "AKIAEC2POLICYPOLICY0"
)

// env is a Service with its defaults, behind an httptest server, and an SDK client.
type env struct {
	t     *testing.T
	svc   *Service
	st    *store.Store
	path  string
	c     *ec2.Client
	url   string
	ctx   context.Context
	mu    sync.Mutex
	inUse map[string]string // group id -> user, for the InUse hook
	// notified counts calls of the notify hook.
	notified int
	// policy is the identity-based policy of the user signing with policyKeyID.
	policy *policy.Policy
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, path: path, ctx: ctx, inUse: map[string]string{}}
	e.svc = e.service(st)
	if err := e.svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	h := apiserver.New(apiserver.Config{
		Region: testRegion,
		Verifier: &sigv4.Verifier{Lookup: func(_ context.Context, id string) (string, bool, error) {
			return keySecret, id == keyID || id == deniedKeyID || id == policyKeyID, nil
		}},
		Services: map[string]apiserver.Endpoint{
			"ec2": {Namespace: Namespace, Version: Version, Service: e.svc, WriteResult: awsquery.WriteEC2Result, WriteError: awsquery.WriteEC2Error},
		},
		Authenticate: func(_ context.Context, id, _ string) (principal.Principal, error) {
			return principal.Principal{Type: principal.Root, AccountID: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root", UserID: testAccount, AccessKeyID: id}, nil
		},
		Authorize: func(_ context.Context, p principal.Principal, action string, res []authz.Resource, keys map[string][]string) error {
			if p.AccessKeyID == deniedKeyID {
				return awsquery.Errorf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s on resource: %s", p.ARN, action, res[0].ARN)
			}
			if p.AccessKeyID == policyKeyID {
				return e.evaluate(action, res, keys)
			}
			return nil
		},
		Log: slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.c = e.client(keyID)
	return e
}

func (e *env) service(st *store.Store) *Service {
	return New(Config{
		Region: testRegion, AccountID: testAccount,
		InUse: func(_ context.Context, id string) (string, bool) {
			e.mu.Lock()
			defer e.mu.Unlock()
			what, ok := e.inUse[id]
			return what, ok
		},
		Now: func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) },
	}, st, func() { e.mu.Lock(); e.notified++; e.mu.Unlock() }, slog.New(slog.DiscardHandler))
}

func (e *env) client(id string) *ec2.Client {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: keySecret}, nil
	})
	return ec2.New(ec2.Options{Region: testRegion, BaseEndpoint: aws.String(e.url), Credentials: creds, Retryer: aws.NopRetryer{}})
}

// asUser returns a client for a user whose only policy is doc, decided by IAM's evaluator
// on every resource the action names, as internal/iam does for a user.
func (e *env) asUser(doc string) *ec2.Client {
	e.t.Helper()
	pol, err := policy.Parse(doc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.policy = pol
	e.mu.Unlock()
	return e.client(policyKeyID)
}

func (e *env) evaluate(action string, res []authz.Resource, keys map[string][]string) error {
	e.mu.Lock()
	pol := e.policy
	e.mu.Unlock()
	for _, r := range res {
		action := action
		if r.Action != "" {
			action = r.Action
		}
		ctx := maps.Clone(keys)
		maps.Copy(ctx, r.Keys)
		if policy.Evaluate(policy.Request{Action: action, Resource: r.ARN, Context: ctx}, []*policy.Policy{pol}).Decision != policy.Allow {
			return awsquery.Errorf(http.StatusForbidden, "AccessDenied", "not authorized to perform: %s on resource: %s", action, r.ARN)
		}
	}
	return nil
}

// must returns v, or panics on err: the panic fails the test with the calling line in its
// trace, and lets a call's results be passed straight in.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// apiError checks an SDK error's code and HTTP status (400 unless given).
func apiError(t *testing.T, err error, code string, status ...int) {
	t.Helper()
	want := http.StatusBadRequest
	if len(status) > 0 {
		want = status[0]
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != want {
		t.Fatalf("%s: want HTTP %d, got %v", code, want, err)
	}
}

// errCase is one call that must fail with code.
type errCase struct {
	name string
	code string
	call func() error
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { apiError(t, c.call(), c.code) })
	}
}

// defaultVPC returns the default VPC's id and its default group's id.
func (e *env) defaultVPC() (vpcID, groupID string) {
	e.t.Helper()
	v := must(e.st.EC2().DefaultVPC(e.ctx))
	g := must(e.st.EC2().DefaultSecurityGroup(e.ctx, v.ID))
	return v.ID, g.ID
}

func (e *env) createVpc(cidr string) string {
	e.t.Helper()
	out := must(e.c.CreateVpc(e.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)}))
	return aws.ToString(out.Vpc.VpcId)
}

func (e *env) createSubnet(vpcID, cidr string) string {
	e.t.Helper()
	out := must(e.c.CreateSubnet(e.ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr)}))
	return aws.ToString(out.Subnet.SubnetId)
}

func (e *env) createGroup(name, vpcID string) string {
	e.t.Helper()
	in := &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name + " group")}
	if vpcID != "" {
		in.VpcId = aws.String(vpcID)
	}
	return aws.ToString(must(e.c.CreateSecurityGroup(e.ctx, in)).GroupId)
}

func (e *env) group(id string) store.SecurityGroup {
	e.t.Helper()
	return must(e.st.EC2().SecurityGroup(e.ctx, id))
}

// defaultSubnet returns the default VPC's subnet in zone a (172.31.0.0/20).
func (e *env) defaultSubnet() string {
	e.t.Helper()
	vpc, _ := e.defaultVPC()
	for _, sn := range must(e.st.EC2().Subnets(e.ctx, vpc)) {
		if sn.AvailabilityZone == testRegion+"a" {
			return sn.ID
		}
	}
	e.t.Fatal("no default subnet in zone a")
	return ""
}

// notifications returns how often the service has woken the reconciler.
func (e *env) notifications() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notified
}

// setInUse makes the InUse hook report groupID as used by what ("" clears it).
func (e *env) setInUse(groupID, what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if what == "" {
		delete(e.inUse, groupID)
	} else {
		e.inUse[groupID] = what
	}
}
