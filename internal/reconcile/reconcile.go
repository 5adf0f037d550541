// Package reconcile drives actual state (PostgreSQL servers, certificates, endpoint
// listeners) toward the desired state in the store. Every step is idempotent, so a restart
// after kill -9 at any moment simply runs the steps again and converges.
package reconcile

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/dbauth"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/epaddr"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// Config says where actual state lives.
type Config struct {
	DataDir string // the Borealis data directory; cluster volumes go under DataDir/clusters
	// EndpointAddrs are the addresses every endpoint listens on, e.g. 127.0.0.1 and ::1:
	// each endpoint gets its cluster's port on all of them.
	EndpointAddrs []string
	Interval      time.Duration // how often everything is checked even without a change
	// CertValidity is how long a server certificate is issued for (0: about a year, as
	// RDS); CertRenewBefore is how long before its end it is replaced (0: 30 days). The
	// replacement is loaded with a reload, so open sessions keep going.
	CertValidity    time.Duration
	CertRenewBefore time.Duration
	// GuardLibrary is the guard extension's shared library, preloaded into every server
	// ("" runs servers without it, and so without the rds.* settings).
	GuardLibrary string
	// IAMAuthPort is the loopback port of the IAM database authentication responder
	// (dbauth); 0 leaves members of rds_iam unable to log in.
	IAMAuthPort int
	// Firewall says what a cluster's security groups admit; nil admits nothing.
	Firewall Firewall
	// Metrics registers the start attempts and last start error of each instance (nil:
	// not exported).
	Metrics prometheus.Registerer
	// Now is the clock of the restart backoff (nil: time.Now).
	Now func() time.Time
	// Backups keeps every cluster's continuous backup and restores new clusters; nil runs
	// without backups (and refuses restored clusters).
	Backups Backups
	// Ports is the host's port registry (engine.Ports), where each server's private port
	// is claimed under its cluster's name, as endpoint ports are: another serve on the host
	// then never gives it to an endpoint. nil: none.
	Ports PortRegistry
	// Events keeps the RDS events the reconciler emits; nil: none.
	Events EventLog
}

// PortRegistry claims ports on the host for a cluster (engine.Ports).
type PortRegistry interface {
	Reserve(port int, name string) error
	Release(port int, name string) error
}

// Firewall reads security groups: the source prefixes their ingress rules admit for TCP on
// a port (referenced groups resolved to their members' addresses).
type Firewall interface {
	IngressPrefixes(ctx context.Context, groups []string, port int) ([]netip.Prefix, error)
}

// Reconciler owns one worker per cluster, so that a slow initdb of one cluster does not hold
// up the others.
type Reconciler struct {
	cfg     Config
	store   *store.Store
	driver  engine.Driver
	gateway *gateway.Gateway
	log     *slog.Logger
	wake    chan struct{}

	metrics *metrics

	mu      sync.Mutex
	workers map[string]kicks          // cluster id → its worker's kicks
	backoff map[string]backoff        // instance id → its failed starts
	routes  map[string]gateway.Target // cluster id → the writer, when one runs
	serving map[string]*serving       // cluster id → its serving instances, by endpoint name
	// epoch counts security changes; admitted holds, per route, the epoch its admission was
	// read in, so that a pass that read the groups before a change cannot undo it.
	epoch    uint64
	admitted map[string]uint64
	early    map[string]admission  // cluster id → SecurityChanged's admission, before its route
	applied  map[string]string     // instance id → fingerprint of the settings its server runs with
	lost     map[string]lostSource // reader id → the passes in a row it did not stream
	cas      map[string]*pki.CA    // CAs read so far; a CA never changes once made
	bases    []netip.Addr          // the endpoint addresses, for epaddr
	bk       backupStates
	wg       sync.WaitGroup

	// firstPass counts the clusters of the first dispatch that have not finished a pass:
	// until they all have, what an earlier serve left in the kernel stays in force.
	firstPass sync.WaitGroup
}

