package steer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Capacities of the kernel maps. A connection the maps cannot hold is not lost: it
// reaches the gateway's listener instead.
const (
	maxEndpoints = 4096
	maxRoutes    = maxEndpoints
	maxSlots     = 4096
	maxPrefixes  = 1 << 16
	maxNameLen   = 128 // bytes of an endpoint's name
	maxSpread    = 16  // servers one endpoint spreads over: Aurora's 15 readers, and one more
	maxConns     = 1 << 16
	refusedRing  = 1 << 16 // bytes: about a thousand reports between two reads
)

type endpointKey struct {
	Port   uint32
	Family uint32
	Addr   [16]byte
}

type endpointValue struct {
	Slot    uint32 // a listener slot, slotRelay or slotNoServer
	Ruleset uint32
	Route   uint32 // where its refusals are counted
}

// spreadValue lists the slots an endpoint spreads its connections over, for one family;
// the sk_lookup program starts at slot Next (then moves it on: round robin) and takes the
// first that holds a socket.
type spreadValue struct {
	Count uint32
	Next  uint32 // the kernel's turn; a rewrite of the list starts it anew
	Slots [maxSpread]uint32
}

const spreadSize = 8 + 4*maxSpread

// spreadKey is the spread map's key of route id's endpoints of family fam.
func spreadKey(id, fam uint32) uint32 {
	k := id << 1
	if fam == afInet6 {
		k |= 1
	}
	return k
}

type admitKey struct {
	Prefixlen uint32 // 64 (ruleset, family) + the prefix's bits
	Ruleset   uint32
	Family    uint32
	Addr      [16]byte
}

// Counters are what the kernel counted for an endpoint: the connections it steered and
// the ones it refused.
type Counters struct {
	Accepted, Closed uint64
	// Received and sent (acknowledged) by the server's socket, as the kernel's TCP
	// counters (RFC 4898) have them: a FIN counts as one byte.
	BytesIn, BytesOut uint64
	Refused           Refusals
}

// Refusals count the connections refused at their SYN, by reason.
type Refusals struct {
	SecurityGroups uint64 // no rule admits the source
	NoServer       uint64 // admitted, but no server runs behind the endpoint
}

// slotCounters are the counts of one listener slot, as the sock_ops program keeps them.
type slotCounters struct {
	Accepted, Closed  uint64
	BytesIn, BytesOut uint64
}

// routeRefusals are the counts of one route, as the sk_lookup program keeps them.
type routeRefusals struct {
	Refusals
	ReportedAt uint64 // ns since boot: when the last refusal was reported
}

type maps struct {
	endpoints  *ebpf.Map // endpointKey → endpointValue
	names      *ebpf.Map // hash: route → its endpoint's name, for the next serve
	admit      *ebpf.Map // LPM trie of admitKey
	listeners  *ebpf.Map // sockmap: slot → the server's listening socket
	conns      *ebpf.Map // LRU: steered connections not yet closed
	counters   *ebpf.Map // array: slot → slotCounters
	refusals   *ebpf.Map // array: route → routeRefusals
	refusedLog *ebpf.Map // ring buffer of refusedRecord
	spread     *ebpf.Map // hash: spreadKey → spreadValue
	sourceMaps           // refusals per source (sources_linux.go)
}

func (m *maps) close() {
	for _, x := range []*ebpf.Map{m.endpoints, m.names, m.admit, m.listeners, m.conns, m.counters, m.refusals, m.refusedLog, m.spread} {
		if x != nil {
			x.Close()
		}
	}
	m.sourceMaps.close()
}

// Steering is the loaded programs, their maps and the links that attach them. Close
// detaches everything. Unpinned, so does the process ending; pinned, they stay in force
// until a later Open adopts them.
type Steering struct {
	pins   *pins
	maps   maps
	links  []link.Link
	reader *ringbuf.Reader

	drainMu    sync.Mutex // one DrainRefused at a time
	mu         sync.Mutex
	routes     map[string]*route
	names      map[uint32]string // route id → name, for the reports
	freeSlots  []uint32
	nextSlot   uint32
	freeRoutes []uint32
	nextRoute  uint32
	ruleset    uint32
}

// door is where an endpoint's admitted connections go.
type door int

const (
	toServer  door = iota // the server's listening socket, in the kernel
	toGateway             // the gateway's listener, which relays them
	nowhere               // refused: no server runs
)

