package gateway

import (
	"errors"
	"fmt"
	"net"
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

// Logging of refusals is bounded: a local process looping on connect must not flood the
// log. The counts at /metrics stay exact.
const (
	refusalLogBurst  = 20
	refusalLogWindow = 10 * time.Second
)

// logRefusals logs who the fence refused until the fence closes.
func (g *Gateway) logRefusals() {
	defer close(g.fenceDone)
	var windowStart time.Time
	logged, suppressed := 0, 0
	for {
		r, err := g.fence.Read()
		if errors.Is(err, steer.ErrFenceClosed) {
			return
		}
		if err != nil {
			g.log.Warn("private port refusals: report unreadable", "err", err)
			continue
		}
		if now := time.Now(); now.Sub(windowStart) > refusalLogWindow {
			windowStart, logged = now, 0
		}
		if logged >= refusalLogBurst {
			suppressed++
			continue
		}
		logged++
		g.fenceMu.Lock()
		cluster := g.servers[r.Name]
		g.fenceMu.Unlock()
		attrs := []any{"cluster", cluster, "instance", r.Name, "addr", r.Addr.String(), "uid", r.UID, "pid", r.PID, "command", r.Comm}
		if suppressed > 0 {
			attrs = append(attrs, "not_logged_before", suppressed)
			suppressed = 0
		}
		if r.Call == "bind" {
			g.log.Warn("bind of a private port refused: only its server listens there", attrs...)
		} else {
			g.log.Warn("connection to a private port refused: only the endpoint reaches a server", attrs...)
		}
	}
}
