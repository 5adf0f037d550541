// Command borealis runs the Borealis service (`borealis serve`) and its operator commands
// (`borealis ca add`).
package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/server"
	"github.com/borealis-db/borealis/internal/store"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "borealis",
		Short:         "Self-hosted PostgreSQL with the security model of Aurora PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: false,
		Version:       version(),
	}
	// --version prints what `borealis version` does.
	root.SetVersionTemplate("borealis {{.Version}}\n")
	root.AddCommand(serveCmd(), caCmd(), versionCmd(), auditCmd(), relayCmd())
	return root
}

func serveCmd() *cobra.Command {
	var cfg server.Config
	var logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the management API, the endpoints and the PostgreSQL servers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			opts := &slog.HandlerOptions{Level: level}
			var h slog.Handler
			switch logFormat {
			case "text":
				h = slog.NewTextHandler(os.Stderr, opts)
			case "json":
				h = slog.NewJSONHandler(os.Stderr, opts)
			default:
				return fmt.Errorf("--log-format %q: want text or json", logFormat)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := server.Run(ctx, cfg, slog.New(h)); err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", ".borealis", "directory for state, credentials, the CA and cluster volumes")
	f.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:8080", "address of the management API (HTTP)")
	f.StringVar(&cfg.Region, "region", "us-east-1", "the AWS region this Borealis answers as")
	f.StringVar(&cfg.EndpointDomain, "endpoint-domain", "borealis.localhost", "domain that ends every endpoint name (ID.cluster-XXXX.REGION.rds.DOMAIN)")
	f.StringSliceVar(&cfg.EndpointAddrs, "endpoint-addr", nil, "addresses the cluster endpoints listen on, comma-separated (default 127.0.0.1, and ::1 where the host has IPv6)")
	f.BoolVar(&cfg.APITLS, "api-tls", false, "serve the API and the console over HTTPS, with a certificate from Borealis' CA (clients trust global-bundle.pem)")
	f.StringVar(&cfg.GuardLibrary, "guard-lib", "", "the guard extension (guard.so) to preload into every server; default: next to this binary")
	f.IntVar(&cfg.HTTP.MaxConns, "api-max-conns", server.DefaultHTTPLimits.MaxConns, "connections the API and console listener (and the metrics one) hold open at once; more wait until one closes")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve /metrics on this address alone (HTTP), instead of on the API's")
	f.StringVar(&cfg.BackupRepo, "backup-repo", "", "keep the clusters' backup repositories (pgBackRest, encrypted) in this directory instead of DATA_DIR/backups")
	f.StringVar(&cfg.BackupS3Config, "backup-s3-config", "", "keep the clusters' backup repositories in an S3-compatible bucket described by this file (0600; see docs/backups.md)")
	f.StringVar(&cfg.DNSAddr, "dns-addr", "127.0.0.1:8053", "address (IP:port, UDP and TCP) where serve answers DNS for the endpoint domain, so that endpoint names resolve; "+server.DNSOff+": no DNS server")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	f.DurationVar(&cfg.CertValidity, "server-cert-validity", 0, "lifetime of the servers' TLS certificates (default about a year, as RDS)")
	f.DurationVar(&cfg.CertRenewBefore, "server-cert-renew-before", 0, "replace a server certificate this long before it ends (default 720h)")
	f.BoolVar(&cfg.KernelSteering, "kernel-steering", true, "hand admitted connections straight to their server inside the kernel (BPF sk_lookup; needs root and cgroup v2), instead of carrying every byte through the gateway")
	f.Int64Var(&cfg.DefaultStorageLimit, "default-storage-limit", store.DefaultStorageLimit, "a cluster's storage limit in bytes unless CreateDBCluster/ModifyDBCluster AllocatedStorage (GiB) sets one: at it the cluster is made read-only (storage-full)")
	f.Int64Var(&cfg.StateReserve, "state-reserve", server.DefaultStateReserve, "bytes of free space kept on the data volume for serve's own state: below it CreateDBCluster is refused (InsufficientStorageClusterCapacity); -1: no reserve")
	f.DurationVar(&cfg.RefusalAuditInterval, "audit-refusal-interval", server.DefaultRefusalAuditInterval, "how often connections refused by the security groups are recorded in the audit trail, as counted events per source and endpoint")
	f.BoolVar(&cfg.KeepServersOnExit, "keep-servers-on-exit", false, "leave the PostgreSQL servers running when serve stops (SIGTERM, SIGINT), for the next serve to adopt; they always outlive a crash")
	f.DurationVar(&cfg.AuditRetention, "audit-retention", audit.DefaultRetention, "how long the audit trail keeps events (whole UTC days; a negative value keeps them forever)")
	return withEnv(cmd)
}

// caCmd groups the certificate authority commands. CAs are the operator's, as RDS's are
// AWS's: the API lists them and moves instances between them, but never makes one.
func caCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "Manage the certificate authorities that sign the servers' certificates"}
	cmd.AddCommand(caAddCmd())
	return cmd
}

func caAddCmd() *cobra.Command {
	var dataDir, keyType string
	var setDefault bool
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Create a new CA next to the existing ones and add it to global-bundle.pem",
		Long: `Creates a new certificate authority (borealis-ca-TYPE-gN) in the data directory, whether
or not serve is running, and rewrites DATA_DIR/global-bundle.pem (also served at
/global-bundle.pem) so that it carries every CA. Existing instances keep their CA; move
one with:
  aws rds modify-db-instance --db-instance-identifier ID --ca-certificate-identifier NEW --apply-immediately
With --set-default, new instances use the new CA (as aws rds modify-certificates does).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kt, err := pki.ParseKeyType(keyType)
			if err != nil {
				return err
			}
			ca, err := server.AddCA(cmd.Context(), dataDir, kt, setDefault, time.Now())
			if err != nil {
				return fmt.Errorf("ca add: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\tvalid till %s\tthumbprint %s\n", ca.Identifier, ca.Cert.NotAfter.UTC().Format(time.RFC3339), pki.Thumbprint(ca.Cert))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", ".borealis", "the data directory serve uses")
	f.StringVar(&keyType, "type", string(pki.ECC384), "key type: ecc384, rsa2048 or rsa4096")
	f.BoolVar(&setDefault, "set-default", false, "make the new CA the default for new DB instances")
	return withEnv(cmd)
}
