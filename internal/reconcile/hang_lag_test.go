package reconcile

import (
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/store"
)

// TestAWriterRestartIsNotCutShortForAReaderFarBehind: the restart bound gives up a
// writer's crash recovery only for a reader that can take over without losing much. A
// reader out of the reader endpoint for its lag (replay stopped by a long query, say) has
// not got what the writer committed since: giving up the writer's recovery for it would
// fail over to data that old, where waiting would lose nothing.
func TestAWriterRestartIsNotCutShortForAReaderFarBehind(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	g.addReader()
	get := g.instanceByID
	for i := 0; i < 20 && (get("i1").Status != store.StatusAvailable || get("i2").Status != store.StatusAvailable); i++ {
		g.clock = g.clock.Add(time.Minute)
		if err := g.r.reconcileCluster(g.ctx, "c1"); err != nil {
			t.Logf("pass: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if get("i2").Status != store.StatusAvailable || !get("i1").Writer {
		t.Fatalf("the reader did not become available: %q %q", get("i2").Status, get("i2").StatusReason)
	}
	members, err := g.st.ClusterInstances(g.ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	c, w := g.cluster(), get("i1")
	ended := facts{Instance: w} // the writer's server ended; it ran before (Started)
	if !g.bounded(c, w, members, ended) {
		t.Fatalf("a writer's restart is not bounded while a caught-up reader could take over")
	}
	if err := g.r.judgeLag(g.ctx, c, get("i2"), lagLimit+1); err != nil {
		t.Fatal(err)
	}
	if g.bounded(c, w, members, ended) {
		t.Errorf("the writer's restart is cut short for a reader more than %d MB behind", lagLimit>>20)
	}
}

// bounded reports whether startBudget bounds the start of writer w.
func (g *statusRig) bounded(c store.Cluster, w store.Instance, members []store.Instance, f facts) bool {
	ctx, cancel := g.r.startBudget(g.ctx, c, w, members, f)
	defer cancel()
	_, ok := ctx.Deadline()
	return ok
}
