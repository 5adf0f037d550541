package gateway

import (
	"errors"
	"time"

	"github.com/borealis-db/borealis/internal/steer"
)

// Logging of refusals is bounded: a client or a local process looping on connect must not
// flood the log. The counts at /metrics stay exact.
const (
	refusalLogBurst  = 20
	refusalLogWindow = 10 * time.Second
)

// logLimit lets refusalLogBurst lines through per refusalLogWindow and counts the rest.
type logLimit struct {
	windowStart      time.Time
	logged, heldBack int
}

// allow reports whether to log one more line, and how many were held back before it.
func (l *logLimit) allow(now time.Time) (ok bool, heldBack int) {
	if now.Sub(l.windowStart) > refusalLogWindow {
		l.windowStart, l.logged = now, 0
	}
	if l.logged >= refusalLogBurst {
		l.heldBack++
		return false, 0
	}
	l.logged++
	heldBack, l.heldBack = l.heldBack, 0
	return true, heldBack
}

// logSteeredRefusals logs the connections the kernel refused at their SYN, as the
// gateway logs its own refusals, until the steering closes.
func (g *Gateway) logSteeredRefusals() {
	defer close(g.steerDone)
	var limit logLimit
	for {
		r, err := g.steer.Read()
		if errors.Is(err, steer.ErrSteeringClosed) {
			return
		}
		if err != nil {
			g.log.Warn("endpoint refusals: report unreadable", "err", err)
			continue
		}
		ok, heldBack := limit.allow(time.Now())
		if !ok {
			continue
		}
		attrs := []any{"endpoint", r.Name, "source", r.Source.String(), "addr", r.Endpoint.String()}
		switch r.Reason {
		case steer.RefusedBySecurityGroups:
			attrs = append(attrs, "groups", g.groups(r.Name))
		}
		if heldBack > 0 {
			attrs = append(attrs, "not_logged_before", heldBack)
		}
		if r.Reason == steer.RefusedNoServer {
			g.log.Info(logNoServer, attrs...)
		} else {
			g.log.Info(logSecurityGroups, attrs...)
		}
	}
}

// The refusal log lines, the same whether the kernel or the gateway refused.
const (
	logSecurityGroups = "connection refused by security groups"
	logNoServer       = "connection refused: no server behind endpoint"
)

// groups are the security groups endpoint name's route consults now.
func (g *Gateway) groups(name string) []string {
	g.mu.Lock()
	ep := g.listeners[name]
	g.mu.Unlock()
	if ep == nil {
		return nil
	}
	if t, _ := g.currentRoute(ep)(); t.Admission != nil {
		return t.Admission.Groups
	}
	return nil
}
