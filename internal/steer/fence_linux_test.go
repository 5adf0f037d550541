package steer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func openFence(t *testing.T) *Fence {
	t.Helper()
	f, err := OpenFence("")
	if err != nil {
		t.Skipf("no BPF fence on this kernel or for this user: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// A child process of the test binary tries each way to reach a port that the attacks
// name, as whatever account the test runs it under, and prints one line per attack:
// its name and "ok" or the errno's name.
const fenceChildEnv = "STEER_FENCE_CHILD"

// attacks are the ways a local process may name a server's port 127.0.0.1:P (and [::1]:P).
var attacks = []string{
	"connect 127.0.0.1", "connect 127.0.0.2", "connect 0.0.0.0",
	"connect ::1", "connect ::", "connect ::ffff:127.0.0.1", "connect ::ffff:0.0.0.0",
	"fastopen 127.0.0.1", "fastopen ::1", "mptcp 127.0.0.1", "io_uring 127.0.0.1", "io_uring-worker 127.0.0.1",
}

func TestMain(m *testing.M) {
	if os.Getenv(fenceChildEnv) != "" {
		fenceChild()
		return
	}
	if os.Getenv(pinChildEnv) != "" {
		pinChild()
		return
	}
	os.Exit(m.Run())
}

func fenceChild() {
	port, _ := strconv.Atoi(os.Getenv("STEER_FENCE_PORT"))
	mark, _ := strconv.Atoi(os.Getenv("STEER_FENCE_MARK"))
	for _, a := range strings.Split(os.Getenv(fenceChildEnv), ",") {
		how, addr, _ := strings.Cut(a, " ")
		err := attack(how, netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(port)), mark)
		var errno syscall.Errno
		switch {
		case err == nil:
			fmt.Println(a, "ok")
		case errors.As(err, &errno):
			fmt.Println(a, unix.ErrnoName(errno))
		default:
			fmt.Println(a, err)
		}
	}
}

func attack(how string, to netip.AddrPort, mark int) error {
	fam, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: int(to.Port()), Addr: to.Addr().As16()})
	if to.Addr().Is4() {
		fam, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}
	}
	proto := 0
	if how == "mptcp" {
		proto = unix.IPPROTO_MPTCP
	}
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, mark); err != nil {
			return fmt.Errorf("SO_MARK: %v", err) // told apart from the connect's own errno
		}
	}
	switch how {
	case "connect", "mptcp":
		return unix.Connect(fd, sa)
	case "fastopen":
		return unix.Sendto(fd, []byte("x"), unix.MSG_FASTOPEN, sa)
	case "io_uring":
		return uringConnect(fd, to, false)
	case "io_uring-worker":
		return uringConnect(fd, to, true)
	case "bind":
		if err := unix.Bind(fd, sa); err != nil {
			return err
		}
		return unix.Listen(fd, 1)
	}
	return fmt.Errorf("no attack %q", how)
}

// struct io_uring_params (linux/io_uring.h).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff, cqOff                                                           uringOffsets
}

// struct io_sqring_offsets and io_cqring_offsets share a layout; their fifth to seventh
// fields differ.
type uringOffsets struct {
	head, tail, ringMask, ringEntries uint32
	flagsOrOverflow                   uint32
	droppedOrCQEs                     uint32 // the CQ ring's cqes
	arrayOrFlags                      uint32 // the SQ ring's array
	resv                              uint32
	userAddr                          uint64
}

