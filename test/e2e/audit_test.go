package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// cloudTrailAs is a CloudTrail client signing with the given key.
func (s *server) cloudTrailAs(keyID, secret string) *cloudtrail.Client {
	return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.APIAddr),
		Credentials: staticCreds(keyID, secret), Retryer: connectionRetryer()})
}

// record is the part of a CloudTrail record the tests read.
type record struct {
	EventName    string `json:"eventName"`
	EventType    string `json:"eventType"`
	EventSource  string `json:"eventSource"`
	ErrorCode    string `json:"errorCode"`
	RequestID    string `json:"requestID"`
	UserIdentity struct {
		Type, ARN, UserName, AccessKeyID string
	} `json:"userIdentity"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	SessionFromConsole  string         `json:"sessionCredentialFromConsole"`
	AdditionalEventData struct {
		MFAUsed       string
		Authenticated *bool `json:"authenticated"`
		Authorization struct {
			Decision, Policy, Statement, Reason string
		} `json:"authorization"`
	} `json:"additionalEventData"`
}

// lookup returns every event (all pages) with one attribute, newest first.
func lookup(ctx context.Context, t *testing.T, c *cloudtrail.Client, key cttypes.LookupAttributeKey, value string) []record {
	t.Helper()
	var out []record
	in := &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: aws.String(value)}}}
	for {
		res, err := c.LookupEvents(ctx, in)
		if err != nil {
			t.Fatalf("LookupEvents %s=%s: %v", key, value, err)
		}
		for _, e := range res.Events {
			var r record
			if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &r); err != nil {
				t.Fatalf("CloudTrailEvent is not a record: %v\n%s", err, aws.ToString(e.CloudTrailEvent))
			}
			if string(key) == "EventName" && aws.ToString(e.EventName) != value {
				t.Fatalf("lookup by EventName %s returned %s", value, aws.ToString(e.EventName))
			}
			out = append(out, r)
		}
		if res.NextToken == nil {
			return out
		}
		in.NextToken = res.NextToken
	}
}

// consoleClient is a browser-like HTTP client: cookies, no redirects followed blindly.
func consoleClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

func consolePost(t *testing.T, c *http.Client, srv *server, path string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(srv.consoleURL(path), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// The audit trail: every kind of event is found through LookupEvents (aws-sdk-go-v2 and
// the aws CLI), a denial names its deciding statement, no secret of any request is in the
// trail, and verify passes, then fails on a changed byte, a removed event, two swapped.
func TestAuditTrailRecordsEveryCallSignInAndRefusal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	root := srv.iam(t)

	// The secrets this test sends; none may reach the trail.
	const (
		consolePassword = "Trail-pass-7Qz!"
		wrongPassword   = "Wrong-pass-9Kx!"
		masterPassword  = "Master-Secret-4Tr"
		deniedPassword  = "Denied-Secret-5Ws"
		bogusSecret     = "bogusSecretKeyForTheTrailTest0000000000x"
	)
	secrets := []string{consolePassword, wrongPassword, masterPassword, deniedPassword, bogusSecret}

	policy := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["cloudtrail:LookupEvents","rds:Describe*","rds:DeleteDBCluster"],"Resource":"*"},
	  {"Sid":"NoClusterDeletion","Effect":"Deny","Action":"rds:DeleteDBCluster","Resource":"arn:aws:rds:*:*:cluster:trail-*"}]}`
	keyID, secret := newUser(ctx, t, root, "trail-auditor", nil, map[string]string{"trail-audit": policy})
	secrets = append(secrets, secret)
	if _, err := root.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("trail-auditor"), Password: aws.String(consolePassword)}); err != nil {
		t.Fatal(err)
	}
	dev, err := root.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("trail-auditor-phone")})
	if err != nil {
		t.Fatal(err)
	}
	seed := dev.VirtualMFADevice.Base32StringSeed
	now := time.Now()
	code1, code2, code3 := totp(t, seed, now.Add(-30*time.Second)), totp(t, seed, now), totp(t, seed, now.Add(30*time.Second))
	secrets = append(secrets, string(seed), code1, code2, code3)
	if _, err := root.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("trail-auditor"), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String(code1), AuthenticationCode2: aws.String(code2)}); err != nil {
		t.Fatal(err)
	}
	account := consoleUser(ctx, t, srv, "trail-nobody", "Nobody-pass-3Lm!", nil, "")
	secrets = append(secrets, "Nobody-pass-3Lm!")

	// API calls: allowed, explicitly denied, implicitly denied (with a password), refused by
	// RDS after authorization (with a password), and unsigned garbage.
	auditor := srv.rdsAs(keyID, secret, "")
	if _, err := auditor.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = auditor.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("trail-nope"), SkipFinalSnapshot: aws.Bool(true)})
	denied(t, err, "rds:DeleteDBCluster", "explicit deny")
	_, err = auditor.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("trail-denied"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("master"), MasterUserPassword: aws.String(deniedPassword)})
	denied(t, err, "rds:CreateDBCluster", "no identity-based policy allows")
	_, err = srv.rds(t).CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("trail-invalid"), Engine: aws.String("oracle-ee"),
		MasterUsername: aws.String("master"), MasterUserPassword: aws.String(masterPassword)})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Fatalf("CreateDBCluster with engine oracle-ee: %v", err)
	}
	_, err = srv.rdsAs("AKIATRAILBOGUSKEY000", bogusSecret, "").DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
	if code, _ := apiError(t, err); code != "InvalidClientTokenId" {
		t.Fatalf("unknown key: %v", err)
	}

	// Console sign-ins: a wrong password, a user that does not exist, the right password
	// and a wrong MFA code, then the right code; and one page read in the session.
	b := consoleClient(t)
	if st, _ := consolePost(t, b, srv, "/signin", url.Values{"account": {account}, "user": {"trail-auditor"}, "password": {wrongPassword}}); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	if st, _ := consolePost(t, b, srv, "/signin", url.Values{"account": {account}, "user": {"trail-" + wrongPassword}, "password": {wrongPassword}}); st != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", st)
	}
	if st, body := consolePost(t, b, srv, "/signin", url.Values{"account": {account}, "user": {"trail-auditor"}, "password": {consolePassword}}); st != http.StatusOK || !strings.Contains(body, "MFA code") {
		t.Fatalf("right password: %d, want the MFA step", st)
	}
	if st, _ := consolePost(t, b, srv, "/mfa", url.Values{"code": {"000000"}}); st != http.StatusUnauthorized {
		t.Fatalf("wrong MFA code: %d", st)
	}
	if st, body := consolePost(t, b, srv, "/mfa", url.Values{"code": {code3}}); st != http.StatusOK || !strings.Contains(body, "Databases") {
		t.Fatalf("right MFA code: %d", st)
	}
	resp, err := b.Get(srv.consoleURL("/event-history?key=EventName&value=DeleteDBCluster"))
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	page.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(page.String(), "NoClusterDeletion") || !strings.Contains(page.String(), "trail-nope") {
		t.Fatalf("the console's event history does not show the denied deletion:\n%s", page.String())
	}
	// A user without cloudtrail:LookupEvents sees no history.
	nb := consoleClient(t)
	consolePost(t, nb, srv, "/signin", url.Values{"account": {account}, "user": {"trail-nobody"}, "password": {"Nobody-pass-3Lm!"}})
	resp, err = nb.Get(srv.consoleURL("/event-history"))
	if err != nil {
		t.Fatal(err)
	}
	page.Reset()
	page.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(page.String(), "AccessDenied") || strings.Contains(page.String(), "ConsoleLogin") {
		t.Fatalf("history for a user without cloudtrail:LookupEvents:\n%s", page.String())
	}

	ct := srv.cloudTrailAs(keyID, secret)

	// The explicit deny names its statement; the implicit one says nothing allowed.
	del := lookup(ctx, t, ct, cttypes.LookupAttributeKeyResourceName, "trail-nope")
	if len(del) != 1 || del[0].EventName != "DeleteDBCluster" || del[0].ErrorCode != "AccessDenied" ||
		del[0].AdditionalEventData.Authorization.Decision != "explicitDeny" ||
		del[0].AdditionalEventData.Authorization.Statement != "NoClusterDeletion" || del[0].AdditionalEventData.Authorization.Policy != "trail-audit" ||
		del[0].UserIdentity.UserName != "trail-auditor" || del[0].UserIdentity.AccessKeyID != keyID || del[0].SourceIPAddress != "127.0.0.1" ||
		!strings.Contains(del[0].UserAgent, "aws-sdk-go-v2") {
		t.Fatalf("denied deletion: %+v", del)
	}
	var sawImplicit, sawInvalid bool
	for _, r := range lookup(ctx, t, ct, cttypes.LookupAttributeKeyEventName, "CreateDBCluster") {
		switch r.RequestParameters["dBClusterIdentifier"] {
		case "trail-denied":
			sawImplicit = r.ErrorCode == "AccessDenied" && r.AdditionalEventData.Authorization.Decision == "implicitDeny" &&
				r.RequestParameters["masterUserPassword"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
		case "trail-invalid":
			sawInvalid = r.ErrorCode == "InvalidParameterValue" && r.AdditionalEventData.Authorization.Decision == "allowed" &&
				r.UserIdentity.Type == "Root" && r.RequestParameters["masterUserPassword"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
		}
	}
	if !sawImplicit || !sawInvalid {
		t.Fatalf("CreateDBCluster events: implicit deny %v, refused after authorization %v", sawImplicit, sawInvalid)
	}
	// The refused request, by the key it claimed. Refused requests are recorded within a
	// budget the shared serve's other tests may have spent: one more is let through every
	// 5 s, so the request is sent again until one is recorded.
	var bogus []record
	eventually(t, 30*time.Second, "the refused request's event", func() (bool, error) {
		if bogus = lookup(ctx, t, ct, cttypes.LookupAttributeKeyAccessKeyId, "AKIATRAILBOGUSKEY000"); len(bogus) > 0 {
			return true, nil
		}
		srv.rdsAs("AKIATRAILBOGUSKEY000", bogusSecret, "").DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		return false, nil
	})
	if len(bogus) < 1 || bogus[0].ErrorCode != "InvalidClientTokenId" || bogus[0].UserIdentity.Type != "Unknown" ||
		bogus[0].AdditionalEventData.Authenticated == nil || *bogus[0].AdditionalEventData.Authenticated {
		t.Fatalf("refused request: %+v", bogus)
	}
	// The allowed call, by user name; the console's own call is marked as the console's.
	var sawDescribe, sawConsoleCall bool
	for _, r := range lookup(ctx, t, ct, cttypes.LookupAttributeKeyUsername, "trail-auditor") {
		sawDescribe = sawDescribe || r.EventName == "DescribeDBClusters" && r.ErrorCode == "" && r.AdditionalEventData.Authorization.Decision == "allowed"
		sawConsoleCall = sawConsoleCall || r.EventName == "LookupEvents" && r.SessionFromConsole == "true"
	}
	if !sawDescribe || !sawConsoleCall {
		t.Fatalf("allowed call %v, console call %v", sawDescribe, sawConsoleCall)
	}
	// Sign-ins: each outcome, with MFAUsed; the unknown user's name is hidden.
	var logins []string
	for _, r := range lookup(ctx, t, ct, cttypes.LookupAttributeKeyEventName, "ConsoleLogin") {
		if r.EventType != "AwsConsoleSignIn" || r.EventSource != "signin.amazonaws.com" {
			t.Fatalf("ConsoleLogin event: %+v", r)
		}
		if u := r.UserIdentity.UserName; u == "trail-auditor" || u == "HIDDEN_DUE_TO_SECURITY_REASONS" {
			logins = append(logins, fmt.Sprintf("%s %v MFA:%s", u, r.ResponseElements["ConsoleLogin"], r.AdditionalEventData.MFAUsed))
		}
	}
	sort.Strings(logins)
	want := []string{"HIDDEN_DUE_TO_SECURITY_REASONS Failure MFA:No", "trail-auditor Failure MFA:No", "trail-auditor Failure MFA:Yes", "trail-auditor Success MFA:Yes"}
	for _, w := range want {
		if !strings.Contains(strings.Join(logins, "\n"), w) {
			t.Fatalf("console sign-ins %q, missing %q", logins, w)
		}
	}

	// Paging: one event a page, each page another event.
	first, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1),
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("trail-auditor")}}})
	if err != nil || len(first.Events) != 1 || first.NextToken == nil {
		t.Fatalf("first page: %v %+v", err, first)
	}
	second, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1), NextToken: first.NextToken,
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("trail-auditor")}}})
	if err != nil || len(second.Events) != 1 || aws.ToString(second.Events[0].EventId) == aws.ToString(first.Events[0].EventId) ||
		second.Events[0].EventTime.After(*first.Events[0].EventTime) {
		t.Fatalf("second page: %v %+v", err, second)
	}
	// CloudTrail's errors.
	start, end := time.Now(), time.Now().Add(-time.Hour)
	for name, c := range map[string]struct {
		in   *cloudtrail.LookupEventsInput
		code string
	}{
		"two attributes": {&cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("a")},
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("b")}}}, "InvalidLookupAttributesException"},
		"start after end":   {&cloudtrail.LookupEventsInput{StartTime: &start, EndTime: &end}, "InvalidTimeRangeException"},
		"51 results":        {&cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		"a forged token":    {&cloudtrail.LookupEventsInput{NextToken: aws.String("MTIzNC5mb3JnZWQ")}, "InvalidNextTokenException"},
		"another's token":   {&cloudtrail.LookupEventsInput{NextToken: first.NextToken}, "InvalidNextTokenException"},
		"an event category": {&cloudtrail.LookupEventsInput{EventCategory: "data"}, "InvalidEventCategoryException"},
	} {
		if _, err := ct.LookupEvents(ctx, c.in); err == nil {
			t.Errorf("%s: accepted", name)
		} else if code, status := apiError(t, err); code != c.code || status != 400 {
			t.Errorf("%s: %s/%d, want %s/400", name, code, status, c.code)
		}
	}
	rootID, rootSecret := srv.rootKey(t)
	if _, err := srv.cloudTrailAs(rootID, rootSecret).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{}); err == nil {
		t.Error("DescribeTrails accepted")
	} else if code, _ := apiError(t, err); code != "UnsupportedOperationException" {
		t.Errorf("DescribeTrails: %v", err)
	}
	// IAM decides who reads the trail.
	nobodyKey, err := root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("trail-nobody")})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, aws.ToString(nobodyKey.AccessKey.SecretAccessKey))
	_, err = srv.cloudTrailAs(aws.ToString(nobodyKey.AccessKey.AccessKeyId), aws.ToString(nobodyKey.AccessKey.SecretAccessKey)).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if code, status := apiError(t, err); code != "AccessDeniedException" || status != 403 || !strings.Contains(err.Error(), "cloudtrail:LookupEvents") {
		t.Fatalf("LookupEvents without permission: %v", err)
	}

	awsCLIFindsTheDeniedDeletion(t, srv, keyID, secret)

	// No secret of any request anywhere in the trail.
	files, _ := filepath.Glob(filepath.Join(srv.DataDir, "audit", "*"))
	if len(files) == 0 {
		t.Fatal("no trail files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("the trail (%s) holds a secret of the test: %q", filepath.Base(f), s)
			}
		}
	}

	verifyDetectsTampering(t, srv.DataDir)
}

