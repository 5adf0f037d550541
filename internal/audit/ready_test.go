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
	tr.reserved = tr.size // the reserve used up
	tr.prealloc = func(*os.File, int64, int64) error { return syscall.ENOSPC }
	tr.mu.Unlock()
	if err := tr.Ready(128 << 10); err == nil {
		t.Fatal("ready on a full volume")
	}
	calls := 0
	tr.mu.Lock()
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
