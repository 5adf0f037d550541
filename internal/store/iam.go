package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// IAM records. Users, groups and managed policies are keyed by their lower-case name (ARN for
// managed policies), because IAM names are unique regardless of case; relations (group
// membership, inline policies, attachments, login profiles, access keys) refer to the
// immutable ids (AIDA..., AGPA...), so that a user deleted and created again under the same
// name inherits nothing.

// IAM entities use Tag (records.go), as RDS resources do.

// IAMUser is an IAM user.
type IAMUser struct {
	UserID    string    `json:"user_id"` // AIDA...
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	Tags      []Tag     `json:"tags,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// PermissionsBoundary is the ARN of the managed policy capping the user's permissions;
	// "" for none. Set through CreateIAMUserBounded and SetIAMUserBoundary, which check that
	// an account's policy exists.
	PermissionsBoundary string `json:"permissions_boundary,omitempty"`
}

// IAMGroup is an IAM group.
type IAMGroup struct {
	GroupID   string    `json:"group_id"` // AGPA...
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	CreatedAt time.Time `json:"created_at"`
}

// InlinePolicy is a policy document embedded in a user or a group.
type InlinePolicy struct {
	OwnerID  string `json:"owner_id"` // the user's or group's id
	Name     string `json:"name"`
	Document string `json:"document"`
}

// ManagedPolicy is a customer managed policy with its versions (at most a handful).
type ManagedPolicy struct {
	ARN            string          `json:"arn"`
	PolicyID       string          `json:"policy_id"` // ANPA...
	Name           string          `json:"name"`
	Path           string          `json:"path"`
	Description    string          `json:"description,omitempty"`
	DefaultVersion string          `json:"default_version"`
	NextVersion    int             `json:"next_version"` // version ids are never reused
	Versions       []PolicyVersion `json:"versions"`
	Tags           []Tag           `json:"tags,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID        string    `json:"id"` // v1, v2, ...
	Document  string    `json:"document"`
	CreatedAt time.Time `json:"created_at"`
}

// Version returns the version with id, ok=false when there is none.
func (p ManagedPolicy) Version(id string) (PolicyVersion, bool) {
	for _, v := range p.Versions {
		if v.ID == id {
			return v, true
		}
	}
	return PolicyVersion{}, false
}

// LoginProfile is a user's console password, kept only as a slow salted hash.
type LoginProfile struct {
	UserID        string    `json:"user_id"`
	Algorithm     string    `json:"algorithm"` // pbkdf2-sha256
	Iterations    int       `json:"iterations"`
	Salt          []byte    `json:"salt"`
	Hash          []byte    `json:"hash"`
	ResetRequired bool      `json:"reset_required"`
	CreatedAt     time.Time `json:"created_at"`
	// PasswordSetAt is when the password was last set, for MaxPasswordAge; zero in profiles
	// written before it existed, which then count from CreatedAt.
	PasswordSetAt time.Time `json:"password_set_at,omitzero"`
	// Previous are the hashes of the passwords before this one, newest first, kept only as
	// many as PasswordReusePrevention asks for (IAM counts the current one too).
	Previous []PasswordHash `json:"previous,omitempty"`
}

