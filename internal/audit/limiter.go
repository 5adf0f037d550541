package audit

import (
	"sync"
	"time"
)

// Limiter bounds the events a flood can cause: a token bucket of Burst events refilled at
// Rate per second. Allow says whether to record now and how many events were suppressed
// since the last one recorded (to put in that event, so that the trail counts them).
type Limiter struct {
	Rate  float64
	Burst float64

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed uint64
	started    bool
}

// Allow takes one token at now.
func (l *Limiter) Allow(now time.Time) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.tokens, l.last, l.started = l.Burst, now, true
	}
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens = min(l.Burst, l.tokens+el*l.Rate)
		l.last = now
	}
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
