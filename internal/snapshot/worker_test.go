package snapshot

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/store"
)

// fakeEngine records what the worker asks of the backup engine.
type fakeEngine struct {
	fail    error
	block   chan struct{} // Take waits on it (or its ctx) when set
	taken   []string
	copied  [][2]string
	deleted []string
}

var madeAt = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

func (f *fakeEngine) Take(ctx context.Context, c store.Cluster, id string) (time.Time, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	if f.fail != nil {
		return time.Time{}, f.fail
	}
	f.taken = append(f.taken, id)
	return madeAt, nil
}

func (f *fakeEngine) Copy(_ context.Context, from, to string) error {
	f.copied = append(f.copied, [2]string{from, to})
	return f.fail
}

func (f *fakeEngine) Delete(_ context.Context, id string) error {
	f.deleted = append(f.deleted, id)
	return nil
}

func setup(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateCluster(ctx, store.Cluster{ID: "c1", ResourceID: "cluster-X", Status: store.StatusAvailable, VolumeReady: true}); err != nil {
		t.Fatal(err)
	}
	return st, ctx
}

func ask(t *testing.T, st *store.Store, id string, final bool) {
	t.Helper()
	if _, err := st.CreateClusterSnapshot(context.Background(), "c1", 0, func(c store.Cluster) (store.ClusterSnapshot, error) {
		return store.ClusterSnapshot{ID: id, ResourceID: "snapshot-" + id, Type: store.SnapshotManual, Source: c, Status: store.StatusCreating, Final: final}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func status(t *testing.T, st *store.Store, id string) store.ClusterSnapshot {
	t.Helper()
	snap, err := st.ClusterSnapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A snapshot is available only once the engine made its backup set; its time is the data's.
func TestSnapshotIsAvailableOnceMade(t *testing.T) {
	st, ctx := setup(t)
	eng := &fakeEngine{}
	done := 0
	w := New(st, eng, func() { done++ }, quiet())
	ask(t, st, "s1", false)
	if err := w.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	snap := status(t, st, "s1")
	if snap.Status != store.StatusAvailable || !slices.Equal(eng.taken, []string{"snapshot-s1"}) || !snap.CreatedAt.Equal(madeAt) || snap.PercentProgress != 100 || done != 1 {
		t.Fatalf("%+v (done %d)", snap, done)
	}
	if err := w.Pass(ctx); err != nil || len(eng.taken) != 1 {
		t.Fatalf("made again: %v %v", eng.taken, err)
	}
}

// kill -9 while the engine works: the snapshot is still creating (never available
// half-made), and the next serve's worker makes it.
func TestSnapshotInterruptedIsMadeAgain(t *testing.T) {
	st, ctx := setup(t)
	eng := &fakeEngine{block: make(chan struct{})}
	ask(t, st, "s1", false)
	cut, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	New(st, eng, nil, quiet()).Pass(cut)
	if snap := status(t, st, "s1"); snap.Status != store.StatusCreating {
		t.Fatalf("after the cut: %+v", snap)
	}
	if under, _ := st.SnapshotsUnderway(ctx, "c1"); !under {
		t.Fatal("the cluster's volume would be destroyed under its snapshot")
	}
	eng.block = nil
	if err := New(st, eng, nil, quiet()).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if snap := status(t, st, "s1"); snap.Status != store.StatusAvailable {
		t.Fatalf("after the restart: %+v", snap)
	}
}

// A manual snapshot the engine cannot make fails; a final one is retried, so that the
// cluster's volume stays until it is made.
func TestFailedSnapshot(t *testing.T) {
	st, ctx := setup(t)
	eng := &fakeEngine{fail: errors.New("repository full")}
	ask(t, st, "s1", false)
	ask(t, st, "final", true)
	w := New(st, eng, nil, quiet())
	if err := w.Pass(ctx); err == nil {
		t.Fatal("no error")
	}
	if snap := status(t, st, "s1"); snap.Status != store.StatusFailed || snap.StatusReason == "" {
		t.Fatalf("%+v", snap)
	}
	if snap := status(t, st, "final"); snap.Status != store.StatusCreating {
		t.Fatalf("%+v", snap)
	}
	eng.fail = nil
	w.Pass(ctx)
	if snap := status(t, st, "final"); snap.Status != store.StatusAvailable {
		t.Fatalf("%+v", snap)
	}
}

// A copy is made by the engine from the source's data into its own; the source is
// deleted only once no copy of it is being made.
func TestCopyThenDelete(t *testing.T) {
	st, ctx := setup(t)
	eng := &fakeEngine{}
	w := New(st, eng, nil, quiet())
	ask(t, st, "s1", false)
	w.Pass(ctx)
	if _, err := st.CopyClusterSnapshot(ctx, "s1", 0, func(s store.ClusterSnapshot) (store.ClusterSnapshot, error) {
		s.ID, s.ResourceID, s.Status, s.CopyOf, s.CopyFrom = "s2", "snapshot-s2", store.StatusCopying, "s1", s.ResourceID
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	st.UpdateClusterSnapshot(ctx, "s1", func(s *store.ClusterSnapshot) error { s.Status = store.StatusDeleting; return nil })
	if busy, _ := st.CopiesUnderway(ctx, "snapshot-s1"); !busy {
		t.Fatal("the copy is not underway")
	}
	// The first pass copies s2 while s1 waits for it; the next deletes s1.
	if err := w.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if cp := status(t, st, "s2"); cp.Status != store.StatusAvailable || len(eng.copied) != 1 || eng.copied[0] != [2]string{"snapshot-s1", "snapshot-s2"} {
		t.Fatalf("%+v %v", cp, eng.copied)
	}
	w.Pass(ctx)
	if _, err := st.ClusterSnapshot(ctx, "s1"); !errors.Is(err, store.ErrNotFound) || !slices.Equal(eng.deleted, []string{"snapshot-s1"}) {
		t.Fatalf("s1: %v, deleted %v", err, eng.deleted)
	}
}
