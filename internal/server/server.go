// Package server assembles `borealis serve`: the store, the account, the API, the gateway,
// the PostgreSQL driver and the reconciler, and runs them until the context ends.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/borealis-db/borealis/internal/apiserver"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/console"
	"github.com/borealis-db/borealis/internal/ec2"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/iam"
	"github.com/borealis-db/borealis/internal/rds"
	"github.com/borealis-db/borealis/internal/reconcile"
	"github.com/borealis-db/borealis/internal/sigv4"
	"github.com/borealis-db/borealis/internal/store"
)

// Config is serve's command line.
type Config struct {
	DataDir        string
	APIAddr        string
	Region         string
	EndpointDomain string
	// EndpointAddrs are the addresses cluster endpoints listen on; none means 127.0.0.1,
	// and ::1 too where the host has IPv6.
	EndpointAddrs []string
	// APITLS serves the API and the console over HTTPS, with a certificate from the CA.
	APITLS bool
	// GuardLibrary is the guard extension (guard.so); "" looks next to the executable.
	GuardLibrary string
	// CertValidity and CertRenewBefore are the server certificates' lifetime and how long
	// before its end one is replaced (0: about a year, and 30 days).
	CertValidity    time.Duration
	CertRenewBefore time.Duration
	// KernelSteering lets the kernel hand admitted connections to their server (package
	// steer); without it, or where BPF is unavailable, the gateway carries every byte.
	KernelSteering bool
	// HTTP bounds the API and console listener's clients (zero: DefaultHTTPLimits).
	HTTP HTTPLimits
	// MetricsAddr, if set, serves /metrics on this address alone (plain HTTP) and no
	// longer on the API's, so the operator decides who may read it.
	MetricsAddr string
}

// Files serve writes in the data directory for the operator and the clients.
const (
	credentialsFileName = "credentials"       // the root user's access key, as ~/.aws/credentials
	bundleFileName      = "global-bundle.pem" // the CAs clients trust, as RDS's global bundle
)

// consolePath is where the console is served (package console serves below it).
const consolePath = "/console/"

// consoleMaxBody caps a console request's body.
const consoleMaxBody = 64 << 10

