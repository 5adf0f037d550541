package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/borealis-db/borealis/internal/audit"
)

// auditCmd groups the audit trail's commands.
func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check the audit trail"}
	cmd.AddCommand(auditVerifyCmd())
	return cmd
}

// errTampered makes verify exit non-zero after printing what it found.
var errTampered = errors.New("the audit trail is not intact")

func auditVerifyCmd() *cobra.Command {
	var dataDir string
	var expect []string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit trail's hash chain and report the first event changed, removed or reordered",
		Long: `Reads DATA_DIR/audit (serve may be running) and checks every event's hash, that each
carries the hash of the one before and the next sequence number, and that the oldest
event follows the last expiry cut recorded in the chain. It prints the head (SEQ:HASH):
kept somewhere the trail's attacker cannot write, and given back with --expect, it also
detects a trail whose tail was cut off or that was rewritten whole (see docs/audit.md).
Exits 1 when the trail is not intact.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var anchors []audit.Anchor
			for _, e := range expect {
				a, err := audit.ParseAnchor(e)
				if err != nil {
					return err
				}
				anchors = append(anchors, a)
			}
			rep, err := audit.Verify(audit.Dir(dataDir), anchors...)
			if err != nil {
				return fmt.Errorf("audit verify: %w", err)
			}
			out := cmd.OutOrStdout()
			if rep.Problem != "" {
				fmt.Fprintf(out, "TAMPERED: %s\n", rep.Problem)
				cmd.SilenceUsage = true
				return errTampered
			}
			fmt.Fprintf(out, "ok: %d events intact (events %d to %d)\nhead: %d:%s\n", rep.Events, rep.First, rep.HeadSeq, rep.HeadSeq, rep.HeadHash)
			for _, a := range rep.Unchecked {
				c := rep.Cut
				fmt.Fprintf(out, "warning: event %d (noted) cannot be checked: the expiry recorded at event %d (%s, retention %s) removed events up to %d; if you noted it less than that retention before then, the trail was rewritten\n",
					a.Seq, c.At, c.Time.Format(time.RFC3339), c.Retention, c.Seq)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", ".borealis", "the data directory serve uses")
	f.StringSliceVar(&expect, "expect", nil, "a head printed by an earlier verify (SEQ:HASH), that must still be in the trail; repeatable")
	return withEnv(cmd)
}
