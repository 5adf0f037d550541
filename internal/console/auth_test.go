package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
)

const (
	rightPassword = "Right-pass-123"
	rightCode     = "123456"
)

// fakeAuth is an Authenticator with one password and one MFA code for every user. Checks
// wait at gate, when set, so that a test can hold attempts in flight.
type fakeAuth struct {
	gate             chan struct{}
	passwords, codes atomic.Int32 // checks that reached IAM
	changes          atomic.Int32 // password changes
	reset            bool         // sign-ins must choose a new password
	mfa              bool
	mu               sync.Mutex
	tags             map[string]string
	gone             bool
	callerTags       []map[string]string // the tags of each API call's caller
	callerMFA        []bool
	// roleSessions are the live role sessions, by access key id (switch role).
	roleSessions map[string]principal.Principal
}

func (f *fakeAuth) RoleSession(_ context.Context, keyID, token string) (principal.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.roleSessions[keyID]
	if !ok || token != "token-"+keyID {
		return principal.Principal{}, awsquery.Errorf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
	}
	return p, nil
}

func (f *fakeAuth) wait() {
	if f.gate != nil {
		<-f.gate
	}
}

func (f *fakeAuth) SignIn(_ context.Context, account, user, password string) (Login, bool, error) {
	f.passwords.Add(1)
	f.wait()
	if password != rightPassword {
		return Login{}, false, nil
	}
	return Login{Principal: principal.Principal{Type: principal.User, ARN: "arn:aws:iam::111122223333:user/" + user,
		UserName: user, UserID: "AIDA" + user}, MFARequired: f.mfa, ResetRequired: f.reset}, true, nil
}

func (f *fakeAuth) CheckMFA(_ context.Context, user, code string) (bool, error) {
	f.codes.Add(1)
	f.wait()
	return code == rightCode, nil
}

func (f *fakeAuth) SignInRoot(context.Context, string, string) (Login, bool, error) {
	return Login{}, false, nil
}

func (f *fakeAuth) ChangePassword(context.Context, string, string, string) error {
	f.changes.Add(1)
	return nil
}

func (f *fakeAuth) Session(_ context.Context, p principal.Principal, _ time.Time) (principal.Principal, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return principal.Principal{}, false, nil
	}
	p.Tags = map[string]string{}
	for k, v := range f.tags {
		p.Tags[k] = v
	}
	return p, true, nil
}

// testConsole is a console on a stopped clock, calling no real service.
type testConsole struct {
	*Console
	clock *clock
	iam   *fakeAuth
	mu    sync.Mutex
	waits []time.Duration // for throttle slots: recorded, not slept
}

func newTestConsole(t *testing.T, f *fakeAuth) *testConsole {
	t.Helper()
	c := &clock{time.Unix(1e9, 0)}
	call := func(_ context.Context, p principal.Principal, _, _ string, _ url.Values, _ *http.Request) (any, error) {
		f.mu.Lock()
		f.callerTags, f.callerMFA = append(f.callerTags, p.Tags), append(f.callerMFA, p.MFA)
		f.mu.Unlock()
		return nil, nil
	}
	con, err := New(Config{Call: call, Auth: f, AccountID: "111122223333", Region: "eu-north-1",
		Log: slog.New(slog.DiscardHandler), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testConsole{Console: con, clock: c, iam: f}
	con.sleep = func(_ context.Context, d time.Duration) bool {
		tc.mu.Lock()
		tc.waits = append(tc.waits, d)
		tc.mu.Unlock()
		return true
	}
	return tc
}

// post sends a form from source with cookies and returns the response.
func (tc *testConsole) post(path, source string, form url.Values, cookies ...*http.Cookie) *http.Response {
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = source + ":40000"
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	tc.ServeHTTP(w, r)
	return w.Result()
}

func (tc *testConsole) get(path string, cookies ...*http.Cookie) *http.Response {
	r := httptest.NewRequest("GET", path, nil)
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	tc.ServeHTTP(w, r)
	return w.Result()
}

func signInValues(user, password string) url.Values {
	return url.Values{"account": {"111122223333"}, "user": {user}, "password": {password}, "kind": {"iam"}}
}

func cookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name == name && ck.MaxAge >= 0 {
			return ck
		}
	}
	t.Fatalf("no cookie %s in the answer (%d)", name, resp.StatusCode)
	return nil
}