// uringConnect connects fd to an IPv4 address through an io_uring IORING_OP_CONNECT: in
// the caller, or with worker on one of the kernel's io-wq threads (IOSQE_ASYNC).
func uringConnect(fd int, to netip.AddrPort, worker bool) error {
	var p uringParams
	ring, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return fmt.Errorf("io_uring_setup: %w", e)
	}
	defer unix.Close(int(ring))
	size := max(int(p.sqOff.arrayOrFlags+p.sqEntries*4), int(p.cqOff.droppedOrCQEs+p.cqEntries*16))
	rings, err := unix.Mmap(int(ring), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	defer unix.Munmap(rings)
	sqes, err := unix.Mmap(int(ring), 0x10000000, int(p.sqEntries)*64, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	defer unix.Munmap(sqes)
	var sa [16]byte // struct sockaddr_in
	binary.NativeEndian.PutUint16(sa[0:], unix.AF_INET)
	binary.BigEndian.PutUint16(sa[2:], to.Port())
	a4 := to.Addr().As4()
	copy(sa[4:], a4[:])
	sqe := sqes[:64]
	clear(sqe)
	sqe[0] = 16 // IORING_OP_CONNECT
	if worker {
		sqe[1] = 1 << 4 // IOSQE_ASYNC
	}
	binary.NativeEndian.PutUint32(sqe[4:], uint32(fd))
	binary.NativeEndian.PutUint64(sqe[8:], uint64(len(sa)))
	binary.NativeEndian.PutUint64(sqe[16:], uint64(uintptr(unsafe.Pointer(&sa[0]))))
	binary.NativeEndian.PutUint32(rings[p.sqOff.arrayOrFlags:], 0)
	tail := (*uint32)(unsafe.Pointer(&rings[p.sqOff.tail]))
	*tail++
	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, ring, 1, 1, 1 /* IORING_ENTER_GETEVENTS */, 0, 0); e != 0 {
		return fmt.Errorf("io_uring_enter: %w", e)
	}
	res := int32(binary.NativeEndian.Uint32(rings[p.cqOff.droppedOrCQEs+8:]))
	if res < 0 {
		return syscall.Errno(-res)
	}
	return nil
}

// as runs the child as cred with extra capabilities.
func as(cred *syscall.Credential, caps ...uintptr) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, AmbientCaps: caps}
}

// runAttacks runs the child with attr against port, its sockets marked with mark unless
// 0, and returns each attack's outcome and the child's pid.
func runAttacks(t *testing.T, attr *syscall.SysProcAttr, mark int, port int, which ...string) (map[string]string, int) {
	t.Helper()
	cmd := exec.Command(childBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), fenceChildEnv+"="+strings.Join(which, ","),
		"STEER_FENCE_PORT="+strconv.Itoa(port), "STEER_FENCE_MARK="+strconv.Itoa(mark))
	cmd.SysProcAttr = attr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		for _, a := range which {
			if rest, ok := strings.CutPrefix(sc.Text(), a+" "); ok {
				got[a] = rest
			}
		}
	}
	return got, cmd.Process.Pid
}

