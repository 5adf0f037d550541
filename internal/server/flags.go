package server

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/store"
)

// checkConfig refuses a configuration serve cannot run with, before New creates or changes
// anything in the data directory: a refused start leaves it as it was.
func checkConfig(cfg Config) error {
	if cfg.HTTP.MaxConns < 0 || cfg.HTTP.MaxConnsPerSource < 0 {
		return fmt.Errorf("connection caps must be positive (0: the default), not %d and %d per source", cfg.HTTP.MaxConns, cfg.HTTP.MaxConnsPerSource)
	}
	if cfg.DefaultStorageLimit < 0 {
		return fmt.Errorf("the default storage limit must be positive (0: %d bytes), not %d", store.DefaultStorageLimit, cfg.DefaultStorageLimit)
	}
	if cfg.CertValidity < 0 || cfg.CertRenewBefore < 0 {
		return fmt.Errorf("--server-cert-validity and --server-cert-renew-before must be positive (0: the default), not %v and %v", cfg.CertValidity, cfg.CertRenewBefore)
	}
	if cfg.RefusalAuditInterval < 0 {
		return fmt.Errorf("--audit-refusal-interval must be positive (0: %v), not %v", DefaultRefusalAuditInterval, cfg.RefusalAuditInterval)
	}
	for _, a := range cfg.EndpointAddrs {
		if net.ParseIP(a) == nil {
			return fmt.Errorf("--endpoint-addr %q: want an IP address", a)
		}
	}
	for flag, addr := range map[string]string{"--api-addr": cfg.APIAddr, "--metrics-addr": cfg.MetricsAddr, "--dns-addr": cfg.DNSAddr} {
		if addr == "" || flag == "--dns-addr" && addr == DNSOff {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if err == nil && host != "" && flag == "--dns-addr" && net.ParseIP(host) == nil {
			err = fmt.Errorf("the host must be an IP address")
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", flag, addr, err)
		}
	}
	if err := checkGuardLibrary(cfg.GuardLibrary); err != nil {
		return err
	}
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		return fmt.Errorf("backups: pgBackRest (Debian's pgbackrest package) is needed: %w", err)
	}
	if cfg.BackupRepo != "" {
		if fi, err := os.Stat(cfg.BackupRepo); err == nil && !fi.IsDir() {
			return fmt.Errorf("--backup-repo %s is not a directory", cfg.BackupRepo)
		}
	}
	if cfg.BackupS3Config != "" {
		if _, err := backup.ReadS3Config(cfg.BackupS3Config); err != nil {
			return err
		}
		// archive_command runs this binary as each cluster's account (openBackups).
		if os.Geteuid() == 0 {
			self, err := os.Executable()
			if err == nil {
				err = backup.CheckRelayProgram(self)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkGuardLibrary: installGuard will be able to read the guard extension.
func checkGuardLibrary(src string) error {
	if src == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		src = filepath.Join(filepath.Dir(exe), "guard.so")
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("guard extension: %w (build it with `make build`, or pass --guard-lib)", err)
	}
	return f.Close()
}
