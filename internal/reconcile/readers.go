package reconcile

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

// A reader is a hot standby of its cluster's writer, on a copy of the writer's data in a
// data directory of its own beside the cluster volume (the same volume directory and OS
// account: the cluster is one tenant on the host).

// readerVolume names the data directory of a reader's own copy (Instance.Volume): by its
// resource id, which no later instance of the same name shares.
func readerVolume(m store.Instance) string { return "data-" + m.ResourceID }

// volumeOf is the data directory m runs on beside the cluster volume ("" is the cluster
// volume): Instance.Volume, or for a reader before its first pass (no private port yet)
// the copy that pass gives it. A writer made a reader by a failover keeps its volume,
// copied afresh in place. Never the cluster volume for a new reader: its deletion, or
// the API, would take the writer's server, data and logs for its own.
func volumeOf(m store.Instance) string {
	if m.Volume == "" && !m.Writer && m.PrivatePort == 0 {
		return readerVolume(m)
	}
	return m.Volume
}

// volumeLeaving is the member other than m that is being deleted on m's volume, "" when
// none (a writer created while the last one is deleted): m waits for it to go, since that
// deletion stops whatever runs on the volume and removes the log directory kept there.
func volumeLeaving(m store.Instance, members []store.Instance) string {
	for _, o := range members {
		if o.ID != m.ID && o.Status == store.StatusDeleting && volumeOf(o) == volumeOf(m) {
			return o.ID
		}
	}
	return ""
}

// serverSpec is where and as whom the server of m runs, without its settings.
func (r *Reconciler) serverSpec(c store.Cluster, m store.Instance) engine.Spec {
	spec := r.volumeSpec(c, m.PrivatePort)
	spec.Name = m.ID
	if vol := volumeOf(m); vol != "" {
		dir := r.clusterDir(c)
		spec.DataDir = filepath.Join(dir, vol)
		spec.LogFile = filepath.Join(dir, vol+".log")
		spec.LogDir = filepath.Join(dir, "log"+strings.TrimPrefix(vol, "data"))
	}
	return spec
}

// writerOf is the cluster's writer among members, nil when it has none.
func writerOf(members []store.Instance) *store.Instance {
	for i := range members {
		if members[i].Writer && members[i].Status != store.StatusDeleting {
			return &members[i]
		}
	}
	return nil
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}

// primary is where reader m streams from: the writer's socket. A reader without
// a writer to stream from waits (errWaiting); the writer itself has none (nil).
func (r *Reconciler) primary(c store.Cluster, m store.Instance, writer *store.Instance) (*engine.Primary, error) {
	if m.Writer {
		return nil, nil
	}
	if writer == nil || writer.PrivatePort == 0 {
		return nil, errWaiting
	}
	return &engine.Primary{SocketDir: r.volumeSpec(c, 0).SocketDir, Port: writer.PrivatePort}, nil
}

// ensureReplica makes the reader volume of spec from a fresh base backup of the writer,
// once the writer accepts connections (until then the reader waits, creating).
func (r *Reconciler) ensureReplica(ctx context.Context, c store.Cluster, spec engine.Spec, writer store.Instance) error {
	src := r.serverSpec(c, writer)
	if !r.driver.Accepting(src) {
		return errWaiting
	}
	if err := r.driver.CreateReplica(ctx, spec, src); err != nil {
		return fmt.Errorf("reader volume: %w", err)
	}
	return nil
}

// serving is how the names of one cluster's endpoints reach its servers, for the
// gateway's choice by name (gateway.Target.Pick). Guarded by Reconciler.mu.
type serving struct {
	readerEndpoint string
	all            map[string]bool           // every instance endpoint of the cluster
	up             map[string]gateway.Target // instance endpoint → its server, while it serves
	readers        []string                  // the endpoints in up of readers, sorted
	next           uint64                    // the reader endpoint's round robin
	own            map[string]bool           // gateway names of the endpoints on own addresses (endpoints.go)
	admission      *gateway.Admission        // what the security groups admit, for those
	admissionEpoch uint64
	// passed: a pass went over every instance. Until then the reader endpoint is not
	// programmed anew: after a restart, the writer found first would take the readers'
	// place for a moment; the kernel keeps what the earlier serve said meanwhile.
	passed bool
	behind map[string]bool // reader endpoints out of the reader endpoint for their lag (lag.go)
	shared bool            // a name lacks its own listener: the cluster address is relayed, by name
}

// knowEndpoints records the names of c's endpoints: an instance endpoint of an instance
// that does not serve is refused, never sent elsewhere.
func (r *Reconciler) knowEndpoints(c store.Cluster, members []store.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sv := r.servingOf(c.ID)
	sv.readerEndpoint = strings.ToLower(c.ReaderEndpoint)
	sv.all = map[string]bool{}
	for _, m := range members {
		if m.Status != store.StatusDeleting {
			sv.all[strings.ToLower(m.Endpoint)] = true
		}
	}
}

