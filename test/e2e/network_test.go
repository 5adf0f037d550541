package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"
)

// ec2 returns an EC2 client signing as the root user.
func (s *server) ec2(t *testing.T) *ec2.Client {
	t.Helper()
	id, secret := s.rootKey(t)
	return ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.APIAddr),
		Credentials: staticCreds(id, secret), Retryer: connectionRetryer()})
}

// openDefaultGroup lets 127.0.0.1 reach every endpoint in the default security group, as
// the README does for its cluster: the tests that are not about the network need it.
func (s *server) openDefaultGroup(ctx context.Context, t *testing.T) error {
	c := s.ec2(t)
	out, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}}})
	if err != nil {
		return fmt.Errorf("default security group: %w", err)
	}
	if len(out.SecurityGroups) != 1 {
		return fmt.Errorf("default security groups: %d, want 1", len(out.SecurityGroups))
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: out.SecurityGroups[0].GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("127.0.0.1/32"), Description: aws.String("tests on this host")}}}}})
	if err != nil {
		return fmt.Errorf("open the default group: %w", err)
	}
	return nil
}

// tryConnectFrom connects to an endpoint from a given loopback source address.
func (s *server) tryConnectFrom(ctx context.Context, source, endpoint string, port int32, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=5",
		endpoint, port, user, password, db, s.bundlePath()))
	if err != nil {
		return nil, err
	}
	// Endpoint names are not in DNS: the endpoint listens on loopback in both families.
	target := "127.0.0.1"
	if net.ParseIP(source).To4() == nil {
		target = "::1"
	}
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{target}, nil }
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	cfg.DialFunc = d.DialContext
	return pgx.ConnectConfig(ctx, cfg)
}

