package reconcile

import (
	"strings"
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
	reader := store.Instance{ID: "i2", ClusterID: "c1", ResourceID: "db-READER" + strings.ToUpper(g.cluster().ResourceID[8:16]),
		Engine: "aurora-postgresql", Endpoint: "i2.x.test", Status: store.StatusCreating, CreatedAt: time.Now()}
	if _, err := g.st.CreateInstance(g.ctx, reader, func(store.Cluster, []store.Instance) (store.Instance, error) { return reader, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.st.UpdateInstance(g.ctx, "i2", func(in *store.Instance) error { in.Status = store.StatusDeleting; return nil })
	})
	get := func(id string) store.Instance {
		in, err := g.st.Instance(g.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
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
