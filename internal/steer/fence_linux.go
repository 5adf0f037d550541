package steer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

const (
	maxGuardedPorts = 4096
	refusalRing     = 1 << 16 // bytes: about a thousand reports between two reads
)

type fenceMaps struct {
	ports  *ebpf.Map // hash: port (network order) → FenceCounts
	owners *ebpf.Map // hash: port (network order) → the uid that may bind it
	// endpoints: hash: an endpoint's port (network order) → FenceCounts (binds only)
	endpoints *ebpf.Map
	refusals  *ebpf.Map // ring buffer of refusalRecord
}

// FenceCounts are the calls the fence refused on a port.
type FenceCounts struct {
	Connects, Binds uint64
}

func (c FenceCounts) add(d FenceCounts) FenceCounts {
	return FenceCounts{c.Connects + d.Connects, c.Binds + d.Binds}
}

// Fence keeps local processes off the servers' private ports: a connect to a guarded
// port is refused (EPERM) unless it comes from root or from a socket that carries
// RelayMark, the gateway's; a bind of it, unless it comes from root or the server's own
// account; and the kernel does not hand it out as an ephemeral port
// (ip_local_reserved_ports). It keeps them off the endpoints' ports too, where clients
// connect: a bind there is refused unless it comes from root (serve), and the kernel
// does not hand them out either. Its programs hang on the root of the cgroup v2 hierarchy
// beside any others (multi-attach), so every process of the host's cgroup tree meets
// them, whatever its network namespace. As with Steering, where it is pinned it outlives
// the process, else Close, or the process ending however it ends, detaches them and the
// ports are open again.
type Fence struct {
	pins   *pins
	maps   fenceMaps
	links  []link.Link
	reader *ringbuf.Reader

	mu       sync.Mutex
	names    map[string]uint16      // name → guarded port
	refs     map[uint16]int         // port → how many names guard it
	base     map[string]FenceCounts // what a name's earlier ports refused
	adopted  map[uint16]bool        // guarded by an earlier serve, not named by Guard since
	reserved reservedPorts

	// The endpoints' ports, as names, refs and adopted are the private ports'.
	endpoints        map[string][]uint16
	endpointRefs     map[uint16]int
	adoptedEndpoints map[uint16]bool
}

// Refusal is one connect or bind the fence refused: who tried, and which address.
type Refusal struct {
	Name     string // what guards the port now ("" if released meanwhile)
	Endpoint bool   // Name is an endpoint's (GuardEndpoint), not a server's (Guard)
	Call     string // "connect" or "bind"
	Addr     netip.AddrPort
	UID      uint32
	PID      uint32
	Comm     string // the calling thread's name
}

