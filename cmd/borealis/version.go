package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version describes this binary from what the Go toolchain stamped into it: the module
// version, and the VCS revision it was built from (marked "+dirty" if the tree had
// uncommitted changes), with its commit time.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
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