// New returns a reconciler; Run starts it.
func New(cfg Config, st *store.Store, d engine.Driver, gw *gateway.Gateway, log *slog.Logger) *Reconciler {
	if cfg.Interval == 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.CertValidity == 0 {
		cfg.CertValidity = 395 * 24 * time.Hour
	}
	if cfg.CertRenewBefore == 0 {
		cfg.CertRenewBefore = 30 * 24 * time.Hour
	}
	if cfg.CertRenewBefore >= cfg.CertValidity {
		// Else every pass would replace a certificate that is "about to end" from its start.
		cfg.CertRenewBefore = cfg.CertValidity / 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logOwnAddresses(log, epaddr.Capable(epaddr.Parse(cfg.EndpointAddrs)))
	return &Reconciler{
		cfg: cfg, store: st, driver: d, gateway: gw, log: log,
		metrics:  newMetrics(cfg.Metrics),
		wake:     make(chan struct{}, 1),
		workers:  map[string]kicks{},
		backoff:  map[string]backoff{},
		routes:   map[string]gateway.Target{},
		serving:  map[string]*serving{},
		admitted: map[string]uint64{},
		early:    map[string]admission{},
		applied:  map[string]string{},
		lost:     map[string]lostSource{},
		cas:      map[string]*pki.CA{},
		bases:    epaddr.Parse(cfg.EndpointAddrs),
	}
}

// Notify asks for a pass soon; the API calls it after every desired-state change.
func (r *Reconciler) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends, then waits for the workers to finish their step.
func (r *Reconciler) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	periodic := false
	first := true
	for {
		r.dispatch(ctx, periodic, first)
		if first {
			first = false
			go r.releaseUnclaimed(ctx)
		}
		periodic = false
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return
		case <-r.wake:
		case <-tick.C:
			periodic = true
		case ex := <-r.driver.Exits():
			r.log.Warn("postgres exited unexpectedly; restarting", "server", ex.Name, "err", ex.Err)
		}
	}
}

// kicks wake a cluster's worker: now for a change (an API call, a server that ended), or
// periodically, which a worker waiting out its backoff ignores.
type kicks struct{ now, periodic chan struct{} }

// releaseUnclaimed lets go of the endpoints and private ports an earlier serve left pinned
// and this one did not take up, once every cluster has had its first pass: clusters
// deleted while serve was away are forgotten, existing ones were claimed in that pass.
func (r *Reconciler) releaseUnclaimed(ctx context.Context) {
	r.firstPass.Wait()
	if ctx.Err() == nil {
		r.gateway.ReleaseUnclaimed()
	}
}

func (r *Reconciler) dispatch(ctx context.Context, periodic, first bool) {
	clusters, err := r.store.Clusters(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("list clusters", "err", err)
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range clusters {
		k, ok := r.workers[c.ID]
		if !ok {
			k = kicks{make(chan struct{}, 1), make(chan struct{}, 1)}
			r.workers[c.ID] = k
			r.wg.Add(1)
			done := func() {}
			if first {
				r.firstPass.Add(1)
				done = sync.OnceFunc(r.firstPass.Done)
			}
			go r.work(ctx, c.ID, k, done)
		}
		if periodic {
			kick(k.periodic)
		} else {
			kick(k.now)
		}
	}
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// errGone tells a worker that its cluster no longer exists.
var errGone = errors.New("cluster gone")

// work runs cluster id's passes; firstDone is called after the first that succeeds (or
// finds the cluster gone), or when the worker ends.
func (r *Reconciler) work(ctx context.Context, id string, k kicks, firstDone func()) {
	defer r.wg.Done()
	defer firstDone()
	failures := 0
	// After an error, kicks wait until retryAt: a change kicked now (an API call, a
	// server's end) waits too unless it changed what the API asks of this cluster, which
	// was failedOn when the failing pass began. Else every API call, about any cluster,
	// would retry a cluster whose passes keep failing.
	var retryAt time.Time
	var failedOn string
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.now:
			if r.backingOff(retryAt) && r.desiredKey(ctx, id) == failedOn {
				continue
			}
		case <-k.periodic:
			if r.backingOff(retryAt) {
				continue
			}
		}
		key := r.desiredKey(ctx, id)
		err := r.reconcileCluster(ctx, id)
		if err == nil || errors.Is(err, errGone) {
			// A failed pass may not have claimed the cluster's endpoint yet: what an
			// earlier serve left for it stays in force until a pass succeeds.
			firstDone()
		}
		switch {
		case errors.Is(err, errGone):
			r.mu.Lock()
			delete(r.workers, id)
			delete(r.routes, id)
			delete(r.serving, id)
			delete(r.admitted, id)
			delete(r.early, id)
			r.mu.Unlock()
			return
		case err != nil && ctx.Err() == nil:
			failures++
			delay := retryDelay(failures)
			retryAt, failedOn = r.cfg.Now().Add(delay), key
			// The first kick after retryAt retries.
			r.log.Error("reconcile cluster", "cluster", id, "err", err, "retry_in", delay)
		default:
			failures, retryAt, failedOn = 0, time.Time{}, ""
		}
	}
}

