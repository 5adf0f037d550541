package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// The revision make stamps in (-ldflags -X), for where the Go toolchain does not: it
// stamps vcs.* only in a plain clone (not a git worktree, whose .git is a file) and not
// with GOFLAGS=-buildvcs=false.
var (
	vcsRevision string
	vcsTime     string
	vcsModified string // "true" or "false"
)

// version describes this binary from what was stamped into it: the module version, and
// the VCS revision it was built from (marked "+dirty" if the tree had uncommitted
// changes), with its commit time.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	return versionOf(bi, map[string]string{"vcs.revision": vcsRevision, "vcs.time": vcsTime, "vcs.modified": vcsModified})
}

// versionOf reads bi, with the settings in stamped where the toolchain recorded none.
func versionOf(bi *debug.BuildInfo, stamped map[string]string) string {
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	if s["vcs.revision"] == "" && stamped["vcs.revision"] != "" {
		for k, v := range stamped {
			s[k] = v
		}
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	if rev := s["vcs.revision"]; rev != "" {
		v += " revision " + rev
		if s["vcs.modified"] == "true" {
			v += "+dirty"
		}
		if t := s["vcs.time"]; t != "" {
			v += " (" + t + ")"
		}
	}
	return v + " " + bi.GoVersion
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the source revision this binary was built from",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "borealis", version())
		},
	}
}