// PasswordHash is one salted password hash, as in LoginProfile.
type PasswordHash struct {
	Algorithm  string `json:"algorithm"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	Hash       []byte `json:"hash"`
}

// Current returns the hash of the profile's password.
func (lp LoginProfile) Current() PasswordHash {
	return PasswordHash{Algorithm: lp.Algorithm, Iterations: lp.Iterations, Salt: lp.Salt, Hash: lp.Hash}
}

// SetAt is when the password was last set.
func (lp LoginProfile) SetAt() time.Time {
	if lp.PasswordSetAt.IsZero() {
		return lp.CreatedAt
	}
	return lp.PasswordSetAt
}

// MFADevice is a virtual MFA device: a TOTP secret, enabled for at most one user.
type MFADevice struct {
	SerialNumber string `json:"serial_number"` // arn:aws:iam::ACCOUNT:mfa/PATH/NAME
	Name         string `json:"name"`
	Path         string `json:"path"`
	// Seed is the TOTP secret. It is a secret like an access key's: the state file is 0600
	// and nothing logs it.
	Seed      []byte    `json:"seed"`
	UserID    string    `json:"user_id,omitempty"` // "" while not enabled for a user
	EnabledAt time.Time `json:"enabled_at,omitzero"`
	// LastStep is the last TOTP time step accepted, so that a code is good once only.
	LastStep  int64     `json:"last_step,omitempty"`
	Tags      []Tag     `json:"tags,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// PasswordPolicy is the account password policy.
type PasswordPolicy struct {
	MinimumPasswordLength      int  `json:"minimum_password_length"`
	RequireSymbols             bool `json:"require_symbols"`
	RequireNumbers             bool `json:"require_numbers"`
	RequireUppercaseCharacters bool `json:"require_uppercase_characters"`
	RequireLowercaseCharacters bool `json:"require_lowercase_characters"`
	AllowUsersToChangePassword bool `json:"allow_users_to_change_password"`
	MaxPasswordAge             int  `json:"max_password_age,omitempty"`
	PasswordReusePrevention    int  `json:"password_reuse_prevention,omitempty"`
	HardExpiry                 bool `json:"hard_expiry"`
}

// UserDependents is what keeps a user from being deleted.
type UserDependents struct {
	AccessKeys, Groups, InlinePolicies, AttachedPolicies, MFADevices int
	LoginProfile                                                     bool
}

// GroupDependents is what keeps a group from being deleted.
type GroupDependents struct {
	Members, InlinePolicies, AttachedPolicies int
}

// PolicyHolder is a user or group with its identity-based policies.
type PolicyHolder struct {
	Kind     string // "user" | "group"
	ID       string
	Name     string
	Inline   []InlinePolicy
	Attached []string // managed policy ARNs
}

// EffectivePolicies is everything that applies to a user: its own policies, then each of
// its groups', and the customer managed policies any of them attaches.
type EffectivePolicies struct {
	User    IAMUser
	Holders []PolicyHolder
	Managed map[string]ManagedPolicy // by ARN; AWS managed policies are not stored
}

const (
	passwordPolicyKey = "iam_password_policy"
	accountAliasKey   = "iam_account_alias"
)

func count(ctx context.Context, q queryer, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

func exists(ctx context.Context, q queryer, query string, args ...any) (bool, error) {
	n, err := count(ctx, q, `SELECT EXISTS (`+query+`)`, args...)
	return n == 1, err
}

// queryCounts reads (key, count) rows into a map.
func queryCounts(ctx context.Context, q queryer, query string, args ...any) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		out[key] = n
	}
	return out, rows.Err()
}

func nameKey(name string) string { return strings.ToLower(name) }

// --- users

// CreateIAMUser inserts a user; ErrExists when the name (in any case) or the id is taken.
func (s *Store) CreateIAMUser(ctx context.Context, u IAMUser) error {
	doc, err := marshal(u)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO iam_users (id, user_id, doc) VALUES (?, ?, ?)`, nameKey(u.Name), u.UserID, doc)
	return insertErr(err)
}

// IAMUser returns a user by name, in any case.
func (s *Store) IAMUser(ctx context.Context, name string) (IAMUser, error) {
	return queryDoc[IAMUser](ctx, s.db, `SELECT doc FROM iam_users WHERE id = ?`, nameKey(name))
}

// IAMUserByID returns a user by its id (AIDA...).
func (s *Store) IAMUserByID(ctx context.Context, userID string) (IAMUser, error) {
	return queryDoc[IAMUser](ctx, s.db, `SELECT doc FROM iam_users WHERE user_id = ?`, userID)
}

// IAMUsers returns every user, ordered by name.
func (s *Store) IAMUsers(ctx context.Context) ([]IAMUser, error) {
	return queryDocs[IAMUser](ctx, s.db, `SELECT doc FROM iam_users ORDER BY id`)
}

// UpdateIAMUser changes a user in one transaction; the name and id must not change.
func (s *Store) UpdateIAMUser(ctx context.Context, name string, fn func(*IAMUser) error) (IAMUser, error) {
	var u IAMUser
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = queryDoc[IAMUser](ctx, tx, `SELECT doc FROM iam_users WHERE id = ?`, nameKey(name)); err != nil {
			return err
		}
		id, key := u.UserID, nameKey(u.Name)
		if err := fn(&u); err != nil {
			return err
		}
		if u.UserID != id || nameKey(u.Name) != key {
			return errors.New("store: UpdateIAMUser may not change the name or id")
		}
		doc, err := marshal(u)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_users SET doc = ? WHERE id = ?`, doc, key)
		return err
	})
	return u, err
}

