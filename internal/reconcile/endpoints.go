package reconcile

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/epaddr"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/store"
)

// The reader endpoint and each instance endpoint listen on an address of their own
// (package epaddr), beside the cluster endpoint on the endpoint addresses, so that the
// kernel steers each by destination address: the reader endpoint's connections spread
// over the serving readers' sockets, an instance endpoint's reach its instance, the
// cluster endpoint's the writer. Where the endpoint addresses give none, every name shares
// the cluster endpoint's addresses and the gateway tells them apart by name (Target.Pick).
// The gateway knows these endpoints by names of their own (ownName).

// readerName and instanceName are the gateway's names of a cluster's reader endpoint and
// of an instance's endpoint (the cluster endpoint's is the cluster id).
func readerName(clusterID string) string { return "ro:" + clusterID }

func instanceName(instanceID string) string { return "db:" + instanceID }

// ownEndpoints makes the reader endpoint of c and the endpoint of each of its instances
// listen on their own addresses, and closes those of instances gone. An address taken
// (two names of one cluster hashing alike, a one in 4 million chance) leaves that endpoint
// to the cluster endpoint's addresses, as where there are none; it is logged.
func (r *Reconciler) ownEndpoints(c store.Cluster, members []store.Instance) {
	if !epaddr.Capable(r.bases) {
		return
	}
	want := map[string]bool{}
	shared := false // some name has no listener of its own: the cluster address decides by name
	ensure := func(gwName, dnsName string, route gateway.Route) {
		a, ok := epaddr.Own(r.bases, dnsName)
		if !ok {
			shared = true
			return
		}
		want[gwName] = true
		addr := net.JoinHostPort(a.String(), strconv.Itoa(c.Port))
		if err := r.gateway.Ensure(gwName, []string{addr}, route); err != nil {
			shared = true
			r.log.Warn("endpoint not listening on its own address; it is reached through the cluster endpoint's, by name, relayed", "endpoint", dnsName, "addr", addr, "err", err)
		}
	}
	ensure(readerName(c.ID), c.ReaderEndpoint, r.readerRoute(c.ID))
	for _, m := range members {
		if m.Status != store.StatusDeleting {
			ensure(instanceName(m.ID), m.Endpoint, r.instanceRoute(c.ID, strings.ToLower(m.Endpoint)))
		}
	}
	r.mu.Lock()
	sv := r.servingOf(c.ID)
	var gone []string
	for name := range sv.own {
		if !want[name] {
			gone = append(gone, name)
		}
	}
	sv.own = want
	changed := sv.shared != shared
	sv.shared = shared
	r.mu.Unlock()
	if changed {
		r.gateway.Refresh(c.ID)
	}
	for _, name := range gone {
		r.gateway.Remove(name)
	}
}

// ownNames are the gateway's names of cluster id's endpoints on addresses of their own.
func (r *Reconciler) ownNames(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if sv := r.serving[id]; sv != nil {
		for name := range sv.own {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// removeOwn closes cluster id's endpoints on addresses of their own, as it goes.
func (r *Reconciler) removeOwn(id string) {
	for _, name := range r.ownNames(id) {
		r.gateway.Remove(name)
	}
}

// refreshOwn has the gateway read the routes of cluster id's own-address endpoints again.
func (r *Reconciler) refreshOwn(id string) {
	for _, name := range r.ownNames(id) {
		r.gateway.Refresh(name)
	}
}

// readmitOwn applies a new admission to cluster id's own-address endpoints, also where
// the kernel still steers them as an earlier serve left them (gateway.Readmit): before
// the cluster's first pass, those are named after its instances in the store.
func (r *Reconciler) readmitOwn(ctx context.Context, id string, a *gateway.Admission) {
	names := r.ownNames(id)
	if len(names) == 0 {
		names = append(names, readerName(id))
		members, _ := r.store.ClusterInstances(ctx, id)
		for _, m := range members {
			names = append(names, instanceName(m.ID))
		}
	}
	for _, name := range names {
		r.gateway.Refresh(name)
		r.gateway.Readmit(name, a)
	}
}

// setClusterAdmission records what c's security groups admit, for its own-address
// endpoints, unless a later one is recorded. r.mu is held.
func (r *Reconciler) setClusterAdmission(id string, a admission) {
	sv := r.servingOf(id)
	if sv.admission == nil || a.epoch >= sv.admissionEpoch {
		sv.admission, sv.admissionEpoch = a.Admission, a.epoch
	}
}

// readerRoute is the reader endpoint on its own address: spread over the serving readers
// (the kernel chooses among their sockets; relayed, each connection goes to the next in
// turn), the writer when none serves, as on Aurora.
func (r *Reconciler) readerRoute(clusterID string) gateway.Route {
	return func() (gateway.Target, bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		sv := r.serving[clusterID]
		if sv == nil || sv.admission == nil || !sv.passed {
			return gateway.Target{Admission: sv.admissionOrNil()}, false
		}
		if len(sv.readers) == 0 {
			t, ok := r.routes[clusterID]
			return gateway.Target{Addr: t.Addr, ForceSSL: t.ForceSSL, PID: t.PID, Admission: sv.admission}, ok
		}
		spread := make([]gateway.Target, 0, len(sv.readers))
		for _, name := range sv.readers {
			spread = append(spread, sv.up[name])
		}
		sv.next++
		t := spread[sv.next%uint64(len(spread))]
		t.Admission, t.Spread = sv.admission, spread
		t.Servers = func() []gateway.Target { return spread }
		return t, true
	}
}

func (sv *serving) admissionOrNil() *gateway.Admission {
	if sv == nil {
		return nil
	}
	return sv.admission
}

// passedAll records that a pass went over every instance of cluster id, and programs its
// reader endpoint on the first.
func (r *Reconciler) passedAll(id string) {
	r.mu.Lock()
	sv := r.servingOf(id)
	first := !sv.passed
	sv.passed = true
	r.mu.Unlock()
	if first {
		r.gateway.Refresh(readerName(id))
	}
}

// instanceRoute is an instance endpoint on its own address: its instance alone, while it
// serves.
func (r *Reconciler) instanceRoute(clusterID, endpoint string) gateway.Route {
	return func() (gateway.Target, bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		sv := r.serving[clusterID]
		if sv == nil || sv.admission == nil {
			return gateway.Target{}, false
		}
		t, ok := sv.up[endpoint]
		t.Admission = sv.admission
		return t, ok
	}
}

// logOwnAddresses says once, at start, how endpoints are told apart.
func logOwnAddresses(log *slog.Logger, own bool) {
	if own {
		log.Info("reader and instance endpoints listen on loopback addresses of their own (127.64.0.0/10): the kernel steers each by address")
	} else {
		log.Info("no IPv4 loopback endpoint address: reader and instance endpoints share the cluster endpoint's addresses and are told apart by TLS server name, relayed")
	}
}