// awsCLIFindsTheDeniedDeletion runs `aws cloudtrail lookup-events` as the auditor.
func awsCLIFindsTheDeniedDeletion(t *testing.T, srv *server, keyID, secret string) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Log("aws CLI not installed; skipping its check")
		return
	}
	run := func(args ...string) []record {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"cloudtrail", "lookup-events", "--endpoint-url", "http://" + srv.APIAddr, "--region", "us-east-1", "--output", "json"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws cloudtrail lookup-events %s: %v\n%s", args, err, out)
		}
		var res struct {
			Events []struct{ EventName, CloudTrailEvent string }
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("aws cloudtrail lookup-events: %v\n%s", err, out)
		}
		var recs []record
		for _, e := range res.Events {
			var r record
			if err := json.Unmarshal([]byte(e.CloudTrailEvent), &r); err != nil || r.EventName != e.EventName {
				t.Fatalf("CloudTrailEvent %v: %s", err, e.CloudTrailEvent)
			}
			recs = append(recs, r)
		}
		return recs
	}
	del := run("--lookup-attributes", "AttributeKey=EventName,AttributeValue=DeleteDBCluster", "--start-time", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	found := false
	for _, r := range del {
		found = found || r.AdditionalEventData.Authorization.Statement == "NoClusterDeletion"
	}
	if !found {
		t.Errorf("aws cloudtrail lookup-events: no denied deletion with its statement in %+v", del)
	}
	refused := run("--lookup-attributes", "AttributeKey=AccessKeyId,AttributeValue=AKIATRAILBOGUSKEY000")
	if len(refused) == 0 || refused[0].ErrorCode != "InvalidClientTokenId" || refused[0].UserIdentity.Type != "Unknown" {
		t.Errorf("aws cloudtrail lookup-events by the refused key: %+v", refused)
	}
	var kinds = map[string]bool{}
	for _, r := range run("--lookup-attributes", "AttributeKey=Username,AttributeValue=trail-auditor") {
		kinds[r.EventType+" "+r.EventName] = true
	}
	for _, k := range []string{"AwsConsoleSignIn ConsoleLogin", "AwsApiCall DeleteDBCluster", "AwsApiCall CreateDBCluster", "AwsApiCall DescribeDBClusters"} {
		if !kinds[k] {
			t.Errorf("aws cloudtrail lookup-events by user: no %s in %v", k, kinds)
		}
	}
}

