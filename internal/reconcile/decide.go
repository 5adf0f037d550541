package reconcile

import (
	"time"

	"github.com/borealis-db/borealis/internal/store"
)

// action is what one pass does to an instance's server.
type action int

const (
	actNone    action = iota // the server runs as desired and its status says so
	actDelete                // DeleteDBInstance: stop the server, drop the record
	actStart                 // no server runs: start one
	actWait                  // no server runs, and the delay after failed starts has not passed
	actRestart               // a reboot was asked for (RebootDBInstance, a CA change)
	actReload                // settings or a certificate wait to be loaded
	actSettle                // the server accepts connections: end the status that waited for it
	actMark                  // only the status changes: the server does not accept connections
)

var actionNames = [...]string{"none", "delete", "start", "wait", "restart", "reload", "settle", "mark"}

func (a action) String() string { return actionNames[a] }

// facts are what a pass knows about one instance before it acts.
type facts struct {
	Instance store.Instance // the record: status, reason, whether a reboot was asked for
	Running  bool           // the driver's server runs
	// Ended: the driver ran the server and it ended without being asked to. A server the
	// driver never ran (serve just started) may still be running, to be adopted by Start.
	Ended     bool
	Accepting bool    // and accepts connections
	Pending   bool    // settings or a certificate differ from what the server runs with
	Backoff   backoff // the failed starts before this pass
	Spec      string  // what a start would run (startKey): a new one is tried at once
	// StorageFull is the cluster's reason for being read-only at its storage limit; "" when
	// it is not.
	StorageFull string
	Now         time.Time
}

// decision is what to do, and the status to record first ("" keeps the record's).
type decision struct {
	Action action
	Status store.Status
	Reason string
}

// Reasons the reconciler gives for the statuses it sets while a server is not serving.
// Fixed texts: nothing from a log or an error reaches the API.
const (
	reasonStarting     = "The database server is not running; it is being restarted."
	reasonNotAccepting = "The database server does not accept connections yet (it is starting up, recovering or shutting down)."
)

// decide is the reconciler's step for one instance, from the facts alone: what to do with
// its server and what its status should say meanwhile. "available" is only ever the
// outcome of a server that runs and accepts connections (actSettle, or a start that
// succeeded).
func decide(f facts) decision {
	m := f.Instance
	switch {
	case m.Status == store.StatusDeleting:
		return decision{Action: actDelete}
	case !f.Running:
		d := decision{Action: actStart}
		if f.Backoff.waiting(f.Spec, f.Now) {
			d.Action = actWait
		}
		if m.Status == store.StatusAvailable && f.Ended {
			// It ran and ended: say so while it is down.
			d.Status, d.Reason = store.StatusRebooting, reasonStarting
		}
		// creating, rebooting, modifying: the start carries the change out; a failure
		// status stays until a start succeeds.
		return d
	case m.RebootRequested():
		return decision{Action: actRestart}
	case !f.Accepting:
		if m.Status == store.StatusAvailable {
			return decision{Action: actMark, Status: store.StatusRebooting, Reason: reasonNotAccepting}
		}
		return decision{Action: actNone}
	case f.Pending:
		return decision{Action: actReload}
	case f.StorageFull != "" && m.Status == store.StatusStorageFull && m.StatusReason == f.StorageFull:
		return decision{Action: actNone}
	case f.StorageFull != "" && m.Status == store.StatusAvailable:
		return decision{Action: actSettle} // settle marks it storage-full
	case m.Status == store.StatusModifying, m.Status == store.StatusCreating,
		m.Status == store.StatusRebooting, m.Status.Unhealthy():
		return decision{Action: actSettle}
	}
	return decision{Action: actNone}
}

// Restarts back off exponentially: retryMin after the first failure, doubling to retryMax.
const (
	retryMin = time.Second
	retryMax = 5 * time.Minute
)

// retryDelay is the wait after the n-th failure in a row (n ≥ 1).
func retryDelay(n int) time.Duration {
	if n < 1 {
		return 0
	}
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// stableAfter is how long a server must run for its end to count as a new trouble rather
// than one more failure in a row: a server that crashes soon after each start backs off too.
const stableAfter = time.Minute

// backoff counts the failed starts of one instance in a row.
type backoff struct {
	Failures int       // failed starts (or ends soon after one) in a row of Spec
	Next     time.Time // the next start of Spec may run from then
	Spec     string    // what the failed starts ran (startKey)
	Started  time.Time // when the running server started; zero while none does
}

// waiting reports whether a start of spec must wait: the same server failed to start and
// its delay has not passed. A changed server (a parameter fixed, say) is tried at once.
func (b backoff) waiting(spec string, now time.Time) bool {
	return b.Failures > 0 && b.Spec == spec && now.Before(b.Next)
}

// started returns b after a start of spec that succeeded at now: the failures are
// forgotten only once the server has run for stableAfter (see ended).
func (b backoff) started(spec string, now time.Time) backoff {
	if b.Spec != spec {
		b.Failures = 0
	}
	b.Spec, b.Started = spec, now
	return b
}

// ended returns b once the server that started at b.Started is seen not running at now: a
// failure when it ran less than stableAfter, a clean slate otherwise.
func (b backoff) ended(now time.Time) backoff {
	if b.Started.IsZero() {
		return b
	}
	if now.Sub(b.Started) >= stableAfter {
		return backoff{}
	}
	return b.failed(b.Spec, now)
}

// failed returns b after a failed start of spec at now.
func (b backoff) failed(spec string, now time.Time) backoff {
	if b.Spec != spec {
		b.Failures = 0
	}
	b.Failures++
	b.Spec, b.Started = spec, time.Time{}
	b.Next = now.Add(retryDelay(b.Failures))
	return b
}

// clusterFollow is the status a cluster should report given its writer (nil: none): the
// writer's failure status while it has one, available again once it serves. Statuses the
// API set (creating, modifying, resetting-master-credentials, deleting) are the API's to
// end, and a writer that is merely rebooting leaves the cluster as it is. ok is false when
// nothing changes.
func clusterFollow(c store.Cluster, writer *store.Instance) (status store.Status, reason string, ok bool) {
	if writer == nil || !c.Status.Settled() {
		return "", "", false
	}
	switch {
	case writer.Status.Unhealthy():
		status, reason = writer.Status, writer.StatusReason
	case writer.Status == store.StatusAvailable:
		status, reason = store.StatusAvailable, ""
	default:
		return "", "", false
	}
	if status == c.Status && reason == c.StatusReason {
		return "", "", false
	}
	return status, reason, true
}
