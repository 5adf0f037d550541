// Package engine creates and supervises the PostgreSQL servers behind DB
// instances. It never reads Borealis' store: every call carries what it needs.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/scram"
	"github.com/jackc/pgx/v5"
)

// Driver is what the reconciler depends on, so that a later driver can place
// instances on other hosts without touching the reconciler.
type Driver interface {
	// Create initialises the cluster volume and runs the bootstrap SQL,
	// leaving the server stopped. Idempotent and crash-safe.
	Create(ctx context.Context, s Spec, b Bootstrap) error
	// PrepareVolume makes the account and volume directory of s before its data
	// directory exists (see Local.PrepareVolume): a restore fills it. Idempotent.
	PrepareVolume(ctx context.Context, s Spec) error
	// CreateReplica makes the volume of a reader, s (s.Primary set), from a fresh base
	// backup of the running server of source, leaving it stopped; a volume that is no
	// standby's (a former writer's) is copied afresh. Idempotent and crash-safe.
	CreateReplica(ctx context.Context, s, source Spec) error
	// Standby reports whether the volume of s is a standby's (a reader's, or one made the
	// writer and not promoted yet).
	Standby(s Spec) bool
	// Promote ends the recovery of the running standby of s: it becomes read-write, once
	// it has received the WAL up to upTo (0: at once), or after a bound. Idempotent.
	Promote(ctx context.Context, s Spec, upTo uint64) error
	// Rebase copies the reader volume s afresh from the running server of source, as
	// CreateReplica does for a volume that is none (a standby that replayed WAL its new
	// writer never had cannot follow it).
	Rebase(ctx context.Context, s, source Spec) error
	// TimelineStart is where the timeline of the running writer s began: its promotion's
	// switch point; false for a writer never promoted.
	TimelineStart(ctx context.Context, s Spec) (uint64, bool)
	// EndOfWAL is where the WAL of the stopped server of s ends (its last checkpoint);
	// false when it cannot be read.
	EndOfWAL(ctx context.Context, s Spec) (uint64, bool)
	// Start writes the config files and starts the server; a no-op when the
	// driver's own server for s.Name is running.
	Start(ctx context.Context, s Spec) error
	// Stop shuts the server down (fast shutdown, escalating on timeout).
	Stop(ctx context.Context, s Spec) error
	// Reload rewrites the config files and returns once the server applied them.
	Reload(ctx context.Context, s Spec) error
	// Restart is Stop then Start.
	Restart(ctx context.Context, s Spec) error
	// Status reports the driver's view of the server named name.
	Status(name string) Status
	// Accepting reports whether the server of s accepts connections now (not starting,
	// recovering or stopping): the fact that "available" stands for.
	Accepting(s Spec) bool
	// Destroy stops the server and removes its data directory.
	Destroy(ctx context.Context, s Spec) error
	// ResetMaster gives the master user of the running server of s the password verifier
	// and restores its Aurora attributes, memberships and settings, recreating it if it is
	// gone. Open sessions stay. Idempotent.
	ResetMaster(ctx context.Context, s Spec, username, verifier string) error
	// Connect opens an admin (rdsadmin) session to a running server.
	Connect(ctx context.Context, s Spec, database string) (*pgx.Conn, error)
	// Exits reports servers that ended without being asked to.
	Exits() <-chan Exit
	// Close stops every server the driver started.
	Close(ctx context.Context) error
}

// Spec says where and how one PostgreSQL server runs. Paths are absolute.
type Spec struct {
	Name      string // instance identifier: logs, cluster_name, bookkeeping
	DataDir   string // PGDATA
	SocketDir string // unix_socket_directories; see MaxSocketPathLen
	LogFile   string // the server's stderr, appended; opened by the engine
	// LogDir is where the server's logging collector writes its hourly files (dblog), made
	// by the engine for the server's account; "" leaves everything on stderr (LogFile).
	// Only what the server writes before the collector starts stays in LogFile.
	LogDir     string
	ListenAddr string // IP address the server listens on (the gateway splices to it)
	// ListenIPv6 is an IPv6 address the server also listens on, with the same port: the
	// socket kernel steering hands IPv6 endpoint connections to. Optional; PostgreSQL only
	// warns when it cannot bind it (a host without IPv6, the port taken there).
	ListenIPv6 string
	Port       int
	// OSUser is the OS account the server runs as when Borealis is root: one of its own
	// per volume (TenantUser), made when the volume is created or started, removed by
	// Destroy. Its files and socket are its alone; DataDir's parent, the volume directory,
	// is kept root's and searchable by this account only. "" runs the server as the
	// driver's shared account (Options.OSUser).
	OSUser string

	CertPEM []byte // server certificate chain, written to DataDir/server.crt
	KeyPEM  []byte // its key, written to DataDir/server.key (0600)

	AdminPassword string // rdsadmin's password; never logged

	// Settings are extra postgresql.conf parameters from the parameter group.
	// Values are raw strings: the engine quotes them as PostgreSQL string
	// literals. Names Borealis manages (see ManagedSettings) are refused.
	Settings map[string]string

	// ForceSSL leaves pg_hba.conf without a rule for plaintext connections, so
	// PostgreSQL refuses them with its own "no pg_hba.conf entry" (rds.force_ssl).
	ForceSSL bool
	// PasswordMethod is the pg_hba method for password logins: "md5" (which also
	// accepts SCRAM-stored passwords) or "scram-sha-256" (SCRAM only). "" is md5.
	PasswordMethod string
	// Primary makes the server a hot standby streaming from the writer reached there (a
	// reader); nil runs it read-write. Only Promote ends a standby's recovery.
	Primary *Primary
	// IAMAuth sends members of rds_iam to IAM database authentication; nil refuses them
	// (as RDS does while the cluster's IAM authentication is off).
	IAMAuth *IAMAuth
	// Archive are the continuous-backup settings (archive_mode, archive_command,
	// archive_timeout) every server of a backed-up cluster runs with (backup.Settings);
	// nil archives nothing. archive_mode takes effect at the next start.
	Archive map[string]string
	// ReadOnly turns on the guard's borealis.read_only (storage-full): every session but
	// a superuser's writes nothing except what frees space. Applied by a reload.
	ReadOnly bool
}

