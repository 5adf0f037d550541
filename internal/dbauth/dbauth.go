// Package dbauth decides IAM database authentication: a database role that is a member of
// rds_iam logs in with a token, a SigV4 presigned URL made by IAM credentials, instead of
// a password. PostgreSQL stays the authority for the login: pg_hba.conf sends members of
// rds_iam to its ldap method, pointed at the responder in this package, whose verdict is
// this package's check of the token.
package dbauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
)

// MaxTokenAge is the longest a token may be valid for: RDS tokens last 15 minutes.
const MaxTokenAge = 15 * time.Minute

// Cluster is what a token is checked against.
type Cluster struct {
	ResourceID string   // cluster-XXXX, the dbuser ARN's cluster part
	Hosts      []string // endpoint names a token may be made for
	Port       int
	IAMEnabled bool // IAMDatabaseAuthenticationEnabled
}

// Config is what the check needs from the rest of Borealis.
type Config struct {
	Region    string
	AccountID string
	Verifier  *sigv4.Verifier
	// Authenticate turns the token's access key into its principal.
	Authenticate func(ctx context.Context, accessKeyID, sessionToken string) (principal.Principal, error)
	// Authorize is the IAM evaluator.
	Authorize func(ctx context.Context, p principal.Principal, action string, resources []authz.Resource, keys map[string][]string) error
	// Cluster finds a cluster by resource id; ok is false when there is none.
	Cluster func(ctx context.Context, resourceID string) (c Cluster, ok bool, err error)
	Log     *slog.Logger
	Now     func() time.Time

	// Refused, if set, records a refused token in the audit trail (package dataplane).
	Refused func(ctx context.Context, f dataplane.AuthFailure)
	// IsBackend says whether the executable a bind's process runs is PostgreSQL's, whose
	// client the refusal then names (nil: one named postgres). Any local process can
	// reach the responder; its other connections must not pass for a client.
	IsBackend func(exe string) bool
	// Owner, if set, is the OS account of the cluster resourceID's servers (ok false: none
	// known). Only a connection of that account may ask about the cluster: any local
	// process can reach the responder, and no other (a local user, another tenant's
	// server) may use it to try tokens or to leave refusals in the cluster's name.
	Owner func(resourceID string) (uid uint32, ok bool)
}

// Authority checks tokens.
type Authority struct{ cfg Config }

// New returns an Authority.
func New(cfg Config) *Authority {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authority{cfg: cfg}
}

// BindDNPrefix is the ldapprefix of a cluster's pg_hba.conf line: the bind DN PostgreSQL
// sends is the prefix and the login role, which tells the responder which cluster asks.
func BindDNPrefix(resourceID string) string { return resourceID + "/" }

// Bind is the LDAP responder's verdict for a bind by PostgreSQL: dn is BindDNPrefix and
// the login role, password the client's token. A refusal is a plain authentication failure
// for the client; the reason goes to the operator's log, never the token.
func (a *Authority) Bind(ctx context.Context, dn, token string) error {
	resourceID, user, _ := strings.Cut(dn, "/")
	if err := a.fromOwner(ctx, resourceID); err != nil {
		a.cfg.Log.Warn("iam database authentication: a bind from outside the cluster's account refused (not recorded)", "cluster", truncate(resourceID, 64), "reason", err.Error())
		return err
	}
	p, err := a.check(ctx, resourceID, user, token)
	if err != nil {
		a.cfg.Log.Warn("iam database authentication refused", "cluster", resourceID, "db_user", user, "principal", p.ARN, "reason", err.Error())
		if a.cfg.Refused != nil {
			a.cfg.Refused(ctx, a.failure(ctx, resourceID, user, token, principalRef{p.ARN, p.AccessKeyID}, err))
		}
		return err
	}
	a.cfg.Log.Info("iam database authentication accepted", "cluster", resourceID, "db_user", user, "principal", p.ARN, "access_key", p.AccessKeyID)
	return nil
}

// fromOwner says whether the bind came over a connection the cluster's account opened:
// the kernel's owner of the other end's socket.
func (a *Authority) fromOwner(ctx context.Context, resourceID string) error {
	if a.cfg.Owner == nil {
		return nil
	}
	want, ok := a.cfg.Owner(resourceID)
	if !ok {
		return errors.New("no account for the cluster")
	}
	c, ok := ctx.Value(ldapPeerKey{}).(ldapConn)
	if !ok {
		return errors.New("not over a connection")
	}
	uid, err := peerUID(c.remote, c.local)
	if err != nil {
		return fmt.Errorf("the connection's account: %w", err)
	}
	if uid != want {
		return fmt.Errorf("connection of uid %d, not the cluster's account", uid)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (a *Authority) check(ctx context.Context, resourceID, user, token string) (principal.Principal, error) {
	var none principal.Principal
	c, ok, err := a.cfg.Cluster(ctx, resourceID)
	if err != nil {
		return none, err
	}
	if !ok {
		return none, fmt.Errorf("no cluster %q", resourceID)
	}
	if !c.IAMEnabled {
		return none, errors.New("IAM database authentication is not enabled on the cluster")
	}
	if user == "" {
		return none, errors.New("no database user")
	}
	t, err := a.cfg.Verifier.VerifyPresigned(ctx, token, MaxTokenAge)
	if err != nil {
		return none, fmt.Errorf("token: %w", err)
	}
	if t.Service != "rds-db" || t.Region != a.cfg.Region {
		return none, fmt.Errorf("token scoped to %s in %s, want rds-db in %s", t.Service, t.Region, a.cfg.Region)
	}
	if t.Query.Get("Action") != "connect" {
		return none, fmt.Errorf("token action %q, want connect", t.Query.Get("Action"))
	}
	if got := t.Query.Get("DBUser"); got != user {
		return none, fmt.Errorf("token for database user %q, not %q", got, user)
	}
	host, port, err := net.SplitHostPort(t.Host)
	if err != nil || port != strconv.Itoa(c.Port) || !slices.ContainsFunc(c.Hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		return none, fmt.Errorf("token for %s, not an endpoint of this cluster on port %d", t.Host, c.Port)
	}
	p, err := a.cfg.Authenticate(ctx, t.AccessKeyID, t.SessionToken)
	if err != nil {
		return none, fmt.Errorf("access key %s: %w", t.AccessKeyID, err)
	}
	arn := fmt.Sprintf("arn:aws:rds-db:%s:%s:dbuser:%s/%s", a.cfg.Region, a.cfg.AccountID, resourceID, user)
	keys := p.ConditionKeys(a.cfg.Now())
	keys["aws:SecureTransport"] = []string{"true"} // pg_hba.conf routes rds_iam over TLS only
	keys["aws:RequestedRegion"] = []string{a.cfg.Region}
	if err := a.cfg.Authorize(ctx, p, "rds-db:connect", []authz.Resource{authz.On(arn)}, keys); err != nil {
		return p, err
	}
	return p, nil
}