// backingOff reports whether a worker that failed waits until retryAt still.
func (r *Reconciler) backingOff(retryAt time.Time) bool {
	return !retryAt.IsZero() && r.cfg.Now().Before(retryAt)
}

// desiredKey fingerprints what the API asks of cluster id: its record and its instances',
// less what the reconciler writes itself (the statuses it sets and their reasons, secrets
// and certificates, the volume's readiness, private ports, readers' volumes, what a server
// started with)
// and tags, which no pass depends on. "" when the cluster cannot be read.
func (r *Reconciler) desiredKey(ctx context.Context, id string) string {
	c, err := r.store.Cluster(ctx, id)
	if err != nil {
		return ""
	}
	members, err := r.store.ClusterInstances(ctx, id)
	if err != nil {
		return ""
	}
	asked := func(s store.Status, reason string) store.Status {
		switch {
		case s == store.StatusDeleting, s == store.StatusModifying, s == store.StatusResettingMaster, s == store.StatusFailingOver,
			s == store.StatusRebooting && reason == "": // a reboot the API asked for
			return s
		}
		return ""
	}
	c.Status, c.StatusReason = asked(c.Status, c.StatusReason), ""
	c.AdminPassword, c.CertPEM, c.KeyPEM, c.VolumeReady, c.Tags = "", nil, nil, false, nil
	if c.CAIdentifier == "" {
		c.CAIdentifier = store.LegacyCAIdentifier // what the first pass writes
	}
	for i := range members {
		m := &members[i]
		m.Status, m.StatusReason = asked(m.Status, m.StatusReason), ""
		m.PrivatePort, m.Volume, m.Started, m.CertPEM, m.KeyPEM, m.CertCA, m.Tags = 0, "", nil, nil, nil, "", nil
	}
	b, err := json.Marshal(struct {
		C store.Cluster
		M []store.Instance
	}{c, members})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (r *Reconciler) reconcileCluster(ctx context.Context, id string) error {
	c, err := r.store.Cluster(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		r.gateway.Remove(id)
		r.removeOwn(id)
		return errGone
	}
	if err != nil {
		return err
	}
	members, err := r.store.ClusterInstances(ctx, id)
	if err != nil {
		return err
	}
	if c.Status == store.StatusDeleting {
		return r.deleteCluster(ctx, c, members)
	}
	// The endpoint listens first: the port CreateDBCluster found free is taken at once,
	// not after the seconds initdb takes. Until a writer runs, connections are closed.
	addrs := make([]string, len(r.cfg.EndpointAddrs))
	for i, a := range r.cfg.EndpointAddrs {
		addrs[i] = net.JoinHostPort(a, strconv.Itoa(c.Port))
	}
	if err := r.gateway.Ensure(id, addrs, r.route(id)); err != nil {
		if portTaken(err) {
			// Never available through a port that leads elsewhere (RDS's incompatible-network).
			r.setClusterStatus(ctx, id, func(cur store.Cluster) bool {
				return cur.Status.Settled() || cur.Status == store.StatusCreating
			}, store.StatusIncompatibleNetwork, reasonEndpoint)
		}
		return fmt.Errorf("endpoint %v: %w", addrs, err)
	}
	if c.Status == store.StatusIncompatibleNetwork && c.StatusReason == reasonEndpoint {
		// The endpoint listens again; the writer's status is followed below.
		again := store.StatusAvailable
		if !c.VolumeReady {
			again = store.StatusCreating
		}
		r.setClusterStatus(ctx, id, func(cur store.Cluster) bool { return cur.StatusReason == reasonEndpoint }, again, "")
	}
	c, err = r.ensureSecrets(ctx, c)
	if err != nil {
		return err
	}
	if !c.VolumeReady {
		// Bootstrap runs on a server that listens on its socket only; the port names the socket.
		port, err := freePort()
		if err != nil {
			return err
		}
		spec := r.volumeSpec(c, port)
		logOff := logSize(spec.LogFile)
		if c.RestoredFrom != nil {
			// Restored instead of made: Create then finds the volume complete.
			if err := r.restoreVolume(ctx, c, spec); err != nil {
				return fmt.Errorf("restore volume: %w", err)
			}
		}
		if err := r.driver.Create(ctx, spec, engine.Bootstrap{
			MasterUsername:         c.MasterUsername,
			MasterPasswordVerifier: c.MasterPasswordVerifier,
			DatabaseName:           c.DatabaseName,
		}); err != nil {
			// The cluster and its writer leave creating for the failure status that says
			// why (the retries back off in work; a later success makes them available).
			if ctx.Err() == nil {
				st, reason := classifyStart(err, logSince(spec.LogFile, logOff), volumeFree(r.clusterDir(c)))
				r.createFailed(ctx, c, members, st, reason)
			}
			return fmt.Errorf("create volume: %w", err)
		}
		if c, err = r.store.UpdateCluster(ctx, id, func(c *store.Cluster) error {
			c.VolumeReady = true
			if c.Status == store.StatusCreating || c.Status.Unhealthy() {
				c.Status, c.StatusReason = store.StatusAvailable, ""
			}
			return nil
		}); err != nil {
			return err
		}
		r.log.Info("cluster volume ready", "cluster", id)
		r.emit(ctx, rdsevent.ClusterCreated, id)
	}
	admission, err := r.admission(ctx, c)
	if err != nil {
		return fmt.Errorf("security groups: %w", err)
	}
	var errs []error
	waiting := false // a server is down and waits for its next start
	// The writer first: its readers stream from it.
	slices.SortStableFunc(members, func(a, b store.Instance) int { return boolOrder(b.Writer) - boolOrder(a.Writer) })
	r.knowEndpoints(c, members)
	r.mu.Lock()
	r.setClusterAdmission(id, admission)
	r.mu.Unlock()
	r.ownEndpoints(c, members)
	for _, m := range members {
		switch err := r.reconcileInstance(ctx, c, m, members, admission); {
		case errors.Is(err, errWaiting):
			r.unserve(c.ID, m)
			waiting = true
		case err != nil:
			errs = append(errs, fmt.Errorf("instance %s: %w", m.ID, err))
		}
	}
	if err := r.measureLag(ctx, c, members); err != nil {
		errs = append(errs, fmt.Errorf("readers: %w", err))
	}
	r.passedAll(id)
	if waiting {
		switch moved, err := r.autoFailover(ctx, c, members); {
		case err != nil:
			errs = append(errs, fmt.Errorf("failover: %w", err))
		case moved:
			// Carry it out now: the next pass finds the new writer.
			return r.reconcileCluster(ctx, id)
		}
	}
	done := c.Status == store.StatusModifying
	if c.Status == store.StatusResettingMaster {
		// The writer's reconcileInstance applied the reset; without a writer it waits for
		// the next one to start.
		done = slices.ContainsFunc(members, func(m store.Instance) bool { return m.Writer && m.Status != store.StatusDeleting })
	}
	if done && !waiting && len(errs) == 0 {
		// Every running server now has the change (IAM authentication reaches pg_hba.conf
		// by a reload in reconcileInstance): the modification is done.
		if _, err := r.store.UpdateCluster(ctx, id, func(cur *store.Cluster) error {
			if cur.Status == c.Status && cur.MasterPasswordVerifier == c.MasterPasswordVerifier {
				cur.Status = store.StatusAvailable
			}
			return nil
		}); err != nil {
			return err
		}
		r.log.Info("cluster modified", "cluster", id, "iam_database_authentication", c.IAMAuth,
			"master_password_reset", c.Status == store.StatusResettingMaster)
		if c.Status == store.StatusResettingMaster {
			r.emit(ctx, rdsevent.MasterReset, id)
		}
	}
	if err := r.followWriter(ctx, id); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// setRoute points the cluster endpoint at its writer, with the checks the running
// parameters ask of the gateway.
func (r *Reconciler) setRoute(c store.Cluster, m store.Instance, running params.Values, a admission) {
	r.serve(c, m, running)
	if !m.Writer {
		return
	}
	pid := r.driver.Status(m.ID).PID
	r.mu.Lock()
	t := r.routes[c.ID]
	t.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.PrivatePort))
	t.ForceSSL = running["rds.force_ssl"] == "1"
	t.PID = pid
	r.setAdmission(c.ID, &t, a)
	r.routes[c.ID] = t
	r.mu.Unlock()
	r.gateway.Refresh(c.ID)
	r.refreshOwn(c.ID)
}

