package console

import (
	"sync"
	"time"
)

// throttle slows down guessing. Each key (a user, a source address, a browser the user
// signed in from before, a user's MFA step) counts its failures; after a few, attempts for
// the key are spaced out: each gets a slot, a pause after the one before, and waits for it
// before it is checked. An attempt counts as a failure from the moment it gets its slot,
// before it is checked, so attempts sent in parallel are held to the serial rate: they
// queue one pause apart instead of all being checked at once. An attempt whose slot is
// more than maxDelay away is refused unchecked.
//
// Nothing ever locks out: a person trying serially waits at most maxDelay, a correct
// password checked after the wait still works, and a quiet key is forgotten (forgetAfter).
// Only a flood that keeps a key's slots taken refuses others, which is why a browser that
// signed in before gets a key of its own (devices).
type throttle struct {
	now  func() time.Time
	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	n    int       // failures, counting attempts still being checked
	next time.Time // the next attempt's slot is no earlier than this
	last time.Time // the slot of the last admitted attempt
}

const (
	freeAttempts = 3 // failures before any pause
	baseDelay    = 250 * time.Millisecond
	maxDelay     = 4 * time.Second
	forgetAfter  = 15 * time.Minute // a quiet key starts afresh
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, keys: map[string]*attempts{}}
}

// pause is how long a key waits after its n-th counted failure.
func pause(n int) time.Duration {
	if n < freeAttempts {
		return 0
	}
	return min(baseDelay<<min(n-freeAttempts, 8), maxDelay)
}

// admit gives an attempt for every key its slot: the attempt waits wait, then is checked.
// ok is false, with how long until a slot is free, when the slot is more than maxDelay
// away. An admitted attempt counts as a failure against every key until succeeded says
// otherwise.
func (t *throttle) admit(keys ...string) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for k, a := range t.keys {
		if now.Sub(a.last) > forgetAfter && !now.Before(a.next) {
			delete(t.keys, k)
		}
	}
	slot := now
	for _, k := range keys {
		if a, ok := t.keys[k]; ok && a.next.After(slot) {
			slot = a.next
		}
	}
	if wait = slot.Sub(now); wait > maxDelay {
		return wait - maxDelay, false
	}
	for _, k := range keys {
		a := t.keys[k]
		if a == nil {
			a = &attempts{}
			t.keys[k] = a
		}
		a.n++
		a.last, a.next = slot, slot.Add(pause(a.n))
	}
	return wait, true
}

// succeeded takes back an admitted attempt that was right: it no longer counts against
// others, and own (the user's key) starts afresh. The source's count is only taken back,
// not cleared, so that one right guess among many does not reset a guesser's pause.
func (t *throttle) succeeded(own string, others ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, own)
	for _, k := range others {
		if a, ok := t.keys[k]; ok && a.n > 0 {
			a.n--
		}
	}
}
