package reconcile

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// events returns "SOURCE: MESSAGE" of every event stored so far.
func (g *statusRig) events() []string {
	g.t.Helper()
	evs, err := g.st.Events(g.ctx, store.EventQuery{End: time.Now().Add(100 * 365 * 24 * time.Hour)})
	if err != nil {
		g.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.SourceID+": "+e.Message)
	}
	return out
}

// TestUnreachableDataDirectoryFailsWithItsReason is issue 17's case: a data directory the
// server's account cannot reach (a directory above it it may not traverse) left the
// cluster and its writer "creating" with no reason anywhere in the API. They now leave
// creating for failed, with the reason in their status and in one event each (not one
// per retry); once the directory is reachable, the next pass creates them.
func TestUnreachableDataDirectoryFailsWithItsReason(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	root := g.r.cfg.DataDir
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := g.r.reconcileCluster(g.ctx, "c1"); err == nil {
			t.Fatal("the pass succeeded on an unreachable data directory")
		}
	}
	if c := g.cluster(); c.Status != store.StatusFailed || c.StatusReason != reasonUnreachable {
		t.Errorf("cluster: %s %q, want failed %q", c.Status, c.StatusReason, reasonUnreachable)
	}
	if in := g.instance(); in.Status != store.StatusFailed || in.StatusReason != reasonUnreachable {
		t.Errorf("instance: %s %q, want failed %q", in.Status, in.StatusReason, reasonUnreachable)
	}
	want := []string{
		"c1: " + rdsevent.ClusterCreateFailed.New("c1", g.clock, reasonUnreachable).Message,
		"i1: " + rdsevent.InstanceFailed.New("i1", g.clock, reasonUnreachable).Message,
	}
	if got := g.events(); !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}

	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	g.pass()
	if c, in := g.cluster(), g.instance(); c.Status != store.StatusAvailable || in.Status != store.StatusAvailable || in.StatusReason != "" {
		t.Errorf("after the fix: cluster %s, instance %s %q; want both available", c.Status, in.Status, in.StatusReason)
	}
	want = append(want, "c1: DB cluster created", "i1: DB instance created")
	if got := g.events(); !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
}