func userDependents(ctx context.Context, q queryer, userID string) (UserDependents, error) {
	var d UserDependents
	var err error
	if d.AccessKeys, err = count(ctx, q, `SELECT count(*) FROM access_keys WHERE json_extract(doc, '$.principal') = ?`, userID); err != nil {
		return d, err
	}
	if d.Groups, err = count(ctx, q, `SELECT count(*) FROM iam_group_members WHERE user_id = ?`, userID); err != nil {
		return d, err
	}
	if d.InlinePolicies, err = count(ctx, q, `SELECT count(*) FROM iam_inline_policies WHERE owner_id = ?`, userID); err != nil {
		return d, err
	}
	if d.AttachedPolicies, err = count(ctx, q, `SELECT count(*) FROM iam_attachments WHERE owner_id = ?`, userID); err != nil {
		return d, err
	}
	if d.MFADevices, err = count(ctx, q, `SELECT count(*) FROM iam_mfa_devices WHERE user_id = ?`, userID); err != nil {
		return d, err
	}
	d.LoginProfile, err = exists(ctx, q, `SELECT 1 FROM iam_login_profiles WHERE id = ?`, userID)
	return d, err
}

// DeleteIAMUser removes a user unless refuse, shown what still refers to it in the same
// transaction, returns an error: nothing can be added in between.
func (s *Store) DeleteIAMUser(ctx context.Context, name string, refuse func(IAMUser, UserDependents) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := queryDoc[IAMUser](ctx, tx, `SELECT doc FROM iam_users WHERE id = ?`, nameKey(name))
		if err != nil {
			return err
		}
		d, err := userDependents(ctx, tx, u.UserID)
		if err != nil {
			return err
		}
		if err := refuse(u, d); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM iam_users WHERE user_id = ?`, u.UserID)
		return err
	})
}

// --- groups

// CreateIAMGroup inserts a group; ErrExists when the name (in any case) or the id is taken.
func (s *Store) CreateIAMGroup(ctx context.Context, g IAMGroup) error {
	doc, err := marshal(g)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO iam_groups (id, group_id, doc) VALUES (?, ?, ?)`, nameKey(g.Name), g.GroupID, doc)
	return insertErr(err)
}

// IAMGroup returns a group by name, in any case.
func (s *Store) IAMGroup(ctx context.Context, name string) (IAMGroup, error) {
	return queryDoc[IAMGroup](ctx, s.db, `SELECT doc FROM iam_groups WHERE id = ?`, nameKey(name))
}

// IAMGroups returns every group, ordered by name.
func (s *Store) IAMGroups(ctx context.Context) ([]IAMGroup, error) {
	return queryDocs[IAMGroup](ctx, s.db, `SELECT doc FROM iam_groups ORDER BY id`)
}

