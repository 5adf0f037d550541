package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	binenc "encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/chromedp/chromedp"
)

// browser starts Debian's headless Chromium for one test, with the flags this closed
// network needs (no background fetches, no first-run work).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is needed for the console tests (scripts/install-deps.sh installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser and must not carry a timeout: it would end the
	// browser with it. Later steps get one each (see do).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds one browser step, so that a missing element fails the test instead of
// waiting forever.
const stepTimeout = 90 * time.Second

// do runs browser steps in order.
func do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// get runs one browser action that returns a value.
func get[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// screenshot keeps a picture of the page as a test artifact, in test/e2e/artifacts.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := get(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join("artifacts", "console")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// consoleUser makes an IAM user with a console password and the given managed policies,
// and returns the account id.
func consoleUser(ctx context.Context, t *testing.T, srv *server, name, password string, policies []string, inline string) string {
	t.Helper()
	c := srv.iam(t)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(name), Password: aws.String(password)}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range policies {
		if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	if inline != "" {
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("console-extra"), PolicyDocument: aws.String(inline)}); err != nil {
			t.Fatal(err)
		}
	}
	id, secret := srv.rootKey(t)
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr), Credentials: staticCreds(id, secret)}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(who.Account)
}

func (s *server) consoleURL(path string) string { return "http://" + s.APIAddr + "/console" + path }