// verifyDetectsTampering runs `borealis audit verify` on the live trail, then on copies of
// it with one byte changed, one event deleted, two events swapped.
func verifyDetectsTampering(t *testing.T, dataDir string) {
	t.Helper()
	verify := func(dir string) (string, error) {
		out, err := exec.Command(binary, "audit", "verify", "--data-dir", dir).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(dataDir); err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify on the live trail: %v\n%s", err, out)
	}
	segs, _ := filepath.Glob(filepath.Join(dataDir, "audit", "*.jsonl"))
	sort.Strings(segs)
	for name, c := range map[string]struct {
		edit func(lines [][]byte) [][]byte
		want string
	}{
		"a byte changed": {func(l [][]byte) [][]byte {
			i := bytes.Index(l[3], []byte(`"eventName":"`)) + len(`"eventName":"`)
			l[3][i] ^= 0x20 // the case of the event name's first letter
			return l
		}, "event 4 "},
		"an event deleted": {func(l [][]byte) [][]byte { return append(l[:3:3], l[4:]...) }, "event 4 was removed"},
		"two swapped":      {func(l [][]byte) [][]byte { l[3], l[4] = l[4], l[3]; return l }, "reordered"},
	} {
		copyDir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(filepath.Join(copyDir, "audit"), 0o700)
		for i, seg := range segs {
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			data = data[:bytes.LastIndexByte(data, '\n')+1] // serve may be mid-append
			if i == 0 {
				lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
				data = append(bytes.Join(c.edit(lines), []byte("\n")), '\n')
			}
			if err := os.WriteFile(filepath.Join(copyDir, "audit", filepath.Base(seg)), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, err := verify(copyDir)
		if err == nil || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, c.want) {
			t.Errorf("verify after %s: %v\n%s", name, err, out)
		}
	}
}

// kill -9 right after a call returns keeps the call's event: it was durable before the
// answer was written.
func TestAuditKill9RightAfterACallKeepsItsEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-audit-kill-")
	srv, err := startServer(dir, freeAddr(t), "--kernel-steering=false", "--dns-addr", "off")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	out, err := srv.iam(t).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("kill-nine")})
	if err != nil {
		t.Fatal(err)
	}
	requestID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	srv.kill()
	if requestID == "" {
		t.Fatal("no request id in the answer")
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "audit", "*.jsonl"))
	found := false
	for _, seg := range segs {
		data, _ := os.ReadFile(seg)
		found = found || bytes.Contains(data, []byte(`"requestID":"`+requestID+`"`))
	}
	if !found {
		t.Fatalf("after kill -9, the trail has no event for request %s", requestID)
	}
	// The restarted serve answers with it, and the trail is intact.
	srv2, err := startServer(dir, srv.APIAddr, "--kernel-steering=false", "--dns-addr", "off")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv2.stop)
	id, secret := srv2.rootKey(t)
	got := lookup(ctx, t, srv2.cloudTrailAs(id, secret), cttypes.LookupAttributeKeyEventName, "CreateUser")
	if len(got) != 1 || got[0].RequestID != requestID {
		t.Fatalf("after restart: %+v", got)
	}
	if out, err := exec.Command(binary, "audit", "verify", "--data-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("verify after kill -9: %v\n%s", err, out)
	}
}
