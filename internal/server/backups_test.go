package server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve does not start with an S3 configuration others may read or one that is
// incomplete, and says why without the secret; a good one is taken, the secret unlogged.
func TestServeBackupS3Config(t *testing.T) {
	const secret = "Sup3r-secret-key-0123456789"
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	good := "endpoint=127.0.0.1:9000\nbucket=b\nregion=us-east-1\naccess_key_id=AK\nsecret_access_key=" + secret + "\nuri_style=path\n"
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, c := range []struct{ file, want string }{
		{write("group.conf", good, 0o640), "want 0600"},
		{write("world.conf", good, 0o644), "want 0600"},
		{write("partial.conf", "endpoint=127.0.0.1:9000\nbucket=b\naccess_key_id=AK\nsecret_access_key="+secret+"\n", 0o600), "lacks region"},
	} {
		_, err := openBackups(Config{BackupS3Config: c.file}, dir, log)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal with %q", filepath.Base(c.file), err, c.want)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the refusal carries the secret", filepath.Base(c.file))
		}
	}
	m, err := openBackups(Config{BackupS3Config: write("good.conf", good, 0o600)}, dir, log)
	if err != nil || m == nil {
		t.Fatalf("a 0600, complete configuration: %v", err)
	}
	if strings.Contains(logged.String(), secret) {
		t.Error("the secret reached the log")
	}
}