// OpenFence loads the connect and bind programs and attaches them to the root of the
// cgroup v2 hierarchy. It fails, changing nothing, where the kernel or the process's
// privileges do not allow it; no port is guarded until Guard names it.
//
// With a pin directory (PinDir), the maps and links are pinned there and outlive the
// process: after a kill -9 the guarded ports stay guarded. A later OpenFence with the same
// directory replaces the programs in the links in one step each, so the ports are never
// open on the way, and takes the guarded ports on until Guard names them again.
func OpenFence(pinDir string) (*Fence, error) {
	f := &Fence{names: map[string]uint16{}, refs: map[uint16]int{}, base: map[string]FenceCounts{},
		adopted: map[uint16]bool{}, reserved: reservedPorts{path: reservedPortsPath},
		endpoints: map[string][]uint16{}, endpointRefs: map[uint16]int{}, adoptedEndpoints: map[uint16]bool{}}
	var err error
	if f.pins, err = newPins(pinDir, "fence"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Leave() // a fence found pinned stays in force
		}
	}()
	var found bool
	if f.maps.ports, found, err = f.pins.newMap(&ebpf.MapSpec{Name: "borealis_fence", Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: maxGuardedPorts}, false); err != nil {
		return nil, fmt.Errorf("fence: ports map: %w", err)
	}
	if f.maps.owners, _, err = f.pins.newMap(&ebpf.MapSpec{Name: "borealis_owner", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: maxGuardedPorts}, false); err != nil {
		return nil, fmt.Errorf("fence: owners map: %w", err)
	}
	var endpointsFound bool
	if f.maps.endpoints, endpointsFound, err = f.pins.newMap(&ebpf.MapSpec{Name: "borealis_endpoint", Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: maxGuardedPorts}, false); err != nil {
		return nil, fmt.Errorf("fence: endpoints map: %w", err)
	}
	if f.maps.refusals, _, err = f.pins.newMap(&ebpf.MapSpec{Name: "borealis_refused", Type: ebpf.RingBuf, MaxEntries: refusalRing}, false); err != nil {
		return nil, fmt.Errorf("fence: ring buffer: %w", err)
	}
	if found {
		var key uint32
		var counts FenceCounts
		it := f.maps.ports.Iterate()
		for it.Next(&key, &counts) {
			f.adopted[portOfKey(key)] = true
		}
		if err = it.Err(); err != nil {
			return nil, fmt.Errorf("fence: pinned ports: %w", err)
		}
	}
	if endpointsFound {
		var key uint32
		var counts FenceCounts
		it := f.maps.endpoints.Iterate()
		for it.Next(&key, &counts) {
			f.adoptedEndpoints[portOfKey(key)] = true
		}
		if err = it.Err(); err != nil {
			return nil, fmt.Errorf("fence: pinned endpoint ports: %w", err)
		}
	}
	cgroup, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	for _, h := range []struct {
		family, call int32
		attach       ebpf.AttachType
		name         string
	}{
		{afInet, callConnect, ebpf.AttachCGroupInet4Connect, "borealis_conn4"},
		{afInet6, callConnect, ebpf.AttachCGroupInet6Connect, "borealis_conn6"},
		{afInet, callBind, ebpf.AttachCGroupInet4Bind, "borealis_bind4"},
		{afInet6, callBind, ebpf.AttachCGroupInet6Bind, "borealis_bind6"},
	} {
		var prog *ebpf.Program
		prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: h.name, Type: ebpf.CGroupSockAddr, AttachType: h.attach,
			License: "GPL", Instructions: fenceProgram(&f.maps, h.family, h.call)})
		if err != nil {
			return nil, fmt.Errorf("fence: %s program: %w", h.name, err)
		}
		var l link.Link
		l, err = f.pins.attach(h.name, prog, func() (link.Link, error) {
			return link.AttachCgroup(link.CgroupOptions{Path: cgroup, Attach: h.attach, Program: prog})
		})
		prog.Close()
		if err != nil {
			return nil, fmt.Errorf("fence: attach %s to %s: %w", h.name, cgroup, err)
		}
		f.links = append(f.links, l)
	}
	if f.reader, err = ringbuf.NewReader(f.maps.refusals); err != nil {
		return nil, fmt.Errorf("fence: ring buffer reader: %w", err)
	}
	f.pins.tidy()
	return f, nil
}

// Close detaches the programs, pinned or not, and gives back the reserved ports: every
// port is open to every local process again. A Read in progress returns ErrFenceClosed.
func (f *Fence) Close() { f.close(true) }

// Leave lets go of the fence and leaves it in force where it is pinned, the ports
// reserved: the next OpenFence with the same directory takes it on. Unpinned, it is
// Close. A Read in progress returns ErrFenceClosed.
func (f *Fence) Leave() { f.close(false) }

func (f *Fence) close(unpin bool) {
	if f == nil {
		return
	}
	pinned := f.pins != nil && f.pins.dir != ""
	if unpin && pinned {
		f.pins.unpin()
	}
	for _, l := range f.links {
		l.Close()
	}
	f.links = nil
	if f.reader != nil {
		f.reader.Close()
	}
	f.mu.Lock()
	if unpin || !pinned {
		for _, ports := range []map[uint16]int{f.refs, f.endpointRefs} {
			for port := range ports {
				_ = f.reserved.release(port)
			}
		}
		for _, ports := range []map[uint16]bool{f.adopted, f.adoptedEndpoints} {
			for port := range ports {
				_ = f.reserved.release(port)
			}
		}
	}
	f.refs, f.endpointRefs = map[uint16]int{}, map[uint16]int{}
	f.adopted, f.adoptedEndpoints = map[uint16]bool{}, map[uint16]bool{}
	f.mu.Unlock()
	for _, m := range []*ebpf.Map{f.maps.ports, f.maps.owners, f.maps.endpoints, f.maps.refusals} {
		if m != nil {
			m.Close()
		}
	}
}