type route struct {
	id     uint32
	locals []netip.AddrPort
	door   door
	// servers are where admitted connections go while the door is toServer, in order;
	// bound holds each one's slots (family → slot).
	servers  []Server
	bound    map[Server]map[uint32]uint32
	ruleset  uint32         // 0: none yet
	admitted []netip.Prefix // what ruleset holds, canonical
	// adopted: taken on from the pins of an earlier serve and not named since. stale are
	// rulesets its endpoints may still use, deleted once they are written again.
	adopted bool
	stale   map[uint32][]netip.Prefix
}

// Open loads the programs and attaches them: sk_lookup to this process's network
// namespace and sock_ops to the root of the cgroup v2 hierarchy. It fails, changing
// nothing, where the kernel or the process's privileges do not allow it.
//
// With a pin directory (PinDir), the maps and links are pinned there and outlive the
// process: after a kill -9 the kernel goes on deciding new connections by the last rules
// it was given. A later Open with the same directory adopts them: it replaces the
// programs in the links in one step each (never detaching them) and takes the endpoints
// on as they were, until Route, Refuse or Unroute names them again.
func Open(pinDir string) (*Steering, error) {
	s := &Steering{routes: map[string]*route{}, names: map[uint32]string{}}
	var err error
	if s.pins, err = newPins(pinDir, "steer"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Leave() // a steering found pinned stays in force
		}
	}()
	specs := []struct {
		m    **ebpf.Map
		spec *ebpf.MapSpec
	}{
		{&s.maps.endpoints, &ebpf.MapSpec{Name: "borealis_ep", Type: ebpf.Hash, KeySize: 24, ValueSize: 12, MaxEntries: maxEndpoints}},
		{&s.maps.names, &ebpf.MapSpec{Name: "borealis_names", Type: ebpf.Hash, KeySize: 4, ValueSize: maxNameLen, MaxEntries: maxRoutes}},
		{&s.maps.admit, &ebpf.MapSpec{Name: "borealis_admit", Type: ebpf.LPMTrie, KeySize: 28, ValueSize: 4, MaxEntries: maxPrefixes, Flags: unix.BPF_F_NO_PREALLOC}},
		{&s.maps.listeners, &ebpf.MapSpec{Name: "borealis_lsn", Type: ebpf.SockMap, KeySize: 4, ValueSize: 8, MaxEntries: maxSlots}},
		{&s.maps.conns, &ebpf.MapSpec{Name: "borealis_conn", Type: ebpf.LRUHash, KeySize: 24, ValueSize: 8, MaxEntries: maxConns}},
		{&s.maps.counters, &ebpf.MapSpec{Name: "borealis_count", Type: ebpf.Array, KeySize: 4, ValueSize: 32, MaxEntries: maxSlots}},
		{&s.maps.refusals, &ebpf.MapSpec{Name: "borealis_refuse", Type: ebpf.Array, KeySize: 4, ValueSize: 24, MaxEntries: maxRoutes}},
		{&s.maps.refusedLog, &ebpf.MapSpec{Name: "borealis_rlog", Type: ebpf.RingBuf, MaxEntries: refusedRing}},
		{&s.maps.spread, &ebpf.MapSpec{Name: "borealis_spread", Type: ebpf.Hash, KeySize: 4, ValueSize: spreadSize, MaxEntries: 2 * maxRoutes}},
	}
	specs = append(specs, s.maps.sourceMaps.specs()...)
	openMaps := func(fresh bool) (found int, err error) {
		for _, x := range specs {
			var ok bool
			if *x.m, ok, err = s.pins.newMap(x.spec, fresh); err != nil {
				return found, err
			}
			if ok {
				found++
			}
		}
		return found, nil
	}
	found, err := openMaps(false)
	if err == nil && found > 0 && found < len(specs) {
		// Some are of an older Borealis's shape: the state cannot be taken on in part
		// (rulesets left in the trie would admit under the ids given anew). All afresh.
		s.maps.close()
		s.maps = maps{}
		found, err = openMaps(true)
	}
	if err != nil {
		return nil, fmt.Errorf("steer: maps: %w", err)
	}
	adopted := found == len(specs)
	lookup, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "borealis_lookup", Type: ebpf.SkLookup,
		AttachType: ebpf.AttachSkLookup, License: "GPL", Instructions: lookupProgram(&s.maps)})
	if err != nil {
		return nil, fmt.Errorf("steer: sk_lookup program: %w", err)
	}
	defer lookup.Close()
	ops, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "borealis_ops", Type: ebpf.SockOps,
		AttachType: ebpf.AttachCGroupSockOps, License: "GPL", Instructions: opsProgram(&s.maps)})
	if err != nil {
		return nil, fmt.Errorf("steer: sock_ops program: %w", err)
	}
	defer ops.Close()
	if s.reader, err = ringbuf.NewReader(s.maps.refusedLog); err != nil {
		return nil, fmt.Errorf("steer: ring buffer reader: %w", err)
	}
	if adopted {
		// Before the new programs run: the state is read as the old ones left it.
		if err = s.adopt(); err != nil {
			return nil, fmt.Errorf("steer: pinned state: %w", err)
		}
	}
	cgroup, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	// The accounting first: a connection steered before it is attached would go uncounted.
	var l link.Link
	if l, err = s.pins.attach("ops", ops, func() (link.Link, error) {
		return link.AttachCgroup(link.CgroupOptions{Path: cgroup, Attach: ebpf.AttachCGroupSockOps, Program: ops})
	}); err != nil {
		return nil, fmt.Errorf("steer: attach sock_ops to %s: %w", cgroup, err)
	}
	s.links = append(s.links, l)
	netns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	defer netns.Close()
	if l, err = s.pins.attach("lookup", lookup, func() (link.Link, error) {
		return link.AttachNetNs(int(netns.Fd()), lookup)
	}); err != nil {
		return nil, fmt.Errorf("steer: attach sk_lookup: %w", err)
	}
	s.links = append(s.links, l)
	s.pins.tidy()
	return s, nil
}

