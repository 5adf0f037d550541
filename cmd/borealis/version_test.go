package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionNamesModuleVersionAndRevision(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/borealis-db/borealis", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "4ee15b0abc"}, {Key: "vcs.time", Value: "2026-12-05T02:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionOf(bi), "v0.3.0 revision 4ee15b0abc+dirty (2026-12-05T02:00:00Z) go1.26.0"; got != want {
		t.Fatalf("version = %q, want %q", got, want)
	}
	if got := versionOf(&debug.BuildInfo{GoVersion: "go1.26.0"}); got != "(devel) go1.26.0" {
		t.Fatalf("version without stamps = %q", got)
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