// IAMAuth is where PostgreSQL's ldap method asks about a token: the responder's loopback
// port, and the prefix that names the cluster in the bind DN.
type IAMAuth struct {
	LDAPPort int
	Prefix   string
}

// Primary is where a reader's server streams WAL from: the writer's unix socket
// (SocketDir/.s.PGSQL.Port), in the cluster's own directory. Not TCP: the fence keeps
// every local process, servers included, off the private ports (so dblink cannot pass
// the endpoint), and the socket directory is the cluster's account's alone.
type Primary struct {
	SocketDir string
	Port      int
}

// Bootstrap is what the first start of a new cluster volume creates.
type Bootstrap struct {
	MasterUsername string // letters, digits, underscore; starts with a letter
	// MasterPasswordVerifier is the password as PostgreSQL stores it: a SCRAM-SHA-256
	// verifier, or "md5" + hex(md5(password + username)) from clusters made before.
	MasterPasswordVerifier string
	DatabaseName           string // "" for none: then only "postgres" exists, as on RDS
}

// State of one server as the driver sees it.
type State string

const (
	StateStopped  State = "stopped"
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateStopping State = "stopping"
	StateCrashed  State = "crashed" // ended without being asked to (or failed to start)
)

// Status is a snapshot of one server.
type Status struct {
	State State
	PID   int       // postmaster PID while starting, running or stopping
	Since time.Time // when State was entered; zero for a server never seen
	Err   error     // for StateCrashed: how the postmaster ended
}

// Exit tells that a running postmaster ended without being asked to.
type Exit struct {
	Name string
	PID  int
	Err  error // the wait status, e.g. "signal: killed"
	At   time.Time
}

// archiveSettings are the names Spec.Archive may set.
var archiveSettings = map[string]bool{"archive_mode": true, "archive_command": true, "archive_timeout": true}

// Admin is the bootstrap superuser, reserved to Borealis.
const Admin = "rdsadmin"

// Replicator is the role readers stream WAL as, reserved to Borealis (Aurora's name for
// it): replication only, over the writer's socket, with a secret only Borealis holds (see
// replicationPassword); never over TCP, so never through an endpoint.
const Replicator = "rdsrepladmin"

// MaxSocketPathLen bounds SocketDir + "/.s.PGSQL.<port>" (sun_path holds 108
// bytes; the margin leaves room for PostgreSQL's own checks).
const MaxSocketPathLen = 99

// Marker is written last by Create: a DataDir holding it is complete.
const Marker = "borealis.bootstrapped"

var (
	ErrClosed     = errors.New("engine: driver is closed")
	ErrNotCreated = errors.New("engine: cluster volume not created")
)

// SocketPath is the unix socket the server of s listens on.
func SocketPath(s Spec) string {
	return filepath.Join(s.SocketDir, ".s.PGSQL."+strconv.Itoa(s.Port))
}

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	roleRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
	md5RE     = regexp.MustCompile(`^md5[0-9a-f]{32}$`)
	settingRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)
)

func checkPath(what, p string) error {
	if p == "" || !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
		return fmt.Errorf("engine: %s %q must be a clean absolute path", what, p)
	}
	if strings.ContainsAny(p, "\x00\n\r") {
		return fmt.Errorf("engine: %s %q holds a control character", what, p)
	}
	return nil
}

