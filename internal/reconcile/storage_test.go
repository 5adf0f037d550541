package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// volumeUsage counts the blocks of the volume's files, the write-ahead log aside.
func TestVolumeUsageLeavesOutTheWAL(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"data/base/1", "data/pg_wal"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, n int) {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before, err := volumeUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	write("data/pg_wal/000000010000000000000001", 4<<20)
	if got, _ := volumeUsage(dir); got != before {
		t.Fatalf("a WAL segment counted: %d, want %d", got, before)
	}
	write("data/base/1/16384", 4<<20)
	if got, _ := volumeUsage(dir); got < before+4<<20 {
		t.Fatalf("a 4 MiB table file counted %d bytes", got-before)
	}
}

func TestStorageLimitReasonNamesTheLimit(t *testing.T) {
	if got := storageFullReason(64 << 20); got == "" || !strings.Contains(got, "64 MiB") || !strings.Contains(got, "AllocatedStorage") {
		t.Fatalf("reason %q", got)
	}
}