// servingOf returns the cluster's record, made when missing. r.mu is held.
func (r *Reconciler) servingOf(id string) *serving {
	sv := r.serving[id]
	if sv == nil {
		sv = &serving{all: map[string]bool{}, up: map[string]gateway.Target{}}
		r.serving[id] = sv
	}
	return sv
}

// serve records that m's server serves: its endpoint reaches it, and, for a reader, the
// reader endpoint.
func (r *Reconciler) serve(c store.Cluster, m store.Instance, running params.Values) {
	t := gateway.Target{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(m.PrivatePort)),
		ForceSSL: running["rds.force_ssl"] == "1",
		PID:      r.driver.Status(m.ID).PID,
	}
	name := strings.ToLower(m.Endpoint)
	r.mu.Lock()
	sv := r.servingOf(c.ID)
	old, had := sv.up[name]
	sv.up[name] = t
	r.setReaders(sv, name, !m.Writer)
	r.mu.Unlock()
	if !had || old.Addr != t.Addr || old.PID != t.PID {
		r.gateway.Refresh(c.ID)
		r.refreshOwn(c.ID)
	}
}

// unserve records that m's server does not serve (now or any longer).
func (r *Reconciler) unserve(clusterID string, m store.Instance) {
	name := strings.ToLower(m.Endpoint)
	r.mu.Lock()
	sv := r.serving[clusterID]
	had := false
	if sv != nil {
		_, had = sv.up[name]
		delete(sv.up, name)
		r.setReaders(sv, name, false)
	}
	r.mu.Unlock()
	if had {
		r.gateway.Refresh(clusterID)
		r.refreshOwn(clusterID)
	}
}

// setReaders puts name in or out of the reader endpoint's rotation; a reader too far
// behind stays out. r.mu is held.
func (r *Reconciler) setReaders(sv *serving, name string, in bool) {
	sv.readers = slices.DeleteFunc(sv.readers, func(n string) bool { return n == name })
	if in && !sv.behind[name] {
		sv.readers = append(sv.readers, name)
		slices.Sort(sv.readers)
	}
}

// picker chooses the server for a connection to the cluster's port by the name the client
// asked for: the reader endpoint spreads new connections over the serving readers in
// turn (the writer when none serves, as on Aurora), an instance endpoint reaches its
// instance alone, and any other name (the cluster endpoint, none) the writer.
func (r *Reconciler) picker(clusterID string, writer gateway.Target) func(string) (gateway.Target, bool) {
	return func(name string) (gateway.Target, bool) {
		name = strings.ToLower(name)
		r.mu.Lock()
		defer r.mu.Unlock()
		sv := r.serving[clusterID]
		switch {
		case sv == nil:
			return writer, true
		case name == sv.readerEndpoint && len(sv.readers) > 0:
			sv.next++
			return sv.up[sv.readers[sv.next%uint64(len(sv.readers))]], true
		case name == sv.readerEndpoint:
			return writer, true
		case sv.all[name]:
			t, ok := sv.up[name]
			return t, ok
		}
		return writer, true
	}
}

// dropVolume disposes of the data directory of m, whose server is stopped, as m is
// deleted: a reader's own copy is removed; the cluster volume stays with the cluster; and
// the copy of a writer that had no reader to fail over to becomes the cluster volume, as
// an Aurora cluster keeps its data without instances: the next writer runs on it.
// Idempotent: a crash between the steps finds the copy still there and does them again.
func (r *Reconciler) dropVolume(ctx context.Context, c store.Cluster, m store.Instance, spec engine.Spec) error {
	if m.Volume == "" {
		return nil
	}
	if !m.Writer {
		return os.RemoveAll(spec.DataDir)
	}
	if _, err := os.Stat(spec.DataDir); err != nil {
		return nil // moved already
	}
	members, err := r.store.ClusterInstances(ctx, c.ID)
	if err != nil {
		return err
	}
	for _, o := range members {
		if o.ID != m.ID && o.Volume == "" && o.Status != store.StatusDeleting {
			// A reader runs on the cluster volume: the writer's data is kept where it is
			// rather than put over it.
			r.log.Warn("the deleted writer's data is kept beside the cluster volume, which a reader uses", "cluster", c.ID, "instance", m.ID, "datadir", spec.DataDir)
			return nil
		}
	}
	volume := r.volumeSpec(c, 0).DataDir
	if err := os.RemoveAll(volume); err != nil {
		return err
	}
	if err := os.Rename(spec.DataDir, volume); err != nil {
		return err
	}
	r.log.Info("the deleted writer's data is the cluster volume again", "cluster", c.ID, "instance", m.ID)
	return nil
}

// servers lists the cluster's serving servers, for a CancelRequest, which names none.
func (r *Reconciler) servers(clusterID string) func() []gateway.Target {
	return func() []gateway.Target {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []gateway.Target
		if sv := r.serving[clusterID]; sv != nil {
			for _, t := range sv.up {
				out = append(out, t)
			}
		}
		return out
	}
}
