// Package server assembles `borealis serve`: the store, the account, the API, the gateway,
// the PostgreSQL driver and the reconciler. New opens them, Serve runs them until the
// context ends, Close shuts them down.
package server

import (
	"cmp"
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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/borealis-db/borealis/internal/apiserver"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/console"
	"github.com/borealis-db/borealis/internal/ec2"
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
	// DNSAddr, unless "" or DNSOff, is where serve answers DNS (UDP and TCP) for the
	// endpoint domain.
	DNSAddr string
	// KeepServersOnExit leaves the PostgreSQL servers running when serve stops on purpose,
	// for the next serve to adopt (they always outlive a crash or kill -9).
	KeepServersOnExit bool
	// DefaultStorageLimit is a cluster's storage limit in bytes unless its
	// AllocatedStorage sets one (0: store.DefaultStorageLimit).
	DefaultStorageLimit int64
	// StateReserve is the free space (bytes) kept on the data volume for serve's own state:
	// below it new clusters are refused (0: DefaultStateReserve; negative: no reserve).
	StateReserve int64
	// AuditRetention is how long the audit trail keeps events (0: audit.DefaultRetention,
	// 90 days; negative: forever).
	AuditRetention time.Duration
	// RefusalAuditInterval is how often refused connections are drained into the audit
	// trail as counted events (0: DefaultRefusalAuditInterval).
	RefusalAuditInterval time.Duration
	// BackupRepo is where the clusters' backup repositories live ("" is DATA_DIR/backups).
	BackupRepo string
	// BackupS3Config names an S3 configuration file (backup.ReadS3Config): the clusters'
	// repositories then live in that bucket.
	BackupS3Config string
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

// shutdownTimeout bounds Close: HTTP requests in flight and PostgreSQL servers stopping.
const shutdownTimeout = 30 * time.Second

// Server is one assembled `borealis serve`.
type Server struct {
	log           *slog.Logger
	dataDir       string
	region        string
	acct          *account
	engineVersion string
	storageLimit  int64 // a cluster's storage limit unless it sets one
	rec           *reconcile.Reconciler
	backups       *backup.Manager // every cluster's continuous backup and snapshots
	snapshots     *snapshots      // DB cluster snapshots: their worker, the API's engine
	dns           *dnsServer      // nil without Config.DNSAddr

	// The HTTP listeners: the API and console's, and /metrics' own (srv nil without
	// Config.MetricsAddr).
	api, metrics       httpListener
	apiURL, metricsURL string

	closers   []closer // what New opened, in order; Close runs them backwards
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	serving bool
	closed  bool
	stopRec context.CancelFunc // set by Serve
	recDone chan struct{}      // closed when the reconciler has stopped
}

// httpListener is an HTTP server and the listener it serves.
type httpListener struct {
	srv *http.Server
	ln  net.Listener
}

type closer struct {
	name  string
	close func(context.Context) error
}

// wasServing says whether Serve ran: until then, nothing was started for this serve to stop.
func (s *Server) wasServing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// onClose has Close undo what New just opened (Close runs these in reverse order).
func (s *Server) onClose(name string, f func(context.Context) error) {
	s.closers = append(s.closers, closer{name, f})
}

// Run serves until ctx is cancelled, then stops every PostgreSQL server it started. A
// failure to shut something down is logged (Close), not returned: serve did its work.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Serve(ctx)
}

