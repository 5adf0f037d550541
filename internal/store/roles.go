package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// IAMRole is an IAM role: who may assume it (its trust policy) and for how long.
type IAMRole struct {
	RoleID      string `json:"role_id"` // AROA...
	Name        string `json:"name"`
	Path        string `json:"path"`
	Description string `json:"description,omitempty"`
	// TrustPolicy is the AssumeRolePolicyDocument as given.
	TrustPolicy string `json:"trust_policy"`
	// TrustIDs maps each user or role ARN the trust policy names to the unique id it had when
	// the policy was set, so that an entity deleted and made again under the same name is not
	// trusted, as on AWS.
	TrustIDs           map[string]string `json:"trust_ids,omitempty"`
	MaxSessionDuration int               `json:"max_session_duration"` // seconds
	Tags               []Tag             `json:"tags,omitempty"`
	CreatedAt          time.Time         `json:"created_at"`
	// PermissionsBoundary: as IAMUser's (set through boundary.go).
	PermissionsBoundary string `json:"permissions_boundary,omitempty"`
}

// RoleDependents is what keeps a role from being deleted.
type RoleDependents struct {
	InlinePolicies, AttachedPolicies int
}

// CreateIAMRole inserts a role; ErrExists when the name (in any case) or the id is taken.
func (s *Store) CreateIAMRole(ctx context.Context, r IAMRole) error {
	doc, err := marshal(r)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO iam_roles (id, role_id, doc) VALUES (?, ?, ?)`, nameKey(r.Name), r.RoleID, doc)
	return insertErr(err)
}

// IAMRole returns a role by name, in any case.
func (s *Store) IAMRole(ctx context.Context, name string) (IAMRole, error) {
	return queryDoc[IAMRole](ctx, s.db, `SELECT doc FROM iam_roles WHERE id = ?`, nameKey(name))
}

// IAMRoleByID returns a role by its id (AROA...).
func (s *Store) IAMRoleByID(ctx context.Context, roleID string) (IAMRole, error) {
	return queryDoc[IAMRole](ctx, s.db, `SELECT doc FROM iam_roles WHERE role_id = ?`, roleID)
}

// IAMRoles returns every role, ordered by name.
func (s *Store) IAMRoles(ctx context.Context) ([]IAMRole, error) {
	return queryDocs[IAMRole](ctx, s.db, `SELECT doc FROM iam_roles ORDER BY id`)
}

// UpdateIAMRole changes a role in one transaction; the name and id must not change.
func (s *Store) UpdateIAMRole(ctx context.Context, name string, fn func(*IAMRole) error) (IAMRole, error) {
	var r IAMRole
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = queryDoc[IAMRole](ctx, tx, `SELECT doc FROM iam_roles WHERE id = ?`, nameKey(name)); err != nil {
			return err
		}
		id, key := r.RoleID, nameKey(r.Name)
		if err := fn(&r); err != nil {
			return err
		}
		if r.RoleID != id || nameKey(r.Name) != key {
			return errors.New("store: UpdateIAMRole may not change the name or id")
		}
		doc, err := marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_roles SET doc = ? WHERE id = ?`, doc, key)
		return err
	})
	return r, err
}

// DeleteIAMRole removes a role unless refuse, shown what still refers to it in the same
// transaction, returns an error.
func (s *Store) DeleteIAMRole(ctx context.Context, name string, refuse func(IAMRole, RoleDependents) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := queryDoc[IAMRole](ctx, tx, `SELECT doc FROM iam_roles WHERE id = ?`, nameKey(name))
		if err != nil {
			return err
		}
		var d RoleDependents
		if d.InlinePolicies, err = count(ctx, tx, `SELECT count(*) FROM iam_inline_policies WHERE owner_id = ?`, r.RoleID); err != nil {
			return err
		}
		if d.AttachedPolicies, err = count(ctx, tx, `SELECT count(*) FROM iam_attachments WHERE owner_id = ?`, r.RoleID); err != nil {
			return err
		}
		if err := refuse(r, d); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM iam_roles WHERE role_id = ?`, r.RoleID)
		return err
	})
}

// RolePolicies returns, read in one transaction, a role with its inline and attached
// policies and the customer managed policies it attaches or has as its boundary (as
// EffectivePoliciesOf for a user).
func (s *Store) RolePolicies(ctx context.Context, roleID string) (IAMRole, PolicyHolder, map[string]ManagedPolicy, error) {
	var r IAMRole
	var h PolicyHolder
	managed := map[string]ManagedPolicy{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = queryDoc[IAMRole](ctx, tx, `SELECT doc FROM iam_roles WHERE role_id = ?`, roleID); err != nil {
			return err
		}
		h = PolicyHolder{Kind: "role", ID: r.RoleID, Name: r.Name}
		if h.Inline, err = queryDocs[InlinePolicy](ctx, tx, `SELECT doc FROM iam_inline_policies WHERE owner_id = ? ORDER BY name_key`, h.ID); err != nil {
			return err
		}
		if h.Attached, err = queryStrings(ctx, tx, `SELECT policy_arn FROM iam_attachments WHERE owner_id = ? ORDER BY policy_arn`, h.ID); err != nil {
			return err
		}
		if len(h.Attached) == 0 && r.PermissionsBoundary == "" {
			return nil
		}
		// One query for every customer managed policy attached; AWS managed ones are not stored.
		var arns []any
		for _, a := range appendBoundary(h.Attached, r.PermissionsBoundary) {
			arns = append(arns, a)
		}
		marks := strings.TrimSuffix(strings.Repeat("?,", len(arns)), ",")
		policies, err := queryDocs[ManagedPolicy](ctx, tx, `SELECT doc FROM iam_policies WHERE id IN (`+marks+`)`, arns...)
		for _, p := range policies {
			managed[p.ARN] = p
		}
		return err
	})
	return r, h, managed, err
}
