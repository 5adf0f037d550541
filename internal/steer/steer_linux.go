package steer

import (
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
	"golang.org/x/sys/unix"
)

// Capacities of the kernel maps. A connection the maps cannot hold is not lost: it
// reaches the gateway's listener instead.
const (
	maxEndpoints = 4096
	maxSlots     = 4096
	maxPrefixes  = 1 << 16
	maxConns     = 1 << 16
)

type endpointKey struct {
	Port   uint32
	Family uint32
	Addr   [16]byte
}

type endpointValue struct {
	Slot    uint32
	Ruleset uint32
}

type admitKey struct {
	Prefixlen uint32 // 64 (ruleset, family) + the prefix's bits
	Ruleset   uint32
	Family    uint32
	Addr      [16]byte
}

// Counters are what the kernel counted for the connections steered through one slot.
type Counters struct {
	Accepted, Closed uint64
	// Received and sent (acknowledged) by the server's socket, as the kernel's TCP
	// counters (RFC 4898) have them: a FIN counts as one byte.
	BytesIn, BytesOut uint64
}

type maps struct {
	endpoints *ebpf.Map // endpointKey → endpointValue
	admit     *ebpf.Map // LPM trie of admitKey
	listeners *ebpf.Map // sockmap: slot → the server's listening socket
	conns     *ebpf.Map // LRU: steered connections not yet closed
	counters  *ebpf.Map // array: slot → Counters
}

func (m *maps) close() {
	for _, x := range []*ebpf.Map{m.endpoints, m.admit, m.listeners, m.conns, m.counters} {
		if x != nil {
			x.Close()
		}
	}
}

// Steering is the loaded programs, their maps and the links that attach them. Close
// detaches everything; so does the process ending, since nothing is pinned, which is what
// makes a kill -9 of borealis serve leave no steering behind.
type Steering struct {
	maps  maps
	links []link.Link

	mu        sync.Mutex
	routes    map[string]*route
	freeSlots []uint32
	nextSlot  uint32
	ruleset   uint32
}

type route struct {
	locals   []netip.AddrPort
	slots    map[uint32]uint32 // family → slot
	server   Server
	ruleset  uint32         // 0: none yet
	admitted []netip.Prefix // what ruleset holds
}