func TestSecurityGroupsDecideWhoReachesAnEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	e := srv.ec2(t)

	// The hosts of this test are loopback addresses: a VPC and subnets whose ranges hold
	// them, and a DB subnet group over those subnets, put the cluster where they are.
	vpcOut, err := e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("127.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpc := vpcOut.Vpc.VpcId
	var subnetIDs []string
	for i, zone := range []string{"us-east-1a", "us-east-1b"} {
		out, err := e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc, CidrBlock: aws.String(fmt.Sprintf("127.0.%d.0/24", i)), AvailabilityZone: aws.String(zone)})
		if err != nil {
			t.Fatal(err)
		}
		subnetIDs = append(subnetIDs, aws.ToString(out.Subnet.SubnetId))
	}
	if _, err := c.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{DBSubnetGroupName: aws.String("loopback"),
		DBSubnetGroupDescription: aws.String("this host's loopback addresses"), SubnetIds: subnetIDs}); err != nil {
		t.Fatal(err)
	}
	newGroup := func(name string) string {
		out, err := e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name), VpcId: vpc})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	fence, app, other := newGroup("fence"), newGroup("app"), newGroup("other")

	desc, _ := createCluster(ctx, t, c, "fenced", "master1", "Master-pass1", "", func(in *rds.CreateDBClusterInput) {
		in.VpcSecurityGroupIds = []string{fence}
		in.DBSubnetGroupName = aws.String("loopback")
	})
	cl := desc.DBClusters[0]
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)
	if len(cl.VpcSecurityGroups) != 1 || aws.ToString(cl.VpcSecurityGroups[0].VpcSecurityGroupId) != fence {
		t.Fatalf("VpcSecurityGroups = %+v", cl.VpcSecurityGroups)
	}
	reaches := func(source string) bool {
		conn, err := srv.tryConnectFrom(ctx, source, endpoint, port, "master1", "Master-pass1", "postgres")
		if err != nil {
			return false
		}
		conn.Close(ctx)
		return true
	}
	eventuallyReaches := func(source string, want bool) {
		t.Helper()
		eventually(t, 10*time.Second, fmt.Sprintf("%s reaching=%v", source, want), func() (bool, error) { return reaches(source) == want, nil })
	}
	rule := func(proto string, from, to int32, cidr string) ec2types.IpPermission {
		return ec2types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr)}}}
	}
	authorize := func(group string, perms ...ec2types.IpPermission) {
		if _, err := e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(group), IpPermissions: perms}); err != nil {
			t.Fatal(err)
		}
	}

	if reaches("127.0.0.2") || reaches("127.0.0.1") {
		t.Fatal("a group without rules admitted a connection")
	}
	// What psql says to a source no rule admits: with kernel steering the SYN is refused,
	// as a closed port's is; without, the gateway accepts and resets.
	psql := exec.Command("psql", "-w", fmt.Sprintf("host=%s hostaddr=127.0.0.1 port=%d dbname=postgres user=master1 sslmode=verify-full sslrootcert=%s connect_timeout=5",
		endpoint, port, srv.bundlePath()), "-c", "SELECT 1")
	out, err := psql.CombinedOutput()
	t.Logf("psql from a refused source (kernel steering %v): %s", srv.steering(), out)
	want := map[bool]string{true: "Connection refused", false: "server closed the connection unexpectedly"}[srv.steering()]
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("psql from a refused source: %v\n%s\nwant %q", err, out, want)
	}
	authorize(fence, rule("tcp", port, port, "127.0.0.2/32"))
	eventuallyReaches("127.0.0.2", true)
	if reaches("127.0.0.3") {
		t.Error("127.0.0.3 admitted by a rule for 127.0.0.2")
	}
	// The trail has the refusals, counted (within a drain interval).
	assertRefusedInTrail(t, srv, "127.0.0.3", aws.ToString(cl.DBClusterIdentifier), fence)
	open, err := srv.tryConnectFrom(ctx, "127.0.0.2", endpoint, port, "master1", "Master-pass1", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)
	// Steered by the kernel, the connection is the server's own: it sees the client's
	// address. Relayed, it sees the gateway's.
	seesClientAt := func(conn *pgx.Conn, source string) {
		t.Helper()
		var client string
		if err := conn.QueryRow(ctx, "SELECT host(inet_client_addr())").Scan(&client); err != nil {
			t.Fatal(err)
		}
		steered := srv.steering()
		if want := map[bool]string{true: source, false: "127.0.0.1"}[steered]; client != want {
			t.Errorf("with kernel steering %v, the server sees %s's connection from %s; want %s", steered, source, client, want)
		}
	}
	seesClientAt(open, "127.0.0.2")

	if _, err := e.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(fence),
		IpPermissions: []ec2types.IpPermission{rule("tcp", port, port, "127.0.0.2/32")}}); err != nil {
		t.Fatal(err)
	}
	eventuallyReaches("127.0.0.2", false)
	var one int
	if err := open.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the session opened before the revoke was cut: %v", err)
	}

	// IPv6: an IPv4 rule does not admit ::1; an Ipv6Ranges rule does.
	if reaches("::1") {
		t.Error("::1 admitted with no IPv6 rule")
	}
	authorize(fence, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
		Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::1/128")}}})
	eventuallyReaches("::1", true)
	open6, err := srv.tryConnectFrom(ctx, "::1", endpoint, port, "master1", "Master-pass1", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	seesClientAt(open6, "::1")
	open6.Close(ctx)

	// A port range that does not hold the endpoint's port admits nothing; protocol -1 admits all.
	authorize(fence, rule("tcp", port+1, port+10, "127.0.0.3/32"))
	authorize(fence, rule("-1", -1, -1, "127.0.0.4/32"))
	eventuallyReaches("127.0.0.4", true)
	if reaches("127.0.0.3") {
		t.Error("a rule for other ports admitted 127.0.0.3")
	}

	// A rule naming a group admits the addresses of that group's network interfaces.
	// An interface's address must be a host of its subnet: 127.0.0.5 is one of 127.0.0.0/24;
	// 127.0.0.1 is not one of the default subnet's.
	defaults, err := e.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil || len(defaults.Subnets) == 0 {
		t.Fatalf("default subnets: %v", err)
	}
	_, err = e.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: defaults.Subnets[0].SubnetId, PrivateIpAddress: aws.String("127.0.0.1")})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Errorf("an interface at 127.0.0.1 in the default subnet: %s", code)
	}
	if _, err := e.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnetIDs[0]),
		PrivateIpAddress: aws.String("127.0.0.5"), Groups: []string{app}}); err != nil {
		t.Fatal(err)
	}
	if reaches("127.0.0.5") {
		t.Error("127.0.0.5 admitted before any rule names its group")
	}
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(fence),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(app)}}}}}); err != nil {
		t.Fatal(err)
	}
	eventuallyReaches("127.0.0.5", true)

	// A group in use by a cluster cannot be deleted.
	_, err = e.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(fence)})
	if code, _ := apiError(t, err); code != "DependencyViolation" {
		t.Errorf("deleting a group in use: %s", code)
	}

	// ModifyDBCluster switches groups for new connections.
	authorize(other, rule("tcp", port, port, "127.0.0.6/32"))
	if _, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("fenced"), VpcSecurityGroupIds: []string{other}}); err != nil {
		t.Fatal(err)
	}
	eventuallyReaches("127.0.0.6", true)
	eventuallyReaches("127.0.0.4", false)

	_, err = c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("fenced"), VpcSecurityGroupIds: []string{"sg-00000000000000000"}})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Errorf("unknown group: %s", code)
	}
}
