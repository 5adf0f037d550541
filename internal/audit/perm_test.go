package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A trail directory made readable by others (copied back from a backup, made by hand) is
// closed again at open, and so is its current segment: the trail names every user's
// calls, addresses and parameters, for cloudtrail:LookupEvents to grant, not the host's
// users.
func TestOpenClosesATrailOpenedToOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	tr := openTest(t, dir, time.Now)
	recordN(t, tr, "A")
	tr.Close()
	seg := segmentFile(t, dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seg, 0o644); err != nil {
		t.Fatal(err)
	}
	openTest(t, dir, time.Now)
	for _, p := range []string{dir, seg} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
}

// A symbolic link at the trail's place is refused: serve does not write its trail where
// a link points.
func TestOpenRefusesALinkForTheTrailDirectory(t *testing.T) {
	base := t.TempDir()
	elsewhere := filepath.Join(base, "elsewhere")
	os.Mkdir(elsewhere, 0o700)
	link := filepath.Join(base, "audit")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	if tr, err := Open(t.Context(), link, Options{}); err == nil {
		tr.Close()
		t.Fatal("opened a trail through a link")
	}
}
