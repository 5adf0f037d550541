// Command borealis runs the Borealis service: `borealis serve`.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/borealis-db/borealis/internal/server"
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
	}
	root.AddCommand(serveCmd())
	return root
}

func serveCmd() *cobra.Command {
	var cfg server.Config
	var logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the management API, the endpoints and the PostgreSQL servers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(os.Stderr, nil)
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
	f.StringVar(&cfg.DataDir, "data-dir", envOr("BOREALIS_DATA_DIR", ".borealis"), "directory for state, credentials, the CA and cluster volumes")
	f.StringVar(&cfg.APIAddr, "api-addr", envOr("BOREALIS_API_ADDR", "127.0.0.1:8080"), "address of the management API (HTTP)")
	f.StringVar(&cfg.Region, "region", envOr("BOREALIS_REGION", "us-east-1"), "the AWS region this Borealis answers as")
	f.StringVar(&cfg.EndpointDomain, "endpoint-domain", envOr("BOREALIS_ENDPOINT_DOMAIN", "borealis.localhost"), "domain that ends every endpoint name (ID.cluster-XXXX.REGION.rds.DOMAIN)")
	f.StringSliceVar(&cfg.EndpointAddrs, "endpoint-addr", envList("BOREALIS_ENDPOINT_ADDR"), "addresses the cluster endpoints listen on, comma-separated (default 127.0.0.1, and ::1 where the host has IPv6)")
	f.BoolVar(&cfg.APITLS, "api-tls", false, "serve the API and the console over HTTPS, with a certificate from Borealis' CA (clients trust global-bundle.pem)")
	f.StringVar(&cfg.GuardLibrary, "guard-lib", envOr("BOREALIS_GUARD_LIB", ""), "the guard extension (guard.so) to preload into every server; default: next to this binary")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envList(name string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}