// signIn fills the sign-in form and returns the text of the page it lands on.
func signIn(t *testing.T, ctx context.Context, srv *server, account, user, password string) string {
	t.Helper()
	err := do(ctx,
		chromedp.Navigate(srv.consoleURL("/signin")),
		chromedp.WaitVisible(css(`#password`)),
		chromedp.SetValue(css(`#account`), account),
		chromedp.SendKeys(css(`#user`), user),
		chromedp.SendKeys(css(`#password`), password),
		submit(`#password`),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
	return mainText(t, ctx)
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// submit submits the form of the element sel and waits for the page it leads to: the
// old document is marked, and the step ends when a document without the mark is loaded.
func submit(sel string) chromedp.Action[chromedp.Void] { return leaving(chromedp.Submit(css(sel))) }

// click clicks sel and waits for the page it leads to, as submit does.
func click(sel string) chromedp.Action[chromedp.Void] { return leaving(chromedp.Click(css(sel))) }

func leaving(a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Evaluate[string](`document.documentElement.dataset.leaving = "1"`)(ctx, t); err != nil {
			return err
		}
		if _, err := a(ctx, t); err != nil {
			return err
		}
		for {
			// Errors while the old document goes away are expected: keep asking.
			done, err := chromedp.Evaluate[bool](`document.readyState === "complete" && document.documentElement.dataset.leaving !== "1"`)(ctx, t)
			if err == nil && done {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// mainText is the text of the current page's main element.
func mainText(t *testing.T, ctx context.Context) string {
	t.Helper()
	if err := do(ctx, chromedp.WaitReady(css(`main h1`))); err != nil {
		t.Fatal(err)
	}
	s, err := get(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitForText reloads a page until its main text contains want.
func waitForText(t *testing.T, ctx context.Context, url, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var s string
	for time.Now().Before(deadline) {
		// A page that refreshes itself can abort a navigation: try again.
		if err := do(ctx, chromedp.Navigate(url)); err == nil {
			if s = mainText(t, ctx); strings.Contains(s, want) {
				return s
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s never showed %q; last:\n%s", url, want, s)
	return ""
}

func TestConsoleManagesAClusterForAnIAMUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "console-admin", "Console-pass-123",
		[]string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"},
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AuthorizeSecurityGroupIngress","ec2:RevokeSecurityGroupIngress","ec2:DescribeSecurityGroupRules","ec2:CreateSecurityGroup"],"Resource":"*"}]}`)
	b := browser(t)

	// A wrong password gets the one generic message.
	if got := signIn(t, b, srv, account, "console-admin", "not-the-password"); !strings.Contains(got, "Your authentication information is incorrect") {
		t.Fatalf("wrong password page:\n%s", got)
	}
	screenshot(t, b, "signin-wrong-password")
	if got := signIn(t, b, srv, account, "console-admin", "Console-pass-123"); !strings.Contains(got, "Databases") {
		t.Fatalf("after sign-in:\n%s", got)
	}

	// Create a cluster and its writer from the form.
	err := do(b,
		chromedp.Navigate(srv.consoleURL("/databases/new")),
		chromedp.WaitVisible(css(`#id`)),
		chromedp.SendKeys(css(`#id`), "webconsole"),
		chromedp.SendKeys(css(`#username`), "boss"),
		chromedp.SendKeys(css(`#password`), "Boss-pass-123"),
		chromedp.SendKeys(css(`#database`), "shop"),
		submit(`#id`),
	)
	if err != nil {
		t.Fatal(err)
	}
	detail := waitForText(t, b, srv.consoleURL("/databases/webconsole"), "Writer", 60*time.Second)
	detail = waitForText(t, b, srv.consoleURL("/databases/webconsole"), "available", 90*time.Second)
	endpoint, err := get(b, chromedp.Text(css(`#endpoint`)))
	if err != nil {
		t.Fatal(err)
	}
	psql, err := get(b, chromedp.Text(css(`#psql`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(endpoint, "webconsole.cluster-") || !strings.Contains(psql, "sslmode=verify-full") || !strings.Contains(psql, endpoint) {
		t.Fatalf("endpoint %q, psql %q\n%s", endpoint, psql, detail)
	}
	// serve answers DNS here: the line connects by the name; hostaddr only in the one for a
	// host whose resolver does not ask serve.
	viaAddr, err := get(b, chromedp.Text(css(`#psql-hostaddr`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(psql, "hostaddr") || !strings.Contains(viaAddr, "hostaddr=127.0.0.1") || !strings.Contains(viaAddr, endpoint) {
		t.Fatalf("psql %q, with hostaddr %q", psql, viaAddr)
	}
	screenshot(t, b, "database-detail")

	// The cluster's security group: add an inbound rule.
	sgHref, err := get(b, chromedp.AttributeValue(css(`a[href^="/console/security-groups/sg-"]`), "href"))
	if err != nil {
		t.Fatal(err)
	}
	err = do(b,
		chromedp.Navigate("http://"+srv.APIAddr+sgHref.Value),
		chromedp.WaitVisible(css(`#source`)),
		chromedp.SetValue(css(`#ports`), "5432-5439"),
		chromedp.SendKeys(css(`#source`), "127.0.0.42/32"),
		chromedp.SendKeys(css(`#description`), "from the console"),
		submit(`#source`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "127.0.0.42/32") || !strings.Contains(got, "5432-5439") || !strings.Contains(got, "Inbound rule added") {
		t.Fatalf("security group page after adding a rule:\n%s", got)
	}
	screenshot(t, b, "security-group")

	// A parameter group of its own, attached, then a static parameter changed: the
	// instance shows pending-reboot until it is rebooted.
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/parameter-groups")),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "console-params"),
		chromedp.SendKeys(css(`#description`), "made in the console"),
		submit(`#name`),
		chromedp.SetValue(css(`#param-rds\.restrict_password_commands input[name=value]`), "1"),
		submit(`#param-rds\.restrict_password_commands input[name=value]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "pending-reboot") {
		t.Fatalf("after setting a static parameter:\n%s", got)
	}
	screenshot(t, b, "parameter-group")
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/webconsole")),
		chromedp.WaitVisible(css(`#parameter_group`)),
		chromedp.SetValue(css(`#parameter_group`), "console-params"),
		submit(`#parameter_group`),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitForText(t, b, srv.consoleURL("/databases"), "(pending-reboot)", 30*time.Second)
	screenshot(t, b, "databases-pending-reboot")
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/webconsole")),
		chromedp.WaitVisible(css(`form[action$="/reboot"] button`)),
		click(`form[action$="/reboot"] button`),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitForText(t, b, srv.consoleURL("/databases/webconsole"), "in-sync", 90*time.Second)

	// A new master password from the cluster page: applied at once, never shown again.
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/webconsole")),
		chromedp.WaitVisible(css(`#master_password`)),
		chromedp.SendKeys(css(`#master_password`), "Boss-pass-456"),
		submit(`#master_password`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Resetting the master user of webconsole") {
		t.Fatalf("after setting the master password:\n%s", got)
	}
	if page, err := get(b, chromedp.OuterHTML(css(`html`))); err != nil || strings.Contains(page, "Boss-pass-456") {
		t.Fatalf("the page shows the new password (%v)", err)
	}
	rc := srv.rds(t)
	if err := rds.NewDBClusterAvailableWaiter(rc, waitOpts).Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("webconsole")}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	desc, err := rc.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("webconsole")})
	if err != nil {
		t.Fatal(err)
	}
	cn := srv.connect(ctx, t, aws.ToString(desc.DBClusters[0].Endpoint), aws.ToInt32(desc.DBClusters[0].Port), "boss", "Boss-pass-456", "shop")
	cn.Close(ctx)

	// Delete, confirmed by typing the name.
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/webconsole")),
		chromedp.WaitVisible(css(`#confirm`)),
		chromedp.SendKeys(css(`#confirm`), "webconsole"),
		submit(`#confirm`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Deleting webconsole") {
		t.Fatalf("after delete:\n%s", got)
	}
	eventually(t, 60*time.Second, "webconsole to be gone", func() (bool, error) {
		return !strings.Contains(waitForText(t, b, srv.consoleURL("/databases"), "Databases", 10*time.Second), "webconsole"), nil
	})

	// Signing out ends the session: the pages send the browser back to sign-in.
	err = do(b, click(`header form button`), chromedp.WaitVisible(css(`#password`)),
		chromedp.Navigate(srv.consoleURL("/databases")), chromedp.WaitVisible(css(`#password`)))
	if err != nil {
		t.Fatalf("sign out: %v", err)
	}
}

func TestConsoleReadOnlyUserIsRefusedWithAccessDenied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "console-reader", "Reader-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	b := browser(t)
	if got := signIn(t, b, srv, account, "console-reader", "Reader-pass-123"); !strings.Contains(got, "Databases") {
		t.Fatalf("after sign-in:\n%s", got)
	}
	err := do(b,
		chromedp.Navigate(srv.consoleURL("/databases/new")),
		chromedp.WaitVisible(css(`#id`)),
		chromedp.SendKeys(css(`#id`), "notallowed"),
		chromedp.SendKeys(css(`#username`), "boss"),
		chromedp.SendKeys(css(`#password`), "Boss-pass-123"),
		submit(`#id`),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := mainText(t, b)
	if !strings.Contains(got, "AccessDenied") || !strings.Contains(got, "rds:CreateDBCluster") {
		t.Fatalf("a read-only create:\n%s", got)
	}
	screenshot(t, b, "access-denied")
	if _, err := srv.rds(t).DescribeDBClusters(ctx, nil); err != nil {
		t.Fatal(err)
	}
	out, _ := srv.rds(t).DescribeDBClusters(ctx, nil)
	for _, c := range out.DBClusters {
		if aws.ToString(c.DBClusterIdentifier) == "notallowed" {
			t.Fatal("a denied create made a cluster")
		}
	}
}

func TestConsoleRefusesCrossSitePost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "console-victim", "Victim-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"},
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:CreateSecurityGroup","Resource":"*"}]}`)
	b := browser(t)
	signIn(t, b, srv, account, "console-victim", "Victim-pass-123")
	// Another origin's page posts a form to the console in the signed-in browser.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id=f method=post action="%s"><input name=name value=evil-group><input name=description value=x></form><script>document.getElementById("f").submit()</script>`,
			srv.consoleURL("/security-groups"))
	}))
	defer evil.Close()
	if err := do(b, chromedp.Navigate(evil.URL), chromedp.Sleep(time.Second), chromedp.WaitReady(css(`body`))); err != nil {
		t.Fatal(err)
	}
	body, err := get(b, chromedp.Text(css(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "Cross-origin request refused") {
		t.Fatalf("cross-site POST answered:\n%s", body)
	}
	out, err := srv.ec2(t).DescribeSecurityGroups(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range out.SecurityGroups {
		if aws.ToString(g.GroupName) == "evil-group" {
			t.Fatal("a cross-site POST created a security group")
		}
	}
}

// totp is RFC 6238's code (HMAC-SHA-1, 6 digits, 30 s steps) of a base32 seed at t.
func totp(t *testing.T, seed []byte, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(string(seed), "="))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	mac := hmac.New(sha1.New, key)
	binenc.Write(mac, binenc.BigEndian, uint64(at.Unix()/30))
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binenc.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1000000)
}

func TestConsoleSignInWithAliasMFAAndARequiredReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	// The user may change its own password; a policy denies describing clusters without
	// MFA, which the console session has and an access key does not.
	consoleUser(ctx, t, srv, "console-mfa", "First-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"},
		`{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Action":"iam:ChangePassword","Resource":"arn:aws:iam::*:user/console-mfa"},
		  {"Effect":"Deny","Action":"rds:DescribeDBClusters","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`)
	c := srv.iam(t)
	if _, err := c.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("console-mfa"), PasswordResetRequired: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("borealis-e2e")}); err != nil {
		t.Fatal(err)
	}
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("console-mfa-phone")})
	if err != nil {
		t.Fatal(err)
	}
	seed, serial := dev.VirtualMFADevice.Base32StringSeed, dev.VirtualMFADevice.SerialNumber
	now := time.Now()
	if _, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("console-mfa"), SerialNumber: serial,
		AuthenticationCode1: aws.String(totp(t, seed, now.Add(-30*time.Second))), AuthenticationCode2: aws.String(totp(t, seed, now))}); err != nil {
		t.Fatal(err)
	}

	b := browser(t)
	if got := signIn(t, b, srv, "borealis-e2e", "console-mfa", "First-pass-123"); !strings.Contains(got, "MFA code") {
		t.Fatalf("after the password, want the MFA step:\n%s", got)
	}
	// A wrong code is refused; the next step's code (the enabling ones are used up) works.
	if err := do(b, chromedp.SendKeys(css(`#code`), "000000"), submit(`#code`)); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "The code is not right") {
		t.Fatalf("wrong code:\n%s", got)
	}
	if err := do(b, chromedp.SendKeys(css(`#code`), totp(t, seed, now.Add(30*time.Second))), submit(`#code`)); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Choose a new password") {
		t.Fatalf("after MFA, want the required reset:\n%s", got)
	}
	screenshot(t, b, "password-reset")
	err = do(b,
		chromedp.SendKeys(css(`#old`), "First-pass-123"),
		chromedp.SendKeys(css(`#new`), "Second-pass-456"),
		chromedp.SendKeys(css(`#again`), "Second-pass-456"),
		submit(`#again`),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The console session used MFA: the policy's condition lets it list clusters.
	if got := mainText(t, b); !strings.Contains(got, "Your password was changed") || strings.Contains(got, "AccessDenied") {
		t.Fatalf("after the reset:\n%s", got)
	}
	// Its access key, without MFA, is denied the same action.
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("console-mfa")})
	if err != nil {
		t.Fatal(err)
	}
	keyed := rds.New(rds.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr),
		Credentials: staticCreds(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)), Retryer: connectionRetryer()})
	_, err = keyed.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
	if code, _ := apiError(t, err); code != "AccessDenied" {
		t.Fatalf("DescribeDBClusters without MFA: %v", err)
	}

	// The old password no longer signs in.
	b2 := browser(t)
	if got := signIn(t, b2, srv, "borealis-e2e", "console-mfa", "First-pass-123"); !strings.Contains(got, "Your authentication information is incorrect") {
		t.Fatalf("old password after the reset:\n%s", got)
	}
}

