package apiserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
)

const (
	testKey    = "AKIAAUDITTESTKEY0001"
	testSecret = "auditTestSecretKey/0000000000000000000000"
)

// fakeRDS answers every action with an empty result, and names the cluster it touches.
type fakeRDS struct{}

func (fakeRDS) Do(context.Context, string, awsquery.Params) (any, error) { return struct{}{}, nil }
func (fakeRDS) Authorization(_ context.Context, _ string, p awsquery.Params) ([]authz.Resource, map[string][]string) {
	return []authz.Resource{authz.On("arn:aws:rds:us-east-1:123456789012:cluster:" + p.Get("DBClusterIdentifier"))}, map[string][]string{}
}

// memTrail keeps events in memory; failing makes Record fail.
type memTrail struct {
	mu      sync.Mutex
	events  []audit.Event
	failing bool
}

func (m *memTrail) Record(_ context.Context, e audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		return errors.New("disk gone")
	}
	m.events = append(m.events, e)
	return nil
}

func testHandler(trail Recorder) *Handler {
	return New(Config{
		Region:   "us-east-1",
		Verifier: &sigv4.Verifier{Lookup: func(_ context.Context, id string) (string, bool, error) { return testSecret, true, nil }},
		Services: map[string]Endpoint{"rds": {Namespace: "ns", Version: "2014-10-31", Service: fakeRDS{}}},
		Authenticate: func(_ context.Context, id, _ string) (principal.Principal, error) {
			return principal.Principal{Type: principal.User, AccountID: "123456789012", ARN: "arn:aws:iam::123456789012:user/alice", UserID: "AIDAALICE", UserName: "alice", AccessKeyID: id}, nil
		},
		Authorize: func(_ context.Context, p principal.Principal, action string, rs []authz.Resource, _ map[string][]string) error {
			if action == "rds:DeleteDBCluster" {
				return &authz.Denial{Err: awsquery.Errorf(403, "AccessDenied", "denied"), Decision: "explicitDeny", Action: action, Resource: rs[0].ARN, Policy: "guard", Statement: "NoDelete"}
			}
			return nil
		},
		Log:   slog.New(slog.DiscardHandler),
		Trail: trail,
	})
}

func signedRequest(t testing.TB, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://api.test/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("User-Agent", "audit-test/1.0")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "rds", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(h http.Handler, r *http.Request) (int, string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestEveryCallIsRecordedWithItsDecisionAndNoSecret(t *testing.T) {
	trail := &memTrail{}
	h := testHandler(trail)
	serve(h, signedRequest(t, "Action=CreateDBCluster&Version=2014-10-31&DBClusterIdentifier=db1&MasterUserPassword=Sup3r-Secret-pw"))
	serve(h, signedRequest(t, "Action=DeleteDBCluster&Version=2014-10-31&DBClusterIdentifier=db1"))
	if len(trail.events) != 2 {
		t.Fatalf("%d events, want 2", len(trail.events))
	}
	c, d := trail.events[0], trail.events[1]
	if c.EventName != "CreateDBCluster" || c.UserIdentity.UserName != "alice" || c.UserIdentity.AccessKeyID != testKey ||
		c.UserAgent != "audit-test/1.0" || c.RequestParameters["masterUserPassword"] != audit.Hidden ||
		c.RequestParameters["dBClusterIdentifier"] != "db1" || c.Resources[0].Type != "AWS::RDS::DBCluster" || c.ErrorCode != "" {
		t.Errorf("allowed call: %+v", c)
	}
	auth, _ := d.AdditionalEventData["authorization"].(map[string]any)
	if d.ErrorCode != "AccessDenied" || auth["decision"] != "explicitDeny" || auth["statement"] != "NoDelete" || auth["policy"] != "guard" {
		t.Errorf("denied call: %+v", d)
	}
}

// A call whose event cannot be made durable is not acknowledged.
func TestACallIsNotAcknowledgedWithoutItsEvent(t *testing.T) {
	h := testHandler(&memTrail{failing: true})
	code, body := serve(h, signedRequest(t, "Action=DescribeDBClusters&Version=2014-10-31"))
	if code != http.StatusInternalServerError || !strings.Contains(body, "audit event could not be recorded") {
		t.Fatalf("%d %s", code, body)
	}
}

// A flood of unsigned requests records at most the budget's burst.
func TestRejectedRequestsAreRecordedWithinABudget(t *testing.T) {
	trail := &memTrail{}
	h := testHandler(trail)
	for range 3 * rejectedBurst {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBClusters&Version=2014-10-31"))
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAFLOOD/20260101/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=00")
		serve(h, r)
	}
	if n := len(trail.events); n < rejectedBurst || n > rejectedBurst+1 {
		t.Fatalf("%d events for %d rejected requests, want about %d", n, 3*rejectedBurst, rejectedBurst)
	}
	e := trail.events[0]
	if e.UserIdentity.Type != "Unknown" || e.UserIdentity.AccessKeyID != "AKIAFLOOD" || e.EventName != "DescribeDBClusters" || e.ErrorCode == "" {
		t.Fatalf("rejected request's event: %+v", e)
	}
}

