package console

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/principal"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestThrottleSlowsGuessingWithoutLockingOut(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	th := newThrottle(c.now)
	user, stranger, owner := "user:1/alice", "source:10.0.0.9", "source:10.0.0.1"
	for range freeAttempts {
		if d := th.delay(user, stranger); d != 0 {
			t.Fatalf("delay %v within the free attempts", d)
		}
		th.failed(user, stranger)
	}
	first := th.delay(user, stranger)
	th.failed(user, stranger)
	second := th.delay(user, stranger)
	if first <= 0 || second <= first {
		t.Fatalf("delays %v then %v: want growing", first, second)
	}
	for range 20 {
		th.failed(user, stranger)
	}
	if d := th.delay(user, stranger); d != maxDelay {
		t.Fatalf("delay %v after many failures, want the cap %v", d, maxDelay)
	}
	// The owner, from another address, is slowed by the user's count but never refused;
	// a success clears the user's count and leaves the stranger's.
	if d := th.delay(user, owner); d != maxDelay {
		t.Fatalf("owner's delay %v", d)
	}
	th.succeeded(user)
	if d := th.delay(user, owner); d != 0 {
		t.Fatalf("owner's delay after a success: %v", d)
	}
	if d := th.delay("user:1/bob", stranger); d != maxDelay {
		t.Fatalf("the stranger's own delay was reset: %v", d)
	}
	c.t = c.t.Add(forgetAfter + time.Second)
	if d := th.delay("user:1/bob", stranger); d != 0 {
		t.Fatalf("a quiet source still slowed: %v", d)
	}
}

func TestSessionsExpireWhenIdleAndAtTheirEnd(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	ss := newSessions(c.now, 2*time.Hour, 30*time.Minute)
	rec := httptest.NewRecorder()
	ss.start(rec, httptest.NewRequest("POST", "/console/signin", nil), &session{principal: principal.Principal{ARN: "arn:aws:iam::1:user/a"}, stage: stageDone})
	ck := rec.Result().Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/console/" || ck.Secure {
		t.Fatalf("cookie %+v", ck)
	}
	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/console/databases", nil)
		r.AddCookie(ck)
		return r
	}
	for range 5 { // used every 25 minutes: alive until the absolute end
		c.t = c.t.Add(25 * time.Minute)
		if _, ok := ss.get(req()); !ok && c.t.Sub(time.Unix(1e9, 0)) <= 2*time.Hour {
			t.Fatalf("session ended early at %v", c.t.Sub(time.Unix(1e9, 0)))
		}
	}
	if _, ok := ss.get(req()); ok {
		t.Fatal("session outlived its 2 h life")
	}

	rec = httptest.NewRecorder()
	ss.start(rec, httptest.NewRequest("POST", "/console/signin", nil), &session{stage: stageDone})
	ck = rec.Result().Cookies()[0]
	c.t = c.t.Add(31 * time.Minute)
	if _, ok := ss.get(req()); ok {
		t.Fatal("an idle session lived on")
	}
}

func TestForgedCookieIsNoSession(t *testing.T) {
	ss := newSessions(time.Now, time.Hour, time.Hour)
	r := httptest.NewRequest("GET", "/console/databases", nil)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: "guess"})
	if _, ok := ss.get(r); ok {
		t.Fatal("a made-up token opened a session")
	}
}