// instanceSpec is the server of instance m with parameter values v; primary is where a
// reader streams from (nil for the writer).
func (r *Reconciler) instanceSpec(c store.Cluster, m store.Instance, v params.Values, primary *engine.Primary) engine.Spec {
	spec := r.serverSpec(c, m)
	spec.Primary = primary
	spec.CertPEM, spec.KeyPEM = m.CertPEM, m.KeyPEM
	srv := params.ForServer(v, r.cfg.GuardLibrary != "")
	spec.Settings, spec.ForceSSL, spec.PasswordMethod = srv.Settings, srv.ForceSSL, srv.PasswordMethod
	if r.cfg.GuardLibrary != "" {
		// The guard first, by path; then what the parameter groups preload (pgaudit, ...).
		spec.Settings["shared_preload_libraries"] = strings.Trim(r.cfg.GuardLibrary+","+spec.Settings["shared_preload_libraries"], ",")
	}
	spec.ReadOnly = c.StorageFull != "" // at its storage limit (storage.go)
	spec.Archive = r.archiveSettings(c, spec)
	if c.IAMAuth && r.cfg.IAMAuthPort != 0 {
		spec.IAMAuth = &engine.IAMAuth{LDAPPort: r.cfg.IAMAuthPort, Prefix: dbauth.BindDNPrefix(c.ResourceID)}
	}
	return spec
}

