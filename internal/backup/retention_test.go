package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Retention is Borealis' decision on its own clock: with the clock moved two days on, a
// one-day window keeps the newest backup (the window starts from it) and drops the others
// and the WAL before it.
func TestExpireWithTestClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	cl := inst.cluster(t, "ret")
	inst.create(t, ctx, cl)
	c := inst.conn(t, ctx, cl)
	var sets []Set
	for i := 0; i < 3; i++ {
		sqlExec(t, ctx, c, "CREATE TABLE public.t"+string(rune('a'+i))+" (n int)")
		inst.archived(t, ctx, cl)
		s, err := inst.m.Backup(ctx, cl.c)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	if gone, err := inst.m.Expire(ctx, cl.c, 1); err != nil || len(gone) != 0 {
		t.Fatalf("expire today: %v, %v; want nothing gone", gone, err)
	}
	inst.clock.off = 48 * time.Hour
	gone, err := inst.m.Expire(ctx, cl.c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 2 || gone[0] != sets[0].Label || gone[1] != sets[1].Label {
		t.Fatalf("expired %v, want the two older of %v", gone, sets)
	}
	info, err := inst.m.Info(ctx, cl.c)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Sets) != 1 || info.Sets[0].Label != sets[2].Label || !info.EarliestRestorable.Equal(sets[2].Stop) {
		t.Fatalf("after expiry: %+v", info)
	}
	// No WAL older than the kept set's first segment.
	root := filepath.Join(inst.m.repoPath(cl.c.ResourceID), "archive", cl.c.ResourceID)
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) >= 24 && !strings.HasSuffix(d.Name(), ".history") &&
			d.Name()[:24] < sets[2].ArchiveStart {
			t.Errorf("WAL %s older than the kept set (%s) is still there", d.Name(), sets[2].ArchiveStart)
		}
		return nil
	})
}
