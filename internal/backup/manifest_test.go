package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A manifest passes only when its one target is the data directory and every name is
// below it.
func TestManifestNamesBelowData(t *testing.T) {
	head := "[backup:target]\npg_data={\"path\":\"/v/data\",\"type\":\"path\"}\n[target:file]\npg_data/PG_VERSION={\"size\":3}\npg_data/base/1/1259={\"size\":8192}\n[target:file:default]\nmode=\"0600\"\n[target:path]\npg_data={}\npg_data/base={}\n"
	if err := manifestNamesBelowData([]byte(head)); err != nil {
		t.Fatalf("a plain manifest: %v", err)
	}
	for _, bad := range []string{
		"[target:file]\npg_data/../x={}\n",
		"[target:file]\npg_data/base/../../x={}\n",
		"[target:file]\npg_data/./x={}\n",
		"[target:file]\n/etc/x={}\n",
		"[target:file]\npg_data//x={}\n",
		"[target:path]\npg_data/..={}\n",
		"[target:link]\npg_data/../l={}\n",
		"[target:file]\npg_tblspc/1/x={}\n",
		"[backup:target]\npg_tblspc/16385={\"path\":\"/anywhere\",\"type\":\"link\"}\n",
		"[backup:target]\npg_data/pg_wal={\"path\":\"/anywhere\",\"type\":\"link\"}\n",
	} {
		if err := manifestNamesBelowData([]byte(head + bad)); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// A configuration checkSetManifest left (a kill -9: it holds the bucket's keys) goes when
// serve starts again.
func TestS3LeftManifestConfigurationGoes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inst, _, _ := newS3Installation(t, ctx, testLogger())
	left := filepath.Join(inst.m.s3Dir(), "work", strings.Replace(manifestConfPattern, "*", "123", 1))
	for _, p := range []string{left, left + ".tmp"} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(testLogger(), inst.m.o); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{left, left + ".tmp"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left", p)
		}
	}
}