// validate checks what the engine relies on; the caller validates for users.
func (s Spec) validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("engine: instance name %q: want letters, digits, '.', '_', '-'", s.Name)
	}
	if err := s.validatePaths(); err != nil {
		return err
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("engine: %s: port %d out of range", s.Name, s.Port)
	}
	if n := len(SocketPath(s)); n > MaxSocketPathLen {
		return fmt.Errorf("engine: %s: socket path %s is %d bytes, more than %d: choose a shorter SocketDir",
			s.Name, SocketPath(s), n, MaxSocketPathLen)
	}
	if net.ParseIP(s.ListenAddr) == nil {
		return fmt.Errorf("engine: %s: listen address %q is not an IP address", s.Name, s.ListenAddr)
	}
	if ip := net.ParseIP(s.ListenIPv6); s.ListenIPv6 != "" && (ip == nil || ip.To4() != nil) {
		return fmt.Errorf("engine: %s: IPv6 listen address %q is not an IPv6 address", s.Name, s.ListenIPv6)
	}
	if p := s.Primary; p != nil {
		if err := checkPath("primary socket directory", p.SocketDir); err != nil {
			return err
		}
		if p.Port < 1 || p.Port > 65535 || len(SocketPath(Spec{SocketDir: p.SocketDir, Port: p.Port})) > MaxSocketPathLen {
			return fmt.Errorf("engine: %s: primary socket %s, port %d: out of range", s.Name, p.SocketDir, p.Port)
		}
	}
	for k, v := range s.Archive {
		if !archiveSettings[k] || strings.ContainsAny(v, "\x00\n\r") {
			return fmt.Errorf("engine: %s: %q is not an archive setting, or its value is not one line", s.Name, k)
		}
	}
	if len(s.CertPEM) == 0 || len(s.KeyPEM) == 0 {
		return fmt.Errorf("engine: %s: a TLS certificate and key are required", s.Name)
	}
	if _, err := tls.X509KeyPair(s.CertPEM, s.KeyPEM); err != nil {
		return fmt.Errorf("engine: %s: TLS certificate and key: %w", s.Name, err)
	}
	if s.AdminPassword == "" || strings.ContainsAny(s.AdminPassword, "\x00\n\r") {
		return fmt.Errorf("engine: %s: admin password must be non-empty and one line", s.Name)
	}
	seen := map[string]bool{}
	for k, v := range s.Settings {
		lk := strings.ToLower(k)
		if !settingRE.MatchString(lk) {
			return fmt.Errorf("engine: %s: setting name %q is not a PostgreSQL parameter name", s.Name, k)
		}
		if seen[lk] {
			return fmt.Errorf("engine: %s: setting %q given twice", s.Name, lk)
		}
		seen[lk] = true
		if managed[lk] {
			return fmt.Errorf("engine: %s: setting %q is managed by Borealis", s.Name, k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("engine: %s: setting %q holds a NUL byte", s.Name, k)
		}
	}
	return nil
}

func (s Spec) validatePaths() error {
	if s.OSUser != "" && !tenantRE.MatchString(s.OSUser) {
		return fmt.Errorf("engine: %s: OS account %q is not one TenantUser names", s.Name, s.OSUser)
	}
	if err := checkPath("data directory", s.DataDir); err != nil {
		return err
	}
	if err := checkPath("socket directory", s.SocketDir); err != nil {
		return err
	}
	if s.LogDir != "" {
		if err := checkPath("log directory", s.LogDir); err != nil {
			return err
		}
	}
	return checkPath("log file", s.LogFile)
}

func (b Bootstrap) validate() error {
	if err := checkMaster(b.MasterUsername, b.MasterPasswordVerifier); err != nil {
		return err
	}
	if d := b.DatabaseName; d != "" {
		if !roleRE.MatchString(d) {
			return fmt.Errorf("engine: database name %q: want a letter then letters, digits, underscores", d)
		}
		switch d {
		case Admin, "template0", "template1":
			return fmt.Errorf("engine: database name %q is reserved", d)
		}
	}
	return nil
}

// checkMaster checks the master's name and verifier, which go into SQL text.
func checkMaster(username, verifier string) error {
	if !roleRE.MatchString(username) {
		return fmt.Errorf("engine: master username %q: want a letter then letters, digits, underscores", username)
	}
	if reservedRole(username) {
		return fmt.Errorf("engine: master username %q is reserved", username)
	}
	if !scram.IsVerifier(verifier) && !md5RE.MatchString(verifier) {
		return errors.New("engine: master password verifier is neither SCRAM-SHA-256 nor md5 + 32 lowercase hex digits")
	}
	return nil
}

func reservedRole(name string) bool {
	switch n := strings.ToLower(name); {
	case n == Admin, n == Replicator, n == "rdstopmgr", n == "public", n == "none":
		return true
	default:
		return strings.HasPrefix(n, "rds_") || strings.HasPrefix(n, "pg_")
	}
}