// guesses sends n wrong passwords at once, each from source(i) for user(i), holds every
// admitted one in flight until all n have arrived, and counts the answers by status.
func guesses(t *testing.T, tc *testConsole, n int, user, source func(int) string) map[int]int {
	t.Helper()
	tc.iam.gate = make(chan struct{})
	defer func() { tc.iam.gate = nil }()
	var mu sync.Mutex
	statuses := map[int]int{}
	var answered atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := tc.post("/console/signin", source(i), signInValues(user(i), "wrong-guess"))
			answered.Add(1)
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	// Every guess is either being checked (waiting at the gate) or already refused.
	for tc.iam.passwords.Load()+answered.Load() < int32(n) {
		time.Sleep(time.Millisecond)
	}
	close(tc.iam.gate)
	wg.Wait()
	return statuses
}

func same(s string) func(int) string { return func(int) string { return s } }

// Guesses sent in parallel are counted while they are checked: no more of them reach IAM
// than serial guesses would in the same time (the clock is stopped, and waits for a slot
// take no time); the others are refused with 429 unchecked.
// That holds per user (from many sources) and per source (over many users).
func TestParallelPasswordGuessesAreHeldToTheSerialRate(t *testing.T) {
	const n = 40
	serial := newTestConsole(t, &fakeAuth{})
	want := 0
	for range n {
		if resp := serial.post("/console/signin", "192.0.2.7", signInValues("alice", "wrong-guess")); resp.StatusCode == http.StatusUnauthorized {
			want++
		} else if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("serial guess answered %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if want <= freeAttempts || want >= 10 {
		t.Fatalf("%d serial guesses checked within %v", want, maxDelay)
	}

	for _, c := range []struct {
		name         string
		user, source func(int) string
	}{
		{"one user from one source", same("alice"), same("192.0.2.7")},
		{"one user from many sources", same("alice"), func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }},
		{"many users from one source", func(i int) string { return fmt.Sprintf("user%d", i) }, same("192.0.2.7")},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestConsole(t, &fakeAuth{})
			got := guesses(t, tc, n, c.user, c.source)
			if got[http.StatusUnauthorized] != want || got[http.StatusTooManyRequests] != n-want || int(tc.iam.passwords.Load()) != want {
				t.Fatalf("answers %v, %d checked: want %d checked as serial guesses are, the rest 429", got, tc.iam.passwords.Load(), want)
			}
			// After the pause, one more guess is checked, as serially.
			tc.clock.t = tc.clock.t.Add(maxDelay)
			if resp := tc.post("/console/signin", c.source(0), signInValues(c.user(0), "wrong-guess")); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after the pause: %d", resp.StatusCode)
			}
		})
	}
}

// A stranger guessing a user's password from many addresses pauses the user's shared
// count, but the owner, on a browser where they signed in before, is checked on their own
// count and signs in.
func TestStrangersGuessingDoNotKeepTheOwnerOut(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{})
	const home = "203.0.113.5"
	resp := tc.post("/console/signin", home, signInValues("alice", rightPassword))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner's first sign-in: %d", resp.StatusCode)
	}
	device := cookie(t, resp, deviceCookie)
	for range 10 { // a flood from many sources, at every moment the pause ends
		guesses(t, tc, 20, same("alice"), func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) })
		tc.clock.t = tc.clock.t.Add(time.Second)
	}
	if resp := tc.post("/console/signin", home, signInValues("alice", rightPassword)); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a browser unknown to alice during the flood: %d, want 429", resp.StatusCode)
	}
	tc.waits = nil
	if resp := tc.post("/console/signin", home, signInValues("alice", rightPassword), device); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/console/databases" || len(tc.waits) != 0 {
		t.Fatalf("the owner's browser during the flood: %d %s, waited %v", resp.StatusCode, resp.Header.Get("Location"), tc.waits)
	}
	// The device cookie is alice's: for another user it is just a stranger's browser, and a
	// forged one is nothing.
	forged := &http.Cookie{Name: deviceCookie, Value: "abc.def"}
	for _, ck := range []*http.Cookie{device, forged} {
		if _, ok := tc.devices.verify(requestWith(ck), "user:111122223333/bob"); ok {
			t.Fatalf("cookie %s accepted for bob", ck.Value)
		}
	}
}

