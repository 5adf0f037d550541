package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionNamesModuleVersionAndRevision(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/borealis-db/borealis", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "4ee15b0abc"}, {Key: "vcs.time", Value: "2026-12-05T02:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionOf(bi, nil), "v0.3.0 revision 4ee15b0abc+dirty (2026-12-05T02:00:00Z) go1.26.0"; got != want {
		t.Fatalf("version = %q, want %q", got, want)
	}
	if got := versionOf(&debug.BuildInfo{GoVersion: "go1.26.0"}, nil); got != "(devel) go1.26.0" {
		t.Fatalf("version without stamps = %q", got)
	}
}

// What make stamps in stands in for the go command's own VCS stamps when there are none,
// and never overrides them.
func TestVersionFallsBackToTheMakefilesStamps(t *testing.T) {
	stamped := map[string]string{"vcs.revision": "9e39229f00", "vcs.time": "2026-12-05T03:00:00Z", "vcs.modified": "false"}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got, want := versionOf(bi, stamped), "(devel) revision 9e39229f00 (2026-12-05T03:00:00Z) go1.26.8"; got != want {
		t.Fatalf("version = %q, want %q", got, want)
	}
	bi.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "4ee15b0abc"}}
	if got, want := versionOf(bi, stamped), "(devel) revision 4ee15b0abc go1.26.8"; got != want {
		t.Fatalf("version = %q, want the go command's own stamp %q", got, want)
	}
}

// A binary that make builds from a git checkout (a worktree too, and whatever GOFLAGS
// says about -buildvcs) names the commit it was built from.
func TestMakeBuildNamesTheCommit(t *testing.T) {
	for _, tool := range []string{"git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "borealis")
	build := exec.Command("make", "-s", "-C", strings.TrimSpace(string(top)), "DEPS=", "BIN="+bin, bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", bin, err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "revision " + strings.TrimSpace(string(head)); !strings.Contains(string(out), want) {
		t.Fatalf("borealis version says %q, want it to name %q", out, want)
	}
}

// `borealis version` and `borealis --version` print the same line.
func TestVersionCommandAndFlag(t *testing.T) {
	run := func(args ...string) string {
		var out bytes.Buffer
		root := rootCmd()
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("borealis %v: %v", args, err)
		}
		return out.String()
	}
	cmd, flag := run("version"), run("--version")
	if want := "borealis " + version() + "\n"; cmd != want || flag != want {
		t.Fatalf("version printed %q and --version %q, want %q", cmd, flag, want)
	}
	if !strings.Contains(cmd, "go1.") {
		t.Fatalf("version %q does not name the Go toolchain", cmd)
	}
}