// DeleteIAMGroup removes a group unless refuse, shown what still refers to it, returns an
// error.
func (s *Store) DeleteIAMGroup(ctx context.Context, name string, refuse func(IAMGroup, GroupDependents) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		g, err := queryDoc[IAMGroup](ctx, tx, `SELECT doc FROM iam_groups WHERE id = ?`, nameKey(name))
		if err != nil {
			return err
		}
		var d GroupDependents
		if d.Members, err = count(ctx, tx, `SELECT count(*) FROM iam_group_members WHERE group_id = ?`, g.GroupID); err != nil {
			return err
		}
		if d.InlinePolicies, err = count(ctx, tx, `SELECT count(*) FROM iam_inline_policies WHERE owner_id = ?`, g.GroupID); err != nil {
			return err
		}
		if d.AttachedPolicies, err = count(ctx, tx, `SELECT count(*) FROM iam_attachments WHERE owner_id = ?`, g.GroupID); err != nil {
			return err
		}
		if err := refuse(g, d); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM iam_groups WHERE group_id = ?`, g.GroupID)
		return err
	})
}

// AddIAMGroupMember adds a user to a group (nothing when it already is a member). limit is
// shown the number of groups the user is in now; ErrNotFound when either is gone.
func (s *Store) AddIAMGroupMember(ctx context.Context, groupID, userID string, limit func(groups int) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []struct{ sql, id string }{
			{`SELECT 1 FROM iam_groups WHERE group_id = ?`, groupID},
			{`SELECT 1 FROM iam_users WHERE user_id = ?`, userID},
		} {
			if ok, err := exists(ctx, tx, q.sql, q.id); err != nil || !ok {
				return errOr(err, ErrNotFound)
			}
		}
		if ok, err := exists(ctx, tx, `SELECT 1 FROM iam_group_members WHERE group_id = ? AND user_id = ?`, groupID, userID); err != nil || ok {
			return err
		}
		n, err := count(ctx, tx, `SELECT count(*) FROM iam_group_members WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		if err := limit(n); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO iam_group_members (group_id, user_id) VALUES (?, ?)`, groupID, userID)
		return err
	})
}

// RemoveIAMGroupMember removes a user from a group; ErrNotFound when it is not a member.
func (s *Store) RemoveIAMGroupMember(ctx context.Context, groupID, userID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM iam_group_members WHERE group_id = ? AND user_id = ?`, groupID, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// IAMGroupMembers returns a group's users, ordered by name.
func (s *Store) IAMGroupMembers(ctx context.Context, groupID string) ([]IAMUser, error) {
	return queryDocs[IAMUser](ctx, s.db, `SELECT u.doc FROM iam_users u JOIN iam_group_members m ON m.user_id = u.user_id WHERE m.group_id = ? ORDER BY u.id`, groupID)
}

// IAMGroupsForUser returns the groups a user is in, ordered by name.
func (s *Store) IAMGroupsForUser(ctx context.Context, userID string) ([]IAMGroup, error) {
	return groupsForUser(ctx, s.db, userID)
}

func groupsForUser(ctx context.Context, q queryer, userID string) ([]IAMGroup, error) {
	return queryDocs[IAMGroup](ctx, q, `SELECT g.doc FROM iam_groups g JOIN iam_group_members m ON m.group_id = g.group_id WHERE m.user_id = ? ORDER BY g.id`, userID)
}

// --- inline policies

func ownerExists(ctx context.Context, q queryer, ownerID string) (bool, error) {
	return exists(ctx, q, `SELECT 1 FROM iam_users WHERE user_id = ?1 UNION ALL SELECT 1 FROM iam_groups WHERE group_id = ?1 UNION ALL SELECT 1 FROM iam_roles WHERE role_id = ?1`, ownerID)
}

// PutInlinePolicy adds or replaces (by name, in any case) an inline policy of a user or
// group. check is shown the owner's other inline policies (for the aggregate size quota);
// ErrNotFound when the owner is gone.
func (s *Store) PutInlinePolicy(ctx context.Context, p InlinePolicy, check func(others []InlinePolicy) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if ok, err := ownerExists(ctx, tx, p.OwnerID); err != nil || !ok {
			return errOr(err, ErrNotFound)
		}
		others, err := queryDocs[InlinePolicy](ctx, tx, `SELECT doc FROM iam_inline_policies WHERE owner_id = ? AND name_key <> ? ORDER BY name_key`, p.OwnerID, nameKey(p.Name))
		if err != nil {
			return err
		}
		if err := check(others); err != nil {
			return err
		}
		doc, err := marshal(p)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO iam_inline_policies (owner_id, name_key, doc) VALUES (?, ?, ?)
			ON CONFLICT (owner_id, name_key) DO UPDATE SET doc = excluded.doc`, p.OwnerID, nameKey(p.Name), doc)
		return err
	})
}

// InlinePolicy returns one inline policy of a user or group by name, in any case.
func (s *Store) InlinePolicy(ctx context.Context, ownerID, name string) (InlinePolicy, error) {
	return queryDoc[InlinePolicy](ctx, s.db, `SELECT doc FROM iam_inline_policies WHERE owner_id = ? AND name_key = ?`, ownerID, nameKey(name))
}

// InlinePolicies returns the inline policies of a user or group, ordered by name.
func (s *Store) InlinePolicies(ctx context.Context, ownerID string) ([]InlinePolicy, error) {
	return queryDocs[InlinePolicy](ctx, s.db, `SELECT doc FROM iam_inline_policies WHERE owner_id = ? ORDER BY name_key`, ownerID)
}

// DeleteInlinePolicy removes an inline policy; ErrNotFound when there is none.
func (s *Store) DeleteInlinePolicy(ctx context.Context, ownerID, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM iam_inline_policies WHERE owner_id = ? AND name_key = ?`, ownerID, nameKey(name))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// --- managed policies

func (s *Store) managedPolicies() table[ManagedPolicy] {
	return table[ManagedPolicy]{s.db, "iam_policies"}
}

// CreateManagedPolicy inserts a customer managed policy; ErrExists when the ARN or the name
// (in any case, on any path) is taken.
func (s *Store) CreateManagedPolicy(ctx context.Context, p ManagedPolicy) error {
	doc, err := marshal(p)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO iam_policies (id, name_key, doc) VALUES (?, ?, ?)`, p.ARN, nameKey(p.Name), doc)
	return insertErr(err)
}

// ManagedPolicy returns a customer managed policy by ARN.
func (s *Store) ManagedPolicy(ctx context.Context, arn string) (ManagedPolicy, error) {
	return s.managedPolicies().get(ctx, arn)
}

// ManagedPolicies returns every customer managed policy, ordered by ARN.
func (s *Store) ManagedPolicies(ctx context.Context) ([]ManagedPolicy, error) {
	return s.managedPolicies().list(ctx, "")
}

// UpdateManagedPolicy changes a managed policy (its versions, say) in one transaction.
func (s *Store) UpdateManagedPolicy(ctx context.Context, arn string, fn func(*ManagedPolicy) error) (ManagedPolicy, error) {
	return s.managedPolicies().update(ctx, arn, fn)
}

// DeleteManagedPolicy removes a managed policy unless refuse, shown the policy and the
// number of users and groups it is attached to or is the permissions boundary of, returns an
// error.
func (s *Store) DeleteManagedPolicy(ctx context.Context, arn string, refuse func(p ManagedPolicy, attachments int) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := queryDoc[ManagedPolicy](ctx, tx, `SELECT doc FROM iam_policies WHERE id = ?`, arn)
		if err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT count(*) FROM iam_attachments WHERE policy_arn = ?`, arn)
		if err != nil {
			return err
		}
		b, err := boundaryUses(ctx, tx, arn)
		if err != nil {
			return err
		}
		if err := refuse(p, n+b); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM iam_policies WHERE id = ?`, arn)
		return err
	})
}

// --- attachments

// AttachPolicy attaches a managed policy to a user or group (nothing when it already is).
// A local policy must exist in the store (AWS managed ones are not stored); limit is shown
// the ARNs attached now. ErrNotFound when the owner or the local policy is gone.
func (s *Store) AttachPolicy(ctx context.Context, ownerID, policyARN string, local bool, limit func(attached []string) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if ok, err := ownerExists(ctx, tx, ownerID); err != nil || !ok {
			return errOr(err, ErrNotFound)
		}
		if local {
			if ok, err := exists(ctx, tx, `SELECT 1 FROM iam_policies WHERE id = ?`, policyARN); err != nil || !ok {
				return errOr(err, ErrNotFound)
			}
		}
		attached, err := queryStrings(ctx, tx, `SELECT policy_arn FROM iam_attachments WHERE owner_id = ? ORDER BY policy_arn`, ownerID)
		if err != nil {
			return err
		}
		for _, a := range attached {
			if a == policyARN {
				return nil
			}
		}
		if err := limit(attached); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO iam_attachments (owner_id, policy_arn) VALUES (?, ?)`, ownerID, policyARN)
		return err
	})
}

