package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/rds"
	"github.com/borealis-db/borealis/internal/reconcile"
)

// Files and directories of the continuous backups in the data directory.
const (
	backupKeyFileName = "backup.key" // the installation key every repository's cipher pass derives from (0600)
	backupRepoDirName = "backups"    // the repositories, unless --backup-repo names another place
)

// openBackups opens the installation's backups (package backup): the key in the data
// directory, the repositories under cfg.BackupRepo or DATA_DIR/backups, or in the bucket
// cfg.BackupS3Config names.
func openBackups(cfg Config, dataDir string, log *slog.Logger) (*backup.Manager, error) {
	root := cfg.BackupRepo
	if root == "" {
		root = filepath.Join(dataDir, backupRepoDirName)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	o := backup.Options{Root: root, KeyFile: filepath.Join(dataDir, backupKeyFileName)}
	if cfg.BackupS3Config != "" {
		// archive_command runs this binary as each cluster's account to hand WAL to serve.
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.RelayCommand = []string{self, backup.RelaySubcommand}
		if o.S3, err = backup.ReadS3Config(cfg.BackupS3Config); err != nil {
			return nil, err
		}
		log.Info("backup repositories in an S3-compatible bucket", "endpoint", o.S3.Endpoint, "bucket", o.S3.Bucket, "path", o.S3.Prefix)
	}
	return backup.New(log, o)
}

// listenBackupRelay serves archive_command's requests (S3 repositories) until Close.
func (s *Server) listenBackupRelay(ctx context.Context) error {
	stop, err := s.backups.ListenRelay(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	s.onClose("backup relay", func(context.Context) error { stop(); return nil })
	return nil
}

// backupView adapts the reconciler's view of each cluster's backups to what RDS describes.
func backupView(rec *reconcile.Reconciler) rds.Backups {
	return func(id string) (rds.BackupView, bool) {
		v, ok := rec.Backups(id)
		return rds.BackupView{Earliest: v.Earliest, Latest: v.Latest, Failures: v.Failures}, ok
	}
}