// Open loads the programs and attaches them: sk_lookup to this process's network
// namespace and sock_ops to the root of the cgroup v2 hierarchy. It fails, changing
// nothing, where the kernel or the process's privileges do not allow it.
func Open() (*Steering, error) {
	s := &Steering{routes: map[string]*route{}}
	var err error
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	newMap := func(spec *ebpf.MapSpec) *ebpf.Map {
		if err != nil {
			return nil
		}
		var m *ebpf.Map
		m, err = ebpf.NewMap(spec)
		return m
	}
	s.maps.endpoints = newMap(&ebpf.MapSpec{Name: "borealis_ep", Type: ebpf.Hash, KeySize: 24, ValueSize: 8, MaxEntries: maxEndpoints})
	s.maps.admit = newMap(&ebpf.MapSpec{Name: "borealis_admit", Type: ebpf.LPMTrie, KeySize: 28, ValueSize: 4, MaxEntries: maxPrefixes, Flags: unix.BPF_F_NO_PREALLOC})
	s.maps.listeners = newMap(&ebpf.MapSpec{Name: "borealis_lsn", Type: ebpf.SockMap, KeySize: 4, ValueSize: 8, MaxEntries: maxSlots})
	s.maps.conns = newMap(&ebpf.MapSpec{Name: "borealis_conn", Type: ebpf.LRUHash, KeySize: 24, ValueSize: 8, MaxEntries: maxConns})
	s.maps.counters = newMap(&ebpf.MapSpec{Name: "borealis_count", Type: ebpf.Array, KeySize: 4, ValueSize: 32, MaxEntries: maxSlots})
	if err != nil {
		return nil, fmt.Errorf("steer: maps: %w", err)
	}
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
	cgroup, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	// The accounting first: a connection steered before it is attached would go uncounted.
	var l link.Link
	if l, err = link.AttachCgroup(link.CgroupOptions{Path: cgroup, Attach: ebpf.AttachCGroupSockOps, Program: ops}); err != nil {
		return nil, fmt.Errorf("steer: attach sock_ops to %s: %w", cgroup, err)
	}
	s.links = append(s.links, l)
	netns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	defer netns.Close()
	if l, err = link.AttachNetNs(int(netns.Fd()), lookup); err != nil {
		return nil, fmt.Errorf("steer: attach sk_lookup: %w", err)
	}
	s.links = append(s.links, l)
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

// Close detaches the programs and releases the maps, and with them the server sockets.
func (s *Steering) Close() {
	if s == nil {
		return
	}
	for _, l := range s.links {
		l.Close()
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

// Route steers new connections to locals (the endpoint's addresses) from sources that
// admit covers to server's listening socket of the same family. It is idempotent and
// cheap when nothing changed; a change of admit is atomic for every local address: a
// connection sees the old prefixes or the new ones, never a mixture.
func (s *Steering) Route(name string, locals []netip.AddrPort, server Server, admit []netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[name]
	if r == nil {
		r = &route{slots: map[uint32]uint32{}}
		s.routes[name] = r
	}
	if r.server != server || !s.listening(r) {
		if err := s.attachServer(r, server); err != nil {
			s.unrouteLocked(name)
			return err
		}
	}
	if err := s.setRuleset(r, admit); err != nil {
		s.unrouteLocked(name)
		return err
	}
	keep := map[endpointKey]bool{}
	for _, l := range locals {
		fam, key := endpointKeyOf(l)
		slot, ok := r.slots[fam]
		if !ok {
			continue // the server does not listen in this family: the gateway relays
		}
		keep[key] = true
		if err := s.maps.endpoints.Put(key, endpointValue{Slot: slot, Ruleset: r.ruleset}); err != nil {
			s.unrouteLocked(name)
			return fmt.Errorf("steer: endpoint %s: %w", l, err)
		}
	}
	for _, l := range r.locals {
		if _, key := endpointKeyOf(l); !keep[key] {
			_ = s.maps.endpoints.Delete(key)
		}
	}
	r.locals = append(r.locals[:0], locals...)
	return nil
}

// Unroute stops steering name's connections; they reach the gateway's listener again.
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
	for _, slot := range r.slots {
		_ = s.maps.listeners.Delete(slot)
		s.freeSlots = append(s.freeSlots, slot)
	}
	delete(s.routes, name)
}

// Counters sums what the kernel counted for name's steered connections.
func (s *Steering) Counters(name string) Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum Counters
	r := s.routes[name]
	if r == nil {
		return sum
	}
	for _, slot := range r.slots {
		var c Counters
		if err := s.maps.counters.Lookup(slot, &c); err == nil {
			sum.Accepted += c.Accepted
			sum.Closed += c.Closed
			sum.BytesIn += c.BytesIn
			sum.BytesOut += c.BytesOut
		}
	}
	return sum
}

// listening reports whether every slot of r still holds a socket: a server that exited
// took its listening sockets out of the sockmap as they closed.
func (s *Steering) listening(r *route) bool {
	if len(r.slots) == 0 {
		return false
	}
	for _, slot := range r.slots {
		var cookie uint64
		if err := s.maps.listeners.Lookup(slot, &cookie); err != nil {
			return false
		}
	}
	return true
}

// attachServer puts server's listening sockets into r's slots, one per family.
func (s *Steering) attachServer(r *route, server Server) error {
	socks, err := listeningSockets(server)
	if err != nil {
		return err
	}
	defer func() {
		// The sockmap holds the sockets; a descriptor of ours would keep a listener open
		// after its server exits, accepting connections nobody takes.
		for _, f := range socks {
			f.Close()
		}
	}()
	for fam, slot := range r.slots {
		if _, ok := socks[fam]; !ok { // the server no longer listens in this family
			_ = s.maps.listeners.Delete(slot)
			delete(r.slots, fam)
			s.freeSlots = append(s.freeSlots, slot)
		}
	}
	for fam, f := range socks {
		slot, ok := r.slots[fam]
		if !ok {
			if slot, err = s.allocSlot(); err != nil {
				return err
			}
			r.slots[fam] = slot
		}
		if err := s.maps.listeners.Put(slot, uint64(f.Fd())); err != nil {
			return fmt.Errorf("steer: listening socket of postmaster %d: %w", server.PID, err)
		}
	}
	r.server = server
	return nil
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
	if err := s.maps.counters.Put(slot, Counters{}); err != nil {
		return 0, fmt.Errorf("steer: reset counters of slot %d: %w", slot, err)
	}
	return slot, nil
}

// setRuleset installs admit under a fresh ruleset id unless r already has exactly it;
// the endpoints switch to the new id (one atomic write each) and the old id's prefixes
// are deleted after.
func (s *Steering) setRuleset(r *route, admit []netip.Prefix) error {
	if r.ruleset != 0 && slices.Equal(r.admitted, admit) {
		return nil
	}
	s.ruleset++
	id := s.ruleset
	keys := admitKeys(id, admit)
	for i, k := range keys {
		if err := s.maps.admit.Put(k, uint32(1)); err != nil {
			for _, k := range keys[:i] {
				_ = s.maps.admit.Delete(k)
			}
			return fmt.Errorf("steer: admission prefixes: %w", err)
		}
	}
	old, oldAdmit := r.ruleset, r.admitted
	r.ruleset, r.admitted = id, slices.Clone(admit)
	for _, l := range r.locals {
		fam, key := endpointKeyOf(l)
		if slot, ok := r.slots[fam]; ok {
			_ = s.maps.endpoints.Put(key, endpointValue{Slot: slot, Ruleset: id})
		}
	}
	s.deleteRuleset(old, oldAdmit)
	return nil
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
