package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/jackc/pgx/v5"
	mdns "github.com/miekg/dns"
)

// dnsListenAddr picks a loopback address whose port 53 is free over UDP and TCP: a
// resolv.conf names a server's address but no port.
func dnsListenAddr() (string, error) {
	for range 50 {
		addr := fmt.Sprintf("127.53.%d.%d:53", rand.IntN(256), 1+rand.IntN(254))
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		pc.Close()
		if err == nil {
			ln.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("no 127.53.x.y with port 53 free")
}

// resolving is name with args run as a program on this host whose resolver is serve's DNS
// server alone: a mount namespace of its own gets a resolv.conf that names it, so every
// driver resolves endpoint names the way it does on a host set up as the README says.
func (s *server) resolving(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	if s.DNSAddr == "" {
		t.Fatal("this serve answers no DNS on port 53")
	}
	host, _, _ := net.SplitHostPort(s.DNSAddr)
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+host+"\noptions timeout:2 attempts:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command("unshare", append([]string{"--mount", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv, name}, args...)...)
}

// nodePg is a directory with node-postgres installed (npm, once per machine: the cache
// outlives the test).
func nodePg(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "borealis-e2e", "node-pg-8.23.1")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pg", "package.json")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("node-postgres: npm is not installed")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	install := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--silent", "pg@8.23.1")
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("node-postgres could not be installed from the npm registry: %v\n%s", err, out)
	}
	return dir
}