// cgroup2Root finds where the cgroup v2 hierarchy is mounted.
func cgroup2Root() (string, error) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "", fmt.Errorf("steer: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "cgroup2" {
			return f[1], nil
		}
	}
	return "", errors.New("steer: no cgroup v2 hierarchy is mounted")
}

// Close detaches the programs and releases the maps, and with them the server sockets,
// pinned or not: nothing is left in force. A Read in progress returns ErrSteeringClosed.
func (s *Steering) Close() { s.close(true) }

// Leave lets go of the steering and leaves it in force where it is pinned: the next Open
// with the same directory takes it on. Unpinned, it is Close. A Read in progress returns
// ErrSteeringClosed.
func (s *Steering) Leave() { s.close(false) }

func (s *Steering) close(unpin bool) {
	if s == nil {
		return
	}
	if unpin {
		s.pins.unpin()
	}
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
	if s.reader != nil {
		s.reader.Close()
	}
	s.maps.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = map[string]*route{}
}

// Server is the PostgreSQL server behind an endpoint: its postmaster and its private
// address. Its listening sockets are found in the postmaster's descriptor table.
type Server struct {
	PID  int
	Addr netip.AddrPort
}

// Route programs endpoint name's addresses locals for new connections: one from a source
// admit does not cover is refused at its SYN (the client's connect fails with "connection
// refused"), counted and reported; an admitted one is handed to server's listening socket
// of the same family or, where server has none (PID 0, or none in that family), passed on
// to the gateway's listener on locals, to be relayed. It is idempotent and cheap when
// nothing changed; a change of admit is atomic for every local address: a connection
// sees the old prefixes or the new ones, never a mixture.
//
// An error about server's sockets leaves the endpoint programmed, its admitted
// connections passed on to the gateway; any other error leaves it unprogrammed: every
// connection reaches the gateway's listener, as without steering.
func (s *Steering) Route(name string, locals []netip.AddrPort, server Server, admit []netip.Prefix) error {
	if server.PID == 0 {
		return s.program(name, locals, toGateway, nil, admit)
	}
	return s.program(name, locals, toServer, []Server{server}, admit)
}

// Spread is Route for an endpoint with several servers (a cluster's readers): each
// admitted connection is handed to one of their listening sockets, in turn, in the kernel,
// among those that still listen. Servers past the sixteenth are left out. A server
// whose sockets cannot be had is left out too, with an error; with none left, admitted
// connections reach the gateway.
func (s *Steering) Spread(name string, locals []netip.AddrPort, servers []Server, admit []netip.Prefix) error {
	servers = slices.DeleteFunc(slices.Clone(servers), func(x Server) bool { return x.PID == 0 })
	if len(servers) == 0 {
		return s.program(name, locals, toGateway, nil, admit)
	}
	return s.program(name, locals, toServer, servers[:min(len(servers), maxSpread)], admit)
}

// Refuse programs endpoint name's addresses locals to refuse every new connection at its
// SYN: no server runs behind it. Sources admit covers are counted as refused for want of
// a server, the rest as refused by the security groups. Errors are as Route's.
func (s *Steering) Refuse(name string, locals []netip.AddrPort, admit []netip.Prefix) error {
	return s.program(name, locals, nowhere, nil, admit)
}