func fingerprint(v params.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, v[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// setApplied records what a server runs with: its parameters, the cluster settings that
// reach pg_hba.conf and, for a reader, where it streams from, so that a change to any is
// applied by a reload.
func (r *Reconciler) setApplied(id string, v params.Values, c store.Cluster, primary *engine.Primary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied[id] = appliedKey(v, c, primary)
}

func (r *Reconciler) appliedChanged(id string, v params.Values, c store.Cluster, primary *engine.Primary) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied[id] != appliedKey(v, c, primary)
}

func appliedKey(v params.Values, c store.Cluster, primary *engine.Primary) string {
	k := fingerprint(v) + strconv.FormatBool(c.IAMAuth) + strconv.FormatBool(c.StorageFull != "")
	if primary != nil {
		k += " " + engine.SocketPath(engine.Spec{SocketDir: primary.SocketDir, Port: primary.Port})
	}
	return k
}

func (r *Reconciler) deleteInstance(ctx context.Context, c store.Cluster, m store.Instance) error {
	r.mu.Lock()
	if m.Writer {
		delete(r.routes, c.ID)
		delete(r.admitted, c.ID)
	}
	delete(r.applied, m.ID)
	delete(r.backoff, m.ID)
	r.mu.Unlock()
	r.unserve(c.ID, m)
	r.metrics.forget(c.ID, m.ID)
	r.gateway.Refresh(c.ID)
	r.refreshOwn(c.ID)
	spec := r.serverSpec(c, m)
	if err := r.driver.Stop(ctx, spec); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if err := r.dropVolume(ctx, c, m, spec); err != nil {
		return err
	}
	// Its logs go with it, as on RDS (RemoveAll follows no link the server's account made).
	if err := os.RemoveAll(spec.LogDir); err != nil {
		return err
	}
	r.gateway.UnfenceServer(m.ID)
	if r.cfg.Ports != nil && m.PrivatePort != 0 {
		if err := r.cfg.Ports.Release(m.PrivatePort, c.ID); err != nil {
			return err
		}
	}
	if err := r.store.DeleteInstance(ctx, m.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.log.Info("instance deleted", "instance", m.ID, "cluster", c.ID)
	r.emit(ctx, rdsevent.InstanceDeleted, m.ID)
	return nil
}

func (r *Reconciler) deleteCluster(ctx context.Context, c store.Cluster, members []store.Instance) error {
	// A snapshot being made (the final one, say) needs the volume: it goes on a pass after
	// that is done (the snapshot worker kicks one).
	if underway, err := r.store.SnapshotsUnderway(ctx, c.ID); err != nil || underway {
		return err
	}
	for _, m := range members {
		if err := r.deleteInstance(ctx, c, m); err != nil {
			return err
		}
	}
	r.gateway.Remove(c.ID)
	if err := r.retireBackups(ctx, c); err != nil {
		return fmt.Errorf("backups: %w", err)
	}
	r.removeOwn(c.ID)
	if err := r.driver.Destroy(ctx, r.volumeSpec(c, 0)); err != nil {
		return fmt.Errorf("destroy volume: %w", err)
	}
	if err := os.RemoveAll(r.clusterDir(c)); err != nil {
		return err
	}
	if err := r.store.DeleteCluster(ctx, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.log.Info("cluster deleted", "cluster", c.ID)
	r.emit(ctx, rdsevent.ClusterDeleted, c.ID)
	return errGone
}

// ensureSecrets gives the cluster its rdsadmin password and the certificate of the
// bootstrap server, which listens on its socket only (instances have their own, see
// ensureCert).
func (r *Reconciler) ensureSecrets(ctx context.Context, c store.Cluster) (store.Cluster, error) {
	req := pki.ServerRequest{CommonName: c.Endpoint, Validity: r.cfg.CertValidity}
	if c.AdminPassword != "" && r.certCovers(c.CertPEM, req) {
		return c, nil
	}
	password := c.AdminPassword
	if password == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return c, err
		}
		password = hex.EncodeToString(b[:])
	}
	caID := c.CAIdentifier
	if caID == "" {
		caID = store.LegacyCAIdentifier
	}
	ca, err := r.ca(ctx, caID)
	if err != nil {
		return c, err
	}
	certPEM, keyPEM, err := ca.Issue(req, time.Now())
	if err != nil {
		return c, err
	}
	return r.store.UpdateCluster(ctx, c.ID, func(c *store.Cluster) error {
		if c.AdminPassword == "" {
			c.AdminPassword = password
		}
		c.CertPEM, c.KeyPEM, c.CAIdentifier = certPEM, keyPEM, caID
		return nil
	})
}

// ensureCert returns m with the server certificate its server should present: the one it
// has, or a new one when it has none, its CA changed (ModifyDBInstance), its names no
// longer match, or it ends within CertRenewBefore. A new certificate is returned, not
// stored: settle stores it once the server has loaded it, so that DescribeDBInstances never
// shows a certificate the server does not present yet.
func (r *Reconciler) ensureCert(ctx context.Context, c store.Cluster, m store.Instance) (store.Instance, bool, error) {
	want := m.CA(c)
	req := r.certRequest(c, m)
	if m.CertCA == want && r.certCovers(m.CertPEM, req) {
		return m, false, nil
	}
	ca, err := r.ca(ctx, want)
	if err != nil {
		return m, false, err
	}
	certPEM, keyPEM, err := ca.Issue(req, time.Now())
	if err != nil {
		return m, false, err
	}
	r.log.Info("server certificate issued", "instance", m.ID, "ca", want, "previous_ca", m.CertCA)
	m.CertPEM, m.KeyPEM, m.CertCA = certPEM, keyPEM, want
	return m, true, nil
}

// settle records what m's server, which accepts connections, now runs with (its
// certificate and, after a (re)start, its parameters) and ends the status that waited for
// it: this is where an instance becomes available.
func (r *Reconciler) settle(ctx context.Context, c store.Cluster, m store.Instance, started *store.StartedParams) (store.Instance, error) {
	var from store.Status
	first := false
	var served store.Instance // the certificate served before
	in, err := r.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
		from, first = in.Status, in.Started == nil
		served.CertPEM, served.CertCA = in.CertPEM, in.CertCA
		in.CertPEM, in.KeyPEM, in.CertCA = m.CertPEM, m.KeyPEM, m.CertCA
		if started != nil {
			in.Started = started
		}
		switch {
		case in.Status == store.StatusModifying:
			if in.CA(c) == m.CertCA {
				in.Status, in.StatusReason = store.StatusAvailable, ""
			}
		case in.RebootRequested() && started == nil:
			// asked for while this pass ran: the next pass restarts
		case c.StorageFull != "":
			// Up, and read-only at its storage limit (storage.go).
			in.Status, in.StatusReason = store.StatusStorageFull, c.StorageFull
		case in.Status == store.StatusCreating, in.Status == store.StatusRebooting, in.Status.Unhealthy():
			in.Status, in.StatusReason = store.StatusAvailable, ""
		}
		return nil
	})
	if k, ok := settledKind(from, in.Status, started != nil, first); ok && err == nil {
		r.emit(ctx, k, in.ID, in.StatusReason)
	}
	if err == nil {
		r.emitCertChange(ctx, served, in)
	}
	return in, err
}

