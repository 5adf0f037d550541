// Package store keeps Borealis' desired state (and the observed status the reconciler
// writes back) in one SQLite file. Records are JSON documents keyed by identifier, so that
// later issues can add fields without a migration for each.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// ErrNotFound and ErrExists let the domain packages turn store results into AWS faults.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Store is the SQLite-backed state. It is safe for concurrent use; writes are serialised.
type Store struct {
	db *sql.DB
}

var migrations = []string{
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	`CREATE TABLE access_keys (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
	`CREATE TABLE clusters (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
	`CREATE TABLE instances (id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, doc TEXT NOT NULL)`,
	`CREATE INDEX instances_cluster ON instances (cluster_id)`,
	`CREATE TABLE param_groups (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
	// IAM (see iam.go). Names are keyed lower-case: IAM names are unique regardless of case.
	`CREATE TABLE iam_users (id TEXT PRIMARY KEY, user_id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`,
	`CREATE TABLE iam_groups (id TEXT PRIMARY KEY, group_id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`,
	`CREATE TABLE iam_group_members (group_id TEXT NOT NULL REFERENCES iam_groups (group_id), user_id TEXT NOT NULL REFERENCES iam_users (user_id), PRIMARY KEY (group_id, user_id))`,
	`CREATE INDEX iam_group_members_user ON iam_group_members (user_id)`,
	`CREATE TABLE iam_inline_policies (owner_id TEXT NOT NULL, name_key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (owner_id, name_key))`,
	`CREATE TABLE iam_policies (id TEXT PRIMARY KEY, name_key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`,
	`CREATE TABLE iam_attachments (owner_id TEXT NOT NULL, policy_arn TEXT NOT NULL, PRIMARY KEY (owner_id, policy_arn))`,
	`CREATE INDEX iam_attachments_policy ON iam_attachments (policy_arn)`,
	`CREATE TABLE iam_login_profiles (id TEXT PRIMARY KEY REFERENCES iam_users (user_id), doc TEXT NOT NULL)`,
	`CREATE INDEX access_keys_principal ON access_keys (json_extract(doc, '$.principal'))`,
	// EC2 (see ec2.go). Security group names are unique per VPC and case-sensitive, as in EC2.
	`CREATE TABLE ec2_vpcs (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
	`CREATE TABLE ec2_subnets (id TEXT PRIMARY KEY, vpc_id TEXT NOT NULL REFERENCES ec2_vpcs (id), doc TEXT NOT NULL)`,
	`CREATE INDEX ec2_subnets_vpc ON ec2_subnets (vpc_id)`,
	`CREATE TABLE ec2_security_groups (id TEXT PRIMARY KEY, vpc_id TEXT NOT NULL REFERENCES ec2_vpcs (id), name TEXT NOT NULL, doc TEXT NOT NULL, UNIQUE (vpc_id, name))`,
	`CREATE TABLE ec2_network_interfaces (id TEXT PRIMARY KEY, subnet_id TEXT NOT NULL REFERENCES ec2_subnets (id), vpc_id TEXT NOT NULL, doc TEXT NOT NULL)`,
	`CREATE INDEX ec2_network_interfaces_subnet ON ec2_network_interfaces (subnet_id)`,
	`CREATE INDEX ec2_network_interfaces_vpc ON ec2_network_interfaces (vpc_id)`,
	// RDS DB subnet groups (see records.go); the default group is not stored.
	`CREATE TABLE subnet_groups (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
	// IAM virtual MFA devices (see iam.go), keyed by serial number (their ARN); names are
	// unique regardless of case. user_id is the user a device is enabled for, NULL when none.
	`CREATE TABLE iam_mfa_devices (id TEXT PRIMARY KEY, name_key TEXT NOT NULL UNIQUE, user_id TEXT REFERENCES iam_users (user_id), doc TEXT NOT NULL)`,
	`CREATE INDEX iam_mfa_devices_user ON iam_mfa_devices (user_id)`,
	// Certificate authorities added after the first one (see cas.go); that one stays in meta.
	`CREATE TABLE certificate_authorities (id TEXT PRIMARY KEY, doc TEXT NOT NULL)`,
	// The master's verifier may be SCRAM-SHA-256 now, not md5 only: the field is renamed.
	`UPDATE clusters SET doc = json_remove(json_set(doc, '$.master_password_verifier', json_extract(doc, '$.master_password_md5')), '$.master_password_md5')
		WHERE json_type(doc, '$.master_password_md5') = 'text'`,
	// RDS events (see events.go), kept rdsevent.Retention; at in Unix nanoseconds.
	`CREATE TABLE IF NOT EXISTS rds_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, source_type TEXT NOT NULL, source_id TEXT NOT NULL, doc TEXT NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS rds_events_at ON rds_events (at)`,
	// IAM roles (see roles.go), keyed by lower-case name; their policies live with users' and
	// groups' in iam_inline_policies and iam_attachments, under the role id.
	`CREATE TABLE iam_roles (id TEXT PRIMARY KEY, role_id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`,
	// Manual DB cluster snapshots (see snapshots.go); cluster_id is the source cluster's identifier.
	`CREATE TABLE cluster_snapshots (id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, doc TEXT NOT NULL)`,
	`CREATE INDEX cluster_snapshots_cluster ON cluster_snapshots (cluster_id)`,
}

// Open opens (creating if needed) the state file at path, 0600 because it holds secrets.
func Open(ctx context.Context, path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	// synchronous=FULL: an acknowledged API call survives a kill -9 or power loss.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db := sql.OpenDB(persistentWAL(dsn))
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway, this avoids SQLITE_BUSY
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
	}
	if version == len(migrations) {
		return nil // nothing to write: a start on a full volume reads only
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}

// Meta returns a service-wide setting ("" and ErrNotFound when unset).
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return v, err
}

// InitMeta sets key to value unless it is already set, and returns the value in force.
// First start uses it to create the account id and the like exactly once.
func (s *Store) InitMeta(ctx context.Context, key, value string) (string, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", err
	}
	return s.Meta(ctx, key)
}

// table is one kind of JSON document record.
type table[T any] struct {
	db   *sql.DB
	name string
}

func (t table[T]) get(ctx context.Context, id string) (T, error) {
	var doc string
	var v T
	err := t.db.QueryRowContext(ctx, `SELECT doc FROM `+t.name+` WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, err
	}
	err = json.Unmarshal([]byte(doc), &v)
	return v, err
}

func (t table[T]) list(ctx context.Context, where string, args ...any) ([]T, error) {
	return queryDocs[T](ctx, t.db, `SELECT doc FROM `+t.name+` `+where+` ORDER BY id`, args...)
}

func (t table[T]) delete(ctx context.Context, id string) error {
	res, err := t.db.ExecContext(ctx, `DELETE FROM `+t.name+` WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// update reads, changes and writes one record in a single transaction, so that the API and
// the reconciler never overwrite each other's changes.
func (t table[T]) update(ctx context.Context, id string, fn func(*T) error) (T, error) {
	return t.updateTx(ctx, id, func(_ *sql.Tx, v *T) error { return fn(v) })
}

// updateTx is update with the transaction at hand, for checks that read other tables.
func (t table[T]) updateTx(ctx context.Context, id string, fn func(*sql.Tx, *T) error) (T, error) {
	var v T
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return v, err
	}
	defer tx.Rollback()
	var doc string
	err = tx.QueryRowContext(ctx, `SELECT doc FROM `+t.name+` WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return v, err
	}
	if err := fn(tx, &v); err != nil {
		return v, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return v, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE `+t.name+` SET doc = ? WHERE id = ?`, string(out), id); err != nil {
		return v, err
	}
	return v, tx.Commit()
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func queryDocs[T any](ctx context.Context, q queryer, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		v, err := decode[T](d)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func queryDoc[T any](ctx context.Context, q queryer, query string, args ...any) (T, error) {
	var d string
	if err := q.QueryRowContext(ctx, query, args...).Scan(&d); err != nil {
		var zero T
		return zero, notFound(err)
	}
	return decode[T](d)
}

func queryStrings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
