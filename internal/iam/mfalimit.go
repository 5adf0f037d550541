package iam

import (
	"sync"
	"time"
)

// STS takes an MFA code with every GetSessionToken and AssumeRole: without a limit, whoever
// holds a user's access key could try the million codes in minutes and get sessions that
// count as MFA. A user may try mfaCodesPerWindow codes per mfaCodeWindow through STS, counted
// before they are checked (so parallel requests do not get more); then even a right code is
// refused until the window ends.
const (
	mfaCodesPerWindow = 10
	mfaCodeWindow     = 5 * time.Minute
)

// mfaLimiter counts the codes each user tried in its current window.
type mfaLimiter struct {
	mu    sync.Mutex
	tries map[string]mfaTries // by user id
}

type mfaTries struct {
	start time.Time
	n     int
}

// take counts one code for user at now; false when the user's window is used up.
func (l *mfaLimiter) take(user string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tries == nil {
		l.tries = map[string]mfaTries{}
	}
	t := l.tries[user]
	if now.Sub(t.start) >= mfaCodeWindow || now.Before(t.start) {
		if len(l.tries) >= 4096 { // forget ended windows rather than grow
			for u, o := range l.tries {
				if now.Sub(o.start) >= mfaCodeWindow || now.Before(o.start) {
					delete(l.tries, u)
				}
			}
		}
		t = mfaTries{start: now}
	}
	if t.n >= mfaCodesPerWindow {
		return false
	}
	t.n++
	l.tries[user] = t
	return true
}
