package audit

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// Ready says no when an event could not be written: the volume is full (no space can be
// reserved ahead of the trail any more) or the trail is closed; a volume that cannot
// reserve at all is no reason to refuse.
func TestReadySaysNoOnAFullVolume(t *testing.T) {
	dir := t.TempDir()
	tr := openTest(t, dir, time.Now)
	recordN(t, tr, "A")
	if err := tr.Ready(128 << 10); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	tr.reserved = tr.size // the reserve used up: nothing allocated past the end
	if err := tr.f.Truncate(tr.size); err != nil {
		t.Fatal(err)
	}
	tr.prealloc = func(*os.File, int64, int64) error { return syscall.ENOSPC }
	tr.mu.Unlock()
	if err := tr.Ready(128 << 10); err == nil {
		t.Fatal("ready on a full volume")
	}
	// A restarted serve on a volume now full still records into what an earlier one
	// reserved (allocated past the end of the file).
	tr.mu.Lock()
	tr.prealloc = preallocate
	tr.mu.Unlock()
	if err := tr.Ready(128 << 10); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	tr.reserved = 0
	tr.prealloc = func(*os.File, int64, int64) error { return syscall.ENOSPC }
	tr.mu.Unlock()
	if err := tr.Ready(128 << 10); err != nil {
		t.Fatalf("ready with an earlier reservation left on a full volume: %v", err)
	}
	calls := 0
	tr.mu.Lock()
	tr.reserved = tr.size
	if err := tr.f.Truncate(tr.size); err != nil {
		t.Fatal(err)
	}
	tr.prealloc = func(*os.File, int64, int64) error { calls++; return syscall.EOPNOTSUPP }
	tr.mu.Unlock()
	for range 3 {
		if err := tr.Ready(128 << 10); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("tried to reserve %d times on a volume that cannot", calls)
	}
	tr.Close()
	if err := tr.Ready(1); err == nil {
		t.Fatal("ready when closed")
	}
}

// On a full volume at midnight, the trail keeps appending into the space reserved in the
// current segment rather than start a new day's segment it could not write.
func TestNoNewSegmentWithoutRoomForIt(t *testing.T) {
	dir := t.TempDir()
	c := &clock{time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)}
	tr := openTest(t, dir, c.now)
	recordN(t, tr, "A")
	tr.mu.Lock()
	tr.prealloc = func(*os.File, int64, int64) error { return syscall.ENOSPC }
	tr.mu.Unlock()
	c.t = c.t.Add(2 * time.Minute)
	recordN(t, tr, "B")
	segs, err := segments(dir)
	if err != nil || len(segs) != 1 {
		t.Fatalf("%v %v", segs, err)
	}
	if p := verifyProblem(t, dir); p != "" {
		t.Fatal(p)
	}
	// and the new day's event, in the old day's segment, is found from the new day on
	got, _, err := tr.Lookup(Query{Max: 10, Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(got) != 1 || got[0].Event.EventName != "B" {
		t.Fatalf("%v %v", got, err)
	}
}
