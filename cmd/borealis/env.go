package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envName is the environment variable that sets a flag: --data-dir is BOREALIS_DATA_DIR.
func envName(flag string) string {
	return "BOREALIS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// withEnv lets every flag of cmd be set by its BOREALIS_ variable too (the command line
// wins), and names the variable in --help.
func withEnv(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
	})
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		var err error
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			v, ok := os.LookupEnv(envName(f.Name))
			if err != nil || f.Changed || !ok || v == "" {
				return
			}
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		})
		return err
	}
	return cmd
}
