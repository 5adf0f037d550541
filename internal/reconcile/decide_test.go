package reconcile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func inst(status store.Status, reason string) store.Instance {
	return store.Instance{ID: "i1", Status: status, StatusReason: reason}
}

// failedOnce is the backoff after one failed start of spec "s1" at t0: the next waits 1s.
var failedOnce = backoff{}.failed("s1", t0)

// TestDecide pins down every branch of the decide step.
func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    facts
		want decision
	}{
		{"a deleted instance is deleted, running or not",
			facts{Instance: inst(store.StatusDeleting, ""), Running: true, Accepting: true},
			decision{Action: actDelete}},
		{"a new instance's server is started; it stays creating meanwhile",
			facts{Instance: inst(store.StatusCreating, "")},
			decision{Action: actStart}},
		{"an available instance whose server ended is rebooting while it starts again",
			facts{Instance: inst(store.StatusAvailable, ""), Ended: true},
			decision{Action: actStart, Status: store.StatusRebooting, Reason: reasonStarting}},
		{"an available instance whose server this serve never ran is started (or adopted) as it is",
			facts{Instance: inst(store.StatusAvailable, "")},
			decision{Action: actStart}},
		{"a reboot asked for while no server runs is a start",
			facts{Instance: inst(store.StatusRebooting, "")},
			decision{Action: actStart}},
		{"a modification whose server is down is carried out by the start",
			facts{Instance: inst(store.StatusModifying, "")},
			decision{Action: actStart}},
		{"a server that failed to start waits out its delay, keeping its status",
			facts{Instance: inst(store.StatusIncompatibleParameters, reasonParameters), Backoff: failedOnce, Spec: "s1", Now: t0.Add(999 * time.Millisecond)},
			decision{Action: actWait}},
		{"an available instance whose server ended soon after its start waits, rebooting",
			facts{Instance: inst(store.StatusAvailable, ""), Ended: true, Backoff: failedOnce, Spec: "s1", Now: t0},
			decision{Action: actWait, Status: store.StatusRebooting, Reason: reasonStarting}},
		{"once the delay has passed the start is tried again",
			facts{Instance: inst(store.StatusFailed, reasonFailed), Backoff: failedOnce, Spec: "s1", Now: t0.Add(time.Second)},
			decision{Action: actStart}},
		{"a changed server (a parameter fixed) is tried at once",
			facts{Instance: inst(store.StatusIncompatibleParameters, reasonParameters), Backoff: failedOnce, Spec: "s2", Now: t0},
			decision{Action: actStart}},
		{"a storage-full instance is retried after its delay too",
			facts{Instance: inst(store.StatusStorageFull, reasonStorageFull), Backoff: failedOnce, Spec: "s1", Now: t0.Add(2 * time.Second)},
			decision{Action: actStart}},
		{"a reboot asked for restarts the running server",
			facts{Instance: inst(store.StatusRebooting, ""), Running: true, Accepting: true},
			decision{Action: actRestart}},
		{"a reboot asked for restarts a server that does not accept connections too",
			facts{Instance: inst(store.StatusRebooting, ""), Running: true},
			decision{Action: actRestart}},
		{"a running server that does not accept connections is not available",
			facts{Instance: inst(store.StatusAvailable, ""), Running: true},
			decision{Action: actMark, Status: store.StatusRebooting, Reason: reasonNotAccepting}},
		{"the reconciler's own rebooting is waited out, not restarted",
			facts{Instance: inst(store.StatusRebooting, reasonNotAccepting), Running: true},
			decision{Action: actNone}},
		{"nothing is reloaded into a server that does not accept connections",
			facts{Instance: inst(store.StatusModifying, ""), Running: true, Pending: true},
			decision{Action: actNone}},
		{"changed settings or a new certificate are reloaded",
			facts{Instance: inst(store.StatusAvailable, ""), Running: true, Accepting: true, Pending: true},
			decision{Action: actReload}},
		{"a reload comes before settling a modification",
			facts{Instance: inst(store.StatusModifying, ""), Running: true, Accepting: true, Pending: true},
			decision{Action: actReload}},
		{"a modification with nothing left to apply is settled",
			facts{Instance: inst(store.StatusModifying, ""), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"a creating instance whose server accepts connections is settled",
			facts{Instance: inst(store.StatusCreating, ""), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"a server accepting connections again ends the reconciler's rebooting",
			facts{Instance: inst(store.StatusRebooting, reasonNotAccepting), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"a server accepting connections ends failed",
			facts{Instance: inst(store.StatusFailed, reasonFailed), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"a server accepting connections ends storage-full",
			facts{Instance: inst(store.StatusStorageFull, reasonStorageFull), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"a server accepting connections ends incompatible-parameters",
			facts{Instance: inst(store.StatusIncompatibleParameters, reasonParameters), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"a cluster at its storage limit: the read-only switch is reloaded first",
			facts{Instance: inst(store.StatusAvailable, ""), Running: true, Accepting: true, Pending: true, StorageFull: "limit"},
			decision{Action: actReload}},
		{"a cluster at its storage limit: its available instance is settled into storage-full",
			facts{Instance: inst(store.StatusAvailable, ""), Running: true, Accepting: true, StorageFull: "limit"},
			decision{Action: actSettle}},
		{"a cluster at its storage limit: its storage-full instance is left so",
			facts{Instance: inst(store.StatusStorageFull, "limit"), Running: true, Accepting: true, StorageFull: "limit"},
			decision{Action: actNone}},
		{"a cluster under its limit again: storage-full ends",
			facts{Instance: inst(store.StatusStorageFull, "limit"), Running: true, Accepting: true},
			decision{Action: actSettle}},
		{"an available instance whose server serves is left alone",
			facts{Instance: inst(store.StatusAvailable, ""), Running: true, Accepting: true},
			decision{Action: actNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.f); got != tc.want {
				t.Errorf("decide = %+v (%s), want %+v (%s)", got, got.Action, tc.want, tc.want.Action)
			}
		})
	}
}

// TestDecideNeverSaysAvailableWithoutAServer: whatever the record says, decide never sets
// available; only a server that runs and accepts connections is settled into it.
func TestDecideNeverSaysAvailableWithoutAServer(t *testing.T) {
	statuses := []store.Status{store.StatusCreating, store.StatusAvailable, store.StatusDeleting, store.StatusRebooting,
		store.StatusModifying, store.StatusFailed, store.StatusStorageFull, store.StatusIncompatibleParameters}
	for _, st := range statuses {
		for _, reason := range []string{"", reasonStarting} {
			for _, running := range []bool{false, true} {
				for _, accepting := range []bool{false, true} {
					// A server the driver never ran may run still (adoption): only one that
					// ended is known to be down.
					f := facts{Instance: inst(st, reason), Running: running, Accepting: running && accepting, Ended: !running, Now: t0}
					d := decide(f)
					if d.Status == store.StatusAvailable {
						t.Errorf("%+v: decide sets available itself", f)
					}
					if d.Action == actSettle && !f.Accepting {
						t.Errorf("%+v: settles a server that does not accept connections", f)
					}
					if st == store.StatusAvailable && !f.Accepting && d.Status == "" && d.Action != actRestart {
						t.Errorf("%+v: stays available (%s)", f, d.Action)
					}
				}
			}
		}
	}
}

func TestRetryDelayDoublesFromOneSecondToFiveMinutes(t *testing.T) {
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for n, w := range want {
		if got := retryDelay(n); got != w {
			t.Errorf("retryDelay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := retryDelay(1 << 30); got != retryMax {
		t.Errorf("retryDelay(huge) = %v", got)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{}
	if b.waiting("s1", t0) {
		t.Fatal("a server that never failed waits")
	}
	var delays []time.Duration
	now := t0
	for range 4 {
		b = b.failed("s1", now)
		delays = append(delays, b.Next.Sub(now))
		if !b.waiting("s1", now) || !b.waiting("s1", b.Next.Add(-time.Nanosecond)) || b.waiting("s1", b.Next) {
			t.Fatalf("after failure %d: waiting is wrong around %v", b.Failures, b.Next)
		}
		now = b.Next
	}
	if fmt.Sprint(delays) != "[1s 2s 4s 8s]" {
		t.Errorf("delays %v", delays)
	}
	if b.waiting("s2", now.Add(-time.Second)) {
		t.Error("a changed server waits for the old one's delay")
	}
	if c := b.failed("s2", now); c.Failures != 1 || c.Next != now.Add(time.Second) {
		t.Errorf("a changed server's first failure: %+v", c)
	}

	// A start that succeeds does not wipe the count: a server that ends soon after each
	// start backs off like one that cannot start.
	b = b.started("s1", now)
	crashed := b.ended(now.Add(10 * time.Second))
	if crashed.Failures != 5 || !crashed.waiting("s1", now.Add(10*time.Second)) || crashed.Next != now.Add(10*time.Second+16*time.Second) {
		t.Errorf("ended soon after its start: %+v", crashed)
	}
	if again := crashed.ended(now.Add(time.Hour)); again != crashed {
		t.Errorf("ended twice for one start: %+v", again)
	}
	if stable := b.ended(now.Add(stableAfter)); stable != (backoff{}) {
		t.Errorf("ended after running %v: %+v, want a clean slate", stableAfter, stable)
	}
	if fresh := b.started("s2", now); fresh.Failures != 0 {
		t.Errorf("a changed server that starts keeps the old failures: %+v", fresh)
	}
	if never := (backoff{}).ended(now); never != (backoff{}) {
		t.Errorf("ended without a start: %+v", never)
	}
}

func TestClusterFollowsItsWriter(t *testing.T) {
	cluster := func(st store.Status, reason string) store.Cluster {
		return store.Cluster{ID: "c1", Status: st, StatusReason: reason}
	}
	w := func(st store.Status, reason string) *store.Instance {
		in := inst(st, reason)
		return &in
	}
	for _, tc := range []struct {
		name       string
		c          store.Cluster
		writer     *store.Instance
		want       store.Status
		wantReason string
		ok         bool
	}{
		{"a failing writer fails the cluster", cluster(store.StatusAvailable, ""), w(store.StatusStorageFull, reasonStorageFull), store.StatusStorageFull, reasonStorageFull, true},
		{"a writer whose port is taken", cluster(store.StatusAvailable, ""), w(store.StatusIncompatibleNetwork, reasonServerPort), store.StatusIncompatibleNetwork, reasonServerPort, true},
		{"the reason changes with the writer's", cluster(store.StatusFailed, reasonFailed), w(store.StatusIncompatibleParameters, reasonParameters), store.StatusIncompatibleParameters, reasonParameters, true},
		{"a writer serving again makes the cluster available", cluster(store.StatusIncompatibleParameters, reasonParameters), w(store.StatusAvailable, ""), store.StatusAvailable, "", true},
		{"nothing changes when both agree", cluster(store.StatusAvailable, ""), w(store.StatusAvailable, ""), "", "", false},
		{"a rebooting writer leaves the cluster", cluster(store.StatusAvailable, ""), w(store.StatusRebooting, reasonStarting), "", "", false},
		{"a creating writer leaves the cluster", cluster(store.StatusFailed, reasonFailed), w(store.StatusCreating, ""), "", "", false},
		{"no writer, no change", cluster(store.StatusAvailable, ""), nil, "", "", false},
		{"the API's modifying is the API's", cluster(store.StatusModifying, ""), w(store.StatusFailed, reasonFailed), "", "", false},
		{"the API's resetting is the API's", cluster(store.StatusResettingMaster, ""), w(store.StatusFailed, reasonFailed), "", "", false},
		{"the API's deleting is the API's", cluster(store.StatusDeleting, ""), w(store.StatusFailed, reasonFailed), "", "", false},
		{"creating is ended by the volume, not the writer", cluster(store.StatusCreating, ""), w(store.StatusAvailable, ""), "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, reason, ok := clusterFollow(tc.c, tc.writer)
			if st != tc.want || reason != tc.wantReason || ok != tc.ok {
				t.Errorf("clusterFollow = %q %q %v, want %q %q %v", st, reason, ok, tc.want, tc.wantReason, tc.ok)
			}
		})
	}
}

func TestClassifyStart(t *testing.T) {
	exited := errors.New("engine: i1: postgres exited during startup (exit status 1)")
	for _, tc := range []struct {
		name   string
		err    error
		log    string
		free   int64
		want   store.Status
		reason string
	}{
		{"the server's port is held by another program", &engine.PortTakenError{Port: 5432, Holder: "another program"}, "", 1 << 30,
			store.StatusIncompatibleNetwork, reasonServerPort},
		{"the server's port is in use", fmt.Errorf("engine: i1: %w", &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}), "", 1 << 30,
			store.StatusIncompatibleNetwork, reasonServerPort},
		{"no space in the log", exited,
			"2026-01-01 00:00:00.000 UTC [12] PANIC:  could not write to file \"pg_wal/xlogtemp.12\": No space left on device\n", 1 << 30,
			store.StatusStorageFull, reasonStorageFull},
		{"no space writing the configuration", fmt.Errorf("engine: writing borealis.conf: %w", &os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), "", 1 << 30,
			store.StatusStorageFull, reasonStorageFull},
		{"an almost full volume, the log silent", exited, "", 4096,
			store.StatusStorageFull, reasonStorageFull},
		{"an invalid value", exited,
			"LOG:  invalid value for parameter \"TimeZone\": \"Mars/Olympus\"\nFATAL:  configuration file \"/v/data/borealis.conf\" contains errors\n", 1 << 30,
			store.StatusIncompatibleParameters, reasonParameters + " (timezone)."},
		{"a value out of range", exited,
			"LOG:  12 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)\nFATAL:  configuration file \"/v/data/borealis.conf\" contains errors\n", 1 << 30,
			store.StatusIncompatibleParameters, reasonParameters + " (work_mem)."},
		{"ciphers OpenSSL does not know", exited,
			"FATAL:  could not set the cipher list (no valid ciphers available)\n", 1 << 30,
			store.StatusIncompatibleParameters, reasonParameters + " (ssl_ciphers)."},
		{"protocol versions that contradict", exited,
			"FATAL:  could not set SSL protocol version range\nDETAIL:  \"ssl_min_protocol_version\" cannot be higher than \"ssl_max_protocol_version\".\n", 1 << 30,
			store.StatusIncompatibleParameters, reasonParameters + " (ssl_min_protocol_version)."},
		{"shared memory too large", exited,
			"FATAL:  could not map anonymous shared memory: Cannot allocate memory\n", 1 << 30,
			store.StatusIncompatibleParameters, reasonParameters + " (shared_buffers, max_connections)."},
		{"a quoted name that is no parameter name is not repeated", exited,
			"LOG:  invalid value for parameter \"a b\"\nFATAL:  configuration file \"/v\" contains errors\n", 1 << 30,
			store.StatusIncompatibleParameters, reasonParameters + "."},
		{"anything else", exited,
			"FATAL:  data directory \"/v/data\" has invalid permissions\n", 1 << 30,
			store.StatusFailed, reasonFailed},
		{"the driver's text is not searched: it quotes older log lines", errors.New("postgres exited; log ends:\nLOG: No space left on device"), "", 1 << 30,
			store.StatusFailed, reasonFailed},
		{"an unknown free space is not a full volume", exited, "", -1,
			store.StatusFailed, reasonFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, reason := classifyStart(tc.err, tc.log, tc.free)
			if st != tc.want || reason != tc.reason {
				t.Errorf("classifyStart = %q %q, want %q %q", st, reason, tc.want, tc.reason)
			}
		})
	}
}

// TestReasonsCarryNothingFromTheLog: a log line a tenant could shape (a parameter value,
// a path, text from RAISE) never reaches the reason the API shows.
func TestReasonsCarryNothingFromTheLog(t *testing.T) {
	secret := "s3cr3t-Value"
	for _, log := range []string{
		`LOG:  invalid value for parameter "rds.allowed_extensions": "` + secret + `"` + "\nFATAL:  configuration file contains errors\n",
		`LOG:  invalid value for parameter "` + secret + `; DROP"` + "\nFATAL:  configuration file contains errors\n",
		"FATAL:  " + secret + "\n",
	} {
		_, reason := classifyStart(errors.New(secret), log, 1<<30)
		if strings.Contains(strings.ToLower(reason), strings.ToLower(secret)) {
			t.Errorf("reason %q quotes the log", reason)
		}
	}
}

// TestLogSinceReadsOnlyTheAttempt: lines written before the start (a tenant's RAISE LOG
// 'No space left on device', say) are not the start's.
func TestLogSinceReadsOnlyTheAttempt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "postgresql.log")
	if err := os.WriteFile(p, []byte("LOG:  No space left on device\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	off := logSize(p)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("FATAL:  could not set the cipher list (no valid ciphers available)\n")
	f.Close()
	got := logSince(p, off)
	if got != "FATAL:  could not set the cipher list (no valid ciphers available)\n" {
		t.Fatalf("logSince = %q", got)
	}
	if st, _ := classifyStart(errors.New("exited"), got, 1<<30); st != store.StatusIncompatibleParameters {
		t.Errorf("classified %q", st)
	}
	if logSince(p, 1<<40) != "" || logSince(filepath.Join(t.TempDir(), "none"), 0) != "" {
		t.Error("a truncated or missing log gives text")
	}
}