// portKey is a port as the programs read it from the context: in network order.
func portKey(port uint16) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint16(b[:2], port)
	return binary.NativeEndian.Uint32(b[:])
}

func portOfKey(key uint32) uint16 {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], key)
	return binary.BigEndian.Uint16(b[:2])
}

// ReleaseUnclaimed stops guarding the ports an earlier serve guarded that Guard or
// GuardEndpoint has not named since, and returns them.
func (f *Fence) ReleaseUnclaimed() []uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint16
	for port := range f.adopted {
		delete(f.adopted, port)
		_ = f.maps.ports.Delete(portKey(port))
		_ = f.maps.owners.Delete(portKey(port))
		f.unreserve(port)
		out = append(out, port)
	}
	for port := range f.adoptedEndpoints {
		delete(f.adoptedEndpoints, port)
		_ = f.maps.endpoints.Delete(portKey(port))
		f.unreserve(port)
		out = append(out, port)
	}
	return out
}

// unreserve gives port back to the kernel's ephemeral choice unless it is still
// guarded, as a private or an endpoint port. f.mu is held.
func (f *Fence) unreserve(port uint16) {
	if f.refs[port] > 0 || f.adopted[port] || f.endpointRefs[port] > 0 || f.adoptedEndpoints[port] {
		return
	}
	_ = f.reserved.release(port)
}

// GuardEndpoint refuses binds of endpoint name's ports to everyone but root from now on,
// so that no local process takes one while serve is away (or before it listens again) to
// answer the endpoint's clients in its place; connects there are not touched. The kernel
// no longer hands them out as ephemeral ports. The ports replace those name had.
func (f *Fence) GuardEndpoint(name string, ports ...uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ports = slices.Compact(slices.Sorted(slices.Values(ports)))
	old := f.endpoints[name]
	if slices.Equal(old, ports) {
		return nil
	}
	var errs []error
	var guarded []uint16
	for _, port := range ports {
		if f.endpointRefs[port] == 0 && !f.adoptedEndpoints[port] {
			if err := f.maps.endpoints.Update(portKey(port), FenceCounts{}, ebpf.UpdateNoExist); err != nil {
				errs = append(errs, fmt.Errorf("fence: guard endpoint port %d: %w", port, err))
				continue
			}
		}
		delete(f.adoptedEndpoints, port) // guarded all along
		f.endpointRefs[port]++
		guarded = append(guarded, port)
		if err := f.reserved.reserve(port); err != nil {
			errs = append(errs, fmt.Errorf("fence: reserve port %d: %w", port, err))
		}
	}
	f.endpoints[name] = guarded
	for _, port := range old {
		f.unrefEndpoint(port)
	}
	return errors.Join(errs...)
}

// ReleaseEndpoint stops guarding endpoint name's ports, unless another endpoint guards
// them too.
func (f *Fence) ReleaseEndpoint(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, port := range f.endpoints[name] {
		f.unrefEndpoint(port)
	}
	delete(f.endpoints, name)
}

func (f *Fence) unrefEndpoint(port uint16) {
	if f.endpointRefs[port]--; f.endpointRefs[port] <= 0 {
		delete(f.endpointRefs, port)
		_ = f.maps.endpoints.Delete(portKey(port))
		f.unreserve(port)
	}
}

// EndpointBindsRefused is how many binds of endpoint name's ports the fence refused while
// they were guarded (an earlier serve's refusals included, for ports it took on).
func (f *Fence) EndpointBindsRefused(name string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n uint64
	for _, port := range f.endpoints[name] {
		var c FenceCounts
		_ = f.maps.endpoints.Lookup(portKey(port), &c)
		n += c.Binds
	}
	return n
}

