package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every flag of every command can be set by its BOREALIS_ variable, and --help says which.
func TestEveryFlagHasABorealisVariableInHelp(t *testing.T) {
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(f.Usage, "$"+envName(f.Name)) {
				t.Errorf("%s --%s: help does not name %s", c.CommandPath(), f.Name, envName(f.Name))
			}
		})
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(rootCmd())
}

func TestVariableSetsAFlagAndTheCommandLineWins(t *testing.T) {
	run := func(args ...string) (dir string, addrs []string, err error) {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.Flags().StringVar(&dir, "data-dir", ".borealis", "")
		cmd.Flags().StringSliceVar(&addrs, "endpoint-addr", nil, "")
		cmd.Flags().Bool("kernel-steering", true, "")
		cmd.SetArgs(args)
		err = withEnv(cmd).Execute()
		return
	}
	t.Setenv("BOREALIS_DATA_DIR", "/from/env")
	t.Setenv("BOREALIS_ENDPOINT_ADDR", "10.0.0.1,10.0.0.2")
	if dir, addrs, err := run(); err != nil || dir != "/from/env" || strings.Join(addrs, " ") != "10.0.0.1 10.0.0.2" {
		t.Fatalf("from the environment: %q %q %v", dir, addrs, err)
	}
	if dir, addrs, err := run("--data-dir", "/from/flag", "--endpoint-addr", "10.0.0.3"); err != nil || dir != "/from/flag" || strings.Join(addrs, " ") != "10.0.0.3" {
		t.Fatalf("the command line did not win: %q %q %v", dir, addrs, err)
	}
	t.Setenv("BOREALIS_KERNEL_STEERING", "maybe")
	if _, _, err := run(); err == nil || !strings.Contains(err.Error(), "BOREALIS_KERNEL_STEERING") {
		t.Fatalf("an invalid value was not refused naming its variable: %v", err)
	}
}

func TestServeRefusesAnUnknownLogLevelOrFormat(t *testing.T) {
	for _, args := range [][]string{{"serve", "--log-level", "loud"}, {"serve", "--log-format", "yaml"}} {
		root := rootCmd()
		root.SetArgs(args)
		root.SetErr(new(strings.Builder))
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("borealis %v: %v, want a refusal naming %s", args, err, args[1])
		}
	}
}
