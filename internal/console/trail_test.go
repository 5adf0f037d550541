package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/principal"
)

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

// Sign-ins are ConsoleLogin events: the password's failure, the MFA code's failure and the
// success say whether MFA was used, and never carry the password or the code.
func TestSignInsAreRecordedAsConsoleLogin(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{mfa: true})
	trail := &memTrail{}
	tc.cfg.Trail = trail
	tc.post("/console/signin", "198.51.100.7", signInValues("dana", "Wrong-pass-1"))
	resp := tc.post("/console/signin", "198.51.100.7", signInValues("dana", rightPassword))
	sess := cookie(t, resp, cookieName)
	tc.post("/console/mfa", "198.51.100.7", map[string][]string{"code": {"000000"}}, sess)
	tc.post("/console/mfa", "198.51.100.7", map[string][]string{"code": {rightCode}}, sess)
	var got []string
	for _, e := range trail.events {
		if e.EventName != "ConsoleLogin" || e.EventType != audit.TypeConsoleSignIn || e.SourceIPAddress != "198.51.100.7" {
			t.Fatalf("event %+v", e)
		}
		got = append(got, fmt.Sprintf("%s %v %v", e.UserIdentity.UserName, e.ResponseElements["ConsoleLogin"], e.AdditionalEventData["MFAUsed"]))
		if s := fmt.Sprintf("%+v", e); containsAny(s, "Wrong-pass-1", rightPassword, rightCode) {
			t.Fatalf("a secret in %s", s)
		}
	}
	want := []string{audit.Hidden + " Failure No", "dana Failure Yes", "dana Success Yes"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// A sign-in whose event cannot be recorded does not sign in.
func TestNoSignInWithoutItsEvent(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{})
	tc.cfg.Trail = &memTrail{failing: true}
	resp := tc.post("/console/signin", "198.51.100.8", signInValues("erin", rightPassword))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName && ck.MaxAge >= 0 && ck.Value != "" {
			t.Fatal("a session was started")
		}
	}
}

// Failed sign-ins naming no user are recorded within a budget, whatever their sources.
func TestAnonymousSignInFailuresAreBudgeted(t *testing.T) {
	tc := newTestConsole(t, &fakeAuth{})
	trail := &memTrail{}
	tc.cfg.Trail = trail
	for i := range 3 * anonymousSignInBurst {
		tc.post("/console/signin", fmt.Sprintf("203.0.113.%d", i%250+1), signInValues(fmt.Sprintf("nobody%d", i), "x"))
	}
	if n := len(trail.events); n < anonymousSignInBurst || n > anonymousSignInBurst+1 {
		t.Fatalf("%d events, want about %d", n, anonymousSignInBurst)
	}
}

// What a caller put in the trail (a user agent, a parameter) is shown as text on the event
// history page, never as markup: the trail is written by anyone who can send a request.
func TestEventHistoryShowsRecordsAsText(t *testing.T) {
	evil := `<script>alert(1)</script>`
	record := `{"userAgent":"` + evil + `","sourceIPAddress":"` + evil + `","additionalEventData":{"authorization":{"decision":"explicitDeny","policy":"` + evil + `","statement":"s"}}}`
	call := func(_ context.Context, _ principal.Principal, service, action string, _ url.Values, _ *http.Request) (any, error) {
		type event struct {
			EventId, EventName, ReadOnly, Username, CloudTrailEvent string
			EventTime                                               float64
		}
		return struct{ Events []event }{[]event{{EventId: "1", EventName: evil, Username: evil, CloudTrailEvent: record}}}, nil
	}
	f := &fakeAuth{}
	tc := newTestConsole(t, f)
	tc.cfg.Call = call
	resp := tc.post("/console/signin", "198.51.100.9", signInValues("frank", rightPassword))
	page := tc.get("/console/event-history", cookie(t, resp, cookieName))
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK || strings.Contains(string(body), evil) || !strings.Contains(string(body), "&lt;script&gt;") {
		t.Fatalf("%d\n%s", page.StatusCode, body)
	}
}

// fullTrail records nothing more: its volume is full.
type fullTrail struct{ memTrail }

func (*fullTrail) Ready(int64) error { return errors.New("no space left on device") }

// The console's own password change, which IAM carries out outside the API's path, is not
// carried out when its event cannot be recorded.
func TestNoPasswordChangeWhenTheTrailHasNoRoom(t *testing.T) {
	auth := &fakeAuth{reset: true}
	tc := newTestConsole(t, auth)
	tc.cfg.Trail = &memTrail{}
	sess := cookie(t, tc.post("/console/signin", "198.51.100.9", signInValues("fay", rightPassword)), cookieName)
	tc.cfg.Trail = &fullTrail{}
	resp := tc.post("/console/password", "198.51.100.9", url.Values{"old": {rightPassword}, "new": {"New-pass-123"}, "again": {"New-pass-123"}}, sess)
	if auth.changes.Load() != 0 || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d changes, status %d", auth.changes.Load(), resp.StatusCode)
	}
}
