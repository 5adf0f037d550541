package backup

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// No snapshot or cluster id reaches the bucket that could name a path outside its own:
// each is refused before pgBackRest runs (the endpoint here answers nothing, so an id
// that got through would fail differently).
func TestIDsThatWouldLeaveTheirPathInTheBucketAreRefused(t *testing.T) {
	dir := t.TempDir()
	s3, err := ReadS3Config(writeS3Config(t, "endpoint = 127.0.0.1:1\nbucket = b\nregion = us-east-1\naccess_key_id = AK\nsecret_access_key = "+testS3Secret+"\npath = /site-a\n", 0o600))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(testLogger(), Options{Root: filepath.Join(dir, "backups"), KeyFile: filepath.Join(dir, "backup.key"), S3: s3, RelayCommand: []string{"/bin/false"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok := Cluster{ResourceID: "cluster-ok", VolumeDir: filepath.Join(dir, "vol")}
	for _, bad := range []string{"../cluster-victim", "..", "a/b", "snapshots/x", "x/../../y", ".partial-x", ""} {
		errs := map[string]error{}
		_, errs["take"] = m.TakeSnapshot(ctx, ok, bad)
		errs["copy from"] = m.CopySnapshot(ctx, bad, "fine")
		errs["copy to"] = m.CopySnapshot(ctx, "fine", bad)
		errs["delete"] = m.DeleteSnapshot(ctx, bad)
		errs["forget"] = m.Forget(ctx, bad)
		_, errs["source"] = m.SnapshotSource(bad)
		if bad != "" { // "" is no snapshot: a point-in-time restore
			errs["restore"] = m.Restore(ctx, RestoreRequest{SourceResourceID: "cluster-ok", SnapshotID: bad,
				Into: Cluster{ResourceID: "cluster-new", VolumeDir: filepath.Join(dir, "new"), DataDir: filepath.Join(dir, "new", "data")}})
		}
		for op, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "want letters, digits") {
				t.Errorf("%s %q: %v, want the id refused", op, bad, err)
			}
		}
	}
}
