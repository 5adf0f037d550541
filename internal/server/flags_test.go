package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A configuration serve refuses leaves the data directory as it was: not made on a first
// start (no store, no default VPC, no key), not changed in an existing one. The S3
// configuration's refusal does not carry its secret.
func TestRefusedConfigurationLeavesTheDataDirectoryAsItWas(t *testing.T) {
	const secret = "Sup3r-secret-key-0123456789"
	s3 := func(body string, mode os.FileMode) func(*Config) {
		return func(c *Config) {
			p := filepath.Join(t.TempDir(), "s3.conf")
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, mode)
			c.BackupS3Config = p
		}
	}
	good := "endpoint=127.0.0.1:9000\nbucket=b\nregion=us-east-1\naccess_key_id=AK\nsecret_access_key=" + secret + "\n"
	for name, c := range map[string]struct {
		set  func(*Config)
		want string
	}{
		"S3 configuration others read":       {s3(good, 0o644), "want 0600"},
		"S3 configuration lacking a setting": {s3(strings.Replace(good, "region=us-east-1\n", "", 1), 0o600), "lacks region"},
		"S3 configuration missing":           {func(c *Config) { c.BackupS3Config = filepath.Join(t.TempDir(), "none") }, "S3 configuration"},
		"backup repository a file": {func(c *Config) {
			c.BackupRepo = filepath.Join(t.TempDir(), "file")
			os.WriteFile(c.BackupRepo, nil, 0o600)
		}, "--backup-repo"},
		"guard library missing":         {func(c *Config) { c.GuardLibrary = filepath.Join(t.TempDir(), "none.so") }, "guard extension"},
		"endpoint address not an IP":    {func(c *Config) { c.EndpointAddrs = []string{"localhost"} }, "--endpoint-addr"},
		"DNS address not an IP":         {func(c *Config) { c.DNSAddr = "localhost:53" }, "--dns-addr"},
		"API address without a port":    {func(c *Config) { c.APIAddr = "127.0.0.1" }, "--api-addr"},
		"negative certificate lifetime": {func(c *Config) { c.CertValidity = -time.Hour }, "--server-cert-validity"},
		"negative connection cap":       {func(c *Config) { c.HTTP.MaxConns = -1 }, "connection caps"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, existing := range []bool{false, true} {
				cfg := assemblyConfig(t)
				c.set(&cfg)
				if existing {
					if err := os.MkdirAll(filepath.Join(cfg.DataDir, "mine"), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				before := tree(t, cfg.DataDir)
				_, err := New(t.Context(), cfg, testLogger(t))
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("New: %v, want a refusal saying %q", err, c.want)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatal("the refusal carries the secret")
				}
				if after := tree(t, cfg.DataDir); after != before {
					t.Fatalf("the refused start changed the data directory:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			}
		})
	}
}

// tree lists dir's entries with their modes ("" when dir does not exist).
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + fi.Mode().String() + "\n")
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
