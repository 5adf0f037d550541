package backup

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/scram"
	"github.com/jackc/pgx/v5"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// installation is one Borealis data directory: an engine, a backup manager, and a place
// for cluster volumes that every cluster's account can traverse.
type installation struct {
	root   string
	driver *engine.Local
	m      *Manager
	clock  *testClock
	cert   []byte
	key    []byte
}

type testClock struct{ off time.Duration }

func (c *testClock) now() time.Time { return time.Now().Add(c.off) }

func newInstallation(t testing.TB) *installation {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: each cluster runs as an account of its own")
	}
	root, err := os.MkdirTemp("", "borealis-backup-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o711); err != nil {
		t.Fatal(err)
	}
	d, err := engine.NewLocal(testLogger(), engine.Options{StopWithParent: true})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	m, err := New(testLogger(), Options{Root: filepath.Join(root, "backups"), KeyFile: filepath.Join(root, "backup.key"),
		ArchiveTimeout: 5 * time.Second, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	cert, key := selfSigned(t)
	inst := &installation{root: root, driver: d, m: m, clock: clock, cert: cert, key: key}
	t.Cleanup(func() {
		d.Close(context.Background())
		os.RemoveAll(root)
	})
	return inst
}

// cluster is one cluster volume of the installation with its writer's spec.
type cluster struct {
	spec engine.Spec
	c    Cluster
}

func (inst *installation) cluster(t testing.TB, name string) *cluster {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	rid := "cluster-" + name + "-" + hex.EncodeToString(b[:])
	vol := filepath.Join(inst.root, "clusters", rid)
	spec := engine.Spec{
		Name: name + "-" + hex.EncodeToString(b[:3]), DataDir: filepath.Join(vol, "data"),
		SocketDir: filepath.Join(inst.root, "run", hex.EncodeToString(b[:])), LogFile: filepath.Join(vol, "postgresql.log"),
		OSUser: engine.TenantUser(rid), ListenAddr: "127.0.0.1", Port: freePort(t),
		CertPEM: inst.cert, KeyPEM: inst.key, AdminPassword: "admin-" + hex.EncodeToString(b[:]),
	}
	t.Cleanup(func() { inst.driver.Destroy(context.Background(), spec) })
	cl := &cluster{spec: spec, c: Cluster{ResourceID: rid, OSUser: spec.OSUser, VolumeDir: vol, DataDir: spec.DataDir,
		SocketDir: spec.SocketDir, Port: spec.Port, AdminPassword: spec.AdminPassword}}
	cl.spec.Archive = inst.m.Settings(cl.c, spec.DataDir)
	return cl
}

// create makes the volume (initdb), its repository, and starts the writer archiving.
func (inst *installation) create(t testing.TB, ctx context.Context, cl *cluster) {
	t.Helper()
	v, err := scram.Verifier("Master-pass-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.driver.Create(ctx, cl.spec, engine.Bootstrap{MasterUsername: "master", MasterPasswordVerifier: v, DatabaseName: "appdb"}); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.Prepare(ctx, cl.c); err != nil {
		t.Fatal(err)
	}
	if err := inst.driver.Start(ctx, cl.spec); err != nil {
		t.Fatal(err)
	}
}

func (inst *installation) conn(t testing.TB, ctx context.Context, cl *cluster) *pgx.Conn {
	t.Helper()
	c, err := inst.driver.Connect(ctx, cl.spec, "appdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func sqlExec(t *testing.T, ctx context.Context, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// archived switches WAL and waits until the segment holding everything so far is in the
// repository.
func (inst *installation) archived(t testing.TB, ctx context.Context, cl *cluster) {
	t.Helper()
	c := inst.conn(t, ctx, cl)
	var seg string
	if err := c.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&seg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var last *string
		var failed *string
		if err := c.QueryRow(ctx, "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").Scan(&last, &failed); err != nil {
			t.Fatal(err)
		}
		if last != nil && *last >= seg {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment %s not archived (last %v, failed %v); log:\n%s", seg, deref(last), deref(failed), tail(cl.spec.LogFile))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

func tail(p string) string {
	b, _ := os.ReadFile(p)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func selfSigned(t testing.TB) ([]byte, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "backup test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}