// emitCertChange reports a server certificate the server now presents in place of the one
// it served before: from another CA (ModifyDBInstance), or renewed before its end
// (CertRenewBefore). A first certificate, or one issued again for new endpoint names, is
// no event.
func (r *Reconciler) emitCertChange(ctx context.Context, before, now store.Instance) {
	if len(before.CertPEM) == 0 || bytes.Equal(before.CertPEM, now.CertPEM) {
		return
	}
	if before.CertCA != now.CertCA {
		r.emit(ctx, rdsevent.CAModified, now.ID)
		return
	}
	old, err := pki.ParseCertificate(before.CertPEM)
	if err != nil || time.Until(old.NotAfter) >= r.cfg.CertRenewBefore {
		return
	}
	if cert, err := pki.ParseCertificate(now.CertPEM); err == nil {
		r.emit(ctx, rdsevent.CertRenewed, now.ID, now.CertCA, cert.NotAfter.UTC().Format(time.RFC3339))
	}
}

// ca returns CA id, read from the store the first time: `borealis ca add` may have added
// it since serve started.
func (r *Reconciler) ca(ctx context.Context, id string) (*pki.CA, error) {
	r.mu.Lock()
	ca, ok := r.cas[id]
	r.mu.Unlock()
	if ok {
		return ca, nil
	}
	rec, err := r.store.CertificateAuthority(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", id, err)
	}
	if ca, err = pki.ParseCA(rec.ID, []byte(rec.CertPEM), []byte(rec.KeyPEM)); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.cas[id] = ca
	r.mu.Unlock()
	return ca, nil
}

