package reconcile

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// hangingStart is a driver whose Start of server name hangs, while hang is set, until its
// context ends (or a minute passes: a restart nobody bounds), as a crash recovery that
// never finishes would.
type hangingStart struct {
	engine.Driver
	name    string
	hang    *atomic.Bool
	bounded *atomic.Bool // a hanging start ended by its context: someone bounded it
}

func (d hangingStart) Start(ctx context.Context, s engine.Spec) error {
	if s.Name != d.name || !d.hang.Load() {
		return d.Driver.Start(ctx, s)
	}
	select {
	case <-ctx.Done():
		d.bounded.Store(true)
		return fmt.Errorf("engine: %s: postgres not ready: %w", s.Name, ctx.Err())
	case <-time.After(time.Minute):
		return fmt.Errorf("engine: %s: postgres not ready after a minute", s.Name)
	}
}

// TestAHangingWriterRestartIsNotWaitedFor: the writer's server ends and its restart does
// not become ready; with a reader able to take over, the restart is given up after a
// bound and the reader is promoted, without a call. The old writer then comes back as a
// reader.
func TestAHangingWriterRestartIsNotWaitedFor(t *testing.T) {
	g := newStatusRig(t)
	hang, bounded := &atomic.Bool{}, &atomic.Bool{}
	g.r.driver = hangingStart{Driver: g.driver, name: "i1", hang: hang, bounded: bounded}
	g.addCluster("")
	g.addReader()
	get := g.instanceByID
	pass := func() {
		g.clock = g.clock.Add(time.Minute) // past any restart backoff
		if err := g.r.reconcileCluster(g.ctx, "c1"); err != nil {
			t.Logf("pass: %v", err)
		}
	}
	for i := 0; i < 20 && (get("i1").Status != store.StatusAvailable || get("i2").Status != store.StatusAvailable); i++ {
		pass()
		time.Sleep(100 * time.Millisecond)
	}
	if get("i2").Status != store.StatusAvailable || !get("i1").Writer {
		t.Fatalf("the reader did not become available: %q %q", get("i2").Status, get("i2").StatusReason)
	}

	hang.Store(true)
	if err := syscall.Kill(g.driver.Status("i1").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && g.driver.Status("i1").State == engine.StateRunning; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 5 && !get("i2").Writer; i++ {
		pass()
	}
	if !get("i2").Writer {
		t.Fatalf("the reader was not promoted: i1 %q %q", get("i1").Status, get("i1").StatusReason)
	}
	if !bounded.Load() {
		t.Fatalf("the failover waited for the hanging restart to give up by itself")
	}
	if in := get("i1"); in.Status != store.StatusRebooting || in.Status == store.StatusFailed {
		t.Errorf("the old writer: %q %q, want rebooting on its way back as a reader", in.Status, in.StatusReason)
	}
	hang.Store(false)
	for i := 0; i < 20 && (get("i1").Status != store.StatusAvailable || get("i2").Status != store.StatusAvailable); i++ {
		pass()
		time.Sleep(100 * time.Millisecond)
	}
	if in := get("i1"); in.Status != store.StatusAvailable || in.Writer || !g.driver.Standby(g.r.serverSpec(g.cluster(), in)) {
		t.Errorf("the old writer did not come back as a reader: %q %q writer %v", in.Status, in.StatusReason, in.Writer)
	}
}
