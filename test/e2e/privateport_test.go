package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// metric reads one sample from serve's /metrics (0 when it has none yet).
func (s *server) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.APIAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// privatePort is what `SHOW port` tells any login: the server's private port.
func privatePort(ctx context.Context, t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var port string
	if err := conn.QueryRow(ctx, "SHOW port").Scan(&port); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// withDetail puts a server error's detail (where libpq's own message lands) into its text.
func withDetail(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Detail != "" {
		return fmt.Errorf("%w: %s", err, pgErr.Detail)
	}
	return err
}

// TestOnlyTheEndpointReachesAServer attacks a server's private port from the two places
// that could reach it past its endpoint: a local OS account (nobody), and a database
// server of this host (dblink and postgres_fdw from another cluster's master, and from
// the cluster's own). Run it with kernel steering on and with BOREALIS_KERNEL_STEERING=false.
func TestOnlyTheEndpointReachesAServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c, e := srv.rds(t), srv.ec2(t)
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("no psql")
	}

	descA, instA := createCluster(ctx, t, c, "door-a", "mastera", "Master-pass-a1", "")
	descB, instB := createCluster(ctx, t, c, "door-b", "masterb", "Master-pass-b1", "")
	a, b := descA.DBClusters[0], descB.DBClusters[0]
	connA := srv.connect(ctx, t, aws.ToString(a.Endpoint), aws.ToInt32(a.Port), "mastera", "Master-pass-a1", "postgres")
	connB := srv.connect(ctx, t, aws.ToString(b.Endpoint), aws.ToInt32(b.Port), "masterb", "Master-pass-b1", "postgres")
	privA, privB := privatePort(ctx, t, connA), privatePort(ctx, t, connB)
	connB.Close(ctx)

	t.Run("a local account is refused at the private port", func(t *testing.T) {
		series := fmt.Sprintf(`borealis_private_port_connections_refused_total{cluster="door-a",instance="%s"}`, instA)
		before := srv.metric(t, series)
		for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
			cmd := exec.Command(psql, fmt.Sprintf("host=%s port=%d user=mastera password=Master-pass-a1 dbname=postgres connect_timeout=5", host, privA), "-c", "SELECT 1")
			cmd.Env = []string{"HOME=/", "PATH=/usr/bin:/bin"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "Operation not permitted") {
				t.Errorf("nobody's psql to %s:%d: %v\n%s", host, privA, err, out)
			}
		}
		eventually(t, 5*time.Second, "the refusals counted", func() (bool, error) { return srv.metric(t, series) >= before+3, nil })
		eventually(t, 5*time.Second, "the refusal logged", func() (bool, error) {
			return regexp.MustCompile(`connection to a private port refused.*instance=` + instA + `.*uid=65534`).MatchString(srv.logTail()), nil
		})
	})

	if _, err := connA.Exec(ctx, "CREATE EXTENSION dblink"); err != nil {
		t.Fatal(err)
	}
	if _, err := connA.Exec(ctx, "CREATE EXTENSION postgres_fdw"); err != nil {
		t.Fatal(err)
	}
	dblink := func(host string, port int, user, password string) error {
		_, err := connA.Exec(ctx, "SELECT * FROM dblink($1, 'SELECT 1') AS t(x int)",
			fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres connect_timeout=5", host, port, user, password))
		return withDetail(err)
	}

	t.Run("a server reaches no private port, not even its own", func(t *testing.T) {
		series := fmt.Sprintf(`borealis_private_port_connections_refused_total{cluster="door-b",instance="%s"}`, instB)
		before := srv.metric(t, series)
		for _, target := range []struct {
			host                 string
			port                 int
			user, password, what string
		}{
			{"127.0.0.1", privB, "masterb", "Master-pass-b1", "B's private port"},
			{"::1", privB, "masterb", "Master-pass-b1", "B's private port over IPv6"},
			{"0.0.0.0", privB, "masterb", "Master-pass-b1", "B's private port as 0.0.0.0"},
			{"127.0.0.1", privA, "mastera", "Master-pass-a1", "its own private port"},
		} {
			if err := dblink(target.host, target.port, target.user, target.password); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
				t.Errorf("dblink to %s: %v; want Operation not permitted", target.what, err)
			}
		}
		// postgres_fdw connects with the same libpq, and meets the same refusal.
		if _, err := connA.Exec(ctx, fmt.Sprintf(`CREATE SERVER door_b FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '%d', dbname 'postgres');
			CREATE USER MAPPING FOR CURRENT_USER SERVER door_b OPTIONS (user 'masterb', password 'Master-pass-b1');
			CREATE FOREIGN TABLE door_b_roles (rolname name) SERVER door_b OPTIONS (schema_name 'pg_catalog', table_name 'pg_roles')`, privB)); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := withDetail(connA.QueryRow(ctx, "SELECT count(*) FROM door_b_roles").Scan(&n)); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
			t.Errorf("postgres_fdw to B's private port: %v; want Operation not permitted", err)
		}
		eventually(t, 5*time.Second, "the refusals counted", func() (bool, error) { return srv.metric(t, series) >= before+4, nil })
	})

	t.Run("a server reaches another cluster through its endpoint, as its security groups decide", func(t *testing.T) {
		vpcs, err := e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
		if err != nil || len(vpcs.Vpcs) != 1 {
			t.Fatalf("default VPC: %+v %v", vpcs, err)
		}
		group, err := e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("door-b"), Description: aws.String("door-b"), VpcId: vpcs.Vpcs[0].VpcId})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("door-b"), VpcSecurityGroupIds: []string{aws.ToString(group.GroupId)}}); err != nil {
			t.Fatal(err)
		}
		port := int(aws.ToInt32(b.Port))
		series := `borealis_endpoint_connections_refused_total{endpoint="door-b",reason="security-group"}`
		before := srv.metric(t, series)
		eventually(t, 10*time.Second, "B's endpoint closed to A's server", func() (bool, error) {
			err := dblink("127.0.0.1", port, "masterb", "Master-pass-b1")
			return err != nil, err
		})
		if after := srv.metric(t, series); after <= before {
			t.Errorf("B's endpoint refusals %v → %v; want A's server's connection refused by B's security groups", before, after)
		}
		if _, err := e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: group.GroupId,
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(port)), ToPort: aws.Int32(int32(port)),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String("127.0.0.1/32")}}}}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "B's endpoint open to A's server", func() (bool, error) {
			err := dblink("127.0.0.1", port, "masterb", "Master-pass-b1")
			return err == nil, err
		})
	})

	t.Run("the private port stays the server's own, across a reboot", func(t *testing.T) {
		bind := exec.Command("/usr/bin/python3", "-c", `import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ok")
except OSError as e:
    print(e.errno)`, strconv.Itoa(privA))
		bind.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := bind.Output(); err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(int(syscall.EPERM)) {
			t.Errorf("nobody binding A's private port: %s %v; want EPERM", out, err)
		}
		// The restarted postmaster, running as the server's account, binds its port again.
		var started time.Time
		if err := connA.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&started); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(instA)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Minute, "A back after its reboot", func() (bool, error) {
			conn, err := srv.tryConnect(ctx, aws.ToString(a.Endpoint), aws.ToInt32(a.Port), "mastera", "Master-pass-a1", "postgres")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			var now time.Time
			if err := conn.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&now); err != nil {
				return false, err
			}
			return now.After(started) && privatePort(ctx, t, conn) == privA, nil
		})
	})
}
