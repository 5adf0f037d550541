package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/borealis-db/borealis/internal/steer"
)

// assemblyConfig is serve's configuration for a test: a data directory of its own, the
// API on a free loopback port, and a stand-in guard library (the guard is only loaded
// by a cluster's server, and these tests start none). It needs PostgreSQL 15 installed,
// as serve does (make deps).
func assemblyConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	guard := filepath.Join(dir, "guard.so")
	if err := os.WriteFile(guard, []byte("not loaded by these tests"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{
		DataDir:        filepath.Join(dir, "data"),
		APIAddr:        "127.0.0.1:0",
		Region:         "us-east-1",
		EndpointDomain: "borealis.localhost",
		GuardLibrary:   guard,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// rootCredentials reads the root key from the credentials file New wrote.
func rootCredentials(t *testing.T, dataDir string) aws.CredentialsProvider {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, credentialsFileName))
	if err != nil {
		t.Fatal(err)
	}
	var c aws.Credentials
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		}
	}
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil })
}

// The whole serve in one process: New opens it on real listeners, aws-sdk-go-v2 clients
// signing with the bootstrap root key get answers from RDS, IAM and STS, a second New on
// the same data directory is refused while the first holds it, and after Close the data
// directory is free again: a new New (this time over HTTPS) opens it and answers too.
func TestAssembledServerAnswersAndReleasesItsDataDirectory(t *testing.T) {
	cfg := assemblyConfig(t)
	cfg.MetricsAddr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := New(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	creds := rootCredentials(t, cfg.DataDir)
	base := aws.String(s.APIURL())
	clusters, err := rds.New(rds.Options{Region: cfg.Region, BaseEndpoint: base, Credentials: creds}).
		DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
	if err != nil {
		t.Fatalf("DescribeDBClusters: %v", err)
	}
	if len(clusters.DBClusters) != 0 {
		t.Fatalf("a new data directory has clusters: %+v", clusters.DBClusters)
	}
	user, err := iam.New(iam.Options{Region: cfg.Region, BaseEndpoint: base, Credentials: creds}).GetUser(ctx, &iam.GetUserInput{})
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if arn := aws.ToString(user.User.Arn); !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.HasSuffix(arn, ":root") {
		t.Fatalf("GetUser with the bootstrap key is %q, want the root user", arn)
	}
	if code := httpStatus(t, http.DefaultClient, s.metricsURL); code != http.StatusOK {
		t.Fatalf("GET %s: %d", s.metricsURL, code)
	}
	if code := httpStatus(t, http.DefaultClient, s.APIURL()+"/metrics"); code == http.StatusOK {
		t.Fatal("/metrics is served on the API too, though it has its own address")
	}

	if _, err := New(ctx, cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("in use by another borealis serve (pid %d)", os.Getpid())) {
		t.Fatalf("second New on the same data directory: %v, want it refused naming this pid", err)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close again: %v", err)
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(s.APIURL(), "http://")); err == nil {
		c.Close()
		t.Fatal("the API still accepts connections after Close")
	}

	cfg.APITLS = true
	again, err := New(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	defer again.Close()
	served = make(chan error, 1)
	go func() { served <- again.Serve(t.Context()) }()
	bundle, err := os.ReadFile(filepath.Join(cfg.DataDir, bundleFileName))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	verified := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	if !strings.HasPrefix(again.APIURL(), "https://") {
		t.Fatalf("API at %s with APITLS", again.APIURL())
	}
	id, err := sts.New(sts.Options{Region: cfg.Region, BaseEndpoint: aws.String(again.APIURL()), Credentials: creds, HTTPClient: verified}).
		GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity over HTTPS verified against the trust bundle: %v", err)
	}
	if aws.ToString(id.Arn) != aws.ToString(user.User.Arn) {
		t.Fatalf("the reopened data directory answers as %s, before as %s", aws.ToString(id.Arn), aws.ToString(user.User.Arn))
	}
	// Close while Serve runs: Serve returns without an error.
	if err := again.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}

// New that fails half-way (here: the API's address is taken) gives back what it took,
// the data directory's lock among them, so that a corrected New succeeds at once.
func TestFailedNewReleasesWhatItTook(t *testing.T) {
	cfg := assemblyConfig(t)
	// A serve that never served leaves its kernel programs pinned for the next one (by
	// design); the test's end takes them.
	if dir, err := steer.PinDir(cfg.DataDir); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg.APIAddr = taken.Addr().String()
	if _, err := New(t.Context(), cfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "api listener") {
		t.Fatalf("New on a taken API address: %v, want an api listener error", err)
	}
	cfg.APIAddr = "127.0.0.1:0"
	s, err := New(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New after a failed New: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNegativeConnectionCapRefused(t *testing.T) {
	cfg := assemblyConfig(t)
	cfg.HTTP.MaxConns = -1
	if _, err := New(t.Context(), cfg, testLogger(t)); err == nil {
		t.Fatal("New accepted a negative connection cap")
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New refused its configuration but touched the data directory: %v", err)
	}
}

func httpStatus(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
