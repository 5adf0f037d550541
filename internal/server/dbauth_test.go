package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/steer"
)

// The servers a killed serve leaves running go on asking its responder's port about
// tokens: no local user may take that port while serve is away (a responder of theirs
// would admit any token as any IAM database user of any cluster), and the next serve
// answers on it again.
func TestNoLocalUserTakesTheResponderPortWhileServeIsAway(t *testing.T) {
	nobody := nobodyUID(t)
	dataDir := t.TempDir()
	// What stays pinned goes with the test (registered first: removed after the gateways).
	if dir, err := steer.PinDir(dataDir); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	log := slog.New(slog.DiscardHandler)
	refuse := func(context.Context, string, string) error { return errors.New("no") }

	gw := gateway.New(log, nil, gateway.Options{DataDir: dataDir})
	first, err := listenDBAuth(dataDir, refuse, log)
	if err != nil {
		t.Fatal(err)
	}
	port := first.Port()
	if err := gw.GuardServePort(dbAuthFence, port); err != nil {
		first.Close()
		gw.Close()
		t.Skipf("no fence here: %v", err)
	}
	first.Close()
	gw.Leave() // killed: the fence stays pinned, the servers keep running

	for _, addr := range []string{"127.0.0.1", "0.0.0.0", "::"} { // [::] takes IPv4 too
		if err := bindAs(nobody, addr, port); !errors.Is(err, syscall.EPERM) {
			t.Fatalf("a local user's bind of [%s]:%d, the responder's port, while serve is away: %v; want EPERM", addr, port, err)
		}
	}

	gw = gateway.New(log, nil, gateway.Options{DataDir: dataDir})
	defer gw.Close()
	next, err := listenDBAuth(dataDir, refuse, log)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if next.Port() != port {
		t.Fatalf("the next serve's responder is on %d; want %d, where the servers ask", next.Port(), port)
	}
	if err := gw.GuardServePort(dbAuthFence, port); err != nil {
		t.Fatal(err)
	}
	gw.ReleaseUnclaimed() // the reconciler's first pass
	next.Close()
	if err := bindAs(nobody, "127.0.0.1", port); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("a local user's bind of the responder's port after the next serve's first pass: %v; want EPERM", err)
	}
}

func nobodyUID(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("id", "-u", "nobody").Output()
	if err != nil {
		t.Skipf("no nobody account: %v", err)
	}
	uid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || uid == 0 {
		t.Skipf("nobody's uid: %q", out)
	}
	return uid
}

// bindAs binds addr:port as uid (an IPv6 address dual-stack): on a thread of its own
// whose real and effective uid are uid (what the fence reads), never given back to the
// runtime.
func bindAs(uid int, addr string, port int) error {
	ip := netip.MustParseAddr(addr)
	family := syscall.AF_INET
	var sa syscall.Sockaddr
	if ip.Is4() {
		sa = &syscall.SockaddrInet4{Port: port, Addr: ip.As4()}
	} else {
		family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Port: port, Addr: ip.As16()}
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(uid), uintptr(uid), 0); e != 0 {
			done <- e
			return
		}
		fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer syscall.Close(fd)
		if ip.Is6() {
			_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
		}
		done <- syscall.Bind(fd, sa)
	}()
	return <-done
}