// Run serves until ctx is cancelled, then stops every PostgreSQL server it started.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	// 0711: PostgreSQL, running as its own account, must traverse into its data directory;
	// nobody but root may list what is here.
	if err := os.MkdirAll(dataDir, 0o711); err != nil {
		return err
	}
	if err := os.Chmod(dataDir, 0o711); err != nil {
		return err
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	for _, sub := range []string{"clusters", "run"} {
		if err := os.MkdirAll(filepath.Join(dataDir, sub), 0o711); err != nil {
			return err
		}
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, "borealis.db"))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	acct, err := ensureAccount(ctx, st, dataDir, time.Now())
	if err != nil {
		return fmt.Errorf("account: %w", err)
	}

	endpointAddrs := cfg.EndpointAddrs
	if len(endpointAddrs) == 0 {
		endpointAddrs = defaultEndpointAddrs()
	}
	guard, err := installGuard(cfg.GuardLibrary, dataDir)
	if err != nil {
		return err
	}
	driver, err := engine.NewLocal(log.With("component", "engine"), engine.Options{})
	if err != nil {
		return err
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gw := gateway.New(log.With("component", "gateway"), gateway.NewMetrics(metrics), gateway.Options{KernelSteering: cfg.KernelSteering, DataDir: dataDir})
	defer gw.Close()
	iamSvc, err := iam.New(iam.Config{AccountID: acct.ID, AccountCreated: acct.RootKey.CreatedAt}, st, log.With("component", "iam"))
	if err != nil {
		return err
	}
	dbAuth, err := startDBAuth(ctx, cfg.Region, acct.ID, st, iamSvc, log.With("component", "dbauth"))
	if err != nil {
		return fmt.Errorf("IAM database authentication: %w", err)
	}
	defer dbAuth.Close()
	// EC2, RDS and the reconciler refer to each other: RDS places clusters in EC2's VPCs, EC2
	// asks RDS whether a group is in use, and group changes wake the reconciler, which reads
	// the groups back to recompute each endpoint's admission.
	var (
		rec    *reconcile.Reconciler
		rdsSvc *rds.Service
	)
	ec2Svc := ec2.New(ec2.Config{
		Region:    cfg.Region,
		AccountID: acct.ID,
		InUse:     func(ctx context.Context, groupID string) (string, bool) { return rdsSvc.GroupInUse(ctx, groupID) },
	}, st, func() { rec.SecurityChanged(context.WithoutCancel(ctx)) }, log.With("component", "ec2"))
	if err := ec2Svc.EnsureDefaults(ctx); err != nil {
		return fmt.Errorf("default VPC: %w", err)
	}
	rec = reconcile.New(reconcile.Config{DataDir: dataDir, EndpointAddrs: endpointAddrs, GuardLibrary: guard, Firewall: ec2Svc,
		CertValidity: cfg.CertValidity, CertRenewBefore: cfg.CertRenewBefore, IAMAuthPort: dbAuth.Port()},
		st, driver, gw, log.With("component", "reconcile"))

	rdsSvc = rds.New(rds.Config{
		Region:         cfg.Region,
		AccountID:      acct.ID,
		EndpointDomain: cfg.EndpointDomain,
		EndpointSuffix: acct.EndpointSuffix,
		EngineVersion:  driver.Version(),
		PortAvailable:  func(port int) bool { return portFree(endpointAddrs, port) },
		Network:        ec2Svc,
	}, st, rec.Notify, log.With("component", "rds"))

	metricsHandler := promhttp.HandlerFor(metrics, promhttp.HandlerOpts{})
	apiMetrics := metricsHandler
	if cfg.MetricsAddr != "" {
		apiMetrics = nil
	}
	api := apiserver.New(apiserver.Config{
		Region:   cfg.Region,
		Verifier: &sigv4.Verifier{Lookup: iamSvc.LookupSecret},
		Services: map[string]apiserver.Endpoint{
			"rds": {Namespace: rds.Namespace, Version: "2014-10-31", Service: rdsSvc},
			"ec2": {Namespace: ec2.Namespace, Version: ec2.Version, Service: ec2Svc, WriteResult: awsquery.WriteEC2Result, WriteError: awsquery.WriteEC2Error},
			"iam": {Namespace: iam.Namespace, Version: iam.Version, Service: iamSvc},
			"sts": {Namespace: iam.STSNamespace, Version: iam.STSVersion, Service: iamSvc.STS()},
		},
		Authenticate: iamSvc.Authenticate,
		Authorize:    iamSvc.Authorize,
		CABundle:     func(ctx context.Context) ([]byte, error) { return Bundle(ctx, st) },
		Metrics:      apiMetrics,
		BrowserHome:  consolePath,
		Log:          log.With("component", "api"),
	})
	rootPasswordFile := filepath.Join(dataDir, "root-console-password")
	if err := iamSvc.EnsureRootPassword(ctx, func(pw string) error {
		log.Info("root user's console password written", "file", rootPasswordFile)
		return writeFileAtomic(rootPasswordFile, []byte(pw+"\n"), 0o600)
	}); err != nil {
		return fmt.Errorf("root console password: %w", err)
	}
	con, err := console.New(console.Config{
		Call:      api.Call,
		Auth:      consoleAuth{iam: iamSvc},
		AccountID: acct.ID,
		Region:    cfg.Region,
		Log:       log.With("component", "console"),
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	// The console's forms are a few fields; without a cap, ParseForm reads up to 10 MB.
	mux.Handle(consolePath, http.MaxBytesHandler(con, consoleMaxBody))
	mux.Handle("/", api)
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	httpSrv := newHTTPServer(mux, cfg.HTTP)
	ln = limitPerSource(ln, cfg.HTTP.withDefaults().MaxConnsPerSource, log.With("component", "api"))
	scheme := "http"
	if cfg.APITLS {
		ca, err := ensureCA(ctx, st, time.Now()) // the first CA: every bundle carries it
		if err != nil {
			ln.Close()
			return err
		}
		if httpSrv.TLSConfig, err = apiTLS(ca, ln.Addr().String(), time.Now()); err != nil {
			ln.Close()
			return fmt.Errorf("api certificate: %w", err)
		}
		ln, scheme = tls.NewListener(ln, httpSrv.TLSConfig), "https"
	}

	srvErr := make(chan error, 2)
	var metricsSrv *http.Server
	metricsURL := apiURLOf(scheme, ln) + "/metrics"
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		metricsSrv = newHTTPServer(mux, cfg.HTTP)
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
		go func() {
			srvErr <- metricsSrv.Serve(limitPerSource(mln, cfg.HTTP.withDefaults().MaxConnsPerSource, log.With("component", "metrics")))
		}()
	}

	recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	recDone := make(chan struct{})
	go func() { defer close(recDone); rec.Run(recCtx) }()

	go func() { srvErr <- httpSrv.Serve(ln) }()
	apiURL := apiURLOf(scheme, ln)
	log.Info("borealis serving", "api", apiURL, "console", apiURL+consolePath, "metrics", metricsURL,
		"credentials", filepath.Join(dataDir, credentialsFileName), "trust_bundle", filepath.Join(dataDir, bundleFileName),
		"data_dir", dataDir, "account", acct.ID, "region", cfg.Region, "engine_version", driver.Version())

	select {
	case <-ctx.Done():
	case err = <-srvErr:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutdownCtx)
	}
	stopRec()
	<-recDone
	gw.Close()
	_ = driver.Close(shutdownCtx)
	log.Info("borealis stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// apiURLOf is the URL the API listener ln answers at.
func apiURLOf(scheme string, ln net.Listener) string { return scheme + "://" + ln.Addr().String() }

// installGuard copies the guard extension into the data directory, where the postgres
// account can read it (a checkout under /root, say, it could not), and returns its path.
func installGuard(src, dataDir string) (string, error) {
	if src == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		src = filepath.Join(filepath.Dir(exe), "guard.so")
	}
	lib, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("guard extension: %w (build it with `make build`, or pass --guard-lib)", err)
	}
	dir := filepath.Join(dataDir, "lib")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "guard.so")
	if err := writeFileAtomic(dst, lib, 0o644); err != nil {
		return "", err
	}
	return dst, nil
}

// defaultEndpointAddrs is loopback in both families, or IPv4 alone on a host without IPv6.
func defaultEndpointAddrs() []string {
	if portFree([]string{"::1"}, 0) {
		return []string{"127.0.0.1", "::1"}
	}
	return []string{"127.0.0.1"}
}

// portFree reports whether port can be bound on every address.
func portFree(addrs []string, port int) bool {
	for _, a := range addrs {
		ln, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
