package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/borealis-db/borealis/internal/steer"
)

// relayDialer dials a server's private port with the relay's socket mark, which the
// fence lets through. Without CAP_NET_ADMIN the mark cannot be set; the dial goes on
// unmarked, which the fence lets through only for root.
var relayDialer = net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, steer.RelayMark)
	})
}}

// FenceServer refuses connects to a server's private port from any local process but
// root and this gateway's relay, and binds of it from any but root and the account of
// the server's postmaster pid (once known: 0 while the server is not running), from now
// until UnfenceServer; refusals are counted under cluster and instance at /metrics and
// logged. It is idempotent, and a new port for the instance replaces the old one.
func (g *Gateway) FenceServer(cluster, instance string, port, pid int) {
	if g == nil || g.fence == nil || port <= 0 || port > 0xffff {
		return
	}
	g.fenceMu.Lock()
	g.servers[instance] = cluster
	g.fenceMu.Unlock()
	if err := g.fence.Guard(instance, uint16(port), processUID(pid)); err != nil {
		g.log.Warn("private port not fully guarded", "cluster", cluster, "instance", instance, "port", port, "err", err)
	}
}

// processUID is the real uid of process pid, or -1.
func processUID(pid int) int {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if uid, err := strconv.Atoi(f[0]); err == nil {
					return uid
				}
			}
		}
	}
	return -1
}

// UnfenceServer stops guarding an instance's private port: its server is gone.
func (g *Gateway) UnfenceServer(instance string) {
	if g == nil || g.fence == nil {
		return
	}
	g.collectRefused() // the last refusals still reach the metrics
	g.fence.Release(instance)
	g.fenceMu.Lock()
	delete(g.servers, instance)
	delete(g.refusedSeen, instance)
	g.fenceMu.Unlock()
}

// collectRefused adds the fence's refusals since the last scrape to the metrics.
func (g *Gateway) collectRefused() {
	if g.fence == nil {
		return
	}
	g.fenceMu.Lock()
	defer g.fenceMu.Unlock()
	for instance, cluster := range g.servers {
		now, last := g.fence.Refused(instance), g.refusedSeen[instance]
		if now.Connects < last.Connects || now.Binds < last.Binds {
			last = steer.FenceCounts{}
		}
		g.metrics.privateRefused.WithLabelValues(cluster, instance).Add(float64(now.Connects - last.Connects))
		g.metrics.privateBindsRefused.WithLabelValues(cluster, instance).Add(float64(now.Binds - last.Binds))
		g.refusedSeen[instance] = now
	}
}

// logRefusals logs who the fence refused until the fence closes.
func (g *Gateway) logRefusals() {
	defer close(g.fenceDone)
	var limit logLimit
	for {
		r, err := g.fence.Read()
		if errors.Is(err, steer.ErrFenceClosed) {
			return
		}
		if err != nil {
			g.log.Warn("private port refusals: report unreadable", "err", err)
			continue
		}
		ok, heldBack := limit.allow(time.Now())
		if !ok {
			continue
		}
		if r.Endpoint {
			attrs := []any{"endpoint", r.Name, "addr", r.Addr.String(), "uid", r.UID, "pid", r.PID, "command", r.Comm}
			if heldBack > 0 {
				attrs = append(attrs, "not_logged_before", heldBack)
			}
			g.log.Warn("bind of an endpoint's port refused: only serve listens there", attrs...)
			continue
		}
		g.fenceMu.Lock()
		cluster := g.servers[r.Name]
		g.fenceMu.Unlock()
		attrs := []any{"cluster", cluster, "instance", r.Name, "addr", r.Addr.String(), "uid", r.UID, "pid", r.PID, "command", r.Comm}
		if heldBack > 0 {
			attrs = append(attrs, "not_logged_before", heldBack)
		}
		if r.Call == "bind" {
			g.log.Warn("bind of a private port refused: only its server listens there", attrs...)
		} else {
			g.log.Warn("connection to a private port refused: only the endpoint reaches a server", attrs...)
		}
	}
}

// relayTargetIsServer reports whether the relay may dial t: every socket listening on
// its private port is its postmaster's. A process that took the port while serve was not
// running (no fence), say on 127.0.0.1 while the server came up on ::1 alone, would
// otherwise answer the relay in the server's place. The answer is kept per endpoint
// until the postmaster or the address changes; without a postmaster pid there is
// nothing to check against.
func (g *Gateway) relayTargetIsServer(endpoint string, t Target) bool {
	if t.PID == 0 {
		return true
	}
	checked := checkedServer{pid: t.PID, addr: t.Addr}
	g.fenceMu.Lock()
	ok := g.checked[endpoint] == checked
	g.fenceMu.Unlock()
	if ok {
		return true
	}
	ap, err := netip.ParseAddrPort(t.Addr)
	if err != nil {
		return false
	}
	if ok, err = listenersOwnedBy(t.PID, ap); err != nil {
		g.log.Warn("private port listeners unreadable", "endpoint", endpoint, "err", err)
	}
	if ok {
		g.fenceMu.Lock()
		g.checked[endpoint] = checked
		g.fenceMu.Unlock()
	}
	return ok
}

type checkedServer struct {
	pid  int
	addr string
}

// listenersOwnedBy reports whether some TCP socket of this network namespace listens
// where a connection to addr (IPv4) lands: on it or the wildcard, in either family; and
// every one that does is held by process pid.
func listenersOwnedBy(pid int, addr netip.AddrPort) (bool, error) {
	a := addr.Addr().Unmap()
	if !a.Is4() {
		return false, fmt.Errorf("relay target %s: not IPv4", addr)
	}
	tables := map[string][]string{
		"/proc/net/tcp":  {procAddr(a.AsSlice()), procAddr(make([]byte, 4))},
		"/proc/net/tcp6": {procAddr(netip.AddrFrom16(a.As16()).AsSlice()), procAddr(make([]byte, 16))},
	}
	var inodes []string
	for table, local := range tables {
		b, err := os.ReadFile(table)
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6
		}
		if err != nil {
			return false, err
		}
		want := map[string]bool{}
		for _, l := range local {
			want[fmt.Sprintf("%s:%04X", l, addr.Port())] = true
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) >= 10 && f[3] == "0A" && want[f[1]] { // TCP_LISTEN
				inodes = append(inodes, f[9])
			}
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	held := map[string]bool{}
	for _, e := range entries {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil {
			if inode, ok := strings.CutPrefix(target, "socket:["); ok {
				held[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	for _, inode := range inodes {
		if !held[inode] {
			return false, nil
		}
	}
	return true, nil
}

// procAddr writes an address as /proc/net/tcp{,6} do: each 32-bit word in host order, in hex.
func procAddr(b []byte) string {
	var out strings.Builder
	for i := 0; i+4 <= len(b); i += 4 {
		fmt.Fprintf(&out, "%08X", binary.NativeEndian.Uint32(b[i:]))
	}
	return out.String()
}