// DetachPolicy detaches a managed policy; ErrNotFound when it is not attached.
func (s *Store) DetachPolicy(ctx context.Context, ownerID, policyARN string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM iam_attachments WHERE owner_id = ? AND policy_arn = ?`, ownerID, policyARN)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// AttachedPolicies returns the ARNs of the managed policies attached to a user or group.
func (s *Store) AttachedPolicies(ctx context.Context, ownerID string) ([]string, error) {
	return queryStrings(ctx, s.db, `SELECT policy_arn FROM iam_attachments WHERE owner_id = ? ORDER BY policy_arn`, ownerID)
}

// AttachmentCounts returns how many users and groups each attached managed policy has.
func (s *Store) AttachmentCounts(ctx context.Context) (map[string]int, error) {
	return queryCounts(ctx, s.db, `SELECT policy_arn, count(*) FROM iam_attachments GROUP BY policy_arn`)
}

// --- access keys of users (the root user's too: principal "root")

// AccessKeysOf returns the access keys of a principal ("root" or a user id), oldest first.
func (s *Store) AccessKeysOf(ctx context.Context, principal string) ([]AccessKey, error) {
	return queryDocs[AccessKey](ctx, s.db, `SELECT doc FROM access_keys WHERE json_extract(doc, '$.principal') = ? ORDER BY json_extract(doc, '$.created_at'), id`, principal)
}

// CreateAccessKey inserts a key for a principal, unless limit, shown the principal's keys,
// returns an error. ErrNotFound when the principal is a user that is gone.
func (s *Store) CreateAccessKey(ctx context.Context, k AccessKey, limit func(existing []AccessKey) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if k.Principal != "root" {
			if ok, err := exists(ctx, tx, `SELECT 1 FROM iam_users WHERE user_id = ?`, k.Principal); err != nil || !ok {
				return errOr(err, ErrNotFound)
			}
		}
		keys, err := queryDocs[AccessKey](ctx, tx, `SELECT doc FROM access_keys WHERE json_extract(doc, '$.principal') = ?`, k.Principal)
		if err != nil {
			return err
		}
		if err := limit(keys); err != nil {
			return err
		}
		doc, err := marshal(k)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO access_keys (id, doc) VALUES (?, ?)`, k.ID, doc)
		return insertErr(err)
	})
}