// The trail's cost per call: the same signed call with the trail off and on (a real trail
// that fsyncs each event, concurrent calls sharing fsyncs). See BENCHMARKS.md.
func BenchmarkCallTrailOffVsOn(b *testing.B) {
	body := "Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=db1"
	run := func(b *testing.B, h http.Handler, parallelism int) {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if code, out := serve(h, signedRequest(b, body)); code != http.StatusOK {
					b.Fatalf("%d %s", code, out)
				}
			}
		})
	}
	for _, parallelism := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%dxGOMAXPROCS/off", parallelism), func(b *testing.B) { run(b, testHandler(nil), parallelism) })
		b.Run(fmt.Sprintf("callers=%dxGOMAXPROCS/on", parallelism), func(b *testing.B) {
			t, err := audit.Open(context.Background(), b.TempDir(), audit.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close()
			run(b, testHandler(t), parallelism)
		})
	}
}

// A caller allowed nothing cannot make each of its calls write a megabyte to the trail:
// the request's parameters are bounded as a whole, the left-out ones counted.
func TestACallsParametersAreBoundedInItsEvent(t *testing.T) {
	trail := &memTrail{}
	h := testHandler(trail)
	var b strings.Builder
	b.WriteString("Action=DeleteDBCluster&Version=2014-10-31&DBClusterIdentifier=db1")
	for i := range 120 {
		fmt.Fprintf(&b, "&Junk%03d=%s", i, strings.Repeat("x", 8<<10))
	}
	serve(h, signedRequest(t, b.String()))
	if len(trail.events) != 1 {
		t.Fatalf("%d events", len(trail.events))
	}
	e := trail.events[0]
	body, _ := json.Marshal(e)
	if len(body) > maxParams+4<<10 {
		t.Fatalf("the event is %d bytes", len(body))
	}
	if e.RequestParameters["dBClusterIdentifier"] != "db1" || e.AdditionalEventData["requestParametersOmitted"] == nil || e.ErrorCode != "AccessDenied" {
		t.Fatalf("%v %v", e.RequestParameters["dBClusterIdentifier"], e.AdditionalEventData)
	}
}

// countingRDS counts the actions carried out.
type countingRDS struct{ done int }

func (c *countingRDS) Do(context.Context, string, awsquery.Params) (any, error) {
	c.done++
	return struct{}{}, nil
}

// readyTrail is a memTrail that can say it has no room for an event.
type readyTrail struct {
	memTrail
	full bool
}

func (r *readyTrail) Ready(int64) error {
	if r.full {
		return errors.New("no space left on device")
	}
	return nil
}

// A trail that cannot take the call's event (a full volume) refuses the call before it is
// carried out: filling the volume must not let anyone act without a trace.
func TestACallIsNotCarriedOutWhenTheTrailHasNoRoom(t *testing.T) {
	trail := &readyTrail{full: true}
	h := testHandler(trail)
	svc := &countingRDS{}
	h.Services["rds"] = Endpoint{Namespace: "ns", Version: "2014-10-31", Service: svc}
	code, _ := serve(h, signedRequest(t, "Action=CreateDBCluster&Version=2014-10-31&DBClusterIdentifier=db1"))
	if svc.done != 0 || code < 500 {
		t.Fatalf("carried out %d times, answered %d", svc.done, code)
	}
	trail.full = false
	if code, _ := serve(h, signedRequest(t, "Action=CreateDBCluster&Version=2014-10-31&DBClusterIdentifier=db1")); svc.done != 1 || code != 200 {
		t.Fatalf("carried out %d times, answered %d", svc.done, code)
	}
}

// A secret access key pasted where the key id goes is not written to the trail, which
// every principal allowed cloudtrail:LookupEvents reads: only what looks like a key id is.
func TestARejectedRequestsClaimedKeyIsRecordedOnlyIfItLooksLikeAKeyID(t *testing.T) {
	trail := &memTrail{}
	h := testHandler(trail)
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("Action=DescribeDBClusters&Version=2014-10-31"))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=wJalrXUtnFEMIK7MDENGbPxRfiCYsecretKEYab/20260101/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=00")
	serve(h, r)
	if len(trail.events) != 1 || strings.Contains(fmt.Sprintf("%+v", trail.events[0]), "wJalrXUtnFEMI") {
		t.Fatalf("%+v", trail.events)
	}
}