func (s *Steering) program(name string, locals []netip.AddrPort, d door, servers []Server, admit []netip.Prefix) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("steer: endpoint name %q longer than %d bytes", name, maxNameLen)
	}
	admit = canonical(admit)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[name]
	if r == nil {
		id, err := s.allocRoute()
		if err != nil {
			return err
		}
		// The name first: a later serve adopts no endpoint whose name it cannot know.
		var n [maxNameLen]byte
		copy(n[:], name)
		if err := s.maps.names.Put(id, n); err != nil {
			s.freeRoutes = append(s.freeRoutes, id)
			return fmt.Errorf("steer: endpoint name: %w", err)
		}
		r = &route{id: id, bound: map[Server]map[uint32]uint32{}}
		s.routes[name] = r
		s.names[id] = name
	}
	r.adopted = false
	// The new slots are filled first, the endpoints then switch to them, and the slots
	// they no longer use are emptied last: no connection meets an empty slot on the way.
	oldBound := r.bound
	var serverErr error
	if d == toServer {
		bound := map[Server]map[uint32]uint32{}
		var order []Server
		for _, srv := range servers {
			slots, ok := r.bound[srv]
			if !ok || !s.listening(slots) {
				reuse := slots
				if !ok && len(servers) == 1 && len(r.bound) == 1 {
					// One server for another: its slots go on counting for the endpoint.
					for _, old := range r.bound {
						reuse = old
					}
				}
				var err error
				if slots, err = s.attachServer(reuse, srv); err != nil {
					serverErr = errors.Join(serverErr, err)
					continue
				}
			}
			bound[srv] = slots
			order = append(order, srv)
		}
		if len(order) == 0 {
			d = toGateway
		} else {
			r.bound, r.servers = bound, order
		}
	}
	if d != toServer {
		r.bound, r.servers = map[Server]map[uint32]uint32{}, nil
	}
	r.door = d
	oldRuleset, oldAdmit, err := s.setRuleset(r, admit)
	if err != nil {
		s.emptyUnused(r, oldBound)
		s.unrouteLocked(name)
		return err
	}
	// The spread lists before the endpoints that point at them.
	spreading := map[uint32]bool{}
	for _, fam := range []uint32{afInet, afInet6} {
		slots := r.famSlots(fam)
		if len(slots) < 2 {
			continue
		}
		v := spreadValue{Count: uint32(len(slots))}
		copy(v.Slots[:], slots)
		if err := s.maps.spread.Put(spreadKey(r.id, fam), v); err != nil {
			s.emptyUnused(r, oldBound)
			s.unrouteLocked(name)
			return fmt.Errorf("steer: spread of %s: %w", name, err)
		}
		spreading[fam] = true
	}
	keep := map[endpointKey]bool{}
	for _, l := range locals {
		fam, key := endpointKeyOf(l)
		keep[key] = true
		if err := s.maps.endpoints.Put(key, r.endpointValue(fam)); err != nil {
			s.emptyUnused(r, oldBound)
			s.unrouteLocked(name)
			return fmt.Errorf("steer: endpoint %s: %w", l, err)
		}
	}
	for _, fam := range []uint32{afInet, afInet6} {
		if !spreading[fam] {
			_ = s.maps.spread.Delete(spreadKey(r.id, fam))
		}
	}
	for _, l := range r.locals {
		if _, key := endpointKeyOf(l); !keep[key] {
			_ = s.maps.endpoints.Delete(key)
		}
	}
	r.locals = append(r.locals[:0], locals...)
	s.deleteRuleset(oldRuleset, oldAdmit)
	for id, prefixes := range r.stale {
		s.deleteRuleset(id, prefixes)
	}
	r.stale = nil
	s.emptyUnused(r, oldBound)
	return serverErr
}

// Read waits for the next report of a refused connection. Reports are best effort: at
// most one per endpoint in 100 ms, and a full ring drops them; the counts are exact.
func (s *Steering) Read() (Refused, error) {
	rec, err := s.reader.Read()
	if errors.Is(err, ringbuf.ErrClosed) {
		return Refused{}, ErrSteeringClosed
	}
	if err != nil {
		return Refused{}, fmt.Errorf("steer: %w", err)
	}
	var r refusedRecord
	if err := binary.Read(bytes.NewReader(rec.RawSample), binary.NativeEndian, &r); err != nil {
		return Refused{}, fmt.Errorf("steer: report: %w", err)
	}
	remote, local := netip.AddrFrom16(r.Remote), netip.AddrFrom16(r.Local)
	if r.Family == afInet {
		remote, local = netip.AddrFrom4([4]byte(r.Remote[:4])), netip.AddrFrom4([4]byte(r.Local[:4]))
	}
	// The remote port as the context has it (network order), the local one in host order.
	var pb [2]byte
	binary.NativeEndian.PutUint16(pb[:], uint16(r.Ports))
	out := Refused{Reason: Reason(r.Reason),
		Source:   netip.AddrPortFrom(remote, binary.BigEndian.Uint16(pb[:])),
		Endpoint: netip.AddrPortFrom(local, uint16(r.Ports>>16))}
	s.mu.Lock()
	out.Name = s.names[r.Route]
	s.mu.Unlock()
	return out, nil
}

