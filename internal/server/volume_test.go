package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
)

// mountTmpfs mounts a tmpfs of size bytes at a new directory, or skips the test where
// mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vol")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file into dir until the volume has no space left.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last partial block too.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

func startServe(t *testing.T, cfg Config) (*Server, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	return s, func() {
		cancel()
		<-served
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func wantAPIError(t *testing.T, what string, err error, code, inMessage string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), inMessage) {
		t.Fatalf("%s: want %s saying %q, got %v", what, code, inMessage, err)
	}
}

// serve on a full data volume: it starts (it rewrites nothing that is unchanged), reads
// answer, a write that cannot be stored fails with InternalFailure saying the volume is
// full and changes nothing, /metrics reports the volume's free space, and new clusters
// are refused below the reserve for serve's own state.
func TestServeOnAFullVolume(t *testing.T) {
	vol := mountTmpfs(t, "64m")
	cfg := assemblyConfig(t)
	cfg.DataDir = filepath.Join(vol, "data")

	s, stop := startServe(t, cfg)
	client := rds.New(rds.Options{Region: cfg.Region, BaseEndpoint: aws.String(s.APIURL()),
		Credentials: rootCredentials(t, cfg.DataDir), Retryer: aws.NopRetryer{}})
	ctx := t.Context()
	// The default reserve (256 MiB) is more than this volume.
	_, err := client.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("c1"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("master1"), MasterUserPassword: aws.String("Master-pass-1")})
	wantAPIError(t, "CreateDBCluster below the reserve", err, "InsufficientStorageClusterCapacity", "kept for the service's own state")
	stop()

	fill(t, vol)
	s, stop = startServe(t, cfg)
	defer stop()
	client = rds.New(rds.Options{Region: cfg.Region, BaseEndpoint: aws.String(s.APIURL()),
		Credentials: rootCredentials(t, cfg.DataDir), Retryer: aws.NopRetryer{}})
	if _, err := client.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
		t.Fatalf("DescribeDBClusters on a full volume: %v", err)
	}
	_, err = client.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("full-test"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("a group that cannot be stored")})
	wantAPIError(t, "CreateDBClusterParameterGroup on a full volume", err, "InternalFailure", "volume holding its state is full")
	groups, err := client.DescribeDBClusterParameterGroups(ctx, &rds.DescribeDBClusterParameterGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.DBClusterParameterGroups {
		if aws.ToString(g.DBClusterParameterGroupName) == "full-test" {
			t.Fatal("the group that could not be stored is listed")
		}
	}

	// Once there is room again, the same call is carried out.
	if err := os.Remove(filepath.Join(vol, "filler")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("full-test"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("stored once there is room")}); err != nil {
		t.Fatalf("CreateDBClusterParameterGroup once space is freed: %v", err)
	}
	fill(t, vol)

	res, err := http.Get(s.APIURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"borealis_data_volume_free_bytes 0", "borealis_data_volume_size_bytes 6.7108864e+07"} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
