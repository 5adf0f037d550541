package engine

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/borealis-db/borealis/internal/scram"
	"github.com/jackc/pgx/v5"
)

// PrepareVolume makes what a volume needs before its data directory exists, as Create does
// before initdb: the server's account, the volume directory (DataDir's parent, root's,
// searchable by the account's group) and the socket directory (the account's, 0700). For a volume filled by other means, a restore, which
// then puts a complete DataDir (holding Marker) in place for Create to find. Idempotent.
func (l *Local) PrepareVolume(ctx context.Context, s Spec) error {
	inst, err := l.lockValid(s, s.validatePaths)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	a, err := l.account(ctx, s)
	if err != nil {
		return err
	}
	if err := mkdirParents(s.DataDir); err != nil {
		return err
	}
	if !l.tenant(s) {
		return nil
	}
	if err := checkNotSwappable(s.DataDir); err != nil {
		return err
	}
	if err := prepareVolumeDir(a, filepath.Dir(s.DataDir)); err != nil {
		return err
	}
	// The socket directory too: a restore's recovery listens there (its own path, in the
	// volume, may be too long for a socket address).
	return l.prepareTenantSocketDir(a, s.SocketDir)
}

// Rekey gives the server that conn is a superuser session of (a restored volume, which
// carries its source's secrets) the cluster's own rdsadmin password adminPassword, and
// clears the replication role's: ensureReplicator gives it the cluster's own secret before
// a reader streams. The statements carry only verifiers and are not logged.
func Rekey(ctx context.Context, conn *pgx.Conn, adminPassword string) error {
	if err := setupAdminSession(ctx, conn); err != nil {
		return fmt.Errorf("engine: rekey: %w", err)
	}
	v, err := scram.Verifier(adminPassword)
	if err != nil {
		return fmt.Errorf("engine: rekey: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER ROLE "+ident(Admin)+" PASSWORD "+quoteLiteral(v)); err != nil {
		return fmt.Errorf("engine: rekey %s: %s", Admin, pgErrText(err))
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", Replicator).Scan(&exists); err != nil {
		return fmt.Errorf("engine: rekey: %w", err)
	}
	if exists {
		if _, err := conn.Exec(ctx, "ALTER ROLE "+ident(Replicator)+" PASSWORD NULL"); err != nil {
			return fmt.Errorf("engine: rekey %s: %s", Replicator, pgErrText(err))
		}
	}
	return nil
}
