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
	fail     error
	block    chan struct{} // Take waits on it (or its ctx) when set
	taken    []string
	kept     []string
	released []string
}

var madeAt = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

func (f *fakeEngine) Take(ctx context.Context, c store.Cluster, id string) (string, time.Time, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		}
	}
	if f.fail != nil {
		return "", time.Time{}, f.fail
	}
	f.taken = append(f.taken, id)
	return "set-" + id, madeAt, nil
}

func (f *fakeEngine) Keep(_ context.Context, _ store.Cluster, set string) error {
	f.kept = append(f.kept, set)
	return nil
}

func (f *fakeEngine) Release(_ context.Context, _ store.Cluster, set string) error {
	f.released = append(f.released, set)
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
		return store.ClusterSnapshot{ID: id, Type: store.SnapshotManual, Source: c, Status: store.StatusCreating, Final: final}, nil
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
	if snap.Status != store.StatusAvailable || snap.BackupSet != "set-s1" || !snap.CreatedAt.Equal(madeAt) || snap.PercentProgress != 100 || done != 1 {
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
	if snap := status(t, st, "s1"); snap.Status != store.StatusCreating || snap.BackupSet != "" {
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

// Copies share the backup set: it is let go only when the last snapshot referring to it is deleted.
func TestCopiesShareTheBackupSet(t *testing.T) {
	st, ctx := setup(t)
	eng := &fakeEngine{}
	w := New(st, eng, nil, quiet())
	ask(t, st, "s1", false)
	w.Pass(ctx)
	src := status(t, st, "s1")
	if _, err := st.CopyClusterSnapshot(ctx, "s1", 0, func(s store.ClusterSnapshot) (store.ClusterSnapshot, error) {
		s.ID, s.Status, s.CopyOf = "s2", store.StatusCopying, "s1"
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	w.Pass(ctx)
	if cp := status(t, st, "s2"); cp.Status != store.StatusAvailable || cp.BackupSet != src.BackupSet || !slices.Equal(eng.kept, []string{"set-s1"}) {
		t.Fatalf("%+v %v", cp, eng.kept)
	}
	for i, id := range []string{"s1", "s2"} {
		st.UpdateClusterSnapshot(ctx, id, func(s *store.ClusterSnapshot) error { s.Status = store.StatusDeleting; return nil })
		if err := w.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClusterSnapshot(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s not deleted: %v", id, err)
		}
		if len(eng.released) != i {
			t.Fatalf("after deleting %s, released %v", id, eng.released)
		}
	}
}