func TestConsoleRootSignsInWithThePasswordFromTheDataDirectory(t *testing.T) {
	t.Parallel()
	srv := shared.get(t)
	pwFile := filepath.Join(srv.DataDir, "root-console-password")
	st, err := os.Stat(pwFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("root-console-password: %v, mode %v", err, st.Mode())
	}
	pw, _ := os.ReadFile(pwFile)
	id, secret := srv.rootKey(t)
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr), Credentials: staticCreds(id, secret)}).
		GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/signin")),
		chromedp.Click(css(`input[name=kind][value=root]`)),
		chromedp.SetValue(css(`#account`), aws.ToString(who.Account)),
		chromedp.SendKeys(css(`#password`), strings.TrimSpace(string(pw))),
		submit(`#password`),
	)
	if err != nil {
		t.Fatal(err)
	}
	header, err := get(b, chromedp.Text(css(`header`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(header, "arn:aws:iam::"+aws.ToString(who.Account)+":root") {
		t.Fatalf("root sign-in landed on:\n%s\n%s", header, mainText(t, b))
	}
	if got := signIn(t, browser(t), srv, aws.ToString(who.Account), "root", strings.TrimSpace(string(pw))); !strings.Contains(got, "incorrect") {
		t.Fatalf("the root password as an IAM user named root:\n%s", got)
	}
}

func TestConsoleOverHTTPSSetsSecureCookies(t *testing.T) {
	t.Parallel()
	dir := testDataDir(t, "borealis-tls-")
	srv, err := startServer(dir, freeAddr(t), "--api-tls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	bundle, err := os.ReadFile(srv.bundlePath())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// The API verifies against the trust bundle too.
	id, secret := srv.rootKey(t)
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("https://" + srv.APIAddr), Credentials: staticCreds(id, secret),
		HTTPClient: &http.Client{Transport: client.Transport}}).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("the API over HTTPS with the bundle: %v", err)
	}
	pw, _ := os.ReadFile(filepath.Join(dir, "root-console-password"))
	resp, err := client.PostForm("https://"+srv.APIAddr+"/console/signin", url.Values{
		"kind": {"root"}, "account": {aws.ToString(who.Account)}, "password": {strings.TrimSpace(string(pw))}})
	if err != nil {
		t.Fatalf("HTTPS with the bundle: %v", err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "borealis-console" && c.Value != "" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("sign-in over HTTPS: %s, cookie %+v", resp.Status, session)
	}
}
