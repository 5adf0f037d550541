package store

import (
	"context"
	"database/sql"
)

// Permissions boundaries of users: the boundary's ARN lives in the user's record; these
// functions check, in the same transaction as the write, that an account's policy named as
// a boundary exists, so that DeleteManagedPolicy (which counts boundary uses) cannot race.

// CreateIAMUserBounded inserts a user as CreateIAMUser does; when local, its
// PermissionsBoundary must name a stored managed policy (ErrNotFound otherwise).
func (s *Store) CreateIAMUserBounded(ctx context.Context, u IAMUser, local bool) error {
	doc, err := marshal(u)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := requireBoundary(ctx, tx, u.PermissionsBoundary, local); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO iam_users (id, user_id, doc) VALUES (?, ?, ?)`, nameKey(u.Name), u.UserID, doc)
		return insertErr(err)
	})
}

// SetIAMUserBoundary sets (arn != "") or removes (arn == "") a user's permissions boundary;
// when local, arn must name a stored managed policy. ErrNotFound when the user or the
// policy is missing.
func (s *Store) SetIAMUserBoundary(ctx context.Context, name, arn string, local bool) (IAMUser, error) {
	var u IAMUser
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = queryDoc[IAMUser](ctx, tx, `SELECT doc FROM iam_users WHERE id = ?`, nameKey(name)); err != nil {
			return err
		}
		if err := requireBoundary(ctx, tx, arn, local); err != nil {
			return err
		}
		u.PermissionsBoundary = arn
		doc, err := marshal(u)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_users SET doc = ? WHERE id = ?`, doc, nameKey(u.Name))
		return err
	})
	return u, err
}

// CreateIAMRoleBounded inserts a role as CreateIAMRole does; when local, its
// PermissionsBoundary must name a stored managed policy (ErrNotFound otherwise).
func (s *Store) CreateIAMRoleBounded(ctx context.Context, r IAMRole, local bool) error {
	doc, err := marshal(r)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := requireBoundary(ctx, tx, r.PermissionsBoundary, local); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO iam_roles (id, role_id, doc) VALUES (?, ?, ?)`, nameKey(r.Name), r.RoleID, doc)
		return insertErr(err)
	})
}

// SetIAMRoleBoundary is SetIAMUserBoundary for a role.
func (s *Store) SetIAMRoleBoundary(ctx context.Context, name, arn string, local bool) (IAMRole, error) {
	var r IAMRole
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = queryDoc[IAMRole](ctx, tx, `SELECT doc FROM iam_roles WHERE id = ?`, nameKey(name)); err != nil {
			return err
		}
		if err := requireBoundary(ctx, tx, arn, local); err != nil {
			return err
		}
		r.PermissionsBoundary = arn
		doc, err := marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_roles SET doc = ? WHERE id = ?`, doc, nameKey(r.Name))
		return err
	})
	return r, err
}

// appendBoundary adds a boundary's ARN (if any) to the ARNs of managed policies to read.
func appendBoundary(arns []string, boundary string) []string {
	if boundary == "" {
		return arns
	}
	return append(arns[:len(arns):len(arns)], boundary)
}

// boundaryUsers is every user and role with a permissions boundary, as (policy ARN) rows.
const boundaryUsers = `SELECT json_extract(doc, '$.permissions_boundary') AS b FROM iam_users WHERE b IS NOT NULL
	UNION ALL SELECT json_extract(doc, '$.permissions_boundary') AS b FROM iam_roles WHERE b IS NOT NULL`

// BoundaryUsageCounts returns how many users and roles each policy is the permissions
// boundary of.
func (s *Store) BoundaryUsageCounts(ctx context.Context) (map[string]int, error) {
	return queryCounts(ctx, s.db, `SELECT b, count(*) FROM (`+boundaryUsers+`) GROUP BY b`)
}

func requireBoundary(ctx context.Context, q queryer, arn string, local bool) error {
	if arn == "" || !local {
		return nil
	}
	ok, err := exists(ctx, q, `SELECT 1 FROM iam_policies WHERE id = ?`, arn)
	if err != nil || !ok {
		return errOr(err, ErrNotFound)
	}
	return nil
}

func boundaryUses(ctx context.Context, q queryer, arn string) (int, error) {
	return count(ctx, q, `SELECT count(*) FROM (`+boundaryUsers+`) WHERE b = ?`, arn)
}