// childBinary is a copy of the test binary that other accounts may run: go test builds
// it in a directory only root can enter.
func childBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "steer-fence-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "child")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// listenBoth listens on 127.0.0.1 and ::1 with one port, as a server with an IPv6
// endpoint does, and accepts (and drops) whatever arrives.
func listenBoth(t *testing.T) int {
	t.Helper()
	ln4, _ := listen(t, "127.0.0.1:0")
	port := ln4.Addr().(*net.TCPAddr).Port
	var lc net.ListenConfig
	ln6, err := lc.Listen(context.Background(), "tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("::1 on the same port: %v", err)
	}
	t.Cleanup(func() { ln6.Close() })
	go func() {
		for {
			c, err := ln6.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return port
}

func lookupAccount(t *testing.T, name string) *syscall.Credential {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Skipf("no %s account: %v", name, err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, _ = exec.Command("id", "-g", name).Output()
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func TestFenceRefusesOtherAccountsEveryWayToThePort(t *testing.T) {
	f := openFence(t)
	nobody := lookupAccount(t, "nobody")
	port := listenBoth(t)
	open := listenBoth(t) // not guarded: the control

	// Unguarded, every form but another 127/8 address reaches the server.
	before, _ := runAttacks(t, as(nobody), 0, port, attacks...)
	for _, a := range attacks {
		if want := map[bool]string{true: "ECONNREFUSED", false: "ok"}[a == "connect 127.0.0.2"]; before[a] != want &&
			!(a == "mptcp 127.0.0.1" && before[a] == "EPROTONOSUPPORT") {
			t.Fatalf("before the fence, %s: %s; want %s", a, before[a], want)
		}
	}

	if err := f.Guard("srv", uint16(port), -1); err != nil {
		t.Fatal(err)
	}
	got, pid := runAttacks(t, as(nobody), 0, port, attacks...)
	refused := 0
	for _, a := range attacks {
		if got[a] == "EPERM" {
			refused++
			continue
		}
		if a == "mptcp 127.0.0.1" && got[a] == "EPROTONOSUPPORT" {
			continue // no MPTCP in this kernel
		}
		t.Errorf("nobody, %s: %s; want EPERM", a, got[a])
	}
	if n := f.Refused("srv"); n != (FenceCounts{Connects: uint64(refused)}) {
		t.Errorf("Refused = %+v; want the %d refused connects", n, refused)
	}
	// Each refusal is reported with who tried.
	for i := range refused {
		r := readRefusal(t, f)
		if r.Name != "srv" || r.Call != "connect" || r.UID != nobody.Uid || int(r.PID) != pid || r.Addr.Port() != uint16(port) {
			t.Fatalf("report %d: %+v; want srv, connect, uid %d, pid %d, port %d", i, r, nobody.Uid, pid, port)
		}
	}

	// The postgres account (every server's) is refused too, its own port included.
	if pg := lookupAccount(t, "postgres"); pg != nil {
		if got, _ := runAttacks(t, as(pg), 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "EPERM" {
			t.Errorf("postgres: %s; want EPERM", got["connect 127.0.0.1"])
		}
	}
	// Other ports are not touched.
	if got, _ := runAttacks(t, as(nobody), 0, open, "connect 127.0.0.1", "connect ::1"); got["connect 127.0.0.1"] != "ok" || got["connect ::1"] != "ok" {
		t.Errorf("an unguarded port: %v; want ok", got)
	}
	// Root passes, and so does a socket with the relay's mark; another mark does not.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second); err != nil {
		t.Errorf("root: %v", err)
	} else {
		c.Close()
	}
	if got, _ := runAttacks(t, as(nobody, unix.CAP_NET_ADMIN), RelayMark, port, "connect 127.0.0.1", "connect ::1"); got["connect 127.0.0.1"] != "ok" || got["connect ::1"] != "ok" {
		t.Errorf("nobody with the relay's mark: %v; want ok", got)
	}
	if got, _ := runAttacks(t, as(nobody, unix.CAP_NET_ADMIN), RelayMark+1, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "EPERM" {
		t.Errorf("nobody with another mark: %v; want EPERM", got)
	}

	// Root of its own user namespace (as nobody may make one) is still nobody to the fence,
	// and cannot mark a socket of the host's network namespace.
	userns := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		Credential:  &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}, // in the namespace: nobody outside
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(nobody.Uid), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(nobody.Gid), Size: 1}}}
	if got, _ := runAttacks(t, userns, 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "EPERM" {
		t.Errorf("root of a user namespace: %s; want EPERM", got["connect 127.0.0.1"])
	}
	if got, _ := runAttacks(t, userns, RelayMark, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "SO_MARK: operation not permitted" {
		t.Errorf("root of a user namespace marking its socket: %s; want the mark refused", got["connect 127.0.0.1"])
	}

	// Released, the port is open again.
	f.Release("srv")
	if got, _ := runAttacks(t, as(nobody), 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "ok" {
		t.Errorf("after Release: %s; want ok", got["connect 127.0.0.1"])
	}
}

func readRefusal(t *testing.T, f *Fence) Refusal {
	t.Helper()
	ch := make(chan Refusal, 1)
	go func() {
		r, err := f.Read()
		if err != nil {
			t.Error(err)
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no refusal reported")
	}
	return Refusal{}
}

// reservedPortsHold reports whether the kernel's reserved ports hold port.
func reservedPortsHold(t *testing.T, port int) bool {
	t.Helper()
	b, err := os.ReadFile(reservedPortsPath)
	if err != nil {
		t.Fatal(err)
	}
	set, err := parsePortList(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return set[port]
}

// freePort is a port nothing listens on: a server's while it is down.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestFenceKeepsAGuardedPortForItsServer: while a server is down, no other account can
// take its port to answer the relay in its place, by naming it or by the kernel's choice.
func TestFenceKeepsAGuardedPortForItsServer(t *testing.T) {
	f := openFence(t)
	nobody, pg := lookupAccount(t, "nobody"), lookupAccount(t, "postgres")
	port := freePort(t)
	if reservedPortsHold(t, port) {
		t.Fatalf("port %d reserved before the test", port)
	}
	if err := f.Guard("srv", uint16(port), int(pg.Uid)); err != nil {
		t.Fatal(err)
	}
	binds := []string{"bind 127.0.0.1", "bind 0.0.0.0", "bind ::1", "bind ::", "bind ::ffff:127.0.0.1"}
	got, _ := runAttacks(t, as(nobody), 0, port, binds...)
	for _, a := range binds {
		if got[a] != "EPERM" {
			t.Errorf("nobody, %s: %s; want EPERM", a, got[a])
		}
	}
	if n := f.Refused("srv"); n != (FenceCounts{Binds: uint64(len(binds))}) {
		t.Errorf("Refused = %+v; want %d refused binds", n, len(binds))
	}
	if r := readRefusal(t, f); r.Call != "bind" || r.UID != nobody.Uid {
		t.Errorf("report: %+v; want nobody's bind", r)
	}
	// The server's own account binds it, as a restarting postmaster does.
	if got, _ := runAttacks(t, as(pg), 0, port, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Errorf("postgres, the owner: %s; want ok", got["bind 127.0.0.1"])
	}
	// The kernel hands it out to nobody as an ephemeral port.
	if !reservedPortsHold(t, port) {
		t.Errorf("port %d not in %s", port, reservedPortsPath)
	}
	f.Release("srv")
	if reservedPortsHold(t, port) {
		t.Errorf("port %d still reserved after Release", port)
	}
	if got, _ := runAttacks(t, as(nobody), 0, port, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Errorf("nobody after Release: %s; want ok", got["bind 127.0.0.1"])
	}
}

// TestFenceKeepsAnEndpointPortForServe: while serve is away, no local account but root
// can take an endpoint's port (to answer its clients in serve's place), by naming it or
// by the kernel's choice; clients still connect there.
func TestFenceKeepsAnEndpointPortForServe(t *testing.T) {
	f := openFence(t)
	nobody, pg := lookupAccount(t, "nobody"), lookupAccount(t, "postgres")
	port := freePort(t)
	binds := []string{"bind 127.0.0.1", "bind 0.0.0.0", "bind ::1", "bind ::", "bind ::ffff:127.0.0.1"}
	// Unguarded, nobody takes it.
	if got, _ := runAttacks(t, as(nobody), 0, port, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Fatalf("before the fence, nobody's bind: %s; want ok", got["bind 127.0.0.1"])
	}
	if err := f.GuardEndpoint("ep", uint16(port)); err != nil {
		t.Fatal(err)
	}
	got, pid := runAttacks(t, as(nobody), 0, port, binds...)
	for _, a := range binds {
		if got[a] != "EPERM" {
			t.Errorf("nobody, %s: %s; want EPERM", a, got[a])
		}
	}
	if r := readRefusal(t, f); r.Call != "bind" || r.Name != "ep" || !r.Endpoint || r.UID != nobody.Uid || int(r.PID) != pid || r.Addr.Port() != uint16(port) {
		t.Errorf("report: %+v; want nobody's bind of endpoint ep's port %d", r, port)
	}
	// No server account either: an endpoint's port is serve's alone.
	if got, _ := runAttacks(t, as(pg), 0, port, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "EPERM" {
		t.Errorf("postgres: %s; want EPERM", got["bind 127.0.0.1"])
	}
	if n := f.EndpointBindsRefused("ep"); n != uint64(len(binds)+1) {
		t.Errorf("EndpointBindsRefused = %d; want %d", n, len(binds)+1)
	}
	if n := f.Refused("ep"); n != (FenceCounts{}) {
		t.Errorf("Refused (private ports) = %+v; want nothing", n)
	}
	if !reservedPortsHold(t, port) {
		t.Errorf("port %d not in %s", port, reservedPortsPath)
	}
	// Root (serve) listens there, and every account connects: it is where clients go.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("root's bind: %v", err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The client closes first: a close from this side would leave the endpoint's
			// port in TIME_WAIT, and the bind after ReleaseEndpoint below would find it
			// in use.
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	if got, _ := runAttacks(t, as(nobody), 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "ok" {
		t.Errorf("nobody's connect to the endpoint: %s; want ok", got["connect 127.0.0.1"])
	}
	ln.Close()

	// A private port guarded beside it keeps its owner's rule; the endpoint's release
	// leaves that one alone.
	private := freePort(t)
	if err := f.Guard("srv", uint16(private), int(pg.Uid)); err != nil {
		t.Fatal(err)
	}
	f.ReleaseEndpoint("ep")
	if reservedPortsHold(t, port) {
		t.Errorf("port %d still reserved after ReleaseEndpoint", port)
	}
	if got, _ := runAttacks(t, as(nobody), 0, port, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Errorf("nobody after ReleaseEndpoint: %s; want ok", got["bind 127.0.0.1"])
	}
	if got, _ := runAttacks(t, as(pg), 0, private, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Errorf("postgres, the private port's owner: %s; want ok", got["bind 127.0.0.1"])
	}
	if got, _ := runAttacks(t, as(nobody), 0, private, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "EPERM" {
		t.Errorf("nobody on the private port: %s; want EPERM", got["bind 127.0.0.1"])
	}
}

// TestPinnedFenceKeepsEndpointPortsAcrossARestart: a fence left pinned (Leave) keeps the
// endpoint ports from other accounts while no process owns it; the next one takes them
// on, keeps those it names again and lets go of the others at ReleaseUnclaimed.
func TestPinnedFenceKeepsEndpointPortsAcrossARestart(t *testing.T) {
	openFence(t)
	nobody := lookupAccount(t, "nobody")
	dir := pinDir(t)
	kept, gone := freePort(t), freePort(t)
	first, err := OpenFence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.GuardEndpoint("kept", uint16(kept)); err != nil {
		t.Fatal(err)
	}
	if err := first.GuardEndpoint("gone", uint16(gone)); err != nil {
		t.Fatal(err)
	}
	first.Leave()
	for _, port := range []int{kept, gone} {
		if got, _ := runAttacks(t, as(nobody), 0, port, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "EPERM" {
			t.Errorf("with no process owning the fence, nobody's bind of %d: %s; want EPERM", port, got["bind 127.0.0.1"])
		}
		if !reservedPortsHold(t, port) {
			t.Errorf("port %d not reserved after Leave", port)
		}
	}

	f, err := OpenFence(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.GuardEndpoint("kept", uint16(kept)); err != nil {
		t.Fatal(err)
	}
	if n := f.EndpointBindsRefused("kept"); n != 1 {
		t.Errorf("taken on: %d binds refused; want the one refused while no process owned it", n)
	}
	if released := f.ReleaseUnclaimed(); len(released) != 1 || int(released[0]) != gone {
		t.Errorf("released %v; want [%d]", released, gone)
	}
	if got, _ := runAttacks(t, as(nobody), 0, gone, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Errorf("the released endpoint port: %s; want ok", got["bind 127.0.0.1"])
	}
	if reservedPortsHold(t, gone) {
		t.Errorf("released port %d still reserved", gone)
	}
	if got, _ := runAttacks(t, as(nobody), 0, kept, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "EPERM" {
		t.Errorf("the endpoint port named again: %s; want EPERM", got["bind 127.0.0.1"])
	}
	f.Close()
	if got, _ := runAttacks(t, as(nobody), 0, kept, "bind 127.0.0.1"); got["bind 127.0.0.1"] != "ok" {
		t.Errorf("after Close: %s; want ok", got["bind 127.0.0.1"])
	}
	if reservedPortsHold(t, kept) {
		t.Errorf("port %d still reserved after Close", kept)
	}
}

func TestPortListsReadAndWriteAsTheSysctlDoes(t *testing.T) {
	set, err := parsePortList("8080,9000-9002,40000\n")
	if err != nil {
		t.Fatal(err)
	}
	set[9003], set[8080] = true, false
	if got := formatPortList(set); got != "9000-9003,40000" {
		t.Fatalf("got %q", got)
	}
	if _, err := parsePortList("9-8"); err == nil {
		t.Fatal("a backwards range was read")
	}
}