// UpdateAccessKey changes an access key (its status) in one transaction.
func (s *Store) UpdateAccessKey(ctx context.Context, id string, fn func(*AccessKey) error) (AccessKey, error) {
	return s.accessKeys().update(ctx, id, fn)
}

// DeleteAccessKey removes an access key; SigV4 refuses it from then on.
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	return s.accessKeys().delete(ctx, id)
}

// --- login profiles

// CreateLoginProfile inserts a user's login profile; ErrExists when it has one, ErrNotFound
// when the user is gone.
func (s *Store) CreateLoginProfile(ctx context.Context, lp LoginProfile) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if ok, err := exists(ctx, tx, `SELECT 1 FROM iam_users WHERE user_id = ?`, lp.UserID); err != nil || !ok {
			return errOr(err, ErrNotFound)
		}
		doc, err := marshal(lp)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO iam_login_profiles (id, doc) VALUES (?, ?)`, lp.UserID, doc)
		return insertErr(err)
	})
}

// LoginProfile returns a user's login profile.
func (s *Store) LoginProfile(ctx context.Context, userID string) (LoginProfile, error) {
	return queryDoc[LoginProfile](ctx, s.db, `SELECT doc FROM iam_login_profiles WHERE id = ?`, userID)
}

// UpdateLoginProfile changes a user's login profile in one transaction.
func (s *Store) UpdateLoginProfile(ctx context.Context, userID string, fn func(*LoginProfile) error) (LoginProfile, error) {
	return table[LoginProfile]{s.db, "iam_login_profiles"}.update(ctx, userID, fn)
}

// DeleteLoginProfile removes a user's login profile.
func (s *Store) DeleteLoginProfile(ctx context.Context, userID string) error {
	return table[LoginProfile]{s.db, "iam_login_profiles"}.delete(ctx, userID)
}

// --- account password policy (kept in meta)

// IAMPasswordPolicy returns the account password policy; ErrNotFound when none is set.
func (s *Store) IAMPasswordPolicy(ctx context.Context) (PasswordPolicy, error) {
	return queryDoc[PasswordPolicy](ctx, s.db, `SELECT value FROM meta WHERE key = ?`, passwordPolicyKey)
}

// PutIAMPasswordPolicy sets the account password policy.
func (s *Store) PutIAMPasswordPolicy(ctx context.Context, p PasswordPolicy) error {
	doc, err := marshal(p)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, passwordPolicyKey, doc)
	return err
}

// DeleteIAMPasswordPolicy removes the account password policy; ErrNotFound when none is set.
func (s *Store) DeleteIAMPasswordPolicy(ctx context.Context) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM meta WHERE key = ?`, passwordPolicyKey)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// --- the account alias (kept in meta: an account has at most one)

