package console

import (
	"sync"
	"time"
)

// throttle slows down password guessing. Failures are counted per user name and per
// source address; each further attempt for either waits longer, up to maxDelay. Nothing
// ever locks out: a stranger guessing a user's password slows that user's sign-in down but
// cannot keep the real user out, and a correct password still works after the wait.
type throttle struct {
	now   func() time.Time
	mu    sync.Mutex
	fails map[string]failures
}

type failures struct {
	n    int
	last time.Time
}

const (
	freeAttempts = 3 // failures before any delay
	baseDelay    = 250 * time.Millisecond
	maxDelay     = 4 * time.Second
	forgetAfter  = 15 * time.Minute // a quiet key starts afresh
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, fails: map[string]failures{}}
}

// delay is how long an attempt for these keys waits before its password is checked.
func (t *throttle) delay(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var d time.Duration
	for _, k := range keys {
		f, ok := t.fails[k]
		if !ok || now.Sub(f.last) > forgetAfter || f.n < freeAttempts {
			continue
		}
		kd := baseDelay << min(f.n-freeAttempts, 8)
		d = max(d, min(kd, maxDelay))
	}
	return d
}

// failed counts a failed attempt against every key.
func (t *throttle) failed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, f := range t.fails {
		if now.Sub(f.last) > forgetAfter {
			delete(t.fails, k)
		}
	}
	for _, k := range keys {
		f := t.fails[k]
		f.n++
		f.last = now
		t.fails[k] = f
	}
}

// succeeded clears the user's count; the source's stays, so that one right guess among
// many does not reset a guesser's delay.
func (t *throttle) succeeded(userKey string) {
	t.mu.Lock()
	delete(t.fails, userKey)
	t.mu.Unlock()
}