// New opens everything serve needs: the data directory's lock, the store and the account,
// the PostgreSQL driver, the gateway, the services and the API's listeners. On an error it
// releases whatever it had taken, the lock last, so that New may be called again at once.
// ctx bounds the opening only.
func New(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	if err := checkConfig(cfg); err != nil { // flags.go: before anything is made
		return nil, err
	}
	s := &Server{log: log, region: cfg.Region, storageLimit: cmp.Or(cfg.DefaultStorageLimit, store.DefaultStorageLimit)}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.dataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, err
	}
	dataDir := s.dataDir
	// 0711: PostgreSQL, running as its own account, must traverse into its data directory;
	// nobody but root may list what is here.
	if err := os.MkdirAll(dataDir, 0o711); err != nil {
		return nil, err
	}
	if err := os.Chmod(dataDir, 0o711); err != nil {
		return nil, err
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	s.onClose("data directory lock", func(context.Context) error { return lock.Close() })
	for _, sub := range []string{"clusters", "run"} {
		if err := os.MkdirAll(filepath.Join(dataDir, sub), 0o711); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, "borealis.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.onClose("store", func(context.Context) error { return st.Close() })
	acct, err := ensureAccount(ctx, st, dataDir, time.Now())
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	s.acct = acct
	sessionKey, err := stsSessionKey(ctx, st)
	if err != nil {
		return nil, err
	}
	iamSvc, err := iam.New(iam.Config{AccountID: acct.ID, AccountCreated: acct.RootKey.CreatedAt, SessionKey: sessionKey}, st, log.With("component", "iam"))
	if err != nil {
		return nil, err
	}
	refusals := newDataPlaneAudit(cfg.Region, acct.ID, log.With("component", "audit"))
	dbAuth, err := startDBAuth(ctx, dataDir, cfg.Region, acct.ID, st, iamSvc, refusals.authFailed, log.With("component", "dbauth"))
	if err != nil {
		return nil, fmt.Errorf("IAM database authentication: %w", err)
	}
	s.onClose("IAM database authentication", func(context.Context) error { return dbAuth.Close() })

	endpointAddrs := cfg.EndpointAddrs
	if len(endpointAddrs) == 0 {
		endpointAddrs = defaultEndpointAddrs()
	}
	guard, err := installGuard(cfg.GuardLibrary, dataDir)
	if err != nil {
		return nil, err
	}
	driver, ports, err := openEngine(dataDir, endpointAddrs, log)
	if err != nil {
		return nil, err
	}
	s.engineVersion = driver.Version()
	s.onClose("PostgreSQL servers", func(ctx context.Context) error {
		closeDriver(ctx, driver, cfg.KeepServersOnExit, log)
		return nil
	})
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerVolumeMetrics(metrics, dataDir)
	gw := gateway.New(log.With("component", "gateway"), gateway.NewMetrics(metrics), gateway.Options{KernelSteering: cfg.KernelSteering, DataDir: dataDir})
	if err := gw.GuardServePort(dbAuthFence, dbAuth.Port()); err != nil {
		log.Warn("IAM authentication responder's port not guarded: a local process may take it while serve is away and admit any token", "port", dbAuth.Port(), "err", err)
	}
	s.onClose("gateway", func(context.Context) error {
		// The kernel programs go with the servers: a serve that leaves its servers running
		// (or never got to serve them) leaves the programs in force for the next serve.
		if cfg.KeepServersOnExit || !s.wasServing() {
			gw.Leave()
		} else {
			gw.Close()
		}
		return nil
	})

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
		return nil, fmt.Errorf("default VPC: %w", err)
	}
	if s.backups, err = openBackups(cfg, dataDir, log.With("component", "backup")); err != nil {
		return nil, err
	}
	if err := s.listenBackupRelay(ctx); err != nil {
		return nil, err
	}
	rec = reconcile.New(reconcile.Config{DataDir: dataDir, EndpointAddrs: endpointAddrs, GuardLibrary: guard, Firewall: ec2Svc,
		CertValidity: cfg.CertValidity, CertRenewBefore: cfg.CertRenewBefore, IAMAuthPort: dbAuth.Port(), Metrics: metrics, Ports: ports, Events: st,
		Backups: s.backups},
		st, driver, gw, log.With("component", "reconcile"))
	s.rec = rec
	s.onClose("reconciler", s.stopReconciler)
	s.snapshots = newSnapshots(st, s.backups, rec, dataDir, log.With("component", "snapshots"))

	rdsSvc = rds.New(rds.Config{
		Region:              cfg.Region,
		AccountID:           acct.ID,
		EndpointDomain:      cfg.EndpointDomain,
		EndpointSuffix:      acct.EndpointSuffix,
		EngineVersion:       driver.Version(),
		Ports:               ports,
		Network:             ec2Svc,
		StorageRoom:         stateRoom(dataDir, cmp.Or(cfg.StateReserve, DefaultStateReserve)),
		DefaultStorageLimit: s.storageLimit,
		Logs:                rec,
		Backups:             backupView(rec),
		Snapshots:           s.snapshots,
		SnapshotSources:     s.snapshots.Source,
	}, st, rec.Notify, log.With("component", "rds"))
	if err := sweepDataPlane(ctx, dataDir, st, driver, ports, log); err != nil {
		return nil, err
	}

	if s.dns, err = startDNS(cfg, endpointAddrs, gw.ListensAt, st, log.With("component", "dns")); err != nil {
		return nil, err
	}
	s.onClose("DNS server", func(context.Context) error { s.dns.Close(); return nil })

	trail, err := s.openTrail(ctx, cfg, log.With("component", "audit"))
	if err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	s.startDataPlaneAudit(refusals, trail, gw, cfg.RefusalAuditInterval)
	metricsHandler := promhttp.HandlerFor(metrics, promhttp.HandlerOpts{})
	apiMetrics := metricsHandler
	if cfg.MetricsAddr != "" {
		apiMetrics = nil
	}
	api := apiserver.New(apiserver.Config{
		Region:   cfg.Region,
		Verifier: &sigv4.Verifier{Lookup: iamSvc.LookupSecret, Session: iamSvc.LookupSession},
		Services: map[string]apiserver.Endpoint{
			"rds": {Namespace: rds.Namespace, Version: "2014-10-31", Service: rdsSvc},
			"ec2": {Namespace: ec2.Namespace, Version: ec2.Version, Service: ec2Svc, WriteResult: awsquery.WriteEC2Result, WriteError: awsquery.WriteEC2Error},
			"iam": {Namespace: iam.Namespace, Version: iam.Version, Service: iamSvc},
			"sts": {Namespace: iam.STSNamespace, Version: iam.STSVersion, Service: iamSvc.STS()},
		},
		Trail:        trail,
		Authenticate: iamSvc.Authenticate,
		Authorize:    iamSvc.Authorize,
		CABundle:     func(ctx context.Context) ([]byte, error) { return Bundle(ctx, st) },
		Metrics:      apiMetrics,
		BrowserHome:  consolePath,
		Log:          log.With("component", "api"),
	})
	api.Services["cloudtrail"] = cloudTrailEndpoint(trail)
	rootPasswordFile := filepath.Join(dataDir, "root-console-password")
	if err := iamSvc.EnsureRootPassword(ctx, func(pw string) error {
		log.Info("root user's console password written", "file", rootPasswordFile)
		return writeFileAtomic(rootPasswordFile, []byte(pw+"\n"), 0o600)
	}); err != nil {
		return nil, fmt.Errorf("root console password: %w", err)
	}
	con, err := console.New(console.Config{
		Call:      api.Call,
		Auth:      consoleAuth{iam: iamSvc},
		AccountID: acct.ID,
		Region:    cfg.Region,
		Log:       log.With("component", "console"),
		Trail:     trail,
		// The connection lines: by the endpoint name when serve answers DNS for it.
		NamesResolve: s.dns != nil, EndpointHostaddr: hostaddr(endpointAddrs),
		OwnHostaddr: ownHostaddr(endpointAddrs, gw.ListensAt),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// The console's forms are a few fields; without a cap, ParseForm reads up to 10 MB.
	mux.Handle(consolePath, http.MaxBytesHandler(con, consoleMaxBody))
	mux.Handle("/", api)

	if s.api, err = listenHTTP(cfg.APIAddr, mux, cfg.HTTP, log.With("component", "api")); err != nil {
		return nil, fmt.Errorf("api listener: %w", err)
	}
	s.onClose("API listener", s.api.shutdown)
	scheme := "http"
	if cfg.APITLS {
		ca, err := ensureCA(ctx, st, time.Now()) // the first CA: every bundle carries it
		if err != nil {
			return nil, err
		}
		if s.api.srv.TLSConfig, err = apiTLS(ca, s.api.ln.Addr().String(), time.Now()); err != nil {
			return nil, fmt.Errorf("api certificate: %w", err)
		}
		s.api.ln, scheme = tls.NewListener(s.api.ln, s.api.srv.TLSConfig), "https"
	}
	s.apiURL = scheme + "://" + s.api.ln.Addr().String()
	s.metricsURL = s.apiURL + "/metrics"
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		if s.metrics, err = listenHTTP(cfg.MetricsAddr, mux, cfg.HTTP, log.With("component", "metrics")); err != nil {
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
		s.onClose("metrics listener", s.metrics.shutdown)
		s.metricsURL = "http://" + s.metrics.ln.Addr().String() + "/metrics"
	}
	return s, nil
}

// Serve runs the reconciler and answers on the listeners until ctx ends or a listener
// fails; Close then shuts everything down.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("server: Serve called twice, or after Close")
	}
	s.serving = true
	recCtx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	recDone := make(chan struct{})
	s.stopRec, s.recDone = stopRec, recDone
	s.mu.Unlock()
	go func() {
		defer close(recDone)
		var watch sync.WaitGroup // the storage watch writes to the store: done before it closes
		watch.Go(func() { s.rec.WatchStorage(recCtx, s.storageLimit, reconcile.StorageCheckInterval) })
		watch.Go(func() { s.snapshots.worker.Run(recCtx) })
		s.rec.Run(recCtx)
		watch.Wait()
	}()

	srvErr := make(chan error, 2)
	for _, h := range []httpListener{s.api, s.metrics} {
		if h.srv != nil {
			go func() { srvErr <- h.srv.Serve(h.ln) }()
		}
	}
	s.log.Info("borealis serving", "api", s.apiURL, "console", s.apiURL+consolePath, "metrics", s.metricsURL, "dns", s.dns.Addr(),
		"credentials", filepath.Join(s.dataDir, credentialsFileName), "trust_bundle", filepath.Join(s.dataDir, bundleFileName),
		"data_dir", s.dataDir, "account", s.acct.ID, "region", s.region, "engine_version", s.engineVersion)

	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
	}
	if errors.Is(err, http.ErrServerClosed) { // Close was called meanwhile
		return nil
	}
	return err
}

// APIURL is where the API and, below /console/, the console answer.
func (s *Server) APIURL() string { return s.apiURL }

// Close stops answering, stops the reconciler, the endpoints and every PostgreSQL server
// serve started, and releases the store and the data directory's lock, in that order
// (the reverse of New's). Failures are logged and returned; Close may be called again and
// returns the same.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			c := s.closers[i]
			if err := c.close(ctx); err != nil {
				s.log.Warn("shutdown: "+c.name, "err", err)
				errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
			}
		}
		s.closeErr = errors.Join(errs...)
		if s.apiURL != "" {
			s.log.Info("borealis stopped")
		}
	})
	return s.closeErr
}

// stopReconciler ends the reconciler's run, if Serve started one, and waits for its
// workers to finish their step.
func (s *Server) stopReconciler(context.Context) error {
	s.mu.Lock()
	stop, done := s.stopRec, s.recDone
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

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
