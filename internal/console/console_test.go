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
	// admitAfter is a serial attempt: it waits for its slot and returns the wait.
	admitAfter := func(keys ...string) time.Duration {
		t.Helper()
		wait, ok := th.admit(keys...)
		if !ok {
			t.Fatalf("a serial attempt refused (%v)", wait)
		}
		c.t = c.t.Add(wait)
		return wait
	}
	for range freeAttempts {
		if d := admitAfter(user, stranger); d != 0 {
			t.Fatalf("pause %v within the free attempts", d)
		}
	}
	first := admitAfter(user, stranger)
	second := admitAfter(user, stranger)
	if first <= 0 || second <= first {
		t.Fatalf("pauses %v then %v: want growing", first, second)
	}
	for range 20 {
		admitAfter(user, stranger)
	}
	if d := admitAfter(user, stranger); d != maxDelay {
		t.Fatalf("pause %v after many failures, want the cap %v", d, maxDelay)
	}
	// The owner, from another address, is slowed by the user's count but never refused
	// for longer than the cap; a success clears the user's count and leaves the stranger's.
	if d := admitAfter(user, owner); d != maxDelay {
		t.Fatalf("owner's pause %v", d)
	}
	th.succeeded(user, owner)
	if d := admitAfter(user, owner); d != 0 {
		t.Fatalf("owner's pause after a success: %v", d)
	}
	admitAfter("user:1/bob", stranger)
	if d, _ := th.admit("user:1/carol", stranger); d != maxDelay {
		t.Fatalf("the stranger's own pause was reset: %v", d)
	}
	c.t = c.t.Add(forgetAfter + maxDelay + time.Second)
	if d := admitAfter("user:1/bob", stranger); d != 0 {
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

	// A sign-in stopped between its password and its MFA code lasts minutes, not hours.
	rec = httptest.NewRecorder()
	ss.start(rec, httptest.NewRequest("POST", "/console/signin", nil), &session{stage: stageMFA})
	ck, started := rec.Result().Cookies()[0], c.t
	for range 2 {
		c.t = c.t.Add(pendingTTL/2 + time.Second)
		_, ok := ss.get(req())
		if c.t.Sub(started) <= pendingTTL && !ok {
			t.Fatal("a pending session ended early")
		}
		if c.t.Sub(started) > pendingTTL && ok {
			t.Fatal("a pending session outlived pendingTTL")
		}
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