func requestWith(ck *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/console/signin", nil)
	r.AddCookie(ck)
	return r
}

// pendingMFA signs alice in with her password and returns the pending session's cookie.
func pendingMFA(t *testing.T, tc *testConsole) *http.Cookie {
	t.Helper()
	resp := tc.post("/console/signin", "203.0.113.5", signInValues("alice", rightPassword))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/mfa" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return cookie(t, resp, cookieName)
}

// A pending MFA session allows maxMFACodes wrong codes; with the last it ends, and a right
// code after that is refused: the password is needed again.
func TestWrongMFACodesEndThePendingSession(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{mfa: true})
	ck := pendingMFA(t, tc)
	for i := 1; i <= maxMFACodes+1; i++ {
		tc.clock.t = tc.clock.t.Add(maxDelay) // past the MFA throttle's pause
		resp := tc.post("/console/mfa", "203.0.113.5", url.Values{"code": {"000000"}}, ck)
		switch {
		case i < maxMFACodes && resp.StatusCode != http.StatusUnauthorized:
			t.Fatalf("wrong code %d: %d", i, resp.StatusCode)
		case i == maxMFACodes && (resp.StatusCode != http.StatusUnauthorized || !clearsCookie(resp)):
			t.Fatalf("wrong code %d: %d, want the session ended", i, resp.StatusCode)
		case i > maxMFACodes && resp.StatusCode != http.StatusSeeOther:
			t.Fatalf("wrong code %d: %d, want the sign-in page", i, resp.StatusCode)
		}
	}
	tc.clock.t = tc.clock.t.Add(maxDelay)
	resp := tc.post("/console/mfa", "203.0.113.5", url.Values{"code": {rightCode}}, ck)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/signin" {
		t.Fatalf("right code after the session ended: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := tc.get("/console/databases", ck); resp.Header.Get("Location") != "/console/signin" {
		t.Fatalf("ended session still signed in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := tc.iam.codes.Load(); got != maxMFACodes {
		t.Fatalf("%d codes checked, want %d", got, maxMFACodes)
	}
}

func clearsCookie(resp *http.Response) bool {
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName && ck.MaxAge < 0 {
			return true
		}
	}
	return false
}

// MFA codes sent in parallel are counted before they are checked: no more reach IAM than
// the pending session's tries, which then ends.
func TestParallelMFACodesAreCountedBeforeTheyAreChecked(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{mfa: true})
	ck := pendingMFA(t, tc)
	tc.iam.gate = make(chan struct{})
	const n = 40
	var answered atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := tc.post("/console/mfa", "203.0.113.5", url.Values{"code": {"000000"}}, ck)
			answered.Add(1)
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	for tc.iam.codes.Load()+answered.Load() < n {
		time.Sleep(time.Millisecond)
	}
	close(tc.iam.gate)
	wg.Wait()
	if got := tc.iam.codes.Load(); got != maxMFACodes {
		t.Fatalf("%d of %d parallel codes checked (%v), want the session's %d", got, n, statuses, maxMFACodes)
	}
	if resp := tc.get("/console/mfa", ck); resp.Header.Get("Location") != "/console/signin" {
		t.Fatal("the pending session outlived its parallel wrong codes")
	}
	// A new pending session does not start the user's MFA count afresh: its first code
	// waits for the user's next slot, or is refused.
	ck = pendingMFA(t, tc)
	tc.waits = nil
	resp := tc.post("/console/mfa", "203.0.113.5", url.Values{"code": {"000000"}}, ck)
	if resp.StatusCode != http.StatusTooManyRequests && (len(tc.waits) != 1 || tc.waits[0] <= 0) {
		t.Fatalf("a new pending session's first code: %d, waited %v", resp.StatusCode, tc.waits)
	}

	// The session's own count, raced directly.
	s := &session{stage: stageMFA}
	var tries atomic.Int32
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tc.sessions.tryMFA(s) {
				tries.Add(1)
			}
		}()
	}
	wg.Wait()
	if tries.Load() != maxMFACodes {
		t.Fatalf("%d parallel tries admitted for one session, want %d", tries.Load(), maxMFACodes)
	}
}