// certRequest names what m's server certificate covers: its endpoint names, and no
// address, since every endpoint shares the addresses and a certificate naming one would
// prove only that some Borealis server answered. The writer serves the cluster endpoint,
// which RDS puts in the CN; the reader endpoint and the instance's own endpoint are SANs.
func (r *Reconciler) certRequest(c store.Cluster, m store.Instance) pki.ServerRequest {
	req := pki.ServerRequest{CommonName: c.Endpoint, DNSNames: []string{c.ReaderEndpoint, m.Endpoint}, Validity: r.cfg.CertValidity}
	if !m.Writer {
		// The cluster endpoint too: a failover makes a reader the writer without a new
		// certificate.
		req.CommonName, req.DNSNames = c.ReaderEndpoint, []string{c.Endpoint, m.Endpoint}
	}
	return req
}

// certCovers reports whether a stored certificate names exactly the request's names and
// addresses (one issued for more, such as the loopback addresses certificates once named,
// is replaced) and has more than CertRenewBefore left.
func (r *Reconciler) certCovers(certPEM []byte, req pki.ServerRequest) bool {
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil || time.Until(cert.NotAfter) < r.cfg.CertRenewBefore {
		return false
	}
	if cert.Subject.CommonName != req.CommonName {
		return false
	}
	want := append([]string{req.CommonName}, req.DNSNames...)
	for _, n := range cert.DNSNames {
		if !slices.Contains(want, n) {
			return false
		}
	}
	for _, n := range want {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	if len(cert.IPAddresses) != len(req.IPs) {
		return false
	}
	for _, ip := range req.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// admission is what a cluster's security groups admit, and the epoch it was read in.
type admission struct {
	*gateway.Admission
	epoch uint64
}

// admission compiles what the cluster's security groups admit to its endpoint now.
func (r *Reconciler) admission(ctx context.Context, c store.Cluster) (admission, error) {
	r.mu.Lock()
	epoch := r.epoch
	r.mu.Unlock()
	if r.cfg.Firewall == nil {
		return admission{gateway.NewAdmission(c.VpcSecurityGroupIDs, nil), epoch}, nil
	}
	prefixes, err := r.cfg.Firewall.IngressPrefixes(ctx, c.VpcSecurityGroupIDs, c.Port)
	if err != nil {
		return admission{}, err
	}
	return admission{gateway.NewAdmission(c.VpcSecurityGroupIDs, prefixes), epoch}, nil
}

// SecurityChanged recomputes what every endpoint admits before it returns, so that a
// client told its rule was authorized (or revoked) can rely on it at once; connections
// already open are not touched. An endpoint without a route yet (a restarted serve before
// its cluster's first pass) is changed where the kernel still steers it as the earlier
// serve left it, and the pass that routes it keeps this admission over one it read before.
// The EC2 API calls it after every change to security groups or network interfaces.
func (r *Reconciler) SecurityChanged(ctx context.Context) {
	r.mu.Lock()
	r.epoch++
	r.mu.Unlock()
	defer r.Notify()
	clusters, err := r.store.Clusters(ctx)
	if err != nil {
		r.log.Error("clusters unreadable; endpoints keep their last admission until the next pass", "err", err)
		return
	}
	for _, c := range clusters {
		a, err := r.admission(ctx, c)
		if err != nil {
			r.log.Error("security groups unreadable; the endpoint keeps its last admission", "cluster", c.ID, "err", err)
			continue
		}
		r.mu.Lock()
		r.setClusterAdmission(c.ID, a)
		t, routed := r.routes[c.ID]
		if routed {
			r.setAdmission(c.ID, &t, a)
			r.routes[c.ID] = t
		} else if e, ok := r.early[c.ID]; !ok || e.epoch < a.epoch {
			r.early[c.ID] = a
		}
		r.mu.Unlock()
		if routed {
			r.gateway.Refresh(c.ID)
		} else {
			r.gateway.Readmit(c.ID, a.Admission)
		}
		r.readmitOwn(ctx, c.ID, a.Admission)
	}
}

// setAdmission puts a into t unless t holds one read after a; a route's first admission
// is SecurityChanged's when that was read after a. r.mu is held.
func (r *Reconciler) setAdmission(id string, t *gateway.Target, a admission) {
	if e, ok := r.early[id]; ok {
		delete(r.early, id)
		if e.epoch > a.epoch {
			a = e
		}
	}
	if t.Admission != nil && a.epoch < r.admitted[id] {
		return
	}
	t.Admission, r.admitted[id] = a.Admission, a.epoch
}

// route is the gateway's view of a cluster endpoint: the writer, when one runs.
func (r *Reconciler) route(clusterID string) gateway.Route {
	return func() (gateway.Target, bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		t, ok := r.routes[clusterID]
		if sv := r.serving[clusterID]; ok && sv != nil && len(sv.all) > 1 {
			t.Pick, t.Servers = r.picker(clusterID, t), r.servers(clusterID)
			t.ByAddress = epaddr.Capable(r.bases) && !sv.shared // the other names have addresses of their own
		}
		return t, ok
	}
}

func (r *Reconciler) clusterDir(c store.Cluster) string {
	return filepath.Join(r.cfg.DataDir, "clusters", c.ResourceID)
}

// volumeSpec describes the server on a cluster volume. The unix socket lives under the data
// directory when the path is short enough for a socket address, else under the system
// temporary directory.
func (r *Reconciler) volumeSpec(c store.Cluster, port int) engine.Spec {
	dir := r.clusterDir(c)
	sum := sha256.Sum256([]byte(dir))
	short := hex.EncodeToString(sum[:6])
	socketDir := filepath.Join(r.cfg.DataDir, "run", short)
	if len(socketDir)+len("/.s.PGSQL.65535") > 100 {
		socketDir = filepath.Join(os.TempDir(), "borealis-"+short)
	}
	return engine.Spec{
		Name:          c.ID,
		DataDir:       filepath.Join(dir, "data"),
		SocketDir:     socketDir,
		LogFile:       filepath.Join(dir, "postgresql.log"),
		LogDir:        filepath.Join(dir, "log"),       // a reader's copy: log-<its resource id> (serverSpec)
		OSUser:        engine.TenantUser(c.ResourceID), // the cluster is its own tenant on the host
		ListenAddr:    "127.0.0.1",
		ListenIPv6:    r.ipv6Twin(),
		Port:          port,
		CertPEM:       c.CertPEM,
		KeyPEM:        c.KeyPEM,
		AdminPassword: c.AdminPassword,
	}
}

// ipv6Twin is "::1" when some endpoint listens on IPv6: the server then listens there
// too, so that kernel steering can hand it IPv6 connections. The gateway itself relays
// to 127.0.0.1 only.
func (r *Reconciler) ipv6Twin() string {
	for _, a := range r.cfg.EndpointAddrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() == nil {
			return "::1"
		}
	}
	return ""
}

// privatePort finds a port for a server of cluster id to listen on privately, claimed in
// the host's port registry.
func (r *Reconciler) privatePort(id string) (int, error) {
	var err error
	for range 20 {
		var port int
		if port, err = freePort(); err != nil {
			return 0, err
		}
		if r.cfg.Ports == nil {
			return port, nil
		}
		if err = r.cfg.Ports.Reserve(port, id); err == nil {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no private port: %w", err)
}

// freePort asks the kernel for an unused loopback port for a server's private listener.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
