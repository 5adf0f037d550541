package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestStateFileIsPrivateAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	if v, err := s.InitMeta(ctx, "account_id", "111111111111"); err != nil || v != "111111111111" {
		t.Fatal(v, err)
	}
	// A second InitMeta keeps the first value: first start creates, later starts reuse.
	if v, _ := s.InitMeta(ctx, "account_id", "222222222222"); v != "111111111111" {
		t.Fatalf("InitMeta replaced the value: %s", v)
	}
	if err := s.CreateCluster(ctx, Cluster{ID: "c1", Status: "creating"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, %v", fi.Mode(), err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c, err := s2.Cluster(ctx, "c1"); err != nil || c.Status != "creating" {
		t.Fatalf("after reopen: %+v, %v", c, err)
	}
}

func TestInstancesAndClusterDeletionAreChecked(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	if err := s.CreateCluster(ctx, Cluster{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCluster(ctx, Cluster{ID: "c1"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate cluster: %v", err)
	}
	accept := func(_ Cluster, _ []Instance) error { return nil }
	add := func(id, cluster string) error {
		_, err := s.CreateInstance(ctx, Instance{ID: id, ClusterID: cluster}, func(_ Cluster, _ []Instance) (Instance, error) {
			return Instance{ID: id, ClusterID: cluster}, nil
		})
		return err
	}
	if err := add("i1", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("instance in unknown cluster: %v", err)
	}
	if err := add("i1", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := add("i1", "c1"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate instance: %v", err)
	}
	refuse := errors.New("has instances")
	_, err := s.MarkClusterDeleting(ctx, "c1", func(_ Cluster, members []Instance) error {
		if len(members) != 1 {
			t.Errorf("members = %d", len(members))
		}
		return refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatal(err)
	}
	if c, _ := s.Cluster(ctx, "c1"); c.Status == "deleting" {
		t.Fatal("a refused change was written")
	}
	if err := s.DeleteInstance(ctx, "i1"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.MarkClusterDeleting(ctx, "c1", accept); err != nil || c.Status != "deleting" {
		t.Fatalf("%+v %v", c, err)
	}
}

// A state file written before the master's verifier could be SCRAM holds it as
// master_password_md5; after the upgrade it is read as the verifier, and nothing else of
// the record changes.
func TestOldMasterMD5VerifierIsMigrated(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	const old = `{"id":"c1","master_username":"admin","master_password_md5":"md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"available"}`
	if _, err := s.db.ExecContext(ctx, `INSERT INTO clusters (id, doc) VALUES ('c1', ?)`, old); err != nil {
		t.Fatal(err)
	}
	// The state file is as it was before that migration (later ones are other tables).
	before := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "'$.master_password_md5') = 'text'") })
	if before < 0 {
		t.Fatal("no migration of master_password_md5")
	}
	for _, m := range migrations[before+1:] {
		if rest, ok := strings.CutPrefix(m, "CREATE TABLE "); ok {
			name, _, _ := strings.Cut(rest, " ")
			if _, err := s.db.ExecContext(ctx, `DROP TABLE `+name); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, before)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c, err := s2.Cluster(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.MasterPasswordVerifier != "md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" || c.MasterUsername != "admin" || c.Status != "available" {
		t.Fatalf("after migration: %+v", c)
	}
	var doc string
	if err := s2.db.QueryRowContext(ctx, `SELECT doc FROM clusters WHERE id = 'c1'`).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(doc, "master_password_md5") {
		t.Fatalf("old field kept: %s", doc)
	}
}
