package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// After the new cluster's PostgreSQL recovered the restored data as the new account (with
// settings from the source's backup, so the tenant's code may run as that account), root
// still edits postgresql.auto.conf, removes the source's key and certificate and moves the
// data directory into place. Links the account plants by then reach neither root's files
// nor another cluster's data directory.
func TestRestoreFinishFollowsNoLinkTheAccountPlants(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, err := lookupAccount("nobody")
	if err != nil {
		t.Skip(err)
	}
	// A victim cluster's data directory, and a root-only file.
	victim := filepath.Join(runnableDir(t), "data")
	mkdirOwned(t, victim, 0o700, 0, 0)
	for _, n := range []string{"server.key", "standby.signal", "postgresql.auto.conf"} {
		if err := os.WriteFile(filepath.Join(victim, n), []byte("victim's "+n+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(runnableDir(t), "shadow")
	if err := os.WriteFile(secret, []byte("root:SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	newStage := func(t *testing.T) (vol, stage, data string) {
		vol = runnableDir(t)
		stage = filepath.Join(vol, "restore-staging")
		if err := ownedDir(stage, a, 0o700); err != nil {
			t.Fatal(err)
		}
		return vol, stage, filepath.Join(stage, "data")
	}
	intact := func(t *testing.T) {
		t.Helper()
		for _, n := range []string{"server.key", "standby.signal", "postgresql.auto.conf"} {
			b, err := os.ReadFile(filepath.Join(victim, n))
			if err != nil || string(b) != "victim's "+n+"\n" {
				t.Errorf("the victim's %s: %q %v", n, b, err)
			}
			fi, err := os.Lstat(filepath.Join(victim, n))
			if err == nil && ownerOf(fi) != 0 {
				t.Errorf("the victim's %s now belongs to uid %d", n, ownerOf(fi))
			}
		}
	}

	t.Run("auto.conf links to root's file", func(t *testing.T) {
		_, _, data := newStage(t)
		mkdirOwned(t, data, 0o700, a.uid, a.gid)
		conf := filepath.Join(data, "postgresql.auto.conf")
		if err := os.Symlink(secret, conf); err != nil {
			t.Fatal(err)
		}
		err := dropRecoveryTarget(conf, a)
		// (Read only if root replaced the link with a file: the link itself is the account's.)
		if fi, _ := os.Lstat(conf); fi != nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(conf); strings.Contains(string(b), "SECRET") {
				t.Fatalf("root copied its file for the account (err %v): %q", err, b)
			}
		}
		if err == nil {
			t.Errorf("dropRecoveryTarget went on through a link")
		}
	})
	t.Run("data links to another cluster's", func(t *testing.T) {
		vol, _, data := newStage(t)
		if err := os.Symlink(victim, data); err != nil {
			t.Fatal(err)
		}
		if err := dropRecoveryTarget(filepath.Join(data, "postgresql.auto.conf"), a); err == nil {
			t.Errorf("dropRecoveryTarget rewrote through a link")
		}
		if err := removeBelow(data, []string{"server.key", "standby.signal"}); err == nil {
			t.Errorf("removeBelow removed through a link")
		}
		intact(t)
		dataDir := filepath.Join(vol, "data")
		if err := placeRestored(data, dataDir, a); err == nil {
			t.Errorf("placeRestored placed a link")
		}
		if fi, err := os.Lstat(dataDir); err == nil {
			t.Errorf("the new cluster's data directory is there (%v), and restore would take it as restored", fi.Mode())
		}
	})
	intact(t)
}

// The recovery's log is in the staging directory, the new account's: a second recovery
// (the WAL ended before the target) opens it again after the tenant's settings ran as
// that account. A link put there reaches no file of root's: not truncated, not written,
// not read into the error the API reports.
func TestRecoveryLogFollowsNoLinkTheAccountPlants(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, err := lookupAccount("nobody")
	if err != nil {
		t.Skip(err)
	}
	m := &Manager{log: testLogger()}
	if _, err := m.postgresBin(); err != nil {
		t.Skip(err)
	}
	victim := filepath.Join(runnableDir(t), "passwd")
	const body = "root:x:0:0:root:/root:/bin/bash\nSECRET\n"
	if err := os.WriteFile(victim, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	stage := filepath.Join(runnableDir(t), "restore-staging")
	if err := ownedDir(stage, a, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(stage, "recovery.log")
	if err := os.Symlink(victim, logPath); err != nil {
		t.Fatal(err)
	}
	// A data directory PostgreSQL cannot use: it writes why to the log, and exits.
	err = m.runRecovery(context.Background(), RestoreRequest{Latest: true}, a, filepath.Join(stage, "data"), stage, filepath.Join(stage, "hba.conf"), logPath)
	if err == nil {
		t.Fatal("recovery without a data directory succeeded")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the recovery's error carries root's file: %v", err)
	}
	if b, rerr := os.ReadFile(victim); rerr != nil || string(b) != body {
		t.Errorf("root's file, after the recovery: %q %v", b, rerr)
	}
}