// A signed-in session is decided with the user's tags as they are at each request, and
// ends when IAM says the user or its password is gone.
func TestSessionReadsTheUserLive(t *testing.T) {
	f := &fakeAuth{tags: map[string]string{"team": "db"}}
	tc := newTestConsole(t, f)
	resp := tc.post("/console/signin", "203.0.113.5", signInValues("alice", rightPassword))
	ck := cookie(t, resp, cookieName)
	lastTags := func() map[string]string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.callerTags[len(f.callerTags)-1]
	}
	if resp := tc.get("/console/databases", ck); resp.StatusCode != http.StatusOK || lastTags()["team"] != "db" {
		t.Fatalf("first page: %d %v", resp.StatusCode, lastTags())
	}
	f.mu.Lock()
	f.tags = map[string]string{"team": "web"}
	f.mu.Unlock()
	if resp := tc.get("/console/databases", ck); resp.StatusCode != http.StatusOK || lastTags()["team"] != "web" {
		t.Fatalf("after the tag changed: %d %v", resp.StatusCode, lastTags())
	}
	f.mu.Lock()
	f.gone = true
	f.mu.Unlock()
	if resp := tc.get("/console/databases", ck); resp.Header.Get("Location") != "/console/signin" || !clearsCookie(resp) {
		t.Fatalf("a gone user's session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	f.mu.Lock()
	f.gone = false
	f.mu.Unlock()
	if resp := tc.get("/console/databases", ck); resp.Header.Get("Location") != "/console/signin" {
		t.Fatal("an ended session came back")
	}
}

// One host's addresses are one source: an IPv6 host's whole /64, and an IPv4 address
// however it is written.
func TestSourceKeys(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"[2001:db8:1:2::1]:4000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:5000"},
		{"192.0.2.1:4000", "[::ffff:192.0.2.1]:5000"},
	} {
		if sourceKeyOf(c.a) != sourceKeyOf(c.b) {
			t.Errorf("%s and %s are different sources: %s, %s", c.a, c.b, sourceKeyOf(c.a), sourceKeyOf(c.b))
		}
	}
	if sourceKeyOf("[2001:db8:1:2::1]:4000") == sourceKeyOf("[2001:db8:1:3::1]:4000") || sourceKeyOf("192.0.2.1:1") == sourceKeyOf("192.0.2.2:1") {
		t.Error("different hosts share a source")
	}
}

// The account's id and its alias (in any case) are one budget for a user's password.
func TestAccountSpellingsShareTheUsersBudget(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{})
	checked := 0
	for i := range 40 {
		f := signInValues("alice", "wrong-guess")
		f.Set("account", []string{"111122223333", "acme", "ACME", " acme"}[i%4])
		if resp := tc.post("/console/signin", fmt.Sprintf("198.51.100.%d", i+1), f); resp.StatusCode == http.StatusUnauthorized {
			checked++
		}
	}
	if checked >= 10 {
		t.Fatalf("%d guesses checked across the account's spellings", checked)
	}
}
