package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/borealis-db/borealis/internal/backup"
)

// relayCmd is what archive_command runs, as a cluster's account, to hand a WAL segment
// to serve when the backups are in an S3 bucket (docs/backups.md): not for people.
func relayCmd() *cobra.Command {
	return &cobra.Command{
		Use:                backup.RelaySubcommand + " push SOCKET STANZA WAL-NAME WAL-PATH",
		Short:              "Hand a WAL segment to serve's backups (archive_command)",
		Hidden:             true,
		DisableFlagParsing: true,
		SilenceErrors:      true,
		RunE: func(cmd *cobra.Command, args []string) error {
			os.Exit(backup.RelayMain(args, os.Stderr))
			return nil
		},
	}
}