// Guard refuses connects to port to everyone but root and the relay from now on, and
// binds of it to everyone but root and owner (the uid that runs the server; negative
// while unknown: anyone may bind then), and counts refusals under name. A name guards one
// port at a time: guarding another releases the first, and the counts carry on. An
// error says what is not guarded; the rest is.
func (f *Fence) Guard(name string, port uint16, owner int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	if owner >= 0 {
		if err := f.maps.owners.Put(portKey(port), uint32(owner)); err != nil {
			errs = append(errs, fmt.Errorf("fence: owner of port %d: %w", port, err))
		}
	}
	old, had := f.names[name]
	if had && old == port {
		return errors.Join(errs...)
	}
	if f.refs[port] == 0 && f.adopted[port] {
		delete(f.adopted, port) // guarded all along: its counts carry on
		if err := f.reserved.reserve(port); err != nil {
			errs = append(errs, fmt.Errorf("fence: reserve port %d: %w", port, err))
		}
	} else if f.refs[port] == 0 {
		if err := f.maps.ports.Update(portKey(port), FenceCounts{}, ebpf.UpdateNoExist); err != nil {
			return errors.Join(append(errs, fmt.Errorf("fence: guard port %d: %w", port, err))...)
		}
		if err := f.reserved.reserve(port); err != nil {
			errs = append(errs, fmt.Errorf("fence: reserve port %d: %w", port, err))
		}
	}
	f.refs[port]++
	f.names[name] = port
	if had {
		f.base[name] = f.base[name].add(f.refusedOn(old))
		f.unref(old)
	}
	return errors.Join(errs...)
}

// Release stops guarding name's port, unless another name guards it too.
func (f *Fence) Release(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if port, ok := f.names[name]; ok {
		f.unref(port)
		delete(f.names, name)
		delete(f.base, name)
	}
}

func (f *Fence) unref(port uint16) {
	if f.refs[port]--; f.refs[port] <= 0 {
		delete(f.refs, port)
		_ = f.maps.ports.Delete(portKey(port))
		_ = f.maps.owners.Delete(portKey(port))
		f.unreserve(port)
	}
}

func (f *Fence) refusedOn(port uint16) FenceCounts {
	var c FenceCounts
	_ = f.maps.ports.Lookup(portKey(port), &c)
	return c
}

// Refused is what the fence refused on name's ports since Guard first named it.
func (f *Fence) Refused(name string) FenceCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	port, ok := f.names[name]
	if !ok {
		return FenceCounts{}
	}
	return f.base[name].add(f.refusedOn(port))
}

// ErrFenceClosed is what Read returns once the fence is closed.
var ErrFenceClosed = errors.New("fence: closed")

// Read waits for the next refusal report. Reports are best effort (a full ring drops
// them); the counts are exact.
func (f *Fence) Read() (Refusal, error) {
	rec, err := f.reader.Read()
	if errors.Is(err, ringbuf.ErrClosed) {
		return Refusal{}, ErrFenceClosed
	}
	if err != nil {
		return Refusal{}, fmt.Errorf("fence: %w", err)
	}
	var r refusalRecord
	if err := binary.Read(bytes.NewReader(rec.RawSample), binary.NativeEndian, &r); err != nil {
		return Refusal{}, fmt.Errorf("fence: report: %w", err)
	}
	var pb [4]byte
	binary.NativeEndian.PutUint32(pb[:], r.Port)
	port := binary.BigEndian.Uint16(pb[:2])
	addr := netip.AddrFrom16(r.Addr)
	if r.Family == afInet {
		addr = netip.AddrFrom4([4]byte(r.Addr[:4]))
	}
	comm, _, _ := bytes.Cut(r.Comm[:], []byte{0})
	out := Refusal{Call: "connect", Addr: netip.AddrPortFrom(addr, port), UID: r.UID, PID: r.PID, Comm: string(comm)}
	if r.Call == callBind {
		out.Call = "bind"
	}
	f.mu.Lock()
	for name, p := range f.names {
		if p == port {
			out.Name = name
			break
		}
	}
	if out.Name == "" && r.Call == callBind {
		for name, ports := range f.endpoints {
			if slices.Contains(ports, port) {
				out.Name, out.Endpoint = name, true
				break
			}
		}
	}
	f.mu.Unlock()
	return out, nil
}