// endpointValue is what the sk_lookup program finds for r's address of family fam.
func (r *route) endpointValue(fam uint32) endpointValue {
	v := endpointValue{Slot: slotRelay, Ruleset: r.ruleset, Route: r.id}
	switch slots := r.famSlots(fam); {
	case len(slots) == 1:
		v.Slot = slots[0]
	case len(slots) > 1:
		v.Slot = slotSpread
	case r.door == nowhere:
		v.Slot = slotNoServer
	}
	return v
}

// famSlots are the slots of r's servers for family fam, in the servers' order.
func (r *route) famSlots(fam uint32) []uint32 {
	var out []uint32
	for _, srv := range r.servers {
		if slot, ok := r.bound[srv][fam]; ok {
			out = append(out, slot)
		}
	}
	return out
}

// allSlots are every slot r's servers hold.
func (r *route) allSlots() map[uint32]bool {
	out := map[uint32]bool{}
	for _, slots := range r.bound {
		for _, slot := range slots {
			out[slot] = true
		}
	}
	return out
}

// emptyUnused empties the slots of old that r no longer uses.
func (s *Steering) emptyUnused(r *route, old map[Server]map[uint32]uint32) {
	now := r.allSlots()
	for _, slots := range old {
		for _, slot := range slots {
			if !now[slot] {
				s.releaseSlot(slot)
				now[slot] = true // released once
			}
		}
	}
}

func (s *Steering) releaseSlot(slot uint32) {
	_ = s.maps.listeners.Delete(slot)
	s.freeSlots = append(s.freeSlots, slot)
}

// Unroute forgets endpoint name: its connections reach the gateway's listener again.
// Connections already steered are the server's and stay open.
func (s *Steering) Unroute(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unrouteLocked(name)
}

func (s *Steering) unrouteLocked(name string) {
	r := s.routes[name]
	if r == nil {
		return
	}
	for _, l := range r.locals {
		_, key := endpointKeyOf(l)
		_ = s.maps.endpoints.Delete(key)
	}
	s.deleteRuleset(r.ruleset, r.admitted)
	for id, prefixes := range r.stale {
		s.deleteRuleset(id, prefixes)
	}
	for slot := range r.allSlots() {
		s.releaseSlot(slot)
	}
	for _, fam := range []uint32{afInet, afInet6} {
		_ = s.maps.spread.Delete(spreadKey(r.id, fam))
	}
	_ = s.maps.names.Delete(r.id)
	s.freeRoutes = append(s.freeRoutes, r.id)
	delete(s.names, r.id)
	delete(s.routes, name)
}

// Adopted reports whether endpoint name was taken on from an earlier serve's pins and
// has not been named by Route, Refuse or Unroute since: the kernel still decides its
// connections by what that serve last said.
func (s *Steering) Adopted(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[name]
	return r != nil && r.adopted
}

// Readmit changes what an adopted endpoint (see Adopted) admits and leaves where its
// admitted connections go as the earlier serve left them: a restarted serve that does not
// know the endpoint's server yet applies a rule changed meanwhile to the next connection.
// It reports false, changing nothing, for an endpoint that is not adopted: Route and Refuse
// program those. The endpoint stays adopted.
func (s *Steering) Readmit(name string, admit []netip.Prefix) (bool, error) {
	admit = canonical(admit)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[name]
	if r == nil || !r.adopted {
		return false, nil
	}
	oldRuleset, oldAdmit, err := s.setRuleset(r, admit)
	if err != nil {
		return true, err
	}
	for _, l := range r.locals {
		fam, key := endpointKeyOf(l)
		if err := s.maps.endpoints.Put(key, r.endpointValue(fam)); err != nil {
			// Some endpoints may still use the old ruleset: the next Route deletes it.
			if oldRuleset != 0 {
				if r.stale == nil {
					r.stale = map[uint32][]netip.Prefix{}
				}
				r.stale[oldRuleset] = oldAdmit
			}
			return true, fmt.Errorf("steer: endpoint %s: %w", l, err)
		}
	}
	s.deleteRuleset(oldRuleset, oldAdmit)
	for id, prefixes := range r.stale {
		s.deleteRuleset(id, prefixes)
	}
	r.stale = nil
	return true, nil
}

