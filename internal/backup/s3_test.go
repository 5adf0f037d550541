package backup

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// bucketKeys are the keys in the test bucket that start with prefix.
func bucketKeys(t *testing.T, mem *s3mem.Backend, prefix string) []string {
	t.Helper()
	objs, err := mem.ListBucket("borealis-backups", &gofakes3.Prefix{Prefix: prefix, HasPrefix: prefix != ""}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs.Contents {
		names = append(names, o.Key)
	}
	return names
}

// A cluster archives and backs up into an S3-compatible server (gofakes3 over TLS, in
// this process) from the documented configuration file; pgBackRest verifies what the
// bucket holds; a new cluster restored from it to a noted time has exactly the rows
// written by then.
func TestArchiveBackupAndRestoreWithAnS3Bucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst, mem, _ := newS3Installation(t, ctx, testLogger())
	cl := inst.cluster(t, "s3")
	inst.create(t, ctx, cl)
	c := inst.conn(t, ctx, cl)
	sqlExec(t, ctx, c, "CREATE TABLE public.notes AS SELECT generate_series(1, 1000) n")
	inst.archived(t, ctx, cl)
	set, err := inst.m.Backup(ctx, cl.c)
	if err != nil {
		t.Fatalf("backup to the bucket: %v", err)
	}
	info, err := inst.m.Info(ctx, cl.c)
	if err != nil || len(info.Sets) != 1 || info.Sets[0].Label != set.Label {
		t.Fatalf("info: %+v, %v", info, err)
	}
	// Nothing went to the local root; the bucket has the set and the WAL, encrypted.
	if _, err := os.Stat(filepath.Join(inst.root, "backups", cl.c.ResourceID)); err == nil {
		t.Error("a local repository was made with S3 set")
	}
	all := strings.Join(bucketKeys(t, mem, ""), "\n")
	for _, want := range []string{"site-a/" + cl.c.ResourceID + "/backup/" + cl.c.ResourceID + "/" + set.Label + "/backup.manifest",
		"site-a/" + cl.c.ResourceID + "/archive/" + cl.c.ResourceID + "/archive.info"} {
		if !strings.Contains(all, want) {
			t.Errorf("the bucket lacks %s; it has:\n%s", want, all)
		}
	}
	// pgBackRest's own check of the repository (checksums of every file of the set and
	// WAL), as root: the cluster's account holds no key to the bucket.
	if _, err := inst.m.run(ctx, invocation{as: self(), conf: inst.m.rootConfPath(cl.c.ResourceID), stanza: cl.c.ResourceID, command: "verify"}); err != nil {
		t.Fatalf("pgbackrest verify: %v", err)
	}

	sqlExec(t, ctx, c, "CREATE TABLE public.later (n int); INSERT INTO public.later VALUES (1), (2)")
	var noted time.Time
	if err := c.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&noted); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, ctx, c, "INSERT INTO public.later VALUES (3); DROP TABLE public.notes")
	inst.archived(t, ctx, cl)
	// The restorable window reaches past the backup, to when the newest WAL reached the
	// bucket (the relay's record of its last push).
	info, err = inst.m.Info(ctx, cl.c)
	if err != nil || info.LastArchived.IsZero() || info.LatestRestorable.Before(noted) {
		t.Fatalf("after archiving: latest restorable %v, last archived %v (%v), noted %v", info.LatestRestorable, info.LastArchived, err, noted)
	}
	// serve starts again (the record is on disk): the same window.
	m2, err := New(testLogger(), inst.m.o)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := m2.Info(ctx, cl.c); err != nil || !again.LastArchived.Equal(info.LastArchived) {
		t.Fatalf("after a restart: last archived %v (%v), want %v", again.LastArchived, err, info.LastArchived)
	}
	dst := inst.cluster(t, "s3dst")
	if err := inst.driver.PrepareVolume(ctx, dst.spec); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.Restore(ctx, RestoreRequest{SourceResourceID: cl.c.ResourceID, Time: noted, Into: dst.c,
		Rekey: rekeyTo(dst.spec.AdminPassword)}); err != nil {
		t.Fatalf("restore from the bucket: %v", err)
	}
	startRestored(t, ctx, inst, dst)
	rc := inst.conn(t, ctx, dst)
	var notes, later int
	if err := rc.QueryRow(ctx, "SELECT (SELECT count(*) FROM public.notes), (SELECT count(*) FROM public.later)").Scan(&notes, &later); err != nil {
		t.Fatalf("restored tables: %v", err)
	}
	if notes != 1000 || later != 2 {
		t.Fatalf("restored %d notes and %d later rows, want 1000 and 2", notes, later)
	}
	// The restore's staging (the source's cipher pass, the staged copy) is gone.
	if _, err := os.Stat(filepath.Join(dst.c.VolumeDir, stagingName)); err == nil {
		t.Error("the restore's staging directory is still there")
	}
}

// newS3Installation is an installation whose repositories are in a bucket of an
// S3-compatible server in this process (gofakes3 over TLS), with the archive relay
// listening until stop (at the end of the test at the latest).
func newS3Installation(t *testing.T, ctx context.Context, log *slog.Logger) (inst *installation, mem *s3mem.Backend, stop func()) {
	t.Helper()
	return newS3InstallationWith(t, ctx, log, nil)
}

// newS3InstallationWith is newS3Installation with the S3 server's handler wrapped by wrap
// (nil: none), to hold or watch requests.
func newS3InstallationWith(t *testing.T, ctx context.Context, log *slog.Logger, wrap func(http.Handler) http.Handler) (inst *installation, mem *s3mem.Backend, stop func()) {
	t.Helper()
	inst = newInstallation(t)
	mem = s3mem.New()
	if err := mem.CreateBucket("borealis-backups"); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(mem, gofakes3.WithTimeSkewLimit(0)).Server()
	if wrap != nil {
		h = wrap(h)
	}
	s3srv := httptest.NewTLSServer(h)
	t.Cleanup(s3srv.Close)
	cfg := writeS3Config(t, "endpoint = "+strings.TrimPrefix(s3srv.URL, "https://")+"\nbucket = borealis-backups\nregion = us-east-1\n"+
		"access_key_id = AKIATEST\nsecret_access_key = "+testS3Secret+"\npath = /site-a\nuri_style = path\nverify_tls = n\n", 0o600)
	s3, err := ReadS3Config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst.m, err = New(log, Options{Root: filepath.Join(inst.root, "backups"), KeyFile: filepath.Join(inst.root, "backup.key"),
		ArchiveTimeout: 5 * time.Second, Now: inst.clock.now, S3: s3, RelayCommand: []string{relayBinary(t, inst.root), relayArg}})
	if err != nil {
		t.Fatal(err)
	}
	stopRelay, err := inst.m.ListenRelay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(stopRelay) }
	t.Cleanup(stop)
	return inst, mem, stop
}