// Every driver connects with sslmode=verify-full by the endpoint name alone, resolved by
// serve's DNS server: no hostaddr, no custom lookup, no verify-ca. The certificate names the
// endpoints and no address, so connecting by address fails verification.
func TestEveryDriverVerifiesTheEndpointByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dnsAddr, err := dnsListenAddr()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(testDataDir(t, "borealis-dns-"), freeAddr(t), "--dns-addr", dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(srv.logTail(), "dns="+dnsAddr) {
		t.Errorf("the start log does not name the DNS address %s:\n%s", dnsAddr, srv.logTail())
	}
	c := srv.rds(t)
	desc, instanceID := createCluster(ctx, t, c, "names", "dnsadmin", "Dns-pass-123", "appdb")
	endpoint, port := aws.ToString(desc.DBClusters[0].Endpoint), aws.ToInt32(desc.DBClusters[0].Port)
	// The names resolve to both loopback addresses, and clients that prefer IPv6 (libpq,
	// asyncpg) come from ::1: a rule admits it too, as the README says.
	if _, err := srv.ec2(t).AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: desc.DBClusters[0].VpcSecurityGroups[0].VpcSecurityGroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
			Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::1/128")}}}}}); err != nil {
		t.Fatal(err)
	}
	bundle := srv.bundlePath()
	libpq := fmt.Sprintf("host=%s port=%d dbname=appdb user=dnsadmin password=Dns-pass-123 sslmode=verify-full sslrootcert=%s connect_timeout=10", endpoint, port, bundle)
	url := fmt.Sprintf("postgresql://dnsadmin:Dns-pass-123@%s:%d/appdb?sslmode=verify-full&sslrootcert=%s", endpoint, port, bundle)

	// Without serve's DNS server the name does not resolve on this host: what follows is
	// the resolver's doing.
	if out, err := exec.Command("psql", libpq, "-tAc", "SELECT 1").CombinedOutput(); err == nil || !strings.Contains(string(out), "could not translate host name") {
		t.Fatalf("the endpoint name resolves without serve's DNS (%v): %s", err, out)
	}

	pgxHelper := filepath.Join(t.TempDir(), "pgxconnect")
	if out, err := exec.Command("go", "build", "-o", pgxHelper, "./testdata/pgxconnect").CombinedOutput(); err != nil {
		t.Fatalf("build the pgx helper: %v\n%s", err, out)
	}
	for _, d := range []struct {
		driver string
		cmd    func(t *testing.T) *exec.Cmd
	}{
		{"psql", func(t *testing.T) *exec.Cmd { return srv.resolving(t, "psql", libpq, "-tAc", "SELECT current_user") }},
		{"pgx", func(t *testing.T) *exec.Cmd { return srv.resolving(t, pgxHelper, url) }},
		{"JDBC", func(t *testing.T) *exec.Cmd {
			if _, err := os.Stat("/usr/share/java/postgresql.jar"); err != nil {
				t.Skip("JDBC: Debian's libpostgresql-jdbc-java is not installed")
			}
			return srv.resolving(t, "java", "-cp", "/usr/share/java/postgresql.jar", "testdata/JdbcLogin.java",
				fmt.Sprintf("jdbc:postgresql://%s:%d/appdb?sslmode=verify-full&sslrootcert=%s", endpoint, port, bundle), "dnsadmin", "Dns-pass-123")
		}},
		{"node-postgres", func(t *testing.T) *exec.Cmd {
			cmd := srv.resolving(t, "node", "-e", `const {Client} = require('pg');
(async () => {
  const c = new Client({connectionString: process.argv[1]});
  await c.connect();
  console.log((await c.query('SELECT current_user')).rows[0].current_user);
  await c.end();
})().catch(e => { console.error(e.message); process.exit(1); });`, url)
			cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(nodePg(t), "node_modules"))
			return cmd
		}},
		{"psycopg2", func(t *testing.T) *exec.Cmd {
			python(t, "psycopg2")
			return srv.resolving(t, "/usr/bin/python3", "-c", `import sys, psycopg2
c = psycopg2.connect(sys.argv[1]); cur = c.cursor(); cur.execute("SELECT current_user"); print(cur.fetchone()[0])`, libpq)
		}},
		{"asyncpg", func(t *testing.T) *exec.Cmd {
			python(t, "asyncpg")
			return srv.resolving(t, "/usr/bin/python3", "-c", `import sys, asyncio, asyncpg
async def main():
    c = await asyncpg.connect(sys.argv[1])
    print(await c.fetchval("SELECT current_user"))
    await c.close()
asyncio.run(main())`, url)
		}},
	} {
		t.Run(d.driver, func(t *testing.T) {
			out, err := d.cmd(t).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "dnsadmin" {
				t.Errorf("%s by endpoint name with verify-full: %v\n%s", d.driver, err, out)
			}
		})
	}

	t.Run("the certificate names the endpoints, not 127.0.0.1", func(t *testing.T) {
		leaf := serverCertificate(ctx, t, srv, endpoint, port)
		if len(leaf.IPAddresses) != 0 {
			t.Errorf("the server certificate names addresses %v", leaf.IPAddresses)
		}
		for _, n := range leaf.DNSNames {
			if !strings.HasSuffix(n, ".rds.borealis.localhost") {
				t.Errorf("the server certificate names %q", n)
			}
		}
		out, err := exec.Command("psql", fmt.Sprintf("host=127.0.0.1 port=%d dbname=appdb user=dnsadmin password=Dns-pass-123 sslmode=verify-full sslrootcert=%s connect_timeout=10", port, bundle),
			"-tAc", "SELECT 1").CombinedOutput()
		if err == nil || !strings.Contains(string(out), `does not match host name "127.0.0.1"`) {
			t.Errorf("verify-full by address: %v\n%s", err, out)
		}
	})

	t.Run("unknown names and other domains", func(t *testing.T) {
		out, err := srv.resolving(t, "psql", strings.Replace(libpq, "host=names.", "host=other.", 1), "-tAc", "SELECT 1").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "could not translate host name") {
			t.Errorf("an unknown endpoint name: %v\n%s", err, out)
		}
		if r := dnsQuery(t, dnsAddr, "example.com", mdns.TypeA); r.Rcode != mdns.RcodeRefused || len(r.Answer) != 0 {
			t.Errorf("a name outside the endpoint domain: rcode %s %v", mdns.RcodeToString[r.Rcode], r.Answer)
		}
	})

	// A deleted cluster's names stop resolving at once (the next query reads the store).
	deleteCluster(ctx, t, c, "names", instanceID)
	for _, name := range []string{endpoint, aws.ToString(desc.DBClusters[0].ReaderEndpoint)} {
		if r := dnsQuery(t, dnsAddr, name, mdns.TypeA); r.Rcode != mdns.RcodeNameError {
			t.Errorf("%s after deletion: rcode %s %v", name, mdns.RcodeToString[r.Rcode], r.Answer)
		}
	}
}

// python skips the test when Debian's package for module is not installed.
func python(t *testing.T, module string) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import "+module).Run(); err != nil {
		t.Skipf("%s: Debian's python3-%s is not installed", module, module)
	}
}

func dnsQuery(t *testing.T, addr, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("DNS %s: %v", name, err)
	}
	return r
}

// serverCertificate is the certificate the endpoint presents, verified for its name, which
// Go's resolver asks serve's DNS server for.
func serverCertificate(ctx context.Context, t *testing.T, srv *server, endpoint string, port int32) *x509.Certificate {
	t.Helper()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=dnsadmin password=Dns-pass-123 dbname=appdb sslmode=verify-full sslrootcert=%s connect_timeout=10", endpoint, port, srv.bundlePath()))
	if err != nil {
		t.Fatal(err)
	}
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.DNSAddr)
	}}
	cfg.LookupFunc = resolver.LookupHost
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tc, ok := conn.PgConn().Conn().(*tls.Conn)
	if !ok {
		t.Fatal("the connection is not TLS")
	}
	return tc.ConnectionState().PeerCertificates[0]
}