// AccountAlias returns the account alias; ErrNotFound when there is none.
func (s *Store) AccountAlias(ctx context.Context) (string, error) {
	return s.Meta(ctx, accountAliasKey)
}

// SetAccountAlias sets the account alias, replacing any other.
func (s *Store) SetAccountAlias(ctx context.Context, alias string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, accountAliasKey, alias)
	return err
}

// DeleteAccountAlias removes the account alias if it is alias; ErrNotFound otherwise.
func (s *Store) DeleteAccountAlias(ctx context.Context, alias string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM meta WHERE key = ? AND value = ?`, accountAliasKey, alias)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// --- virtual MFA devices

// CreateMFADevice inserts a virtual MFA device; ErrExists when its serial number or its name
// (in any case) is taken.
func (s *Store) CreateMFADevice(ctx context.Context, d MFADevice) error {
	doc, err := marshal(d)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO iam_mfa_devices (id, name_key, user_id, doc) VALUES (?, ?, NULLIF(?, ''), ?)`,
		d.SerialNumber, nameKey(d.Name), d.UserID, doc)
	return insertErr(err)
}

// MFADevice returns a virtual MFA device by serial number.
func (s *Store) MFADevice(ctx context.Context, serial string) (MFADevice, error) {
	return queryDoc[MFADevice](ctx, s.db, `SELECT doc FROM iam_mfa_devices WHERE id = ?`, serial)
}

// MFADevices returns every virtual MFA device, ordered by serial number.
func (s *Store) MFADevices(ctx context.Context) ([]MFADevice, error) {
	return queryDocs[MFADevice](ctx, s.db, `SELECT doc FROM iam_mfa_devices ORDER BY id`)
}

// MFADevicesOf returns the devices enabled for a user, ordered by serial number.
func (s *Store) MFADevicesOf(ctx context.Context, userID string) ([]MFADevice, error) {
	return queryDocs[MFADevice](ctx, s.db, `SELECT doc FROM iam_mfa_devices WHERE user_id = ? ORDER BY id`, userID)
}