// ReleaseUnclaimed unroutes every endpoint still adopted: what the earlier serve left
// and this one did not take up.
func (s *Steering) ReleaseUnclaimed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, r := range s.routes {
		if r.adopted {
			s.unrouteLocked(name)
			out = append(out, name)
		}
	}
	return out
}

// adopt takes on what the pinned maps hold, as an earlier serve left them: its
// endpoints, their rulesets and slots. What no endpoint uses any more (a serve killed
// half-way through a change) is deleted.
func (s *Steering) adopt() error {
	names := map[uint32]string{}
	var id uint32
	var n [maxNameLen]byte
	it := s.maps.names.Iterate()
	for it.Next(&id, &n) {
		name, _, _ := bytes.Cut(n[:], []byte{0})
		names[id] = string(name)
	}
	if err := it.Err(); err != nil {
		return err
	}
	byID := map[uint32]*route{}
	usedSlots, usedRulesets := map[uint32]bool{}, map[uint32]bool{}
	var orphans []endpointKey
	var key endpointKey
	var val endpointValue
	it = s.maps.endpoints.Iterate()
	for it.Next(&key, &val) {
		if _, ok := names[val.Route]; !ok {
			orphans = append(orphans, key)
			continue
		}
		r := byID[val.Route]
		if r == nil {
			r = &route{id: val.Route, bound: map[Server]map[uint32]uint32{}, door: toGateway, adopted: true, ruleset: val.Ruleset,
				stale: map[uint32][]netip.Prefix{}}
			byID[val.Route] = r
		}
		r.locals = append(r.locals, key.addrPort())
		if val.Ruleset != r.ruleset {
			r.stale[val.Ruleset] = nil // filled below
		}
		usedRulesets[val.Ruleset] = true
		switch {
		case val.Slot < maxSlots:
			r.adoptSlots(key.Family, []uint32{val.Slot})
			usedSlots[val.Slot] = true
		case val.Slot == slotSpread:
			var sv spreadValue
			if err := s.maps.spread.Lookup(spreadKey(val.Route, key.Family), &sv); err == nil {
				slots := sv.Slots[:min(sv.Count, maxSpread)]
				r.adoptSlots(key.Family, slots)
				for _, slot := range slots {
					usedSlots[slot] = true
				}
			}
		case val.Slot == slotNoServer:
			r.door = nowhere
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range orphans {
		_ = s.maps.endpoints.Delete(k)
	}
	for id, name := range names {
		if byID[id] == nil {
			byID[id] = &route{id: id, bound: map[Server]map[uint32]uint32{}, door: toGateway, adopted: true}
		}
		s.routes[name], s.names[id] = byID[id], name
	}

	// The rulesets, from the trie: those in use go to their routes, the rest away.
	prefixes := map[uint32][]netip.Prefix{}
	var ak admitKey
	var one uint32
	var unused []admitKey
	it = s.maps.admit.Iterate()
	for it.Next(&ak, &one) {
		s.ruleset = max(s.ruleset, ak.Ruleset)
		if !usedRulesets[ak.Ruleset] {
			unused = append(unused, ak)
			continue
		}
		prefixes[ak.Ruleset] = append(prefixes[ak.Ruleset], ak.prefix())
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range unused {
		_ = s.maps.admit.Delete(k)
	}
	for _, r := range byID {
		s.ruleset = max(s.ruleset, r.ruleset)
		r.admitted = canonical(prefixes[r.ruleset])
		for id := range r.stale {
			s.ruleset = max(s.ruleset, id)
			r.stale[id] = prefixes[id]
		}
		if len(r.stale) > 0 {
			// Its endpoints disagree: the next Route writes them all afresh.
			r.stale[r.ruleset] = r.admitted
			r.ruleset, r.admitted = 0, nil
		}
	}

	// Slots and route ids in use; the free ones below the highest are free again.
	for slot := uint32(0); slot < maxSlots; slot++ {
		if usedSlots[slot] {
			s.nextSlot = slot + 1
		} else {
			_ = s.maps.listeners.Delete(slot)
		}
	}
	for slot := uint32(0); slot < s.nextSlot; slot++ {
		if !usedSlots[slot] {
			s.freeSlots = append(s.freeSlots, slot)
		}
	}
	for id := range names {
		s.nextRoute = max(s.nextRoute, id+1)
	}
	for id := uint32(0); id < s.nextRoute; id++ {
		if _, ok := names[id]; !ok {
			s.freeRoutes = append(s.freeRoutes, id)
		}
	}
	return nil
}

// adoptSlots takes on slots an earlier serve gave r for family fam, in its order, under
// servers that stand for the unknown ones (negative PIDs, never a real server's): the
// endpoint values rebuilt from them (Readmit) are the earlier serve's, and the next Route
// or Spread replaces them.
func (r *route) adoptSlots(fam uint32, slots []uint32) {
	for i, slot := range slots {
		if i == len(r.servers) {
			r.servers = append(r.servers, Server{PID: -1 - i})
			r.bound[r.servers[i]] = map[uint32]uint32{}
		}
		r.bound[r.servers[i]][fam] = slot
	}
	if len(slots) > 0 {
		r.door = toServer
	}
}

func (k endpointKey) addrPort() netip.AddrPort {
	a := netip.AddrFrom16(k.Addr)
	if k.Family == afInet {
		a = netip.AddrFrom4([4]byte(k.Addr[:4]))
	}
	return netip.AddrPortFrom(a, uint16(k.Port))
}

func (k admitKey) prefix() netip.Prefix {
	a := netip.AddrFrom16(k.Addr)
	if k.Family == afInet {
		a = netip.AddrFrom4([4]byte(k.Addr[:4]))
	}
	return netip.PrefixFrom(a, int(k.Prefixlen)-64)
}

// canonical is prefixes masked, sorted and without repeats: one spelling per set, so a
// set read back from the kernel compares equal to the same set given again.
func canonical(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out)
}

// Counters sums what the kernel counted for endpoint name.
func (s *Steering) Counters(name string) Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum Counters
	r := s.routes[name]
	if r == nil {
		return sum
	}
	for slot := range r.allSlots() {
		var c slotCounters
		if err := s.maps.counters.Lookup(slot, &c); err == nil {
			sum.Accepted += c.Accepted
			sum.Closed += c.Closed
			sum.BytesIn += c.BytesIn
			sum.BytesOut += c.BytesOut
		}
	}
	var rc routeRefusals
	if err := s.maps.refusals.Lookup(r.id, &rc); err == nil {
		sum.Refused = rc.Refusals
	}
	return sum
}

// listening reports whether every slot of a server still holds a socket: a server that
// exited took its listening sockets out of the sockmap as they closed.
func (s *Steering) listening(slots map[uint32]uint32) bool {
	if len(slots) == 0 {
		return false
	}
	for _, slot := range slots {
		var cookie uint64
		if err := s.maps.listeners.Lookup(slot, &cookie); err != nil {
			return false
		}
	}
	return true
}

// attachServer puts server's listening sockets into slots, one per family: those of reuse
// where it has one for the family, else fresh ones. The slots no longer used are left to
// the caller to empty.
func (s *Steering) attachServer(reuse map[uint32]uint32, server Server) (map[uint32]uint32, error) {
	socks, err := listeningSockets(server)
	if err != nil {
		return nil, err
	}
	defer func() {
		// The sockmap holds the sockets; a descriptor of ours would keep a listener open
		// after its server exits, accepting connections nobody takes.
		for _, f := range socks {
			f.Close()
		}
	}()
	slots := map[uint32]uint32{}
	var fresh []uint32
	for fam, f := range socks {
		slot, ok := reuse[fam]
		if !ok {
			if slot, err = s.allocSlot(); err != nil {
				break
			}
			fresh = append(fresh, slot)
		}
		slots[fam] = slot
		if err = s.maps.listeners.Put(slot, uint64(f.Fd())); err != nil {
			err = fmt.Errorf("steer: listening socket of postmaster %d: %w", server.PID, err)
			break
		}
	}
	if err != nil {
		for _, slot := range fresh {
			s.releaseSlot(slot)
		}
		return nil, err
	}
	return slots, nil
}

func (s *Steering) allocSlot() (uint32, error) {
	// Fresh slots first: a reused one may still count connections of its old route.
	if s.nextSlot < maxSlots {
		s.nextSlot++
		return s.nextSlot - 1, nil
	}
	if len(s.freeSlots) == 0 {
		return 0, errors.New("steer: no free listener slot")
	}
	slot := s.freeSlots[0]
	s.freeSlots = s.freeSlots[1:]
	if err := s.maps.counters.Put(slot, slotCounters{}); err != nil {
		return 0, fmt.Errorf("steer: reset counters of slot %d: %w", slot, err)
	}
	return slot, nil
}

func (s *Steering) allocRoute() (uint32, error) {
	if s.nextRoute < maxRoutes {
		s.nextRoute++
		return s.nextRoute - 1, nil
	}
	if len(s.freeRoutes) == 0 {
		return 0, errors.New("steer: no free endpoint route")
	}
	id := s.freeRoutes[0]
	s.freeRoutes = s.freeRoutes[1:]
	if err := s.maps.refusals.Put(id, routeRefusals{}); err != nil {
		return 0, fmt.Errorf("steer: reset counters of route %d: %w", id, err)
	}
	return id, nil
}

// setRuleset installs admit under a fresh ruleset id unless r already has exactly it,
// and returns the id (and prefixes) to delete once no endpoint uses it any more.
func (s *Steering) setRuleset(r *route, admit []netip.Prefix) (uint32, []netip.Prefix, error) {
	if r.ruleset != 0 && slices.Equal(r.admitted, admit) {
		return 0, nil, nil
	}
	s.ruleset++
	id := s.ruleset
	keys := admitKeys(id, admit)
	for i, k := range keys {
		if err := s.maps.admit.Put(k, uint32(1)); err != nil {
			for _, k := range keys[:i] {
				_ = s.maps.admit.Delete(k)
			}
			return 0, nil, fmt.Errorf("steer: admission prefixes: %w", err)
		}
	}
	old, oldAdmit := r.ruleset, r.admitted
	r.ruleset, r.admitted = id, slices.Clone(admit)
	return old, oldAdmit, nil
}

func (s *Steering) deleteRuleset(id uint32, admit []netip.Prefix) {
	if id == 0 {
		return
	}
	for _, k := range admitKeys(id, admit) {
		_ = s.maps.admit.Delete(k)
	}
}

// admitKeys are the trie keys of prefixes under ruleset id. IPv4 prefixes must be written
// as IPv4, not IPv4-mapped IPv6, as the gateway's Admission.Prefixes gives them.
func admitKeys(id uint32, prefixes []netip.Prefix) []admitKey {
	keys := make([]admitKey, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		k := admitKey{Prefixlen: 64 + uint32(p.Bits()), Ruleset: id, Family: afInet6}
		if p.Addr().Is4() {
			k.Family = afInet
			a := p.Addr().As4()
			copy(k.Addr[:], a[:])
		} else {
			k.Addr = p.Addr().As16()
		}
		keys = append(keys, k)
	}
	return keys
}

// endpointKeyOf is the sk_lookup key of a local address, and its family.
func endpointKeyOf(l netip.AddrPort) (uint32, endpointKey) {
	k := endpointKey{Port: uint32(l.Port())}
	a := l.Addr().Unmap()
	if a.Is4() {
		k.Family = afInet
		b := a.As4()
		copy(k.Addr[:], b[:])
	} else {
		k.Family = afInet6
		k.Addr = a.As16()
	}
	return k.Family, k
}

// listeningSockets duplicates the postmaster's listening TCP sockets on server.Addr's
// port (pidfd_getfd), one per family.
func listeningSockets(server Server) (map[uint32]*os.File, error) {
	dir := fmt.Sprintf("/proc/%d/fd", server.PID)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("steer: postmaster %d: %w", server.PID, err)
	}
	pidfd, err := unix.PidfdOpen(server.PID, 0)
	if err != nil {
		return nil, fmt.Errorf("steer: pidfd_open %d: %w", server.PID, err)
	}
	defer unix.Close(pidfd)
	out := map[uint32]*os.File{}
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || !strings.HasPrefix(target, "socket:") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, n, 0)
		if err != nil {
			continue // closed meanwhile
		}
		fam, ok := listensOn(fd, server.Addr)
		if !ok || out[fam] != nil {
			unix.Close(fd)
			continue
		}
		out[fam] = os.NewFile(uintptr(fd), fmt.Sprintf("postmaster-%d-listener", server.PID))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("steer: postmaster %d has no listening socket on port %d", server.PID, server.Addr.Port())
	}
	return out, nil
}

// listensOn reports whether fd is a listening TCP socket on addr's port, bound to addr or
// to its family's wildcard, and its family.
func listensOn(fd int, addr netip.AddrPort) (uint32, bool) {
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return 0, false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
		return 0, false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, false
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		a := netip.AddrFrom4(sa.Addr)
		return afInet, sa.Port == int(addr.Port()) && (a == addr.Addr().Unmap() || a.IsUnspecified())
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		// The private address is IPv4; its IPv6 twin is the loopback or the wildcard.
		return afInet6, sa.Port == int(addr.Port()) && (a.IsLoopback() || a.IsUnspecified() || a == addr.Addr())
	}
	return 0, false
}
