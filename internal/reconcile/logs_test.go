package reconcile

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/dblog"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

// TestServerLogsAreHourlyAndTrimmed: the server's logging collector writes hourly files in
// a log directory of the instance's, the server account's and 0600 (the stderr file keeps
// only what came before the collector started); a pass deletes the files last written
// longer ago than rds.log_retention_period (the default 3 days, then 1 day once the group
// says so, without a restart), by the reconciler's clock; the file the collector writes is
// never deleted, however far the clock moves.
func TestServerLogsAreHourlyAndTrimmed(t *testing.T) {
	g := newStatusRig(t)
	if err := g.st.CreateParameterGroup(g.ctx, store.ParameterGroup{Name: "logs", Kind: store.ClusterParamGroup, Family: params.Family,
		Values: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	g.addCluster("logs")
	g.clock = time.Now()
	for i := 0; i < 5 && g.instance().Status != store.StatusAvailable; i++ {
		g.pass()
	}
	if st := g.instance().Status; st != store.StatusAvailable {
		t.Fatalf("status %q", st)
	}
	spec := g.r.serverSpec(g.cluster(), g.instance())
	files, err := dblog.List(spec.LogDir)
	if err != nil || len(files) == 0 {
		t.Fatalf("log files %v, %v", files, err)
	}
	current := files[len(files)-1]
	if !regexp.MustCompile(`^postgresql\.log\.\d{4}-\d{2}-\d{2}-\d{2}$`).MatchString(current.Name) {
		t.Fatalf("log file named %q", current.Name)
	}
	dirInfo, err := os.Stat(spec.LogDir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(spec.LogDir, current.Name))
	if err != nil {
		t.Fatal(err)
	}
	owner := dirInfo.Sys().(*syscall.Stat_t).Uid
	if owner == 0 || fi.Sys().(*syscall.Stat_t).Uid != owner || fi.Mode().Perm() != 0o600 || dirInfo.Mode().Perm() != 0o700 {
		t.Errorf("log directory %v uid %d, file %v uid %d", dirInfo.Mode(), owner, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	if b, err := os.ReadFile(spec.LogFile); err != nil || strings.Contains(string(b), "database system is ready") {
		t.Errorf("the stderr file holds what the collector writes (%v)", err)
	}

	// An hour written 30 hours ago, the server's account's as the collector's are.
	old := filepath.Join(spec.LogDir, "postgresql.log."+time.Now().Add(-30*time.Hour).UTC().Format("2006-01-02-15"))
	if err := os.WriteFile(old, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(old, int(owner), int(dirInfo.Sys().(*syscall.Stat_t).Gid)); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-29 * time.Hour)
	if err := os.Chtimes(old, at, at); err != nil {
		t.Fatal(err)
	}
	g.pass()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a file within the default 3 days was deleted: %v", err)
	}
	if _, err := g.st.UpdateParameterGroup(g.ctx, store.ClusterParamGroup, "logs", func(pg *store.ParameterGroup) error {
		pg.Values = map[string]string{params.LogRetention: "1440"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g.pass()
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("a file past 1 day of retention is still there: %v", err)
	}
	g.clock = time.Now().Add(30 * 24 * time.Hour)
	g.pass()
	if files, err := dblog.List(spec.LogDir); err != nil || len(files) == 0 || files[len(files)-1].Name < current.Name {
		t.Errorf("the collector's file was deleted: %v %v", files, err)
	}
	if g.instance().Status != store.StatusAvailable {
		t.Errorf("status %q", g.instance().Status)
	}
}

// TestAReaderDeletedBeforeItsFirstPassLeavesTheWriterAlone: a reader has no volume of its
// own until its first pass gives it one (with its private port). CreateDBInstance then
// DeleteDBInstance before that pass must not make the deletion (or the API) take the
// cluster volume's paths for the reader's: the writer's log directory stays, with its
// files, the writer's server keeps running, and the reader's logs are not the writer's.
func TestAReaderDeletedBeforeItsFirstPassLeavesTheWriterAlone(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	for i := 0; i < 5 && g.instance().Status != store.StatusAvailable; i++ {
		g.pass()
	}
	if st := g.instance().Status; st != store.StatusAvailable {
		t.Fatalf("status %q", st)
	}
	writerDir := g.r.serverSpec(g.cluster(), g.instance()).LogDir
	before, err := dblog.List(writerDir)
	if err != nil || len(before) == 0 {
		t.Fatalf("writer's log files %v, %v", before, err)
	}
	pid := g.driver.Status("i1").PID

	reader := store.Instance{ID: "i2", ClusterID: "c1", ResourceID: "db-READER" + strings.ToUpper(g.cluster().ResourceID[8:16]),
		Engine: "aurora-postgresql", Endpoint: "i2.x.test", Status: store.StatusCreating, CreatedAt: time.Now()}
	if _, err := g.st.CreateInstance(g.ctx, reader, func(store.Cluster, []store.Instance) (store.Instance, error) { return reader, nil }); err != nil {
		t.Fatal(err)
	}
	if dir, err := g.r.InstanceLogDir(g.ctx, "i2"); err != nil || dir == writerDir {
		t.Errorf("the new reader's logs are %q (%v), the writer's", dir, err)
	}
	if _, err := g.st.UpdateInstance(g.ctx, "i2", func(in *store.Instance) error { in.Status = store.StatusDeleting; return nil }); err != nil {
		t.Fatal(err)
	}
	g.pass()
	if _, err := g.st.Instance(g.ctx, "i2"); err == nil {
		t.Fatal("the reader is still there")
	}
	after, err := dblog.List(writerDir)
	if err != nil || len(after) < len(before) {
		t.Errorf("the writer's log files went with the reader: before %v, after %v (%v)", before, after, err)
	}
	if st := g.driver.Status("i1"); st.State != engine.StateRunning || st.PID != pid {
		t.Errorf("the writer's server was stopped with the reader: %+v (pid before %d)", st, pid)
	}
}

// TestAWriterCreatedWhileTheLastOneIsDeletedKeepsItsLogs: DeleteDBInstance of the writer
// on the cluster volume, then CreateDBInstance before a pass: both are writers of the
// cluster volume in that pass (the new one first, by identifier). The old one's deletion
// takes its own logs only: the new writer's server keeps running and keeps its log
// directory, and it serves none of the old writer's logs.
func TestAWriterCreatedWhileTheLastOneIsDeletedKeepsItsLogs(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	for i := 0; i < 5 && g.instance().Status != store.StatusAvailable; i++ {
		g.pass()
	}
	if st := g.instance().Status; st != store.StatusAvailable {
		t.Fatalf("status %q", st)
	}
	oldDir, err := g.r.InstanceLogDir(g.ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(oldDir, "postgresql.log."+time.Now().Add(-2*time.Hour).UTC().Format("2006-01-02-15"))
	if err := os.WriteFile(marker, []byte("the old writer's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(oldDir)
	os.Chown(marker, int(st.Sys().(*syscall.Stat_t).Uid), int(st.Sys().(*syscall.Stat_t).Gid))
	if _, err := g.st.UpdateInstance(g.ctx, "i1", func(in *store.Instance) error { in.Status = store.StatusDeleting; return nil }); err != nil {
		t.Fatal(err)
	}
	next := store.Instance{ID: "i0", ClusterID: "c1", ResourceID: "db-NEXT" + strings.ToUpper(g.cluster().ResourceID[8:16]),
		Engine: "aurora-postgresql", Endpoint: "i0.x.test", Status: store.StatusCreating, Writer: true, CreatedAt: time.Now()}
	if _, err := g.st.CreateInstance(g.ctx, next, func(store.Cluster, []store.Instance) (store.Instance, error) { return next, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.st.UpdateInstance(g.ctx, "i0", func(in *store.Instance) error { in.Status = store.StatusDeleting; return nil })
	})
	g.r.reconcileCluster(g.ctx, "c1")
	for i := 0; i < 5; i++ {
		if in, err := g.st.Instance(g.ctx, "i0"); err == nil && in.Status == store.StatusAvailable {
			break
		}
		g.r.reconcileCluster(g.ctx, "c1")
	}
	pid := g.driver.Status("i0").PID
	newDir, err := g.r.InstanceLogDir(g.ctx, "i0")
	if err != nil {
		t.Fatal(err)
	}
	files, err := dblog.List(newDir)
	if err != nil || len(files) == 0 {
		t.Errorf("the new writer has no log files: %v %v", files, err)
	}
	for _, f := range files {
		if filepath.Join(newDir, f.Name) == marker {
			t.Errorf("the new writer serves the old one's log %s", f.Name)
		}
	}
	g.r.reconcileCluster(g.ctx, "c1")
	if st := g.driver.Status("i0"); st.State != engine.StateRunning || st.PID != pid {
		t.Errorf("the new writer's server did not stay up: %+v (pid %d)", st, pid)
	}
}