// UpdateMFADevice changes a device in one transaction. fn is also shown how many devices
// each user has, for the per-user quota when it enables one. ErrNotFound when the device,
// or the user it is being enabled for, is gone.
func (s *Store) UpdateMFADevice(ctx context.Context, serial string, fn func(d *MFADevice, devicesOf func(userID string) (int, error)) error) (MFADevice, error) {
	var d MFADevice
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = queryDoc[MFADevice](ctx, tx, `SELECT doc FROM iam_mfa_devices WHERE id = ?`, serial); err != nil {
			return err
		}
		devicesOf := func(userID string) (int, error) {
			return count(ctx, tx, `SELECT count(*) FROM iam_mfa_devices WHERE user_id = ?`, userID)
		}
		if err := fn(&d, devicesOf); err != nil {
			return err
		}
		if d.SerialNumber != serial {
			return errors.New("store: UpdateMFADevice may not change the serial number")
		}
		if d.UserID != "" {
			if ok, err := exists(ctx, tx, `SELECT 1 FROM iam_users WHERE user_id = ?`, d.UserID); err != nil || !ok {
				return errOr(err, ErrNotFound)
			}
		}
		doc, err := marshal(d)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_mfa_devices SET doc = ?, user_id = NULLIF(?, '') WHERE id = ?`, doc, d.UserID, serial)
		return err
	})
	return d, err
}

// DeleteMFADevice removes a device unless refuse, shown it, returns an error.
func (s *Store) DeleteMFADevice(ctx context.Context, serial string, refuse func(MFADevice) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := queryDoc[MFADevice](ctx, tx, `SELECT doc FROM iam_mfa_devices WHERE id = ?`, serial)
		if err != nil {
			return err
		}
		if err := refuse(d); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM iam_mfa_devices WHERE id = ?`, serial)
		return err
	})
}

// --- what applies to a user

// EffectivePoliciesOf returns, read in one transaction, a user's policies and those of its
// groups, with the customer managed policies they attach and the user's permissions
// boundary (absent from Managed when it is gone or AWS managed).
func (s *Store) EffectivePoliciesOf(ctx context.Context, userID string) (EffectivePolicies, error) {
	var e EffectivePolicies
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if e.User, err = queryDoc[IAMUser](ctx, tx, `SELECT doc FROM iam_users WHERE user_id = ?`, userID); err != nil {
			return err
		}
		groups, err := groupsForUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		e.Holders = append(e.Holders, PolicyHolder{Kind: "user", ID: e.User.UserID, Name: e.User.Name})
		for _, g := range groups {
			e.Holders = append(e.Holders, PolicyHolder{Kind: "group", ID: g.GroupID, Name: g.Name})
		}
		e.Managed = map[string]ManagedPolicy{}
		var arns []any
		for i := range e.Holders {
			h := &e.Holders[i]
			if h.Inline, err = queryDocs[InlinePolicy](ctx, tx, `SELECT doc FROM iam_inline_policies WHERE owner_id = ? ORDER BY name_key`, h.ID); err != nil {
				return err
			}
			if h.Attached, err = queryStrings(ctx, tx, `SELECT policy_arn FROM iam_attachments WHERE owner_id = ? ORDER BY policy_arn`, h.ID); err != nil {
				return err
			}
			for _, arn := range h.Attached {
				arns = append(arns, arn)
			}
		}
		if b := e.User.PermissionsBoundary; b != "" {
			arns = append(arns, b)
		}
		if len(arns) == 0 {
			return nil
		}
		// One query for every customer managed policy attached; AWS managed ones are not stored.
		marks := strings.TrimSuffix(strings.Repeat("?,", len(arns)), ",")
		policies, err := queryDocs[ManagedPolicy](ctx, tx, `SELECT doc FROM iam_policies WHERE id IN (`+marks+`)`, arns...)
		if err != nil {
			return err
		}
		for _, p := range policies {
			e.Managed[p.ARN] = p
		}
		return nil
	})
	return e, err
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}
